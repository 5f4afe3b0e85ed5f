// The open-loop load generator: see drill.h for the model.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "drill/drill.h"
#include "drill/histogram.h"
#include "json/json.h"

namespace surge::drill {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
// How long to wait for answers after the last request was due before counting them unanswered.
constexpr int64_t kDrainNs = 3 * kSecondNs;
constexpr size_t kReadChunkBytes = size_t{64} * 1024;

int64_t NowNs() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * kSecondNs + now.tv_nsec;
}

// A piece of the offered-load schedule: `rate_per_s` for `duration_ns`.
struct Phase {
  int64_t duration_ns;
  double rate_per_s;
};

double RateAt(const std::vector<Phase>& phases, int64_t offset_ns) {
  int64_t phase_end = 0;
  for (const Phase& phase : phases) {
    phase_end += phase.duration_ns;
    if (offset_ns < phase_end) return phase.rate_per_s;
  }
  return 0;
}

struct SecondBucket {
  uint64_t sent = 0, completed = 0, created = 0, rejected = 0, errors = 0;
  Histogram latency;
};

// What one thread saw; merged into the LoadReport at the end.
struct ThreadResult {
  Histogram all, accepted, rejected;
  uint64_t sent = 0, completed = 0, created = 0, ok_other = 0, sold_out = 0, limit_exceeded = 0,
           overloaded = 0, other_errors = 0, connection_errors = 0, unanswered = 0, unsent = 0;
  // When the last answer (or connection failure) arrived.
  int64_t last_answer_ns = 0;
  std::vector<std::unique_ptr<SecondBucket>> seconds;
  std::vector<std::string> order_ids;
  std::vector<OrderAttempt> history;

  SecondBucket& Second(int64_t offset_ns) {
    const auto index = static_cast<size_t>(std::max<int64_t>(0, offset_ns) / kSecondNs);
    while (seconds.size() <= index) seconds.push_back(std::make_unique<SecondBucket>());
    return *seconds[index];
  }
};

struct Connection {
  int fd = -1;
  bool connected = false;
  std::string out;
  size_t out_sent = 0;
  std::string in;
  size_t in_parsed = 0;
  std::deque<int64_t> due_ns;     // of the requests sent and not yet answered, in order
  std::deque<uint32_t> attempts;  // with record_history: their places in the thread's history
  bool want_write = false;
  bool watching_out = false;  // EPOLLOUT is in the interest set (only while a send is blocked)
  uint32_t generation = 0;    // bumped when the slot gets a new socket; tells stale tokens apart
};

// In a GET target, replaced by a random user number (LoadOptions::plain_get_target).
constexpr std::string_view kUserPlaceholder = "{user}";

enum class Outcome { kCreated, kOkOther, kSoldOut, kLimitExceeded, kOverloaded, kOtherError };

Outcome Classify(int status, std::string_view body) {
  if (status == 201) return Outcome::kCreated;
  if (status >= 200 && status < 300) return Outcome::kOkOther;
  if (status == 409 && body.find("\"sold_out\"") != std::string_view::npos) {
    return Outcome::kSoldOut;
  }
  if (status == 409 && body.find("\"limit_exceeded\"") != std::string_view::npos) {
    return Outcome::kLimitExceeded;
  }
  if (status == 503 && body.find("\"overloaded\"") != std::string_view::npos) {
    return Outcome::kOverloaded;
  }
  return Outcome::kOtherError;
}

// Finds a header's value in a raw header block, case-insensitively.
std::string_view HeaderValue(std::string_view headers, std::string_view lower_name) {
  size_t line_start = headers.find("\r\n");
  while (line_start != std::string_view::npos && line_start + 2 < headers.size()) {
    line_start += 2;
    const size_t line_end = headers.find("\r\n", line_start);
    const std::string_view line =
        headers.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                      : line_end - line_start);
    if (line.size() > lower_name.size() && line[lower_name.size()] == ':') {
      bool same = true;
      for (size_t i = 0; i < lower_name.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(line[i])) == lower_name[i];
      }
      if (same) {
        std::string_view value = line.substr(lower_name.size() + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        return value;
      }
    }
    line_start = line_end;
  }
  return {};
}

