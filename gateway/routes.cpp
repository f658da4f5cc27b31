#include "gateway/routes.hpp"

#include <utility>

namespace keygate::gateway {
namespace {

// Takes the next '/'-separated segment off `rest` (which starts after a '/'). Walking the path and
// the pattern side by side allocates nothing: this runs for every request against every route.
std::string_view next_segment(std::string_view& rest, bool& more) {
  auto end = rest.find('/');
  if (end == std::string_view::npos) {
    more = false;
    return std::exchange(rest, std::string_view{});
  }
  auto segment = rest.substr(0, end);
  rest.remove_prefix(end + 1);
  return segment;
}

bool is_parameter(std::string_view p) {
  return p.size() > 2 && p.front() == '{' && p.back() == '}';
}

// Whether `path` fits `pattern`; the {name} parameters' values go to `params` when it does.
bool matches(std::string_view pattern, std::string_view path,
             std::vector<std::pair<std::string, std::string>>* params) {
  std::string_view pattern_rest = pattern.substr(1), path_rest = path.substr(1);
  bool pattern_more = true, path_more = true;
  while (pattern_more && path_more) {
    auto p = next_segment(pattern_rest, pattern_more);
    auto segment = next_segment(path_rest, path_more);
    if (is_parameter(p)) {
      if (segment.empty()) {
        return false;
      }
      if (params) {
        params->emplace_back(std::string(p.substr(1, p.size() - 2)), std::string(segment));
      }
    } else if (p != segment) {
      return false;
    }
  }
  return pattern_more == path_more;
}

}  // namespace

void RouteTable::add(http::verb method, std::string pattern, Access access, Handler handler,
                     ErrorFormat errors) {
  const bool literal = pattern.find('{') == std::string::npos;
  routes_.push_back(Route{method, std::move(pattern), access, std::move(handler), errors, literal});
}

RouteTable::Match RouteTable::match(http::verb method, std::string_view path) const {
  Match result;
  if (path.empty() || path.front() != '/') {
    return result;
  }
  for (const auto& route : routes_) {
    // A literal pattern is compared whole (a length check rejects most); only patterns with
    // parameters are walked segment by segment. Every request is matched against every route
    // before its own.
    if (route.literal ? route.pattern != path : !matches(route.pattern, path, nullptr)) {
      continue;
    }
    result.path_matched = true;
    if (route.method == method) {
      result.route = &route;
      matches(route.pattern, path, &result.params);
      return result;
    }
  }
  return result;
}

}  // namespace keygate::gateway
