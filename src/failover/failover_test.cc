// Two nodes of one center in one process, on a simulated disk, with the embedded coordinator on a
// real lease file and shipping over loopback: the initial primary takes the lease, the other
// follows it; when the primary goes, the standby takes over with a higher epoch holding every
// acknowledged order; a node never in sync does not take over.
#include "failover/failover.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "center/center_testing.h"
#include "common/log.h"
#include "common/mem_env.h"
#include "common/net.h"
#include "coord/coord.h"

namespace surge::failover {
namespace {

using center::test_util::Call;
using center::test_util::ReadNow;
using std::chrono::milliseconds;

const bool kQuietLogs = [] {
  SetLogLevel(getenv("VERBOSE") ? LogLevel::kInfo : LogLevel::kWarning);
  return true;
}();

uint16_t FreePort() {
  Result<Listening> listening = ListenTcp("127.0.0.1", 0);
  SURGE_ASSERT(listening.ok());
  close(listening->fd);
  return listening->port;
}

bool WaitUntil(const std::function<bool()>& condition, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-failover-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto coordinator = coord::OpenEmbedded(dir_ + "/leases");
    ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
    coord_ = std::move(coordinator).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Node> StartNode(const std::string& name, bool initial_primary,
                                  uint64_t snapshot_every_records = 1'000'000) {
    Options options;
    options.center.snapshot_every_records = snapshot_every_records;
    options.center.segment_bytes_max = snapshot_every_records < 1'000 ? 4096 : 64ULL << 20;
    options.center.data_dir = "/" + name;
    options.center.center_id = "c1";
    options.center.batch_wait = std::chrono::microseconds(50);
    options.node = name;
    options.http_address = "127.0.0.1:1";  // not served here
    options.ship_port = FreePort();
    options.lease_ttl = milliseconds(300);
    options.initial_primary = initial_primary;
    auto node = Node::Start(env_, *coord_, options);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    return node.ok() ? std::move(node).value() : nullptr;
  }

  static void Catalogue(center::Center& center) {
    ASSERT_TRUE(Call(center, trade::PutMerchant{"acme", "Acme"}).status.ok());
    ASSERT_TRUE(Call(center, trade::PutProduct{"p1", "acme", "Phone", "phones", 100}).status.ok());
    ASSERT_TRUE(Call(center, trade::PutInventory{"p1", 1000}).status.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(Call(center, trade::PutUser{"u" + std::to_string(i), "n"}).status.ok());
    }
  }
  static trade::Reply Order(center::Center& center, int n) {
    return Call(center, trade::PlaceOrder{"r" + std::to_string(n),
                                          "u" + std::to_string(n % 10),
                                          {trade::OrderItem{"p1", 1}}});
  }
  static uint64_t Hash(center::Center& center) {
    return ReadNow(center, [](const trade::Trade& state, int64_t) { return state.StateHash(); });
  }

  // Removes every file under `dir` of the simulated disk, as a replaced disk would have none.
  void Wipe(const std::string& dir) {
    auto names = env_.ListDir(dir);
    ASSERT_TRUE(names.ok()) << names.status().ToString();
    for (const std::string& name : *names) {
      const std::string path = JoinPath(dir, name);
      if (env_.ListDir(path).ok()) {
        Wipe(path);
      } else {
        ASSERT_TRUE(env_.RemoveFile(path).ok()) << path;
      }
    }
  }

  MemEnv env_{5};
  std::string dir_;
  std::unique_ptr<coord::Coordinator> coord_;
};

TEST_F(FailoverTest, TheStandbyTakesOverWithEveryAcknowledgedOrder) {
  auto a = StartNode("a", true);
  auto b = StartNode("b", false);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitUntil([&] { return a->primary(); }, milliseconds(3000)));
  Catalogue(*a->center());
  std::vector<std::string> acknowledged;
  for (int n = 0; n < 50; ++n) {
    const trade::Reply reply = Order(*a->center(), n);
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    acknowledged.push_back(std::get<trade::OrderView>(reply.value).order_id);
  }
  const uint64_t first_epoch = a->epoch();
  const uint64_t hash = Hash(*a->center());
  a.reset();  // stops: the lease is released once its center stopped
  ASSERT_TRUE(WaitUntil([&] { return b->primary(); }, milliseconds(3000)));
  EXPECT_GT(b->epoch(), first_epoch);
  EXPECT_EQ(Hash(*b->center()), hash);
  for (const std::string& id : acknowledged) {
    const bool found = ReadNow(*b->center(), [&](const trade::Trade& state, int64_t now_ms) {
      return state.GetOrder(id, now_ms).ok();
    });
    EXPECT_TRUE(found) << id;
  }
  // The new primary acknowledges only once a standby is back: the old one rejoins.
  a = StartNode("a", false);
  ASSERT_NE(a, nullptr);
  const trade::Reply after = Order(*b->center(), 1000);
  EXPECT_TRUE(after.status.ok()) << after.status.ToString();
  EXPECT_FALSE(a->primary());
  ASSERT_TRUE(WaitUntil(
      [&] {
        center::Center* standby = a->center();
        return standby != nullptr && standby->durable_sequence() == b->center()->durable_sequence();
      },
      milliseconds(3000)));
  EXPECT_EQ(Hash(*a->center()), Hash(*b->center()));
}

TEST_F(FailoverTest, ANodeNeverInSyncDoesNotTakeOver) {
  auto a = StartNode("a", true);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return a->primary(); }, milliseconds(3000)));
  a.reset();  // gone before any standby was in sync with it
  auto fresh = StartNode("b", false);
  ASSERT_NE(fresh, nullptr);
  std::this_thread::sleep_for(milliseconds(600));  // two lease times
  EXPECT_FALSE(fresh->primary()) << "it could not know what the old primary acknowledged";
  // The old primary comes back and is primary again; the fresh node follows it.
  a = StartNode("a", false);
  ASSERT_TRUE(WaitUntil([&] { return a->primary(); }, milliseconds(3000)));
  Catalogue(*a->center());
}

