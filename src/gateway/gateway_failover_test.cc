// The gateway in front of a center that runs as a primary/standby pair: the embedded coordinator
// on a real temporary file says which node holds the center's lease, and two fake nodes (http
// servers answering with their own name) stand in for the pair. The test moves the lease the way
// failover nodes do (Release, or letting it expire, then Acquire by the other node) and checks
// where the gateway's requests land.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "coord/coord.h"
#include "gateway/gateway.h"
#include "gateway/gateway_testing.h"
#include "gateway/watcher.h"
#include "http/http.h"
#include "http/test_util.h"
#include "json/json.h"

namespace surge::gateway {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr char kCenter[] = "c1";

// A node of the pair, as a client sees it. Answers:
//   a target holding "unavailable"   503 unavailable (a center failing over)
//   a target holding "misplaced"     421 wrong_center
//   a target holding "hold"          nothing until ReleaseHeld (then 200 {"node":..,"held":true})
//   anything else                    200 {"node":<name>,"target":<target>}
class FakeNode final : public testing::FakeServer {
 public:
  explicit FakeNode(std::string name) : name_(std::move(name)) {}
  ~FakeNode() override {
    StopServer();
    ReleaseHeld();
  }

  void Handle(const http::Request& request, http::Responder responder) override {
    received_.fetch_add(1);
    const std::string_view target = request.target;
    if (target.find("unavailable") != std::string_view::npos) {
      return responder.Send(
          http::ErrorResponse(Status(Code::kUnavailable, "node " + name_ + " is not primary")));
    }
    if (target.find("misplaced") != std::string_view::npos) {
      http::Response response;
      response.status = 421;
      response.body = R"({"error":{"code":"wrong_center","message":"not here"}})";
      return responder.Send(std::move(response));
    }
    if (target.find("hold") != std::string_view::npos) {
      std::lock_guard<std::mutex> lock(mutex_);
      held_.push_back(std::move(responder));
      return;
    }
    http::Response response;
    response.body = R"({"node":")" + name_ + R"(","target":")" + std::string(target) + R"("})";
    responder.Send(std::move(response));
  }

  void ReleaseHeld() {
    std::vector<http::Responder> held;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held.swap(held_);
    }
    http::Response response;
    response.body = R"({"node":")" + name_ + R"(","held":true})";
    for (http::Responder& responder : held) responder.Send(response);
  }
  size_t held_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size();
  }

  const std::string& name() const { return name_; }
  std::string http_address() const { return "127.0.0.1:" + std::to_string(port()); }
  // As a failover node advertises itself: "<http>/<ship>" (the ship port is never dialled here).
  std::string lease_address() const { return http_address() + "/127.0.0.1:1"; }
  int received() const { return received_.load(); }

 private:
  const std::string name_;
  std::atomic<int> received_{0};
  std::mutex mutex_;
  std::vector<http::Responder> held_;
};

// Established TCP connections (IPv4) whose remote port is `port`, counted by the kernel.
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
    if (std::stoul(remote.substr(colon + 1), nullptr, 16) == port && state == "01") ++count;
  }
  return count;
}

std::string Field(const std::string& body, std::string_view object, std::string_view key) {
  json::Document document;
  if (!document.Parse(body).ok()) return "<not json: " + body + ">";
  json::Value value = document.root();
  if (!object.empty()) {
    auto inner = value.Field(object);
    if (!inner.ok()) return "<no " + std::string(object) + ">";
    value = *inner;
  }
  auto field = value.Field(key);
  if (!field.ok()) return "<no " + std::string(key) + ">";
  auto text = field->String();
  return text.ok() ? std::string(*text) : "<not a string>";
}

// Who answered: the node's name for a 200, "503 <code>" or "421 <code>" otherwise.
std::string Outcome(const Result<http::ClientResponse>& response) {
  if (!response.ok()) return "no answer: " + response.status().ToString();
  if (response->status == 200) return Field(response->body, "", "node");
  return std::to_string(response->status) + " " + Field(response->body, "error", "code");
}

