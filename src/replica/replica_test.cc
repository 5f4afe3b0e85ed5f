// A primary center and its hot standby in one process, on a simulated disk, joined by the real
// shipping protocol over loopback TCP: the standby holds everything the primary acknowledges and
// reaches the same state hash; nothing is acknowledged without it; a restarted standby catches
// up; a tail nobody acknowledged is dropped; a promoted standby serves and the old primary
// rejoins as its standby; a primary of another epoch is refused; an idle primary keeps its
// standby, a silent one (a cut link: no error, just nothing) loses it.
#include "replica/replica.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "center/center_testing.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/mem_env.h"
#include "common/net.h"
#include "journal/journal.h"
#include "replica/connection.h"
#include "replica/wire.h"

namespace surge::replica {
namespace {

using center::test_util::Call;
using center::test_util::ReadNow;
using std::chrono::milliseconds;

const bool kQuietLogs = [] {
  SetLogLevel(LogLevel::kWarning);
  return true;
}();

// A master of a two-center deployment, so that order events records are shipped too.
center::Options CenterOptions(const std::string& dir) {
  center::Options options;
  options.data_dir = dir;
  options.center_id = "m";
  options.master = "m";
  options.centers = {"m", "s1"};
  options.batch_wait = std::chrono::microseconds(50);
  return options;
}

// One node: its center and, as a primary, its shipper; as a standby, its receiver thread.
struct Node {
  std::unique_ptr<Shipper> shipper;
  std::unique_ptr<center::Center> center;
  std::unique_ptr<Receiver> receiver;
  std::thread receiving;
  std::promise<Status> ended;
  std::future<Status> ended_future;
  Resync resync;

