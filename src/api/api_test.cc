// End-to-end tests of the API: an http::Server with NewCenterHandler over a real center::Center
// on a temporary directory, driven through http::Client. Every route, every error status of
// API.md's table that one center can produce, idempotency, the pay/cancel state machine, expiry,
// and that malformed requests change nothing.
#include "api/api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "center/center.h"
#include "common/env.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::api {
namespace {

using std::chrono::milliseconds;

struct Answer {
  int status = 0;
  std::string body;
  int retry_after_s = -1;
};

// A parsed answer body, for reading fields.
class Parsed {
 public:
  explicit Parsed(const std::string& body) {
    const Status status = document_.Parse(body);
    EXPECT_TRUE(status.ok()) << status.ToString() << ": " << body;
    ok_ = status.ok();
  }
  std::string String(std::string_view key) const {
    if (!ok_) return "";
    auto field = document_.root().Field(key);
    if (!field.ok()) return "<missing " + std::string(key) + ">";
    auto text = field->String();
    return text.ok() ? std::string(*text) : "<not a string>";
  }
  int64_t Int(std::string_view key) const {
    if (!ok_) return -1;
    auto field = document_.root().Field(key);
    if (!field.ok()) return -1;
    auto number = field->Int(INT64_MIN, INT64_MAX);
    return number.ok() ? *number : -1;
  }
  std::string ErrorCode() const {
    if (!ok_) return "";
    auto error = document_.root().Field("error");
    if (!error.ok()) return "<no error>";
    auto code = error->Field("code");
    return code.ok() && code->String().ok() ? std::string(*code->String()) : "<no code>";
  }
  std::string ErrorMessage() const {
    if (!ok_) return "";
    auto error = document_.root().Field("error");
    if (!error.ok()) return "";
    auto message = error->Field("message");
    return message.ok() && message->String().ok() ? std::string(*message->String()) : "";
  }
  json::Value root() const { return document_.root(); }