// Waits up to `timeout` for `condition`, checking every 2 ms.
template <typename Condition>
bool WaitFor(Condition condition, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

class GatewayFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-gateway-failover-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    lease_file_ = directory_ + "/leases";
    auto coordinator = coord::OpenEmbedded(lease_file_);
    ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
    coordinator_ = std::move(coordinator).value();
    for (FakeNode* node : {&topology_node_, &a_, &b_}) {
      node->Start();
      if (HasFatalFailure()) return;
    }
  }
  void TearDown() override {
    if (gateway_) gateway_->Stop();
    std::filesystem::remove_all(directory_);
  }

  // One center, c1, whose topology address is a third node that a pair never is.
  void StartGateway(Options options = Options()) {
    auto topology = topology::Parse(std::string("slices = 4\nmaster = \"") + kCenter +
                                        "\"\n[[center]]\nid = \"" + kCenter + "\"\naddress = \"" +
                                        topology_node_.http_address() + "\"\nslices = [\"0-3\"]\n",
                                    "test.toml");
    ASSERT_TRUE(topology.ok()) << topology.status().ToString();
    options.topology = std::move(topology).value();
    options.threads = 2;
    options.coord = "file:" + lease_file_;
    if (options.reconnect_backoff == Options().reconnect_backoff) {
      options.reconnect_backoff = milliseconds(20);
    }
    auto gateway = Gateway::Start(options);
    ASSERT_TRUE(gateway.ok()) << gateway.status().ToString();
    gateway_ = std::move(gateway).value();
  }

  coord::Lease Acquire(const FakeNode& node, milliseconds ttl = milliseconds(60'000)) {
    return AcquireAt(node.name(), node.lease_address(), ttl);
  }
  coord::Lease AcquireAt(const std::string& owner, const std::string& address,
                         milliseconds ttl = milliseconds(60'000)) {
    auto lease = coordinator_->Acquire(kCenter, owner, address, ttl);
    SURGE_ASSERT_MSG(lease.ok(), "the test's Acquire must succeed");
    return std::move(lease).value();
  }
  void Release(const coord::Lease& lease) { ASSERT_TRUE(coordinator_->Release(lease).ok()); }

  http::Client Client() { return http::Client("127.0.0.1", gateway_->port(), milliseconds(5000)); }

  // Who answers GET /v1/products/<tag> through the gateway now.
  std::string Ask(http::Client& client, const std::string& tag = "p1") {
    return Outcome(client.Do("GET", "/v1/products/" + tag));
  }

  // How long until requests through the gateway are answered by `node` (polling every 2 ms);
  // nullopt if not within 5 s.
  std::optional<milliseconds> TimeUntilServedBy(const FakeNode& node, Clock::time_point since) {
    http::Client client = Client();
    if (!WaitFor([&] { return Ask(client) == node.name(); })) return std::nullopt;
    return std::chrono::duration_cast<milliseconds>(Clock::now() - since);
  }

  std::string directory_;
  std::string lease_file_;
  std::unique_ptr<coord::Coordinator> coordinator_;
  FakeNode topology_node_{"topology"};
  FakeNode a_{"a"};
  FakeNode b_{"b"};
  std::unique_ptr<Gateway> gateway_;
};

// The bar for noticing a move: the watcher reads every 50 ms; ~200 ms is the target, and the
// assertion leaves room for a loaded machine.
constexpr milliseconds kMoveBound{500};

TEST_F(GatewayFailoverTest, RoutesToTheLeaseHolder) {
  Acquire(a_);
  StartGateway();
  http::Client client = Client();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Ask(client, "p" + std::to_string(i)), "a");
  EXPECT_EQ(a_.received(), 20);
  EXPECT_EQ(topology_node_.received(), 0) << "the lease overrides the topology address";
  EXPECT_EQ(b_.received(), 0);
  ASSERT_EQ(gateway_->stats().size(), 1u);
  EXPECT_EQ(gateway_->stats()[0].address, a_.http_address());
}

TEST_F(GatewayFailoverTest, ACenterWhoseLeaseWasNeverHeldKeepsItsTopologyAddress) {
  StartGateway();
  http::Client client = Client();
  EXPECT_EQ(Ask(client), "topology");
  std::this_thread::sleep_for(milliseconds(150));  // a few polls of the empty lease
  EXPECT_EQ(Ask(client), "topology");
  EXPECT_EQ(gateway_->stats()[0].address, topology_node_.http_address());
  // Once someone holds it, the lease wins.
  const auto acquired_at = Clock::now();
  Acquire(a_);
  const std::optional<milliseconds> took = TimeUntilServedBy(a_, acquired_at);
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, kMoveBound);
}

