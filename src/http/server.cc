// The HTTP server: one epoll loop per thread, each with its own SO_REUSEPORT listening socket.
//
// Each loop iteration: wait for events; read and parse what arrived (handlers run here, and
// responses sent from this thread complete at once); drain the responses other threads posted;
// then, for every connection with something new to say, serialize the finished responses at the
// head of its queue (request order) into its output buffer and write them with one send().
// Sockets are edge-triggered: a read that fills less than the space offered drained the socket,
// so there is no extra read just to see EAGAIN.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

#include "common/assert.h"
#include "common/log.h"
#include "http/http.h"
#include "http/request_parser.h"
#include "http/server_internal.h"
#include "http/wire.h"

namespace surge::http {
namespace detail {
namespace {

// A request keeps its buffer until it is answered (its views point into it), so the memory of
// requests in flight is this times their number: 4 KiB holds an API request (a few hundred
// bytes) or a burst of pipelined ones; larger requests grow their buffer.
constexpr size_t kReadBufferBytes = size_t{4} * 1024;
// A read is attempted only with at least this much room; otherwise the buffer is compacted,
// replaced or grown first.
constexpr size_t kReadSpaceMinBytes = 2048;
// Reading pauses while more than this much output waits for a client that does not read.
constexpr size_t kOutputHighWaterBytes = size_t{1024} * 1024;
constexpr size_t kOutputKeepCapacityBytes = size_t{256} * 1024;
constexpr int kReadsPerTurn = 4;
constexpr int kAcceptsPerTurn = 64;
constexpr size_t kBufferPoolMax = 256;
constexpr size_t kExchangePoolMax = 4096;
constexpr size_t kLingerDiscardMaxBytes = size_t{4} * 1024 * 1024;
constexpr std::chrono::milliseconds kLingerTimeout{2000};

thread_local Loop* t_current_loop = nullptr;

int64_t MonotonicMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

// A FIFO over a power-of-two ring; the pending requests of one connection.
template <typename T>
class Ring {
 public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  T& front() { return slots_[head_]; }
  void push_back(T value) {
    if (count_ == slots_.size()) Grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(value);
    ++count_;
  }
  T pop_front() {
    SURGE_ASSERT(count_ > 0);
    T value = std::move(slots_[head_]);
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
    return value;
  }

