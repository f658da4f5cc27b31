#include "gateway/routes.hpp"

namespace keygate::gateway {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

void RouteTable::add(http::verb method, std::string pattern, Access access, Handler handler) {
  routes_.push_back(Route{method, std::move(pattern), access, std::move(handler)});
}

RouteTable::Match RouteTable::match(http::verb method, std::string_view path) const {
  Match result;
  if (path.empty() || path.front() != '/') {
    return result;
  }
  auto parts = split_path(path);
  for (const auto& route : routes_) {
    auto pattern = split_path(route.pattern);
    if (pattern.size() != parts.size()) {
      continue;
    }
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      std::string_view p = pattern[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        if (parts[i].empty()) {
          ok = false;
        } else {
          params.emplace_back(std::string(p.substr(1, p.size() - 2)), std::string(parts[i]));
        }
      } else {
        ok = p == parts[i];
      }
    }
    if (!ok) {
      continue;
    }
    result.path_matched = true;
    if (route.method == method) {
      result.route = &route;
      result.params = std::move(params);
      return result;
    }
  }
  return result;
}

}  // namespace keygate::gateway
