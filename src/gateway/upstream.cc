#include "gateway/upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "common/assert.h"
#include "gateway/response_parser.h"

namespace surge::gateway {
namespace {

constexpr size_t kHeadBytesMax = size_t{64} * 1024;
constexpr size_t kReadChunkBytes = size_t{64} * 1024;
constexpr int kEventsMax = 256;
// How often timeouts are checked; they are that coarse.
constexpr std::chrono::milliseconds kTimerPeriod{20};

// A growable byte buffer read into from a socket, consumed from the front.
struct InputBuffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
  size_t begin = 0;
  size_t end = 0;

  std::string_view unread() const { return {data.get() + begin, end - begin}; }
  // Makes room for at least `bytes` more at the end.
  void Reserve(size_t bytes) {
    if (begin == end) begin = end = 0;
    if (capacity - end >= bytes) return;
    const size_t used = end - begin;
    if (begin > 0 && capacity - used >= bytes) {
      std::memmove(data.get(), data.get() + begin, used);
    } else {
      const size_t grown = std::max(capacity * 2, used + bytes);
      auto larger = std::make_unique<char[]>(grown);
      if (used > 0) std::memcpy(larger.get(), data.get() + begin, used);
      data = std::move(larger);
      capacity = grown;
    }
    begin = 0;
    end = used;
  }
};

void AppendNumber(std::string* out, size_t value) {
  char digits[24];
  size_t length = 0;
  do {
    digits[length++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (length > 0) out->push_back(digits[--length]);
}

std::string Milliseconds(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " ms";
}

}  // namespace

struct UpstreamLoop::Connection {
  Connection(size_t center_index, std::shared_ptr<const Endpoint> endpoint_to,
             uint64_t endpoint_generation, size_t head_bytes_max, size_t body_bytes_max)
      : center(center_index),
        endpoint(std::move(endpoint_to)),
        generation(endpoint_generation),
        parser(head_bytes_max, body_bytes_max) {}
  int fd = -1;
  const size_t center;
  const std::shared_ptr<const Endpoint> endpoint;  // where it is connected
  const uint64_t generation;                       // of `endpoint`
  // The center moved away from `endpoint`: no more jobs; closed once in_flight is empty.
  bool retired = false;
  Clock::time_point retired_at;
  bool connected = false;
  bool watching_writable = false;
  bool dirty = false;  // listed in dirty_
  std::string out;     // requests not yet written, from out_offset
  size_t out_offset = 0;
  InputBuffer in;
  ResponseParser parser;
  std::deque<Job> in_flight;  // written (or queued in `out`) and not yet answered, in order
  Clock::time_point opened_at;
  Clock::time_point last_active;
};

struct UpstreamLoop::Pool {
  size_t center = 0;
  std::shared_ptr<const Endpoint> endpoint;              // where new connections go
  uint64_t generation = 0;                               // of `endpoint`
  std::vector<std::unique_ptr<Connection>> connections;  // retired ones included
  std::deque<Job> waiting;                               // every connection's pipeline was full
  Clock::time_point down_until;
  Status down_reason;
};

UpstreamLoop::UpstreamLoop(Endpoints& endpoints, CenterCounters* counters,
                           const UpstreamOptions& options)
    : endpoints_(endpoints), counters_(counters), options_(options), pools_(endpoints.size()) {
  SURGE_ASSERT(options.connections_per_center >= 1 && options.pipeline_depth_max >= 1);
  for (size_t center = 0; center < pools_.size(); ++center) {
    pools_[center].center = center;
    pools_[center].endpoint = endpoints_.Current(center, &pools_[center].generation);
  }
}

UpstreamLoop::~UpstreamLoop() {
  Stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

Status UpstreamLoop::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0) {
    return Status(Code::kIoError, std::string("gateway upstream loop: ") + strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the mailbox
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &event) != 0) {
    return Status(Code::kIoError, std::string("gateway upstream loop: ") + strerror(errno));
  }
  now_ = last_timer_check_ = Clock::now();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void UpstreamLoop::Post(Job job) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake = incoming_.empty();  // otherwise a wake-up is already on its way
    incoming_.push_back(std::move(job));
  }
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof(one));
  }
}

