// A center that knows its topology answers what belongs elsewhere with 421 wrong_center naming
// the right center, and changes nothing: master data at the master only, orders at the user's
// home, an order at the center that made it.
#include "api/placement.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "api/api.h"
#include "center/center.h"
#include "common/env.h"
#include "common/ids.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::api {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kTopology = R"(
slices = 8
master = "m"
[[center]]
id = "m"
address = "127.0.0.1:18601"
slices = ["0-3"]
[[center]]
id = "s.1"
address = "127.0.0.1:18602"
slices = ["4-7"]
)";

topology::Topology TestTopology() {
  auto parsed = topology::Parse(kTopology, "test.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return std::move(parsed).value();
}

// A user whose home is `center_id`.
std::string UserAt(const topology::Topology& topology, std::string_view center_id) {
  for (int i = 0;; ++i) {
    std::string user = "user" + std::to_string(i);
    if (topology.HomeOf(user).id == center_id) return user;
  }
}

struct Answer {
  int status = 0;
  std::string code;
  std::string center;
  std::string address;
  std::string body;
};

// One center of the topology, in process, over a real disk and HTTP.
class CenterUnderTest {
 public:
  CenterUnderTest(const std::string& dir, std::string id, bool with_topology) {
    center::Options options;
    options.data_dir = dir + "/" + id;
    options.center_id = std::move(id);
    options.batch_wait = std::chrono::microseconds(50);
    auto center = center::Center::Open(*Env::Default(), options);
    EXPECT_TRUE(center.ok()) << center.status().ToString();
    center_ = std::move(center).value();
    handler_ =
        NewCenterHandler(*center_, {with_topology ? std::optional(TestTopology()) : std::nullopt});
    http::ServerOptions server_options;
    server_options.threads = 1;
    auto server = http::Server::Start(server_options, *handler_);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port(), milliseconds(10'000));
  }
  ~CenterUnderTest() {
    client_.reset();
    server_->Stop();
    center_->Stop();
  }

  Answer Do(std::string_view method, std::string_view target, std::string_view body = {}) {
    auto response = client_->Do(method, target, body);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    if (!response.ok()) return {};
    Answer answer{response->status, "", "", "", response->body};
    json::Document document;
    if (document.Parse(response->body).ok()) {
      if (auto error = document.root().Field("error"); error.ok()) {
        const auto text = [&](std::string_view key) {
          auto field = error->Field(key);
          return field.ok() && field->String().ok() ? std::string(*field->String()) : "";
        };
        answer.code = text("code");
        answer.center = text("center");
        answer.address = text("address");
      }
    }
    return answer;
  }

 private:
  std::unique_ptr<center::Center> center_;
  std::unique_ptr<http::Handler> handler_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

class PlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-placement-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void ExpectWrongCenter(const Answer& answer, std::string_view center, std::string_view address) {
    EXPECT_EQ(answer.status, 421) << answer.body;
    EXPECT_EQ(answer.code, "wrong_center") << answer.body;
    EXPECT_EQ(answer.center, center) << answer.body;
    EXPECT_EQ(answer.address, address) << answer.body;
  }

  std::string dir_;
};

TEST_F(PlacementTest, MasterDataIsWrittenAtTheMasterOnly) {
  CenterUnderTest sub(dir_, "s.1", true);
  ExpectWrongCenter(sub.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})"), "m", "127.0.0.1:18601");
  ExpectWrongCenter(sub.Do("PUT", "/v1/campaigns/c1", "{}"), "m", "127.0.0.1:18601");
  // Nothing was written; reads of master data are served locally.
  EXPECT_EQ(sub.Do("GET", "/v1/merchants/m1").status, 404);

  CenterUnderTest master(dir_, "m", true);
  EXPECT_EQ(master.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})").status, 200);
  EXPECT_EQ(master.Do("GET", "/v1/merchants/m1").status, 200);
}

