// End-to-end tests of the gateway: three fake centers (http::Servers whose handlers record what
// they receive and answer like a center), a topology made from their ports, and clients.
#include "gateway/gateway.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/gateway_testing.h"
#include "gateway/router.h"
#include "http/http.h"
#include "http/test_util.h"
#include "json/json.h"

namespace surge::gateway {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct Received {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
};

// A stand-in for a center. Answers:
//   POST /v1/orders                201 {"order_id":"o.<id>.<n>","center":<id>}, or 409 sold_out
//                                  when the body mentions "sold-out-sku"
//   a target holding "misplaced"   421 wrong_center
//   a target holding "busy"        503 overloaded with Retry-After: 7
//   a target holding "late"        200, 100 ms later from another thread
//   anything else                  200 {"center":<id>,"method":..,"target":..}
// While holding, it keeps every responder until Release.
class FakeCenter final : public testing::FakeServer {
 public:
  explicit FakeCenter(std::string id) : id_(std::move(id)) {}
  ~FakeCenter() override {
    StopServer();
    Release();
  }

  void Handle(const http::Request& request, http::Responder responder) override {
    std::unique_lock<std::mutex> lock(mutex_);
    received_.push_back({std::string(request.method), std::string(request.target),
                         std::string(request.body), std::string(request.content_type)});
    if (holding_) {
      held_.push_back(std::move(responder));
      return;
    }
    lock.unlock();
    if (request.target.find("late") != std::string_view::npos) {
      std::thread([responder = std::move(responder), response = Answer(request)]() mutable {
        std::this_thread::sleep_for(milliseconds(100));
        responder.Send(std::move(response));
      }).detach();
      return;
    }
    responder.Send(Answer(request));
  }

  http::Response Answer(const http::Request& request) {
    http::Response response;
    if (request.method == "POST" && request.path == "/v1/orders") {
      if (request.body.find("sold-out-sku") != std::string_view::npos) {
        return http::ErrorResponse(Status(Code::kSoldOut, "campaign c1 is sold out"));
      }
      response.status = 201;
      response.body = R"({"order_id":"o.)" + id_ + "." + std::to_string(++orders_) +
                      R"(","center":")" + id_ + R"("})";
      return response;
    }
    if (request.target.find("misplaced") != std::string_view::npos) {
      response.status = 421;
      response.body = R"({"error":{"code":"wrong_center","message":"not here","center":"m"}})";
      return response;
    }
    if (request.target.find("busy") != std::string_view::npos) {
      response = http::ErrorResponse(Status(Code::kOverloaded, "queue full"));
      response.retry_after_s = 7;
      return response;
    }
    response.body = R"({"center":")" + id_ + R"(","method":")" + std::string(request.method) +
                    R"(","target":")" + std::string(request.target) + R"("})";
    return response;
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    holding_ = true;
  }
  void Release() {
    std::vector<http::Responder> held;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      holding_ = false;
      held.swap(held_);
    }
    http::Response ok;
    ok.body = R"({"released":true})";
    for (http::Responder& responder : held) responder.Send(ok);
  }

  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  size_t received_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_.size();
  }
  const std::string& id() const { return id_; }

 private:
  const std::string id_;
  std::atomic<int> orders_{0};
  std::mutex mutex_;
  std::vector<Received> received_;
  bool holding_ = false;
  std::vector<http::Responder> held_;
};

// Waits up to 5 s for `condition`.
template <typename Condition>
bool WaitFor(Condition condition) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

// Established TCP connections (IPv4) whose remote port is `port`: the gateway's upstream
// connections to a center, counted by the kernel.
int EstablishedConnectionsTo(uint16_t port) {
  std::ifstream file("/proc/net/tcp");
  std::string line;
  std::getline(file, line);  // header
  int count = 0;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const size_t colon = remote.find(':');
    if (colon == std::string::npos) continue;
    const unsigned long remote_port = std::stoul(remote.substr(colon + 1), nullptr, 16);
    if (remote_port == port && state == "01") ++count;
  }
  return count;
}

