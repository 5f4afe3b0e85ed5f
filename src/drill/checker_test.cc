// The checker must catch what it promises to catch: a server that lost an order, oversold, let a
// user over the limit, or made two orders of one request is reported, each with a violation.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>

#include "drill/drill.h"
#include "http/http.h"

namespace surge::drill {
namespace {

// Serves canned answers by "METHOD target"; anything else is 404.
class CannedServer : public http::Handler {
 public:
  void Set(const std::string& key, int status, std::string body) {
    const std::lock_guard<std::mutex> lock(mutex_);
    answers_[key] = {status, std::move(body)};
  }
  void Handle(const http::Request& request, http::Responder responder) override {
    const std::string key = std::string(request.method) + " " + std::string(request.target);
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = answers_.find(key);
    if (it == answers_.end()) {
      responder.Send(http::ErrorResponse(Status(Code::kNotFound, key)));
      return;
    }
    responder.Send({it->second.first, it->second.second});
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::pair<int, std::string>> answers_;
};

std::string Order(const std::string& id, const std::string& request, const std::string& user,
                  const std::string& status, int quantity) {
  return R"({"order_id":")" + id + R"(","request_id":")" + request + R"(","user":")" + user +
         R"(","status":")" + status + R"(","total_cents":100,"expires_at":1,"items":[{"sku":"s",)" +
         R"("quantity":)" + std::to_string(quantity) + R"(,"price_cents":100,"campaign":"c1"}]})";
}

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = http::Server::Start(http::ServerOptions{}, canned_);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port(),
                                             std::chrono::milliseconds(3000));
    attempt_.request_id = "r1";
    attempt_.user = "u1";
    attempt_.items = {{"s", 1}};
    attempt_.status = 201;
    attempt_.order_id = "o1";
    options_.resend_acknowledged = false;
    options_.campaigns = {{"c1", "s", 10, 2}};
  }
  void TearDown() override { server_->Stop(); }

  CheckReport Run() {
    auto report = Check({attempt_}, options_, *client_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : CheckReport{};
  }

  CannedServer canned_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
  OrderAttempt attempt_;
  CheckOptions options_;
};

TEST_F(CheckerTest, AConsistentStatePasses) {
  canned_.Set("GET /v1/users/u1/orders", 200,
              R"({"orders":[)" + Order("o1", "r1", "u1", "reserved", 1) + "]}");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":9,"reserved":1,"sold":0})");
  const CheckReport report = Run();
  EXPECT_TRUE(report.ok()) << report.Summary();
  EXPECT_EQ(report.acknowledged_orders, 1u);
}

TEST_F(CheckerTest, ALostAcknowledgedOrderIsReported) {
  canned_.Set("GET /v1/users/u1/orders", 200, R"({"orders":[]})");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":10,"reserved":0,"sold":0})");
  const CheckReport report = Run();
  ASSERT_EQ(report.violations.size(), 1u) << report.Summary();
  EXPECT_NE(report.violations[0].find("missing"), std::string::npos);
}

TEST_F(CheckerTest, CountsThatDoNotAddUpAreReported) {
  canned_.Set("GET /v1/users/u1/orders", 200,
              R"({"orders":[)" + Order("o1", "r1", "u1", "reserved", 1) + "]}");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":10,"reserved":1,"sold":0})");
  const CheckReport report = Run();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.Summary().find("does not add up"), std::string::npos) << report.Summary();
}

TEST_F(CheckerTest, UnitsHeldByOrdersMustMatchTheCampaign) {
  // An order the campaign does not count: units sold twice.
  canned_.Set("GET /v1/users/u1/orders", 200,
              R"({"orders":[)" + Order("o1", "r1", "u1", "paid", 1) + "," +
                  Order("o2", "r2", "u1", "paid", 1) + "]}");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":9,"reserved":0,"sold":1})");
  const CheckReport report = Run();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.Summary().find("orders hold"), std::string::npos) << report.Summary();
}

TEST_F(CheckerTest, AUserOverTheLimitAndARequestWithTwoOrdersAreReported) {
  canned_.Set("GET /v1/users/u1/orders", 200,
              R"({"orders":[)" + Order("o1", "r1", "u1", "reserved", 2) + "," +
                  Order("o2", "r1", "u1", "reserved", 1) + "]}");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":7,"reserved":3,"sold":0})");
  const CheckReport report = Run();
  const std::string summary = report.Summary();
  EXPECT_NE(summary.find("has two orders"), std::string::npos) << summary;
  EXPECT_NE(summary.find("limit 2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("other items"), std::string::npos) << summary;  // o1 has 2, not 1
}

TEST_F(CheckerTest, ARetryAnsweredWithAnotherOrderIdIsReported) {
  options_.resend_acknowledged = true;
  canned_.Set("POST /v1/orders", 201, R"({"order_id":"o9","status":"reserved"})");
  canned_.Set("GET /v1/users/u1/orders", 200,
              R"({"orders":[)" + Order("o1", "r1", "u1", "reserved", 1) + "]}");
  canned_.Set("GET /v1/campaigns/c1", 200, R"({"stock":10,"available":9,"reserved":1,"sold":0})");
  const CheckReport report = Run();
  ASSERT_EQ(report.violations.size(), 1u) << report.Summary();
  EXPECT_NE(report.violations[0].find("'o9'"), std::string::npos);
}

TEST_F(CheckerTest, AServerThatDoesNotAnswerIsAnErrorNotAPass) {
  auto report = Check({attempt_}, options_, *client_);  // nothing canned: every GET is 404
  EXPECT_FALSE(report.ok());
}

}  // namespace
}  // namespace surge::drill
