// The twin of residual_shape_mismatch.cpp: a 1x1 convolution projects the shortcut to 6 channels.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3, 8, 8>, residual<sequential<conv2d<6, 3, padding<1>>, relu>, conv2d<6, 1>>, flatten,
                    dense<10>>;
int main() { net model{seed{1}}; (void)model; }
