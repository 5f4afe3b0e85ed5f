// The bus's delivery contract (bus.h), run against every implementation: in order and each once,
// complete across catch-up and live, de-duplicated re-sends, resumable after a consumer restart
// (applying nothing twice), and surviving the publisher going away and coming back.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/jetstream.h"
#include "bus/jetstream_testing.h"

namespace surge::bus {
namespace {

using std::chrono::milliseconds;

// What a center's journal holds: every record it published, for the embedded publisher's
// catch-up. Thread-safe.
class FakeJournal {
 public:
  void Add(const std::vector<Record>& records) {
    std::lock_guard lock(mutex_);
    for (const Record& record : records) {
      stored_.push_back({record.sequence, record.kind, std::string(record.payload)});
    }
  }
  Status Read(uint64_t from, uint64_t through, const std::function<bool(const Record&)>& visit) {
    std::vector<std::tuple<uint64_t, Kind, std::string>> copy;
    {
      std::lock_guard lock(mutex_);
      if (from < oldest_kept_)
        return Status(Code::kNotFound,
                      "records before " + std::to_string(oldest_kept_) + " were dropped");
      copy = stored_;
    }
    for (const auto& [sequence, kind, payload] : copy) {
      if (sequence < from || sequence > through) continue;
      if (!visit(Record{sequence, kind, payload})) break;
    }
    return Status::Ok();
  }
  void DropBefore(uint64_t sequence) {
    std::lock_guard lock(mutex_);
    oldest_kept_ = sequence;
  }