 private:
  void Grow() {
    std::vector<T> bigger(std::max<size_t>(8, slots_.size() * 2));
    for (size_t i = 0; i < count_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace

// Connections ordered by last activity, oldest first, all with the same timeout.
struct TimerList {
  Connection* head = nullptr;
  Connection* tail = nullptr;
};

class Connection {
 public:
  Connection(int socket_fd, const ParserLimits& limits) : fd(socket_fd), parser(limits) {}

  const int fd;
  RequestParser parser;
  // [in_begin, in_end) of `in` holds unparsed bytes; the current message starts at in_begin.
  std::shared_ptr<ReadBuffer> in;
  size_t in_begin = 0;
  size_t in_end = 0;
  // When the kernel received the last bytes read (CLOCK_REALTIME, ns; 0: unknown).
  int64_t received_ns = 0;
  Ring<std::shared_ptr<Exchange>> pending;  // request order
  std::string out;
  size_t out_sent = 0;

  bool readable = false;  // the socket may have bytes we have not read (edge-triggered)
  bool writable = true;
  bool input_done = false;  // no further request will be parsed
  bool peer_eof = false;
  bool lingering = false;  // answered and shut down; discarding input until the peer closes
  bool closed = false;
  bool in_dirty_list = false;
  bool in_ready_list = false;
  size_t linger_discarded = 0;

  // Membership of the loop's idle list (or, once lingering, its linger list).
  int64_t last_active_ms = 0;
  TimerList* timer_list = nullptr;
  Connection* timer_prev = nullptr;
  Connection* timer_next = nullptr;

  size_t backlog() const { return out.size() - out_sent; }
  // Bytes in the buffer that the parser has not been shown yet.
  bool has_unparsed() const {
    return in != nullptr && in_end - in_begin > parser.message_bytes_seen();
  }
};

class Loop {
 public:
  Loop(const ServerOptions& options, Handler& handler, std::atomic<size_t>& connections,
       std::atomic<bool>& stopping, int listen_fd);
  ~Loop();
  Status Init();
  void Run();
  // Any thread: interrupts epoll_wait (to notice Stop).
  void Wake() {
    if (mailbox_ != nullptr) mailbox_->Wake();
  }
  // Loop thread: the response of `exchange` has arrived.
  void Complete(std::shared_ptr<Exchange> exchange);

 private:
  void HandleEvent(const epoll_event& event);
  void AcceptConnections();
  void ProcessInput(Connection* c);
  void ParseBuffered(Connection* c);
  void Dispatch(Connection* c, const ParsedRequest& parsed);
  void QueueError(Connection* c, const Status& error);
  enum class ReadResult { kData, kNothing, kEof, kClosed };
  ReadResult ReadSome(Connection* c);
  bool PrepareReadSpace(Connection* c);
  void SerializeReady(Connection* c);
  void Flush(Connection* c);
  void WriteOut(Connection* c);
  void FinishIfDone(Connection* c);
  void DrainLinger(Connection* c);
  void Close(Connection* c);
  void OnTick();
  void Shutdown();

  bool CanParse(const Connection* c) const {
    return !c->input_done && !c->closed && c->pending.size() < pipeline_depth_max_ &&
           c->backlog() < kOutputHighWaterBytes;
  }
  void MarkDirty(Connection* c);
  void MarkReady(Connection* c);
  void Touch(Connection* c);
  void TimerLink(TimerList* list, Connection* c);
  void TimerUnlink(Connection* c);

  std::shared_ptr<Exchange> AcquireExchange();
  void ReleaseExchange(std::shared_ptr<Exchange> exchange);
  std::shared_ptr<ReadBuffer> AcquireBuffer(size_t capacity);
  void ReleaseBuffer(std::shared_ptr<ReadBuffer> buffer);

  const ServerOptions options_;
  Handler& handler_;
  std::atomic<size_t>& connections_;
  std::atomic<bool>& stopping_;
  const int listen_fd_;
  const ParserLimits limits_;
  const size_t pipeline_depth_max_;
  const size_t buffer_bytes_max_;
  const int64_t idle_timeout_ms_;
  const int64_t linger_timeout_ms_;
  const int tick_ms_;
  int epoll_fd_ = -1;
  std::shared_ptr<Mailbox> mailbox_;
  char listen_tag_ = 0;
  char wake_tag_ = 0;

  int64_t now_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  int64_t accept_paused_until_ms_ = 0;
  DateCache date_;
  std::string_view date_text_;
  std::vector<Connection*> dirty_;
  std::vector<Connection*> ready_;
  std::vector<Connection*> graveyard_;
  std::vector<std::shared_ptr<Exchange>> completed_;
  std::vector<std::shared_ptr<Exchange>> exchange_pool_;
  std::vector<std::shared_ptr<ReadBuffer>> buffer_pool_;
  TimerList idle_;
  TimerList linger_;
  std::vector<epoll_event> events_;
  std::unique_ptr<char[]> discard_;
};

// ---- Mailbox ----------------------------------------------------------------------------------

Mailbox::Mailbox(Loop* loop, int event_fd) : loop_(loop), event_fd_(event_fd) {}

Mailbox::~Mailbox() { ::close(event_fd_); }

void Mailbox::Post(std::shared_ptr<Exchange> exchange) {
  if (t_current_loop == loop_) {
    // Only this thread writes closed_. Closed means the loop is shutting down on this very thread:
    // drop the response.
    if (!closed_) loop_->Complete(std::move(exchange));
    return;
  }
  std::lock_guard lock(mutex_);
  if (closed_) return;
  queue_.push_back(std::move(exchange));
  // The eventfd is written under the lock so that Close (which takes it) guarantees that no
  // thread touches the mailbox's descriptor after the loop has gone.
  if (queue_.size() == 1) Wake();
}

void Mailbox::Drain(std::vector<std::shared_ptr<Exchange>>* out) {
  SURGE_ASSERT(out->empty());
  std::lock_guard lock(mutex_);
  out->swap(queue_);
}

void Mailbox::Close() {
  std::vector<std::shared_ptr<Exchange>> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(queue_);
  }
}

void Mailbox::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(event_fd_, &one, sizeof(one));
}

// ---- Loop: setup and the main loop -------------------------------------------------------------

Loop::Loop(const ServerOptions& options, Handler& handler, std::atomic<size_t>& connections,
           std::atomic<bool>& stopping, int listen_fd)
    : options_(options),
      handler_(handler),
      connections_(connections),
      stopping_(stopping),
      listen_fd_(listen_fd),
      limits_{options.header_bytes_max, options.body_bytes_max},
      pipeline_depth_max_(std::max<size_t>(1, options.pipeline_depth_max)),
      buffer_bytes_max_(RequestParser(limits_).message_bytes_max() + kReadBufferBytes),
      idle_timeout_ms_(std::max<int64_t>(1, options.idle_timeout.count())),
      linger_timeout_ms_(std::min<int64_t>(kLingerTimeout.count(), idle_timeout_ms_)),
      tick_ms_(static_cast<int>(std::clamp<int64_t>(idle_timeout_ms_ / 4, 5, 1000))),
      events_(256),
      discard_(new char[kReadBufferBytes]) {}

Loop::~Loop() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Loop::Init() {
  const auto failure = [](const char* what) {
    return Status(Code::kIoError, std::string(what) + ": " + strerror(errno));
  };
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return failure("epoll_create1");
  const int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0) return failure("eventfd");
  mailbox_ = std::make_shared<Mailbox>(this, event_fd);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.ptr = &wake_tag_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd, &wake) != 0) return failure("epoll_ctl");
  epoll_event listen{};
  listen.events = EPOLLIN;
  listen.data.ptr = &listen_tag_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen) != 0) return failure("epoll_ctl");
  return Status::Ok();
}

