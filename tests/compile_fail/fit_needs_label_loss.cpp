// mse compares outputs with (B, C) values; a labelled dataset needs cross_entropy.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<4>, dense<3>>;
int main() {
    net model;
    optim::sgd opt{model};
    data::dataset<float> d;
    fit(model, opt, loss::mse{}, d, {});
}