 private:
  std::mutex mutex_;
  std::vector<std::tuple<uint64_t, Kind, std::string>> stored_;
  uint64_t oldest_kept_ = 0;
};

// The records a consumer applied, with the last sequence it remembers, as a consumer keeps them
// durably together (here: in memory, surviving the consumer's "restart").
class Consumer {
 public:
  Deliver Callback() {
    return [this](const Record& record) {
      std::lock_guard lock(mutex_);
      if (record.sequence <= remembered_) {
        ++redelivered_;  // applied before the restart: skipped, not applied twice
        return;
      }
      applied_.emplace_back(record.sequence, std::string(record.payload));
      remembered_ = record.sequence;
      changed_.notify_all();
    };
  }
  bool WaitFor(size_t count, milliseconds timeout = milliseconds(10'000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return applied_.size() >= count; });
  }
  std::vector<std::pair<uint64_t, std::string>> applied() {
    std::lock_guard lock(mutex_);
    return applied_;
  }
  uint64_t remembered() {
    std::lock_guard lock(mutex_);
    return remembered_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<uint64_t, std::string>> applied_;
  uint64_t remembered_ = 0;
  uint64_t redelivered_ = 0;
};

// One implementation under test.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual Bus& bus() = 0;
  // Opens `center`'s publisher, whose history is `journal`, everything through
  // `published_through` already published.
  virtual Result<std::unique_ptr<Publisher>> Open(const std::string& center, FakeJournal* journal,
                                                  uint64_t published_through = 0,
                                                  size_t live_window_records = 65'536) = 0;
};

class EmbeddedHarness final : public Harness {
 public:
  EmbeddedHarness()
      : bus_(NewEmbeddedBus([this](std::string_view center) -> std::optional<std::string> {
          std::lock_guard lock(mutex_);
          auto it = addresses_.find(std::string(center));
          if (it == addresses_.end()) return std::nullopt;
          return it->second;
        })) {}
  Bus& bus() override { return *bus_; }
  Result<std::unique_ptr<Publisher>> Open(const std::string& center, FakeJournal* journal,
                                          uint64_t published_through,
                                          size_t live_window_records) override {
    PublisherOptions options;
    options.center = center;
    {
      // A restarted publisher comes back on the same port, as a center would.
      std::lock_guard lock(mutex_);
      auto it = addresses_.find(center);
      options.listen = it == addresses_.end() ? "127.0.0.1:0" : it->second;
    }
    options.history = [journal](uint64_t from, uint64_t through,
                                const std::function<bool(const Record&)>& visit) {
      return journal->Read(from, through, visit);
    };
    options.published_through = published_through;
    options.live_window_records = live_window_records;
    auto publisher = bus_->OpenPublisher(options);
    if (publisher.ok()) {
      std::lock_guard lock(mutex_);
      addresses_[center] = (*publisher)->address();
    }
    return publisher;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> addresses_;
  std::unique_ptr<Bus> bus_;
};

// JetStream: a nats-server of its own per test (jetstream_testing.h). The server holds the
// history, so the journal matters only to make "everything through published_through already
// published" true: Open publishes what the server lacks of it, and if the journal no longer has
// the oldest of those records, it makes the server lack them too (publishes stand-ins and purges
// them, as JetStream's retention would have dropped them). A subscriber never talks to the
// publisher, only to the server: what a subscriber sees of "the publisher going away" is the
// server going away, so a publisher's end stops the server (SIGKILL, as a crash would) and the
// next Open starts it again on the same port and store.
class JetStreamHarness final : public Harness {
 public:
  Status Start() {
    SURGE_RETURN_IF_ERROR(server_.Start());
    SURGE_ASSIGN_OR_RETURN(bus_, NewJetStreamBus(server_.url(), [this](std::string_view center) {
                             std::lock_guard lock(mutex_);
                             return opened_.contains(std::string(center));
                           }));
    return Status::Ok();
  }
  Bus& bus() override { return *bus_; }
  Result<std::unique_ptr<Publisher>> Open(const std::string& center, FakeJournal* journal,
                                          uint64_t published_through, size_t) override {
    if (!server_.running()) SURGE_RETURN_IF_ERROR(server_.Restart());
    {
      std::lock_guard lock(mutex_);
      opened_.insert(center);
    }
    PublisherOptions options;
    options.center = center;
    SURGE_ASSIGN_OR_RETURN(std::unique_ptr<Publisher> publisher, bus_->OpenPublisher(options));
    SURGE_RETURN_IF_ERROR(PublishThrough(center, *publisher, *journal, published_through));
    return std::unique_ptr<Publisher>(new GoesAwayWithTheServer(std::move(publisher), &server_));
  }

 private:
  class GoesAwayWithTheServer final : public Publisher {
   public:
    GoesAwayWithTheServer(std::unique_ptr<Publisher> publisher, testing::NatsServer* server)
        : publisher_(std::move(publisher)), server_(server) {}
    ~GoesAwayWithTheServer() override {
      publisher_.reset();
      server_->Stop(SIGKILL);
    }
    Status Publish(std::span<const Record> records) override {
      return publisher_->Publish(records);
    }
    uint64_t last_published() const override { return publisher_->last_published(); }
    std::string address() const override { return publisher_->address(); }

   private:
    std::unique_ptr<Publisher> publisher_;
    testing::NatsServer* server_;
  };

  Status PublishThrough(const std::string& center, Publisher& publisher, FakeJournal& journal,
                        uint64_t through) {
    const uint64_t from = publisher.last_published() + 1;
    if (through < from) return Status::Ok();
    // The oldest record the journal still has, in [from, through + 1].
    uint64_t low = from;
    uint64_t high = through + 1;
    while (low < high) {
      const uint64_t middle = low + (high - low) / 2;
      if (journal.Read(middle, middle, [](const Record&) { return true; }).ok()) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    if (low > from) SURGE_RETURN_IF_ERROR(DropBefore(center, publisher, from, low));
    std::vector<std::string> payloads;
    std::vector<Record> records;
    SURGE_RETURN_IF_ERROR(journal.Read(low, through, [&](const Record& record) {
      payloads.emplace_back(record.payload);
      records.push_back(record);
      return true;
    }));
    for (size_t i = 0; i < records.size(); ++i) records[i].payload = payloads[i];
    return publisher.Publish(records);
  }

  // Makes the server lack the center's records before `oldest` (from `from` on): stand-ins for
  // the last ones before it, one per kind, published and purged.
  Status DropBefore(const std::string& center, Publisher& publisher, uint64_t from,
                    uint64_t oldest) {
    std::vector<Record> stand_ins;
    for (uint64_t sequence = std::max(from, oldest > 3 ? oldest - 3 : 1); sequence < oldest;
         ++sequence) {
      stand_ins.push_back(Record{sequence, static_cast<Kind>(1 + (oldest - sequence) % 3), "gone"});
    }
    SURGE_RETURN_IF_ERROR(publisher.Publish(stand_ins));
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
    natsStatus status = natsConnection_ConnectTo(&connection, server_.url().c_str());
    if (status == NATS_OK) status = natsConnection_JetStream(&js, connection, nullptr);
    for (const Kind kind : {Kind::kMasterData, Kind::kOrders, Kind::kQuota}) {
      const std::string name = jetstream::StreamName(center, kind);
      if (status == NATS_OK) status = js_PurgeStream(js, name.c_str(), nullptr, nullptr);
    }
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
    if (status != NATS_OK) return Status(Code::kInternal, natsStatus_GetText(status));
    return Status::Ok();
  }

  testing::NatsServer server_;
  std::mutex mutex_;
  std::set<std::string> opened_;
  std::unique_ptr<Bus> bus_;
};

std::unique_ptr<Harness> MakeHarness(const std::string& name) {
  if (name == "embedded") return std::make_unique<EmbeddedHarness>();
  if (name == "jetstream") {
    auto harness = std::make_unique<JetStreamHarness>();
    const Status started = harness->Start();
    if (started.ok()) return harness;
    ADD_FAILURE() << "cannot run the JetStream bus tests: " << started.ToString();
  }
  return nullptr;
}

// Records first..last, kinds in turn (master data, orders, quota), payload "p<sequence>".
std::vector<Record> Records(uint64_t first, uint64_t last, std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(last - first + 1);
  std::vector<Record> records;
  for (uint64_t sequence = first; sequence <= last; ++sequence) {
    storage->push_back("p" + std::to_string(sequence));
    records.push_back(
        Record{sequence, static_cast<Kind>(1 + sequence % kKindMax), storage->back()});
  }
  return records;
}

// The sequences of `kind` among first..last (see Records).
std::vector<uint64_t> SequencesOf(Kind kind, uint64_t first, uint64_t last) {
  std::vector<uint64_t> sequences;
  for (uint64_t sequence = first; sequence <= last; ++sequence) {
    if (static_cast<Kind>(1 + sequence % kKindMax) == kind) sequences.push_back(sequence);
  }
  return sequences;
}

void ExpectApplied(Consumer& consumer, const std::vector<uint64_t>& sequences) {
  ASSERT_TRUE(consumer.WaitFor(sequences.size()))
      << "applied " << consumer.applied().size() << " of " << sequences.size();
  const auto applied = consumer.applied();
  ASSERT_EQ(applied.size(), sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    EXPECT_EQ(applied[i].first, sequences[i]) << i;
    EXPECT_EQ(applied[i].second, "p" + std::to_string(sequences[i])) << i;
  }
}

// Publishes records to the journal first (as a center does: durable, then published).
Status Publish(Publisher& publisher, FakeJournal& journal, const std::vector<Record>& records) {
  journal.Add(records);
  return publisher.Publish(records);
}

class BusContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    harness_ = MakeHarness(GetParam());
    ASSERT_NE(harness_, nullptr);
  }
  std::unique_ptr<Harness> harness_;
  FakeJournal journal_;
  std::vector<std::string> storage_;
};

TEST_P(BusContractTest, DeliversOneKindInOrderLiveAndFromTheStart) {
  auto publisher = harness_->Open("c.1", &journal_);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  Consumer early;
  auto live = harness_->bus().Subscribe({"c.1", Kind::kOrders}, 0, early.Callback());
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  for (uint64_t first = 1; first <= 3000; first += 500) {
    ASSERT_TRUE(Publish(**publisher, journal_, Records(first, first + 499, &storage_)).ok());
  }
  ExpectApplied(early, SequencesOf(Kind::kOrders, 1, 3000));
  EXPECT_EQ((*publisher)->last_published(), 3000u);
  // A late subscriber from the start gets the same, in the same order.
  Consumer late;
  auto from_start = harness_->bus().Subscribe({"c.1", Kind::kMasterData}, 0, late.Callback());
  ASSERT_TRUE(from_start.ok());
  ExpectApplied(late, SequencesOf(Kind::kMasterData, 1, 3000));
  EXPECT_TRUE((*from_start)->status().ok()) << (*from_start)->status().ToString();
}

TEST_P(BusContractTest, CatchesUpBeyondTheLiveWindowThenFollowsLive) {
  // Everything through 200 was published before this publisher opened, and it keeps only 16
  // records in memory: a subscriber from 10 is served from the journal, then live.
  ASSERT_TRUE(journal_.Read(0, 0, [](const Record&) { return true; }).ok());
  journal_.Add(Records(1, 200, &storage_));
  auto publisher = harness_->Open("c1", &journal_, 200, 16);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  ASSERT_TRUE(Publish(**publisher, journal_, Records(201, 500, &storage_)).ok());
  Consumer consumer;
  auto subscription = harness_->bus().Subscribe({"c1", Kind::kQuota}, 10, consumer.Callback());
  ASSERT_TRUE(subscription.ok());
  std::vector<uint64_t> expected = SequencesOf(Kind::kQuota, 11, 500);
  ExpectApplied(consumer, expected);
  ASSERT_TRUE(Publish(**publisher, journal_, Records(501, 600, &storage_)).ok());
  for (uint64_t sequence : SequencesOf(Kind::kQuota, 501, 600)) expected.push_back(sequence);
  ExpectApplied(consumer, expected);
}

TEST_P(BusContractTest, AReSentRecordIsDeliveredOnce) {
  auto publisher = harness_->Open("c1", &journal_);
  ASSERT_TRUE(publisher.ok());
  Consumer consumer;
  auto subscription = harness_->bus().Subscribe({"c1", Kind::kOrders}, 0, consumer.Callback());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(Publish(**publisher, journal_, Records(1, 60, &storage_)).ok());
  // The publisher is not sure 31..60 went out (say it restarted) and sends 31..90.
  ASSERT_TRUE((*publisher)->Publish(Records(31, 90, &storage_)).ok());
  journal_.Add(Records(61, 90, &storage_));
  ExpectApplied(consumer, SequencesOf(Kind::kOrders, 1, 90));
  std::this_thread::sleep_for(milliseconds(200));  // nothing more may arrive
  EXPECT_EQ(consumer.applied().size(), SequencesOf(Kind::kOrders, 1, 90).size());
  EXPECT_EQ((*subscription)->delivered_through(), SequencesOf(Kind::kOrders, 1, 90).back());
}

// A consumer killed after applying some records but before remembering the last of them is
// delivered them again by its next subscription; resuming after what it remembered, it applies
// each record exactly once.
TEST_P(BusContractTest, AConsumerRestartedBetweenApplyAndRememberAppliesNothingTwice) {
  auto publisher = harness_->Open("c1", &journal_);
  ASSERT_TRUE(publisher.ok());
  ASSERT_TRUE(Publish(**publisher, journal_, Records(1, 300, &storage_)).ok());
  Consumer consumer;
  const std::vector<uint64_t> all = SequencesOf(Kind::kOrders, 1, 600);
  {
    auto first = harness_->bus().Subscribe({"c1", Kind::kOrders}, 0, consumer.Callback());
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(consumer.WaitFor(SequencesOf(Kind::kOrders, 1, 300).size()));
  }  // the consumer dies
  // It had remembered only up to record 150 when it died: the restart resumes from there.
  const uint64_t remembered_at_death = 150;
  ASSERT_TRUE(Publish(**publisher, journal_, Records(301, 600, &storage_)).ok());
  Consumer restarted;
  for (const auto& [sequence, payload] : consumer.applied()) {
    if (sequence > remembered_at_death) break;
    restarted.Callback()(Record{sequence, Kind::kOrders, payload});
  }
  auto second = harness_->bus().Subscribe({"c1", Kind::kOrders}, restarted.remembered(),
                                          restarted.Callback());
  ASSERT_TRUE(second.ok());
  ExpectApplied(restarted, all);
}

TEST_P(BusContractTest, SurvivesThePublisherGoingAwayAndComingBack) {
  Consumer consumer;
  std::unique_ptr<Subscription> subscription;
  {
    auto publisher = harness_->Open("c1", &journal_);
    ASSERT_TRUE(publisher.ok());
    auto subscribed = harness_->bus().Subscribe({"c1", Kind::kOrders}, 0, consumer.Callback());
    ASSERT_TRUE(subscribed.ok());
    subscription = std::move(subscribed).value();
    ASSERT_TRUE(Publish(**publisher, journal_, Records(1, 100, &storage_)).ok());
    ASSERT_TRUE(consumer.WaitFor(SequencesOf(Kind::kOrders, 1, 100).size()));
  }  // the publisher goes away
  const auto outage_seen = [&] { return !subscription->status().ok(); };
  for (int i = 0; i < 200 && !outage_seen(); ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(outage_seen());
  EXPECT_EQ(subscription->status().code(), Code::kUnavailable);
  // It comes back (a restarted center: everything through 100 is in its journal) and goes on.
  auto publisher = harness_->Open("c1", &journal_, 100);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  ASSERT_TRUE(Publish(**publisher, journal_, Records(101, 250, &storage_)).ok());
  ExpectApplied(consumer, SequencesOf(Kind::kOrders, 1, 250));
  for (int i = 0; i < 200 && !subscription->status().ok(); ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(subscription->status().ok()) << subscription->status().ToString();
}

TEST_P(BusContractTest, AStreamWhoseEarlyRecordsAreGoneSaysSo) {
  journal_.Add(Records(1, 100, &storage_));
  journal_.DropBefore(50);
  auto publisher = harness_->Open("c1", &journal_, 100, 16);
  ASSERT_TRUE(publisher.ok());
  Consumer consumer;
  auto subscription = harness_->bus().Subscribe({"c1", Kind::kOrders}, 10, consumer.Callback());
  ASSERT_TRUE(subscription.ok());
  for (int i = 0; i < 250 && (*subscription)->status().code() != Code::kNotFound; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ((*subscription)->status().code(), Code::kNotFound)
      << (*subscription)->status().ToString();
  EXPECT_TRUE(consumer.applied().empty());
}

TEST_P(BusContractTest, UnknownCenterIsRefused) {
  EXPECT_FALSE(harness_->bus().Subscribe({"nowhere", Kind::kOrders}, 0, [](const Record&) {}).ok());
}

INSTANTIATE_TEST_SUITE_P(Implementations, BusContractTest,
                         ::testing::Values("embedded", "jetstream"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace surge::bus
