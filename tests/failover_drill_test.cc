// Failover drills on real processes: a center runs as two `surge center` nodes (primary and hot
// standby, each with its own data directory) with the embedded coordinator, under a steady
// stream of orders, retries, payments and cancellations from several clients. Each drill:
//   kill -9 of the primary: the standby takes over; the killed node is started again and comes
//     back as the new primary's standby;
//   SIGSTOP of the primary past its lease, then SIGCONT: the standby takes over, and the woken
//     primary must not acknowledge anything more: it steps down (exit 75) and is started again;
//   kill -9 of the standby: the primary acknowledges nothing until the standby, started again,
//     is back in sync (failover.h, "Policy when the standby is gone");
//   a partition (second test): each node in a network namespace of its own, the two joined by a
//     veth pair, which is taken down for 1-2.5 s: the primary keeps its lease (the coordinator
//     stays reachable to both) and acknowledges nothing while it cannot reach its standby; when
//     the link comes back the standby connects again, catches up, and orders flow.
// After all drills the checker proves that every acknowledged order is present with its status,
// nothing was oversold, no per-user limit broken, every acknowledged request id answers its
// order again; and the two nodes' journals give the same state hash at the same position.
// Printed: the recovery time of each drill, from the failure (for a partition: from the link's
// return) to the first order acknowledged after it.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "center/center.h"
#include "common/env.h"
#include "common/net.h"
#include "common/program.h"
#include "coord/coord.h"
#include "coord/etcd_testing.h"
#include "drill/drill.h"
#include "http/http.h"
#include "json/json.h"
#include "process_testing.h"

namespace surge {
namespace {

using process_testing::User;

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Drills of each kind: 10 in make test; `make drill` runs more (SURGE_DRILLS), randomized.
int DrillsOfEachKind() {
  const char* value = getenv("SURGE_DRILLS");
  return value != nullptr && atoi(value) > 0 ? atoi(value) : 10;
}
constexpr int kUsers = 500;
constexpr int kWorkers = 4;
constexpr int64_t kCampaignStock = 100'000;  // not the point here: every order should succeed
constexpr int64_t kPerUserLimit = 1'000;

// A port a node keeps across its restarts. Taken below the kernel's ephemeral range (32768 and up
// here): a port the kernel picked once could be handed to some client connection while the node
// is down, and the node could not listen on it again.
uint16_t FreePort() {
  static std::mt19937 random(static_cast<uint32_t>(getpid()) * 2654435761u);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<uint16_t>(20000 + random() % 12000);
    Result<Listening> listening = ListenTcp("127.0.0.1", port);
    if (!listening.ok()) continue;
    close(listening->fd);
    return port;
  }
  ADD_FAILURE() << "no free port below the ephemeral range";
  return 0;
}

// One node: a `surge center` process with its own data directory, ports and name.
// How the nodes coordinate: the coordinator spec, its lease, and something to do to it between
// drills (lose an etcd member, say), called with the drill's index.
struct Coordination {
  std::string spec;
  int lease_ms = 300;
  std::function<void(int drill)> between_drills;
};

// Where a node runs: on loopback by default, or inside a network namespace (`wrapper` the argv
// that enters it), serving clients on `http_host` and its standby on `ship_host`.
struct Placement {
  std::vector<std::string> wrapper;
  std::string http_host = "127.0.0.1";
  std::string ship_host = "127.0.0.1";
};

class NodeProcess {
 public:
  NodeProcess(std::string root, std::string name, bool initial_primary, const Coordination& coord,
              Placement placement)
      : root_(std::move(root)),
        name_(std::move(name)),
        initial_primary_(initial_primary),
        coord_(coord),
        placement_(std::move(placement)),
        http_port_(FreePort()),
        ship_port_(FreePort()) {}

