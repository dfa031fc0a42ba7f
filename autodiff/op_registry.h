// Every differentiable op registers its name here; the gradient-check test walks this list and fails
// for any op without a gradcheck case (tests/autodiff/gradcheck_table.cpp).
#pragma once
#include <string>
#include <vector>

namespace pianograd {

struct OpRegistrar {
  explicit OpRegistrar(const char* name);
};
const std::vector<std::string>& registered_ops();

}  // namespace pianograd

#define PG_CONCAT_INNER(a, b) a##b
#define PG_CONCAT(a, b) PG_CONCAT_INNER(a, b)
// Use once per op, at namespace scope in the op's .cpp: PG_REGISTER_OP(exp);
#define PG_REGISTER_OP(name) \
  static const ::pianograd::OpRegistrar PG_CONCAT(pg_op_registrar_, __LINE__)(#name)
