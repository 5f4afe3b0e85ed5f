// http: an HTTP/1.1 server built for throughput, and a small blocking client.
//
// Server: one epoll event loop per thread (default: one per core), each with its own SO_REUSEPORT
// listening socket, no thread per connection. Keep-alive and pipelining: several requests may be
// parsed from one read, handled concurrently, and their responses are written back in request
// order, batched into as few writes as possible. Requests are parsed without copying (Boost.Beast's
// basic_parser over the connection's read buffer); a Request's views stay valid until its
// Responder is used or destroyed.
//
// Malformed requests of every kind get a JSON error (API.md format) and the connection is closed:
// bad_request (400) for broken syntax, headers_too_large (431), body_too_large (400) past
// body_bytes_max. The handler never sees them. Stricter than RFC 9112 where ambiguity could be
// abused (request smuggling): a repeated or non-numeric Content-Length, any Transfer-Encoding but
// "chunked", obsolete header line folding, and a POST, PUT or PATCH with neither Content-Length
// nor chunked encoding (send "Content-Length: 0" for an empty body) are all bad_request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::http {

struct Request {
  std::string_view method;  // "GET", "PUT", "POST", ...
  std::string_view target;  // "/v1/orders/o.1?verbose=1"
  std::string_view path;    // "/v1/orders/o.1"
  std::string_view query;   // "verbose=1" (without '?'), empty if none
  std::string_view body;
  std::string_view content_type;  // empty if absent
  // How long the request waited on this host before the server's event loop took it, in
  // microseconds: from when the kernel received its last byte read (a receive timestamp) to when
  // the loop handed it to the handler. A loop that is short of CPU shows here first, long before
  // any queue of the handler's fills: a handler can shed what waited too long, cheaply. -1 when
  // the kernel gave no timestamp.
  int64_t waited_us = -1;
};

struct Response {
  int status = 200;
  std::string body;
  // Must point to storage that outlives the response (a literal).
  std::string_view content_type = "application/json";
  // Adds "Retry-After: <seconds>" when >= 0.
  int retry_after_s = -1;
};

// Builds the API.md error body {"error":{"code":..,"message":..}} with the status of its code.
Response ErrorResponse(const Status& status);

namespace detail {
class Exchange;
}  // namespace detail

// The promise of one response. Move-only; Send must be called exactly once, from any thread (the
// handler's, or another one later). Destroying an unsent Responder answers 500 internal, so a lost
// request can never hang a pipelined connection.
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<detail::Exchange> exchange);
  Responder(Responder&&) noexcept;
  Responder& operator=(Responder&&) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void Send(Response response);
  // Like Send, but `render` makes the response later, on the event-loop thread that owns the
  // connection, instead of on the caller's thread: for callers whose own thread is the one that
  // limits throughput (the center's single writer), serializing moves to the loops, one per core.
  // `render` runs at most once (not at all if the connection is gone), must not block, and must
  // not refer to anything the caller may change or free after this call.
  void SendRendered(std::function<Response()> render);
  bool valid() const { return exchange_ != nullptr; }

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on an event-loop thread; must not block (nor call Server::Stop). Answer through
  // `responder`, now or later. `request` and its views stay valid until the responder is sent or
  // destroyed, even if the connection closes meanwhile.
  virtual void Handle(const Request& request, Responder responder) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks (see Server::port)
  int threads = 0;    // 0: one per core
  size_t header_bytes_max = size_t{16} * 1024;
  size_t body_bytes_max = size_t{1024} * 1024;
  size_t connections_max = 200'000;
  // Requests read but not yet answered on one connection; reading pauses beyond it.
  size_t pipeline_depth_max = 256;
  std::chrono::milliseconds idle_timeout{60'000};
};

class Server {
 public:
  // Binds, listens and starts the loops. The handler must outlive the server.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler& handler);
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, closes every connection, joins the loops. Responders still held elsewhere
  // may be sent afterwards; their responses are dropped.
  virtual void Stop() = 0;
};

// ---- Client --------------------------------------------------------------------------------

struct ClientResponse {
  int status = 0;
  std::string body;
  int retry_after_s = -1;
  std::string content_type;
};

// A blocking HTTP/1.1 client on one keep-alive connection, for tests, tools and checkers (the
// load generator has its own non-blocking engine). Not thread-safe. After an I/O error the
// connection is closed and the next call reconnects. `timeout` bounds each whole call (connect,
// send, receive). A request that fails on a reused keep-alive connection before any byte of its
// response arrived (the server closed the idle connection) is sent once more on a new one.
// Requests with a body (and every POST, PUT, PATCH) carry Content-Length and
// "Content-Type: application/json".
class Client {
 public:
  Client(std::string host, uint16_t port, std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response. io_error on connection failure or timeout.
  Result<ClientResponse> Do(std::string_view method, std::string_view target,
                            std::string_view body = {});
  void Close();

 private:
  Status EnsureConnected();
  Result<ClientResponse> RoundTrip(std::string_view request, bool head,
                                   std::chrono::steady_clock::time_point deadline,
                                   bool* received_any);
  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace surge::http
