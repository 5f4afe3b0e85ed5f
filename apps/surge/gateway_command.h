// surge gateway: the stateless front of a deployment (gateway::Gateway) as a command.
#pragma once

namespace surge::cli {

// Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 when it cannot start, 2 for bad usage.
int RunGatewayCommand(int argc, char** argv);

}  // namespace surge::cli