  // Starts the node and waits until it runs as a standby.
  void Start() {
    std::vector<std::string> argv = placement_.wrapper;
    for (const std::string& argument :
         {std::string(SURGE_BINARY), std::string("center"), std::string("--id"), std::string("c1"),
          std::string("--data"), data_dir(), std::string("--listen"),
          placement_.http_host + ":" + std::to_string(http_port_), std::string("--coord"),
          coord_.spec, std::string("--node"), name_, std::string("--ship"),
          placement_.ship_host + ":" + std::to_string(ship_port_), std::string("--lease-ms"),
          std::to_string(coord_.lease_ms), std::string("--threads"), std::string("1")}) {
      argv.push_back(argument);
    }
    if (initial_primary_) argv.push_back("--initial-primary");
    auto process = drill::Process::Start(argv, root_ + "/" + name_ + ".stderr");
    ASSERT_TRUE(process.ok()) << process.status().ToString();
    process_ = std::move(process).value();
    auto line = process_->WaitForLine("standby", milliseconds(20'000));
    ASSERT_TRUE(line.ok()) << line.status().ToString() << "; see " << root_ << "/" << name_
                           << ".stderr";
  }
  // Waits until it serves as the primary.
  bool AwaitPrimary(milliseconds timeout) {
    return process_->WaitForLine("listening on", timeout).ok();
  }
  int Kill(int signal_number) {
    EXPECT_TRUE(process_->Signal(signal_number).ok());
    auto status = process_->Wait(milliseconds(20'000));
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return status.ok() ? *status : -1000;
  }
  void Signal(int signal_number) { EXPECT_TRUE(process_->Signal(signal_number).ok()); }
  Result<int> Wait(milliseconds timeout) { return process_->Wait(timeout); }
  // A node that stepped down by itself (its lease renewal stalled past the lease and the other
  // node took over: a failover the test did not cause) exits 75; like a supervisor, start it
  // again.
  void EnsureRunning() {
    if (process_ != nullptr && process_->running()) return;
    if (process_ != nullptr) {
      Result<int> status = process_->Wait(milliseconds(1000));
      EXPECT_TRUE(status.ok() && *status == 75)
          << name_ << " exited with " << (status.ok() ? *status : -1);
      std::printf("node %s had stepped down by itself; starting it again\n", name_.c_str());
    }
    Start();
  }
  const std::string& name() const { return name_; }
  const std::string& http_host() const { return placement_.http_host; }
  uint16_t http_port() const { return http_port_; }
  std::string data_dir() const { return root_ + "/" + name_; }

 private:
  std::string root_;
  std::string name_;
  bool initial_primary_;
  const Coordination& coord_;
  Placement placement_;
  uint16_t http_port_;
  uint16_t ship_port_;
  std::unique_ptr<drill::Process> process_;
};

// Sends new orders and retries to whichever node the test says is the primary (`serving`, an
// index into `nodes`), recording every answer; notes the time of each order acknowledged.
class Worker {
 public:
  Worker(int index, const NodeProcess* nodes, std::atomic<int>& serving, std::atomic<bool>& stop)
      : index_(index), nodes_(nodes), serving_(serving), stop_(stop), random_(77 + index) {}

  void Run() {
    while (!stop_.load()) {
      std::this_thread::sleep_for(milliseconds(5));
      if (history_.empty() || random_() % 100 < 80) {
        drill::OrderAttempt attempt;
        attempt.request_id = "w" + std::to_string(index_) + "-" + std::to_string(sequence_++);
        attempt.user = User(static_cast<int>(random_() % kUsers));
        attempt.items.push_back({"flash", 1});
        Send(attempt);
        history_.push_back(std::move(attempt));
      } else {
        Send(history_[random_() % history_.size()]);  // a retry: same request id
      }
    }
  }

  std::vector<drill::OrderAttempt>& history() { return history_; }
  std::vector<std::string>& errors() { return errors_; }
  // The first acknowledgement at or after `since`, if any.
  std::optional<SteadyClock::time_point> FirstAckSince(SteadyClock::time_point since) {
    std::lock_guard lock(acks_mutex_);
    const auto it = std::lower_bound(acks_.begin(), acks_.end(), since);
    if (it == acks_.end()) return std::nullopt;
    return *it;
  }

 private:
  void Send(drill::OrderAttempt& attempt) {
    const int node = serving_.load();
    if (client_ == nullptr || node != client_node_) {
      client_ = std::make_unique<http::Client>(nodes_[node].http_host(), nodes_[node].http_port(),
                                               milliseconds(2000));
      client_node_ = node;
    }
    auto response = client_->Do("POST", "/v1/orders", drill::OrderBody(attempt));
    if (!response.ok()) {
      std::this_thread::sleep_for(milliseconds(10));  // failing over; try again soon
      return;
    }
    if (process_testing::RecordOrderAnswer(*response, attempt, errors_,
                                           /*unavailable_expected=*/true)) {
      std::lock_guard lock(acks_mutex_);
      acks_.push_back(SteadyClock::now());
    }
  }

  int index_;
  const NodeProcess* nodes_;
  std::atomic<int>& serving_;
  std::atomic<bool>& stop_;
  std::mt19937_64 random_;
  std::unique_ptr<http::Client> client_;
  int client_node_ = -1;
  uint64_t sequence_ = 0;
  std::vector<drill::OrderAttempt> history_;
  std::vector<std::string> errors_;
  std::mutex acks_mutex_;
  std::vector<SteadyClock::time_point> acks_;
};

// Follows the lease: which node is the primary now (0, 1, or -1 while none is), and in `serving`
// the last one that was, which the clients use, as the gateway would.
class LeaseWatcher {
 public:
  LeaseWatcher(const Coordination& coord, NodeProcess* nodes, std::atomic<int>& serving)
      : nodes_(nodes), serving_(serving) {
    auto opened = coord::Open(coord.spec);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return;
    coordinator_ = std::move(opened).value();
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        Result<std::optional<coord::Holder>> holder = coordinator_->Read("c1");
        int index = -1;
        if (holder.ok() && holder->has_value()) {
          index = (*holder)->owner == nodes_[0].name() ? 0 : 1;
          serving_.store(index);
        }
        primary_.store(index);
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
  }
  ~LeaseWatcher() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // The primary's index, waiting up to `timeout` for one (-1 if none).
  int Primary(milliseconds timeout = milliseconds(10'000)) const {
    const auto deadline = SteadyClock::now() + timeout;
    while (primary_.load() < 0 && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return primary_.load();
  }

 private:
  NodeProcess* nodes_;
  std::atomic<int>& serving_;
  std::unique_ptr<coord::Coordinator> coordinator_;
  std::atomic<int> primary_{-1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Two network namespaces, one per node, each joined to the test's own namespace by a veth pair
// (clients reach the nodes over it) and to each other by a third (journal shipping goes over it),
// which Cut takes down and Heal brings back. Needs CAP_NET_ADMIN (root); removed when destroyed.
class Network {
 public:
  Network() {
    const auto pid = static_cast<int>(getpid());
    tag_ = std::to_string(pid);
    subnet_ = "10." + std::to_string(100 + pid % 100) + ".";
    namespaces_[0] = "surge-" + tag_ + "-a";
    namespaces_[1] = "surge-" + tag_ + "-b";
  }
  ~Network() {
    for (const std::string& name : namespaces_) (void)Ip({"netns", "del", name});
  }
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Status Create() {
    ip_ = FindProgram("ip");
    if (ip_.empty()) return Status(Code::kUnavailable, "ip (iproute2) is not installed");
    const std::string side[2] = {"a", "b"};
    for (int node = 0; node < 2; ++node) {
      const std::string& ns = namespaces_[node];
      const std::string outer = "sg" + tag_ + side[node];
      const std::string inner = outer + "0";
      const std::string net = subnet_ + std::to_string(node + 1) + ".";
      for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
               {"netns", "add", ns},
               {"-n", ns, "link", "set", "lo", "up"},
               {"link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns},
               {"addr", "add", net + "1/24", "dev", outer},
               {"link", "set", outer, "up"},
               {"-n", ns, "addr", "add", net + "2/24", "dev", inner},
               {"-n", ns, "link", "set", inner, "up"}}) {
        SURGE_RETURN_IF_ERROR(Ip(command));
      }
    }
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"-n", namespaces_[0], "link", "add", Link(), "type", "veth", "peer", "name",
              "sg" + tag_ + "ba", "netns", namespaces_[1]},
             {"-n", namespaces_[0], "addr", "add", subnet_ + "3.1/24", "dev", Link()},
             {"-n", namespaces_[1], "addr", "add", subnet_ + "3.2/24", "dev", "sg" + tag_ + "ba"},
             {"-n", namespaces_[0], "link", "set", Link(), "up"},
             {"-n", namespaces_[1], "link", "set", "sg" + tag_ + "ba", "up"}}) {
      SURGE_RETURN_IF_ERROR(Ip(command));
    }
    return Status::Ok();
  }
  Placement PlacementOf(int node) const {
    return Placement{{ip_, "netns", "exec", namespaces_[node]},
                     subnet_ + std::to_string(node + 1) + ".2",
                     subnet_ + "3." + std::to_string(node + 1)};
  }
  // Taking one end down takes the carrier from the other: nothing crosses, and nobody is told.
  void Cut() { EXPECT_TRUE(Ip({"-n", namespaces_[0], "link", "set", Link(), "down"}).ok()); }
  void Heal() { EXPECT_TRUE(Ip({"-n", namespaces_[0], "link", "set", Link(), "up"}).ok()); }

 private:
  std::string Link() const { return "sg" + tag_ + "ab"; }
  Status Ip(const std::vector<std::string>& arguments) const {
    std::string command = ip_.empty() ? "ip" : ip_;
    for (const std::string& argument : arguments) command += " " + argument;
    std::string output;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return Status(Code::kIoError, "cannot run " + command);
    char buffer[512];
    while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
    const int status = pclose(pipe);
    if (status == 0) return Status::Ok();
    return Status(Code::kUnavailable,
                  command + " failed (network namespaces need root, CAP_NET_ADMIN): " + output);
  }

  std::string tag_;
  std::string subnet_;
  std::string namespaces_[2];
  std::string ip_;
};

enum DrillKind { kKillPrimary = 0, kFreezePrimary = 1, kKillStandby = 2, kPartition = 3 };
constexpr int kKinds = 4;
const char* const kKindNames[kKinds] = {
    "kill -9 of the primary", "SIGSTOP of the primary past its lease", "kill -9 of the standby",
    "a partition between primary and standby"};

// Runs `drills_of_each_kind` drills of each of `kinds` in a random order under load, then checks.
// With a `network`, each node runs in its own namespace of it.
void RunDrills(const std::string& root, const Coordination& coord, int drills_of_each_kind,
               const std::vector<DrillKind>& kinds, Network* network = nullptr) {
  NodeProcess nodes[2] = {
      NodeProcess(root, "a", true, coord, network ? network->PlacementOf(0) : Placement{}),
      NodeProcess(root, "b", false, coord, network ? network->PlacementOf(1) : Placement{})};
  nodes[0].Start();
  ASSERT_TRUE(nodes[0].AwaitPrimary(milliseconds(10'000)));
  nodes[1].Start();
  std::atomic<int> serving{0};
  LeaseWatcher lease(coord, nodes, serving);
  {
    // Through the primary of the moment, retried on 503 (a node whose lease renewal stalled on
    // this shared machine steps down, and the other takes over: the catalogue must still load).
    const auto put = [&](const std::string& target, const std::string& body) {
      for (int attempt = 0; attempt < 200; ++attempt) {
        for (NodeProcess& node : nodes) node.EnsureRunning();
        if (lease.Primary() < 0) continue;
        const NodeProcess& primary = nodes[serving.load()];
        http::Client client(primary.http_host(), primary.http_port(), milliseconds(5'000));
        auto response = client.Do("PUT", target, body);
        if (response.ok() && response->status == 200) return;
        ASSERT_TRUE(!response.ok() || response->status == 503)
            << target << " " << response->status << " " << response->body;
        std::this_thread::sleep_for(milliseconds(50));
      }
      FAIL() << "PUT " << target << " never succeeded";
    };
    const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    put("/v1/merchants/m1", R"({"name":"Failover Goods"})");
    put("/v1/products/flash",
        R"({"merchant":"m1","name":"Phone","category":"phones","price_cents":99900})");
    put("/v1/campaigns/c1",
        "{\"sku\":\"flash\",\"stock\":" + std::to_string(kCampaignStock) +
            ",\"price_cents\":49900,\"starts_at\":" + std::to_string(now_ms - 1000) +
            ",\"ends_at\":" + std::to_string(now_ms + 3'600'000) +
            ",\"per_user_limit\":" + std::to_string(kPerUserLimit) + ",\"reserve_ttl_ms\":600000}");
    for (int i = 0; i < kUsers; ++i) put("/v1/users/" + User(i), R"({"region":"n"})");
  }

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    workers.push_back(std::make_unique<Worker>(i, nodes, serving, stop));
    threads.emplace_back([worker = workers.back().get()] { worker->Run(); });
  }
  // A failed ASSERT returns early: the clients stop before their threads are destroyed.
  struct StopClients {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~StopClients() {
      stop.store(true);
      for (std::thread& thread : threads) {
        if (thread.joinable()) thread.join();
      }
    }
  } stop_clients{stop, threads};
  const char* seed = getenv("SURGE_DRILL_SEED");
  std::mt19937_64 random(seed != nullptr ? std::strtoull(seed, nullptr, 10) : 7);
  std::vector<int64_t> recovery_ms[kKinds];
  int left[kKinds] = {};
  for (const DrillKind kind : kinds) left[kind] = drills_of_each_kind;
  const int drills = static_cast<int>(kinds.size()) * drills_of_each_kind;
  for (int drill = 0; drill < drills; ++drill) {
    if (coord.between_drills) coord.between_drills(drill);
    // The kinds in a random order, as many of each.
    int pick = static_cast<int>(random() % (drills - drill));
    int kind = 0;
    while (pick >= left[kind]) pick -= left[kind++];
    --left[kind];
    std::printf("drill %d/%d: %s\n", drill + 1, drills, kKindNames[kind]);
    std::fflush(stdout);
    std::this_thread::sleep_for(milliseconds(200 + random() % 300));
    for (NodeProcess& node : nodes) node.EnsureRunning();
    const int primary = lease.Primary();
    ASSERT_GE(primary, 0) << "drill " << drill << ": no primary";
    NodeProcess& old_primary = nodes[primary];
    NodeProcess& standby = nodes[1 - primary];
    // Measured from the moment the failed process is dead or stopped: an order answered before
    // then does not count.
    SteadyClock::time_point failed_at;
    if (kind == kPartition) {
      // The primary keeps its lease (the coordinator is a file both reach) but cannot reach its
      // standby: it must acknowledge nothing until the link is back. An order answered within
      // the first moments was made durable on both before the cut.
      network->Cut();
      const SteadyClock::time_point cut_at = SteadyClock::now();
      std::this_thread::sleep_for(milliseconds(1000 + random() % 1500));
      network->Heal();
      failed_at = SteadyClock::now();
      for (auto& worker : workers) {
        const auto ack = worker->FirstAckSince(cut_at + milliseconds(300));
        EXPECT_FALSE(ack.has_value() && *ack < failed_at)
            << "drill " << drill << ": an order was acknowledged "
            << std::chrono::duration_cast<milliseconds>(*ack - cut_at).count()
            << " ms into a partition of primary and standby";
      }
    } else if (kind == kKillStandby) {
      // The primary stops acknowledging until its standby is back in sync.
      EXPECT_EQ(standby.Kill(SIGKILL), -SIGKILL);
      failed_at = SteadyClock::now();
      standby.Start();
    } else {
      if (kind == kFreezePrimary) {
        old_primary.Signal(SIGSTOP);
      } else {
        EXPECT_EQ(old_primary.Kill(SIGKILL), -SIGKILL);
      }
      failed_at = SteadyClock::now();
      ASSERT_TRUE(standby.AwaitPrimary(milliseconds(10'000))) << "drill " << drill;
      if (kind == kFreezePrimary) {
        // Woken past its lease, it must step down without acknowledging anything.
        old_primary.Signal(SIGCONT);
        Result<int> status = old_primary.Wait(milliseconds(10'000));
        ASSERT_TRUE(status.ok()) << "drill " << drill << ": the woken primary did not step down";
        EXPECT_EQ(*status, 75) << "drill " << drill;
      }
      // Back as the new primary's standby; the new primary acknowledges only with it.
      old_primary.Start();
    }
    const SteadyClock::time_point deadline = SteadyClock::now() + milliseconds(10'000);
    std::optional<SteadyClock::time_point> first_ack;
    while (!first_ack.has_value() && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
      // Like a supervisor: a node whose renewals stalled past its lease on this loaded machine
      // steps down by itself, and if the other did too, nobody serves until one is restarted.
      for (NodeProcess& node : nodes) node.EnsureRunning();
      for (auto& worker : workers) {
        auto ack = worker->FirstAckSince(failed_at);
        if (ack.has_value() && (!first_ack.has_value() || *ack < *first_ack)) first_ack = ack;
      }
    }
    ASSERT_TRUE(first_ack.has_value()) << "drill " << drill << ": no order acknowledged after";
    recovery_ms[kind].push_back(
        std::chrono::duration_cast<milliseconds>(*first_ack - failed_at).count());
  }
  std::this_thread::sleep_for(milliseconds(300));
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  if (::testing::Test::HasFatalFailure()) return;

  std::vector<drill::OrderAttempt> history;
  for (auto& worker : workers) {
    for (const std::string& error : worker->errors()) ADD_FAILURE() << error;
    history.insert(history.end(), worker->history().begin(), worker->history().end());
  }
  int64_t acknowledged = 0;
  for (const auto& attempt : history) acknowledged += attempt.status == 201;
  for (const DrillKind kind : kinds) {
    std::vector<int64_t>& times = recovery_ms[kind];
    if (times.empty()) continue;
    std::sort(times.begin(), times.end());
    std::printf(
        "%s coordinator: %s, %zu drills: from the failure%s to the first order acknowledged "
        "after it: median %lld ms, p99 %lld ms, max %lld ms\n",
        coord.spec.substr(0, coord.spec.find(':')).c_str(), kKindNames[kind], times.size(),
        kind == kPartition ? " (the link's return)" : "",
        static_cast<long long>(times[times.size() / 2]),
        static_cast<long long>(times[(times.size() * 99 + 99) / 100 - 1]),
        static_cast<long long>(times.back()));
  }
  std::printf("failover test: %zu order requests, %lld acknowledged\n", history.size(),
              static_cast<long long>(acknowledged));
  EXPECT_GT(acknowledged, 200) << "the test must actually sell something";

  // Before each attempt of the checker: both nodes run (re-sent requests are journaled, so the
  // primary needs its standby) and a primary serves.
  const auto serving_endpoint = [&] {
    for (NodeProcess& node : nodes) node.EnsureRunning();
    const auto deadline = SteadyClock::now() + milliseconds(10'000);
    while (SteadyClock::now() < deadline) {
      if (lease.Primary() >= 0) {
        const NodeProcess& primary = nodes[serving.load()];
        http::Client probe(primary.http_host(), primary.http_port(), milliseconds(1000));
        auto answer = probe.Do("GET", "/v1/users/u0/orders");
        if (answer.ok() && answer->status == 200) break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    const NodeProcess& primary = nodes[serving.load()];
    return std::pair<std::string, uint16_t>(primary.http_host(), primary.http_port());
  };
  process_testing::ExpectHistoryHolds(history, kUsers,
                                      {"c1", "flash", kCampaignStock, kPerUserLimit},
                                      serving_endpoint, acknowledged);
  for (NodeProcess& node : nodes) node.EnsureRunning();
  const int primary = std::max(0, lease.Primary());

  // Primary first (its standby must still be there for what it flushes as it stops), then the
  // standby; then both journals give the same state at the same position.
  // 0 after a clean stop; 75 if it was stepping down by itself at that moment.
  for (const int index : {primary, 1 - primary}) {
    const int status = nodes[index].Kill(SIGTERM);
    EXPECT_TRUE(status == 0 || status == 75) << nodes[index].name() << " exited " << status;
  }
  center::Options center;
  center.center_id = "c1";
  const uint64_t through =
      process_testing::ExpectSameStateHash(center, nodes[0].data_dir(), nodes[1].data_dir());
  EXPECT_GT(through, static_cast<uint64_t>(acknowledged));
}

std::string TemporaryDirectory() {
  char pattern[] = "/tmp/surge-failover-XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  return pattern;
}

TEST(FailoverDrillTest, KillsAndFreezesLoseNothingAcknowledged) {
  const std::string root = TemporaryDirectory();
  // The lease: 1 s in make test, where helpers' builds may load the machine (a renewal that
  // stalls past the lease makes a failover nobody asked for; safe, but it muddles the figures);
  // make drill measures with SURGE_LEASE_MS=300.
  const char* lease_ms = getenv("SURGE_LEASE_MS");
  const int lease = lease_ms != nullptr && atoi(lease_ms) >= 50 ? atoi(lease_ms) : 1000;
  RunDrills(root, Coordination{"file:" + root + "/leases", lease, nullptr}, DrillsOfEachKind(),
            {kKillPrimary, kFreezePrimary, kKillStandby});
  // Kept when something failed: the nodes' logs are there.
  if (!HasFailure()) std::filesystem::remove_all(root);
}

// The same with etcd (three members on loopback; etcd's shortest lease here is 1 s), losing a
// follower, then the leader, while the drills go on.
TEST(FailoverDrillTest, WithEtcdLosingAFollowerAndTheLeader) {
  coord::testing::EtcdCluster etcd;
  ASSERT_TRUE(etcd.Start(3).ok());
  ASSERT_TRUE(etcd.WaitForLeader(milliseconds(10'000)).ok());
  std::string spec = "etcd:";
  for (const std::string& endpoint : etcd.endpoints()) {
    spec += (spec.size() > 5 ? "," : "") + endpoint;
  }
  size_t lost = SIZE_MAX;
  const auto lose = [&](bool leader) {
    Result<size_t> leading = etcd.Leader();
    ASSERT_TRUE(leading.ok()) << leading.status().ToString();
    lost = leader ? *leading : (*leading + 1) % etcd.size();
    std::printf("etcd: killing member %zu (%s)\n", lost, leader ? "the leader" : "a follower");
    etcd.Kill(lost);
  };
  const auto restore = [&] {
    ASSERT_TRUE(etcd.Restart(lost).ok());
    ASSERT_TRUE(etcd.WaitForLeader(milliseconds(10'000)).ok());
  };
  Coordination coord{spec, 1000, [&](int drill) {
                       if (drill == 1) lose(false);
                       if (drill == 3) restore();
                       if (drill == 4) lose(true);
                       if (drill == 6) restore();
                     }};
  const std::string root = TemporaryDirectory();
  const char* drills = getenv("SURGE_ETCD_DRILLS");
  RunDrills(root, coord, drills != nullptr && atoi(drills) > 0 ? atoi(drills) : 3,
            {kKillPrimary, kFreezePrimary, kKillStandby});
  if (!HasFailure()) std::filesystem::remove_all(root);
}

// The nodes in network namespaces of their own, the link between them taken down and brought back.
TEST(FailoverDrillTest, PartitionsOfPrimaryAndStandbyLoseNothingAcknowledged) {
  Network network;
  const Status created = network.Create();
  ASSERT_TRUE(created.ok()) << created.ToString();
  const std::string root = TemporaryDirectory();
  const char* lease_ms = getenv("SURGE_LEASE_MS");
  const int lease = lease_ms != nullptr && atoi(lease_ms) >= 50 ? atoi(lease_ms) : 1000;
  RunDrills(root, Coordination{"file:" + root + "/leases", lease, nullptr}, DrillsOfEachKind(),
            {kPartition}, &network);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace surge