void UpstreamLoop::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof(one));
  thread_.join();
}

void UpstreamLoop::Run() {
  epoll_event events[kEventsMax];
  while (!stopping_.load(std::memory_order_relaxed)) {
    bool busy = false;
    for (const Pool& pool : pools_)
      busy = busy || !pool.connections.empty() || !pool.waiting.empty();
    const int timeout_ms = busy ? static_cast<int>(kTimerPeriod.count()) : -1;
    const int count = epoll_wait(epoll_fd_, events, kEventsMax, timeout_ms);
    now_ = Clock::now();
    for (int i = 0; i < count; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t value = 0;
        [[maybe_unused]] const ssize_t n = ::read(event_fd_, &value, sizeof(value));
        continue;
      }
      OnEvent(static_cast<Connection*>(events[i].data.ptr), events[i].events);
    }
    DrainMailbox();
    if (now_ - last_timer_check_ >= kTimerPeriod) CheckTimers();
    // Index loop: flushing may fail a connection and assign its queue to another, appending.
    for (size_t i = 0; i < dirty_.size(); ++i) {
      Connection* connection = dirty_[i];
      connection->dirty = false;
      if (connection->fd >= 0 && connection->connected) Flush(connection);
    }
    dirty_.clear();
    closed_.clear();
  }
  // Shutting down: close every connection; the jobs go with them (dropped).
  for (Pool& pool : pools_) {
    for (auto& connection : pool.connections) ::close(connection->fd);
    pool.connections.clear();
    pool.waiting.clear();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  incoming_.clear();
}

void UpstreamLoop::DrainMailbox() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    draining_.swap(incoming_);
  }
  for (Job& job : draining_) Dispatch(std::move(job));
  draining_.clear();
}

// ---- Sending -------------------------------------------------------------------------------

void UpstreamLoop::Dispatch(Job job) {
  Pool& pool = pools_[job.center];
  Follow(pool);
  if (!pool.endpoint->down.empty())
    return Fail(job, Status(Code::kUnavailable, pool.endpoint->down));
  if (now_ < pool.down_until) return Fail(job, pool.down_reason);
  if (!pool.waiting.empty()) {  // first come, first served
    pool.waiting.push_back(std::move(job));
    return;
  }
  Connection* connection = PickConnection(pool);
  if (now_ < pool.down_until) return Fail(job, pool.down_reason);  // the connect just failed
  if (connection == nullptr) {
    pool.waiting.push_back(std::move(job));
    return;
  }
  Assign(connection, std::move(job));
}

// Takes the center's new endpoint if it moved (see upstream.h, "Moves"). The hot path is one
// atomic load.
void UpstreamLoop::Follow(Pool& pool) {
  if (endpoints_.generation(pool.center) == pool.generation) return;
  pool.endpoint = endpoints_.Current(pool.center, &pool.generation);
  pool.down_until = Clock::time_point();  // that backoff was for the old address
  std::vector<Connection*> unused;
  for (const auto& connection : pool.connections) {
    if (connection->retired) continue;
    connection->retired = true;
    connection->retired_at = now_;
    if (connection->in_flight.empty()) unused.push_back(connection.get());
  }
  if (!pool.endpoint->down.empty()) {
    const Status down(Code::kUnavailable, pool.endpoint->down);
    for (Job& job : pool.waiting) Fail(job, down);
    pool.waiting.clear();
  }
  for (Connection* connection : unused) Close(connection, Status::Ok());
}

