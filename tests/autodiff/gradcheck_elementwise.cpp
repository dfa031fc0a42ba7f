// Gradient-check cases for the elementwise ops (broadcasting and size-1 dims included).
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"add", {{3, 4}, {3, 4}}, [](V in) { return add(in[0], in[1]); }},
    {"add", {{2, 3, 4}, {4}}, [](V in) { return add(in[0], in[1]); }, 1e-6, nullptr, "broadcast trailing"},
    {"add", {{3, 1}, {1, 5}}, [](V in) { return add(in[0], in[1]); }, 1e-6, nullptr, "outer broadcast"},
    {"sub", {{2, 1, 4}, {3, 1}}, [](V in) { return sub(in[0], in[1]); }},
    {"mul", {{4, 5}, {4, 1}}, [](V in) { return mul(in[0], in[1]); }},
    {"mul", {{1}, {2, 3}}, [](V in) { return mul(in[0], in[1]); }, 1e-6, nullptr, "size-1 operand"},
    {"div", {{3, 4}, {4}}, [](V in) { return div(in[0], in[1]); }, 1e-6, away_from_zero},
    {"pow", {{3, 4}, {3, 4}}, [](V in) { return pow(in[0], in[1]); }, 1e-6, positive_input},
    {"pow", {{2, 3}, {1}}, [](V in) { return pow(in[0], in[1]); }, 1e-6, positive_input, "scalar exponent"},
    {"maximum", {{3, 4}, {3, 4}}, [](V in) { return maximum(in[0], in[1]); }, 1e-6, distinct_input},
    {"minimum", {{3, 4}, {4}}, [](V in) { return minimum(in[0], in[1]); }, 1e-6, distinct_input},
    {"where", {{3, 4}, {4}}, [](V in) { return where(gt(in[0], in[1]), in[0], in[1]); }, 1e-6, distinct_input},
    {"clamp", {{4, 5}}, [](V in) { return clamp(in[0], -0.5, 0.7); }, 1e-6, distinct_input},
    {"neg", {{3, 4}}, [](V in) { return neg(in[0]); }},
    {"exp", {{3, 4}}, [](V in) { return exp(in[0]); }},
    {"log", {{3, 4}}, [](V in) { return log(in[0]); }, 1e-6, positive_input},
    {"sqrt", {{3, 4}}, [](V in) { return sqrt(in[0]); }, 1e-6, positive_input},
    {"abs", {{3, 4}}, [](V in) { return abs(in[0]); }, 1e-6, away_from_zero},
    {"sin", {{3, 4}}, [](V in) { return sin(in[0]); }},
    {"cos", {{3, 4}}, [](V in) { return cos(in[0]); }},
    {"tanh", {{3, 4}}, [](V in) { return tanh(in[0]); }},
    {"sigmoid", {{3, 4}}, [](V in) { return sigmoid(in[0]); }},
    {"relu", {{3, 4}}, [](V in) { return relu(in[0]); }, 1e-6, away_from_zero},
    {"gelu", {{3, 4}}, [](V in) { return gelu(in[0]); }},
    {"softplus", {{3, 4}}, [](V in) { return softplus(in[0]); }},
    {"clone", {{2, 3}}, [](V in) { return mul(in[0].clone(), in[0]); }},
    {"cast", {{2, 3}}, [](V in) { return in[0].to(DType::f32).to(DType::f64); }, 1e-4, nullptr, "via f32", 1e-2},
    {"sum", {{2, 3, 4}}, [](V in) { return sum(in[0], {1}); }},
    {"sum", {{2, 3, 4}}, [](V in) { return sum(in[0], {0, 2}, true); }, 1e-6, nullptr, "keepdim"},
    {"sum", {{2, 3}}, [](V in) { return sum(in[0]); }, 1e-6, nullptr, "all"},
    {"mean", {{2, 3, 4}}, [](V in) { return mean(in[0], {-1}); }},
    {"reshape", {{2, 6}}, [](V in) { return reshape(in[0], {3, -1}); }},
    {"permute", {{2, 3, 4}}, [](V in) { return permute(in[0], {2, 0, 1}); }},
    {"slice", {{4, 6}}, [](V in) { return slice(in[0], 1, 1, -1, 2); }});

}  // namespace
}  // namespace pianograd::testing
