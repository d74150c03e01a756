// The twin of attention_heads_divide_width: four heads of four.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<tokens, embedding<100, 16>, positional_embedding<32>, transformer_block<4>, dense<100>>;
int main() { net m{seed{1}}; (void)m; }
