// The gateway: the client-facing http::Server whose handler routes each request (router.h) and
// hands it to an upstream loop (upstream.h), after taking one of the center's in-flight slots.
#include "gateway/gateway.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "coord/coord.h"
#include "gateway/endpoints.h"
#include "gateway/router.h"
#include "gateway/upstream.h"
#include "gateway/watcher.h"
#include "http/http.h"

namespace surge::gateway {
namespace {

Status CheckOptions(const Options& options) {
  auto invalid = [](const std::string& message) {
    return Status(Code::kInvalidArgument, "gateway: " + message);
  };
  if (!options.topology) return invalid("a topology is required");
  if (options.threads < 0 || options.upstream_threads < 0) {
    return invalid("threads must be 0 (one per core) or more");
  }
  if (options.in_flight_per_center_max == 0)
    return invalid("in_flight_per_center_max must be >= 1");
  if (options.upstream_connections_per_center == 0) {
    return invalid("upstream_connections_per_center must be >= 1");
  }
  if (options.upstream_pipeline_depth_max == 0) {
    return invalid("upstream_pipeline_depth_max must be >= 1");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0 ||
      options.upstream_idle_timeout.count() <= 0 || options.reconnect_backoff.count() < 0 ||
      options.coord_poll_interval.count() <= 0 || options.moved_answer_timeout.count() <= 0) {
    return invalid("timeouts must be positive (reconnect_backoff may be 0)");
  }
  return Status::Ok();
}

class GatewayImpl;

class Handler final : public http::Handler {
 public:
  explicit Handler(GatewayImpl& gateway) : gateway_(gateway) {}
  void Handle(const http::Request& request, http::Responder responder) override;

 private:
  GatewayImpl& gateway_;
};

class GatewayImpl final : public Gateway {
 public:
  explicit GatewayImpl(const Options& options)
      : options_(options),
        topology_(*options.topology),
        router_(topology_, options.brain.has_value()),
        // One per center, and one more for the brain.
        counters_(topology_.centers().size() + 1),
        handler_(*this) {}
  ~GatewayImpl() override { Stop(); }

  Status Open() {
    std::vector<Endpoint> endpoints;
    for (const topology::Center& center : topology_.centers()) {
      SURGE_ASSIGN_OR_RETURN(Endpoint endpoint, ResolveEndpoint(center.id, center.address));
      endpoints.push_back(std::move(endpoint));
    }
    // The brain's endpoint follows the centers' (Router forwards to index centers().size()).
    if (options_.brain.has_value()) {
      SURGE_ASSIGN_OR_RETURN(Endpoint brain, ResolveEndpoint("brain", *options_.brain));
      brain.noun = "brain";
      endpoints.push_back(std::move(brain));
    } else {
      endpoints.push_back(DownEndpoint("brain", "no brain is configured for this gateway"));
    }
    endpoints_ = std::make_unique<Endpoints>(std::move(endpoints));
    if (!options_.coord.empty()) {
      Result<std::unique_ptr<coord::Coordinator>> coordinator = coord::Open(options_.coord);
      if (!coordinator.ok()) {
        return Status(coordinator.status().code(), "gateway: coordinator " + options_.coord + ": " +
                                                       coordinator.status().message());
      }
      watcher_ =
          std::make_unique<LeaseWatcher>(std::move(coordinator).value(), *endpoints_,
                                         options_.coord_poll_interval, topology_.centers().size());
      watcher_->PollAll();
      watcher_->Start();
    }
    const int threads = options_.threads > 0
                            ? options_.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int loops = options_.upstream_threads > 0 ? options_.upstream_threads : threads;
    UpstreamOptions upstream;
    upstream.connections_per_center =
        std::max<size_t>(1, (options_.upstream_connections_per_center + loops - 1) / loops);
    upstream.pipeline_depth_max = options_.upstream_pipeline_depth_max;
    upstream.connect_timeout = options_.connect_timeout;
    upstream.request_timeout = options_.request_timeout;
    upstream.reconnect_backoff = options_.reconnect_backoff;
    upstream.idle_timeout = options_.upstream_idle_timeout;
    upstream.response_bytes_max = options_.response_bytes_max;
    upstream.moved_answer_timeout = options_.moved_answer_timeout;
    for (int i = 0; i < loops; ++i) {
      loops_.push_back(std::make_unique<UpstreamLoop>(*endpoints_, counters_.data(), upstream));
      SURGE_RETURN_IF_ERROR(loops_.back()->Start());
    }
    http::ServerOptions server;
    server.host = options_.host;
    server.port = options_.port;
    server.threads = threads;
    server.body_bytes_max = options_.body_bytes_max;
    server.connections_max = options_.connections_max;
    SURGE_ASSIGN_OR_RETURN(server_, http::Server::Start(server, handler_));
    return Status::Ok();
  }

