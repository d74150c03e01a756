// Three heads cannot split a width of 16.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<tokens, embedding<100, 16>, transformer_block<3>>;
int main() { net m{seed{1}}; (void)m; }
