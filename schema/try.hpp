#pragma once
// KG_TRY(var, expr): evaluates a Result-returning expression and returns its error from the
// enclosing function, so code that chains many checked steps (storage, wire transforms) reads as
// a straight sequence of statements. For .cpp files; headers do not include it.

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
