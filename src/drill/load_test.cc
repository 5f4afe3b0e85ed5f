// The load generator's own tests: it must not hide a server's stall (coordinated omission), and
// every request it sends must be accounted for exactly once, in the counts and in the history.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "drill/drill.h"
#include "drill/histogram.h"
#include "http/http.h"

namespace surge::drill {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Answers at once, except that every request arriving during [stall_begin, stall_end) is held
// until stall_end: a server that freezes for a second.
class StallingHandler : public http::Handler {
 public:
  StallingHandler(Clock::time_point stall_begin, Clock::time_point stall_end)
      : stall_begin_(stall_begin), stall_end_(stall_end), releaser_([this] { Release(); }) {}
  ~StallingHandler() override {
    stop_ = true;
    releaser_.join();
  }

  void Handle(const http::Request&, http::Responder responder) override {
    const auto now = Clock::now();
    if (now >= stall_begin_ && now < stall_end_) {
      const std::lock_guard<std::mutex> lock(mutex_);
      held_.push_back(std::move(responder));
      return;
    }
    responder.Send(http::Response{200, "{}"});
  }

 private:
  void Release() {
    while (!stop_ && Clock::now() < stall_end_) std::this_thread::sleep_for(milliseconds(1));
    const std::lock_guard<std::mutex> lock(mutex_);
    for (http::Responder& responder : held_) responder.Send(http::Response{200, "{}"});
    held_.clear();
  }

