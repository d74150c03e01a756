#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<4>, dense<3>>;
int main() {
    net model;
    optim::sgd opt{model};
    data::dataset<float> d;
    fit(model, opt, loss::cross_entropy{}, d, {});
}
