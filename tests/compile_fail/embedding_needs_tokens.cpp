// An embedding on a sequence of feature vectors rather than token ids.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<sequence_input<8>, embedding<100, 16>, lstm<16>>;
int main() { net m{seed{1}}; (void)m; }
