// The twin of lstm_needs_sequence: the same layers on sequence_input compile.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<sequence_input<8>, lstm<16>, last_step, dense<2>>;
int main() { net m{seed{1}}; (void)m; }