std::string ErrorCode(const std::string& body) {
  json::Document document;
  if (!document.Parse(body).ok()) return "<not json: " + body + ">";
  auto error = document.root().Field("error");
  if (!error.ok()) return "<no error>";
  auto code = error->Field("code");
  if (!code.ok()) return "<no code>";
  auto text = code->String();
  return text.ok() ? std::string(*text) : "<code not a string>";
}

std::string StringField(const std::string& body, std::string_view key) {
  json::Document document;
  if (!document.Parse(body).ok()) return "<not json: " + body + ">";
  auto value = document.root().Field(key);
  if (!value.ok()) return "<missing " + std::string(key) + ">";
  auto text = value->String();
  return text.ok() ? std::string(*text) : "<not a string>";
}

std::string OrderBody(std::string_view request_id, std::string_view user,
                      std::string_view sku = "sku1") {
  return R"({"request_id":")" + std::string(request_id) + R"(","user":")" + std::string(user) +
         R"(","items":[{"sku":")" + std::string(sku) + R"(","quantity":1}]})";
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"m", "s1", "s.2"}) {
      centers_.push_back(std::make_unique<FakeCenter>(id));
      centers_.back()->Start();
    }
  }
  void TearDown() override {
    if (gateway_) gateway_->Stop();
    for (auto& center : centers_) center->Release();
  }

  std::string TopologyText() const {
    return "slices = 64\nmaster = \"m\"\n"
           "[[center]]\nid = \"m\"\naddress = \"127.0.0.1:" +
           std::to_string(centers_[0]->port()) +
           "\"\nslices = [\"0-20\"]\n"
           "[[center]]\nid = \"s1\"\naddress = \"127.0.0.1:" +
           std::to_string(centers_[1]->port()) +
           "\"\nslices = [\"21-41\"]\n"
           "[[center]]\nid = \"s.2\"\naddress = \"127.0.0.1:" +
           std::to_string(centers_[2]->port()) + "\"\nslices = [\"42-63\"]\n";
  }

  void StartGateway(Options options = Options()) {
    auto topology = topology::Parse(TopologyText(), "test.toml");
    ASSERT_TRUE(topology.ok()) << topology.status().ToString();
    options.topology = std::move(topology).value();
    if (options.threads == 0) options.threads = 2;
    auto gateway = Gateway::Start(options);
    ASSERT_TRUE(gateway.ok()) << gateway.status().ToString();
    gateway_ = std::move(gateway).value();
  }

  const topology::Topology& Topology() {
    if (!topology_) {
      auto parsed = topology::Parse(TopologyText(), "test.toml");
      SURGE_ASSERT(parsed.ok());
      topology_.emplace(std::move(parsed).value());
    }
    return *topology_;
  }

  FakeCenter& CenterNamed(std::string_view id) {
    for (auto& center : centers_) {
      if (center->id() == id) return *center;
    }
    SURGE_ASSERT_MSG(false, "no such fake center");
    return *centers_[0];
  }

  // A user whose home is `center_id`.
  std::string UserAt(std::string_view center_id) {
    for (int i = 0;; ++i) {
      std::string user = "user" + std::to_string(i);
      if (Topology().HomeOf(user).id == center_id) return user;
    }
  }

  http::Client Client(milliseconds timeout = milliseconds(5000)) {
    return http::Client("127.0.0.1", gateway_->port(), timeout);
  }

  size_t ReceivedByAll() {
    size_t total = 0;
    for (auto& center : centers_) total += center->received_count();
    return total;
  }

  std::vector<std::unique_ptr<FakeCenter>> centers_;
  std::unique_ptr<Gateway> gateway_;
  std::optional<topology::Topology> topology_;
};

