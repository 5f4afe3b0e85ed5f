#include "http/http.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "http/test_util.h"

namespace surge::http {
namespace {

using testing::FunctionHandler;
using testing::RawResponse;
using testing::RawSocket;
using namespace std::chrono_literals;

std::unique_ptr<Server> StartServer(Handler& handler, ServerOptions options = {}) {
  auto server = Server::Start(options, handler);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

Response Text(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = "text/plain";
  return response;
}

// Responders parked by a handler, answered later from the test's thread.
class Parked {
 public:
  void Add(std::string tag, Responder responder) {
    std::lock_guard lock(mutex_);
    items_.emplace_back(std::move(tag), std::move(responder));
    changed_.notify_all();
  }
  bool WaitFor(size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return items_.size() >= count; });
  }
  std::vector<std::pair<std::string, Responder>> Take() {
    std::lock_guard lock(mutex_);
    return std::move(items_);
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, Responder>> items_;
};

TEST(HttpServer, ServesRequestsAndSplitsTheTarget) {
  std::string seen;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    seen = std::string(request.method) + "|" + std::string(request.path) + "|" +
           std::string(request.query) + "|" + std::string(request.body) + "|" +
           std::string(request.content_type);
    Response response;
    response.status = 201;
    response.body = R"({"ok":true})";
    response.retry_after_s = 7;
    responder.Send(std::move(response));
  });
  auto server = StartServer(handler);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port(), 5s);
  auto response = client.Do("POST", "/v1/orders?verbose=1&x=2", R"({"a":1})");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(response->retry_after_s, 7);
  EXPECT_EQ(response->content_type, "application/json");
  EXPECT_EQ(seen, R"(POST|/v1/orders|verbose=1&x=2|{"a":1}|application/json)");

  auto get = client.Do("GET", "/healthz");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(seen, "GET|/healthz|||");
  EXPECT_EQ(handler.calls(), 2);
}

TEST(HttpServer, KeepAliveReusesOneConnection) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(Text(200, std::string(request.path)));
  });
  auto server = StartServer(handler);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.connected());
  for (int i = 0; i < 20; ++i) {
    const std::string path = "/r" + std::to_string(i);
    ASSERT_TRUE(socket.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, path);
    EXPECT_EQ(response->Header("connection"), "");
    EXPECT_EQ(response->Header("content-type"), "text/plain");
    EXPECT_FALSE(response->Header("date").empty());
  }
  // The Client keeps its connection too, across many calls.
  Client client("127.0.0.1", server->port(), 5s);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client.Do("GET", "/c").ok());
}

TEST(HttpServer, PipelinedResponsesKeepRequestOrderWhenAnsweredOutOfOrder) {
  Parked parked;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    parked.Add(std::string(request.path), std::move(responder));
  });
  auto server = StartServer(handler);
  RawSocket socket(server->port());
  constexpr int kRequests = 32;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    const std::string body = "body" + std::to_string(i);
    batch += "POST /p" + std::to_string(i) +
             " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ASSERT_TRUE(socket.Send(batch));
  ASSERT_TRUE(parked.WaitFor(kRequests));
  auto items = parked.Take();
  // Answer from another thread, in reverse order.
  std::thread answerer([&] {
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      it->second.Send(Text(200, "answer " + it->first));
      std::this_thread::sleep_for(100us);
    }
  });
  for (int i = 0; i < kRequests; ++i) {
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, "answer /p" + std::to_string(i));
  }
  answerer.join();
}

