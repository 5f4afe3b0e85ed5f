#include "serve.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>

#include "api/api.h"
#include "bus/bus.h"
#include "center/center.h"
#include "common/env.h"
#include "common/log.h"

namespace surge::cli {
namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

// The bus of the deployment: JetStream at `url`, or the embedded bus on the topology's bus
// addresses.
Result<std::unique_ptr<bus::Bus>> OpenBus(const topology::Topology& topology,
                                          const std::string& url) {
  if (!url.empty()) {
    return bus::NewJetStreamBus(
        url, [&topology](std::string_view center) { return topology.Find(center) != nullptr; });
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

int Serve(const ServeOptions& options) {
  center::Options center_options = options.center;
  if (options.topology.has_value()) {
    center_options.master = options.topology->master_id();
    for (const topology::Center& each : options.topology->centers()) {
      center_options.centers.push_back(each.id);
    }
  }
  auto opened = center::Center::Open(*Env::Default(), center_options);
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
  if (options.prepare) {
    const Status prepared = options.prepare(*center);
    if (!prepared.ok()) {
      SURGE_LOG_ERROR("%s", prepared.ToString().c_str());
      center->Stop();
      return 1;
    }
  }

  // A center of a deployment joins the data bus: it publishes what it journals for the others,
  // and follows what it applies of theirs.
  std::unique_ptr<bus::Bus> bus;
  std::unique_ptr<bus::Publisher> publisher;
  if (options.topology.has_value()) {
    const Status joined = JoinBus(options, center_options.data_dir, *center, &bus, &publisher);
    if (!joined.ok()) {
      SURGE_LOG_ERROR("center %s cannot join the data bus: %s", center->center_id().c_str(),
                      joined.ToString().c_str());
      center->Stop();
      return 1;
    }
  }

  // What waited in the event loops longer than a queued request may is shed there, cheaply.
  std::unique_ptr<http::Handler> handler =
      api::NewCenterHandler(*center, {options.topology, options.center.max_queue_delay});
  auto started = http::Server::Start(options.http, *handler);
  if (!started.ok()) {
    SURGE_LOG_ERROR("cannot listen on %s:%u: %s", options.http.host.c_str(),
                    static_cast<unsigned>(options.http.port), started.status().ToString().c_str());
    center->Stop();
    return 1;
  }
  std::unique_ptr<http::Server> server = std::move(started).value();
  // Tests and scripts wait for this line on stdout and read the port from its end.
  std::printf("surge center %s listening on %s:%u\n", center->center_id().c_str(),
              UrlHost(options.http.host).c_str(), static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  if (options.ready) {
    options.ready("http://" + UrlHost(options.http.host) + ":" + std::to_string(server->port()));
  }

  const int received = WaitForStopSignal();
  SURGE_LOG_INFO("received %s: stopping the server, then draining and syncing the center",
                 received == SIGINT ? "SIGINT" : "SIGTERM");
  server->Stop();
  center->Stop();
  const center::Stats stats = center->stats();
  SURGE_LOG_INFO("center %s stopped cleanly at sequence %llu", center->center_id().c_str(),
                 static_cast<unsigned long long>(stats.last_sequence));
  return 0;
}

}  // namespace surge::cli
