// A layer of the user's own runs on the CPU; on the GPU it has no device form: one line that names
// what is missing and what is supported (typenet/cuda.hpp compiles with g++ alone, no CUDA needed).
#include <typenet/cuda.hpp>
using namespace typenet;
struct doubled {                                            // y = 2 x, a user's layer
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : no_params {
        using input_shape = In;
        using output_shape = In;
        static std::string name() { return "doubled"; }
        template <class T> void forward(const fwd_args<T>& a) const {
            for (index_t i = 0; i < a.batch * index_t(In::size); ++i) a.y[i] = 2 * a.x[i];
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (a.dx)
                for (index_t i = 0; i < a.batch * index_t(In::size); ++i) a.dx[i] = 2 * a.dy[i];
        }
    };
};
using net = network<input<4>, dense<3>, doubled>;
int main() {
    net host;
    cuda::model<net> gpu{host};
    float x[4]{};
    gpu.forward(1, 1, x, mode::eval);
}
