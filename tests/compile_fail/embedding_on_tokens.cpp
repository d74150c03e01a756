// The twin of embedding_needs_tokens.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<tokens, embedding<100, 16>, lstm<16>>;
int main() { net m{seed{1}}; (void)m; }