void Loop::Run() {
  t_current_loop = this;
  now_ms_ = MonotonicMs();
  next_tick_ms_ = now_ms_ + tick_ms_;
  std::vector<Connection*> ready;
  while (!stopping_.load(std::memory_order_relaxed)) {
    const int timeout_ms = ready_.empty() ? tick_ms_ : 0;
    const int count =
        epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    now_ms_ = MonotonicMs();
    date_text_ = date_.Get(std::time(nullptr));
    ready.swap(ready_);
    for (Connection* c : ready) {
      c->in_ready_list = false;
      if (!c->closed) ProcessInput(c);
    }
    ready.clear();
    for (int i = 0; i < count; ++i) HandleEvent(events_[static_cast<size_t>(i)]);
    mailbox_->Drain(&completed_);
    for (std::shared_ptr<Exchange>& exchange : completed_) Complete(std::move(exchange));
    completed_.clear();
    for (size_t i = 0; i < dirty_.size(); ++i) {  // Flush may append (it never removes)
      Connection* c = dirty_[i];
      c->in_dirty_list = false;
      if (!c->closed) Flush(c);
    }
    dirty_.clear();
    if (now_ms_ >= next_tick_ms_) OnTick();
    for (Connection* c : graveyard_) {
      if (c->in_ready_list) ready_.erase(std::find(ready_.begin(), ready_.end(), c));
      delete c;
    }
    graveyard_.clear();
  }
  Shutdown();
  t_current_loop = nullptr;
}

