// The blocking client: one keep-alive connection, non-blocking socket driven by poll() so that
// every step honours the call's deadline. Responses are parsed with Beast's basic_parser<false>.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/net.h"
#include "http/http.h"

namespace surge::http {
namespace {

namespace beast_http = boost::beast::http;
using boost::beast::error_code;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kResponseBodyBytesMax = 256 * 1024 * 1024;

class ResponseParser final : public beast_http::basic_parser<false> {
 public:
  explicit ResponseParser(ClientResponse* response) : response_(response) {}

 private:
  void on_request_impl(beast_http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code& ec) override {
    ec = beast_http::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, boost::beast::string_view, int, error_code&) override {
    response_->status = code;
  }
  void on_field_impl(beast_http::field name, boost::beast::string_view,
                     boost::beast::string_view value, error_code&) override {
    if (name == beast_http::field::content_type) {
      response_->content_type.assign(value.data(), value.size());
      return;
    }
    if (name != beast_http::field::retry_after) return;
    int seconds = -1;
    const auto result = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (result.ec == std::errc() && result.ptr == value.data() + value.size()) {
      response_->retry_after_s = seconds;
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<uint64_t>& length, error_code&) override {
    if (length.has_value() && *length <= kResponseBodyBytesMax) {
      response_->body.reserve(static_cast<size_t>(*length));
    }
  }
  size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    response_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(uint64_t, boost::beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(uint64_t, boost::beast::string_view body, error_code&) override {
    response_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  ClientResponse* response_;
};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Waits until `fd` is ready for `events`; false on timeout or poll error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int rc = poll(&entry, 1, RemainingMs(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

Status IoError(const std::string& what) { return Status(Code::kIoError, what); }

Status SendAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, deadline)) return IoError("timed out sending the request");
      continue;
    }
    return IoError(std::string("sending the request: ") + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Client::Client(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

Client::~Client() { Close(); }

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status Client::EnsureConnected() {
  if (fd_ >= 0) return Status::Ok();
  Result<int> fd = ConnectTcp(host_, port_, timeout_);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  buffer_.clear();
  return Status::Ok();
}

Result<ClientResponse> Client::Do(std::string_view method, std::string_view target,
                                  std::string_view body) {
  const Clock::time_point deadline = Clock::now() + timeout_;
  std::string request;
  request.reserve(128 + target.size() + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  request.append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request.append("Content-Type: application/json\r\nContent-Length: ");
    request.append(std::to_string(body.size())).append("\r\n");
  }
  request.append("\r\n").append(body);

  // A kept-alive connection may have been closed by the server while idle; such a request never
  // reached it, so it is sent once more on a fresh connection (only if no response byte came).
  for (int attempt = 0;; ++attempt) {
    const bool reused = fd_ >= 0;
    SURGE_RETURN_IF_ERROR(EnsureConnected());
    bool received_any = false;
    Result<ClientResponse> response = RoundTrip(request, method == "HEAD", deadline, &received_any);
    if (response.ok()) return response;
    Close();
    if (!reused || received_any || attempt > 0) return response.status();
  }
}

Result<ClientResponse> Client::RoundTrip(std::string_view request, bool head,
                                         std::chrono::steady_clock::time_point deadline,
                                         bool* received_any) {
  SURGE_RETURN_IF_ERROR(SendAll(fd_, request, deadline));
  ClientResponse response;
  ResponseParser parser(&response);
  parser.skip(head);
  parser.eager(true);
  parser.body_limit(kResponseBodyBytesMax);
  parser.header_limit(64 * 1024);
  char chunk[16 * 1024];
  for (;;) {
    if (!buffer_.empty()) {
      error_code ec;
      const size_t used = parser.put(boost::asio::const_buffer(buffer_.data(), buffer_.size()), ec);
      buffer_.erase(0, used);
      if (ec && ec != beast_http::error::need_more) {
        return IoError("malformed response: " + ec.message());
      }
      if (parser.is_done()) break;
    }
    if (!WaitFor(fd_, POLLIN, deadline)) return IoError("timed out waiting for the response");
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      *received_any = true;
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n == 0 && parser.got_some() && parser.is_header_done() && parser.need_eof()) {
      error_code ec;
      parser.put_eof(ec);
      if (!ec && parser.is_done()) break;
    }
    return IoError(n == 0 ? "the server closed the connection"
                          : std::string("receiving the response: ") + strerror(errno));
  }
  if (!parser.keep_alive()) Close();
  return response;
}

}  // namespace surge::http
