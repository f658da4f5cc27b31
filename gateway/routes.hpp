#pragma once
// The route table: every HTTP route, who may call it, and its handler. One table, so that the
// authorization tests are generated from it and a new route without a test row fails.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_exchange.hpp"

namespace keygate::gateway {

enum class Access {
  open,   // no token (health, readiness, metrics)
  user,   // any valid token; the handler only touches the caller's own things
  admin,  // a token of an admin user
};

using Handler = std::function<awaitable<void>(HttpExchange&)>;

// The shape of the errors the connection itself answers for a route (a missing or bad token),
// before its handler runs: the API the route speaks.
enum class ErrorFormat { openai, anthropic };

struct Route {
  http::verb method;
  std::string pattern;  // "/v1/keys/{id}": literal segments and {name} parameters
  Access access;
  Handler handler;
  ErrorFormat errors = ErrorFormat::openai;
  bool literal = false;  // no {name} parameter: matches only a path equal to the pattern
};

class RouteTable {
 public:
  void add(http::verb method, std::string pattern, Access access, Handler handler,
           ErrorFormat errors = ErrorFormat::openai);
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    bool path_matched = false;  // some route has this path (405 rather than 404)
  };
  Match match(http::verb method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace keygate::gateway
