// tests/distributed/equivalence.cpp — data parallelism checked against one process (run under
// mpirun by tests/distributed/CMakeLists.txt):
//   equivalence same       N ranks at batch B train as one process at batch N*B: weights and
//                          metrics within 1e-5 after 2 epochs (bit for bit on one rank), for an MLP
//                          and a small ConvNet, with a last batch that does not split evenly
//   equivalence mismatch   rank 1 builds another network type: fit throws on every rank
//   equivalence die        rank 1 dies in the middle of training: the job must end, not hang
// Exit 0 when the check holds on this rank.
#include <typenet/distributed.hpp>
#include <typenet/typenet.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace typenet;

namespace {
using mlp = network<input<2>, dense<16>, relu, dense<16>, relu, dense<2>>;
using convnet = network<input<1, 8, 8>, conv2d<4, 3, padding<1>>, relu, max_pool2d<2>, flatten, dense<3>>;

// n labelled samples of shape S: points in or out of a circle (2 values), or 8x8 images whose
// class is the quadrant of their brightest pixel.
data::dataset<float> make_data(std::size_t n, std::size_t size, std::size_t classes) {
    data::dataset<float> d;
    d.sample_shape = size == 2 ? std::vector<std::size_t>{2} : std::vector<std::size_t>{1, 8, 8};
    d.classes = classes;
    rng g(seed{17});
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        for (std::size_t j = 0; j < size; ++j) {
            d.x.push_back(float(g.uniform(-1, 1)));
            if (d.x.back() > d.x[i * size + best]) best = j;
        }
        const float a = d.x[i * size], b = d.x[i * size + 1];
        d.y.push_back(size == 2 ? (a * a + b * b < 0.36f ? 1 : 0) : int((best / 8 >= 4) + (best % 8 >= 4)));
    }
    return d;
}

template <class Net>
bool same(distributed::mpi_context& mpi, const data::dataset<float>& d, const char* name) {
    constexpr index_t b = 16;
    Net together{seed{1}}, alone{seed{1}};
    optim::adam opt_t{together, {.lr = 1e-2}}, opt_a{alone, {.lr = 1e-2}};
    const auto ht = fit(together, opt_t, loss::cross_entropy{}, d,
                        {.epochs = 2, .batch = b, .validation = 0.1, .seed = 3, .comm = &mpi});
    const auto ha = fit(alone, opt_a, loss::cross_entropy{}, d,
                        {.epochs = 2, .batch = b * mpi.size(), .validation = 0.1, .seed = 3});
    double worst = 0;
    for (std::size_t i = 0; i < Net::param_count; ++i)
        worst = std::max(worst, std::abs(double(together.parameters()[i]) - double(alone.parameters()[i])) /
                                    std::max(1.0, std::abs(double(alone.parameters()[i]))));
    for (std::size_t e = 0; e < ha.size(); ++e) {
        worst = std::max(worst, std::abs(ht[e].train.loss - ha[e].train.loss));
        worst = std::max(worst, std::abs(ht[e].validation.loss - ha[e].validation.loss));
        worst = std::max(worst, std::abs(ht[e].train.accuracy - ha[e].train.accuracy));
    }
    const double tol = mpi.size() == 1 ? 0.0 : 1e-5;                 // one rank: the same operations exactly
    const bool ok = ht.size() == ha.size() && worst <= tol;
    std::printf("rank %d of %d: %s: %zu steps of batch %td x %d against batch %td: max difference %.3g (tolerance %g): %s\n",
                mpi.rank(), mpi.size(), name, std::size_t(opt_t.steps()), b, mpi.size(), b * mpi.size(), worst, tol,
                ok ? "ok" : "MISMATCH");
    return ok;
}
}  // namespace

int main(int argc, char** argv) {
    distributed::mpi_context mpi(argc, argv);
    const std::string mode = argc > 1 ? argv[1] : "same";
    if (mode == "same") {
        // 225 samples, 10 % held out: 203 to train, so the last batch of 32 has 11 (6 and 5 on two ranks).
        const bool ok = same<mlp>(mpi, make_data(225, 2, 2), "mlp") && same<convnet>(mpi, make_data(225, 64, 3), "convnet");
        return ok ? 0 : 1;
    }
    if (mode == "mismatch") {
        try {
            const auto d = make_data(100, 2, 2);
            if (mpi.rank() == 1) {
                network<input<2>, dense<8>, relu, dense<2>> other;
                optim::adam opt{other};
                fit(other, opt, loss::cross_entropy{}, d, {.epochs = 1, .batch = 8, .comm = &mpi});
            } else {
                mlp model;
                optim::adam opt{model};
                fit(model, opt, loss::cross_entropy{}, d, {.epochs = 1, .batch = 8, .comm = &mpi});
            }
        } catch (const std::exception& e) {
            std::printf("rank %d: %s\n", mpi.rank(), e.what());
            return std::string(e.what()).find("rank(s) 1 hold a model of another structure") != std::string::npos ? 0 : 1;
        }
        std::printf("rank %d: no error\n", mpi.rank());
        return 1;
    }
    if (mode == "die") {
        const auto d = make_data(4000, 2, 2);
        mlp model;
        optim::adam opt{model};
        fit(model, opt, loss::cross_entropy{}, d, {.epochs = 100, .batch = 8, .comm = &mpi}, [&](const step_stats& s) {
            if (mpi.rank() == 1 && s.batch == 20) std::abort();       // as a crash or a killed node would
        });
        return 0;
    }
    std::fprintf(stderr, "usage: equivalence same|mismatch|die\n");
    return 2;
}
