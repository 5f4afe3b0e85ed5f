// The whole deployment with hot standbys, as `make run` starts it: `surge up --standby` runs the
// master m and sub-centers s1 and s2, each as a primary/standby pair of `surge center` processes
// with the embedded coordinator, and the gateway, which follows the primaries. `surge load`
// drives a flash sale through the gateway, open-loop, with more demand than stock (so quotas move
// between centers and the campaign sells out), keeping its history (--history), while the test
// kills the primary of a random center with kill -9, again and again; the supervisor restarts
// each killed node, which comes back as its pair's standby.
//
// Then the checker reads the load generator's history and the final state of every center:
//   - every acknowledged order is present with its user and items, no request id made two orders,
//     no user holds more than the per-user limit (drill::Check, through the gateway);
//   - no oversell per center: each center's available + reserved + sold equals its quota, none
//     negative, and the orders it acknowledged fit in what it holds;
//   - no oversell overall: the quotas and the unallocated rest add up to at most the stock, the
//     master's view of each center equals the center's own counts, and every acknowledged order
//     holds its unit;
//   - primary and standby of every center reach the same state hash at the same position.
// Printed: per kill, the time to the first order of that center's users, sent after the kill,
// acknowledged (from the history's CLOCK_MONOTONIC times).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/net.h"
#include "coord/coord.h"
#include "drill/drill.h"
#include "http/http.h"
#include "json/json.h"
#include "process_testing.h"
#include "topology/topology.h"

