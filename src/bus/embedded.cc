// The embedded bus: a center serves its streams over TCP; subscribers follow them.
//
// Publisher: an acceptor thread, and one session thread per subscriber (a center has a handful
// of subscribers: the other centers, the dashboard). Recent records are kept in memory (the live
// window) and sent from there; a subscriber that is further behind is served from the center's
// journal through History first. Subscription: one thread that connects, asks for its stream after
// the last sequence it delivered, delivers, and reconnects after any failure.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "bus/bus.h"
#include "bus/wire.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/net.h"
#include "topology/topology.h"

namespace surge::bus {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
// A subscriber that hears nothing (not even a heartbeat) for this long reconnects.
constexpr auto kSilenceTimeout = std::chrono::seconds(4);
constexpr size_t kSendChunkBytes = 1 << 20;
constexpr size_t kReadChunkBytes = size_t{64} * 1024;

Status SocketError(std::string_view what) {
  return Status(Code::kUnavailable, std::string(what) + ": " + std::strerror(errno));
}

// HOST:PORT as the topology writes it, or HOST:0 (any free port) for listening.
Result<topology::Address> ParseHostPort(const std::string& host_port) {
  const bool any_port = host_port.size() > 2 && host_port.ends_with(":0");
  SURGE_ASSIGN_OR_RETURN(
      topology::Address address,
      topology::ParseAddress(any_port ? host_port.substr(0, host_port.size() - 1) + "1"
                                      : host_port));
  if (any_port) address.port = 0;
  return address;
}

// Resolves HOST:PORT (IPv6 in brackets) to its first socket address.
Result<SocketAddress> Resolve(const std::string& host_port) {
  SURGE_ASSIGN_OR_RETURN(const topology::Address address, ParseHostPort(host_port));
  Result<std::vector<SocketAddress>> addresses = ResolveTcp(address.host, address.port);
  if (!addresses.ok()) return Status(Code::kUnavailable, addresses.status().message());
  return addresses->front();
}

void SetTimeout(int fd, int option, std::chrono::milliseconds timeout) {
  timeval value{};
  value.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  value.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, option, &value, sizeof(value));
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// ---- Publisher ---------------------------------------------------------------------------------

struct Stored {
  uint64_t sequence;
  Kind kind;
  std::string payload;
};

class EmbeddedPublisher final : public Publisher {
 public:
  explicit EmbeddedPublisher(PublisherOptions options) : options_(std::move(options)) {}
  ~EmbeddedPublisher() override;

  Status Listen();
  Status Publish(std::span<const Record> records) override;
  uint64_t last_published() const override {
    std::lock_guard lock(mutex_);
    return last_published_;
  }
  std::string address() const override { return address_; }

 private:
  struct Session {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void AcceptLoop();
  void Serve(Session* session);
  bool Follow(int fd, const wire::Request& request);
  bool SendHistory(int fd, Kind kind, uint64_t* cursor, uint64_t through);
  void ReapSessions();

  const PublisherOptions options_;
  int listen_fd_ = -1;
  std::string address_;
  std::thread acceptor_;

  mutable std::mutex mutex_;
  std::condition_variable published_;
  bool stopping_ = false;
  uint64_t last_published_ = 0;
  // Records up to this sequence are read through History; the live window holds those after it.
  uint64_t history_through_ = 0;
  std::deque<Stored> window_;
  std::list<Session> sessions_;
};

Status EmbeddedPublisher::Listen() {
  if (!options_.history) return Status(Code::kInvalidArgument, "the embedded bus needs a history");
  history_through_ = options_.published_through;
  last_published_ = options_.published_through;
  SURGE_ASSIGN_OR_RETURN(topology::Address requested, ParseHostPort(options_.listen));
  Result<Listening> listening = ListenTcp(requested.host, requested.port);
  if (!listening.ok()) return Status(Code::kUnavailable, "bus: " + listening.status().message());
  listen_fd_ = listening->fd;
  const uint16_t port = listening->port;
  requested.port = port;
  address_ = requested.ToString();
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

EmbeddedPublisher::~EmbeddedPublisher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Session& session : sessions_) ::shutdown(session.fd, SHUT_RDWR);
  }
  published_.notify_all();
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (Session& session : sessions_) {
    if (session.thread.joinable()) session.thread.join();
    ::close(session.fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status EmbeddedPublisher::Publish(std::span<const Record> records) {
  {
    std::lock_guard lock(mutex_);
    for (const Record& record : records) {
      SURGE_ASSERT(record.sequence > 0 && record.payload.size() <= kPayloadBytesMax);
      if (record.sequence <= last_published_) continue;  // a re-send: already published
      window_.push_back(Stored{record.sequence, record.kind, std::string(record.payload)});
      last_published_ = record.sequence;
    }
    while (window_.size() > options_.live_window_records) {
      history_through_ = window_.front().sequence;
      window_.pop_front();
    }
  }
  published_.notify_all();
  return Status::Ok();
}

void EmbeddedPublisher::AcceptLoop() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno != EINTR && errno != ECONNABORTED) {
        SURGE_LOG_WARNING("bus: accept: %s", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    ReapSessions();
    Session& session = sessions_.emplace_back();
    session.fd = fd;
    session.thread = std::thread([this, &session] { Serve(&session); });
  }
}

// Joins the threads of sessions that ended (mutex_ held).
void EmbeddedPublisher::ReapSessions() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (!it->done.load()) {
      ++it;
      continue;
    }
    it->thread.join();
    ::close(it->fd);
    it = sessions_.erase(it);
  }
}

