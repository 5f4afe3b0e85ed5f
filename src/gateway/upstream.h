// The gateway's upstream side (private to gateway): event loops that forward requests to centers
// over keep-alive, pipelined HTTP/1.1 connections and hand each center's response to the waiting
// client's Responder.
//
// Each UpstreamLoop is one thread with its own epoll set, its own connections to every center
// (opened on demand, up to connections_per_center, reused for as long as they stay healthy) and
// its own queue per center for requests that find every connection's pipeline full. Requests on
// one connection are answered in the order they were written, so a connection keeps the jobs it
// carries in a FIFO and matches each parsed response to the oldest one.
//
// Failure: a connection that fails (reset, closed, timed out, malformed response) answers every
// job it carries 503 unavailable naming the center; a failed connect also answers the center's
// queued jobs and makes the loop answer that center's new jobs unavailable at once for
// reconnect_backoff. Nothing here retries a request: the center may have executed it. Each such
// failure, and a center's 421 or 503 unavailable answer, is reported to Endpoints::Suspect.
//
// Moves: before it sends anything to a center, the loop compares the center's generation in
// Endpoints with the one its pool follows. When it changed, the pool takes the new endpoint: new
// connections go there (at once, without waiting out a backoff of the old address); the old
// connections take no more requests and close once the requests they carry are answered, or
// fail them after moved_answer_timeout. An endpoint that is down fails requests at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "gateway/endpoints.h"
#include "http/http.h"

namespace surge::gateway {

using Clock = std::chrono::steady_clock;

// Counters of one center shared by every thread of a gateway (gateway.h's CenterStats).
struct alignas(64) CenterCounters {
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> shed_overloaded{0};
  std::atomic<uint64_t> unavailable{0};
  std::atomic<uint64_t> connections_opened{0};
};

struct UpstreamOptions {
  size_t connections_per_center = 1;  // of this loop
  size_t pipeline_depth_max = 128;
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds reconnect_backoff{100};
  std::chrono::milliseconds idle_timeout{30'000};
  size_t response_bytes_max = size_t{64} * 1024 * 1024;
  // Once a center has moved, how long requests still in flight at its old address may wait for
  // their answers before they fail.
  std::chrono::milliseconds moved_answer_timeout{1'000};
};

// A request on its way to a center. The views point into the client's request, which stays
// valid until `responder` is used (http.h).
struct Job {
  size_t center = 0;
  std::string_view method;  // HEAD is sent as GET
  std::string_view target;
  std::string_view body;
  std::string_view content_type;
  http::Responder responder;
  Clock::time_point accepted_at;
};

class UpstreamLoop {
 public:
  // `endpoints` and `counters` (one per center, parallel) must outlive the loop.
  UpstreamLoop(Endpoints& endpoints, CenterCounters* counters, const UpstreamOptions& options);
  ~UpstreamLoop();
  UpstreamLoop(const UpstreamLoop&) = delete;
  UpstreamLoop& operator=(const UpstreamLoop&) = delete;

  Status Start();
  // Any thread; never blocks for long (a mutex held only to append). The job's in-flight count
  // must already be taken; the loop releases it when the job is answered.
  void Post(Job job);
  // Joins the thread; jobs still held are dropped (their Responders answer 500 if anyone still
  // listens). Idempotent.
  void Stop();

 private:
  struct Connection;
  struct Pool;

  void Run();
  void DrainMailbox();
  void Dispatch(Job job);
  void Follow(Pool& pool);
  Connection* PickConnection(Pool& pool);
  Connection* Open(Pool& pool);
  void Assign(Connection* connection, Job job);
  void PumpWaiting(Pool& pool);
  void OnEvent(Connection* connection, uint32_t events);
  void OnConnected(Connection* connection);
  void OnReadable(Connection* connection);
  bool DeliverResponses(Connection* connection);
  void Flush(Connection* connection);
  void WatchWritable(Connection* connection, bool watch);
  void Close(Connection* connection, const Status& reason);
  void ConnectFailed(Pool& pool, const Status& reason);
  void CheckTimers();
  void Answer(Job& job, http::Response response);
  void Fail(Job& job, const Status& status);
  static Status Unreachable(const Endpoint& endpoint, std::string_view what);

  Endpoints& endpoints_;
  CenterCounters* const counters_;
  const UpstreamOptions options_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;
  std::vector<Job> incoming_;  // guarded by mutex_

  // Loop thread only.
  std::vector<Job> draining_;
  std::vector<Pool> pools_;         // one per center
  std::vector<Connection*> dirty_;  // connections with output to flush this iteration
  std::vector<std::unique_ptr<Connection>> closed_;  // freed at the end of the iteration
  Clock::time_point now_;
  Clock::time_point last_timer_check_;
};

// The Content-Type of a center's response as storage that outlives any response (http::Response
// keeps a view): the common ones are literals; others are kept for the life of the process, at
// most 64 distinct ones, after which "application/octet-stream" is used.
std::string_view InternContentType(std::string_view content_type);

}  // namespace surge::gateway