void Loop::HandleEvent(const epoll_event& event) {
  if (event.data.ptr == &listen_tag_) return AcceptConnections();
  if (event.data.ptr == &wake_tag_) {
    uint64_t value = 0;
    [[maybe_unused]] const ssize_t read_bytes = ::read(mailbox_->event_fd(), &value, sizeof(value));
    return;
  }
  auto* c = static_cast<Connection*>(event.data.ptr);
  if (c->closed) return;
  if ((event.events & (EPOLLERR | EPOLLHUP)) != 0) return Close(c);
  if ((event.events & EPOLLOUT) != 0) {
    c->writable = true;
    if (c->backlog() > 0) MarkDirty(c);
  }
  if ((event.events & (EPOLLIN | EPOLLRDHUP)) != 0) {
    c->readable = true;
    if (c->lingering) return DrainLinger(c);
    ProcessInput(c);
  }
}

void Loop::AcceptConnections() {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      // Out of descriptors or memory: the listening socket stays readable, so stop polling it
      // for a moment instead of spinning (OnTick resumes).
      SURGE_LOG_WARNING("http: accept: %s", strerror(errno));
      epoll_event event{};
      event.data.ptr = &listen_tag_;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
      accept_paused_until_ms_ = now_ms_ + 100;
      return;
    }
    if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_.connections_max) {
      connections_.fetch_sub(1, std::memory_order_relaxed);
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // Receive timestamps, for Request::waited_us.
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    auto* c = new Connection(fd, limits_);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      SURGE_LOG_WARNING("http: epoll_ctl: %s", strerror(errno));
      connections_.fetch_sub(1, std::memory_order_relaxed);
      ::close(fd);
      delete c;
      continue;
    }
    Touch(c);
  }
}

// ---- Loop: input -------------------------------------------------------------------------------

void Loop::ProcessInput(Connection* c) {
  for (int reads = 0;;) {
    ParseBuffered(c);
    if (c->closed) return;
    if (!c->readable || !CanParse(c)) break;
    if (reads == kReadsPerTurn) {
      MarkReady(c);  // fairness: come back next iteration
      break;
    }
    ++reads;
    const ReadResult result = ReadSome(c);
    if (result == ReadResult::kClosed) return;
    if (result == ReadResult::kNothing) break;
  }
  if (c->in != nullptr && c->in_begin == c->in_end) {
    // Nothing unparsed: give the buffer back so an idle connection holds no buffer.
    ReleaseBuffer(std::move(c->in));
    c->in_begin = c->in_end = 0;
  }
  FinishIfDone(c);
}

void Loop::ParseBuffered(Connection* c) {
  ParsedRequest parsed;
  while (CanParse(c) && c->has_unparsed()) {
    size_t consumed = 0;
    Status error;
    const auto state = c->parser.Parse(c->in->data.get() + c->in_begin, c->in_end - c->in_begin,
                                       &parsed, &consumed, &error);
    if (state == RequestParser::State::kNeedMore) {
      if (c->parser.TakeContinueRequest() && c->pending.empty()) {
        c->out.append("HTTP/1.1 100 Continue\r\n\r\n");
        MarkDirty(c);
      }
      if (c->peer_eof) c->input_done = true;  // a partial message that will never complete
      return;
    }
    if (state == RequestParser::State::kError) return QueueError(c, error);
    c->in_begin += consumed;
    Dispatch(c, parsed);
  }
  if (c->peer_eof && !c->has_unparsed()) c->input_done = true;
}

void Loop::Dispatch(Connection* c, const ParsedRequest& parsed) {
  std::shared_ptr<Exchange> exchange = AcquireExchange();
  exchange->request = parsed.request;
  if (c->received_ns != 0) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const int64_t waited_ns = now.tv_sec * 1'000'000'000LL + now.tv_nsec - c->received_ns;
    // A clock step could make it negative or absurd: then it is unknown.
    if (waited_ns >= 0 && waited_ns < 3'600'000'000'000LL) {
      exchange->request.waited_us = waited_ns / 1000;
    }
  }
  exchange->buffer = c->in;
  exchange->connection = c;
  exchange->keep_alive = parsed.keep_alive;
  exchange->http10 = parsed.http10;
  exchange->head = parsed.head;
  if (!parsed.keep_alive) c->input_done = true;
  c->pending.push_back(exchange);
  const Request& request = exchange->request;
  handler_.Handle(request, Responder(std::move(exchange)));
}

