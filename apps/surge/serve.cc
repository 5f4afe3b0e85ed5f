#include "serve.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "api/api.h"
#include "bus/bus.h"
#include "center/center.h"
#include "common/env.h"
#include "common/log.h"
#include "coord/coord.h"
#include "failover/failover.h"

namespace surge::cli {
namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

Status JoinBus(const ServeOptions& options, const std::string& data_dir, center::Center& center,
               std::unique_ptr<bus::Bus>* bus, std::unique_ptr<bus::Publisher>* publisher) {
  const topology::Topology& topology = *options.topology;
  SURGE_ASSIGN_OR_RETURN(*bus, OpenBus(topology, options.bus_url));
  const bool at_master = topology.IsMaster(center.center_id());
  bus::PublisherOptions publisher_options;
  publisher_options.center = center.center_id();
  if (options.bus_url.empty()) {
    publisher_options.listen = topology.Find(center.center_id())->bus_address->ToString();
  }
  publisher_options.history =
      center::JournalHistory(*Env::Default(), JoinPath(data_dir, "journal"), at_master);
  publisher_options.published_through = center.stats().last_sequence;
  SURGE_ASSIGN_OR_RETURN(*publisher, (*bus)->OpenPublisher(publisher_options));
  SURGE_RETURN_IF_ERROR(center.AttachPublisher(**publisher));
  SURGE_LOG_INFO("center %s publishes to the bus at %s", center.center_id().c_str(),
                 (*publisher)->address().c_str());
  return center.Follow(**bus);
}

}  // namespace

Result<std::unique_ptr<bus::Bus>> OpenBus(const topology::Topology& topology,
                                          const std::string& url) {
  if (!url.empty()) {
    return bus::NewJetStreamBus(
        url, [topology](std::string_view center) { return topology.Find(center) != nullptr; });
  }
  for (const topology::Center& each : topology.centers()) {
    if (!each.bus_address.has_value()) {
      return Status(Code::kInvalidArgument,
                    "center " + each.id +
                        " has no bus address in the topology: give every center one for the "
                        "embedded bus, or use --bus nats://HOST:PORT");
    }
  }
  return bus::NewEmbeddedBus([topology](std::string_view center) -> std::optional<std::string> {
    const topology::Center* found = topology.Find(center);
    if (found == nullptr) return std::nullopt;
    return found->bus_address->ToString();
  });
}