 private:
  json::Document document_;
  bool ok_ = false;
};

int64_t NowMs() { return Env::Default()->WallNowMs(); }

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-api-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    Start();
  }

  void TearDown() override {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  void Start() {
    center::Options options;
    options.data_dir = dir_ + "/data";
    options.center_id = "c1";
    options.batch_wait = std::chrono::microseconds(50);
    options.tick_interval = milliseconds(20);
    auto center = center::Center::Open(*Env::Default(), options);
    ASSERT_TRUE(center.ok()) << center.status().ToString();
    center_ = std::move(center).value();
    handler_ = NewCenterHandler(*center_);
    http::ServerOptions server_options;
    server_options.threads = 2;
    auto server = http::Server::Start(server_options, *handler_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port(), milliseconds(10'000));
  }

  void Stop() {
    client_.reset();
    if (server_) server_->Stop();
    if (center_) center_->Stop();
    server_.reset();
    handler_.reset();
    center_.reset();
  }

  Answer Do(std::string_view method, std::string_view target, std::string_view body = {}) {
    auto response = client_->Do(method, target, body);
    EXPECT_TRUE(response.ok()) << method << " " << target << ": " << response.status().ToString();
    if (!response.ok()) return {};
    return {response->status, response->body, response->retry_after_s};
  }

  // Expects `status` and, for errors, the API error `code`; returns the body.
  std::string Expect(std::string_view method, std::string_view target, std::string_view body,
                     int status, std::string_view code = {}) {
    const Answer answer = Do(method, target, body);
    EXPECT_EQ(answer.status, status)
        << method << " " << target << " " << body << " -> " << answer.body;
    if (!code.empty()) {
      EXPECT_EQ(Parsed(answer.body).ErrorCode(), code) << method << " " << target << " " << body;
    }
    return answer.body;
  }

  void Put(const std::string& target, const std::string& body) { Expect("PUT", target, body, 200); }

  // A merchant, products "flash" (campaign "c1", live now) and "reg" (regular stock), users.
  void LoadCatalogue(int64_t campaign_stock = 5, int64_t per_user_limit = 2,
                     int64_t reserve_ttl_ms = 600'000) {
    Put("/v1/merchants/m1", R"({"name":"Goods"})");
    Put("/v1/products/flash",
        R"({"merchant":"m1","name":"Flash phone","category":"phones","price_cents":99900})");
    Put("/v1/products/reg",
        R"({"merchant":"m1","name":"Cable","category":"cables","price_cents":1500})");
    Put("/v1/inventory/reg", R"({"stock":100})");
    const int64_t now = NowMs();
    Put("/v1/campaigns/c1",
        "{\"sku\":\"flash\",\"stock\":" + std::to_string(campaign_stock) +
            ",\"price_cents\":49900,\"starts_at\":" + std::to_string(now - 60'000) +
            ",\"ends_at\":" + std::to_string(now + 3'600'000) +
            ",\"per_user_limit\":" + std::to_string(per_user_limit) +
            ",\"reserve_ttl_ms\":" + std::to_string(reserve_ttl_ms) + "}");
    for (const char* user : {"u1", "u2", "u3", "u4"}) {
      Put(std::string("/v1/users/") + user, R"({"region":"north"})");
    }
  }

  static std::string Order(std::string_view request_id, std::string_view user, std::string_view sku,
                           int quantity) {
    return "{\"request_id\":\"" + std::string(request_id) + "\",\"user\":\"" + std::string(user) +
           "\",\"items\":[{\"sku\":\"" + std::string(sku) +
           "\",\"quantity\":" + std::to_string(quantity) + "}]}";
  }

  // The state a client can see, as the bodies of every read.
  std::string Observe() {
    std::string seen;
    for (const char* target :
         {"/v1/merchants/m1", "/v1/products/flash", "/v1/products/reg", "/v1/inventory/reg",
          "/v1/campaigns/c1", "/v1/users/u1", "/v1/users/u1/orders", "/v1/users/u2/orders",
          "/v1/merchants/m2", "/v1/users/u9"}) {
      const Answer answer = Do("GET", target);
      seen += std::string(target) + " " + std::to_string(answer.status) + " " + answer.body + "\n";
    }
    return seen;
  }

  std::string dir_;
  std::unique_ptr<center::Center> center_;
  std::unique_ptr<http::Handler> handler_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

// When the event loop falls behind (here: a request that holds the only loop for 150 ms), what
// waited longer than shed_waited is answered 503 overloaded at once, not decoded or queued.
TEST_F(ApiTest, RequestsThatWaitedTooLongForTheLoopAreShed) {
  std::unique_ptr<http::Handler> shedding =
      NewCenterHandler(*center_, HandlerOptions{std::nullopt, milliseconds(50)});
  class SlowFirst final : public http::Handler {
   public:
    explicit SlowFirst(http::Handler& next) : next_(next) {}
    std::atomic<bool> inside{false};
    void Handle(const http::Request& request, http::Responder responder) override {
      if (request.path == "/slow") {
        inside = true;
        std::this_thread::sleep_for(milliseconds(150));
        responder.Send(http::Response{200, "{}"});
        return;
      }
      next_.Handle(request, std::move(responder));
    }

   private:
    http::Handler& next_;
  } slow_first(*shedding);
  http::ServerOptions options;
  options.threads = 1;
  auto server = http::Server::Start(options, slow_first);
  ASSERT_TRUE(server.ok());
  std::thread holder([&] {
    http::Client client("127.0.0.1", (*server)->port(), milliseconds(5000));
    ASSERT_TRUE(client.Do("GET", "/slow").ok());
  });
  while (!slow_first.inside) std::this_thread::yield();  // the loop is inside /slow
  http::Client client("127.0.0.1", (*server)->port(), milliseconds(5000));
  auto shed = client.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})");
  holder.join();
  ASSERT_TRUE(shed.ok());
  EXPECT_EQ(shed->status, 503) << shed->body;
  EXPECT_EQ(Parsed(shed->body).ErrorCode(), "overloaded");
  EXPECT_EQ(shed->retry_after_s, 1);
  // Nothing was written; once the loop keeps up, requests go through.
  auto after = client.Do("GET", "/v1/merchants/m1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 404);
  auto put = client.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 200) << put->body;
  (*server)->Stop();
}

TEST_F(ApiTest, Healthz) {
  const Answer answer = Do("GET", "/healthz");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, R"({"status":"ok","center":"c1","role":"primary","epoch":0})");
  const Answer head = Do("HEAD", "/healthz");  // answered as GET, without the body
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(Do("HEAD", "/v1/orders").status, 405);
}

TEST_F(ApiTest, MasterDataPutReturnsTheStoredObjectAndGetReadsIt) {
  struct Case {
    std::string target, body, stored;
  };
  const Case cases[] = {
      {"/v1/merchants/m1", R"({"name":"Acme \"Best\""})", R"({"id":"m1","name":"Acme \"Best\""})"},
      {"/v1/products/p.1",
       R"({"merchant":"m1","name":"Phone","category":"phones","price_cents":99900})",
       R"({"sku":"p.1","merchant":"m1","name":"Phone","category":"phones","price_cents":99900})"},
      {"/v1/users/u-1", R"({"region":"north"})", R"({"id":"u-1","region":"north"})"},
      {"/v1/inventory/p.1", R"({"stock":40})",
       R"({"sku":"p.1","stock":40,"available":40,"reserved":0,"sold":0})"},
      {"/v1/campaigns/c:1",
       R"({"sku":"p.1","stock":7,"price_cents":500,"starts_at":1000,"ends_at":2000,)"
       R"("per_user_limit":2,"reserve_ttl_ms":60000})",
       R"({"id":"c:1","sku":"p.1","price_cents":500,"starts_at":1000,"ends_at":2000,)"
       R"("per_user_limit":2,"reserve_ttl_ms":60000,"stock":7,"available":7,"reserved":0,)"
       R"("sold":0})"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Expect("PUT", c.target, c.body, 200), c.stored) << c.target;
    EXPECT_EQ(Expect("GET", c.target, {}, 200), c.stored) << c.target;
  }
  // A PUT replaces.
  EXPECT_EQ(Expect("PUT", "/v1/merchants/m1", R"({"name":"Acme 2"})", 200),
            R"({"id":"m1","name":"Acme 2"})");
  EXPECT_EQ(Expect("GET", "/v1/merchants/m1", {}, 200), R"({"id":"m1","name":"Acme 2"})");
  EXPECT_EQ(Expect("PUT", "/v1/inventory/p.1", R"({"stock":41})", 200),
            R"({"sku":"p.1","stock":41,"available":41,"reserved":0,"sold":0})");
}