void EmbeddedPublisher::Serve(Session* session) {
  const int fd = session->fd;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SetTimeout(fd, SO_RCVTIMEO, std::chrono::milliseconds(5000));
  SetTimeout(fd, SO_SNDTIMEO, std::chrono::milliseconds(10000));
  std::string line;
  char c = 0;
  while (line.size() <= wire::kRequestBytesMax && ::recv(fd, &c, 1, 0) == 1 && c != '\n') {
    line.push_back(c);
  }
  Result<wire::Request> request =
      c == '\n' ? wire::ParseRequest(line)
                : Status(Code::kInvalidArgument, "bad subscription request: no line ending");
  if (request.ok() && request->center != options_.center) {
    request = Status(Code::kInvalidArgument,
                     "this bus serves center " + options_.center + ", not " + request->center);
  }
  if (!request.ok()) {
    std::string frame;
    wire::AppendError(request.status(), &frame);
    SendAll(fd, frame);
  } else {
    Follow(fd, *request);
  }
  ::shutdown(fd, SHUT_RDWR);
  session->done = true;
}

// Sends the stream from request.after on, catch-up then live, until the peer goes or the
// publisher stops. `cursor` is the sequence scanned through (records of other kinds included).
bool EmbeddedPublisher::Follow(int fd, const wire::Request& request) {
  uint64_t cursor = request.after;
  std::string out;
  for (;;) {
    uint64_t history_through = 0;
    out.clear();
    {
      std::unique_lock lock(mutex_);
      if (!stopping_ && cursor >= last_published_) {
        published_.wait_for(lock, kHeartbeatInterval,
                            [&] { return stopping_ || cursor < last_published_; });
      }
      if (stopping_) return true;
      if (cursor < history_through_) {
        history_through = history_through_;
      } else {
        auto it = std::upper_bound(
            window_.begin(), window_.end(), cursor,
            [](uint64_t sequence, const Stored& stored) { return sequence < stored.sequence; });
        for (; it != window_.end() && out.size() < kSendChunkBytes; ++it) {
          if (it->kind == request.kind) {
            wire::AppendRecord(Record{it->sequence, it->kind, it->payload}, &out);
          }
          cursor = it->sequence;
        }
        if (it == window_.end()) cursor = std::max(cursor, last_published_);
        if (out.empty()) wire::AppendHeartbeat(last_published_, &out);
      }
    }
    if (history_through > 0) {
      if (!SendHistory(fd, request.kind, &cursor, history_through)) return false;
      continue;
    }
    if (!SendAll(fd, out)) return false;
  }
}

// Sends the records of `kind` in (cursor, through] from the history, in chunks.
bool EmbeddedPublisher::SendHistory(int fd, Kind kind, uint64_t* cursor, uint64_t through) {
  std::string out;
  bool sent = true;
  const Status status = options_.history(*cursor + 1, through, [&](const Record& record) {
    if (record.sequence <= *cursor) return true;  // a history must not go back; be safe
    if (record.kind == kind) wire::AppendRecord(record, &out);
    *cursor = record.sequence;
    if (out.size() >= kSendChunkBytes) {
      sent = SendAll(fd, out);
      out.clear();
    }
    return sent;
  });
  if (!sent) return false;
  if (!status.ok()) {
    out.clear();
    wire::AppendError(status.Annotate("reading center " + options_.center + "'s history"), &out);
    SendAll(fd, out);
    return false;
  }
  *cursor = std::max(*cursor, through);
  return SendAll(fd, out);
}

// ---- Subscription ------------------------------------------------------------------------------

class EmbeddedSubscription final : public Subscription {
 public:
  EmbeddedSubscription(StreamId stream, uint64_t after, Deliver deliver,
                       std::function<std::optional<std::string>(std::string_view)> address_of)
      : stream_(std::move(stream)),
        deliver_(std::move(deliver)),
        address_of_(std::move(address_of)),
        delivered_through_(after) {
    thread_ = std::thread([this] { Run(); });
  }
  ~EmbeddedSubscription() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    }
    wakeup_.notify_all();
    thread_.join();
  }

  uint64_t delivered_through() const override { return delivered_through_.load(); }
  Status status() const override {
    std::lock_guard lock(mutex_);
    return status_;
  }

 private:
  void Run();
  Status FollowOnce(const std::string& address);
  void SetStatus(Status status) {
    std::lock_guard lock(mutex_);
    status_ = std::move(status);
  }

  const StreamId stream_;
  const Deliver deliver_;
  const std::function<std::optional<std::string>(std::string_view)> address_of_;
  std::atomic<uint64_t> delivered_through_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  int fd_ = -1;
  Status status_ = Status(Code::kUnavailable, "connecting");
};

