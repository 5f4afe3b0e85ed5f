// A deployment of three centers (master m, sub-centers s1 and s2) behind the gateway, each a real
// `surge center` process, with the embedded data bus and again with NATS JetStream:
//   - master data written through the gateway reaches every sub-center;
//   - orders for users of every slice, through the gateway, sell a campaign out across the
//     centers from their quotas (the sub-centers ask the master for more as they run low);
//   - while the master is frozen (SIGSTOP) the sub-centers keep taking orders within their
//     quotas, and after it thaws everything converges;
//   - the master's global view equals the sum of the centers, the quotas never exceed the stock,
//     and the checker finds no lost acknowledged order, no oversell and no limit broken;
//   - a sub-center killed with kill -9 catches up with master data written while it was down;
//   - the brain's forecasts of each center's demand size the quotas of the next campaign.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/jetstream_testing.h"
#include "drill/drill.h"
#include "json/json.h"
#include "process_testing.h"
#include "topology/topology.h"

namespace surge {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kStock = 150;
constexpr int kUsers = 400;

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(address.sin_port);
}

using process_testing::CenterCounts;
using process_testing::IntField;

class MultiCenterTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-multi-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    if (GetParam() == "jetstream") {
      nats_ = std::make_unique<bus::testing::NatsServer>();
      const Status started = nats_->Start();
      ASSERT_TRUE(started.ok()) << started.ToString();
      bus_url_ = nats_->url();
    }
    topology_path_ = root_ + "/topology.toml";
    std::string text = "slices = 64\nmaster = \"m\"\n";
    gateway_port_ = FreePort();
    text += "[gateway]\naddress = \"127.0.0.1:" + std::to_string(gateway_port_) + "\"\n";
    const char* slices[] = {"0-20", "21-42", "43-63"};
    for (int i = 0; i < 3; ++i) {
      const std::string id = i == 0 ? "m" : "s" + std::to_string(i);
      ports_[id] = FreePort();
      text += "[[center]]\nid = \"" + id +
              "\"\naddress = \"127.0.0.1:" + std::to_string(ports_[id]) +
              "\"\nbus = \"127.0.0.1:" + std::to_string(FreePort()) + "\"\nslices = [\"" +
              slices[i] + "\"]\n";
    }
    std::ofstream(topology_path_) << text;
    auto loaded = topology::Parse(text, topology_path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    topology_ = std::make_unique<topology::Topology>(std::move(loaded).value());
    for (const char* id : {"m", "s1", "s2"}) ASSERT_NO_FATAL_FAILURE(StartCenter(id));
    auto gateway = drill::Process::Start({SURGE_BINARY, "gateway", "--topology", topology_path_},
                                         root_ + "/gateway.log");
    ASSERT_TRUE(gateway.ok());
    gateway_ = std::move(gateway).value();
    ASSERT_TRUE(gateway_->WaitForLine("listening on", milliseconds(20'000)).ok());
    client_ = std::make_unique<http::Client>("127.0.0.1", gateway_port_, milliseconds(5'000));
  }

  void TearDown() override {
    for (auto& [id, process] : centers_) {
      if (process == nullptr) continue;
      (void)process->Signal(SIGCONT);
      EXPECT_TRUE(process->Signal(SIGTERM).ok());
      auto exit_status = process->Wait(milliseconds(20'000));
      EXPECT_TRUE(exit_status.ok() && *exit_status == 0) << "center " << id << " did not stop";
    }
    gateway_.reset();
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  void StartCenter(const std::string& id) {
    std::vector<std::string> argv = {SURGE_BINARY, "center", "--topology", topology_path_,
                                     "--id",       id,       "--data",     root_ + "/" + id,
                                     "--threads",  "1"};
    if (!bus_url_.empty()) {
      argv.push_back("--bus");
      argv.push_back(bus_url_);
    }
    auto process = drill::Process::Start(argv, root_ + "/" + id + ".log");
    ASSERT_TRUE(process.ok());
    centers_[id] = std::move(process).value();
    auto line = centers_[id]->WaitForLine("listening on", milliseconds(20'000));
    ASSERT_TRUE(line.ok()) << line.status().ToString() << "; see " << root_;
  }

  // Through the gateway.
  void Put(const std::string& target, const std::string& body) {
    auto response = client_->Do("PUT", target, body);
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    ASSERT_EQ(response->status, 200) << target << ": " << response->body;
  }

  // Merchant acme, the phone, and users u0..u(users-1), grouped by their home center.
  void PutCatalogue(int users, std::map<std::string, std::vector<std::string>>* users_by_home) {
    ASSERT_NO_FATAL_FAILURE(Put("/v1/merchants/acme", R"({"name":"Acme"})"));
    ASSERT_NO_FATAL_FAILURE(
        Put("/v1/products/phone",
            R"({"merchant":"acme","name":"Phone","category":"phones","price_cents":19900})"));
    for (int i = 0; i < users; ++i) {
      const std::string user = "u" + std::to_string(i);
      ASSERT_NO_FATAL_FAILURE(Put("/v1/users/" + user, R"({"region":"north"})"));
      (*users_by_home)[topology_->HomeOf(user).id].push_back(user);
    }
  }

  // Waits until GET `target` at center `id` answers 200; returns how long it took.
  Result<milliseconds> WaitVisible(const std::string& id, const std::string& target) {
    http::Client direct("127.0.0.1", ports_[id], milliseconds(2'000));
    const auto started = SteadyClock::now();
    while (SteadyClock::now() - started < std::chrono::seconds(15)) {
      auto response = direct.Do("GET", target);
      if (response.ok() && response->status == 200) {
        return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started);
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    return Status(Code::kUnavailable, target + " never became visible at " + id);
  }

  drill::OrderAttempt Order(const std::string& user, const std::string& request_id) {
    drill::OrderAttempt attempt;
    attempt.request_id = request_id;
    attempt.user = user;
    attempt.items = {{"phone", 1}};
    auto response = client_->Do("POST", "/v1/orders", drill::OrderBody(attempt));
    if (!response.ok()) return attempt;  // status 0: unknown outcome
    attempt.status = response->status;
    json::Document document;
    if (document.Parse(response->body).ok()) {
      if (auto id = document.root().Field("order_id"); id.ok() && id->String().ok()) {
        attempt.order_id = std::string(*id->String());
      }
      if (auto error = document.root().Field("error"); error.ok()) {
        if (auto code = error->Field("code"); code.ok() && code->String().ok()) {
          attempt.error_code = std::string(*code->String());
        }
      }
    }
    return attempt;
  }

  // One center's own counts of the campaign (its quota and units), read there.
  Result<CenterCounts> LocalCounts(const std::string& id) {
    http::Client direct("127.0.0.1", ports_[id], milliseconds(2'000));
    SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, direct.Do("GET", "/v1/campaigns/f1"));
    if (response.status != 200) return Status(Code::kUnavailable, response.body);
    return process_testing::OwnCampaignCounts(response.body, id, id == "m");
  }

  // The master's per-center breakdown; *unallocated and the totals checked by the caller.
  Result<std::map<std::string, CenterCounts>> MasterView(int64_t* unallocated) {
    http::Client direct("127.0.0.1", ports_["m"], milliseconds(2'000));
    SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, direct.Do("GET", "/v1/campaigns/f1"));
    if (response.status != 200) return Status(Code::kUnavailable, response.body);
    return process_testing::CampaignBreakdown(response.body, unallocated);
  }

  std::string root_;
  std::string topology_path_;
  std::string bus_url_;
  std::unique_ptr<bus::testing::NatsServer> nats_;
  std::unique_ptr<topology::Topology> topology_;
  std::map<std::string, uint16_t> ports_;
  uint16_t gateway_port_ = 0;
  std::map<std::string, std::unique_ptr<drill::Process>> centers_;
  std::unique_ptr<drill::Process> gateway_;
  std::unique_ptr<http::Client> client_;
};

TEST_P(MultiCenterTest, MasterDataFlowsDownOrdersFlowUpAndNothingIsOversold) {
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::map<std::string, std::vector<std::string>> users_by_home;
  ASSERT_NO_FATAL_FAILURE(PutCatalogue(kUsers, &users_by_home));
  ASSERT_NO_FATAL_FAILURE(Put(
      "/v1/campaigns/f1",
      R"({"sku":"phone","stock":)" + std::to_string(kStock) +
          R"(,"price_cents":9900,"starts_at":)" + std::to_string(now_ms - 1000) + R"(,"ends_at":)" +
          std::to_string(now_ms + 3'600'000) + R"(,"per_user_limit":1,"reserve_ttl_ms":600000})"));
  // Master data reaches every sub-center (the last user, then the campaign written after it).
  for (const char* id : {"s1", "s2"}) {
    auto user_lag = WaitVisible(id, "/v1/users/u" + std::to_string(kUsers - 1));
    ASSERT_TRUE(user_lag.ok()) << user_lag.status().ToString();
    auto lag = WaitVisible(id, "/v1/campaigns/f1");
    ASSERT_TRUE(lag.ok()) << lag.status().ToString();
    std::printf("%s: campaign visible at %s %lld ms after the master acknowledged it\n",
                GetParam().c_str(), id, static_cast<long long>(lag->count()));
  }

  std::vector<drill::OrderAttempt> history;
  std::map<std::string, size_t> next_user;  // per home center
  const auto order_at = [&](const std::string& home) {
    std::vector<std::string>& users = users_by_home[home];
    if (next_user[home] >= users.size()) return false;
    const std::string& user = users[next_user[home]++];
    history.push_back(Order(user, "r-" + user));
    return true;
  };
  // Phase 1: the master's users only, a third of its share.
  for (int i = 0; i < 10; ++i) order_at("m");

  // Phase 2: the master frozen; the sub-centers sell from their quotas alone.
  ASSERT_TRUE(centers_["m"]->Signal(SIGSTOP).ok());
  std::map<std::string, int> created_while_frozen;
  for (int i = 0; i < 15; ++i) {
    for (const char* id : {"s1", "s2"}) {
      if (!order_at(id)) continue;
      const drill::OrderAttempt& attempt = history.back();
      EXPECT_TRUE(attempt.status == 201 || attempt.error_code == "sold_out")
          << id << " answered " << attempt.status << " " << attempt.error_code
          << " while the master was frozen";
      if (attempt.status == 201) ++created_while_frozen[id];
    }
  }
  std::this_thread::sleep_for(milliseconds(3000));  // frozen for several seconds in all
  ASSERT_TRUE(centers_["m"]->Signal(SIGCONT).ok());
  EXPECT_GT(created_while_frozen["s1"], 0);
  EXPECT_GT(created_while_frozen["s2"], 0);

  // Phase 3: everybody, until the campaign is sold out everywhere; quotas move to where the
  // demand is. A center that ran out answers sold_out while its request for more is on its
  // way, so the users without an order try again (new request ids) for a few rounds.
  bool more = true;
  while (more) {
    more = false;
    for (const char* id : {"m", "s1", "s2"}) more = order_at(id) || more;
  }
  const auto count_created = [&] {
    int64_t count = 0;
    for (const drill::OrderAttempt& attempt : history) count += attempt.status == 201 ? 1 : 0;
    return count;
  };
  for (int round = 1; round <= 30 && count_created() < kStock; ++round) {
    std::this_thread::sleep_for(milliseconds(100));
    std::set<std::string> served;
    for (const drill::OrderAttempt& attempt : history) {
      if (attempt.status == 201) served.insert(attempt.user);
    }
    for (const auto& [home, users] : users_by_home) {
      for (const std::string& user : users) {
        if (served.count(user) != 0) continue;
        history.push_back(Order(user, "r" + std::to_string(round) + "-" + user));
        if (history.back().status == 201) break;  // one per center per round: let grants flow
      }
    }
  }
  const int64_t created = count_created();
  for (const drill::OrderAttempt& attempt : history) {
    EXPECT_TRUE(attempt.status == 201 || attempt.error_code == "sold_out")
        << attempt.user << ": " << attempt.status << " " << attempt.error_code;
  }
  EXPECT_LE(created, kStock);
  // Demand (400 users, one unit each) far beyond the stock: the grants of the unallocated half
  // must let it sell out.
  EXPECT_EQ(created, kStock) << "quota requests should have moved the rest to where demand was";

  // The master's global view converges to the sum of the centers.
  std::map<std::string, CenterCounts> local;
  std::map<std::string, CenterCounts> view;
  int64_t unallocated = -1;
  const auto started = SteadyClock::now();
  bool converged = false;
  while (!converged && SteadyClock::now() - started < std::chrono::seconds(15)) {
    std::this_thread::sleep_for(milliseconds(20));
    auto master_view = MasterView(&unallocated);
    if (!master_view.ok()) continue;
    view = *master_view;
    converged = true;
    for (const char* id : {"s1", "s2"}) {
      auto counts = LocalCounts(id);
      if (!counts.ok()) {
        converged = false;
        continue;
      }
      local[id] = *counts;
      converged =
          converged && view[id].reserved == counts->reserved && view[id].sold == counts->sold;
    }
  }
  ASSERT_TRUE(converged) << "the master's view did not converge";
  int64_t quotas = unallocated;
  int64_t held = 0;
  for (const auto& [id, counts] : view) {
    quotas += counts.quota;
    held += counts.reserved + counts.sold;
  }
  EXPECT_LE(quotas, kStock) << "the quotas exceed the stock";
  // Half the stock was split up front (25 each); selling out took the other half, granted on
  // request.
  EXPECT_EQ(unallocated, 0);
  EXPECT_GT(view["s1"].quota + view["s2"].quota, 2 * (kStock / 2 / 3));
  EXPECT_EQ(held, created) << "the master's view must count every acknowledged order";

  // The checker, through the gateway: every acknowledged order present, no oversell, limits kept.
  drill::CheckOptions check;
  check.campaigns = {{"f1", "phone", kStock, 1}};
  auto report = drill::Check(history, check, *client_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->Summary();
  EXPECT_EQ(report->acknowledged_orders, static_cast<uint64_t>(created));

  // A sub-center that was down catches up on master data written meanwhile.
  ASSERT_TRUE(centers_["s2"]->Signal(SIGKILL).ok());
  ASSERT_TRUE(centers_["s2"]->Wait(milliseconds(10'000)).ok());
  ASSERT_NO_FATAL_FAILURE(
      Put("/v1/products/tablet",
          R"({"merchant":"acme","name":"Tablet","category":"tablets","price_cents":29900})"));
  ASSERT_NO_FATAL_FAILURE(StartCenter("s2"));
  auto caught_up = WaitVisible("s2", "/v1/products/tablet");
  EXPECT_TRUE(caught_up.ok()) << caught_up.status().ToString();
}

// Quotas from forecasts: the brain (`surge brain serve`, a process of its own on the same bus)
// follows the centers' order events, forecasts each center's demand for the phone and puts it to
// the master through the gateway; the next campaign on the phone is split up front in
// proportion to it, where the first one was split evenly.
TEST_P(MultiCenterTest, TheBrainsForecastsSizeTheQuotasOfTheNextCampaign) {
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::map<std::string, std::vector<std::string>> users_by_home;
  ASSERT_NO_FATAL_FAILURE(PutCatalogue(60, &users_by_home));
  const auto campaign = [&](int64_t starts_at, int64_t ends_at, int64_t stock) {
    return R"({"sku":"phone","stock":)" + std::to_string(stock) + R"(,"price_cents":9900,)" +
           R"("starts_at":)" + std::to_string(starts_at) + R"(,"ends_at":)" +
           std::to_string(ends_at) + R"(,"per_user_limit":1,"reserve_ttl_ms":600000})";
  };
  ASSERT_NO_FATAL_FAILURE(
      Put("/v1/campaigns/f1", campaign(now_ms - 1000, now_ms + 3'600'000, 150)));
  for (const char* id : {"s1", "s2"}) ASSERT_TRUE(WaitVisible(id, "/v1/campaigns/f1").ok());

  const uint16_t brain_port = FreePort();
  std::vector<std::string> argv = {SURGE_BINARY,
                                   "brain",
                                   "serve",
                                   "--topology",
                                   topology_path_,
                                   "--data",
                                   root_ + "/brain",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(brain_port),
                                   "--demand-every-s",
                                   "1"};
  if (!bus_url_.empty()) argv.insert(argv.end(), {"--bus", bus_url_});
  auto brain = drill::Process::Start(argv, root_ + "/brain.log");
  ASSERT_TRUE(brain.ok()) << brain.status().ToString();
  ASSERT_TRUE((*brain)->WaitForLine("surge brain listening on", milliseconds(30'000)).ok())
      << "see " << root_ << "/brain.log";

  // Today: 9 phones at s1, 3 at m, none at s2.
  const std::map<std::string, int> wanted = {{"s1", 9}, {"m", 3}};
  for (const auto& [home, count] : wanted) {
    ASSERT_GE(users_by_home[home].size(), static_cast<size_t>(count)) << home;
    for (int i = 0; i < count; ++i) {
      const std::string& user = users_by_home[home][static_cast<size_t>(i)];
      EXPECT_EQ(Order(user, "d-" + user).status, 201) << user;
    }
  }
  // The master learns the forecast per center (7 days of today's rate).
  std::map<std::string, int64_t> demand;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline && demand["s1"] != 63) {
    std::this_thread::sleep_for(milliseconds(100));
    auto response = client_->Do("GET", "/v1/products/phone");
    if (!response.ok() || response->status != 200) continue;
    json::Document document;
    if (!document.Parse(response->body).ok()) continue;
    auto list = document.root().Field("demand");
    if (!list.ok()) continue;
    for (size_t i = 0; list->At(i).ok(); ++i) {
      auto entry = list->At(i);
      auto center = entry->Field("center");
      if (center.ok() && center->String().ok()) {
        demand[std::string(*center->String())] = IntField(*entry, "units");
      }
    }
  }
  EXPECT_EQ(demand, (std::map<std::string, int64_t>{{"m", 21}, {"s1", 63}, {"s2", 0}}))
      << "see " << root_ << "/brain.log";

  // The next campaign: half its 240 units up front, split 21 : 63 : 0.
  ASSERT_NO_FATAL_FAILURE(
      Put("/v1/campaigns/f2", campaign(now_ms + 3'700'000, now_ms + 7'200'000, 240)));
  ASSERT_TRUE(WaitVisible("m", "/v1/campaigns/f2").ok());
  http::Client direct("127.0.0.1", ports_["m"], milliseconds(2'000));
  auto response = direct.Do("GET", "/v1/campaigns/f2");
  ASSERT_TRUE(response.ok() && response->status == 200);
  int64_t unallocated = -1;
  auto view = process_testing::CampaignBreakdown(response->body, &unallocated);
  ASSERT_TRUE(view.ok()) << response->body;
  EXPECT_EQ(unallocated, 120) << response->body;
  EXPECT_EQ((*view)["m"].quota, 30);
  EXPECT_EQ((*view)["s1"].quota, 90);
  EXPECT_EQ((*view)["s2"].quota, 0);
  ASSERT_TRUE((*brain)->Signal(SIGTERM).ok());
  EXPECT_TRUE((*brain)->Wait(milliseconds(20'000)).ok());
}

INSTANTIATE_TEST_SUITE_P(Bus, MultiCenterTest, ::testing::Values("embedded", "jetstream"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

}  // namespace
}  // namespace surge
