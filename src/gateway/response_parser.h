// A strict, incremental parser of the HTTP/1.1 responses centers send (private to gateway).
//
// It accepts what a center's http::Server writes and refuses anything it cannot relay safely:
// the status line "HTTP/1.x NNN reason", header lines "name: value" ending in CRLF, and a body
// delimited by Content-Length (none for 204 and 304). Refused, as a malformed response: a bare LF,
// obsolete line folding, a header name that is not a token, control characters in a value, a
// repeated or non-numeric Content-Length, any Transfer-Encoding (centers never chunk), a 1xx
// status, a missing Content-Length where a body is due, and a head or body over its bound.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace surge::gateway {

struct ParsedResponse {
  int status = 0;
  std::string_view content_type;  // empty if absent
  int retry_after_s = -1;         // Retry-After in delta-seconds; -1 if absent or a date
  bool close = false;             // the center closes the connection after this response
  std::string_view body;
  size_t size_bytes = 0;  // the whole response, head and body
};

class ResponseParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  ResponseParser(size_t head_bytes_max, size_t body_bytes_max)
      : head_bytes_max_(head_bytes_max), body_bytes_max_(body_bytes_max) {}

  // Parses the response that starts at data[0]. Call again with the same bytes plus more after
  // kNeedMore (bytes already scanned are not scanned again). kDone fills *response, whose views
  // point into `data`; then Reset before the next response. kError sets *error (a sentence) and
  // the connection cannot be used any more.
  State Parse(std::string_view data, ParsedResponse* response, std::string* error);
  void Reset();

 private:
  bool ParseHead(std::string_view head, std::string* error);
  bool ParseHeader(std::string_view line, size_t line_offset, std::string* error);

  const size_t head_bytes_max_;
  const size_t body_bytes_max_;
  size_t scanned_bytes_ = 0;  // bytes searched for the end of the head without finding it
  size_t head_bytes_ = 0;     // 0 until the head is parsed
  size_t body_bytes_ = 0;
  bool seen_content_length_ = false;
  bool keep_alive_ = false;  // "Connection: keep-alive"
  // Content-Type's value as a position in the response, not a view: the caller's buffer may move
  // between calls.
  size_t content_type_offset_ = 0;
  size_t content_type_bytes_ = 0;
  ParsedResponse head_;  // the head's other fields, once parsed
};

}  // namespace surge::gateway