// SendRendered moves making the response to the connection's loop thread (the one that called
// the handler), in request order among plain Sends; a render whose connection is gone never runs.
TEST(HttpServer, RenderedResponsesAreMadeOnTheLoopThreadInOrder) {
  Parked parked;
  std::mutex mutex;
  std::thread::id loop_thread;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    {
      std::lock_guard lock(mutex);
      loop_thread = std::this_thread::get_id();
    }
    parked.Add(std::string(request.path), std::move(responder));
  });
  ServerOptions options;
  options.threads = 1;
  auto server = StartServer(handler, options);
  RawSocket socket(server->port());
  constexpr int kRequests = 8;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += "GET /r" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(socket.Send(batch));
  ASSERT_TRUE(parked.WaitFor(kRequests));
  auto items = parked.Take();
  std::atomic<int> rendered_on_loop{0};
  std::atomic<int> rendered_elsewhere{0};
  std::thread answerer([&] {
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      const std::string tag = it->first;
      if (tag.back() % 2 == 0) {
        it->second.SendRendered([&, tag] {
          std::lock_guard lock(mutex);
          (std::this_thread::get_id() == loop_thread ? rendered_on_loop : rendered_elsewhere)++;
          return Text(200, "rendered " + tag);
        });
      } else {
        it->second.Send(Text(200, "sent " + tag));
      }
    }
  });
  for (int i = 0; i < kRequests; ++i) {
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body,
              std::string(i % 2 == 0 ? "rendered" : "sent") + " /r" + std::to_string(i));
  }
  answerer.join();
  EXPECT_EQ(rendered_on_loop.load(), kRequests / 2);
  EXPECT_EQ(rendered_elsewhere.load(), 0);

  // The client resets the connection before the answer: nothing renders, nothing breaks.
  std::atomic<bool> ran{false};
  {
    RawSocket gone(server->port());
    ASSERT_TRUE(gone.Send("GET /gone HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(parked.WaitFor(1));
    linger hard{1, 0};  // close with a reset: the connection is gone, not half-closed
    setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  }
  std::this_thread::sleep_for(50ms);  // lets the loop see the close
  auto late = parked.Take();
  ASSERT_EQ(late.size(), 1u);
  late[0].second.SendRendered([&] {
    ran = true;
    return Text(200, "late");
  });
  Client client("127.0.0.1", server->port(), 5s);
  ASSERT_TRUE(parked.WaitFor(0));
  std::thread answer_after([&] {
    ASSERT_TRUE(parked.WaitFor(1));
    for (auto& item : parked.Take()) item.second.Send(Text(200, "after"));
  });
  auto response = client.Do("GET", "/after");
  answer_after.join();
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body, "after");
  EXPECT_FALSE(ran.load());
}