// The least loaded connection with room in its pipeline, opening another one when every open
// connection is busy and the pool may grow; nullptr if none has room (or a connect failed).
// Retired connections take nothing more and do not count against the pool's size.
UpstreamLoop::Connection* UpstreamLoop::PickConnection(Pool& pool) {
  SURGE_ASSERT(pool.endpoint->down.empty());
  Connection* best = nullptr;
  size_t active = 0;
  for (const auto& connection : pool.connections) {
    if (connection->retired) continue;
    ++active;
    if (best == nullptr || connection->in_flight.size() < best->in_flight.size()) {
      best = connection.get();
    }
  }
  if ((best == nullptr || !best->in_flight.empty()) && active < options_.connections_per_center) {
    Connection* opened = Open(pool);
    if (opened != nullptr) return opened;
  }
  if (best != nullptr && best->in_flight.size() < options_.pipeline_depth_max) return best;
  return nullptr;
}

UpstreamLoop::Connection* UpstreamLoop::Open(Pool& pool) {
  const size_t center = pool.center;
  const Endpoint& endpoint = *pool.endpoint;
  counters_[center].connections_opened.fetch_add(1, std::memory_order_relaxed);
  const int fd = socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ConnectFailed(pool, Unreachable(endpoint, std::string("socket: ") + strerror(errno)));
    return nullptr;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const int rc =
      connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_bytes);
  if (rc != 0 && errno != EINPROGRESS) {
    const int error = errno;
    ::close(fd);
    ConnectFailed(pool, Unreachable(endpoint, strerror(error)));
    return nullptr;
  }
  auto connection = std::make_unique<Connection>(center, pool.endpoint, pool.generation,
                                                 kHeadBytesMax, options_.response_bytes_max);
  connection->fd = fd;
  connection->connected = rc == 0;
  connection->opened_at = connection->last_active = now_;
  epoll_event event{};
  // Writable: the connect completed (or failed); watched until it does.
  event.events = EPOLLIN | EPOLLRDHUP | (connection->connected ? 0u : uint32_t{EPOLLOUT});
  event.data.ptr = connection.get();
  connection->watching_writable = !connection->connected;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    ::close(fd);
    ConnectFailed(pool, Unreachable(endpoint, std::string("epoll: ") + strerror(error)));
    return nullptr;
  }
  pool.connections.push_back(std::move(connection));
  return pool.connections.back().get();
}

// Serializes the request into the connection's output; it is written at the end of the loop
// iteration, together with whatever else is due on the connection.
void UpstreamLoop::Assign(Connection* connection, Job job) {
  std::string& out = connection->out;
  out.append(job.method).push_back(' ');
  out.append(job.target).append(" HTTP/1.1\r\nHost: ");
  out.append(connection->endpoint->address_text).append("\r\n");
  if (!job.content_type.empty()) out.append("Content-Type: ").append(job.content_type) += "\r\n";
  if (!job.body.empty() || job.method == "POST" || job.method == "PUT") {
    out.append("Content-Length: ");
    AppendNumber(&out, job.body.size());
    out.append("\r\n");
  }
  out.append("\r\n").append(job.body);
  connection->in_flight.push_back(std::move(job));
  if (!connection->dirty) {
    connection->dirty = true;
    dirty_.push_back(connection);
  }
}

void UpstreamLoop::PumpWaiting(Pool& pool) {
  Follow(pool);
  if (!pool.endpoint->down.empty()) return;  // Follow failed the waiting jobs
  while (!pool.waiting.empty() && now_ >= pool.down_until) {
    Connection* connection = PickConnection(pool);
    if (connection == nullptr) break;
    Job job = std::move(pool.waiting.front());
    pool.waiting.pop_front();
    Assign(connection, std::move(job));
  }
}

void UpstreamLoop::Flush(Connection* connection) {
  while (connection->out_offset < connection->out.size()) {
    const ssize_t n = ::send(connection->fd, connection->out.data() + connection->out_offset,
                             connection->out.size() - connection->out_offset, MSG_NOSIGNAL);
    if (n > 0) {
      connection->out_offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      WatchWritable(connection, true);
      return;
    }
    // Reads will see the error too; closing here says why.
    Close(connection, Unreachable(*connection->endpoint, strerror(errno)));
    return;
  }
  connection->out.clear();
  connection->out_offset = 0;
  WatchWritable(connection, false);
}

