// Running one center behind the HTTP API until SIGTERM or SIGINT: what `surge center` and
// `surge up` share.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bus/bus.h"
#include "center/center.h"
#include "http/http.h"
#include "topology/topology.h"

namespace surge::cli {

// A center run as one node of a primary/standby pair (failover/failover.h).
struct HaOptions {
  std::string coord;  // coord::Open's spec: "file:<path>" or "etcd:<host:port>,..."
  std::string node;   // this node's name (the lease owner)
  std::string ship_host;
  uint16_t ship_port = 0;
  std::chrono::milliseconds lease_ttl{500};
  bool initial_primary = false;
};

struct ServeOptions {
  center::Options center;
  // Set: run as a node of a primary/standby pair; the HTTP server starts once this node is the
  // primary (a standby prints "surge center <id> standby <node>" instead of listening).
  std::optional<HaOptions> ha;
  http::ServerOptions http;
  // The deployment this center is part of (it names center.center_id); see api::NewCenterHandler.
  std::optional<topology::Topology> topology;
  // With a topology: the data bus, "nats://HOST:PORT" for JetStream; empty for the embedded bus.
  std::string bus_url;
  // Runs after recovery, before the server starts listening (surge up loads its demo here).
  // An error stops the center and the program exits 1.
  std::function<Status(center::Center& center)> prepare;
  // Runs once the server listens, with its base URL ("http://127.0.0.1:8080").
  std::function<void(const std::string& base_url)> ready;
};

// Blocks SIGINT and SIGTERM in the calling thread; call first in main, before any thread starts,
// so that every thread inherits the mask and the signals reach Serve's sigwait.
void BlockStopSignals();

// Waits (after BlockStopSignals) until SIGTERM or SIGINT arrives; returns which.
int WaitForStopSignal();

// The bus of the deployment: NATS JetStream at `url` (nats://HOST:PORT), or with an empty `url` the
// embedded bus on the topology's bus addresses (invalid_argument if a center has none). The bus
// keeps its own copy of the topology.
Result<std::unique_ptr<bus::Bus>> OpenBus(const topology::Topology& topology,
                                          const std::string& url);

// The host to put in URLs: a wildcard address is reachable on loopback; IPv6 in brackets.
std::string UrlHost(const std::string& host);

// Opens the center (recovery), starts the server with the API handler, prints "surge center <id>
// listening on HOST:PORT" to stdout, and waits for SIGTERM or SIGINT; then stops the server,
// stops the center (drain, sync) and returns 0. Returns 1 if the center or the server cannot
// start (the reason is logged). With `ha`, returns kSteppedDown when the node stepped down (it lost
// its lease, or could not ship): start it again and it comes back as a standby.
inline constexpr int kSteppedDown = 75;  // EX_TEMPFAIL
int Serve(const ServeOptions& options);

}  // namespace surge::cli