TEST_F(PlacementTest, OrdersArePlacedAndListedAtTheUsersHomeOnly) {
  const topology::Topology topology = TestTopology();
  const std::string at_master = UserAt(topology, "m");
  const std::string at_sub = UserAt(topology, "s.1");
  CenterUnderTest master(dir_, "m", true);
  ASSERT_EQ(master.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})").status, 200);
  ASSERT_EQ(master
                .Do("PUT", "/v1/products/p1",
                    R"({"merchant":"m1","name":"P","category":"c","price_cents":100})")
                .status,
            200);
  ASSERT_EQ(master.Do("PUT", "/v1/inventory/p1", R"({"stock":10})").status, 200);
  ASSERT_EQ(master.Do("PUT", "/v1/users/" + at_master, R"({"region":"north"})").status, 200);
  ASSERT_EQ(master.Do("PUT", "/v1/users/" + at_sub, R"({"region":"north"})").status, 200);

  const auto order = [](const std::string& request_id, const std::string& user) {
    return R"({"request_id":")" + request_id + R"(","user":")" + user +
           R"(","items":[{"sku":"p1","quantity":1}]})";
  };
  ExpectWrongCenter(master.Do("POST", "/v1/orders", order("r1", at_sub)), "s.1", "127.0.0.1:18602");
  ExpectWrongCenter(master.Do("GET", "/v1/users/" + at_sub + "/orders"), "s.1", "127.0.0.1:18602");
  // A bad body is refused as such wherever it arrives.
  EXPECT_EQ(master.Do("POST", "/v1/orders", R"({"request_id":"r2"})").code, "bad_field");
  // The refused order reserved nothing: all ten units are still there.
  const Answer placed = master.Do("POST", "/v1/orders", order("r3", at_master));
  EXPECT_EQ(placed.status, 201) << placed.body;
  EXPECT_NE(master.Do("GET", "/v1/inventory/p1").body.find(R"("available":9)"), std::string::npos);
  EXPECT_EQ(master.Do("GET", "/v1/users/" + at_master + "/orders").status, 200);
}

TEST_F(PlacementTest, AnOrderIsServedByTheCenterThatMadeIt) {
  CenterUnderTest master(dir_, "m", true);
  for (const char* action : {"", "/pay", "/cancel"}) {
    const std::string target = std::string("/v1/orders/o.s.1.7") + action;
    ExpectWrongCenter(master.Do(*action ? "POST" : "GET", target), "s.1", "127.0.0.1:18602");
  }
  // An id naming this center, or none of the topology, is this center's to answer.
  EXPECT_EQ(master.Do("GET", "/v1/orders/o.m.7").code, "not_found");
  EXPECT_EQ(master.Do("GET", "/v1/orders/o.elsewhere.7").code, "not_found");
  EXPECT_EQ(master.Do("POST", "/v1/orders/x7/pay").code, "not_found");
}

TEST_F(PlacementTest, TopologyIsServedByACenterThatHasOne) {
  CenterUnderTest sub(dir_, "s.1", true);
  const Answer answer = sub.Do("GET", "/v1/topology");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, TestTopology().ToJson());
  CenterUnderTest alone(dir_, "c1", false);
  EXPECT_EQ(alone.Do("GET", "/v1/topology").code, "not_found");
  // Without a topology nothing is refused as belonging elsewhere.
  EXPECT_EQ(alone.Do("PUT", "/v1/merchants/m1", R"({"name":"M"})").status, 200);
}

TEST(CenterOfOrderIdTest, TakesWhatIsBetweenThePrefixAndTheLastDot) {
  EXPECT_EQ(CenterOfOrderId("o.c1.5"), "c1");
  EXPECT_EQ(CenterOfOrderId("o.s.1.12"), "s.1");
  EXPECT_EQ(CenterOfOrderId("o.5"), "");
  EXPECT_EQ(CenterOfOrderId("o..5"), "");
  EXPECT_EQ(CenterOfOrderId("x.c1.5"), "");
  EXPECT_EQ(CenterOfOrderId(""), "");
}

}  // namespace
}  // namespace surge::api
