#include "gateway_command.h"

#include <csignal>
#include <cstdio>
#include <string>

#include "common/env.h"
#include "common/log.h"
#include "flags.h"
#include "gateway/gateway.h"
#include "serve.h"
#include "topology/topology.h"

namespace surge::cli {
namespace {

constexpr const char* kGatewayUsage =
    "Usage: surge gateway --topology FILE [--listen HOST:PORT] [flags]\n"
    "\n"
    "Runs a gateway of the deployment described by FILE (see src/topology/example.toml): it\n"
    "serves the whole API of docs/API.md and forwards each request to the center it belongs to\n"
    "(master data to the master, a user's orders to the user's home center, an order to the\n"
    "center that made it) over kept-alive connections, and relays the answer. Gateways hold no\n"
    "state: run as many as you like. When a center has too many requests in flight the gateway\n"
    "answers 503 overloaded at once; when it cannot be reached, 503 unavailable. Prints\n"
    "\"surge gateway listening on HOST:PORT\" once it accepts connections; SIGTERM or SIGINT\n"
    "stops it.\n"
    "\n"
    "With --coord, a center may run as a primary/standby pair ('surge center --coord ...' with\n"
    "the center's id): the gateway forwards to the node holding the center's lease, reads the\n"
    "leases every 50 ms and at once after a failed request or a 421 or 503 unavailable answer,\n"
    "and moves to the new primary when the lease moves. While no node holds the lease of a\n"
    "center that had one, its requests get 503 unavailable at once (clients retry with the same\n"
    "request_id). A center whose lease was never held keeps its topology address.\n"
    "\n"
    "Flags:\n"
    "  --topology FILE        the deployment's topology (TOML); required\n"
    "  --listen HOST:PORT     address to serve on (default: the topology's gateway address,\n"
    "                         else 127.0.0.1:8080)\n"
    "  --threads N            event loops serving clients, 0 = one per core (default 0)\n"
    "  --upstream-threads N   loops forwarding to centers, 0 = as many as --threads (default 0)\n"
    "  --in-flight-max N      requests in flight to one center before shedding (default 4096)\n"
    "  --connections N        kept-alive connections to each center (default 4)\n"
    "  --timeout-ms N         a center's answer must come within this (default 10000)\n"
    "  --coord SPEC           where centers' primaries are: file:<path> (the embedded\n"
    "                         coordinator, one machine) or etcd:<host:port>[,<host:port>...];\n"
    "                         the same SPEC as the centers' (default: topology addresses only)\n"
    "  --brain HOST:PORT      where 'surge brain serve' listens: POST /v1/events and GET\n"
    "                         /v1/recommendations, /v1/forecast, /v1/audience go there\n"
    "                         (default: none, those paths answer 503 unavailable)\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "surge gateway: %s\n\n%s", message.c_str(), kGatewayUsage);
  return 2;
}

}  // namespace

int RunGatewayCommand(int argc, char** argv) {
  auto parsed = Flags::Parse(argc, argv, 2,
                             {"topology", "listen", "threads", "upstream-threads", "in-flight-max",
                              "connections", "timeout-ms", "coord", "brain"});
  if (!parsed.ok()) return UsageError(parsed.status().message());
  const Flags& flags = *parsed;
  if (flags.help()) {
    std::fputs(kGatewayUsage, stdout);
    return 0;
  }
  if (!flags.Has("topology")) return UsageError("--topology FILE is required");
  auto topology = topology::Load(*Env::Default(), flags.Get("topology", ""));
  if (!topology.ok()) return UsageError(topology.status().message());
  const std::string default_listen = topology->gateway_address().has_value()
                                         ? topology->gateway_address()->ToString()
                                         : "127.0.0.1:8080";
  auto listen = ParseListenAddress(flags.Get("listen", default_listen));
  if (!listen.ok()) return UsageError(listen.status().message());
  const auto threads = flags.GetInt("threads", 0, 0, 1024);
  const auto upstream_threads = flags.GetInt("upstream-threads", 0, 0, 1024);
  const auto in_flight = flags.GetInt("in-flight-max", 4096, 1, 10'000'000);
  const auto connections = flags.GetInt("connections", 4, 1, 1024);
  const auto timeout_ms = flags.GetInt("timeout-ms", 10'000, 1, 3'600'000);
  for (const Status* check : {&threads.status(), &upstream_threads.status(), &in_flight.status(),
                              &connections.status(), &timeout_ms.status()}) {
    if (!check->ok()) return UsageError(check->message());
  }
  gateway::Options options;
  options.topology = std::move(topology).value();
  options.host = listen->host;
  options.port = listen->port;
  options.threads = static_cast<int>(*threads);
  options.upstream_threads = static_cast<int>(*upstream_threads);
  options.in_flight_per_center_max = static_cast<size_t>(*in_flight);
  options.upstream_connections_per_center = static_cast<size_t>(*connections);
  options.request_timeout = std::chrono::milliseconds(*timeout_ms);
  options.coord = flags.Get("coord", "");
  if (flags.Has("coord") && options.coord.empty()) return UsageError("--coord needs a SPEC");
  if (flags.Has("brain")) {
    auto brain = topology::ParseAddress(flags.Get("brain", ""));
    if (!brain.ok()) return UsageError("--brain: " + brain.status().message());
    options.brain = std::move(brain).value();
  }
  auto gateway = gateway::Gateway::Start(options);
  if (!gateway.ok()) {
    SURGE_LOG_ERROR("cannot start the gateway: %s", gateway.status().ToString().c_str());
    return 1;
  }
  // Tests and scripts wait for this line on stdout and read the port from its end.
  std::printf("surge gateway listening on %s:%u\n", UrlHost(options.host).c_str(),
              static_cast<unsigned>((*gateway)->port()));
  std::fflush(stdout);
  const int received = WaitForStopSignal();
  SURGE_LOG_INFO("received %s: stopping the gateway", received == SIGINT ? "SIGINT" : "SIGTERM");
  (*gateway)->Stop();
  for (const gateway::CenterStats& center : (*gateway)->stats()) {
    SURGE_LOG_INFO("center %s: %llu forwarded, %llu answered, %llu shed, %llu unavailable",
                   center.center_id.c_str(), static_cast<unsigned long long>(center.forwarded),
                   static_cast<unsigned long long>(center.answered),
                   static_cast<unsigned long long>(center.shed_overloaded),
                   static_cast<unsigned long long>(center.unavailable));
  }
  return 0;
}

}  // namespace surge::cli
