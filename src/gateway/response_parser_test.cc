#include "gateway/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace surge::gateway {
namespace {

using State = ResponseParser::State;

constexpr size_t kHeadMax = 1024;
constexpr size_t kBodyMax = 4096;

struct Outcome {
  State state = State::kNeedMore;
  ParsedResponse response;
  std::string error;
};

Outcome ParseAll(std::string_view data) {
  ResponseParser parser(kHeadMax, kBodyMax);
  Outcome outcome;
  outcome.state = parser.Parse(data, &outcome.response, &outcome.error);
  return outcome;
}

TEST(ResponseParser, ParsesWhatACenterSends) {
  const std::string data =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nRetry-After: 1\r\n\r\n"
      "{\"error\":{}}\nNEXT";
  const Outcome outcome = ParseAll(data);
  ASSERT_EQ(outcome.state, State::kDone) << outcome.error;
  EXPECT_EQ(outcome.response.status, 503);
  EXPECT_EQ(outcome.response.content_type, "application/json");
  EXPECT_EQ(outcome.response.retry_after_s, 1);
  EXPECT_FALSE(outcome.response.close);
  EXPECT_EQ(outcome.response.body, "{\"error\":{}}\n");
  EXPECT_EQ(outcome.response.size_bytes, data.size() - 4);  // "NEXT" is the next response's
}

TEST(ResponseParser, HeaderNamesIgnoreCaseAndValuesAreTrimmed) {
  const Outcome outcome = ParseAll(
      "HTTP/1.1 200 OK\r\ncontent-LENGTH:  2 \r\nCONTENT-TYPE:\ttext/plain\t\r\n"
      "connection: Keep-Alive, Close\r\n\r\nok");
  ASSERT_EQ(outcome.state, State::kDone) << outcome.error;
  EXPECT_EQ(outcome.response.body, "ok");
  EXPECT_EQ(outcome.response.content_type, "text/plain");
  EXPECT_TRUE(outcome.response.close);
  EXPECT_EQ(outcome.response.retry_after_s, -1);
}

TEST(ResponseParser, EmptyReasonAndBodilessStatuses) {
  Outcome outcome = ParseAll("HTTP/1.1 204 \r\n\r\n");
  ASSERT_EQ(outcome.state, State::kDone) << outcome.error;
  EXPECT_EQ(outcome.response.status, 204);
  EXPECT_EQ(outcome.response.body, "");
  outcome = ParseAll("HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kDone) << outcome.error;
}

TEST(ResponseParser, Http10ClosesUnlessKeptAlive) {
  Outcome outcome = ParseAll("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_TRUE(outcome.response.close);
  outcome = ParseAll("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_FALSE(outcome.response.close);
}

TEST(ResponseParser, RetryAfterAsADateIsNotRelayed) {
  const Outcome outcome = ParseAll(
      "HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_EQ(outcome.response.retry_after_s, -1);
}

// Every split of a response into two reads gives the same result as one read, and the parser
// asks for more until the last byte arrives.
TEST(ResponseParser, IncrementalAtEverySplit) {
  const std::string data =
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
      "{\"order_id\":\"o\"}";
  for (size_t split = 0; split <= data.size(); ++split) {
    ResponseParser parser(kHeadMax, kBodyMax);
    ParsedResponse response;
    std::string error;
    std::string buffer = data.substr(0, split);
    const State first = parser.Parse(buffer, &response, &error);
    if (split < data.size()) {
      ASSERT_EQ(first, State::kNeedMore) << "split " << split;
      buffer.append(data.substr(split));
      buffer.shrink_to_fit();  // moves the bytes: views must not outlive a call
      ASSERT_EQ(parser.Parse(buffer, &response, &error), State::kDone) << "split " << split;
    } else {
      ASSERT_EQ(first, State::kDone);
    }
    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_EQ(response.body, "{\"order_id\":\"o\"}");
    EXPECT_EQ(response.size_bytes, data.size());
  }
}

TEST(ResponseParser, ResetParsesTheNextResponse) {
  const std::string data =
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 No\r\nContent-Length: 2\r\n\r\nbc";
  ResponseParser parser(kHeadMax, kBodyMax);
  ParsedResponse response;
  std::string error;
  ASSERT_EQ(parser.Parse(data, &response, &error), State::kDone);
  EXPECT_EQ(response.body, "a");
  const size_t consumed = response.size_bytes;
  parser.Reset();
  ASSERT_EQ(parser.Parse(std::string_view(data).substr(consumed), &response, &error), State::kDone);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "bc");
}

TEST(ResponseParser, RefusesWhatItCannotRelaySafely) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare LF"},
      {"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", "version"},
      {"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "short status"},
      {"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", "non-digit status"},
      {"HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n", "status out of range"},
      {"HTTP/1.1 100 Continue\r\n\r\n", "1xx"},
      {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "no space after the status"},
      {"HTTP/1.1 200 OK\r\n\r\n", "no length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", "repeated length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "negative length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\n", "two lengths"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n", "body over the bound"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "chunked"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n folded\r\n\r\n", "obs-fold"},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", "name with a space"},
      {"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n", "no colon"},
      {"HTTP/1.1 200 OK\r\nX: a\x01z\r\nContent-Length: 0\r\n\r\n", "control char"},
      {"HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n", "empty name"},
  };
  for (const auto& [data, why] : cases) {
    const Outcome outcome = ParseAll(data);
    EXPECT_EQ(outcome.state, State::kError) << why;
    EXPECT_FALSE(outcome.error.empty()) << why;
  }
}

TEST(ResponseParser, HeadOverItsBoundIsAnErrorEvenIncomplete) {
  const std::string head = "HTTP/1.1 200 OK\r\nX: " + std::string(kHeadMax, 'a');
  EXPECT_EQ(ParseAll(head).state, State::kError);
  EXPECT_EQ(ParseAll(head + "\r\nContent-Length: 0\r\n\r\n").state, State::kError);
  EXPECT_EQ(ParseAll(head.substr(0, 100)).state, State::kNeedMore);
}

}  // namespace
}  // namespace surge::gateway