// A request that sat in the socket while the loop was busy says so in waited_us: the kernel's
// receive timestamp, not the time the loop got round to reading it.
TEST(HttpServer, WaitedIsTheTimeARequestSatBeforeTheLoopTookIt) {
  std::mutex mutex;
  std::vector<int64_t> waited;
  std::atomic<bool> inside_slow{false};
  FunctionHandler handler([&](const Request& request, Responder responder) {
    {
      std::lock_guard lock(mutex);
      waited.push_back(request.waited_us);
    }
    if (request.path == "/slow") inside_slow = true;
    // The first request keeps the only loop busy for 150 ms.
    if (request.path == "/slow") std::this_thread::sleep_for(150ms);
    responder.Send(Text(200, "ok"));
  });
  ServerOptions options;
  options.threads = 1;
  auto server = StartServer(handler, options);
  RawSocket slow(server->port());
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\n\r\n"));
  while (!inside_slow) std::this_thread::yield();  // the loop is inside /slow now
  RawSocket other(server->port());
  ASSERT_TRUE(other.Send("GET /waiting HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(slow.Read().has_value());
  ASSERT_TRUE(other.Read().has_value());
  std::lock_guard lock(mutex);
  ASSERT_EQ(waited.size(), 2u);
  EXPECT_GE(waited[0], 0);
  EXPECT_LT(waited[0], 100'000);  // read at once
  EXPECT_GE(waited[1], 100'000);  // sat about 130 ms
  EXPECT_LT(waited[1], 5'000'000);
}

TEST(HttpServer, RequestViewsStayValidUntilAnswered) {
  // Many pipelined requests, parked: the connection's buffer must be replaced while they wait,
  // and their views must still read their own bytes.
  Parked parked;
  std::vector<std::pair<Request, std::string>> requests;
  std::mutex mutex;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    {
      std::lock_guard lock(mutex);
      requests.emplace_back(request, std::string(request.body));
    }
    parked.Add(std::string(request.path), std::move(responder));
  });
  ServerOptions options;
  options.pipeline_depth_max = 1000;
  auto server = StartServer(handler, options);
  RawSocket socket(server->port());
  constexpr int kRequests = 400;  // about 60 KB: several read buffers
  for (int i = 0; i < kRequests; ++i) {
    const std::string body =
        "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(90, 'x') + "\"}";
    ASSERT_TRUE(socket.Send("POST /v" + std::to_string(i) + " HTTP/1.1\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
  }
  ASSERT_TRUE(parked.WaitFor(kRequests));
  {
    std::lock_guard lock(mutex);
    for (int i = 0; i < kRequests; ++i) {
      EXPECT_EQ(requests[i].first.path, "/v" + std::to_string(i));
      EXPECT_EQ(requests[i].first.body, requests[i].second);
    }
  }
  auto items = parked.Take();
  for (auto& [tag, responder] : items) responder.Send(Text(200, tag));
  for (int i = 0; i < kRequests; ++i) {
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, "/v" + std::to_string(i));
  }
}

TEST(HttpServer, UnsentResponderAnswersInternalError) {
  FunctionHandler handler([](const Request&, Responder) {});
  auto server = StartServer(handler);
  Client client("127.0.0.1", server->port(), 5s);
  auto response = client.Do("GET", "/lost");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(response->body.find(R"({"error":{"code":"internal","message":")"), std::string::npos)
      << response->body;
  // The connection stays usable.
  EXPECT_EQ(client.Do("GET", "/again")->status, 500);
}

TEST(HttpServer, ChunkedRequestBody) {
  std::string body;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    body = std::string(request.body);
    responder.Send(Text(200, "ok"));
  });
  auto server = StartServer(handler);
  RawSocket socket(server->port());
  const std::string request =
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
  // Byte by byte, so that every state of the parser meets the end of its input.
  for (char c : request) {
    ASSERT_TRUE(socket.Send(std::string(1, c)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  auto response = socket.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(body, "Wikipedia in\r\n\r\nchunks.");
  // And again on the same connection, all at once.
  ASSERT_TRUE(socket.Send(request));
  ASSERT_TRUE(socket.Read().has_value());
  EXPECT_EQ(body, "Wikipedia in\r\n\r\nchunks.");
}

// RFC 9112 section 6.3: neither Content-Length nor chunked means an empty body; what follows is
// the next request. `curl -X POST .../pay` sends exactly this.
TEST(HttpServer, PostWithoutContentLengthHasAnEmptyBody) {
  std::vector<std::string> bodies;
  std::mutex mutex;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    {
      const std::lock_guard<std::mutex> lock(mutex);
      bodies.emplace_back(request.body);
    }
    responder.Send(Text(200, "handled"));
  });
  auto server = Server::Start(ServerOptions{}, handler);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawSocket socket((*server)->port());
  ASSERT_TRUE(
      socket.Send("POST /v1/orders/o.1/pay HTTP/1.1\r\nHost: x\r\n\r\n"
                  "PUT /o HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200) << response->body;
  }
  (*server)->Stop();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0], "");
  EXPECT_EQ(bodies[1], "");
}

struct MalformedCase {
  const char* name;
  std::string request;
  int status;
  const char* code;
};

TEST(HttpServer, MalformedRequestsGetJsonErrorsAndNeverReachTheHandler) {
  const std::string big_number = "Content-Length: 99999999999999999999999999\r\n";
  const std::vector<MalformedCase> cases = {
      {"garbage", "hello there\r\n\r\n", 400, "bad_request"},
      {"binary", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400,
       "bad_request"},
      {"no_version", "GET /\r\n\r\n", 400, "bad_request"},
      {"bad_version", "GET / HTTP/2.0\r\n\r\n", 400, "bad_request"},
      {"version_garbage", "GET / HTTX/1.1\r\n\r\n", 400, "bad_request"},
      {"space_in_target", "GET /a b HTTP/1.1\r\n\r\n", 400, "bad_request"},
      {"empty_method", " / HTTP/1.1\r\n\r\n", 400, "bad_request"},
      {"bare_lf_line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bad_request"},
      {"bad_header_name", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "bad_request"},
      {"header_no_colon", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "bad_request"},
      {"control_in_value", "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400, "bad_request"},
      {"obs_fold", "GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", 400, "bad_request"},
      {"duplicate_length", "POST /o HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
       400, "bad_request"},
      {"conflicting_length", "POST /o HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400, "bad_request"},
      {"length_list", "POST /o HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}", 400, "bad_request"},
      {"negative_length", "POST /o HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"},
      {"alpha_length", "POST /o HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, "bad_request"},
      {"huge_length", "POST /o HTTP/1.1\r\n" + big_number + "\r\n", 400, "bad_request"},
      {"length_and_chunked",
       "POST /o HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"chunked_and_length",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"gzip_encoding", "POST /o HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"},
      {"gzip_chunked", "POST /o HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"chunked_twice",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "bad_request"},
      {"te_in_http10", "POST /o HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"bad_chunk_size",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"huge_chunk_size",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n", 400,
       "bad_request"},
      {"chunk_without_crlf",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", 400,
       "bad_request"},
      {"bad_chunk_extension",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;\"\r\nab\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"unknown_expect", "GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 400, "bad_request"},
      {"body_too_large", "POST /o HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 400, "body_too_large"},
      {"chunked_too_large",
       "POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + std::string(101, 'x') +
           "\r\n0\r\n\r\n",
       400, "body_too_large"},
      {"header_too_large", "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 431,
       "headers_too_large"},
      {"line_too_long", "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n\r\n", 431,
       "headers_too_large"},
  };
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "handled")); });
  ServerOptions options;
  options.header_bytes_max = 1024;
  options.body_bytes_max = 100;
  auto server = StartServer(handler, options);
  for (const MalformedCase& test : cases) {
    SCOPED_TRACE(test.name);
    RawSocket socket(server->port());
    ASSERT_TRUE(socket.Send(test.request));
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, test.status);
    EXPECT_EQ(response->Header("content-type"), "application/json");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_EQ(response->body.rfind(
                  std::string(R"({"error":{"code":")") + test.code + R"(","message":")", 0),
              0u)
        << response->body;
    EXPECT_TRUE(socket.ReadsEof());
  }
  EXPECT_EQ(handler.calls(), 0);
}

TEST(HttpServer, ValidRequestsBeforeAMalformedOneAreAnsweredFirst) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(Text(200, std::string(request.path)));
  });
  auto server = StartServer(handler);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.Send(
      "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nBROKEN\r\n\r\nGET /c HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(socket.Read()->body, "/a");
  EXPECT_EQ(socket.Read()->body, "/b");
  auto error = socket.Read();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->status, 400);
  EXPECT_TRUE(socket.ReadsEof());
  EXPECT_EQ(handler.calls(), 2);
}

TEST(HttpServer, LimitsAtTheirEdgesAreAccepted) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(Text(200, std::to_string(request.body.size())));
  });
  ServerOptions options;
  options.header_bytes_max = 1024;
  options.body_bytes_max = 100;
  auto server = StartServer(handler, options);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.Send("POST /o HTTP/1.1\r\nX: " + std::string(900, 'a') +
                          "\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b')));
  auto response = socket.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "100");
}

