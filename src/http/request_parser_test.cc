#include "http/request_parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace surge::http::detail {
namespace {

struct Seen {
  std::string method, target, path, query, body, content_type;
  bool keep_alive = false, http10 = false, head = false;
  bool operator==(const Seen&) const = default;
};

Seen Copy(const ParsedRequest& parsed) {
  const Request& r = parsed.request;
  return Seen{std::string(r.method), std::string(r.target), std::string(r.path),
              std::string(r.query),  std::string(r.body),   std::string(r.content_type),
              parsed.keep_alive,     parsed.http10,         parsed.head};
}

// Feeds `input` in pieces cut at `cuts` (increasing offsets), moving the unparsed bytes to a new
// allocation before every piece, as a connection replacing its buffer would. Returns the
// requests parsed, and the error (if any) in *error.
std::vector<Seen> Feed(const std::string& input, const std::vector<size_t>& cuts,
                       Status* error = nullptr, ParserLimits limits = {}) {
  RequestParser parser(limits);
  std::vector<Seen> seen;
  std::string buffer;  // the current message and what follows
  size_t previous = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    std::string moved = buffer + input.substr(previous, end - previous);  // a new allocation
    buffer.swap(moved);
    moved.assign(moved.size(), '#');  // the old bytes are gone
    previous = end;
    size_t begin = 0;
    for (;;) {
      ParsedRequest parsed;
      size_t consumed = 0;
      Status status;
      const auto state =
          parser.Parse(buffer.data() + begin, buffer.size() - begin, &parsed, &consumed, &status);
      if (state == RequestParser::State::kNeedMore) break;
      if (state == RequestParser::State::kError) {
        if (error != nullptr) *error = status;
        return seen;
      }
      seen.push_back(Copy(parsed));
      begin += consumed;
    }
    buffer.erase(0, begin);
  }
  return seen;
}

const std::string kPipelined =
    "POST /v1/orders?trace=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 13\r\n\r\n{\"user\":\"u1\"}"
    "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"
    "PUT /v1/users/u1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\n{\"r\r\n8\r\negion\":\"\r\n3;x=y\r\nn\"}\r\n0\r\n\r\n"
    "HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";

const std::vector<Seen> kExpected = {
    {"POST", "/v1/orders?trace=1", "/v1/orders", "trace=1", "{\"user\":\"u1\"}", "application/json",
     true, false, false},
    {"GET", "/healthz", "/healthz", "", "", "", false, false, false},
    {"PUT", "/v1/users/u1", "/v1/users/u1", "", "{\"region\":\"n\"}", "", true, false, false},
    {"HEAD", "/h", "/h", "", "", "", true, true, true},
};

TEST(RequestParser, ParsesPipelinedRequestsInOnePiece) {
  EXPECT_EQ(Feed(kPipelined, {}), kExpected);
}

TEST(RequestParser, ParsesTheSameAtEverySplitPoint) {
  for (size_t cut = 1; cut < kPipelined.size(); ++cut) {
    ASSERT_EQ(Feed(kPipelined, {cut}), kExpected) << "cut at " << cut;
  }
}

TEST(RequestParser, ParsesTheSameByteByByte) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kPipelined.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(Feed(kPipelined, cuts), kExpected);
}

TEST(RequestParser, ErrorsAreStickyAndExplained) {
  RequestParser parser(ParserLimits{});
  std::string input = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
  ParsedRequest parsed;
  size_t consumed = 0;
  Status error;
  EXPECT_EQ(parser.Parse(input.data(), input.size(), &parsed, &consumed, &error),
            RequestParser::State::kError);
  EXPECT_EQ(error.code(), Code::kBadRequest);
  EXPECT_EQ(error.message(), "duplicate Content-Length");
  Status again;
  EXPECT_EQ(parser.Parse(input.data(), input.size(), &parsed, &consumed, &again),
            RequestParser::State::kError);
  EXPECT_EQ(again.message(), error.message());
}

TEST(RequestParser, LimitsNameTheirNumbers) {
  ParserLimits limits;
  limits.header_bytes_max = 64;
  limits.body_bytes_max = 4;
  Status error;
  Feed("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", {}, &error, limits);
  EXPECT_EQ(error.code(), Code::kHeadersTooLarge);
  EXPECT_EQ(error.message(), "the request header is larger than 64 bytes");
  Feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n12345", {}, &error, limits);
  EXPECT_EQ(error.code(), Code::kBodyTooLarge);
  EXPECT_EQ(error.message(), "the request body is larger than 4 bytes");
  // Exactly at the limits is fine.
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n1234", {}, &error, limits).size(),
            1u);
}

TEST(RequestParser, ChunkFramingCannotBloatTheBuffer) {
  ParserLimits limits;
  limits.header_bytes_max = 1024;
  limits.body_bytes_max = 1000;
  std::string input = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  // 1-byte chunks with long extensions: little body, much framing.
  for (int i = 0; i < 200; ++i) input += "1;" + std::string(40, 'e') + "\r\nx\r\n";
  Status error;
  EXPECT_TRUE(Feed(input, {}, &error, limits).empty());
  EXPECT_EQ(error.code(), Code::kBodyTooLarge);
}

TEST(RequestParser, ExpectContinueIsReportedOnceBeforeTheBody) {
  RequestParser parser(ParserLimits{});
  std::string input = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  ParsedRequest parsed;
  size_t consumed = 0;
  Status error;
  EXPECT_EQ(parser.Parse(input.data(), input.size(), &parsed, &consumed, &error),
            RequestParser::State::kNeedMore);
  EXPECT_TRUE(parser.TakeContinueRequest());
  EXPECT_FALSE(parser.TakeContinueRequest());
  input += "{}";
  EXPECT_EQ(parser.Parse(input.data(), input.size(), &parsed, &consumed, &error),
            RequestParser::State::kDone);
  EXPECT_EQ(parsed.request.body, "{}");
  EXPECT_EQ(consumed, input.size());
}

}  // namespace
}  // namespace surge::http::detail
