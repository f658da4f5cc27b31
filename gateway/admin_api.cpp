// (in progress) the admin API.
#include "gateway/api_context.hpp"

namespace keygate::gateway {

void register_admin_routes(RouteTable&, ApiContext&) {}

}  // namespace keygate::gateway