void EmbeddedSubscription::Run() {
  auto backoff = std::chrono::milliseconds(20);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    const std::optional<std::string> address = address_of_(stream_.center);
    const Status ended =
        address.has_value()
            ? FollowOnce(*address)
            : Status(Code::kInvalidArgument, "no bus address for center " + stream_.center);
    SetStatus(ended);
    // A stream whose early records are gone cannot be followed from here: retrying cannot help.
    if (ended.code() == Code::kNotFound) return;
    std::unique_lock lock(mutex_);
    if (wakeup_.wait_for(lock, backoff, [&] { return stopping_; })) return;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(1000));
  }
}

// One connection: subscribes after what was delivered and delivers until it fails.
Status EmbeddedSubscription::FollowOnce(const std::string& address) {
  SURGE_ASSIGN_OR_RETURN(const SocketAddress resolved, Resolve(address));
  const int fd = ::socket(resolved.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SocketError("socket");
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return Status(Code::kUnavailable, "stopped");
    }
    fd_ = fd;
  }
  const auto close_fd = [&] {
    std::lock_guard lock(mutex_);
    fd_ = -1;
    ::close(fd);
  };
  SetTimeout(fd, SO_RCVTIMEO,
             std::chrono::duration_cast<std::chrono::milliseconds>(kSilenceTimeout));
  SetTimeout(fd, SO_SNDTIMEO, std::chrono::milliseconds(2000));
  const std::string where = "bus of center " + stream_.center + " at " + address;
  if (::connect(fd, resolved.get(), resolved.length) != 0) {
    Status failed = SocketError("cannot reach the " + where);
    close_fd();
    return failed;
  }
  const wire::Request request{stream_.center, stream_.kind, delivered_through_.load()};
  if (!SendAll(fd, wire::EncodeRequest(request))) {
    close_fd();
    return SocketError("lost the " + where);
  }
  SetStatus(Status::Ok());
  std::string in;
  size_t parsed = 0;
  Status ended = Status::Ok();
  while (ended.ok()) {
    const size_t old_size = in.size();
    in.resize(old_size + kReadChunkBytes);
    const ssize_t got = ::recv(fd, in.data() + old_size, kReadChunkBytes, 0);
    in.resize(old_size + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      ended = got == 0 ? Status(Code::kUnavailable, "the " + where + " closed the connection")
                       : SocketError("lost the " + where);
      break;
    }
    for (;;) {
      wire::Frame frame;
      Result<size_t> used = wire::DecodeFrame(std::string_view(in).substr(parsed), &frame);
      if (!used.ok()) {
        ended = used.status().Annotate("from the " + where);
        break;
      }
      if (*used == 0) break;
      parsed += *used;
      if (frame.type == wire::FrameType::kError) {
        ended = Status(frame.error, std::string(frame.payload));
        break;
      }
      if (frame.type != wire::FrameType::kRecord) continue;
      if (frame.kind != stream_.kind || frame.sequence <= delivered_through_.load()) {
        ended = Status(Code::kCorruption, "the " + where + " sent a record out of order");
        break;
      }
      deliver_(Record{frame.sequence, frame.kind, frame.payload});
      delivered_through_.store(frame.sequence);
    }
    if (parsed > 0 && parsed == in.size()) {
      in.clear();
      parsed = 0;
    } else if (parsed > (1 << 20)) {
      in.erase(0, parsed);
      parsed = 0;
    }
  }
  close_fd();
  return ended;
}

// ---- Bus ---------------------------------------------------------------------------------------

class EmbeddedBus final : public Bus {
 public:
  explicit EmbeddedBus(std::function<std::optional<std::string>(std::string_view)> address_of)
      : address_of_(std::move(address_of)) {}

  Result<std::unique_ptr<Publisher>> OpenPublisher(const PublisherOptions& options) override {
    auto publisher = std::make_unique<EmbeddedPublisher>(options);
    SURGE_RETURN_IF_ERROR(publisher->Listen());
    return std::unique_ptr<Publisher>(std::move(publisher));
  }

  Result<std::unique_ptr<Subscription>> Subscribe(const StreamId& stream, uint64_t after,
                                                  Deliver deliver) override {
    if (!address_of_(stream.center).has_value()) {
      return Status(Code::kInvalidArgument, "no bus address for center " + stream.center);
    }
    return std::unique_ptr<Subscription>(
        std::make_unique<EmbeddedSubscription>(stream, after, std::move(deliver), address_of_));
  }

 private:
  const std::function<std::optional<std::string>(std::string_view)> address_of_;
};

}  // namespace

std::unique_ptr<Bus> NewEmbeddedBus(
    std::function<std::optional<std::string>(std::string_view center)> address_of) {
  return std::make_unique<EmbeddedBus>(std::move(address_of));
}

}  // namespace surge::bus