void UpstreamLoop::WatchWritable(Connection* connection, bool watch) {
  if (connection->watching_writable == watch) return;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (watch ? uint32_t{EPOLLOUT} : 0u);
  event.data.ptr = connection;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection->fd, &event);
  connection->watching_writable = watch;
}

// ---- Receiving -----------------------------------------------------------------------------

void UpstreamLoop::OnEvent(Connection* connection, uint32_t events) {
  if (connection->fd < 0) return;  // closed earlier in this iteration
  if (!connection->connected) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    OnConnected(connection);
    if (connection->fd < 0) return;
  } else if ((events & EPOLLOUT) != 0) {
    Flush(connection);
    if (connection->fd < 0) return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) OnReadable(connection);
}

void UpstreamLoop::OnConnected(Connection* connection) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(connection->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    Close(connection, Unreachable(*connection->endpoint, strerror(error)));
    return;
  }
  connection->connected = true;
  connection->last_active = now_;
  Flush(connection);  // what was assigned while connecting; stops watching writable when done
}

void UpstreamLoop::OnReadable(Connection* connection) {
  for (;;) {
    connection->in.Reserve(kReadChunkBytes);
    InputBuffer& in = connection->in;
    const ssize_t n = ::recv(connection->fd, in.data.get() + in.end, in.capacity - in.end, 0);
    if (n > 0) {
      in.end += static_cast<size_t>(n);
      connection->last_active = now_;
      if (!DeliverResponses(connection)) return;             // closed
      if (static_cast<size_t>(n) < kReadChunkBytes) return;  // drained, most likely
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    const std::string why = n == 0 ? "closed the connection" : strerror(errno);
    Close(connection, Unreachable(*connection->endpoint, why));
    return;
  }
}

// Relays every complete response in the input to the oldest job waiting on the connection.
// False if the connection was closed.
bool UpstreamLoop::DeliverResponses(Connection* connection) {
  const size_t center = connection->center;
  for (;;) {
    ParsedResponse parsed;
    std::string error;
    const auto state = connection->parser.Parse(connection->in.unread(), &parsed, &error);
    if (state == ResponseParser::State::kNeedMore) break;
    if (state == ResponseParser::State::kError || connection->in_flight.empty()) {
      if (state != ResponseParser::State::kError) error = "a response to no request";
      Close(connection,
            Unreachable(*connection->endpoint, "sent a malformed response (" + error + ")"));
      return false;
    }
    if (parsed.status == 421 ||
        (parsed.status == 503 && parsed.body.find("\"unavailable\"") != std::string_view::npos)) {
      endpoints_.Suspect(center);  // a hint that the center moved: relayed, and checked
    }
    http::Response response;
    response.status = parsed.status;
    response.body.assign(parsed.body);
    response.content_type = InternContentType(parsed.content_type);
    response.retry_after_s = parsed.retry_after_s;
    connection->in.begin += parsed.size_bytes;
    connection->parser.Reset();
    counters_[center].answered.fetch_add(1, std::memory_order_relaxed);
    Answer(connection->in_flight.front(), std::move(response));
    connection->in_flight.pop_front();
    if (parsed.close) {
      Close(connection, Unreachable(*connection->endpoint, "closed the connection"));
      return false;
    }
    if (connection->retired && connection->in_flight.empty()) {
      Close(connection, Status::Ok());
      return false;
    }
  }
  PumpWaiting(pools_[center]);
  return connection->fd >= 0;  // pumping follows a move, which may close it
}

// ---- Failures and timers ---------------------------------------------------------------------

// `reason` is Ok for an orderly close (idle, or retired and done), which fails nothing.
void UpstreamLoop::Close(Connection* connection, const Status& reason) {
  const size_t center = connection->center;
  Pool& pool = pools_[center];
  const bool never_connected = !connection->connected;
  const bool current = connection->generation == pool.generation;
  SURGE_ASSERT(!reason.ok() || connection->in_flight.empty());
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection->fd, nullptr);
  ::close(connection->fd);
  connection->fd = -1;
  for (Job& job : connection->in_flight) Fail(job, reason);
  connection->in_flight.clear();
  for (auto it = pool.connections.begin(); it != pool.connections.end(); ++it) {
    if (it->get() == connection) {
      closed_.push_back(std::move(*it));  // freed at the end of the iteration
      pool.connections.erase(it);
      break;
    }
  }
  if (!reason.ok()) endpoints_.Suspect(center);
  if (never_connected && !reason.ok() && current) {
    ConnectFailed(pool, reason);
  } else {
    PumpWaiting(pool);
  }
}

