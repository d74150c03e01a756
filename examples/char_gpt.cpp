// examples/char_gpt.cpp — a small causal transformer (GPT) over characters of the Debian fortunes
// corpus: token and learned positional embeddings of 128, four pre-norm blocks of four heads, a
// final layer norm and a dense read-out per step; context 128. Trained with Adam on windows of
// --steps characters (at most the context), then samples text with temperature and top-k.
//   char_gpt [--epochs 1] [--batch 32] [--steps 128] [--lr 1e-3] [--temperature 0.8] [--top-k 10]
// It prints 'train tokens/s: X' and 'validation bits/char: Y'; scripts/compare-torch-text runs the
// same model in PyTorch.
#include <exception>
#include <iostream>

#include "models.hpp"
#include "support/language_model.hpp"

int main(int argc, char** argv) {
    using namespace typenet;
    examples::text_options defaults;
    defaults.steps = long(examples::gpt_context);
    defaults.lr = 1e-3;
    const auto o = examples::parse_text(argc, argv, "Character transformer (GPT) on the fortunes corpus", defaults);
    try {
        if (o.steps > long(examples::gpt_context))
            throw std::invalid_argument("--steps " + std::to_string(o.steps) + " is longer than the model's context of " +
                                        std::to_string(examples::gpt_context));
        return examples::run_language_model<examples::char_gpt>(
            o, "char_gpt: 4 blocks, 4 heads, 128 wide, context 128", index_t(examples::gpt_context));
    } catch (const std::exception& e) {
        std::cerr << "char_gpt: " << e.what() << "\n";
        return 1;
    }
}
