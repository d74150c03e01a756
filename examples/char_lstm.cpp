// examples/char_lstm.cpp — a character-level LSTM language model on the Debian fortunes corpus
// (/usr/share/games/fortunes): embedding 64, one LSTM layer of 256, a dense read-out per step;
// trained with truncated BPTT (windows of --steps characters, the state carried from one to the
// next), Adam and gradient clipping; then samples text with temperature and top-k.
//   char_lstm [--epochs 1] [--batch 32] [--steps 64] [--lr 2e-3] [--temperature 0.8] [--top-k 10]
// It prints 'train tokens/s: X' and 'validation bits/char: Y'; scripts/compare-torch-text runs the
// same model in PyTorch.
#include <exception>
#include <iostream>

#include "models.hpp"
#include "support/language_model.hpp"

int main(int argc, char** argv) {
    using namespace typenet;
    const auto o = examples::parse_text(argc, argv, "Character LSTM language model on the fortunes corpus", {});
    try {
        return examples::run_language_model<examples::char_lstm>(o, "char_lstm: embedding 64, LSTM 256, dense per step");
    } catch (const std::exception& e) {
        std::cerr << "char_lstm: " << e.what() << "\n";
        return 1;
    }
}
