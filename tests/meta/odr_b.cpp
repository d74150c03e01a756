#include <typenet/typenet.hpp>
float odr_b() {
    typenet::network<typenet::input<3>, typenet::dense<2>> n{typenet::seed{1}};
    return n.parameters()[0];
}