// A switchover: the primary releases its lease and the other node takes it. New requests reach
// the new holder within about one poll; the old holder's connections are closed.
TEST_F(GatewayFailoverTest, FollowsTheLeaseWhenItMoves) {
  coord::Lease lease = Acquire(a_);
  StartGateway();
  http::Client client = Client();
  ASSERT_EQ(Ask(client), "a");
  ASSERT_GE(EstablishedConnectionsTo(a_.port()), 1);
  std::vector<milliseconds> took;
  for (int round = 0; round < 4; ++round) {
    FakeNode& from = round % 2 == 0 ? a_ : b_;
    FakeNode& to = round % 2 == 0 ? b_ : a_;
    Release(lease);
    lease = Acquire(to);
    const auto moved_at = Clock::now();
    const std::optional<milliseconds> elapsed = TimeUntilServedBy(to, moved_at);
    ASSERT_TRUE(elapsed.has_value()) << "round " << round << ": still " << Ask(client);
    took.push_back(*elapsed);
    // Every request from now on goes to the new holder, on any connection.
    for (int i = 0; i < 20; ++i) ASSERT_EQ(Ask(client, "q" + std::to_string(i)), to.name());
    EXPECT_EQ(gateway_->stats()[0].address, to.http_address());
    EXPECT_TRUE(WaitFor([&] { return EstablishedConnectionsTo(from.port()) == 0; }))
        << "connections to the old holder stay open";
  }
  for (size_t i = 0; i < took.size(); ++i) {
    std::printf("move %zu: served by the new holder %lld ms after the lease moved\n", i,
                static_cast<long long>(took[i].count()));
    EXPECT_LT(took[i], kMoveBound);
  }
  EXPECT_EQ(topology_node_.received(), 0);
}

// A failover: the primary dies (its server stops) without releasing. Its requests fail 503
// unavailable while it still holds the lease; once the lease runs out the gateway answers
// unavailable at once ("failing over"); once the standby takes the lease, routing resumes.
TEST_F(GatewayFailoverTest, AHolderThatDisappearsIsUnavailableUntilANewOneHolds) {
  Acquire(a_, milliseconds(400));  // not renewed: it runs out 400 ms from now
  StartGateway();
  http::Client client = Client();
  ASSERT_EQ(Ask(client), "a");
  a_.StopServer();
  auto dead = client.Do("GET", "/v1/products/p1");
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  EXPECT_EQ(Outcome(dead), "503 unavailable");
  EXPECT_THAT(dead->body, HasSubstr("center c1 (" + a_.http_address() + ")"));

  // The lease runs out: nobody is primary.
  ASSERT_TRUE(WaitFor([&] {
    auto holder = coordinator_->Read(kCenter);
    return holder.ok() && !holder->has_value();
  }));
  ASSERT_TRUE(WaitFor([&] {
    auto response = client.Do("GET", "/v1/products/p1");
    return response.ok() && response->body.find("failing over") != std::string::npos;
  }));
  for (int i = 0; i < 10; ++i) {
    const auto started = Clock::now();
    auto response = client.Do("GET", "/v1/products/p1");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(Outcome(response), "503 unavailable");
    EXPECT_THAT(response->body, HasSubstr("center c1 is failing over"));
    EXPECT_LT(Clock::now() - started, milliseconds(200)) << "answered at once";
  }
  EXPECT_EQ(gateway_->stats()[0].address, "");
  EXPECT_EQ(topology_node_.received(), 0) << "a center that was a pair never falls back";

  // The standby takes over.
  const auto acquired_at = Clock::now();
  Acquire(b_);
  const std::optional<milliseconds> took = TimeUntilServedBy(b_, acquired_at);
  ASSERT_TRUE(took.has_value());
  std::printf("served by the new holder %lld ms after it took the lease\n",
              static_cast<long long>(took->count()));
  EXPECT_LT(*took, kMoveBound);
  EXPECT_EQ(gateway_->stats()[0].address, b_.http_address());
}