TEST_F(ApiTest, UnknownThingsAreNotFound) {
  LoadCatalogue();
  for (const char* target :
       {"/v1/merchants/nobody", "/v1/products/nothing", "/v1/users/nobody", "/v1/inventory/nothing",
        "/v1/campaigns/none", "/v1/orders/o.c1.999", "/v1/users/nobody/orders"}) {
    const std::string body = Expect("GET", target, {}, 404, "not_found");
    EXPECT_FALSE(Parsed(body).ErrorMessage().empty());
  }
  Expect("PUT", "/v1/products/p2",
         R"({"merchant":"ghost","name":"x","category":"y","price_cents":1})", 404, "not_found");
  Expect("PUT", "/v1/inventory/ghost", R"({"stock":1})", 404, "not_found");
  Expect("POST", "/v1/orders", Order("r-nf", "ghost", "reg", 1), 404, "not_found");
  Expect("POST", "/v1/orders", Order("r-nf2", "u1", "ghost", 1), 404, "not_found");
  Expect("POST", "/v1/orders/o.c1.999/pay", "", 404, "not_found");
  Expect("POST", "/v1/orders/o.c1.999/cancel", "", 404, "not_found");
}

TEST_F(ApiTest, RoutingErrors) {
  for (const char* target : {"/", "/v1", "/v1/", "/v1/merchants", "/v1/things/x",
                             "/v1/orders/o1/refund", "/v1/users/u1/carts", "/v1/merchants/m1/extra",
                             "/v1/orders/o1/pay/now", "/healthz/x", "/v2/orders"}) {
    for (const char* method : {"GET", "POST", "PUT"}) {
      const std::string body = Expect(method, target, "{}", 404, "not_found");
      EXPECT_NE(Parsed(body).ErrorMessage().find(target), std::string::npos) << body;
    }
  }
  struct Case {
    const char* method;
    const char* target;
  };
  for (const Case& c : {Case{"POST", "/v1/merchants/m1"}, Case{"DELETE", "/v1/products/p1"},
                        Case{"POST", "/v1/users/u1"}, Case{"PATCH", "/v1/inventory/s"},
                        Case{"POST", "/v1/campaigns/c1"}, Case{"GET", "/v1/orders"},
                        Case{"PUT", "/v1/orders"}, Case{"PUT", "/v1/orders/o1"},
                        Case{"POST", "/v1/orders/o1"}, Case{"GET", "/v1/orders/o1/pay"},
                        Case{"GET", "/v1/orders/o1/cancel"}, Case{"POST", "/v1/users/u1/orders"},
                        Case{"POST", "/healthz"}, Case{"DELETE", "/healthz"}}) {
    Expect(c.method, c.target, "{}", 405, "method_not_allowed");
  }
  Expect("GET", "/v1/merchants/a%20b", {}, 400, "bad_field");
  Expect("PUT", "/v1/users/", R"({"region":"x"})", 400, "bad_field");
  Expect("GET", "/v1/orders/", {}, 400, "bad_field");
  Expect("POST", "/v1/orders/a*b/pay", "", 400, "bad_field");
  Expect("GET", "/v1/users/a+b/orders", {}, 400, "bad_field");
  Expect("GET", "/v1/campaigns/" + std::string(65, 'c'), {}, 400, "bad_field");
  // The query string is not part of the route.
  Expect("GET", "/healthz?verbose=1", {}, 200);
}

