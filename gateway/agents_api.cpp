// (in progress) the agents API.
#include "gateway/api_context.hpp"

namespace keygate::gateway {

void register_agent_routes(RouteTable&, ApiContext&) {}

}  // namespace keygate::gateway