void Loop::QueueError(Connection* c, const Status& error) {
  std::shared_ptr<Exchange> exchange = AcquireExchange();
  exchange->response = ErrorResponse(error);
  exchange->connection = c;
  exchange->keep_alive = false;
  exchange->done = true;
  c->pending.push_back(std::move(exchange));
  c->input_done = true;
  SerializeReady(c);
  MarkDirty(c);
}

Loop::ReadResult Loop::ReadSome(Connection* c) {
  if (!PrepareReadSpace(c)) {
    // Cannot happen while the parser's limits hold; refuse the connection rather than grow.
    QueueError(c, Status(Code::kBadRequest, "request too large"));
    return ReadResult::kNothing;
  }
  const size_t space = c->in->capacity - c->in_end;
  iovec buffer{c->in->data.get() + c->in_end, space};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr message{};
  message.msg_iov = &buffer;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(c->fd, &message, 0);
  if (n > 0) {
    c->in_end += static_cast<size_t>(n);
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_TIMESTAMPNS) {
        timespec received{};
        std::memcpy(&received, CMSG_DATA(header), sizeof(received));
        c->received_ns = received.tv_sec * 1'000'000'000LL + received.tv_nsec;
      }
    }
    if (static_cast<size_t>(n) < space) c->readable = false;
    Touch(c);
    return ReadResult::kData;
  }
  if (n == 0) {
    c->readable = false;
    c->peer_eof = true;
    return ReadResult::kEof;
  }
  if (errno == EINTR) return ReadResult::kData;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    c->readable = false;
    return ReadResult::kNothing;
  }
  Close(c);
  return ReadResult::kClosed;
}

bool Loop::PrepareReadSpace(Connection* c) {
  if (c->in == nullptr) {
    c->in = AcquireBuffer(kReadBufferBytes);
    c->in_begin = c->in_end = 0;
  }
  const bool exclusive = c->in.use_count() == 1;
  const size_t live = c->in_end - c->in_begin;
  if (exclusive && live == 0) c->in_begin = c->in_end = 0;
  if (c->in->capacity - c->in_end >= kReadSpaceMinBytes) return true;
  size_t capacity = c->in->capacity;
  while (capacity < live + kReadSpaceMinBytes && capacity < buffer_bytes_max_) capacity *= 2;
  capacity = std::max(c->in->capacity, std::min(capacity, buffer_bytes_max_));
  if (capacity <= live) return false;  // one message fills the largest buffer
  if (exclusive && capacity == c->in->capacity) {
    std::memmove(c->in->data.get(), c->in->data.get() + c->in_begin, live);
  } else {
    // Pending requests point into the old buffer: leave it to them and move the tail.
    std::shared_ptr<ReadBuffer> fresh = AcquireBuffer(capacity);
    std::memcpy(fresh->data.get(), c->in->data.get() + c->in_begin, live);
    ReleaseBuffer(std::exchange(c->in, std::move(fresh)));
  }
  c->in_begin = 0;
  c->in_end = live;
  return true;
}

// ---- Loop: output ------------------------------------------------------------------------------

void Loop::Complete(std::shared_ptr<Exchange> exchange) {
  exchange->done = true;
  Connection* c = exchange->connection;
  if (exchange->render) {
    if (c != nullptr) {
      exchange->response = exchange->render();
      SURGE_ASSERT_MSG(exchange->response.status >= 100 && exchange->response.status <= 999,
                       "bad HTTP status");
    }
    exchange->render = nullptr;
  }
  exchange.reset();  // so that the connection's reference is the last one and it can be pooled
  if (c == nullptr) return;
  SerializeReady(c);
  MarkDirty(c);
}

