#include "http/request_parser.h"

#include <algorithm>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <limits>
#include <string>

#include "common/assert.h"

namespace surge::http::detail {
namespace {

namespace beast_http = boost::beast::http;
using boost::beast::error_code;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The message of a Beast error code, for errors our own callbacks did not explain already.
Status StatusFromBeast(const error_code& ec, const ParserLimits& limits) {
  using beast_http::error;
  if (ec == error::header_limit) {
    return Status(Code::kHeadersTooLarge, "the request header is larger than " +
                                              std::to_string(limits.header_bytes_max) + " bytes");
  }
  if (ec == error::body_limit) {
    return Status(Code::kBodyTooLarge, "the request body is larger than " +
                                           std::to_string(limits.body_bytes_max) + " bytes");
  }
  const char* what = "malformed request";
  if (ec == error::bad_method) what = "malformed request line: bad method";
  if (ec == error::bad_target) what = "malformed request line: bad request target";
  if (ec == error::bad_version) what = "malformed request line: bad or unsupported HTTP version";
  if (ec == error::bad_line_ending) what = "malformed request: lines must end with CRLF";
  if (ec == error::bad_field) what = "malformed header field name";
  if (ec == error::bad_value) what = "malformed header field value";
  if (ec == error::bad_content_length) what = "invalid or conflicting Content-Length";
  if (ec == error::bad_transfer_encoding) what = "invalid or conflicting Transfer-Encoding";
  if (ec == error::bad_chunk) what = "malformed chunked body: bad chunk size line";
  if (ec == error::bad_chunk_extension) what = "malformed chunked body: bad chunk extension";
  if (ec == error::bad_obs_fold) what = "malformed header: obsolete line folding";
  return Status(Code::kBadRequest, what);
}

}  // namespace

// One message's worth of Beast parser. Beast's parser handles exactly one message; the
// RequestParser move-assigns a fresh one for each message (no allocation).
class MessageParser final : public beast_http::basic_parser<true> {
 public:
  MessageParser() = default;
  MessageParser(MessageParser&&) = default;
  MessageParser& operator=(MessageParser&&) = default;

  // Where the bytes presented by the current Parse call start, and how many there are: views
  // handed to the callbacks lie inside and are stored as offsets from `base`.
  void SetInput(char* base, size_t size) {
    base_ = base;
    size_ = size;
  }

  // Why our own checks failed (Beast only knows that they did).
  const Status& failure() const { return failure_; }
  bool expect_continue() const { return expect_continue_; }

  void Fill(ParsedRequest* parsed) const {
    Request& request = parsed->request;
    request.method = std::string_view(base_ + method_.offset, method_.length);
    request.target = std::string_view(base_ + target_.offset, target_.length);
    const size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    request.query = question == std::string_view::npos ? std::string_view()
                                                       : request.target.substr(question + 1);
    request.content_type = std::string_view(base_ + content_type_.offset, content_type_.length);
    request.body = std::string_view(base_ + body_offset_, body_length_);
    parsed->keep_alive = keep_alive();
    parsed->http10 = http10_;
    parsed->head = head_;
  }

 private:
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };

  bool Inside(std::string_view view) const {
    return view.data() >= base_ && view.data() + view.size() <= base_ + size_;
  }
  Span ToSpan(std::string_view view) const {
    SURGE_ASSERT(Inside(view));
    return Span{static_cast<size_t>(view.data() - base_), view.size()};
  }
  void Fail(error_code& ec, std::string message) {
    failure_ = Status(Code::kBadRequest, std::move(message));
    ec = beast_http::error::bad_value;
  }

  void on_request_impl(beast_http::verb method, boost::beast::string_view method_text,
                       boost::beast::string_view target, int version, error_code&) override {
    method_ = ToSpan(std::string_view(method_text.data(), method_text.size()));
    target_ = ToSpan(std::string_view(target.data(), target.size()));
    head_ = method == beast_http::verb::head;
    http10_ = version == 10;
  }

  void on_response_impl(int, boost::beast::string_view, int, error_code& ec) override {
    ec = beast_http::error::bad_version;  // never called for a request parser
  }

  void on_field_impl(beast_http::field name, boost::beast::string_view name_text,
                     boost::beast::string_view value_text, error_code& ec) override;

  void on_header_impl(error_code& ec) override {
    // A request with neither Content-Length nor chunked encoding has an empty body (RFC 9112
    // section 6.3): `curl -X POST .../pay` sends exactly that, and it is well-formed.
    header_done_ = true;
    (void)ec;
  }

  void on_body_init_impl(const boost::optional<uint64_t>&, error_code&) override {}

