// train/metrics.hpp — confusion_matrix (rows = true class, columns = predicted) and confusion(),
// which fills one from a model's eval-mode argmax. Per-class precision, recall and F1 are 0 where
// their denominator is 0, as sklearn.metrics with zero_division=0.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/core/network.hpp"
#include "typenet/train/fit.hpp"

namespace typenet {

struct confusion_matrix {
    std::size_t classes = 0;
    std::vector<std::size_t> counts;   // (classes, classes): counts[t * classes + p], t true, p predicted

    confusion_matrix() = default;
    explicit confusion_matrix(std::size_t c) : classes(c), counts(c * c, 0) {}

    std::size_t& operator()(std::size_t truth, std::size_t predicted) { return counts[truth * classes + predicted]; }
    std::size_t operator()(std::size_t truth, std::size_t predicted) const { return counts[truth * classes + predicted]; }

    // Counts one sample; a class outside [0, classes) is an error, not a silent skip.
    void add(std::size_t truth, std::size_t predicted) {
        if (truth >= classes || predicted >= classes)
            throw std::out_of_range("typenet: confusion_matrix::add: class " + std::to_string(std::max(truth, predicted)) +
                                    " is outside [0, " + std::to_string(classes) + ")");
        ++(*this)(truth, predicted);
    }

    std::size_t total() const {
        std::size_t n = 0;
        for (auto v : counts) n += v;
        return n;
    }
    std::size_t correct() const {
        std::size_t n = 0;
        for (std::size_t c = 0; c < classes; ++c) n += (*this)(c, c);
        return n;
    }
    // Samples whose true class is c (the row sum: sklearn's "support"), and predictions of c (column sum).
    std::size_t support(std::size_t c) const {
        std::size_t n = 0;
        for (std::size_t p = 0; p < classes; ++p) n += (*this)(c, p);
        return n;
    }
    std::size_t predicted(std::size_t c) const {
        std::size_t n = 0;
        for (std::size_t t = 0; t < classes; ++t) n += (*this)(t, c);
        return n;
    }

    double accuracy() const { return ratio(correct(), total()); }
    double precision(std::size_t c) const { return ratio((*this)(c, c), predicted(c)); }   // tp / (tp + fp)
    double recall(std::size_t c) const { return ratio((*this)(c, c), support(c)); }        // tp / (tp + fn)
    // 2 tp / (2 tp + fp + fn): the harmonic mean of precision and recall, 0 when tp == 0.
    double f1(std::size_t c) const { return ratio(2 * (*this)(c, c), support(c) + predicted(c)); }

    // Unweighted means over the classes that occur, as true labels or predictions (sklearn's
    // default labels): a class absent from both would add a meaningless 0.
    double macro_precision() const { return macro(&confusion_matrix::precision); }
    double macro_recall() const { return macro(&confusion_matrix::recall); }
    double macro_f1() const { return macro(&confusion_matrix::f1); }

    // The matrix, then one row per class (precision, recall, f1, support), macro averages and accuracy;
    // columns right-aligned to the widest entry.
    std::string str() const {
        std::size_t w = 4;   // "pred" / widest count
        for (auto v : counts) w = std::max(w, std::to_string(v).size());
        w = std::max(w, std::to_string(classes ? classes - 1 : 0).size());
        std::string s;
        auto pad = [&s](const std::string& x, std::size_t width) {
            if (x.size() < width) s.append(width - x.size(), ' ');
            s += x;
        };
        auto fixed3 = [](double v) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3f", v);
            return std::string(buf);
        };
        pad("true\\pred", 9);
        for (std::size_t p = 0; p < classes; ++p) pad(std::to_string(p), w + 1);
        s += "  precision  recall      f1  support\n";
        for (std::size_t t = 0; t < classes; ++t) {
            pad(std::to_string(t), 9);
            for (std::size_t p = 0; p < classes; ++p) pad(std::to_string((*this)(t, p)), w + 1);
            pad(fixed3(precision(t)), 11);
            pad(fixed3(recall(t)), 8);
            pad(fixed3(f1(t)), 8);
            pad(std::to_string(support(t)), 9);
            s += '\n';
        }
        pad("macro avg", 9 + classes * (w + 1));
        pad(fixed3(macro_precision()), 11);
        pad(fixed3(macro_recall()), 8);
        pad(fixed3(macro_f1()), 8);
        pad(std::to_string(total()), 9);
        s += "\naccuracy ";
        s += fixed3(accuracy());
        s += " (";
        s += std::to_string(correct());
        s += " of ";
        s += std::to_string(total());
        s += ")\n";
        return s;
    }

private:
    static double ratio(std::size_t num, std::size_t den) { return den ? double(num) / double(den) : 0.0; }
    double macro(double (confusion_matrix::*metric)(std::size_t) const) const {
        double sum = 0;
        std::size_t n = 0;
        for (std::size_t c = 0; c < classes; ++c)
            if (support(c) || predicted(c)) { sum += (this->*metric)(c); ++n; }
        return n ? sum / double(n) : 0.0;
    }
};

inline std::ostream& operator<<(std::ostream& os, const confusion_matrix& m) { return os << m.str(); }

// The confusion matrix of `net` on `data`: forward in eval mode, batch by batch, predicted class =
// argmax of the outputs (the first on ties, as evaluate()). Classes = the network's outputs.
template <model Net, class Data>
confusion_matrix confusion(Net& net, const Data& data, index_t batch = 256) {
    using T = typename Net::scalar;
    static_assert(std::is_integral_v<typename Data::target_type>,
                  "typenet: confusion needs a dataset of class labels (integral targets)");
    const index_t steps = detail::check_data<Net>(data, "confusion");
    if (batch <= 0) throw std::invalid_argument("typenet: confusion: batch size must be > 0, got " + std::to_string(batch));
    constexpr index_t c = Net::output_shape::size;
    confusion_matrix m(static_cast<std::size_t>(c));
    const std::size_t s = data.sample_size();
    for (std::size_t first = 0; first < data.size(); first += std::size_t(batch)) {
        const index_t n = index_t(std::min<std::size_t>(std::size_t(batch), data.size() - first));
        const T* y = net.forward(n, steps, data.x.data() + first * s, mode::infer);   // (n, c)
        for (index_t b = 0; b < n; ++b) {
            const T* row = y + b * c;
            const auto label = data.y[first + std::size_t(b)];
            if (std::cmp_less(label, 0) || std::cmp_greater_equal(label, c))
                throw std::out_of_range("typenet: confusion: sample " + std::to_string(first + std::size_t(b)) +
                                        " has label " + std::to_string(label) + ", the network has " +
                                        std::to_string(c) + " outputs");
            m(std::size_t(label), std::size_t(std::max_element(row, row + c) - row)) += 1;
        }
    }
    return m;
}

}  // namespace typenet