TEST_F(ApiTest, PlaceOrderAndIdempotentRetry) {
  LoadCatalogue();
  const std::string body = R"({"request_id":"r-1","user":"u1","items":[)"
                           R"({"sku":"flash","quantity":2},{"sku":"reg","quantity":3}]})";
  const int64_t before = NowMs();
  const Answer created = Do("POST", "/v1/orders", body);
  ASSERT_EQ(created.status, 201) << created.body;
  const Parsed order(created.body);
  const std::string order_id = order.String("order_id");
  EXPECT_EQ(order_id.rfind("o.c1.", 0), 0u) << order_id;
  EXPECT_EQ(order.String("request_id"), "r-1");
  EXPECT_EQ(order.String("user"), "u1");
  EXPECT_EQ(order.String("status"), "reserved");
  EXPECT_EQ(order.Int("total_cents"), 2 * 49900 + 3 * 1500);
  EXPECT_GE(order.Int("expires_at"), before + 600'000);
  EXPECT_LE(order.Int("expires_at"), NowMs() + 600'000);
  EXPECT_EQ(created.body.substr(created.body.find("\"items\"")),
            R"("items":[{"sku":"flash","quantity":2,"price_cents":49900,"campaign":"c1"},)"
            R"({"sku":"reg","quantity":3,"price_cents":1500}]})");

  // The same request again: the same 201 body, the same order.
  for (int retry = 0; retry < 3; ++retry) {
    const Answer again = Do("POST", "/v1/orders", body);
    EXPECT_EQ(again.status, 201);
    EXPECT_EQ(again.body, created.body);
  }
  // The same request id with another body is refused and changes nothing.
  Expect("POST", "/v1/orders", Order("r-1", "u1", "reg", 1), 409, "request_id_reused");
  Expect("POST", "/v1/orders", Order("r-1", "u2", "flash", 2), 409, "request_id_reused");

  EXPECT_EQ(Expect("GET", "/v1/orders/" + order_id, {}, 200), created.body);
  EXPECT_EQ(Expect("GET", "/v1/users/u1/orders", {}, 200), "{\"orders\":[" + created.body + "]}");
  EXPECT_EQ(Expect("GET", "/v1/users/u2/orders", {}, 200), R"({"orders":[]})");
  const Parsed campaign(Expect("GET", "/v1/campaigns/c1", {}, 200));
  EXPECT_EQ(campaign.Int("available"), 3);
  EXPECT_EQ(campaign.Int("reserved"), 2);
  EXPECT_EQ(campaign.Int("sold"), 0);
  EXPECT_EQ(campaign.Int("stock"), 5);
  const Parsed inventory(Expect("GET", "/v1/inventory/reg", {}, 200));
  EXPECT_EQ(inventory.Int("available"), 97);
  EXPECT_EQ(inventory.Int("reserved"), 3);
}

TEST_F(ApiTest, LimitsSoldOutAndInactiveCampaigns) {
  LoadCatalogue(/*campaign_stock=*/3, /*per_user_limit=*/2);
  Expect("POST", "/v1/orders", Order("a", "u1", "flash", 2), 201);
  Expect("POST", "/v1/orders", Order("b", "u1", "flash", 1), 409, "limit_exceeded");
  Expect("POST", "/v1/orders", Order("c", "u2", "flash", 3), 409, "sold_out");
  Expect("POST", "/v1/orders", Order("d", "u2", "flash", 1), 201);
  Expect("POST", "/v1/orders", Order("e", "u3", "flash", 1), 409, "sold_out");
  // A retry of a remembered error answers the same error.
  Expect("POST", "/v1/orders", Order("b", "u1", "flash", 1), 409, "limit_exceeded");
  Expect("POST", "/v1/orders", Order("big", "u3", "reg", 101), 409, "sold_out");

  // A campaign that has not started yet, on a SKU without regular stock.
  Put("/v1/products/later", R"({"merchant":"m1","name":"Later","category":"x","price_cents":100})");
  const int64_t now = NowMs();
  Put("/v1/campaigns/c2", "{\"sku\":\"later\",\"stock\":5,\"price_cents\":50,\"starts_at\":" +
                              std::to_string(now + 3'600'000) +
                              ",\"ends_at\":" + std::to_string(now + 7'200'000) +
                              ",\"per_user_limit\":1,\"reserve_ttl_ms\":1000}");
  Expect("POST", "/v1/orders", Order("f", "u4", "later", 1), 422, "campaign_not_active");

  // All or nothing: a sold-out item leaves the other one untouched.
  const std::string both = R"({"request_id":"g","user":"u4","items":[)"
                           R"({"sku":"reg","quantity":1},{"sku":"flash","quantity":1}]})";
  Expect("POST", "/v1/orders", both, 409, "sold_out");
  EXPECT_EQ(Parsed(Expect("GET", "/v1/inventory/reg", {}, 200)).Int("available"), 100);
}

TEST_F(ApiTest, PayAndCancelStateMachine) {
  LoadCatalogue(/*campaign_stock=*/5, /*per_user_limit=*/5);
  const std::string first =
      Parsed(Expect("POST", "/v1/orders", Order("p1", "u1", "flash", 2), 201)).String("order_id");
  const std::string second =
      Parsed(Expect("POST", "/v1/orders", Order("p2", "u1", "flash", 1), 201)).String("order_id");
  const std::string pay = "/v1/orders/" + first + "/pay";
  const std::string cancel = "/v1/orders/" + first + "/cancel";

  const Parsed paid(Expect("POST", pay, "", 200));
  EXPECT_EQ(paid.String("status"), "paid");
  EXPECT_EQ(paid.String("order_id"), first);
  EXPECT_EQ(Parsed(Expect("POST", pay, "{}", 200)).String("status"), "paid");  // idempotent
  Expect("POST", cancel, "", 409, "wrong_state");
  EXPECT_EQ(Parsed(Expect("GET", "/v1/orders/" + first, {}, 200)).String("status"), "paid");

  const Parsed cancelled(Expect("POST", "/v1/orders/" + second + "/cancel", "", 200));
  EXPECT_EQ(cancelled.String("status"), "cancelled");
  EXPECT_EQ(Parsed(Expect("POST", "/v1/orders/" + second + "/cancel", "", 200)).String("status"),
            "cancelled");
  Expect("POST", "/v1/orders/" + second + "/pay", "", 409, "wrong_state");

  const Parsed campaign(Expect("GET", "/v1/campaigns/c1", {}, 200));
  EXPECT_EQ(campaign.Int("sold"), 2);
  EXPECT_EQ(campaign.Int("reserved"), 0);
  EXPECT_EQ(campaign.Int("available"), 3);  // the cancelled unit came back

  // Bodies of pay and cancel must be empty.
  Expect("POST", "/v1/orders/" + second + "/pay", "{", 400, "bad_json");
  Expect("POST", "/v1/orders/" + second + "/pay", R"({"amount":1})", 400, "bad_field");
}

TEST_F(ApiTest, ReservationsExpire) {
  LoadCatalogue(/*campaign_stock=*/5, /*per_user_limit=*/5, /*reserve_ttl_ms=*/200);
  const Parsed order(Expect("POST", "/v1/orders", Order("x1", "u1", "flash", 2), 201));
  const std::string order_id = order.String("order_id");
  EXPECT_EQ(Parsed(Expect("GET", "/v1/campaigns/c1", {}, 200)).Int("reserved"), 2);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Parsed(Expect("GET", "/v1/campaigns/c1", {}, 200)).Int("reserved") != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  const Parsed campaign(Expect("GET", "/v1/campaigns/c1", {}, 200));
  EXPECT_EQ(campaign.Int("reserved"), 0);
  EXPECT_EQ(campaign.Int("available"), 5);
  EXPECT_EQ(Parsed(Expect("GET", "/v1/orders/" + order_id, {}, 200)).String("status"), "expired");
  Expect("POST", "/v1/orders/" + order_id + "/pay", "", 409, "wrong_state");
  Expect("POST", "/v1/orders/" + order_id + "/cancel", "", 409, "wrong_state");
}

TEST_F(ApiTest, MalformedRequestsChangeNothing) {
  LoadCatalogue();
  Expect("POST", "/v1/orders", Order("keep", "u1", "flash", 1), 201);
  const std::string before = Observe();

  struct Case {
    const char* method;
    std::string target;
    std::string body;
    const char* code;
  };
  const std::string huge(2 << 20, ' ');
  const std::vector<Case> cases = {
      {"PUT", "/v1/merchants/m2", "", "bad_json"},
      {"PUT", "/v1/merchants/m1", "{\"name\":", "bad_json"},
      {"PUT", "/v1/merchants/m1", R"({"name":"x","extra":1})", "bad_field"},
      {"PUT", "/v1/merchants/m1", R"({"name":5})", "bad_field"},
      {"PUT", "/v1/merchants/m1", "[]", "bad_field"},
      {"PUT", "/v1/products/flash", R"({"merchant":"m1","name":"x","category":"y"})", "bad_field"},
      {"PUT", "/v1/products/flash",
       R"({"merchant":"m1","name":"x","category":"y","price_cents":-1})", "bad_field"},
      {"PUT", "/v1/products/flash",
       R"({"merchant":"m1","name":"x","category":"y","price_cents":1.5})", "bad_field"},
      {"PUT", "/v1/users/u1", R"({"region":null})", "bad_field"},
      {"PUT", "/v1/users/u9", R"({"region":"a","region":"b"})", "bad_field"},
      {"PUT", "/v1/inventory/reg", R"({"stock":1e3})", "bad_field"},
      {"PUT", "/v1/inventory/reg", R"({"stock":9223372036854775808})", "bad_field"},
      {"PUT", "/v1/inventory/reg", R"({"stock":99999999999999999999})", "bad_json"},
      {"PUT", "/v1/inventory/reg", R"({"stock":"5"})", "bad_field"},
      {"PUT", "/v1/campaigns/c1",
       R"({"sku":"flash","stock":1,"price_cents":1,"starts_at":5,"ends_at":5,)"
       R"("per_user_limit":1,"reserve_ttl_ms":1})",
       "bad_field"},
      {"PUT", "/v1/campaigns/c1",
       R"({"sku":"flash","stock":1,"price_cents":1,"starts_at":1,"ends_at":5,)"
       R"("per_user_limit":0,"reserve_ttl_ms":1})",
       "bad_field"},
      {"POST", "/v1/orders", "{\"request_id\":\"r\",", "bad_json"},
      {"POST", "/v1/orders", "\xff\xfe", "bad_json"},
      {"POST", "/v1/orders", std::string(100, '[') + std::string(100, ']'), "bad_json"},
      {"POST", "/v1/orders", R"({"request_id":"r","user":"u1","items":[]})", "bad_field"},
      {"POST", "/v1/orders", R"({"request_id":"r","user":"u1"})", "bad_field"},
      {"POST", "/v1/orders",
       R"({"request_id":"r","user":"u 1","items":[{"sku":"reg","quantity":1}]})", "bad_field"},
      {"POST", "/v1/orders",
       R"({"request_id":"r","user":"u1","items":[{"sku":"reg","quantity":0}]})", "bad_field"},
      {"POST", "/v1/orders",
       R"({"request_id":"r","user":"u1","items":[{"sku":"reg","quantity":1,"note":"x"}]})",
       "bad_field"},
      {"POST", "/v1/orders",
       R"({"request_id":"r","user":"u1","items":[{"sku":"reg","quantity":1},{"sku":"reg","quantity":1}]})",
       "bad_field"},
      {"POST", "/v1/orders",
       R"({"request_id":"keep","user":"u1","items":[{"sku":"flash","quantity":1}],"x":1})",
       "bad_field"},
      {"POST", "/v1/orders", "{\"request_id\":\"r\",\"user\":\"u1\",\"items\":[" + huge + "]}",
       "body_too_large"},
  };
  for (const Case& c : cases) {
    const Answer answer = Do(c.method, c.target, c.body);
    EXPECT_EQ(answer.status, 400) << c.method << " " << c.target << " " << c.body.substr(0, 200);
    EXPECT_EQ(Parsed(answer.body).ErrorCode(), c.code) << c.body.substr(0, 200);
    EXPECT_FALSE(Parsed(answer.body).ErrorMessage().empty());
  }
  EXPECT_EQ(Observe(), before);
  // A corrected request with the id of a refused one is a new request.
  Expect("POST", "/v1/orders", Order("r", "u2", "reg", 1), 201);
}

TEST_F(ApiTest, BadFieldMessagesNameTheField) {
  LoadCatalogue();
  const std::string body = Expect(
      "POST", "/v1/orders",
      R"({"request_id":"r","user":"u1","items":[{"sku":"a","quantity":1},{"sku":"b","quantity":1},)"
      R"({"sku":"c","quantity":1000001}]})",
      400, "bad_field");
  EXPECT_EQ(Parsed(body).ErrorMessage(),
            "items[2].quantity: expected an integer between 1 and 1000000");
  EXPECT_EQ(Parsed(Expect("PUT", "/v1/users/u1", "{}", 400, "bad_field")).ErrorMessage(),
            "region is required");
}

TEST_F(ApiTest, ConcurrentBuyersNeverOversell) {
  LoadCatalogue(/*campaign_stock=*/20, /*per_user_limit=*/1000);
  for (int i = 0; i < 8; ++i) Put("/v1/users/b" + std::to_string(i), R"({"region":"x"})");
  std::atomic<int> created{0}, sold_out{0}, other{0};
  std::vector<std::thread> buyers;
  for (int b = 0; b < 8; ++b) {
    buyers.emplace_back([&, b] {
      http::Client client("127.0.0.1", server_->port(), milliseconds(10'000));
      for (int i = 0; i < 10; ++i) {
        const std::string body = Order("b" + std::to_string(b) + "-" + std::to_string(i),
                                       "b" + std::to_string(b), "flash", 1);
        auto answer = client.Do("POST", "/v1/orders", body);
        if (answer.ok() && answer->status == 201) {
          ++created;
        } else if (answer.ok() && answer->status == 409) {
          ++sold_out;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& buyer : buyers) buyer.join();
  EXPECT_EQ(created.load(), 20);
  EXPECT_EQ(sold_out.load(), 60);
  EXPECT_EQ(other.load(), 0);
  const Parsed campaign(Expect("GET", "/v1/campaigns/c1", {}, 200));
  EXPECT_EQ(campaign.Int("available"), 0);
  EXPECT_EQ(campaign.Int("reserved"), 20);
}

TEST_F(ApiTest, AcknowledgedOrdersSurviveARestart) {
  LoadCatalogue();
  const Answer created = Do("POST", "/v1/orders", Order("durable", "u1", "flash", 1));
  ASSERT_EQ(created.status, 201);
  const std::string order_id = Parsed(created.body).String("order_id");
  Expect("POST", "/v1/orders/" + order_id + "/pay", "", 200);
  Stop();
  Start();
  const Parsed order(Expect("GET", "/v1/orders/" + order_id, {}, 200));
  EXPECT_EQ(order.String("status"), "paid");
  // The retry still answers the original 201 body.
  const Answer again = Do("POST", "/v1/orders", Order("durable", "u1", "flash", 1));
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, created.body);
  EXPECT_EQ(Parsed(Expect("GET", "/v1/campaigns/c1", {}, 200)).Int("sold"), 1);
}

TEST_F(ApiTest, StoppedCenterAnswersOverloadedReadsAndUnavailableWrites) {
  LoadCatalogue();
  center_->Stop();  // the server keeps running: requests still reach the handler
  const Answer read = Do("GET", "/v1/campaigns/c1");
  EXPECT_EQ(read.status, 503);
  EXPECT_EQ(Parsed(read.body).ErrorCode(), "overloaded");
  EXPECT_EQ(read.retry_after_s, 1);
  const Answer write = Do("POST", "/v1/orders", Order("late", "u1", "flash", 1));
  EXPECT_EQ(write.status, 503);
  EXPECT_EQ(Parsed(write.body).ErrorCode(), "unavailable");
  Expect("GET", "/healthz", {}, 200);
}

TEST_F(ApiTest, OversizedHeadersAreRefusedByTheServer) {
  const Answer answer = Do("GET", "/v1/users/" + std::string(20'000, 'u'));
  EXPECT_EQ(answer.status, 431);
  EXPECT_EQ(Parsed(answer.body).ErrorCode(), "headers_too_large");
}

}  // namespace
}  // namespace surge::api