  const Clock::time_point stall_begin_, stall_end_;
  std::mutex mutex_;
  std::vector<http::Responder> held_;
  std::atomic<bool> stop_{false};
  std::thread releaser_;
};

// A one-loop server of `handler` on a free port, and `options` aimed at it.
std::unique_ptr<http::Server> StartServer(http::Handler& handler, LoadOptions* options) {
  http::ServerOptions server_options;
  server_options.threads = 1;
  auto server = http::Server::Start(server_options, handler);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  options->port = (*server)->port();
  return std::move(server).value();
}

TEST(LoadTest, OpenLoopLatencyIncludesAOneSecondStallThatAClosedLoopHides) {
  const auto start = Clock::now();
  StallingHandler handler(start + milliseconds(1000), start + milliseconds(2000));
  http::ServerOptions server_options;
  server_options.threads = 1;
  auto server = http::Server::Start(server_options, handler);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  // Closed loop first, over the same window: each of 4 clients sends, waits, sends again.
  Histogram closed_loop;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      http::Client client("127.0.0.1", (*server)->port(), milliseconds(5000));
      Histogram mine;
      while (Clock::now() < start + milliseconds(3000)) {
        const auto sent = Clock::now();
        auto response = client.Do("GET", "/");
        ASSERT_TRUE(response.ok());
        mine.Record(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count());
      }
      const std::lock_guard<std::mutex> lock(mutex);
      closed_loop.Add(mine);
    });
  }
  for (std::thread& client : clients) client.join();
  (*server)->Stop();

  // Open loop, with the stall one second into the run.
  const auto open_start = Clock::now();
  StallingHandler open_handler(open_start + milliseconds(1000), open_start + milliseconds(2000));
  auto open_server = http::Server::Start(server_options, open_handler);
  ASSERT_TRUE(open_server.ok());
  LoadOptions options;
  options.port = (*open_server)->port();
  options.plain_get_target = "/";
  options.rate_per_s = 400;
  options.duration = milliseconds(3000);
  options.connections = 4;
  options.threads = 1;
  auto report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  (*open_server)->Stop();

  std::printf("closed loop: %llu requests, p99 %llu us, max %llu us\n",
              static_cast<unsigned long long>(closed_loop.count()),
              static_cast<unsigned long long>(closed_loop.Quantile(0.99)),
              static_cast<unsigned long long>(closed_loop.max()));
  std::printf("open loop:   %llu requests, p90 %llu us, p99 %llu us, max %llu us\n",
              static_cast<unsigned long long>(report->all.count),
              static_cast<unsigned long long>(report->all.p90),
              static_cast<unsigned long long>(report->all.p99),
              static_cast<unsigned long long>(report->all.max));
  // About a third of the open-loop requests were due during the stall, waiting up to a second.
  EXPECT_GE(report->all.max, 900'000u);
  EXPECT_GE(report->all.p90, 500'000u);
  EXPECT_GE(report->all.p99, 800'000u);
  // The closed loop also saw the stall once per client, but recorded it as a handful of slow
  // requests among many fast ones: its p99 hides what the open loop shows.
  EXPECT_GE(closed_loop.max(), 500'000u);
  EXPECT_LT(closed_loop.Quantile(0.99) * 5, report->all.p99);
  EXPECT_EQ(report->sent, report->completed + report->unanswered);
  EXPECT_NEAR(static_cast<double>(report->sent), 1200.0, 60.0);
}

// Answers POST /v1/orders with a rotating outcome.
class MixedHandler : public http::Handler {
 public:
  void Handle(const http::Request&, http::Responder responder) override {
    switch (next_++ % 6) {
      case 0:
        responder.Send({201, R"({"order_id":"o.)" + std::to_string(next_.load()) +
                                 R"(","status":"reserved"})"});
        break;
      case 1:
        responder.Send(http::ErrorResponse(Status(Code::kSoldOut, "sold out")));
        break;
      case 2:
        responder.Send(http::ErrorResponse(Status(Code::kLimitExceeded, "limit")));
        break;
      case 3:
        responder.Send(http::ErrorResponse(Status(Code::kOverloaded, "busy")));
        break;
      case 4:
        responder.Send(http::ErrorResponse(Status(Code::kNotFound, "no such user")));
        break;
      default:
        responder.Send({200, "{}"});
        break;
    }
  }

 private:
  std::atomic<uint64_t> next_{0};
};

TEST(LoadTest, OutcomeCountsAddUpToRequestsSent) {
  MixedHandler handler;
  LoadOptions options;
  auto server = StartServer(handler, &options);
  ASSERT_NE(server, nullptr);
  options.skus = {"hot"};
  options.rate_per_s = 3000;
  options.duration = milliseconds(1500);
  options.connections = 16;
  options.threads = 2;
  options.verify = false;
  auto report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  server->Stop();
  std::printf("%s", report->Table().c_str());

  const uint64_t answered = report->created + report->ok_other + report->sold_out +
                            report->limit_exceeded + report->overloaded + report->other_errors +
                            report->connection_errors;
  EXPECT_EQ(answered, report->completed);
  EXPECT_EQ(report->completed + report->unanswered, report->sent);
  EXPECT_EQ(report->unanswered, 0u);
  EXPECT_NEAR(static_cast<double>(report->sent), 4500.0, 150.0);
  // Each outcome is about a sixth of the answers.
  for (uint64_t count : {report->created, report->sold_out, report->limit_exceeded,
                         report->overloaded, report->other_errors, report->ok_other}) {
    EXPECT_NEAR(static_cast<double>(count), report->completed / 6.0, report->completed / 60.0);
  }
  EXPECT_EQ(report->order_ids.size(), 0u);  // collected only when verifying
  uint64_t per_second_sent = 0;
  for (const SecondStats& second : report->seconds) per_second_sent += second.sent;
  EXPECT_EQ(per_second_sent, report->sent);
  EXPECT_NE(report->Json().find("\"sold_out\":"), std::string::npos);
  EXPECT_NE(report->Svg().find("<polyline"), std::string::npos);
}

// The history holds every request sent, once, with the answer it got and when.
TEST(LoadTest, HistoryHoldsEveryRequestWithItsAnswerAndTimes) {
  MixedHandler handler;
  LoadOptions options;
  auto server = StartServer(handler, &options);
  ASSERT_NE(server, nullptr);
  options.skus = {"hot", "warm"};
  options.rate_per_s = 2000;
  options.duration = milliseconds(1000);
  options.connections = 8;
  options.threads = 2;
  options.verify = false;
  options.record_history = true;
  const int64_t before_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count();
  auto report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  server->Stop();
  const int64_t after_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count();
  ASSERT_EQ(report->history.size(), report->sent);
  std::set<std::string> ids;
  uint64_t created = 0, sold_out = 0, limit = 0, overloaded = 0, not_found = 0, other_2xx = 0;
  for (const OrderAttempt& attempt : report->history) {
    ids.insert(attempt.request_id);
    ASSERT_EQ(attempt.items.size(), 1u);
    EXPECT_TRUE(attempt.items[0].sku == "hot" || attempt.items[0].sku == "warm");
    EXPECT_EQ(attempt.user.rfind("u", 0), 0u);
    // Times on the steady clock of this process too (CLOCK_MONOTONIC is one clock for all).
    EXPECT_GE(attempt.due_us, before_us);
    EXPECT_LE(attempt.answered_us, after_us);
    EXPECT_GE(attempt.answered_us, attempt.due_us - 1);
    created += attempt.status == 201 && attempt.order_id.rfind("o.", 0) == 0;
    sold_out += attempt.status == 409 && attempt.error_code == "sold_out";
    limit += attempt.status == 409 && attempt.error_code == "limit_exceeded";
    overloaded += attempt.status == 503 && attempt.error_code == "overloaded";
    not_found += attempt.status == 404 && attempt.error_code == "not_found";
    other_2xx += attempt.status == 200;
  }
  EXPECT_EQ(ids.size(), report->history.size());
  EXPECT_EQ(created, report->created);
  EXPECT_EQ(sold_out, report->sold_out);
  EXPECT_EQ(limit, report->limit_exceeded);
  EXPECT_EQ(overloaded, report->overloaded);
  EXPECT_EQ(not_found, report->other_errors);
  EXPECT_EQ(other_2xx, report->ok_other);
  // Written and read back, it is the same history.
  auto again = ParseHistory(EncodeHistory(report->history));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), report->history.size());
  for (size_t i = 0; i < again->size(); ++i) {
    const OrderAttempt& a = (*again)[i];
    const OrderAttempt& b = report->history[i];
    EXPECT_TRUE(a.request_id == b.request_id && a.user == b.user && a.status == b.status &&
                a.error_code == b.error_code && a.order_id == b.order_id && a.due_us == b.due_us &&
                a.answered_us == b.answered_us && a.items[0].sku == b.items[0].sku &&
                a.items[0].quantity == 1)
        << i;
  }
}