// The standby's disk is wiped while the primary's journal snapshotted and removed its oldest
// segments: the standby node, started again on the empty disk, is seeded with the primary's
// snapshot, catches up and holds the same state; the primary acknowledges again.
TEST_F(FailoverTest, AWipedStandbyRejoinsAPrimaryThatRemovedSegments) {
  auto a = StartNode("a", true, /*snapshot_every_records=*/40);
  auto b = StartNode("b", false, 40);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitUntil([&] { return a->primary(); }, milliseconds(3000)));
  Catalogue(*a->center());
  for (int n = 0; n < 150; ++n) ASSERT_TRUE(Order(*a->center(), n).status.ok());
  b.reset();
  ASSERT_NO_FATAL_FAILURE(Wipe("/b"));
  ASSERT_FALSE(env_.FileExists("/a/journal/segment-00000000000000000001.log"))
      << "the primary removed no segment";

  b = StartNode("b", false, 40);
  ASSERT_NE(b, nullptr);
  // Answered only once the wiped standby holds it too.
  std::promise<trade::Reply> answered;
  std::future<trade::Reply> answer = answered.get_future();
  a->center()->Submit(trade::PlaceOrder{"r-after", "u1", {trade::OrderItem{"p1", 1}}},
                      [&](trade::Reply reply) { answered.set_value(std::move(reply)); });
  ASSERT_EQ(answer.wait_for(milliseconds(10'000)), std::future_status::ready)
      << "the wiped standby never got in sync";
  EXPECT_TRUE(answer.get().status.ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        center::Center* standby = b->center();
        return standby != nullptr && standby->durable_sequence() == a->center()->durable_sequence();
      },
      milliseconds(5000)));
  EXPECT_EQ(Hash(*b->center()), Hash(*a->center()));
  EXPECT_FALSE(b->primary());
  EXPECT_TRUE(a->primary());
}

}  // namespace
}  // namespace surge::failover
