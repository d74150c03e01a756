// The twin of cuda_layer_without_device_form: the library's layers compile on the GPU (it needs
// no GPU to compile).
#include <typenet/cuda.hpp>
using namespace typenet;
using net = network<input<1, 8, 8>, conv2d<4, 3, padding<1>>, batch_norm<>, relu, max_pool2d<2>,
                    conv_transpose2d<2, 2, stride<2>>, flatten, dense<3>, dropout<0.1>, softmax>;
int main() {
    net host;
    cuda::model<net> gpu{host};
    float x[64]{};
    gpu.forward(1, 1, x, mode::eval);
}
