// Internals of the HTTP server (private to http): the exchange behind a Responder, the mailbox
// through which other threads hand responses to an event loop, and the read buffers that
// requests point into.
//
// Buffer design. Each connection reads into a ReadBuffer and parses requests in place; every
// Exchange holds a shared reference to the buffer its request's views point into. The connection
// compacts or reuses its buffer only while nobody else holds it (use_count() == 1); otherwise it
// moves the unparsed tail into a fresh buffer and leaves the old one to the pending exchanges,
// which free it (or return it to the loop's pool) when they are answered. So a Request's views
// stay valid until its Responder is sent or destroyed, even if the connection closes first, and
// no request is copied.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "http/http.h"

namespace surge::http::detail {

class Loop;
class Connection;
class Mailbox;

struct ReadBuffer {
  explicit ReadBuffer(size_t capacity_bytes)
      : data(new char[capacity_bytes]), capacity(capacity_bytes) {}
  std::unique_ptr<char[]> data;
  const size_t capacity;
};

// One request and, once sent, its response. Exchanges are pooled per loop and reused.
class Exchange {
 public:
  explicit Exchange(std::shared_ptr<Mailbox> owner) : mailbox(std::move(owner)) {}

  // Set once at creation: the loop that owns the exchange.
  const std::shared_ptr<Mailbox> mailbox;

  // Written by Send (any thread) before the exchange is posted; the mailbox's mutex (or the
  // loop's own thread) publishes it to the loop.
  Response response;
  // Set by SendRendered instead of `response`: makes it on the loop thread, once.
  std::function<Response()> render;

  // Loop thread only.
  Request request;
  std::shared_ptr<ReadBuffer> buffer;  // keeps the request's views alive
  Connection* connection = nullptr;    // null once the connection is gone
  bool done = false;                   // the response has arrived
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
};

// The inbox of one loop: completed exchanges posted from any thread, plus the eventfd that wakes
// the loop. The loop drains it every iteration; a post wakes the loop only when it finds the
// queue empty (a non-empty queue means a wake-up is already on its way).
class Mailbox {
 public:
  Mailbox(Loop* loop, int event_fd);
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. On the loop's own thread the exchange completes at once; after Close the
  // response is dropped.
  void Post(std::shared_ptr<Exchange> exchange);
  // Loop thread: moves every posted exchange into *out (which must be empty).
  void Drain(std::vector<std::shared_ptr<Exchange>>* out);
  // Loop thread, when it exits: later posts are dropped.
  void Close();
  // Wakes the loop (Stop uses it too).
  void Wake();
  int event_fd() const { return event_fd_; }

 private:
  Loop* const loop_;
  const int event_fd_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Exchange>> queue_;
  bool closed_ = false;
};

}  // namespace surge::http::detail
