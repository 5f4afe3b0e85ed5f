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
  auto opened = center::Center::Open(*Env::Default(), options.center);
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

  // A center of a deployment with a bus address serves its journal on the embedded bus.
  std::unique_ptr<bus::Bus> bus;
  std::unique_ptr<bus::Publisher> publisher;
  const topology::Center* self =
      options.topology.has_value() ? options.topology->Find(center->center_id()) : nullptr;
  if (self != nullptr && self->bus_address.has_value()) {
    bus = bus::NewEmbeddedBus([](std::string_view) { return std::nullopt; });
    bus::PublisherOptions publisher_options;
    publisher_options.center = center->center_id();
    publisher_options.listen = self->bus_address->ToString();
    publisher_options.history =
        center::JournalHistory(*Env::Default(), JoinPath(options.center.data_dir, "journal"));
    publisher_options.published_through = center->stats().last_sequence;
    auto opened_publisher = bus->OpenPublisher(publisher_options);
    Status attached = opened_publisher.ok() ? center->AttachPublisher(**opened_publisher)
                                            : opened_publisher.status();
    if (!attached.ok()) {
      SURGE_LOG_ERROR("cannot serve the bus on %s: %s", publisher_options.listen.c_str(),
                      attached.ToString().c_str());
      center->Stop();
      return 1;
    }
    publisher = std::move(opened_publisher).value();
    SURGE_LOG_INFO("center %s serves its journal to the bus on %s", center->center_id().c_str(),
                   publisher->address().c_str());
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