  size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    const Span piece = ToSpan(std::string_view(body.data(), body.size()));
    if (body_length_ == 0) {
      body_offset_ = piece.offset;
    } else {
      // A Content-Length body arrives in order in one buffer: the pieces are adjacent.
      SURGE_ASSERT(body_offset_ + body_length_ == piece.offset);
    }
    body_length_ += piece.length;
    return piece.length;
  }

  void on_chunk_header_impl(uint64_t, boost::beast::string_view, error_code&) override {}

  size_t on_chunk_body_impl(uint64_t, boost::beast::string_view body, error_code&) override {
    const Span piece = ToSpan(std::string_view(body.data(), body.size()));
    if (body_length_ == 0) {
      body_offset_ = piece.offset;
    } else {
      // Join the chunks in place: the body so far ends before this piece (before its chunk's
      // size line, or right at it for the next piece of the same chunk), so the destination
      // lies in bytes that the parser has consumed already.
      const size_t end = body_offset_ + body_length_;
      SURGE_ASSERT(end <= piece.offset);
      if (end != piece.offset) std::memmove(base_ + end, base_ + piece.offset, piece.length);
    }
    body_length_ += piece.length;
    return piece.length;
  }

  void on_finish_impl(error_code&) override {}

  char* base_ = nullptr;
  size_t size_ = 0;
  Span method_;
  Span target_;
  Span content_type_;
  size_t body_offset_ = 0;
  size_t body_length_ = 0;
  int content_length_count_ = 0;
  bool chunked_ = false;
  bool head_ = false;
  bool http10_ = false;
  bool header_done_ = false;
  bool expect_continue_ = false;
  Status failure_;
};

void MessageParser::on_field_impl(beast_http::field name, boost::beast::string_view name_text,
                                  boost::beast::string_view value_text, error_code& ec) {
  const std::string_view value(value_text.data(), value_text.size());
  if (header_done_) return;  // trailer fields of a chunked body carry nothing we use
  if (!Inside(value)) {
    // Beast joins obs-folded values in a buffer of its own; RFC 9112 lets us reject them.
    return Fail(ec, "obsolete line folding in header field " + std::string(name_text));
  }
  switch (name) {
    case beast_http::field::content_length:
      // Beast accepts repeated equal values ("5, 5" or two fields); a proxy in front of us may
      // pick a different one, so anything but one plain number is refused.
      if (++content_length_count_ > 1) return Fail(ec, "duplicate Content-Length");
      if (!AllDigits(value)) return Fail(ec, "invalid Content-Length");
      break;
    case beast_http::field::transfer_encoding:
      if (http10_) return Fail(ec, "Transfer-Encoding is not allowed in HTTP/1.0");
      if (!EqualsIgnoreCase(value, "chunked")) {
        return Fail(ec, "unsupported Transfer-Encoding (only chunked is accepted)");
      }
      chunked_ = true;
      break;
    case beast_http::field::content_type:
      if (content_type_.length == 0) content_type_ = ToSpan(value);
      break;
    case beast_http::field::expect:
      if (EqualsIgnoreCase(value, "100-continue")) {
        expect_continue_ = true;
      } else {
        return Fail(ec, "unsupported Expect header");
      }
      break;
    default:
      break;
  }
}

RequestParser::RequestParser(const ParserLimits& limits)
    : limits_(limits),
      // Chunk framing costs at least 5 bytes per chunk; allow as much again as the body for it.
      message_bytes_max_(limits.header_bytes_max + 2 * limits.body_bytes_max + 1024),
      parser_(std::make_unique<MessageParser>()) {
  SURGE_ASSERT(limits_.header_bytes_max > 0);
  Restart();
}

RequestParser::~RequestParser() = default;

void RequestParser::Restart() {
  *parser_ = MessageParser();
  constexpr size_t kHeaderLimitMax = std::numeric_limits<uint32_t>::max();
  parser_->header_limit(static_cast<uint32_t>(std::min(limits_.header_bytes_max, kHeaderLimitMax)));
  parser_->body_limit(static_cast<uint64_t>(limits_.body_bytes_max));
  parser_->eager(true);
  seen_ = 0;
  continue_taken_ = false;
}

RequestParser::State RequestParser::Parse(char* message, size_t size, ParsedRequest* parsed,
                                          size_t* consumed, Status* error) {
  if (failed_) {
    *error = failure_;
    return State::kError;
  }
  SURGE_ASSERT(size >= seen_);
  parser_->SetInput(message, size);
  error_code ec;
  if (size > seen_) {
    seen_ += parser_->put(boost::asio::const_buffer(message + seen_, size - seen_), ec);
  } else {
    ec = boost::beast::http::error::need_more;
  }
  if (ec && ec != boost::beast::http::error::need_more) {
    failed_ = true;
    failure_ = parser_->failure().ok() ? StatusFromBeast(ec, limits_) : parser_->failure();
    *error = failure_;
    return State::kError;
  }
  if (parser_->is_done()) {
    parser_->Fill(parsed);
    *consumed = seen_;
    Restart();
    return State::kDone;
  }
  if (seen_ > message_bytes_max_) {
    failed_ = true;
    failure_ = Status(Code::kBodyTooLarge, "the chunked request body's framing is too large");
    *error = failure_;
    return State::kError;
  }
  return State::kNeedMore;
}

bool RequestParser::TakeContinueRequest() {
  if (failed_ || !parser_->is_header_done() || parser_->is_done()) return false;
  if (!parser_->expect_continue() || continue_taken_) return false;
  continue_taken_ = true;
  return true;
}

}  // namespace surge::http::detail