// The center cannot be reached: its queued jobs fail now, and new ones fail at once for a while.
void UpstreamLoop::ConnectFailed(Pool& pool, const Status& reason) {
  endpoints_.Suspect(pool.center);
  pool.down_until = now_ + options_.reconnect_backoff;
  pool.down_reason = reason;
  for (Job& job : pool.waiting) Fail(job, reason);
  pool.waiting.clear();
}

void UpstreamLoop::CheckTimers() {
  last_timer_check_ = now_;
  std::vector<std::pair<Connection*, Status>> expired;
  for (Pool& pool : pools_) {
    Follow(pool);  // moves take effect even without traffic
    for (const auto& connection : pool.connections) {
      Connection* c = connection.get();
      const Endpoint& endpoint = *c->endpoint;
      if (!c->connected && now_ - c->opened_at >= options_.connect_timeout) {
        expired.emplace_back(c, Unreachable(endpoint, "no connection within " +
                                                          Milliseconds(options_.connect_timeout)));
      } else if (!c->in_flight.empty() &&
                 now_ - c->in_flight.front().accepted_at >= options_.request_timeout) {
        expired.emplace_back(
            c, Unreachable(endpoint, "no answer within " + Milliseconds(options_.request_timeout)));
      } else if (c->retired && now_ - c->retired_at >= options_.moved_answer_timeout) {
        expired.emplace_back(c,
                             Unreachable(endpoint, "no answer within " +
                                                       Milliseconds(options_.moved_answer_timeout) +
                                                       " after the center moved"));
      } else if (c->in_flight.empty() && now_ - c->last_active >= options_.idle_timeout) {
        expired.emplace_back(c, Status::Ok());  // idle: nobody is waiting on it
      }
    }
    while (!pool.waiting.empty() &&
           now_ - pool.waiting.front().accepted_at >= options_.request_timeout) {
      Fail(pool.waiting.front(),
           Unreachable(*pool.endpoint,
                       "no connection free within " + Milliseconds(options_.request_timeout)));
      pool.waiting.pop_front();
    }
  }
  for (auto& [connection, reason] : expired) {
    // An earlier Close may have followed a move that closed this one.
    if (connection->fd >= 0) Close(connection, reason);
  }
}

void UpstreamLoop::Answer(Job& job, http::Response response) {
  counters_[job.center].in_flight.fetch_sub(1, std::memory_order_relaxed);
  job.responder.Send(std::move(response));
}

void UpstreamLoop::Fail(Job& job, const Status& status) {
  counters_[job.center].unavailable.fetch_add(1, std::memory_order_relaxed);
  Answer(job, http::ErrorResponse(status));
}

Status UpstreamLoop::Unreachable(const Endpoint& endpoint, std::string_view what) {
  return Status(Code::kUnavailable, (endpoint.noun == "brain" ? std::string("the brain")
                                                              : endpoint.noun + " " + endpoint.id) +
                                        " (" + endpoint.address_text + "): " + std::string(what));
}

// ---- Content types ---------------------------------------------------------------------------

std::string_view InternContentType(std::string_view content_type) {
  static constexpr std::string_view kJson = "application/json";
  if (content_type == kJson) return kJson;
  if (content_type.empty()) return "application/octet-stream";
  static std::mutex mutex;
  static auto* interned = new std::set<std::string, std::less<>>();  // never freed: views escape
  std::lock_guard<std::mutex> lock(mutex);
  const auto it = interned->find(content_type);
  if (it != interned->end()) return *it;
  if (interned->size() >= 64) return "application/octet-stream";
  return *interned->emplace(content_type).first;
}

}  // namespace surge::gateway
