// (in progress) the usage API.
#include "gateway/api_context.hpp"

namespace keygate::gateway {

void register_usage_routes(RouteTable&, ApiContext&) {}

}  // namespace keygate::gateway