// Sends this process's stderr to a file for as long as it lives, so that a test can read the log
// while the gateway's threads write to it.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SURGE_ASSERT(saved_ >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
  }
  std::string Contents() const {
    std::ifstream file(path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  // Waits up to 5 s for the log to hold `text`.
  bool WaitForText(std::string_view text) const {
    return WaitFor([&] { return Contents().find(text) != std::string::npos; });
  }

 private:
  std::string path_;
  int saved_ = -1;
};

size_t Occurrences(const std::string& text, std::string_view part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// An address that is not "<host:port>[/...]", or that does not resolve: logged (once), and
// ignored.
TEST_F(GatewayFailoverTest, AnUnparsableHolderAddressIsLoggedAndIgnored) {
  AcquireAt("x", "not-an-address");
  const StderrCapture log(directory_ + "/stderr");
  StartGateway();
  http::Client client = Client();
  EXPECT_EQ(Ask(client), "topology") << "never held with a usable address: topology";
  ASSERT_TRUE(log.WaitForText("center c1: ignoring the lease of x (epoch"));
  std::this_thread::sleep_for(milliseconds(200));  // several polls
  EXPECT_THAT(log.Contents(), HasSubstr("not-an-address"));
  EXPECT_EQ(Occurrences(log.Contents(), "ignoring"), 1u) << "logged once, not at every poll:\n"
                                                         << log.Contents();
  EXPECT_EQ(Ask(client), "topology");
}

// A usable holder, then unusable ones: the gateway stays with the last usable address. The
// watcher polls once a minute here and reads when the test makes it (a 503 unavailable answer),
// so it never looks between a Release and the next Acquire (where it would see no holder).
TEST_F(GatewayFailoverTest, AnUnusableNewHolderAddressKeepsTheLastUsableOne) {
  Options options;
  options.coord_poll_interval = milliseconds(60'000);
  coord::Lease lease = Acquire(a_);
  StartGateway(options);
  http::Client client = Client();
  ASSERT_EQ(Ask(client), "a");
  const StderrCapture log(directory_ + "/stderr");
  Release(lease);
  lease = AcquireAt("y", "127.0.0.1:notaport/127.0.0.1:1");
  EXPECT_EQ(Ask(client, "unavailable"), "503 unavailable");  // makes the gateway look
  ASSERT_TRUE(log.WaitForText("ignoring the lease of y"));
  EXPECT_EQ(Ask(client), "a");
  Release(lease);
  // A name lookup that fails (it may take a while: the watcher does it, never a loop).
  lease = AcquireAt("z", "no-such-host.invalid:80/127.0.0.1:1");
  EXPECT_EQ(Ask(client, "unavailable"), "503 unavailable");
  ASSERT_TRUE(log.WaitForText("ignoring the lease of z"));
  EXPECT_EQ(Ask(client), "a");
  EXPECT_EQ(gateway_->stats()[0].address, a_.http_address());
  EXPECT_EQ(Occurrences(log.Contents(), "ignoring"), 2u) << log.Contents();
}

// With a long poll interval, only the failure triggers make the gateway look again: a 503
// unavailable answer, a 421 answer, a refused connection. Each is relayed or failed as before,
// and the next requests go to the new holder.
TEST_F(GatewayFailoverTest, FailuresMakeTheGatewayLookAtOnce) {
  Options options;
  options.coord_poll_interval = milliseconds(60'000);
  coord::Lease lease = Acquire(a_);
  StartGateway(options);
  http::Client client = Client();
  ASSERT_EQ(Ask(client), "a");

  Release(lease);
  lease = Acquire(b_);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(Ask(client), "a") << "no poll for a minute: nothing told the gateway yet";
  auto unavailable = client.Do("GET", "/v1/products/unavailable");
  ASSERT_TRUE(unavailable.ok());
  EXPECT_EQ(Outcome(unavailable), "503 unavailable");
  EXPECT_THAT(unavailable->body, HasSubstr("node a is not primary")) << "relayed unchanged";
  EXPECT_TRUE(WaitFor([&] { return Ask(client) == "b"; }, milliseconds(1000)));

  Release(lease);
  lease = Acquire(a_);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(Ask(client), "b");
  auto misplaced = client.Do("GET", "/v1/products/misplaced");
  ASSERT_TRUE(misplaced.ok());
  EXPECT_EQ(Outcome(misplaced), "421 wrong_center");
  EXPECT_TRUE(WaitFor([&] { return Ask(client) == "a"; }, milliseconds(1000)));

  Release(lease);
  lease = Acquire(b_);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(Ask(client), "a");
  a_.StopServer();
  EXPECT_TRUE(WaitFor([&] { return Ask(client) == "b"; }, milliseconds(1000)));
}

// Requests in flight at the old holder when the lease moves are answered by it; the new ones go
// to the new holder meanwhile; the old connection closes once it carries nothing.
TEST_F(GatewayFailoverTest, RequestsInFlightAtTheOldHolderAreAnsweredThere) {
  coord::Lease lease = Acquire(a_);
  StartGateway();
  http::testing::RawSocket pending(gateway_->port());
  ASSERT_TRUE(pending.Send("GET /v1/products/hold1 HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return a_.held_count() == 1; }));
  Release(lease);
  lease = Acquire(b_);
  ASSERT_TRUE(TimeUntilServedBy(b_, Clock::now()).has_value());
  EXPECT_EQ(EstablishedConnectionsTo(a_.port()), 1) << "kept for the request it carries";
  a_.ReleaseHeld();
  auto answer = pending.Read();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(Field(answer->body, "", "node"), "a");
  EXPECT_THAT(answer->body, HasSubstr(R"("held":true)"));
  EXPECT_TRUE(WaitFor([&] { return EstablishedConnectionsTo(a_.port()) == 0; }));
}

// A frozen old holder (it never answers) cannot keep clients for the whole request timeout: once
// the center moved, its requests fail after moved_answer_timeout.
TEST_F(GatewayFailoverTest, AFrozenOldHolderFailsItsRequestsSoonAfterTheMove) {
  Options options;
  options.moved_answer_timeout = milliseconds(300);
  coord::Lease lease = Acquire(a_);
  StartGateway(options);
  http::testing::RawSocket pending(gateway_->port());
  ASSERT_TRUE(pending.Send("GET /v1/products/hold1 HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return a_.held_count() == 1; }));
  Release(lease);
  const auto moved_at = Clock::now();
  lease = Acquire(b_);
  auto answer = pending.Read(milliseconds(5000));
  const auto failed_after = Clock::now() - moved_at;
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 503);
  EXPECT_THAT(answer->body, HasSubstr("unavailable"));
  EXPECT_THAT(answer->body, HasSubstr("after the center moved"));
  EXPECT_GE(failed_after, milliseconds(300));
  EXPECT_LT(failed_after, milliseconds(3000)) << "long before the 10 s request timeout";
  http::Client client = Client();
  EXPECT_EQ(Ask(client), "b");
  EXPECT_TRUE(WaitFor([&] { return EstablishedConnectionsTo(a_.port()) == 0; }));
}

// Many clients keep ordering while the lease moves back and forth: every request is answered
// (by a holder, or 503 unavailable while it fails over), never by anyone else, never lost.
TEST_F(GatewayFailoverTest, ClientsUnderLoadFollowEveryMove) {
  coord::Lease lease = Acquire(a_);
  Options options;
  options.upstream_connections_per_center = 4;
  StartGateway(options);
  std::atomic<bool> done{false};
  std::atomic<int> by_a{0}, by_b{0}, unavailable{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      http::Client client = Client();
      while (!done.load()) {
        const std::string outcome = Ask(client);
        if (outcome == "a") {
          by_a.fetch_add(1);
        } else if (outcome == "b") {
          by_b.fetch_add(1);
        } else if (outcome == "503 unavailable") {
          unavailable.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(milliseconds(150));
    Release(lease);
    std::this_thread::sleep_for(milliseconds(20));  // a gap with no holder
    lease = Acquire(round % 2 == 0 ? b_ : a_);
  }
  std::this_thread::sleep_for(milliseconds(150));
  done.store(true);
  for (auto& thread : clients) thread.join();
  std::printf("answered by a: %d, by b: %d, unavailable: %d\n", by_a.load(), by_b.load(),
              unavailable.load());
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(by_a.load(), 0);
  EXPECT_GT(by_b.load(), 0);
  EXPECT_EQ(topology_node_.received(), 0);
  const CenterStats stats = gateway_->stats()[0];
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.forwarded, stats.answered + stats.unavailable);
  http::Client client = Client();
  EXPECT_EQ(Ask(client), "a") << "the last holder";
}

TEST(HttpAddressOfLease, TakesTheHttpPart) {
  EXPECT_EQ(HttpAddressOfLease("127.0.0.1:8080/127.0.0.1:9000")->ToString(), "127.0.0.1:8080");
  EXPECT_EQ(HttpAddressOfLease("localhost:80")->ToString(), "localhost:80");
  EXPECT_EQ(HttpAddressOfLease("[::1]:80/[::1]:81")->ToString(), "[::1]:80");
  for (const char* bad : {"", "/127.0.0.1:1", "127.0.0.1", "127.0.0.1:0/x", "host:99999/x"}) {
    EXPECT_EQ(HttpAddressOfLease(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(GatewayCoordOptions, AreChecked) {
  auto topology = topology::Parse(
      "slices = 1\nmaster = \"m\"\n[[center]]\nid = \"m\"\naddress = \"127.0.0.1:1\"\n"
      "slices = [0]\n",
      "t.toml");
  ASSERT_TRUE(topology.ok());
  Options options;
  options.topology = *topology;
  options.coord = "zookeeper:1.2.3.4";
  auto bad_spec = Gateway::Start(options);
  EXPECT_EQ(bad_spec.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad_spec.status().message(), HasSubstr("zookeeper"));
  options.coord = "file:/tmp/surge-gateway-coord-options-test";
  options.coord_poll_interval = milliseconds(0);
  EXPECT_EQ(Gateway::Start(options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace surge::gateway