// Serializes the answered exchanges at the head of the queue at once, so that the output backlog
// (which pauses parsing) counts them even before the end of the iteration writes them.
void Loop::SerializeReady(Connection* c) {
  while (!c->pending.empty() && c->pending.front()->done) {
    std::shared_ptr<Exchange> exchange = c->pending.pop_front();
    ConnectionHeader header = ConnectionHeader::kNone;
    if (!exchange->keep_alive) {
      header = ConnectionHeader::kClose;
    } else if (exchange->http10) {
      header = ConnectionHeader::kKeepAlive;
    }
    AppendResponse(&c->out, exchange->response, exchange->head, header, date_text_);
    ReleaseExchange(std::move(exchange));
  }
}

void Loop::Flush(Connection* c) {
  SerializeReady(c);
  WriteOut(c);
  if (c->closed) return;
  FinishIfDone(c);
  if (!c->closed && CanParse(c) && (c->readable || c->has_unparsed())) MarkReady(c);
}

void Loop::WriteOut(Connection* c) {
  while (c->backlog() > 0 && c->writable) {
    const ssize_t n = ::send(c->fd, c->out.data() + c->out_sent, c->backlog(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->writable = false;
        return;
      }
      return Close(c);
    }
    c->out_sent += static_cast<size_t>(n);
    Touch(c);
  }
  if (c->backlog() == 0) {
    c->out.clear();
    c->out_sent = 0;
    if (c->out.capacity() > kOutputKeepCapacityBytes) c->out.shrink_to_fit();
  }
}

// Closes a connection whose input is over once everything it owes has been written. After an
// error or "Connection: close" the client may still be sending: shut down our side and discard
// its input for a while (a close with unread input would reset the connection and could destroy
// the response in flight).
void Loop::FinishIfDone(Connection* c) {
  if (c->closed || c->lingering || !c->input_done || !c->pending.empty() || c->backlog() > 0) {
    return;
  }
  if (c->peer_eof) return Close(c);
  ::shutdown(c->fd, SHUT_WR);
  c->lingering = true;
  TimerUnlink(c);
  c->last_active_ms = now_ms_;
  TimerLink(&linger_, c);
  if (c->in != nullptr) ReleaseBuffer(std::move(c->in));
  DrainLinger(c);
}

