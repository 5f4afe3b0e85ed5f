// surge up: a whole deployment on one machine, as `make run` starts it. It runs every center of a
// topology (by default src/topology/example.toml: master m, sub-centers s1 and s2), the brain and a
// gateway, each as a child process of its own (`surge center`, `surge brain serve`, `surge
// gateway`), supervises them
// (restarting one that exits, with a backoff), loads the demo catalogue through the gateway on
// the first start, and stops them all, gateway first, on SIGINT or SIGTERM.
#pragma once

#include <string_view>

namespace surge::cli {

// The topology `surge up` writes to DATA/topology.toml when it has none: the text of
// src/topology/example.toml, embedded at build time.
std::string_view DefaultTopologyToml();

// Runs `surge up` with the arguments after "up" (argv[2..argc)). Expects SIGINT and SIGTERM to be
// blocked in every thread (BlockStopSignals) and no other thread to exist yet. Exit status: 0
// after a clean stop, 1 when the deployment cannot start (the reason is printed, with the log to
// read), 2 for bad usage.
int RunUpCommand(int argc, char** argv);

}  // namespace surge::cli