std::string UrlHost(const std::string& host) {
  if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
  if (host == "::") return "[::1]";
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

int WaitForStopSignal() {
  const sigset_t signals = StopSignals();
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  return received;
}

void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Writes to a closed socket must fail with EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

namespace {

// What serves a center: its bus link and its HTTP server.
struct Serving {
  std::unique_ptr<bus::Bus> bus;
  std::unique_ptr<bus::Publisher> publisher;
  std::unique_ptr<http::Handler> handler;
  std::unique_ptr<http::Server> server;
};

center::Options CenterOptions(const ServeOptions& options) {
  center::Options center_options = options.center;
  if (options.topology.has_value()) {
    center_options.master = options.topology->master_id();
    for (const topology::Center& each : options.topology->centers()) {
      center_options.centers.push_back(each.id);
    }
  }
  return center_options;
}

// Prepares a center that takes writes, joins the bus, starts the HTTP server and prints the
// "listening" line.
Status StartServing(const ServeOptions& options, center::Center& center, Serving* serving) {
  if (options.prepare) SURGE_RETURN_IF_ERROR(options.prepare(center));
  // A center of a deployment joins the data bus: it publishes what it journals for the others,
  // and follows what it applies of theirs.
  if (options.topology.has_value()) {
    const Status joined =
        JoinBus(options, options.center.data_dir, center, &serving->bus, &serving->publisher);
    if (!joined.ok()) return joined.Annotate("joining the data bus");
  }
  // What waited in the event loops longer than a queued request may is shed there, cheaply.
  serving->handler =
      api::NewCenterHandler(center, {options.topology, options.center.max_queue_delay});
  auto started = http::Server::Start(options.http, *serving->handler);
  if (!started.ok()) {
    return started.status().Annotate("listening on " + options.http.host + ":" +
                                     std::to_string(options.http.port));
  }
  serving->server = std::move(started).value();
  // Tests and scripts wait for this line on stdout and read the port from its end.
  std::printf("surge center %s listening on %s:%u\n", center.center_id().c_str(),
              UrlHost(options.http.host).c_str(), static_cast<unsigned>(serving->server->port()));
  std::fflush(stdout);
  if (options.ready) {
    options.ready("http://" + UrlHost(options.http.host) + ":" +
                  std::to_string(serving->server->port()));
  }
  return Status::Ok();
}

// One node of a primary/standby pair: serves once it is the primary; exits kSteppedDown when it
// steps down, at once (it must not answer anything more).
int ServeHa(const ServeOptions& options) {
  const HaOptions& ha = *options.ha;
  auto coordinator = coord::Open(ha.coord);
  if (!coordinator.ok()) {
    SURGE_LOG_ERROR("cannot open the coordinator %s: %s", ha.coord.c_str(),
                    coordinator.status().ToString().c_str());
    return 1;
  }
  Serving serving;
  failover::Options node_options;
  node_options.center = CenterOptions(options);
  node_options.node = ha.node;
  node_options.http_address =
      topology::Address{UrlHost(options.http.host), options.http.port}.ToString();
  node_options.ship_host = ha.ship_host;
  node_options.ship_port = ha.ship_port;
  node_options.lease_ttl = ha.lease_ttl;
  node_options.initial_primary = ha.initial_primary;
  node_options.on_primary = [&](center::Center& center) {
    return StartServing(options, center, &serving);
  };
  auto started = failover::Node::Start(*Env::Default(), **coordinator, node_options);
  if (!started.ok()) {
    SURGE_LOG_ERROR("cannot start node %s: %s", ha.node.c_str(),
                    started.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<failover::Node> node = std::move(started).value();
  std::printf("surge center %s standby %s\n", options.center.center_id.c_str(), ha.node.c_str());
  std::fflush(stdout);
  std::thread watcher([&] {
    const Status why = node->Wait();
    if (why.ok()) return;  // stopped by the signal below
    SURGE_LOG_ERROR("node %s stepped down: %s", ha.node.c_str(), why.ToString().c_str());
    std::fflush(nullptr);
    std::_Exit(kSteppedDown);
  });
  const int received = WaitForStopSignal();
  SURGE_LOG_INFO("received %s: stopping node %s", received == SIGINT ? "SIGINT" : "SIGTERM",
                 ha.node.c_str());
  if (serving.server != nullptr) serving.server->Stop();
  node->Stop();
  watcher.join();
  return 0;
}

}  // namespace

int Serve(const ServeOptions& options) {
  if (options.ha.has_value()) return ServeHa(options);
  auto opened = center::Center::Open(*Env::Default(), CenterOptions(options));
  if (!opened.ok()) {
    SURGE_LOG_ERROR("cannot open the center in %s: %s", options.center.data_dir.c_str(),
                    opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<center::Center> center = std::move(opened).value();
  const center::Stats recovered = center->stats();
  SURGE_LOG_INFO("center %s recovered %llu records from %s", center->center_id().c_str(),
                 static_cast<unsigned long long>(recovered.recovered_records),
                 options.center.data_dir.c_str());
  Serving serving;
  const Status started = StartServing(options, *center, &serving);
  if (!started.ok()) {
    SURGE_LOG_ERROR("center %s: %s", center->center_id().c_str(), started.ToString().c_str());
    center->Stop();
    return 1;
  }
  const int received = WaitForStopSignal();
  SURGE_LOG_INFO("received %s: stopping the server, then draining and syncing the center",
                 received == SIGINT ? "SIGINT" : "SIGTERM");
  serving.server->Stop();
  center->Stop();
  const center::Stats stats = center->stats();
  SURGE_LOG_INFO("center %s stopped cleanly at sequence %llu", center->center_id().c_str(),
                 static_cast<unsigned long long>(stats.last_sequence));
  return 0;
}

}  // namespace surge::cli
