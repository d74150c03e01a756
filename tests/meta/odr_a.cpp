// Two translation units that both include every header, linked into one program: an ODR or
// missing-inline error shows up as a link failure (Hana's test/issues/github_75 pattern).
#include <typenet/typenet.hpp>
float odr_b();
float odr_a() {
    typenet::network<typenet::input<3>, typenet::dense<2>> n{typenet::seed{1}};
    return n.parameters()[0];
}
int main() { return odr_a() == odr_b() ? 0 : 1; }
