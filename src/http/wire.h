// Wire format of responses (private to http): the status line and headers the server writes, the
// Date header cache, and the JSON string escaping used by ErrorResponse.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "http/http.h"

namespace surge::http::detail {

// "OK", "Not Found", ...; "Unknown" for a status without a registered phrase.
std::string_view ReasonPhrase(int status);

// How the connection continues after a response.
enum class ConnectionHeader {
  kNone,       // HTTP/1.1 keep-alive: nothing to say
  kKeepAlive,  // HTTP/1.0 keep-alive: "Connection: keep-alive"
  kClose,      // the server closes after this response: "Connection: close"
};

// Appends a complete response: status line, Content-Type, Content-Length, Date, Retry-After
// (when set), Connection (as asked), then the body unless `head` (a HEAD request) or the status
// forbids one (1xx, 204, 304). `date` is the value of the Date header.
void AppendResponse(std::string* out, const Response& response, bool head,
                    ConnectionHeader connection, std::string_view date);

// Appends `text` as a JSON string with quotes (RFC 8259 escaping; bytes that are not valid UTF-8
// become U+FFFD, so the result is always valid JSON).
void AppendJsonString(std::string* out, std::string_view text);

// The IMF-fixdate of the current second ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted once per
// second. Not thread-safe: one per event loop.
class DateCache {
 public:
  std::string_view Get(std::time_t now_s);

 private:
  std::time_t second_ = -1;
  char text_[32] = {};
  size_t length_ = 0;
};

}  // namespace surge::http::detail
