// (in progress) the keys API.
#include "gateway/api_context.hpp"

namespace keygate::gateway {

void register_key_routes(RouteTable&, ApiContext&) {}

}  // namespace keygate::gateway