  // A primary's writer may be waiting for a standby (flushing order events as it stops): closing
  // the link first lets it stop.
  ~Node() {
    StopReceiving();
    if (shipper != nullptr) shipper->Close();
  }
  void StopReceiving() {
    if (receiver != nullptr) receiver->Close();
    if (receiving.joinable()) receiving.join();
  }
};

class ReplicaTest : public ::testing::Test {
 protected:
  // A primary at `epoch` on `dir`, shipping to whoever connects.
  std::unique_ptr<Node> OpenPrimary(const std::string& dir, uint64_t epoch,
                                    std::function<bool()> may_acknowledge = nullptr) {
    auto node = std::make_unique<Node>();
    // The shipper needs the journal's durable end: open the center as a standby first, then
    // promote it with the shipper (what a standby taking over does, too).
    center::Options options = Tuned(CenterOptions(dir));
    options.standby = true;
    auto opened = center::Center::Open(env_, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    node->center = std::move(opened).value();
    ShipperOptions shipping;
    shipping.center = "m";
    shipping.journal_dir = dir + "/journal";
    shipping.epoch = epoch;
    shipping.may_acknowledge = std::move(may_acknowledge);
    shipping.ack_timeout = milliseconds(2000);
    auto shipper = Shipper::Start(env_, shipping, node->center->durable_sequence());
    EXPECT_TRUE(shipper.ok()) << shipper.status().ToString();
    if (!shipper.ok()) return nullptr;
    node->shipper = std::move(shipper).value();
    const Status promoted = node->center->Promote(node->shipper.get());
    EXPECT_TRUE(promoted.ok()) << promoted.ToString();
    return node;
  }

  // A standby on `dir` following `primary` (epoch `epoch`), receiving on a thread of its own.
  std::unique_ptr<Node> OpenStandby(const std::string& dir, const Node& primary, uint64_t epoch,
                                    uint64_t keep_through = UINT64_MAX) {
    auto node = std::make_unique<Node>();
    center::Options options = Tuned(CenterOptions(dir));
    options.standby = true;
    options.keep_through = keep_through;
    auto opened = center::Center::Open(env_, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    node->center = std::move(opened).value();
    node->receiver = std::make_unique<Receiver>(Receiving(PortOf(primary), epoch), *node->center);
    node->ended_future = node->ended.get_future();
    Node* raw = node.get();
    node->receiving =
        std::thread([raw] { raw->ended.set_value(raw->receiver->Run(&raw->resync)); });
    return node;
  }

  center::Options Tuned(center::Options options) const {
    options.snapshot_every_records = snapshot_every_records_;
    options.segment_bytes_max = segment_bytes_max_;
    return options;
  }

  // A standby on `dir` that `primary` must seed (it holds nothing the primary still journals):
  // its first Run hands over the primary's snapshot (returned in `*seeded`), which is installed
  // while the standby is closed, as a node does; then it opens again and follows.
  std::unique_ptr<Node> OpenSeededStandby(const std::string& dir, const Node& primary,
                                          uint64_t epoch, Resync* seeded) {
    auto node = OpenStandby(dir, primary, epoch);
    if (node == nullptr) return nullptr;
    const Status ended = node->ended_future.get();
    EXPECT_EQ(ended.code(), Code::kWrongState) << ended.ToString();
    EXPECT_TRUE(node->resync.must_install());
    EXPECT_FALSE(node->resync.must_truncate());
    if (!node->resync.must_install()) return nullptr;
    *seeded = std::move(node->resync);
    node.reset();  // the center closes before its journal is replaced
    const Status installed = InstallSnapshot(env_, dir, *seeded);
    EXPECT_TRUE(installed.ok()) << installed.ToString();
    return OpenStandby(dir, primary, epoch);
  }

  // A primary on /p that snapshots every 50 records and removes the segments its snapshots made
  // unneeded, and a standby on /s that followed it through 300 orders.
  void PruningPairAfter300Orders(std::unique_ptr<Node>* primary, std::unique_ptr<Node>* standby) {
    snapshot_every_records_ = 50;
    segment_bytes_max_ = 4096;
    *primary = OpenPrimary("/p", 1);
    ASSERT_NE(*primary, nullptr);
    *standby = OpenStandby("/s", **primary, 1);
    ASSERT_NE(*standby, nullptr);
    LoadCatalogue(*(*primary)->center);
    PlaceOrders(*(*primary)->center, 1, 300);
    ExpectSameState(*(*primary)->center, *(*standby)->center);
  }

  // A standby of center m following the primary at 127.0.0.1:`port` of `epoch`.
  static ReceiverOptions Receiving(uint16_t port, uint64_t epoch) {
    ReceiverOptions receiving;
    receiving.center = "m";
    receiving.primary_host = "127.0.0.1";
    receiving.primary_port = port;
    receiving.epoch = epoch;
    return receiving;
  }

  // The first sequence of the oldest segment in a journal directory.
  uint64_t OldestSegment(const std::string& journal_dir) {
    auto names = env_.ListDir(journal_dir);
    EXPECT_TRUE(names.ok());
    uint64_t oldest = UINT64_MAX;
    for (const std::string& name : *names) {
      if (name.starts_with("segment-") && name.ends_with(".log")) {
        oldest = std::min<uint64_t>(oldest, std::stoull(name.substr(8, 20)));
      }
    }
    return oldest;
  }

  static uint16_t PortOf(const Node& primary) {
    const std::string address = primary.shipper->address();
    return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  }

  static bool WaitUntil(const std::function<bool()>& condition, milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  static uint64_t Hash(center::Center& center) {
    return ReadNow(center, [](const trade::Trade& state, int64_t) { return state.StateHash(); });
  }

  static void LoadCatalogue(center::Center& center) {
    ASSERT_TRUE(Call(center, trade::PutMerchant{"acme", "Acme"}).status.ok());
    ASSERT_TRUE(Call(center, trade::PutProduct{"p1", "acme", "Phone", "phones", 100}).status.ok());
    ASSERT_TRUE(Call(center, trade::PutCampaign{"c1", "p1", 100'000, 50, 0, trade::kTimeMsMax,
                                                1'000, 600'000})
                    .status.ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(Call(center, trade::PutUser{"u" + std::to_string(i), "n"}).status.ok());
    }
  }

  static trade::PlaceOrder Order(int n) {
    return trade::PlaceOrder{
        "r" + std::to_string(n), "u" + std::to_string(n % 20), {trade::OrderItem{"p1", 1}}};
  }

  // Places orders first..last from four threads; every one must be created.
  static void PlaceOrders(center::Center& center, int first, int last) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&center, first, last, t] {
        for (int n = first + t; n <= last; n += 4) {
          const trade::Reply reply = Call(center, Order(n));
          EXPECT_TRUE(reply.status.ok()) << n << ": " << reply.status.ToString();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  // The two converge on the same journal end and state. The standby may be ahead for a moment:
  // the primary makes a batch durable only after its standby did (a batch of order events is
  // journaled within 5 ms of the last command, after every test's last order).
  static void ExpectSameState(center::Center& primary, center::Center& standby) {
    WaitUntil(
        [&] {
          return standby.durable_sequence() == primary.durable_sequence() &&
                 Hash(standby) == Hash(primary);
        },
        milliseconds(5000));
    EXPECT_EQ(standby.durable_sequence(), primary.durable_sequence());
    EXPECT_EQ(Hash(standby), Hash(primary));
  }

  MemEnv env_{11};
  // Centers opened by OpenPrimary and OpenStandby snapshot this often and start a new segment past
  // this size; a test that wants its primary to remove old segments makes them small.
  uint64_t snapshot_every_records_ = 1'000'000;
  uint64_t segment_bytes_max_ = 64ULL << 20;
};

TEST_F(ReplicaTest, TheStandbyHoldsWhatThePrimaryAcknowledgesWithTheSameStateHash) {
  auto primary = OpenPrimary("/p", 1);
  ASSERT_NE(primary, nullptr);
  auto standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  LoadCatalogue(*primary->center);
  PlaceOrders(*primary->center, 1, 400);
  EXPECT_TRUE(standby->receiver->in_sync());
  EXPECT_TRUE(primary->shipper->in_sync());
  ExpectSameState(*primary->center, *standby->center);
  // Order events records were shipped as well: the standby's journal is the primary's.
  EXPECT_GT(primary->center->stats().events_records, 0u);
  EXPECT_FALSE(Call(*standby->center, Order(999)).status.ok()) << "a standby takes no orders";
}

TEST_F(ReplicaTest, NothingIsAcknowledgedWithoutTheStandby) {
  auto primary = OpenPrimary("/p", 1);
  ASSERT_NE(primary, nullptr);
  const uint64_t durable = primary->center->durable_sequence();
  std::promise<trade::Reply> answered;
  std::future<trade::Reply> answer = answered.get_future();
  primary->center->Submit(trade::PutMerchant{"acme", "Acme"},
                          [&](trade::Reply reply) { answered.set_value(std::move(reply)); });
  EXPECT_EQ(answer.wait_for(milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(primary->center->durable_sequence(), durable) << "not even durable at the primary";
  auto standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  ASSERT_EQ(answer.wait_for(milliseconds(5000)), std::future_status::ready);
  EXPECT_TRUE(answer.get().status.ok());
  ExpectSameState(*primary->center, *standby->center);
}

TEST_F(ReplicaTest, ARestartedStandbyCatchesUpFromTheJournal) {
  auto primary = OpenPrimary("/p", 1);
  ASSERT_NE(primary, nullptr);
  auto standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  LoadCatalogue(*primary->center);
  PlaceOrders(*primary->center, 1, 100);
  standby.reset();  // its receiver ends, then the center closes
  // Orders wait for a standby meanwhile.
  std::thread placing([&] { PlaceOrders(*primary->center, 101, 140); });
  std::this_thread::sleep_for(milliseconds(100));
  standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  placing.join();
  PlaceOrders(*primary->center, 141, 200);
  ExpectSameState(*primary->center, *standby->center);
}

TEST_F(ReplicaTest, ATailThatThePrimaryNeverHadIsDropped) {
  // The lease runs out exactly when the standby has made a batch durable beyond `acknowledged`:
  // the primary then may neither answer it nor make it durable itself.
  std::atomic<bool> armed{false};
  std::atomic<uint64_t> acknowledged{0};
  std::atomic<center::Center*> watched{nullptr};
  auto primary = OpenPrimary("/p", 1, [&] {
    return !armed.load() || watched.load()->durable_sequence() <= acknowledged.load();
  });
  ASSERT_NE(primary, nullptr);
  auto standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  watched = standby->center.get();
  LoadCatalogue(*primary->center);
  PlaceOrders(*primary->center, 1, 50);
  std::this_thread::sleep_for(milliseconds(50));  // the order events follow within 5 ms
  acknowledged = primary->center->durable_sequence();
  armed = true;
  const trade::Reply lost = Call(*primary->center, Order(51));
  EXPECT_EQ(lost.status.code(), Code::kUnavailable) << lost.status.ToString();
  EXPECT_TRUE(primary->center->failed()) << "a primary that cannot ship steps down";
  EXPECT_GT(standby->center->durable_sequence(), acknowledged.load());
  primary.reset();
  standby.reset();

  // The old primary comes back first (epoch 2); the standby must drop what it alone holds.
  primary = OpenPrimary("/p", 2);
  ASSERT_NE(primary, nullptr);
  EXPECT_EQ(primary->center->durable_sequence(), acknowledged.load());
  standby = OpenStandby("/s", *primary, 2);
  ASSERT_NE(standby, nullptr);
  const Status ended = standby->ended_future.get();
  EXPECT_EQ(ended.code(), Code::kWrongState) << ended.ToString();
  EXPECT_EQ(standby->resync.keep_through, acknowledged.load());
  EXPECT_FALSE(standby->resync.must_install());
  const uint64_t keep = standby->resync.keep_through;
  standby.reset();
  standby = OpenStandby("/s", *primary, 2, keep);
  ASSERT_NE(standby, nullptr);
  PlaceOrders(*primary->center, 52, 100);
  ExpectSameState(*primary->center, *standby->center);
}

TEST_F(ReplicaTest, APromotedStandbyServesAndTheOldPrimaryRejoinsAsItsStandby) {
  auto first = OpenPrimary("/a", 1);
  ASSERT_NE(first, nullptr);
  auto second = OpenStandby("/b", *first, 1);
  ASSERT_NE(second, nullptr);
  LoadCatalogue(*first->center);
  PlaceOrders(*first->center, 1, 100);
  const trade::Reply before = Call(*first->center, Order(101));
  ASSERT_TRUE(before.status.ok());
  // The primary goes; the standby stops following and takes over at epoch 2.
  first.reset();
  second->StopReceiving();
  ShipperOptions shipping;
  shipping.center = "m";
  shipping.journal_dir = "/b/journal";
  shipping.epoch = 2;
  auto shipper = Shipper::Start(env_, shipping, second->center->durable_sequence());
  ASSERT_TRUE(shipper.ok());
  second->shipper = std::move(shipper).value();
  ASSERT_TRUE(second->center->Promote(second->shipper.get()).ok());
  EXPECT_FALSE(second->center->standby());
  auto rejoined = OpenStandby("/a", *second, 2);
  ASSERT_NE(rejoined, nullptr);
  // A client retrying an order acknowledged before the failover gets that same order.
  const trade::Reply retried = Call(*second->center, Order(101));
  ASSERT_TRUE(retried.status.ok()) << retried.status.ToString();
  EXPECT_EQ(std::get<trade::OrderView>(retried.value).order_id,
            std::get<trade::OrderView>(before.value).order_id);
  PlaceOrders(*second->center, 102, 200);
  ExpectSameState(*second->center, *rejoined->center);
}

TEST_F(ReplicaTest, AStandbyRefusesAPrimaryOfAnotherEpoch) {
  auto primary = OpenPrimary("/p", 1);
  ASSERT_NE(primary, nullptr);
  auto stale = OpenStandby("/s", *primary, 2);  // it was told the primary is at epoch 2
  ASSERT_NE(stale, nullptr);
  const Status ended = stale->ended_future.get();
  EXPECT_EQ(ended.code(), Code::kWrongState) << ended.ToString();
  EXPECT_FALSE(primary->shipper->in_sync());
}

// Nothing to ship for longer than a standby's patience with silence: the keep-alives hold it.
TEST_F(ReplicaTest, AnIdlePrimaryKeepsItsStandby) {
  auto primary = OpenPrimary("/p", 1);
  ASSERT_NE(primary, nullptr);
  auto standby = OpenStandby("/s", *primary, 1);
  ASSERT_NE(standby, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return primary->shipper->in_sync(); }, milliseconds(5000)));
  EXPECT_EQ(standby->ended_future.wait_for(milliseconds(3500)), std::future_status::timeout)
      << "the standby stopped following an idle primary";
  ASSERT_NO_FATAL_FAILURE(LoadCatalogue(*primary->center));
  ExpectSameState(*primary->center, *standby->center);
}

// A primary that welcomes its standby and then says nothing, as one behind a link taken down
// looks: the standby ends (and its node connects again) instead of waiting forever.
TEST_F(ReplicaTest, AStandbyGivesUpOnASilentPrimary) {
  Result<Listening> listening = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listening.ok()) << listening.status().ToString();
  std::thread silent([fd = listening->fd] {
    const int accepted = accept(fd, nullptr, nullptr);
    ASSERT_GE(accepted, 0);
    Connection connection(accepted);
    Result<wire::Frame> hello = connection.Receive(milliseconds(5000));
    ASSERT_TRUE(hello.ok() && hello->type == wire::Type::kHello);
    std::string out;
    wire::AppendWelcome(/*epoch=*/1, /*keep_through=*/hello->sequence, &out);
    wire::AppendInSync(hello->sequence, &out);
    ASSERT_TRUE(connection.Send(out, milliseconds(5000)).ok());
    bool quiet = false;  // silent from here: waits for the standby to hang up
    (void)connection.Receive(milliseconds(10'000), &quiet);
    EXPECT_FALSE(quiet) << "the standby kept waiting on a silent primary";
  });
  center::Options options = CenterOptions("/s");
  options.standby = true;
  auto center = center::Center::Open(env_, options);
  ASSERT_TRUE(center.ok()) << center.status().ToString();
  Receiver receiver(Receiving(listening->port, 1), **center);
  Resync resync;
  const auto started = std::chrono::steady_clock::now();
  const Status ended = receiver.Run(&resync);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(ended.code(), Code::kIoError) << ended.ToString();
  EXPECT_NE(ended.message().find("silent"), std::string::npos) << ended.ToString();
  EXPECT_TRUE(receiver.in_sync());
  EXPECT_LT(waited, std::chrono::seconds(8));
  silent.join();
  close(listening->fd);
}

// A primary whose journal snapshotted and removed its oldest segments, and a standby on an empty
// disk: the primary sends its newest snapshot, the standby installs it, catches up from the
// journal after it, gets in sync with the same state hash, and follows new batches.
TEST_F(ReplicaTest, AFreshStandbyIsSeededFromTheSnapshotOfAPrimaryThatRemovedSegments) {
  std::unique_ptr<Node> primary, first;
  ASSERT_NO_FATAL_FAILURE(PruningPairAfter300Orders(&primary, &first));
  ASSERT_GT(OldestSegment("/p/journal"), 1u) << "the primary removed no segment";
  ASSERT_NE(OldestSegment("/p/journal"), UINT64_MAX);
  first.reset();  // its disk is replaced: the next standby starts from nothing

  Resync seeded;
  auto fresh = OpenSeededStandby("/fresh", *primary, 1, &seeded);
  ASSERT_NE(fresh, nullptr);
  EXPECT_GE(seeded.snapshot_sequence + 1, OldestSegment("/p/journal"));
  EXPECT_LE(seeded.snapshot_sequence, primary->center->durable_sequence());
  EXPECT_FALSE(seeded.snapshot.empty());
  ASSERT_TRUE(WaitUntil([&] { return fresh->receiver->in_sync(); }, milliseconds(10'000)));
  ExpectSameState(*primary->center, *fresh->center);
  PlaceOrders(*primary->center, 301, 400);
  ExpectSameState(*primary->center, *fresh->center);
  EXPECT_EQ(fresh->ended_future.wait_for(milliseconds(0)), std::future_status::timeout)
      << "the seeded standby stopped following";
}

// A standby snapshots like its primary (else its journal grows without end and a restart replays
// all of it), and recovers from its own snapshot when it restarts.
TEST_F(ReplicaTest, AStandbySnapshotsAndRestartsFromItsOwnSnapshot) {
  std::unique_ptr<Node> primary, standby;
  ASSERT_NO_FATAL_FAILURE(PruningPairAfter300Orders(&primary, &standby));
  const Result<journal::StoredSnapshot> own = journal::ReadNewestSnapshot(env_, "/s/journal");
  ASSERT_TRUE(own.ok()) << "the standby wrote no snapshot: " << own.status().ToString();
  EXPECT_GT(own->sequence, 50u);
  EXPECT_GT(OldestSegment("/s/journal"), 1u) << "the standby removed no segment";
  standby.reset();
  auto restarted = OpenStandby("/s", *primary, 1);
  ASSERT_NE(restarted, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return restarted->receiver->in_sync(); }, milliseconds(10'000)));
  ExpectSameState(*primary->center, *restarted->center);
  PlaceOrders(*primary->center, 301, 400);
  ExpectSameState(*primary->center, *restarted->center);
}

// With the same pruning primary, a standby that missed only a few batches is not seeded: the
// journal still holds what it needs, and it catches up from there.
TEST_F(ReplicaTest, AStandbyALittleBehindCatchesUpFromTheJournalWithoutASnapshot) {
  std::unique_ptr<Node> primary, behind;
  ASSERT_NO_FATAL_FAILURE(PruningPairAfter300Orders(&primary, &behind));
  const uint64_t left_at = behind->center->durable_sequence();
  behind.reset();
  // Another standby (seeded) takes its place for a few batches.
  Resync seeded;
  auto other = OpenSeededStandby("/other", *primary, 1, &seeded);
  ASSERT_NE(other, nullptr);
  PlaceOrders(*primary->center, 301, 312);
  ExpectSameState(*primary->center, *other->center);
  other.reset();
  ASSERT_GT(primary->center->durable_sequence(), left_at);
  ASSERT_GT(OldestSegment("/p/journal"), 1u) << "the primary removed no segment";
  ASSERT_LE(OldestSegment("/p/journal"), left_at + 1) << "the lag is too long for this test";

  behind = OpenStandby("/s", *primary, 1);
  ASSERT_NE(behind, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return behind->receiver->in_sync(); }, milliseconds(10'000)));
  EXPECT_EQ(behind->ended_future.wait_for(milliseconds(0)), std::future_status::timeout)
      << "the standby was sent a snapshot";
  EXPECT_FALSE(behind->resync.must_install());
  PlaceOrders(*primary->center, 313, 330);
  ExpectSameState(*primary->center, *behind->center);
}

// A snapshot that does not check out is refused: no Resync to install, an error to the primary.
TEST_F(ReplicaTest, AStandbyRefusesADamagedOrOversizedSnapshot) {
  struct Case {
    const char* what;
    uint64_t snapshot_bytes_max;
    uint32_t crc32c_added;  // to the right checksum
    Code expected;
  };
  for (const Case& c : {Case{"checksum", 1 << 20, 1, Code::kCorruption},
                        Case{"size", 10, 0, Code::kInvalidArgument}}) {
    SCOPED_TRACE(c.what);
    Result<Listening> listening = ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(listening.ok()) << listening.status().ToString();
    std::string refusal;
    std::thread fake([&, fd = listening->fd] {
      const int accepted = accept(fd, nullptr, nullptr);
      ASSERT_GE(accepted, 0);
      Connection connection(accepted);
      Result<wire::Frame> hello = connection.Receive(milliseconds(5000));
      ASSERT_TRUE(hello.ok() && hello->type == wire::Type::kHello);
      const std::string state(3000, 's');
      std::string out;
      wire::AppendWelcome(/*epoch=*/1, /*keep_through=*/hello->sequence, &out);
      wire::AppendSnapshot(1, hello->sequence + 40, state.size(), Crc32c(state) + c.crc32c_added,
                           &out);
      wire::AppendSnapshotChunk(1, 0, std::string_view(state).substr(0, 1000), &out);
      wire::AppendSnapshotChunk(1, 1000, std::string_view(state).substr(1000), &out);
      (void)connection.Send(out, milliseconds(5000));
      Result<wire::Frame> answer = connection.Receive(milliseconds(5000));
      if (answer.ok() && answer->type == wire::Type::kError) refusal = answer->message;
    });
    center::Options options = CenterOptions("/s");
    options.standby = true;
    auto center = center::Center::Open(env_, options);
    ASSERT_TRUE(center.ok()) << center.status().ToString();
    ReceiverOptions receiving = Receiving(listening->port, 1);
    receiving.snapshot_bytes_max = c.snapshot_bytes_max;
    Receiver receiver(receiving, **center);
    Resync resync;
    const Status ended = receiver.Run(&resync);
    fake.join();
    close(listening->fd);
    EXPECT_EQ(ended.code(), c.expected) << ended.ToString();
    EXPECT_FALSE(resync.must_install());
    EXPECT_TRUE(resync.snapshot.empty());
    EXPECT_NE(refusal.find("snapshot"), std::string::npos) << refusal;
  }
}

}  // namespace
}  // namespace surge::replica