TEST(LoadTest, AHistoryWithAnyFlawIsRefusedNamingTheLine) {
  const std::string good =
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,)"
      R"("error":"","order_id":"o.1","due_us":5,"answered_us":7})"
      "\n";
  ASSERT_TRUE(ParseHistory(good).ok());
  EXPECT_TRUE(ParseHistory("").ok());
  const std::vector<std::string> bad_lines = {
      "{}",
      "not json",
      R"({"request_id":"r 1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,"error":"","order_id":"","due_us":5,"answered_us":7})",
      R"({"request_id":"r1","user":"u1","items":[],"status":201,"error":"","order_id":"","due_us":5,"answered_us":7})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":0}],"status":201,"error":"","order_id":"","due_us":5,"answered_us":7})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":42,"error":"","order_id":"","due_us":5,"answered_us":7})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,"error":"","order_id":"","due_us":-2,"answered_us":7})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,"error":"","order_id":"","due_us":5,"answered_us":99999999999999999999})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,"error":"","order_id":"","due_us":5,"answered_us":7,"extra":1})",
      R"({"request_id":"r1","user":"u1","items":[{"sku":"a","quantity":1}],"status":201,"error":"x y","order_id":"","due_us":5,"answered_us":7})",
  };
  for (const std::string& line : bad_lines) {
    auto parsed = ParseHistory(good + line + "\n");
    ASSERT_FALSE(parsed.ok()) << line;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().rfind("history line 2: ", 0), 0u)
        << parsed.status().message();
  }
  EXPECT_EQ(ParseHistory(good.substr(0, good.size() - 1)).status().message(),
            "history line 1: does not end in a newline");
}

// Answers 201 and records each request id, so a test can see whether any was sent twice.
class RecordingHandler : public http::Handler {
 public:
  void Handle(const http::Request& request, http::Responder responder) override {
    constexpr std::string_view kKey = "\"request_id\":\"";
    const size_t start = request.body.find(kKey);
    if (start != std::string_view::npos) {
      const size_t end = request.body.find('"', start + kKey.size());
      const std::lock_guard<std::mutex> lock(mutex_);
      ids_.emplace_back(request.body.substr(start + kKey.size(), end - start - kKey.size()));
    }
    responder.Send({201, R"({"order_id":"o.1","status":"reserved"})"});
  }
  std::vector<std::string> ids() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return ids_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> ids_;
};

// Records every target it is asked for.
class TargetHandler : public http::Handler {
 public:
  void Handle(const http::Request& request, http::Responder responder) override {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      targets_.emplace_back(request.target);
    }
    responder.Send({200, "{}"});
  }
  std::vector<std::string> targets() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return targets_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> targets_;
};

TEST(LoadTest, AGetTargetCanAskForARandomUserEachTime) {
  TargetHandler handler;
  LoadOptions options;
  auto server = StartServer(handler, &options);
  ASSERT_NE(server, nullptr);
  options.plain_get_target = "/v1/recommendations?user=su{user}&k=20";
  options.users_count = 50;
  options.rate_per_s = 500;
  options.duration = milliseconds(600);
  options.connections = 4;
  options.threads = 1;
  options.verify = false;
  auto report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  server->Stop();
  std::set<int> users;
  for (const std::string& target : handler.targets()) {
    const std::string prefix = "/v1/recommendations?user=su";
    ASSERT_EQ(target.rfind(prefix, 0), 0u) << target;
    const size_t end = target.find("&k=20");
    ASSERT_NE(end, std::string::npos) << target;
    const int user = std::stoi(target.substr(prefix.size(), end - prefix.size()));
    EXPECT_TRUE(user >= 0 && user < 50) << target;
    users.insert(user);
  }
  EXPECT_EQ(handler.targets().size(), report->sent);
  EXPECT_GT(users.size(), 25u) << "the users should vary";
}

// Every order a run sends is a new request: a resent request id would be answered by a center as
// an idempotent retry, far cheaper than an order, and the run would measure the wrong thing.
TEST(LoadTest, RequestIdsAreUniqueAcrossRampSteps) {
  RecordingHandler handler;
  LoadOptions options;
  auto server = StartServer(handler, &options);
  ASSERT_NE(server, nullptr);
  options.skus = {"hot"};
  options.profile = Profile::kRamp;
  options.rate_per_s = 500;
  options.ramp_step = milliseconds(1000);
  options.ramp_steps_max = 3;
  options.connections = 8;
  options.threads = 2;
  options.verify = false;
  auto report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  server->Stop();
  const std::vector<std::string> ids = handler.ids();
  EXPECT_EQ(ids.size(), report->sent);
  EXPECT_GT(ids.size(), 1'000u);  // three steps ran
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
}

}  // namespace
}  // namespace surge::drill
