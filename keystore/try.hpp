#pragma once
// KG_TRY(var, expr): evaluates a Result-returning expression and returns its error from the
// enclosing function, so storage code reads as a straight sequence of statements.
// Internal to keystore/*.cpp; not for headers other folders include.

#define KG_TRY(var, expr)                           \
  auto var = (expr);                                \
  if (!var) {                                       \
    return ::keygate::fail(std::move(var).error()); \
  }

#define KG_CHECK(expr)                                             \
  do {                                                             \
    if (auto kg_check_result_ = (expr); !kg_check_result_) {       \
      return ::keygate::fail(std::move(kg_check_result_).error()); \
    }                                                              \
  } while (false)