  uint16_t port() const override { return server_->port(); }

  std::vector<CenterStats> stats() const override {
    std::vector<CenterStats> all;
    for (size_t i = 0; i < topology_.centers().size(); ++i) {
      const CenterCounters& c = counters_[i];
      CenterStats stats;
      stats.center_id = topology_.centers()[i].id;
      uint64_t generation = 0;
      const std::shared_ptr<const Endpoint> endpoint = endpoints_->Current(i, &generation);
      if (endpoint->down.empty()) stats.address = endpoint->address_text;
      stats.forwarded = c.forwarded.load(std::memory_order_relaxed);
      stats.answered = c.answered.load(std::memory_order_relaxed);
      stats.shed_overloaded = c.shed_overloaded.load(std::memory_order_relaxed);
      stats.unavailable = c.unavailable.load(std::memory_order_relaxed);
      stats.connections_opened = c.connections_opened.load(std::memory_order_relaxed);
      stats.in_flight = c.in_flight.load(std::memory_order_relaxed);
      all.push_back(std::move(stats));
    }
    return all;
  }

  // The server first: once it has stopped no handler runs, so no job is posted to a stopped loop.
  // The watcher last: the loops may still suspect centers until they stop.
  void Stop() override {
    if (server_) server_->Stop();
    for (auto& loop : loops_) loop->Stop();
    if (watcher_) watcher_->Stop();
  }

  void Handle(const http::Request& request, http::Responder responder) {
    Destination destination = router_.Route(request);
    if (destination.answer_here) return responder.Send(std::move(destination.answer));
    const size_t center = destination.center;
    CenterCounters& counters = counters_[center];
    if (counters.in_flight.fetch_add(1, std::memory_order_relaxed) >=
        options_.in_flight_per_center_max) {
      counters.in_flight.fetch_sub(1, std::memory_order_relaxed);
      counters.shed_overloaded.fetch_add(1, std::memory_order_relaxed);
      // ErrorResponse adds Retry-After: 1 to overloaded.
      return responder.Send(http::ErrorResponse(Status(
          Code::kOverloaded, NameOf(center) + " has " +
                                 std::to_string(options_.in_flight_per_center_max) +
                                 " requests in flight through this gateway; retry in a second")));
    }
    counters.forwarded.fetch_add(1, std::memory_order_relaxed);
    Job job;
    job.center = center;
    job.method = request.method == "HEAD" ? std::string_view("GET") : request.method;
    job.target = request.target;
    job.body = request.body;
    job.content_type = request.content_type;
    job.responder = std::move(responder);
    job.accepted_at = Clock::now();
    LoopOfThisThread().Post(std::move(job));
  }

 private:
  std::string NameOf(size_t center) const {
    return center < topology_.centers().size() ? "center " + topology_.centers()[center].id
                                               : std::string("the brain");
  }

  // Each server loop thread keeps to one upstream loop, so a client connection's requests share
  // upstream connections (and the upstream loops share the work evenly when their counts match).
  UpstreamLoop& LoopOfThisThread() {
    static std::atomic<size_t> next_slot{0};
    thread_local const size_t slot = next_slot.fetch_add(1, std::memory_order_relaxed);
    return *loops_[slot % loops_.size()];
  }

  const Options options_;
  const topology::Topology topology_;
  const Router router_;
  std::vector<CenterCounters> counters_;
  std::unique_ptr<Endpoints> endpoints_;
  std::unique_ptr<LeaseWatcher> watcher_;  // with a coordinator only
  std::vector<std::unique_ptr<UpstreamLoop>> loops_;
  Handler handler_;
  std::unique_ptr<http::Server> server_;
};

void Handler::Handle(const http::Request& request, http::Responder responder) {
  gateway_.Handle(request, std::move(responder));
}

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::Start(const Options& options) {
  SURGE_RETURN_IF_ERROR(CheckOptions(options));
  auto gateway = std::make_unique<GatewayImpl>(options);
  SURGE_RETURN_IF_ERROR(gateway->Open());
  return std::unique_ptr<Gateway>(std::move(gateway));
}

}  // namespace surge::gateway