TEST_F(GatewayTest, MasterDataGoesToTheMaster) {
  StartGateway();
  http::Client client = Client();
  for (const char* collection : {"merchants", "products", "users", "inventory", "campaigns"}) {
    const std::string target = std::string("/v1/") + collection + "/id-" + collection;
    auto put = client.Do("PUT", target, R"({"name":"x"})");
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->status, 200);
    EXPECT_EQ(StringField(put->body, "center"), "m") << target;
    auto get = client.Do("GET", target + "?view=full");
    ASSERT_TRUE(get.ok());
    EXPECT_EQ(StringField(get->body, "center"), "m");
    EXPECT_EQ(StringField(get->body, "target"), target + "?view=full");  // query kept
  }
  const std::vector<Received> received = CenterNamed("m").received();
  ASSERT_EQ(received.size(), 10u);
  EXPECT_EQ(received[0].method, "PUT");
  EXPECT_EQ(received[0].body, R"({"name":"x"})");
  EXPECT_EQ(received[0].content_type, "application/json");
  EXPECT_EQ(received[1].method, "GET");
  EXPECT_EQ(CenterNamed("s1").received_count() + CenterNamed("s.2").received_count(), 0u);
}

TEST_F(GatewayTest, HeadIsForwardedAsGetAndAnsweredWithoutABody) {
  StartGateway();
  http::testing::RawSocket socket(gateway_->port());
  ASSERT_TRUE(socket.Send("HEAD /v1/products/p1 HTTP/1.1\r\nHost: g\r\n\r\n"));
  auto response = socket.Read(milliseconds(5000), /*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_NE(response->Header("content-length"), "0");  // the length of the GET's body
  const auto received = CenterNamed("m").received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "GET");
}

TEST_F(GatewayTest, OrdersGoToTheUsersHomeCenter) {
  StartGateway();
  http::Client client = Client();
  std::map<std::string, int> per_center;
  for (int i = 0; i < 100; ++i) {
    const std::string user = "shopper-" + std::to_string(i * 7919);
    const std::string home = Topology().HomeOf(user).id;
    auto response = client.Do("POST", "/v1/orders", OrderBody("r" + std::to_string(i), user));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    ASSERT_EQ(response->status, 201) << response->body;
    EXPECT_EQ(StringField(response->body, "center"), home) << user;
    EXPECT_THAT(StringField(response->body, "order_id"), HasSubstr("o." + home + "."));
    ++per_center[home];
    // And the home center saw exactly this body.
    const auto received = CenterNamed(home).received();
    ASSERT_FALSE(received.empty());
    EXPECT_EQ(received.back().body, OrderBody("r" + std::to_string(i), user));
  }
  EXPECT_EQ(per_center.size(), 3u) << "100 users should land on all three centers";
  EXPECT_EQ(ReceivedByAll(), 100u);
}

TEST_F(GatewayTest, UserOrdersGoToTheUsersHomeCenter) {
  StartGateway();
  http::Client client = Client();
  for (const char* center : {"m", "s1", "s.2"}) {
    const std::string user = UserAt(center);
    auto response = client.Do("GET", "/v1/users/" + user + "/orders");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(StringField(response->body, "center"), center);
  }
  // The user's master record is master data: GET /v1/users/{id} goes to the master.
  auto response = client.Do("GET", "/v1/users/" + UserAt("s1"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(StringField(response->body, "center"), "m");
}

TEST_F(GatewayTest, OrderIdsNameTheirCenter) {
  StartGateway();
  http::Client client = Client();
  struct Case {
    const char* method;
    const char* target;
    const char* center;
  };
  for (const Case& c :
       {Case{"GET", "/v1/orders/o.s1.5", "s1"}, Case{"POST", "/v1/orders/o.s1.5/pay", "s1"},
        Case{"POST", "/v1/orders/o.s.2.12/cancel", "s.2"}, Case{"GET", "/v1/orders/o.m.1", "m"}}) {
    auto response = client.Do(c.method, c.target);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200) << c.target;
    EXPECT_EQ(StringField(response->body, "center"), c.center) << c.target;
    EXPECT_EQ(StringField(response->body, "target"), c.target);
  }
  const size_t before = ReceivedByAll();
  for (const char* target : {"/v1/orders/o.zz.1", "/v1/orders/o.zz.1/pay", "/v1/orders/x.s1.1",
                             "/v1/orders/o.5", "/v1/orders/o.s1"}) {
    const bool pay = std::string_view(target).ends_with("/pay");
    auto response = client.Do(pay ? "POST" : "GET", target);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 404) << target;
    EXPECT_EQ(ErrorCode(response->body), "not_found") << target;
  }
  auto response = client.Do("GET", "/v1/orders/o.zz.1");
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(response->body, HasSubstr("no center zz"));
  EXPECT_EQ(ReceivedByAll(), before);
}

// The center's answers come back as they were: status, body, Retry-After.
TEST_F(GatewayTest, CenterAnswersAreRelayedUnchanged) {
  StartGateway();
  http::Client client = Client();
  const std::string user = UserAt("s1");
  auto created = client.Do("POST", "/v1/orders", OrderBody("r1", user));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->body, R"({"order_id":"o.s1.1","center":"s1"})");
  EXPECT_EQ(created->content_type, "application/json");

  auto sold_out = client.Do("POST", "/v1/orders", OrderBody("r2", user, "sold-out-sku"));
  ASSERT_TRUE(sold_out.ok());
  EXPECT_EQ(sold_out->status, 409);
  EXPECT_EQ(sold_out->body,
            http::ErrorResponse(Status(Code::kSoldOut, "campaign c1 is sold out")).body);

  auto misplaced = client.Do("GET", "/v1/products/misplaced");
  ASSERT_TRUE(misplaced.ok());
  EXPECT_EQ(misplaced->status, 421);
  EXPECT_EQ(misplaced->body,
            R"({"error":{"code":"wrong_center","message":"not here","center":"m"}})");

  auto busy = client.Do("GET", "/v1/orders/o.s.2.busy");
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->retry_after_s, 7);
  EXPECT_EQ(busy->body, http::ErrorResponse(Status(Code::kOverloaded, "queue full")).body);

  auto plain = client.Do("GET", "/v1/campaigns/c1");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->retry_after_s, -1);
}

TEST_F(GatewayTest, AnswersLocalRoutesAndBadRequestsItself) {
  StartGateway();
  http::Client client = Client();
  auto health = client.Do("GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok","role":"gateway"})");
  auto topology = client.Do("GET", "/v1/topology");
  ASSERT_TRUE(topology.ok());
  EXPECT_EQ(topology->status, 200);
  EXPECT_EQ(topology->body, Topology().ToJson());

  struct Case {
    const char* method;
    const char* target;
    std::string body;
    int status;
    const char* code;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/nothing/here", "", 404, "not_found", "no route for /v1/nothing/here"},
      {"GET", "/v2/orders", "", 404, "not_found", "no route"},
      {"DELETE", "/v1/products/p1", "", 405, "method_not_allowed", "use GET, PUT"},
      {"GET", "/v1/orders", "", 405, "method_not_allowed", "use POST"},
      {"PUT", "/healthz", "{}", 405, "method_not_allowed", "use GET"},
      {"GET", "/v1/products/bad%20id", "", 400, "bad_field", "sku (in the path)"},
      {"GET", "/v1/users/", "", 400, "bad_field", "user id (in the path)"},
      {"POST", "/v1/orders/o.s1.1%21/pay", "", 400, "bad_field", "order id (in the path)"},
      {"POST", "/v1/orders", "{not json", 400, "bad_json", ""},
      {"POST", "/v1/orders", "", 400, "bad_json", ""},
      {"POST", "/v1/orders", "[1,2]", 400, "bad_field", "body"},
      {"POST", "/v1/orders", R"({"request_id":"r1","items":[]})", 400, "bad_field",
       "user is required"},
      {"POST", "/v1/orders", R"({"user":"u1","items":[]})", 400, "bad_field",
       "request_id is required"},
      {"POST", "/v1/orders", R"({"request_id":"r1","user":7})", 400, "bad_field", "user"},
      {"POST", "/v1/orders", R"({"request_id":"r1","user":"a b"})", 400, "bad_field", "user"},
      {"POST", "/v1/orders", R"({"request_id":"r1","user":"u1","extra":1})", 400, "bad_field",
       "extra"},
  };
  for (const Case& c : cases) {
    auto response = client.Do(c.method, c.target, c.body);
    ASSERT_TRUE(response.ok()) << c.target;
    EXPECT_EQ(response->status, c.status) << c.method << " " << c.target << " " << c.body;
    EXPECT_EQ(ErrorCode(response->body), c.code) << c.target << " " << c.body;
    EXPECT_THAT(response->body, HasSubstr(c.message_part)) << c.target << " " << c.body;
  }
  EXPECT_EQ(ReceivedByAll(), 0u) << "nothing refused by the gateway may reach a center";
}

// The same errors a center gives, word for word, for bodies the gateway refuses (the center's
// decoder is api::DecodePlaceOrder; these are its messages).
TEST(Router, RefusesBadOrderBodiesLikeACenter) {
  auto topology = topology::Parse(
      "slices = 4\nmaster = \"m\"\n[[center]]\nid = \"m\"\naddress = \"127.0.0.1:1\"\n"
      "slices = [\"0-3\"]\n",
      "t.toml");
  ASSERT_TRUE(topology.ok());
  const Router router(*topology);
  auto route = [&](std::string_view body) {
    http::Request request;
    request.method = "POST";
    request.target = request.path = "/v1/orders";
    request.body = body;
    return router.Route(request);
  };
  const Destination missing = route(R"({"request_id":"r1"})");
  ASSERT_TRUE(missing.answer_here);
  EXPECT_EQ(missing.answer.body,
            http::ErrorResponse(Status(Code::kBadField, "user is required")).body);
  const Destination forwarded = route(R"({"request_id":"r1","user":"u1","items":"anything"})");
  EXPECT_FALSE(forwarded.answer_here) << "items are the center's to check";
  EXPECT_EQ(forwarded.center, 0u);
  EXPECT_EQ(router.CenterOfOrder("o.m.77").value(), 0u);
  EXPECT_FALSE(router.CenterOfOrder("o.m").ok());
}

// Many requests, from many clients, travel over the few upstream connections the options allow.
TEST_F(GatewayTest, UpstreamConnectionsAreKeptAliveAndReused) {
  Options options;
  options.threads = 2;
  options.upstream_threads = 2;
  options.upstream_connections_per_center = 2;  // one per upstream loop
  StartGateway(options);
  constexpr int kClients = 4;
  constexpr int kRequestsPerClient = 100;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      http::Client client = Client();
      for (int i = 0; i < kRequestsPerClient; ++i) {
        const std::string target = (i % 2 == 0) ? "/v1/products/p" + std::to_string(i)
                                                : "/v1/orders/o.s1." + std::to_string(t);
        auto response = client.Do("GET", target);
        if (response.ok() && response->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kClients * kRequestsPerClient);
  const auto stats = gateway_->stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].center_id, "m");
  EXPECT_EQ(stats[0].forwarded, uint64_t{kClients * kRequestsPerClient / 2});
  EXPECT_EQ(stats[0].answered, stats[0].forwarded);
  EXPECT_EQ(stats[0].in_flight, 0u);
  EXPECT_LE(stats[0].connections_opened, 2u);
  EXPECT_LE(stats[1].connections_opened, 2u);
  EXPECT_EQ(stats[2].connections_opened, 0u);
  // The kernel agrees: the connections are still open, and there are no more of them.
  EXPECT_GE(EstablishedConnectionsTo(centers_[0]->port()), 1);
  EXPECT_LE(EstablishedConnectionsTo(centers_[0]->port()), 2);
  EXPECT_LE(EstablishedConnectionsTo(centers_[1]->port()), 2);
  EXPECT_EQ(EstablishedConnectionsTo(centers_[2]->port()), 0);
}

// A center that stops answering fills its in-flight bound; beyond it the gateway sheds at once,
// while the other centers keep being served.
TEST_F(GatewayTest, ShedsBeyondTheInFlightBoundOfASlowCenter) {
  Options options;
  options.in_flight_per_center_max = 8;
  StartGateway(options);
  FakeCenter& master = CenterNamed("m");
  master.Hold();
  http::testing::RawSocket pipelined(gateway_->port());
  std::string requests;
  for (int i = 0; i < 8; ++i)
    requests += "GET /v1/products/p" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(pipelined.Send(requests));
  ASSERT_TRUE(WaitFor([&] { return master.received_count() == 8; }));

  http::Client client = Client();
  const auto started = Clock::now();
  auto shed = client.Do("PUT", "/v1/products/p9", R"({"name":"x"})");
  ASSERT_TRUE(shed.ok());
  EXPECT_LT(Clock::now() - started, milliseconds(1000)) << "shedding must not wait";
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(ErrorCode(shed->body), "overloaded");
  EXPECT_THAT(shed->body, HasSubstr("center m"));
  EXPECT_EQ(shed->retry_after_s, 1);
  EXPECT_EQ(master.received_count(), 8u) << "a shed request never reaches the center";

  // The other centers keep flowing.
  for (const char* center : {"s1", "s.2"}) {
    auto response = client.Do("GET", "/v1/users/" + UserAt(center) + "/orders");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(StringField(response->body, "center"), center);
  }
  EXPECT_EQ(gateway_->stats()[0].shed_overloaded, 1u);
  EXPECT_EQ(gateway_->stats()[0].in_flight, 8u);

  master.Release();
  for (int i = 0; i < 8; ++i) {
    auto response = pipelined.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, R"({"released":true})");
  }
  ASSERT_TRUE(WaitFor([&] { return gateway_->stats()[0].in_flight == 0; }));
  auto after = client.Do("GET", "/v1/products/p1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST_F(GatewayTest, AStoppedCenterIsUnavailableAtOnceAndRecovers) {
  Options options;
  options.reconnect_backoff = milliseconds(50);
  StartGateway(options);
  http::Client client = Client();
  const std::string target = "/v1/users/" + UserAt("s1") + "/orders";
  auto before = client.Do("GET", target);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->status, 200);

  FakeCenter& s1 = CenterNamed("s1");
  const uint16_t port = s1.port();
  s1.StopServer();
  for (int i = 0; i < 3; ++i) {
    const auto started = Clock::now();
    auto response = client.Do("GET", target);
    ASSERT_TRUE(response.ok());
    EXPECT_LT(Clock::now() - started, milliseconds(1000));
    EXPECT_EQ(response->status, 503);
    EXPECT_EQ(ErrorCode(response->body), "unavailable");
    EXPECT_THAT(response->body, HasSubstr("center s1 (127.0.0.1:" + std::to_string(port) + ")"));
  }
  // The others are not affected.
  auto other = client.Do("GET", "/v1/products/p1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 200);

  s1.Start(port);
  EXPECT_TRUE(WaitFor([&] {
    auto response = client.Do("GET", target);
    return response.ok() && response->status == 200 &&
           StringField(response->body, "center") == "s1";
  }));
}

TEST_F(GatewayTest, ACenterThatDoesNotAnswerInTimeIsUnavailable) {
  Options options;
  options.request_timeout = milliseconds(200);
  StartGateway(options);
  CenterNamed("s.2").Hold();
  http::Client client = Client();
  const auto started = Clock::now();
  auto response = client.Do("GET", "/v1/orders/o.s.2.1");
  ASSERT_TRUE(response.ok());
  EXPECT_GE(Clock::now() - started, milliseconds(200));
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(ErrorCode(response->body), "unavailable");
  EXPECT_THAT(response->body, HasSubstr("center s.2"));
  EXPECT_THAT(response->body, HasSubstr("no answer within 200 ms"));
  EXPECT_EQ(gateway_->stats()[2].in_flight, 0u);
  // A late answer on the abandoned connection cannot be mistaken for a later request's.
  CenterNamed("s.2").Release();
  auto next = client.Do("GET", "/v1/orders/o.s.2.2");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(StringField(next->body, "target"), "/v1/orders/o.s.2.2");
}

// Pipelined requests to different centers (a slow one first) come back in request order.
TEST_F(GatewayTest, PipelinedRequestsKeepTheirOrder) {
  StartGateway();
  http::testing::RawSocket socket(gateway_->port());
  const std::string order = OrderBody("r1", UserAt("s.2"));
  ASSERT_TRUE(socket.Send(
      "GET /v1/products/late HTTP/1.1\r\n\r\n"
      "GET /v1/orders/o.s1.4 HTTP/1.1\r\n\r\n"
      "GET /healthz HTTP/1.1\r\n\r\n"
      "POST /v1/orders HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(order.size()) + "\r\n\r\n" + order + "GET /v1/nowhere HTTP/1.1\r\n\r\n"));
  auto late = socket.Read();
  auto s1 = socket.Read();
  auto health = socket.Read();
  auto placed = socket.Read();
  auto nowhere = socket.Read();
  ASSERT_TRUE(late && s1 && health && placed && nowhere);
  EXPECT_EQ(StringField(late->body, "target"), "/v1/products/late");
  EXPECT_EQ(StringField(s1->body, "target"), "/v1/orders/o.s1.4");
  EXPECT_EQ(StringField(health->body, "role"), "gateway");
  EXPECT_EQ(placed->status, 201);
  EXPECT_EQ(StringField(placed->body, "center"), "s.2");
  EXPECT_EQ(nowhere->status, 404);
}

// Concurrent clients on every route at once: every answer is the right one.
TEST_F(GatewayTest, ConcurrentClientsGetTheirOwnAnswers) {
  Options options;
  options.upstream_pipeline_depth_max = 4;  // some requests queue behind full pipelines
  options.upstream_connections_per_center = 2;
  StartGateway(options);
  constexpr int kClients = 6;
  constexpr int kRequests = 150;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      http::Client client = Client();
      for (int i = 0; i < kRequests; ++i) {
        const std::string center = i % 3 == 0 ? "m" : (i % 3 == 1 ? "s1" : "s.2");
        const std::string target = "/v1/orders/o." + center + "." + std::to_string(t * 1000 + i);
        auto response = client.Do("GET", target);
        if (!response.ok() || response->status != 200 ||
            StringField(response->body, "target") != target) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  for (const CenterStats& stats : gateway_->stats()) {
    EXPECT_EQ(stats.forwarded, uint64_t{kClients * kRequests / 3}) << stats.center_id;
    EXPECT_EQ(stats.answered, stats.forwarded);
    EXPECT_EQ(stats.unavailable, 0u);
  }
}

// A "center" that answers with bytes that are not HTTP: the gateway answers unavailable, naming
// it, and does not use that connection again.
TEST(GatewayUpstream, AMalformedResponseMakesTheCenterUnavailable) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const uint16_t port = ntohs(address.sin_port);
  std::atomic<int> accepted{0};
  std::thread garbage([&] {
    for (int i = 0; i < 2; ++i) {
      const int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      accepted.fetch_add(1);
      char request[4096];
      [[maybe_unused]] const ssize_t n = recv(fd, request, sizeof(request), 0);
      constexpr std::string_view kGarbage = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
      [[maybe_unused]] const ssize_t m = send(fd, kGarbage.data(), kGarbage.size(), MSG_NOSIGNAL);
      std::this_thread::sleep_for(milliseconds(200));  // the gateway closes first
      close(fd);
    }
  });
  auto topology = topology::Parse(
      "slices = 1\nmaster = \"bad\"\n[[center]]\nid = \"bad\"\n"
      "address = \"127.0.0.1:" +
          std::to_string(port) + "\"\nslices = [0]\n",
      "t.toml");
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  Options options;
  options.topology = *topology;
  options.threads = 1;
  auto gateway = Gateway::Start(options);
  ASSERT_TRUE(gateway.ok());
  http::Client client("127.0.0.1", (*gateway)->port(), milliseconds(5000));
  for (int i = 0; i < 2; ++i) {
    auto response = client.Do("GET", "/v1/products/p1");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 503);
    EXPECT_EQ(ErrorCode(response->body), "unavailable");
    EXPECT_THAT(response->body, HasSubstr("center bad (127.0.0.1:" + std::to_string(port) +
                                          "): sent a malformed response"));
  }
  EXPECT_EQ(accepted.load(), 2) << "each failed connection is replaced by a new one";
  (*gateway)->Stop();
  shutdown(listener, SHUT_RDWR);
  close(listener);
  garbage.join();
}

TEST(GatewayOptions, AreChecked) {
  Options options;
  EXPECT_EQ(Gateway::Start(options).status().code(), Code::kInvalidArgument);  // no topology
  auto topology = topology::Parse(
      "slices = 1\nmaster = \"m\"\n[[center]]\nid = \"m\"\naddress = \"no-such-host.invalid:1\"\n"
      "slices = [0]\n",
      "t.toml");
  ASSERT_TRUE(topology.ok());
  options.topology = *topology;
  auto unresolved = Gateway::Start(options);
  EXPECT_EQ(unresolved.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(unresolved.status().message(), HasSubstr("center m"));
  options.in_flight_per_center_max = 0;
  EXPECT_EQ(Gateway::Start(options).status().code(), Code::kInvalidArgument);
}

// The brain's four paths go to the brain, unchanged; a wrong method is answered here; without
// a brain, or with one that cannot be reached, they answer 503 unavailable.
TEST_F(GatewayTest, BrainPathsAreRoutedToTheBrain) {
  FakeCenter brain("brain");
  brain.Start();
  Options options;
  options.brain = topology::Address{"127.0.0.1", brain.port()};
  StartGateway(options);
  http::Client client = Client();
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"POST", "/v1/events"},
      {"GET", "/v1/recommendations?user=u1&k=3"},
      {"GET", "/v1/forecast?sku=p1&days=2&by=center"},
      {"GET", "/v1/audience?sku=p1&n=5"},
  };
  for (const auto& [method, target] : requests) {
    auto response = client.Do(method, target, method == "POST" ? R"({"user":"u1"})" : "");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200) << target;
    EXPECT_EQ(StringField(response->body, "center"), "brain") << target;
    EXPECT_EQ(StringField(response->body, "target"), target);
  }
  ASSERT_EQ(brain.received_count(), 4u);
  EXPECT_EQ(brain.received()[0].body, R"({"user":"u1"})");
  EXPECT_EQ(ReceivedByAll(), 0u) << "no center sees the brain's paths";
  auto wrong = client.Do("GET", "/v1/events");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(ErrorCode(wrong->body), "method_not_allowed");
  EXPECT_EQ(brain.received_count(), 4u);
  brain.StopServer();
  auto down = client.Do("GET", "/v1/recommendations?user=u1");
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(ErrorCode(down->body), "unavailable");
  EXPECT_THAT(down->body, HasSubstr("the brain"));
}

TEST_F(GatewayTest, WithoutABrainItsPathsAreUnavailable) {
  StartGateway();
  http::Client client = Client();
  auto response = client.Do("GET", "/v1/forecast?sku=p1");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(ErrorCode(response->body), "unavailable");
  EXPECT_EQ(ReceivedByAll(), 0u);
  // Centers and the rest of the API are as before.
  auto health = client.Do("GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace surge::gateway
