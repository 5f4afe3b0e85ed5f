// RequestParser: the per-connection HTTP/1.1 request parser of the server (private to http).
//
// It wraps Boost.Beast's basic_parser<true> and adds what the server needs on top of it: the
// request's views point into the caller's buffer (no copy), the caller's buffer may move between
// calls, chunked bodies are joined in place, and every kind of malformed or unsupported request
// is turned into a Status with a message a person can act on.
//
// How a connection uses it: keep the bytes of the current message (from its first byte) in one
// contiguous buffer and call Parse with a pointer to that first byte and every byte received so
// far. Bytes of a message that Parse has already seen must be presented again, unchanged except
// for what Parse itself rewrote, but they may have moved (the buffer was grown or compacted):
// Parse keeps offsets, not pointers, across calls. After kDone the message occupies the first
// `consumed` bytes and the next message starts right after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "http/http.h"

namespace surge::http::detail {

struct ParserLimits {
  size_t header_bytes_max = size_t{16} * 1024;
  size_t body_bytes_max = size_t{1024} * 1024;
};

// One complete request. The views of `request` point into the buffer given to the Parse call
// that returned kDone, within the first `consumed` bytes.
struct ParsedRequest {
  Request request;
  // False when the connection must close after this request's response: HTTP/1.1 with
  // "Connection: close", or HTTP/1.0 without "Connection: keep-alive".
  bool keep_alive = true;
  bool http10 = false;
  // HEAD: the response carries headers only.
  bool head = false;
};

class MessageParser;

class RequestParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  explicit RequestParser(const ParserLimits& limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses the message that starts at `message`; `size` counts every byte available from there
  // (it may include the following pipelined messages). The bytes are mutable because a chunked
  // body is joined in place (only bytes of this message before its end are rewritten).
  //   kDone: *parsed is filled, *consumed is the size of the message; the parser is ready for the
  //          next message.
  //   kNeedMore: all is valid so far; call again with the same message and more bytes.
  //   kError: *error is bad_request, headers_too_large or body_too_large; the parser is finished
  //           and every later call returns the same error.
  State Parse(char* message, size_t size, ParsedRequest* parsed, size_t* consumed, Status* error);

  // True once, after a kNeedMore, when the current message's header asked for
  // "Expect: 100-continue" and its body has not arrived yet.
  bool TakeContinueRequest();

  // Bytes of the current message that Parse has consumed so far.
  size_t message_bytes_seen() const { return seen_; }

  // The largest number of bytes one message may occupy in the buffer (header, body and chunk
  // framing): a connection never needs to buffer more than this plus one read for a message.
  size_t message_bytes_max() const { return message_bytes_max_; }

 private:
  void Restart();

  ParserLimits limits_;
  size_t message_bytes_max_;
  std::unique_ptr<MessageParser> parser_;
  size_t seen_ = 0;
  bool continue_taken_ = false;
  bool failed_ = false;
  Status failure_;
};

}  // namespace surge::http::detail