TEST(HttpServer, ConnectionCloseAndHttp10) {
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "ok")); });
  auto server = StartServer(handler);
  {
    RawSocket socket(server->port());
    ASSERT_TRUE(
        socket.Send("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n"));
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(socket.ReadsEof());
    EXPECT_TRUE(socket.buffered().empty());  // the pipelined request after it was not answered
  }
  {
    RawSocket socket(server->port());
    ASSERT_TRUE(socket.Send("GET / HTTP/1.0\r\n\r\n"));
    auto response = socket.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(socket.ReadsEof());
  }
  {
    RawSocket socket(server->port());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(socket.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      auto response = socket.Read();
      ASSERT_TRUE(response.has_value());
      EXPECT_EQ(response->Header("connection"), "keep-alive");
    }
  }
  EXPECT_EQ(handler.calls(), 5);
}

TEST(HttpServer, HeadAndExpectContinue) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(
        Text(200, "body of " + std::string(request.method) + " " + std::string(request.body)));
  });
  auto server = StartServer(handler);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.Send("HEAD /h HTTP/1.1\r\n\r\n"));
  auto head = socket.Read(5s, /*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("content-length"), "13");  // "body of HEAD "
  // The HEAD response had no body: the next response starts right after its header.
  ASSERT_TRUE(socket.Send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  auto interim = socket.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(socket.Send("{}"));
  auto response = socket.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "body of POST {}");
}

TEST(HttpServer, ManyConcurrentConnections) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(Text(200, std::string(request.path)));
  });
  auto server = StartServer(handler);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 125;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<RawSocket>> sockets;
      for (int i = 0; i < kPerThread; ++i) {
        sockets.push_back(std::make_unique<RawSocket>(server->port()));
      }
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < kPerThread; ++i) {
          sockets[i]->Send("GET /t" + std::to_string(t) + "c" + std::to_string(i) +
                           " HTTP/1.1\r\n\r\n");
        }
        for (int i = 0; i < kPerThread; ++i) {
          auto response = sockets[i]->Read();
          if (response && response->body == "/t" + std::to_string(t) + "c" + std::to_string(i)) {
            answered.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), kThreads * kPerThread * 3);
}

TEST(HttpServer, ClientsVanishingMidRequestOrMidResponseDoNotHurt) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    responder.Send(Text(200, request.path == "/big" ? std::string(8 << 20, 'z') : "small"));
  });
  auto server = StartServer(handler);
  for (int i = 0; i < 20; ++i) {
    {
      RawSocket socket(server->port());
      socket.Send("POST /o HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial");
    }
    {
      RawSocket socket(server->port());
      socket.Send("GET / HTTP/1.1\r\nHost: exa");
    }
    {
      RawSocket socket(server->port());
      socket.Send("GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n");
      char some[100];
      ASSERT_GT(::recv(socket.fd(), some, sizeof(some), 0), 0);
      // Close with a response still in flight; SO_LINGER 0 makes it a reset.
      linger hard{1, 0};
      setsockopt(socket.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    }
  }
  Client client("127.0.0.1", server->port(), 5s);
  auto response = client.Do("GET", "/after");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body, "small");
}

TEST(HttpServer, ClientThatNeverReadsIsThrottled) {
  FunctionHandler handler([](const Request&, Responder responder) {
    responder.Send(Text(200, std::string(64 * 1024, 'y')));
  });
  ServerOptions options;
  options.pipeline_depth_max = 100'000;  // only the output bound can stop it
  auto server = StartServer(handler, options);
  RawSocket socket(server->port());
  int small_buffer = 4096;
  setsockopt(socket.fd(), SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof(small_buffer));
  const std::string request = "GET / HTTP/1.1\r\n\r\n";
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += request;
  timeval timeout{0, 200'000};
  setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  for (int i = 0; i < 50; ++i) {
    if (::send(socket.fd(), batch.data(), batch.size(), MSG_NOSIGNAL) <= 0) break;
  }
  // Wait until the server stops making progress (the machine may be slow).
  int handled = -1;
  for (int i = 0; i < 50 && handler.calls() != handled; ++i) {
    handled = handler.calls();
    std::this_thread::sleep_for(200ms);
  }
  // 64 KiB each: reading stopped once about 1 MiB (plus what the socket buffers took) was
  // queued, far below the thousands of requests sent.
  EXPECT_GT(handled, 0);
  EXPECT_LT(handled, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(handler.calls(), handled);
  socket.Close();
  Client client("127.0.0.1", server->port(), 5s);
  EXPECT_TRUE(client.Do("GET", "/").ok());
}

TEST(HttpServer, PipelineDepthBoundsRequestsInFlight) {
  Parked parked;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    parked.Add(std::string(request.path), std::move(responder));
  });
  ServerOptions options;
  options.pipeline_depth_max = 3;
  auto server = StartServer(handler, options);
  RawSocket socket(server->port());
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += "GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(socket.Send(batch));
  ASSERT_TRUE(parked.WaitFor(3));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(parked.size(), 3u);
  int answered = 0;
  while (answered < 10) {
    ASSERT_TRUE(parked.WaitFor(1));
    auto items = parked.Take();
    EXPECT_LE(items.size(), 3u);
    for (auto& [tag, responder] : items) responder.Send(Text(200, tag));
    for (size_t i = 0; i < items.size(); ++i) {
      auto response = socket.Read();
      ASSERT_TRUE(response.has_value());
      EXPECT_EQ(response->body, "/" + std::to_string(answered++));
    }
  }
}

TEST(HttpServer, IdleConnectionsAreClosed) {
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "ok")); });
  ServerOptions options;
  options.idle_timeout = 100ms;
  auto server = StartServer(handler, options);
  RawSocket idle(server->port());
  RawSocket used(server->port());
  ASSERT_TRUE(used.Send("GET / HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(used.Read().has_value());
  EXPECT_TRUE(idle.ReadsEof(2s));
  EXPECT_TRUE(used.ReadsEof(2s));
}

TEST(HttpServer, ConnectionsBeyondTheMaximumAreRefused) {
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "ok")); });
  ServerOptions options;
  options.connections_max = 2;
  options.threads = 1;
  auto server = StartServer(handler, options);
  RawSocket first(server->port());
  RawSocket second(server->port());
  ASSERT_TRUE(first.Send("GET / HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(first.Read().has_value());
  ASSERT_TRUE(second.Read().has_value());
  RawSocket third(server->port());
  third.Send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(third.ReadsEof());
  EXPECT_TRUE(third.buffered().empty());
  first.Close();
  std::this_thread::sleep_for(50ms);
  RawSocket fourth(server->port());
  ASSERT_TRUE(fourth.Send("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(fourth.Read().has_value());
}

TEST(HttpServer, StopWithPendingRequests) {
  Parked parked;
  std::mutex mutex;
  std::vector<Request> requests;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    {
      std::lock_guard lock(mutex);
      requests.push_back(request);
    }
    parked.Add(std::string(request.body), std::move(responder));
  });
  auto server = StartServer(handler);
  std::vector<std::unique_ptr<RawSocket>> sockets;
  for (int i = 0; i < 8; ++i) {
    sockets.push_back(std::make_unique<RawSocket>(server->port()));
    sockets.back()->Send("POST /o HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  }
  ASSERT_TRUE(parked.WaitFor(8));
  server->Stop();
  for (auto& socket : sockets) EXPECT_TRUE(socket->ReadsEof());
  // The request views stay readable, and late answers are dropped quietly.
  for (const Request& request : requests) EXPECT_EQ(request.body, "hello");
  auto items = parked.Take();
  for (auto& [body, responder] : items) responder.Send(Text(200, "late"));
  server.reset();
}

TEST(HttpServer, ResponsesFromManyThreadsUnderLoad) {
  // Every request is answered from a worker thread; several pipelining connections.
  std::mutex mutex;
  std::condition_variable ready;
  std::vector<std::pair<std::string, Responder>> queue;
  bool done = false;
  FunctionHandler handler([&](const Request& request, Responder responder) {
    std::lock_guard lock(mutex);
    queue.emplace_back(std::string(request.path), std::move(responder));
    ready.notify_one();
  });
  auto server = StartServer(handler);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      std::unique_lock lock(mutex);
      for (;;) {
        ready.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        auto item = std::move(queue.back());
        queue.pop_back();
        lock.unlock();
        item.second.Send(Text(200, item.first));
        lock.lock();
      }
    });
  }
  std::vector<std::thread> clients;
  std::atomic<int> correct{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      RawSocket socket(server->port());
      for (int round = 0; round < 50; ++round) {
        std::string batch;
        for (int i = 0; i < 16; ++i) {
          batch += "GET /" + std::to_string(c) + "/" + std::to_string(round * 16 + i) +
                   " HTTP/1.1\r\n\r\n";
        }
        socket.Send(batch);
        for (int i = 0; i < 16; ++i) {
          auto response = socket.Read();
          if (response &&
              response->body == "/" + std::to_string(c) + "/" + std::to_string(round * 16 + i)) {
            correct.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  ready.notify_all();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(correct.load(), 4 * 50 * 16);
}

TEST(HttpServer, LargeBodiesAndResponsesCrossManyReadsAndWrites) {
  FunctionHandler handler([](const Request& request, Responder responder) {
    // Echo the body eight times over: a response far larger than the socket buffers.
    std::string body;
    for (int i = 0; i < 8; ++i) body.append(request.body);
    responder.Send(Text(200, std::move(body)));
  });
  auto server = StartServer(handler);
  Client client("127.0.0.1", server->port(), 10s);
  std::string body(900 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  for (int round = 0; round < 3; ++round) {
    auto response = client.Do("PUT", "/big", body);
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    ASSERT_EQ(response->body.size(), 8 * body.size());
    EXPECT_EQ(response->body.substr(7 * body.size()), body);
  }
  // Past the default 1 MiB limit: body_too_large.
  auto too_large = client.Do("PUT", "/big", std::string(1024 * 1024 + 1, 'x'));
  ASSERT_TRUE(too_large.ok()) << too_large.status().ToString();
  EXPECT_EQ(too_large->status, 400);
  EXPECT_NE(too_large->body.find("body_too_large"), std::string::npos);
}

TEST(HttpServer, RefusesAnExplicitPortThatIsTaken) {
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "ok")); });
  auto first = StartServer(handler);
  ServerOptions options;
  options.port = first->port();
  auto second = Server::Start(options, handler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kIoError);
}

TEST(HttpClient, ReportsConnectionFailuresAndReconnects) {
  FunctionHandler handler(
      [](const Request&, Responder responder) { responder.Send(Text(200, "ok")); });
  ServerOptions options;
  options.idle_timeout = 50ms;
  auto server = StartServer(handler, options);
  Client client("127.0.0.1", server->port(), 2s);
  ASSERT_TRUE(client.Do("GET", "/").ok());
  std::this_thread::sleep_for(300ms);  // the server closes the idle connection
  auto again = client.Do("GET", "/");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body, "ok");
  const uint16_t port = server->port();
  server.reset();
  auto failed = client.Do("GET", "/");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIoError);
  Client nobody("127.0.0.1", port, 1s);
  EXPECT_FALSE(nobody.Do("GET", "/").ok());
}

TEST(HttpClient, TimesOutOnASilentServer) {
  Parked parked;
  FunctionHandler handler(
      [&](const Request&, Responder responder) { parked.Add("", std::move(responder)); });
  auto server = StartServer(handler);
  Client client("127.0.0.1", server->port(), 200ms);
  const auto start = std::chrono::steady_clock::now();
  auto response = client.Do("GET", "/");
  EXPECT_FALSE(response.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ErrorResponse, BuildsTheApiErrorBody) {
  Response response = ErrorResponse(Status(Code::kSoldOut, "campaign c1 is sold out"));
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error":{"code":"sold_out","message":"campaign c1 is sold out"}})");
  EXPECT_EQ(response.retry_after_s, -1);

  Response escaped =
      ErrorResponse(Status(Code::kBadField, "field \"a\\b\"\n\x01 \xff ok \xc3\xa9"));
  EXPECT_EQ(escaped.status, 400);
  EXPECT_EQ(escaped.body,
            "{\"error\":{\"code\":\"bad_field\",\"message\":\"field \\\"a\\\\b\\\"\\n\\u0001 "
            "\xef\xbf\xbd ok \xc3\xa9\"}}");

  Response overloaded = ErrorResponse(Status(Code::kOverloaded, "busy"));
  EXPECT_EQ(overloaded.status, 503);
  EXPECT_EQ(overloaded.retry_after_s, 1);
  EXPECT_EQ(ErrorResponse(Status(Code::kHeadersTooLarge, "x")).status, 431);
}

}  // namespace
}  // namespace surge::http