namespace surge {
namespace {

using process_testing::User;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

const bool kQuietLogs = [] {  // the journals opened for their state hashes report their recovery
  SetLogLevel(LogLevel::kWarning);
  return true;
}();

constexpr const char* kCenters[] = {"m", "s1", "s2"};
constexpr int kUsers = 300;
constexpr int kRate = 300;  // orders per second offered through the gateway

// Kills of a center's primary: 6 in make test (2 per center on average); `make drill` more.
int Drills() {
  const char* value = getenv("SURGE_MULTICENTER_DRILLS");
  return value != nullptr && atoi(value) > 0 ? atoi(value) : 6;
}

bool PortFree(int port) {
  Result<Listening> listening = ListenTcp("127.0.0.1", static_cast<uint16_t>(port));
  if (!listening.ok()) return false;
  close(listening->fd);
  return true;
}

// A base port B below the ephemeral range with everything `surge up --standby` takes free:
// centers on B..B+2 (standby nodes +200, shipping +400 and +500), buses on B+10..B+12, the
// gateway on B+20, the brain on B+30.
int FreeBase() {
  std::mt19937 random(static_cast<uint32_t>(getpid()) * 2654435761u);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = 20000 + static_cast<int>(random() % 11000);
    bool free = PortFree(base + 20) && PortFree(base + 30);
    for (int i = 0; i < 3 && free; ++i) {
      for (const int offset : {0, 200, 400, 500, 10}) free = free && PortFree(base + i + offset);
    }
    if (free) return base;
  }
  ADD_FAILURE() << "no free ports";
  return 0;
}

using process_testing::CenterCounts;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

class MultiCenterFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-multi-ha-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    base_ = FreeBase();
    ASSERT_GT(base_, 0);
    std::string text = "slices = 64\nmaster = \"m\"\n[gateway]\naddress = \"127.0.0.1:" +
                       std::to_string(base_ + 20) + "\"\n";
    const char* slices[] = {"0-20", "21-42", "43-63"};
    for (int i = 0; i < 3; ++i) {
      text += std::string("[[center]]\nid = \"") + kCenters[i] +
              "\"\naddress = \"127.0.0.1:" + std::to_string(base_ + i) +
              "\"\nbus = \"127.0.0.1:" + std::to_string(base_ + 10 + i) + "\"\nslices = [\"" +
              slices[i] + "\"]\n";
    }
    const std::string path = root_ + "/topology.toml";
    std::ofstream(path) << text;
    auto parsed = topology::Parse(text, path);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    topology_ = std::make_unique<topology::Topology>(std::move(parsed).value());
    auto up = drill::Process::Start(
        {SURGE_BINARY, "up", "--standby", "--data", root_ + "/data", "--topology", path, "--brain",
         "127.0.0.1:" + std::to_string(base_ + 30)},
        root_ + "/up.log");
    ASSERT_TRUE(up.ok()) << up.status().ToString();
    up_ = std::move(up).value();
    auto ready = up_->WaitForLine("surge up: ready", milliseconds(120'000));
    ASSERT_TRUE(ready.ok()) << ready.status().ToString() << "; see " << root_ << "/up.log";
    auto coordinator = coord::Open("file:" + root_ + "/data/leases");
    ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
    coord_ = std::move(coordinator).value();
    gateway_ = std::make_unique<http::Client>("127.0.0.1", base_ + 20, milliseconds(5000));
  }

  void TearDown() override {
    if (up_ != nullptr && up_->running()) {
      (void)up_->Signal(SIGTERM);
      (void)up_->Wait(milliseconds(60'000));
    }
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  // Through the gateway, retried while a center fails over.
  void Put(const std::string& target, const std::string& body) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto response = gateway_->Do("PUT", target, body);
      if (response.ok() && response->status == 200) return;
      ASSERT_TRUE(!response.ok() || response->status == 503) << target << ": " << response->body;
      std::this_thread::sleep_for(milliseconds(100));
    }
    FAIL() << "PUT " << target << " never succeeded";
  }

  // The node holding `center`'s lease ("m-a", ...), empty if none does.
  std::string Primary(const std::string& center) {
    Result<std::optional<coord::Holder>> holder = coord_->Read(center);
    if (!holder.ok() || !holder->has_value()) return "";
    return (*holder)->owner;
  }

  // The pid of the `surge center` process of node `name` (a child of surge up), 0 if none.
  pid_t PidOf(const std::string& name) {
    const std::string data = root_ + "/data/" + name;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream file(entry.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      std::vector<std::string> arguments;
      for (size_t at = 0; at < cmdline.size();) {
        const size_t end = cmdline.find('\0', at);
        arguments.push_back(cmdline.substr(at, end - at));
        at = end == std::string::npos ? cmdline.size() : end + 1;
      }
      for (size_t i = 0; i + 1 < arguments.size(); ++i) {
        if (arguments[i] == "--data" && arguments[i + 1] == data) return std::stoi(pid);
      }
    }
    return 0;
  }

  // A center's own counts of campaign f1, from whichever of its nodes serves.
  Result<CenterCounts> LocalCounts(const std::string& center) {
    const int index = static_cast<int>(std::find(std::begin(kCenters), std::end(kCenters), center) -
                                       std::begin(kCenters));
    for (const int offset : {0, 200}) {
      http::Client direct("127.0.0.1", static_cast<uint16_t>(base_ + index + offset),
                          milliseconds(2000));
      auto response = direct.Do("GET", "/v1/campaigns/f1");
      if (!response.ok() || response->status != 200) continue;
      return process_testing::OwnCampaignCounts(response->body, center, center == "m");
    }
    return Status(Code::kUnavailable, "no node of " + center + " serves");
  }

  // The master's per-center breakdown of f1 (through the gateway) and its unallocated units.
  Result<std::map<std::string, CenterCounts>> MasterView(int64_t* unallocated) {
    SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, gateway_->Do("GET", "/v1/campaigns/f1"));
    if (response.status != 200) return Status(Code::kUnavailable, response.body);
    return process_testing::CampaignBreakdown(response.body, unallocated);
  }

  std::string root_;
  int base_ = 0;
  std::unique_ptr<topology::Topology> topology_;
  std::unique_ptr<drill::Process> up_;
  std::unique_ptr<coord::Coordinator> coord_;
  std::unique_ptr<http::Client> gateway_;
};

TEST_F(MultiCenterFailoverTest, KillingPrimariesLosesNothingAndOversellsNothingAnywhere) {
  const int drills = Drills();
  // The load lasts through the drills; the stock is 60% of what it offers, so it sells out, and
  // the per-user limit is 2/3 of a user's requests on average, so that many reach it too (but the
  // limits of all users together exceed the stock).
  const int duration_s = 2 * drills + 6;
  const int64_t requests = int64_t{kRate} * duration_s;
  const int64_t stock = requests * 6 / 10;
  const int64_t limit = std::max<int64_t>(2, requests * 2 / 3 / kUsers);
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  ASSERT_NO_FATAL_FAILURE(Put("/v1/merchants/acme", R"({"name":"Acme"})"));
  ASSERT_NO_FATAL_FAILURE(
      Put("/v1/products/phone",
          R"({"merchant":"acme","name":"Phone","category":"phones","price_cents":19900})"));
  for (int i = 0; i < kUsers; ++i) {
    ASSERT_NO_FATAL_FAILURE(Put("/v1/users/" + User(i), R"({"region":"north"})"));
  }
  ASSERT_NO_FATAL_FAILURE(Put(
      "/v1/campaigns/f1",
      R"({"sku":"phone","stock":)" + std::to_string(stock) + R"(,"price_cents":9900,"starts_at":)" +
          std::to_string(now_ms - 1000) + R"(,"ends_at":)" + std::to_string(now_ms + 3'600'000) +
          R"(,"per_user_limit":)" + std::to_string(limit) + R"(,"reserve_ttl_ms":600000})"));

  const std::string history_path = root_ + "/history.jsonl";
  auto load = drill::Process::Start({SURGE_BINARY,    "load",
                                     "--target",      "127.0.0.1:" + std::to_string(base_ + 20),
                                     "--profile",     "steady",
                                     "--rate",        std::to_string(kRate),
                                     "--duration-s",  std::to_string(duration_s),
                                     "--connections", "32",
                                     "--threads",     "1",
                                     "--pipeline",    "4",
                                     "--users",       std::to_string(kUsers),
                                     "--skus",        "phone",
                                     "--no-verify",   "--history",
                                     history_path},
                                    root_ + "/load.log");
  ASSERT_TRUE(load.ok()) << load.status().ToString();
  const int64_t load_started_us = NowUs();

  const char* seed = getenv("SURGE_DRILL_SEED");
  std::mt19937_64 random(seed != nullptr ? std::strtoull(seed, nullptr, 10) : 11);
  std::vector<std::pair<std::string, int64_t>> kills;  // center, when (CLOCK_MONOTONIC us)
  for (int drill = 0; drill < drills; ++drill) {
    std::this_thread::sleep_for(milliseconds(500 + random() % 1000));
    // Leave the last seconds of the load to the recovery from the last kill.
    if (NowUs() - load_started_us > (duration_s - 3) * int64_t{1'000'000}) break;
    const std::string center = kCenters[random() % 3];
    // Both nodes back (the supervisor restarts a killed one) and a primary serving.
    std::string primary;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < deadline) {
      primary = Primary(center);
      const std::string other = center + (primary == center + "-a" ? "-b" : "-a");
      if (!primary.empty() && PidOf(primary) != 0 && PidOf(other) != 0) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    const pid_t pid = PidOf(primary);
    ASSERT_NE(pid, 0) << "drill " << drill << ": no primary process for " << center;
    std::printf("drill %d/%d: kill -9 of %s, the primary of %s (pid %d)\n", drill + 1, drills,
                primary.c_str(), center.c_str(), static_cast<int>(pid));
    std::fflush(stdout);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    kills.emplace_back(center, NowUs());
  }
  Result<int> load_status = (*load)->Wait(milliseconds((duration_s + 120) * 1000));
  ASSERT_TRUE(load_status.ok()) << load_status.status().ToString();
  EXPECT_EQ(*load_status, 0) << "surge load failed; see " << root_ << "/load.log";
  std::ifstream history_file(history_path);
  const std::string history_text((std::istreambuf_iterator<char>(history_file)),
                                 std::istreambuf_iterator<char>());
  Result<std::vector<drill::OrderAttempt>> parsed = drill::ParseHistory(history_text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const std::vector<drill::OrderAttempt>& history = *parsed;

  std::map<std::string, int64_t> acknowledged;  // per home center
  int64_t total = 0;
  std::map<int, int64_t> by_status;
  for (const drill::OrderAttempt& attempt : history) {
    ++by_status[attempt.status];
    if (attempt.status != 201) continue;
    ++acknowledged[topology_->HomeOf(attempt.user).id];
    ++total;
  }
  // Per kill: the earliest answer to an order of that center's users sent after the kill and
  // acknowledged (none once the campaign sold out).
  std::vector<int64_t> recovery_ms;
  for (const auto& [center, killed_us] : kills) {
    int64_t first_us = INT64_MAX;
    for (const drill::OrderAttempt& attempt : history) {
      if (attempt.status == 201 && attempt.due_us >= killed_us &&
          topology_->HomeOf(attempt.user).id == center) {
        first_us = std::min(first_us, attempt.answered_us);
      }
    }
    if (first_us != INT64_MAX) recovery_ms.push_back((first_us - killed_us) / 1000);
  }
  std::sort(recovery_ms.begin(), recovery_ms.end());
  if (!recovery_ms.empty()) {
    std::printf(
        "multi-center: %zu kills of a primary with orders after them: from the kill to the first "
        "order of that center sent after it and acknowledged: median %lld ms, p99 %lld ms, max "
        "%lld ms\n",
        recovery_ms.size(), static_cast<long long>(recovery_ms[recovery_ms.size() / 2]),
        static_cast<long long>(recovery_ms[(recovery_ms.size() * 99 + 99) / 100 - 1]),
        static_cast<long long>(recovery_ms.back()));
  }
  std::string statuses;
  for (const auto& [status, count] : by_status) {
    statuses += " " + std::to_string(status) + ":" + std::to_string(count);
  }
  std::printf(
      "multi-center: %zu order requests (status:count%s), %lld acknowledged (m %lld, s1 %lld, s2 "
      "%lld), stock %lld\n",
      history.size(), statuses.c_str(), static_cast<long long>(total),
      static_cast<long long>(acknowledged["m"]), static_cast<long long>(acknowledged["s1"]),
      static_cast<long long>(acknowledged["s2"]), static_cast<long long>(stock));
  EXPECT_GT(total, stock / 2) << "the test must actually sell something";

  // The master's view converges to the centers' own counts (the bus carries their order events
  // up); then no oversell per center and overall.
  std::map<std::string, CenterCounts> view;
  std::map<std::string, CenterCounts> local;
  int64_t unallocated = -1;
  bool converged = false;
  const auto started = SteadyClock::now();
  while (!converged && SteadyClock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(milliseconds(50));
    auto master = MasterView(&unallocated);
    if (!master.ok()) continue;
    view = *master;
    converged = true;
    for (const char* center : kCenters) {
      auto counts = LocalCounts(center);
      converged = converged && counts.ok() && view[center].reserved == counts->reserved &&
                  view[center].sold == counts->sold;
      if (counts.ok()) local[center] = *counts;
    }
  }
  ASSERT_TRUE(converged) << "the master's view did not converge to the centers' counts";
  int64_t quotas = unallocated;
  int64_t held = 0;
  for (const char* center : kCenters) {
    const CenterCounts& counts = local[center];
    EXPECT_TRUE(counts.available >= 0 && counts.reserved >= 0 && counts.sold >= 0) << center;
    EXPECT_EQ(counts.available + counts.reserved + counts.sold, counts.quota)
        << center << ": its units do not add up to its quota";
    EXPECT_LE(acknowledged[center], counts.reserved + counts.sold)
        << center << " acknowledged more orders than it holds units";
    // A center's own quota is at most what the master allocated it (a return lowers it at once).
    EXPECT_LE(counts.quota, view[center].quota) << center;
    quotas += view[center].quota;
    held += counts.reserved + counts.sold;
  }
  EXPECT_GE(unallocated, 0);
  EXPECT_LE(quotas, stock) << "the quotas exceed the stock";
  // Held: every acknowledged order, and maybe some whose answer the client never got.
  EXPECT_GE(held, total) << "an acknowledged order is not held";
  EXPECT_LE(held, stock);
  std::printf(
      "multi-center: quotas m %lld, s1 %lld, s2 %lld, unallocated %lld, of %lld; held %lld\n",
      static_cast<long long>(view["m"].quota), static_cast<long long>(view["s1"].quota),
      static_cast<long long>(view["s2"].quota), static_cast<long long>(unallocated),
      static_cast<long long>(stock), static_cast<long long>(held));

  // The checker through the gateway: every acknowledged order present, exactly once, limits kept.
  drill::CheckOptions check;
  for (int i = 0; i < kUsers; ++i) check.users.push_back(User(i));
  check.campaigns = {{"f1", "phone", stock, limit}};
  Result<drill::CheckReport> report = Status(Code::kUnavailable, "not run");
  for (int attempt = 0; attempt < 5 && !report.ok(); ++attempt) {
    report = drill::Check(history, check, *gateway_);
    if (!report.ok()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::printf("checker: %s\n", report->Summary().c_str());
  EXPECT_TRUE(report->ok()) << report->Summary();
  EXPECT_EQ(report->acknowledged_orders, static_cast<uint64_t>(total));

  // Everything stopped, each center's two journals give the same state at the same position.
  ASSERT_TRUE(up_->Signal(SIGTERM).ok());
  Result<int> stopped = up_->Wait(milliseconds(60'000));
  ASSERT_TRUE(stopped.ok() && *stopped == 0) << "surge up did not stop cleanly";
  for (const char* center : kCenters) {
    center::Options options;
    options.center_id = center;
    options.master = topology_->master_id();
    for (const topology::Center& each : topology_->centers()) options.centers.push_back(each.id);
    const uint64_t through = process_testing::ExpectSameStateHash(
        options, root_ + "/data/" + center + "-a", root_ + "/data/" + center + "-b");
    EXPECT_GT(through, 0u) << center;
  }
}

}  // namespace
}  // namespace surge