void Loop::DrainLinger(Connection* c) {
  for (;;) {
    const ssize_t n = ::recv(c->fd, discard_.get(), kReadBufferBytes, 0);
    if (n > 0) {
      c->linger_discarded += static_cast<size_t>(n);
      if (c->linger_discarded > kLingerDiscardMaxBytes) return Close(c);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return Close(c);  // EOF or error
  }
}

// ---- Loop: lifetime of connections -------------------------------------------------------------

void Loop::Close(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  ::close(c->fd);
  TimerUnlink(c);
  while (!c->pending.empty()) {
    std::shared_ptr<Exchange> exchange = c->pending.pop_front();
    exchange->connection = nullptr;
    ReleaseExchange(std::move(exchange));
  }
  if (c->in != nullptr) ReleaseBuffer(std::move(c->in));
  connections_.fetch_sub(1, std::memory_order_relaxed);
  graveyard_.push_back(c);
}

void Loop::OnTick() {
  next_tick_ms_ = now_ms_ + tick_ms_;
  if (accept_paused_until_ms_ != 0 && now_ms_ >= accept_paused_until_ms_) {
    accept_paused_until_ms_ = 0;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &listen_tag_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
  }
  while (linger_.head != nullptr && linger_.head->last_active_ms + linger_timeout_ms_ <= now_ms_) {
    Close(linger_.head);
  }
  // Idle connections: no byte moved for idle_timeout. One waiting for its handler is not idle.
  while (idle_.head != nullptr && idle_.head->last_active_ms + idle_timeout_ms_ <= now_ms_) {
    Connection* c = idle_.head;
    const bool waiting_for_handler = !c->pending.empty() && !c->pending.front()->done;
    if (waiting_for_handler) {
      Touch(c);
    } else {
      Close(c);
    }
  }
}

void Loop::Shutdown() {
  while (idle_.head != nullptr) Close(idle_.head);
  while (linger_.head != nullptr) Close(linger_.head);
  for (Connection* c : graveyard_) delete c;
  graveyard_.clear();
  ready_.clear();
  dirty_.clear();
  mailbox_->Close();
  exchange_pool_.clear();
  buffer_pool_.clear();
}

void Loop::MarkDirty(Connection* c) {
  if (c->in_dirty_list) return;
  c->in_dirty_list = true;
  dirty_.push_back(c);
}

void Loop::MarkReady(Connection* c) {
  if (c->in_ready_list) return;
  c->in_ready_list = true;
  ready_.push_back(c);
}

void Loop::Touch(Connection* c) {
  if (c->lingering) return;  // its deadline does not move
  c->last_active_ms = now_ms_;
  if (idle_.tail == c) return;
  TimerUnlink(c);
  TimerLink(&idle_, c);
}

void Loop::TimerLink(TimerList* list, Connection* c) {
  SURGE_ASSERT(c->timer_list == nullptr);
  c->timer_list = list;
  c->timer_prev = list->tail;
  if (list->tail != nullptr) list->tail->timer_next = c;
  list->tail = c;
  if (list->head == nullptr) list->head = c;
}

void Loop::TimerUnlink(Connection* c) {
  TimerList* list = c->timer_list;
  if (list == nullptr) return;
  if (c->timer_prev != nullptr) c->timer_prev->timer_next = c->timer_next;
  if (c->timer_next != nullptr) c->timer_next->timer_prev = c->timer_prev;
  if (list->head == c) list->head = c->timer_next;
  if (list->tail == c) list->tail = c->timer_prev;
  c->timer_list = nullptr;
  c->timer_prev = c->timer_next = nullptr;
}

// ---- Loop: pools -------------------------------------------------------------------------------

std::shared_ptr<Exchange> Loop::AcquireExchange() {
  if (exchange_pool_.empty()) return std::make_shared<Exchange>(mailbox_);
  std::shared_ptr<Exchange> exchange = std::move(exchange_pool_.back());
  exchange_pool_.pop_back();
  return exchange;
}

void Loop::ReleaseExchange(std::shared_ptr<Exchange> exchange) {
  // Shared with a Responder not yet sent (its connection closed): the request's views must stay
  // valid, so the exchange keeps its buffer, and whoever drops the last reference frees both.
  if (exchange.use_count() != 1) return;
  if (exchange->buffer != nullptr) ReleaseBuffer(std::move(exchange->buffer));
  if (exchange_pool_.size() >= kExchangePoolMax) return;
  exchange->response = Response();
  exchange->render = nullptr;
  exchange->request = Request();
  exchange->connection = nullptr;
  exchange->done = false;
  exchange->keep_alive = true;
  exchange->http10 = false;
  exchange->head = false;
  exchange_pool_.push_back(std::move(exchange));
}

std::shared_ptr<ReadBuffer> Loop::AcquireBuffer(size_t capacity) {
  if (capacity == kReadBufferBytes && !buffer_pool_.empty()) {
    std::shared_ptr<ReadBuffer> buffer = std::move(buffer_pool_.back());
    buffer_pool_.pop_back();
    return buffer;
  }
  return std::make_shared<ReadBuffer>(capacity);
}

void Loop::ReleaseBuffer(std::shared_ptr<ReadBuffer> buffer) {
  if (buffer.use_count() == 1 && buffer->capacity == kReadBufferBytes &&
      buffer_pool_.size() < kBufferPoolMax) {
    buffer_pool_.push_back(std::move(buffer));
  }
}

// ---- Listening sockets -------------------------------------------------------------------------

// SO_REUSEPORT would let a second server on the same explicit port silently take half of the
// connections; a plain bind first fails if anything listens there already.
Status CheckPortFree(const addrinfo& address, const std::string& host, uint16_t port) {
  const int fd = socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) return Status(Code::kIoError, std::string("socket: ") + strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT leftovers are fine
  const bool free = bind(fd, address.ai_addr, address.ai_addrlen) == 0;
  const int error = errno;
  ::close(fd);
  if (free) return Status::Ok();
  return Status(Code::kIoError,
                "listening on " + host + ":" + std::to_string(port) + ": " + strerror(error));
}

Result<int> OpenListener(const std::string& host, uint16_t port, bool first) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string service = std::to_string(port);
  const int rc =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &addresses);
  if (rc != 0) {
    return Status(Code::kInvalidArgument, "resolving " + host + ": " + gai_strerror(rc));
  }
  std::string failure = "no address";
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    if (first && port != 0) {
      const Status free = CheckPortFree(*a, host, port);
      if (!free.ok()) {
        freeaddrinfo(addresses);
        return free;
      }
    }
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    // Receive timestamps from the start (Request::waited_us): accepted sockets inherit the
    // option, and the kernel stamps what arrives even before a connection is accepted.
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
      failure = strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    return Status(Code::kIoError,
                  "listening on " + host + ":" + std::to_string(port) + ": " + failure);
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