class Worker {
 public:
  Worker(const LoadOptions& options, int index, int connections, std::vector<Phase> phases)
      : options_(options), index_(index), phases_(std::move(phases)), connections_(connections) {
    random_state_ = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(index + 1);
  }
  ~Worker() {
    for (Connection& connection : connections_) {
      if (connection.fd >= 0) ::close(connection.fd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  // Opens every connection and waits until they are established. Returns how many are.
  int ConnectAll(int64_t deadline_ns);
  void Run(int64_t start_ns);
  ThreadResult& result() { return result_; }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  uint64_t created() const { return created_.load(std::memory_order_relaxed); }

 private:
  bool StartConnect(size_t slot);
  void Connected(size_t slot);
  void MarkForWrite(size_t slot);
  void Fail(size_t slot, int64_t now_ns);
  void SendDue(int64_t now_ns);
  void AppendRequest(Connection& connection, int64_t due_ns);
  void RecordAnswer(Connection& connection, int status, std::string_view body, int64_t now_ns);
  void Flush(size_t slot, int64_t now_ns);
  void Receive(size_t slot, int64_t now_ns);
  void Complete(size_t slot, int status, std::string_view body, int64_t now_ns);
  void WaitForEvents(int64_t until_ns);
  uint64_t NextRandom() {
    random_state_ ^= random_state_ << 13;
    random_state_ ^= random_state_ >> 7;
    random_state_ ^= random_state_ << 17;
    return random_state_;
  }

  const LoadOptions& options_;
  const int index_;
  const std::vector<Phase> phases_;
  std::vector<Connection> connections_;
  int epoll_fd_ = -1;
  // Every connected slot with room for one more request in flight has exactly one token here
  // (slot, generation), in the order they got room: sending takes the front one, so finding a
  // connection costs O(1) however many there are, and requests rotate over the connections.
  std::deque<std::pair<uint32_t, uint32_t>> free_;
  std::vector<uint32_t> to_flush_;  // slots whose want_write went up since the last flush
  uint64_t pending_ = 0;            // requests sent and not yet answered (or lost)
  uint64_t sequence_ = 0;
  uint64_t random_state_;
  int64_t start_ns_ = 0;
  int64_t next_due_ns_ = 0;
  ThreadResult result_;
  std::atomic<uint64_t> sent_{0}, completed_{0}, created_{0};
};

bool Worker::StartConnect(size_t slot) {
  Connection& connection = connections_[slot];
  const uint32_t generation = connection.generation + 1;
  connection = Connection();
  connection.generation = generation;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  if (::inet_pton(AF_INET, options_.host.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    return false;
  }
  const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  if (result != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return false;
  }
  connection.fd = fd;
  connection.connected = result == 0;
  connection.want_write = !connection.connected;
  connection.watching_out = connection.want_write;
  epoll_event event{};
  event.events = EPOLLIN | (connection.want_write ? static_cast<uint32_t>(EPOLLOUT) : 0U);
  event.data.u64 = slot;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  if (connection.connected) Connected(slot);
  return true;
}

void Worker::Connected(size_t slot) {
  Connection& connection = connections_[slot];
  connection.connected = true;
  free_.emplace_back(static_cast<uint32_t>(slot), connection.generation);
}

void Worker::MarkForWrite(size_t slot) {
  Connection& connection = connections_[slot];
  if (connection.want_write) return;
  connection.want_write = true;
  to_flush_.push_back(static_cast<uint32_t>(slot));
}

int Worker::ConnectAll(int64_t deadline_ns) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  SURGE_ASSERT(epoll_fd_ >= 0);
  for (size_t slot = 0; slot < connections_.size(); ++slot) StartConnect(slot);
  for (;;) {
    int connected = 0;
    for (const Connection& connection : connections_) connected += connection.connected;
    if (connected == static_cast<int>(connections_.size()) || NowNs() > deadline_ns) {
      return connected;
    }
    WaitForEvents(std::min(deadline_ns, NowNs() + 10'000'000));
  }
}

void Worker::Fail(size_t slot, int64_t now_ns) {
  Connection& connection = connections_[slot];
  const uint64_t lost = connection.due_ns.size();
  pending_ -= lost;
  result_.connection_errors += lost;
  if (lost > 0) result_.last_answer_ns = std::max(result_.last_answer_ns, now_ns);
  if (lost > 0) result_.Second(now_ns - start_ns_).errors += lost;
  completed_.fetch_add(lost, std::memory_order_relaxed);
  if (connection.fd >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
    ::close(connection.fd);
  }
  StartConnect(slot);
}

void Worker::AppendRequest(Connection& connection, int64_t due_ns) {
  std::string& out = connection.out;
  if (!options_.plain_get_target.empty()) {
    out += "GET ";
    const std::string& target = options_.plain_get_target;
    const size_t at = target.find(kUserPlaceholder);
    if (at == std::string::npos) {
      out += target;
    } else {
      out.append(target, 0, at);
      out +=
          std::to_string(NextRandom() % static_cast<uint64_t>(std::max(1, options_.users_count)));
      out.append(target, at + kUserPlaceholder.size());
    }
    out += " HTTP/1.1\r\nHost: load\r\n\r\n";
    return;
  }
  char body[512];
  const std::string& sku = options_.skus[NextRandom() % options_.skus.size()];
  const auto user = NextRandom() % static_cast<uint64_t>(std::max(1, options_.users_count));
  const uint64_t sequence = sequence_++;
  const int body_length = std::snprintf(
      body, sizeof(body),
      "{\"request_id\":\"%s-%d-%llu\",\"user\":\"%s%llu\",\"items\":[{\"sku\":\"%s\","
      "\"quantity\":1}]}",
      options_.request_prefix.c_str(), index_, static_cast<unsigned long long>(sequence),
      options_.user_prefix.c_str(), static_cast<unsigned long long>(user), sku.c_str());
  SURGE_ASSERT(body_length > 0 && body_length < static_cast<int>(sizeof(body)));
  if (options_.record_history) {
    connection.attempts.push_back(static_cast<uint32_t>(result_.history.size()));
    OrderAttempt& attempt = result_.history.emplace_back();
    attempt.request_id =
        options_.request_prefix + "-" + std::to_string(index_) + "-" + std::to_string(sequence);
    attempt.user = options_.user_prefix + std::to_string(user);
    attempt.items.push_back({sku, 1});
    attempt.due_us = due_ns / 1000;
  }
  char head[160];
  const int head_length =
      std::snprintf(head, sizeof(head),
                    "POST /v1/orders HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n",
                    body_length);
  out.append(head, static_cast<size_t>(head_length));
  out.append(body, static_cast<size_t>(body_length));
}

void Worker::SendDue(int64_t now_ns) {
  const auto pipeline_max = static_cast<size_t>(options_.pipeline_max);
  while (next_due_ns_ <= now_ns) {
    const double rate = RateAt(phases_, next_due_ns_ - start_ns_) / options_.threads;
    if (rate <= 0) return;
    // The connection that has had room the longest; tokens of replaced sockets are dropped.
    size_t slot = connections_.size();
    while (!free_.empty() && slot == connections_.size()) {
      const auto [candidate, generation] = free_.front();
      free_.pop_front();
      const Connection& connection = connections_[candidate];
      if (connection.generation == generation && connection.connected) slot = candidate;
    }
    if (slot == connections_.size()) return;  // all full: the request stays due; its wait counts
    Connection& connection = connections_[slot];
    AppendRequest(connection, next_due_ns_);
    connection.due_ns.push_back(next_due_ns_);
    if (connection.due_ns.size() < pipeline_max) {
      free_.emplace_back(static_cast<uint32_t>(slot), connection.generation);
    }
    MarkForWrite(slot);
    ++pending_;
    ++result_.sent;
    ++result_.Second(next_due_ns_ - start_ns_).sent;
    sent_.fetch_add(1, std::memory_order_relaxed);
    next_due_ns_ += static_cast<int64_t>(1e9 / rate);
  }
}

void Worker::Flush(size_t slot, int64_t now_ns) {
  Connection& connection = connections_[slot];
  while (connection.out_sent < connection.out.size()) {
    const ssize_t written = ::send(connection.fd, connection.out.data() + connection.out_sent,
                                   connection.out.size() - connection.out_sent, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      Fail(slot, now_ns);
      return;
    }
    connection.out_sent += static_cast<size_t>(written);
  }
  const bool blocked = connection.out_sent < connection.out.size();
  if (!blocked) {
    connection.out.clear();
    connection.out_sent = 0;
  }
  // The interest set changes only when a send starts or stops being blocked: an epoll_ctl per
  // request would cost the generator a third of its system calls.
  if (blocked != connection.watching_out) {
    epoll_event event{};
    event.events = EPOLLIN | (blocked ? static_cast<uint32_t>(EPOLLOUT) : 0U);
    event.data.u64 = slot;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event);
    connection.watching_out = blocked;
  }
  connection.want_write = false;
}

void Worker::Complete(size_t slot, int status, std::string_view body, int64_t now_ns) {
  Connection& connection = connections_[slot];
  SURGE_ASSERT(!connection.due_ns.empty());
  const int64_t due_ns = connection.due_ns.front();
  connection.due_ns.pop_front();
  --pending_;
  // It was full, so it had no token: now it has room again.
  if (connection.due_ns.size() + 1 == static_cast<size_t>(options_.pipeline_max)) {
    free_.emplace_back(static_cast<uint32_t>(slot), connection.generation);
  }
  const auto latency_us = static_cast<uint64_t>(std::max<int64_t>(0, now_ns - due_ns) / 1000);
  result_.last_answer_ns = std::max(result_.last_answer_ns, now_ns);
  if (options_.record_history) RecordAnswer(connection, status, body, now_ns);
  SecondBucket& second = result_.Second(now_ns - start_ns_);
  ++second.completed;
  ++result_.completed;
  completed_.fetch_add(1, std::memory_order_relaxed);
  result_.all.Record(latency_us);
  second.latency.Record(latency_us);
  switch (Classify(status, body)) {
    case Outcome::kCreated: {
      ++result_.created;
      ++second.created;
      created_.fetch_add(1, std::memory_order_relaxed);
      result_.accepted.Record(latency_us);
      if (options_.verify) {
        constexpr std::string_view kKey = "\"order_id\":\"";
        const size_t start = body.find(kKey);
        if (start != std::string_view::npos) {
          const size_t end = body.find('"', start + kKey.size());
          result_.order_ids.emplace_back(
              body.substr(start + kKey.size(), end - start - kKey.size()));
        }
      }
      return;
    }
    case Outcome::kOkOther:
      ++result_.ok_other;
      result_.accepted.Record(latency_us);
      return;
    case Outcome::kSoldOut:
      ++result_.sold_out;
      break;
    case Outcome::kLimitExceeded:
      ++result_.limit_exceeded;
      break;
    case Outcome::kOverloaded:
      ++result_.overloaded;
      break;
    case Outcome::kOtherError:
      ++result_.other_errors;
      ++second.errors;
      return;
  }
  ++second.rejected;
  result_.rejected.Record(latency_us);
}

// The answer of the oldest request in flight on `connection`, into its history entry.
void Worker::RecordAnswer(Connection& connection, int status, std::string_view body,
                          int64_t now_ns) {
  if (connection.attempts.empty()) return;  // a GET profile keeps no history
  OrderAttempt& attempt = result_.history[connection.attempts.front()];
  connection.attempts.pop_front();
  attempt.status = status;
  attempt.answered_us = now_ns / 1000;
  // The answers are ours (API.md): the fields are found by their keys, without a full parse.
  const auto text_of = [&](std::string_view key) {
    const size_t start = body.find(key);
    if (start == std::string_view::npos) return std::string();
    const size_t from = start + key.size();
    const size_t end = body.find('"', from);
    return end == std::string_view::npos ? std::string()
                                         : std::string(body.substr(from, end - from));
  };
  if (status == 201) {
    attempt.order_id = text_of("\"order_id\":\"");
  } else {
    attempt.error_code = text_of("\"code\":\"");
  }
}

void Worker::Receive(size_t slot, int64_t now_ns) {
  Connection& connection = connections_[slot];
  for (;;) {
    const size_t old_size = connection.in.size();
    connection.in.resize(old_size + kReadChunkBytes);
    const ssize_t got = ::recv(connection.fd, connection.in.data() + old_size, kReadChunkBytes, 0);
    connection.in.resize(old_size + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) break;
    if (got <= 0) {
      Fail(slot, now_ns);
      return;
    }
    if (static_cast<size_t>(got) < kReadChunkBytes) break;
  }
  // Parse every complete response (the servers measured always send Content-Length).
  for (;;) {
    const std::string_view rest = std::string_view(connection.in).substr(connection.in_parsed);
    const size_t header_end = rest.find("\r\n\r\n");
    if (header_end == std::string_view::npos) break;
    const std::string_view headers = rest.substr(0, header_end);
    int status = 0;
    if (headers.size() < 12 || headers.substr(0, 5) != "HTTP/" ||
        std::from_chars(headers.data() + 9, headers.data() + 12, status).ec != std::errc() ||
        connection.due_ns.empty()) {
      Fail(slot, now_ns);
      return;
    }
    const std::string_view length_text = HeaderValue(headers, "content-length");
    size_t body_length = 0;
    if (!length_text.empty() &&
        std::from_chars(length_text.data(), length_text.data() + length_text.size(), body_length)
                .ec != std::errc()) {
      Fail(slot, now_ns);
      return;
    }
    if (rest.size() < header_end + 4 + body_length) break;
    Complete(slot, status, rest.substr(header_end + 4, body_length), now_ns);
    connection.in_parsed += header_end + 4 + body_length;
  }
  if (connection.in_parsed == connection.in.size()) {
    connection.in.clear();
    connection.in_parsed = 0;
  } else if (connection.in_parsed > kReadChunkBytes) {
    connection.in.erase(0, connection.in_parsed);
    connection.in_parsed = 0;
  }
}

void Worker::WaitForEvents(int64_t until_ns) {
  epoll_event events[256];
  const int64_t wait_ns = std::max<int64_t>(0, until_ns - NowNs());
  const timespec timeout{static_cast<time_t>(wait_ns / kSecondNs),
                         static_cast<long>(wait_ns % kSecondNs)};
  const int ready = ::epoll_pwait2(epoll_fd_, events, 256, &timeout, nullptr);
  const int64_t now_ns = NowNs();
  for (int i = 0; i < ready; ++i) {
    const auto slot = static_cast<size_t>(events[i].data.u64);
    Connection& connection = connections_[slot];
    if (!connection.connected && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int error = 0;
      socklen_t length = sizeof(error);
      ::getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        // Refused: try again a little later rather than spin.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
        ::close(connection.fd);
        connection.fd = -1;
        continue;
      }
      Connected(slot);
      Flush(slot, now_ns);
      continue;
    }
    if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Receive(slot, now_ns);
    if (connection.connected && (events[i].events & EPOLLOUT)) Flush(slot, now_ns);
  }
}

void Worker::Run(int64_t start_ns) {
  start_ns_ = start_ns;
  next_due_ns_ = start_ns;
  int64_t end_ns = start_ns;
  for (const Phase& phase : phases_) end_ns += phase.duration_ns;
  int64_t last_reconnect_ns = 0;
  for (;;) {
    const int64_t now_ns = NowNs();
    // The run ends on time even when every connection is full and requests fell behind their
    // schedule: what was due but never sent is counted as unsent, not sent late.
    if (next_due_ns_ < end_ns && now_ns < end_ns) SendDue(now_ns);
    // Every request due is written before waiting, one send per connection however many.
    for (const uint32_t slot : to_flush_) {
      if (connections_[slot].want_write && connections_[slot].connected) Flush(slot, now_ns);
    }
    to_flush_.clear();
    if (now_ns - last_reconnect_ns > 50'000'000) {  // reopen refused connections every 50 ms
      last_reconnect_ns = now_ns;
      for (size_t slot = 0; slot < connections_.size(); ++slot) {
        if (connections_[slot].fd < 0) StartConnect(slot);
      }
    }
    const uint64_t pending = pending_;
    const bool schedule_over = next_due_ns_ >= end_ns || now_ns >= end_ns;
    if (schedule_over && (pending == 0 || now_ns > end_ns + kDrainNs)) {
      result_.unanswered = pending;
      while (next_due_ns_ < end_ns) {
        const double rate = RateAt(phases_, next_due_ns_ - start_ns_) / options_.threads;
        if (rate <= 0) break;
        ++result_.unsent;
        next_due_ns_ += static_cast<int64_t>(1e9 / rate);
      }
      return;
    }
    const int64_t wake_ns = next_due_ns_ < end_ns ? next_due_ns_ : now_ns + 10'000'000;
    WaitForEvents(std::min(wake_ns, now_ns + 10'000'000));
  }
}

uint64_t ResidentBytes(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

LoadReport::Percentiles Summarize(const Histogram& histogram) {
  return {histogram.count(),        histogram.Quantile(0.5),   histogram.Quantile(0.9),
          histogram.Quantile(0.99), histogram.Quantile(0.999), histogram.max()};
}

// Runs one schedule of phases with fresh connections and appends what it saw to `report`.
Status RunPhases(const LoadOptions& options, const std::vector<Phase>& phases, int server_pid,
                 LoadReport* report, Histogram* all, Histogram* accepted, Histogram* rejected) {
  const int threads = std::max(1, options.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    const int share = options.connections / threads + (i < options.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(options, i, std::max(1, share), phases));
  }
  std::atomic<int> connected{0};
  std::atomic<int> finished{0};
  std::atomic<int64_t> start_ns{0};
  std::barrier ready(threads + 1);
  std::vector<std::thread> pool;
  pool.reserve(workers.size());
  for (auto& worker : workers) {
    pool.emplace_back([&, raw = worker.get()] {
      connected += raw->ConnectAll(NowNs() + 5 * kSecondNs);
      ready.arrive_and_wait();
      ready.arrive_and_wait();  // start_ns is set between the two
      if (connected.load() > 0) raw->Run(start_ns.load());
      finished.fetch_add(1);
    });
  }
  ready.arrive_and_wait();
  start_ns.store(NowNs() + 20'000'000);
  ready.arrive_and_wait();
  if (connected.load() == 0) {
    for (std::thread& thread : pool) thread.join();
    return Status(Code::kUnavailable,
                  "could not connect to " + options.host + ":" + std::to_string(options.port));
  }
  int64_t total_ns = 0;
  for (const Phase& phase : phases) total_ns += phase.duration_ns;
  std::vector<uint64_t> rss_per_second;
  const size_t seconds_before = report->seconds.size();
  // Progress and memory samples, once a second, while the workers run.
  for (int64_t tick = 1; finished.load() < threads; ++tick) {
    const int64_t wake_ns = start_ns.load() + tick * kSecondNs;
    while (NowNs() < wake_ns && finished.load() < threads) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (server_pid > 0) rss_per_second.push_back(ResidentBytes(server_pid));
    uint64_t sent = 0, completed = 0, created = 0;
    for (auto& worker : workers) {
      sent += worker->sent();
      completed += worker->completed();
      created += worker->created();
    }
    if (options.progress) {
      char line[200];
      std::snprintf(line, sizeof(line),
                    "  %3lld s  offered %8.0f/s  sent %9llu  answered %9llu  created %9llu",
                    static_cast<long long>(tick) + static_cast<long long>(seconds_before),
                    RateAt(phases, (tick - 1) * kSecondNs), static_cast<unsigned long long>(sent),
                    static_cast<unsigned long long>(completed),
                    static_cast<unsigned long long>(created));
      options.progress(line);
    }
  }
  for (std::thread& thread : pool) thread.join();

  std::vector<SecondBucket> merged;
  int64_t last_answer_ns = 0;
  for (auto& worker : workers) {
    ThreadResult& result = worker->result();
    report->sent += result.sent;
    report->completed += result.completed;
    report->created += result.created;
    report->ok_other += result.ok_other;
    report->sold_out += result.sold_out;
    report->limit_exceeded += result.limit_exceeded;
    report->overloaded += result.overloaded;
    report->other_errors += result.other_errors;
    report->connection_errors += result.connection_errors;
    report->unanswered += result.unanswered;
    report->unsent += result.unsent;
    last_answer_ns = std::max(last_answer_ns, result.last_answer_ns);
    all->Add(result.all);
    accepted->Add(result.accepted);
    rejected->Add(result.rejected);
    for (size_t i = 0; i < result.seconds.size(); ++i) {
      if (merged.size() <= i) merged.resize(i + 1);
      SecondBucket& into = merged[i];
      const SecondBucket& from = *result.seconds[i];
      into.sent += from.sent;
      into.completed += from.completed;
      into.created += from.created;
      into.rejected += from.rejected;
      into.errors += from.errors;
      into.latency.Add(from.latency);
    }
    for (std::string& id : result.order_ids) report->order_ids.push_back(std::move(id));
    for (OrderAttempt& attempt : result.history) report->history.push_back(std::move(attempt));
  }
  for (size_t i = 0; i < merged.size(); ++i) {
    SecondStats second;
    second.offered_per_s = RateAt(phases, static_cast<int64_t>(i) * kSecondNs);
    second.sent = merged[i].sent;
    second.completed = merged[i].completed;
    second.created = merged[i].created;
    second.rejected = merged[i].rejected;
    second.errors = merged[i].errors;
    second.p50_us = merged[i].latency.Quantile(0.5);
    second.p99_us = merged[i].latency.Quantile(0.99);
    second.max_us = merged[i].latency.max();
    second.rss_bytes = i < rss_per_second.size() ? rss_per_second[i] : 0;
    report->seconds.push_back(second);
  }
  // Rates are over the real elapsed time: the schedule, or longer if answers came late.
  report->elapsed_s +=
      static_cast<double>(std::max(total_ns, last_answer_ns - start_ns.load())) / 1e9;
  return Status::Ok();
}

}  // namespace

namespace {

std::vector<Phase> PhasesOf(const LoadOptions& options) {
  auto ns = [](std::chrono::milliseconds value) {
    return static_cast<int64_t>(value.count()) * 1'000'000;
  };
  if (options.profile == Profile::kSteady) return {{ns(options.duration), options.rate_per_s}};
  SURGE_ASSERT(options.profile == Profile::kFlash);
  const int64_t total = ns(options.duration);
  const int64_t spike_start = std::min(ns(options.spike_start), total);
  const int64_t spike_end = std::min(spike_start + ns(options.spike_length), total);
  std::vector<Phase> phases;
  if (spike_start > 0) phases.push_back({spike_start, options.rate_per_s});
  if (spike_end > spike_start) {
    phases.push_back({spike_end - spike_start, options.rate_per_s * options.spike_multiplier});
  }
  if (total > spike_end) phases.push_back({total - spike_end, options.rate_per_s});
  return phases;
}

// Reads every order id received, from a few threads, and checks each campaign's counts.
void Verify(const LoadOptions& options, LoadReport* report) {
  constexpr int kReaders = 4;
  std::mutex mutex;
  std::vector<std::thread> readers;
  readers.reserve(kReaders);
  std::atomic<size_t> next{0};
  for (int reader = 0; reader < kReaders; ++reader) {
    readers.emplace_back([&] {
      http::Client client(options.host, options.port, std::chrono::milliseconds(5000));
      for (size_t i = next++; i < report->order_ids.size(); i = next++) {
        const std::string& id = report->order_ids[i];
        auto response = client.Do("GET", "/v1/orders/" + id);
        std::string problem;
        if (!response.ok()) {
          problem = "order " + id + ": " + response.status().ToString();
        } else if (response->status != 200 ||
                   response->body.find("\"status\":\"") == std::string::npos) {
          problem = "order " + id + " answered " + std::to_string(response->status) + " " +
                    response->body;
        }
        if (!problem.empty()) {
          const std::lock_guard<std::mutex> lock(mutex);
          report->verify_problems.push_back(std::move(problem));
        }
      }
    });
  }
  for (std::thread& thread : readers) thread.join();

  std::vector<std::string> campaigns = options.verify_campaigns;
  if (campaigns.empty()) {
    for (const std::string& sku : options.skus) campaigns.push_back("camp-" + sku);
  }
  http::Client client(options.host, options.port, std::chrono::milliseconds(5000));
  int64_t held_total = 0;
  for (const std::string& campaign : campaigns) {
    auto counts = ReadStock(client, "/v1/campaigns/" + campaign);
    if (!counts.ok()) {
      report->verify_problems.push_back("campaign " + campaign + ": " + counts.status().ToString());
      continue;
    }
    if (!counts->adds_up()) {
      report->verify_problems.push_back("campaign " + campaign +
                                        " does not add up: " + counts->ToString());
    }
    held_total += counts->reserved + counts->sold;
  }
  // Every order of the run holds one unit of one of these campaigns (unless it was cancelled or
  // expired since, which a load run does not do), so more created orders than held units would be
  // an oversell.
  if (!campaigns.empty() && static_cast<int64_t>(report->created) > held_total) {
    report->verify_problems.push_back("created " + std::to_string(report->created) +
                                      " orders but the campaigns hold only " +
                                      std::to_string(held_total) + " units");
  }
  report->verified = report->verify_problems.empty();
}

}  // namespace

Result<LoadReport> RunLoad(const LoadOptions& options, int server_pid) {
  if (options.plain_get_target.empty() && options.skus.empty()) {
    return Status(Code::kInvalidArgument, "an order profile needs at least one SKU");
  }
  if (options.rate_per_s <= 0 || options.connections <= 0 || options.threads <= 0) {
    return Status(Code::kInvalidArgument, "rate, connections and threads must be positive");
  }
  LoadReport report;
  Histogram all, accepted, rejected;
  if (options.profile == Profile::kRamp) {
    report.profile = "ramp";
    double rate = options.rate_per_s;
    const int64_t step_ns = static_cast<int64_t>(options.ramp_step.count()) * 1'000'000;
    for (int step = 0; step < options.ramp_steps_max; ++step) {
      LoadReport step_report;
      Histogram step_all, step_accepted, step_rejected;
      // Each step starts fresh workers, whose request sequences start again at 0: without a
      // prefix of its own, a step would resend the previous steps' requests, which a center
      // answers as cheap idempotent retries (and the ramp would overstate its peak).
      LoadOptions step_options = options;
      step_options.request_prefix += "s" + std::to_string(step);
      SURGE_RETURN_IF_ERROR(RunPhases(step_options, {{step_ns, rate}}, server_pid, &step_report,
                                      &step_all, &step_accepted, &step_rejected));
      const double bad =
          static_cast<double>(step_report.overloaded + step_report.other_errors +
                              step_report.connection_errors + step_report.unanswered);
      const bool broke =
          step_all.Quantile(0.99) > static_cast<uint64_t>(options.ramp_p99_max.count()) * 1000 ||
          bad > options.ramp_errors_max *
                    static_cast<double>(std::max<uint64_t>(1, step_report.sent));
      if (options.progress) {
        options.progress("  ramp step at " + std::to_string(static_cast<int64_t>(rate)) +
                         "/s: p99 " + std::to_string(step_all.Quantile(0.99)) + " us, " +
                         std::to_string(static_cast<int64_t>(bad)) + " errors/overloaded" +
                         (broke ? "  -> broke" : ""));
      }
      all.Add(step_all);
      accepted.Add(step_accepted);
      rejected.Add(step_rejected);
      report.sent += step_report.sent;
      report.completed += step_report.completed;
      report.created += step_report.created;
      report.ok_other += step_report.ok_other;
      report.sold_out += step_report.sold_out;
      report.limit_exceeded += step_report.limit_exceeded;
      report.overloaded += step_report.overloaded;
      report.other_errors += step_report.other_errors;
      report.connection_errors += step_report.connection_errors;
      report.unanswered += step_report.unanswered;
      report.unsent += step_report.unsent;
      report.elapsed_s += step_report.elapsed_s;
      for (auto& second : step_report.seconds) report.seconds.push_back(second);
      for (auto& id : step_report.order_ids) report.order_ids.push_back(std::move(id));
      for (auto& attempt : step_report.history) report.history.push_back(std::move(attempt));
      if (broke) break;
      report.max_sustainable_rate_per_s = step_report.achieved_per_s();
      rate *= options.ramp_factor;
    }
  } else {
    report.profile = options.profile == Profile::kSteady ? "steady" : "flash";
    SURGE_RETURN_IF_ERROR(
        RunPhases(options, PhasesOf(options), server_pid, &report, &all, &accepted, &rejected));
  }
  report.all = Summarize(all);
  report.accepted = Summarize(accepted);
  report.rejected = Summarize(rejected);
  if (options.verify && options.plain_get_target.empty()) Verify(options, &report);
  return report;
}

Status SetupCatalogue(const LoadOptions& options, int64_t stock, int64_t per_user_limit) {
  http::Client client(options.host, options.port, std::chrono::milliseconds(5000));
  auto put = [](http::Client& into, const std::string& target, const std::string& body) -> Status {
    SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, into.Do("PUT", target, body));
    if (response.status != 200) {
      return Status(Code::kUnavailable, "PUT " + target + " answered " +
                                            std::to_string(response.status) + " " + response.body);
    }
    return Status::Ok();
  };
  SURGE_RETURN_IF_ERROR(put(client, "/v1/merchants/load-m", R"({"name":"Load merchant"})"));
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const std::string& sku : options.skus) {
    SURGE_RETURN_IF_ERROR(put(client, "/v1/products/" + sku,
                              R"({"merchant":"load-m","name":"Hot item","category":"hot",)"
                              R"("price_cents":10000})"));
    SURGE_RETURN_IF_ERROR(put(
        client, "/v1/campaigns/camp-" + sku,
        "{\"sku\":\"" + sku + "\",\"stock\":" + std::to_string(stock) +
            ",\"price_cents\":5000,\"starts_at\":" + std::to_string(now_ms - 1000) +
            ",\"ends_at\":" + std::to_string(now_ms + 24LL * 3600 * 1000) + ",\"per_user_limit\":" +
            std::to_string(per_user_limit) + ",\"reserve_ttl_ms\":3600000}"));
  }
  // Users from a few connections at once: a large population takes a while otherwise.
  constexpr int kWriters = 4;
  std::atomic<int> next{0};
  std::mutex mutex;
  Status failure;
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int writer = 0; writer < kWriters; ++writer) {
    writers.emplace_back([&] {
      http::Client connection(options.host, options.port, std::chrono::milliseconds(5000));
      for (int user = next++; user < options.users_count; user = next++) {
        const Status status =
            put(connection, "/v1/users/" + options.user_prefix + std::to_string(user),
                R"({"region":"load"})");
        if (!status.ok()) {
          const std::lock_guard<std::mutex> lock(mutex);
          failure = status;
          return;
        }
      }
    });
  }
  for (std::thread& thread : writers) thread.join();
  return failure;
}

}  // namespace surge::drill