class ServerImpl final : public Server {
 public:
  ~ServerImpl() override { Stop(); }

  Status Open(const ServerOptions& options, Handler& handler) {
    int threads = options.threads;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    uint16_t port = options.port;
    for (int i = 0; i < threads; ++i) {
      Result<int> fd = OpenListener(options.host, port, /*first=*/i == 0);
      if (!fd.ok()) return fd.status();
      if (port == 0) port = BoundPort(*fd);
      loops_.push_back(std::make_unique<Loop>(options, handler, connections_, stopping_, *fd));
      SURGE_RETURN_IF_ERROR(loops_.back()->Init());
    }
    port_ = port;
    for (auto& loop : loops_) threads_.emplace_back([raw = loop.get()] { raw->Run(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::lock_guard lock(stop_mutex_);
    stopping_.store(true);
    for (auto& loop : loops_) loop->Wake();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    loops_.clear();
  }

 private:
  std::mutex stop_mutex_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace detail

// ---- Public API --------------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler& handler) {
  if (options.header_bytes_max == 0 || options.connections_max == 0) {
    return Status(Code::kInvalidArgument, "header_bytes_max and connections_max must be positive");
  }
  auto server = std::make_unique<detail::ServerImpl>();
  SURGE_RETURN_IF_ERROR(server->Open(options, handler));
  return std::unique_ptr<Server>(std::move(server));
}

Responder::Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}

Responder::Responder(Responder&& other) noexcept = default;

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (exchange_ != nullptr) Send(ErrorResponse(Status(Code::kInternal, "request was dropped")));
    exchange_ = std::move(other.exchange_);
  }
  return *this;
}

Responder::~Responder() {
  if (exchange_ != nullptr) {
    Send(ErrorResponse(Status(Code::kInternal, "the server dropped the request unanswered")));
  }
}

void Responder::Send(Response response) {
  SURGE_ASSERT_MSG(exchange_ != nullptr, "Responder::Send on an empty or already-sent responder");
  SURGE_ASSERT_MSG(response.status >= 100 && response.status <= 999, "bad HTTP status");
  std::shared_ptr<detail::Exchange> exchange = std::move(exchange_);
  exchange->response = std::move(response);
  detail::Mailbox* mailbox = exchange->mailbox.get();
  mailbox->Post(std::move(exchange));
}

void Responder::SendRendered(std::function<Response()> render) {
  SURGE_ASSERT_MSG(exchange_ != nullptr, "Responder::Send on an empty or already-sent responder");
  SURGE_ASSERT(render != nullptr);
  std::shared_ptr<detail::Exchange> exchange = std::move(exchange_);
  exchange->render = std::move(render);
  detail::Mailbox* mailbox = exchange->mailbox.get();
  mailbox->Post(std::move(exchange));
}

}  // namespace surge::http
