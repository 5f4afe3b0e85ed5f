// The JetStream bus beyond the shared contract (bus_contract_test): a subscriber that starts
// before any publisher, a server restart in the middle of a stream, where a reopened publisher
// resumes, center ids that need encoding, de-duplication by message id, bad messages from the
// server, and the publish rate. Each test runs its own nats-server (jetstream_testing.h).
#include "bus/jetstream.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/jetstream_testing.h"

namespace surge::bus {
namespace {

using std::chrono::milliseconds;

// What a subscription delivered, checked for order and duplicates as it comes.
class Sink {
 public:
  Deliver Callback() {
    return [this](const Record& record) {
      std::lock_guard lock(mutex_);
      if (!sequences_.empty() && record.sequence <= sequences_.back()) ++out_of_order_;
      sequences_.push_back(record.sequence);
      payloads_.emplace_back(record.payload);
      changed_.notify_all();
    };
  }
  bool WaitFor(size_t count, milliseconds timeout = milliseconds(20'000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return sequences_.size() >= count; });
  }
  std::vector<uint64_t> sequences() {
    std::lock_guard lock(mutex_);
    return sequences_;
  }
  std::vector<std::string> payloads() {
    std::lock_guard lock(mutex_);
    return payloads_;
  }
  size_t out_of_order() {
    std::lock_guard lock(mutex_);
    return out_of_order_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<uint64_t> sequences_;
  std::vector<std::string> payloads_;
  size_t out_of_order_ = 0;
};

// Records first..last, all of `kind`, payload "p<sequence>".
std::vector<Record> Records(uint64_t first, uint64_t last, Kind kind,
                            std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(last - first + 1);
  std::vector<Record> records;
  for (uint64_t sequence = first; sequence <= last; ++sequence) {
    storage->push_back("p" + std::to_string(sequence));
    records.push_back(Record{sequence, kind, storage->back()});
  }
  return records;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> sequences;
  for (uint64_t sequence = first; sequence <= last; ++sequence) sequences.push_back(sequence);
  return sequences;
}

template <typename Predicate>
bool Eventually(Predicate predicate, milliseconds timeout = milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return predicate();
}

// A raw NATS connection for doing what the bus never does (bad messages, re-sent message ids).
class RawClient {
 public:
  explicit RawClient(const std::string& url) {
    EXPECT_EQ(natsConnection_ConnectTo(&connection_, url.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_JetStream(&js_, connection_, nullptr), NATS_OK);
  }
  ~RawClient() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (connection_ != nullptr) natsConnection_Destroy(connection_);
  }
  // Publishes and returns the acknowledgement's "duplicate" flag (nullopt if it failed).
  std::optional<bool> Publish(const std::string& subject, const std::string& payload,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::string& message_id = "") {
    natsMsg* message = nullptr;
    EXPECT_EQ(natsMsg_Create(&message, subject.c_str(), nullptr, payload.data(),
                             static_cast<int>(payload.size())),
              NATS_OK);
    for (const auto& [key, value] : headers) natsMsgHeader_Set(message, key.c_str(), value.c_str());
    jsPubOptions options;
    jsPubOptions_Init(&options);
    if (!message_id.empty()) options.MsgId = message_id.c_str();
    jsPubAck* ack = nullptr;
    const natsStatus status = js_PublishMsg(&ack, js_, message, &options, nullptr);
    natsMsg_Destroy(message);
    if (status != NATS_OK) return std::nullopt;
    const bool duplicate = ack->Duplicate;
    jsPubAck_Destroy(ack);
    return duplicate;
  }

 private:
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    auto bus = NewJetStreamBus(server_.url());
    ASSERT_TRUE(bus.ok()) << bus.status().ToString();
    bus_ = std::move(bus).value();
  }
  std::unique_ptr<Publisher> Open(const std::string& center) {
    PublisherOptions options;
    options.center = center;
    auto publisher = bus_->OpenPublisher(options);
    EXPECT_TRUE(publisher.ok()) << publisher.status().ToString();
    return publisher.ok() ? std::move(publisher).value() : nullptr;
  }

  testing::NatsServer server_;
  std::unique_ptr<Bus> bus_;
  std::vector<std::string> storage_;
};

TEST_F(JetStreamTest, EncodedNamesAreValidAndDistinct) {
  EXPECT_EQ(jetstream::EncodeCenter("eu.1:west"), "eu_d1_cwest");
  EXPECT_EQ(jetstream::EncodeCenter("a_b-c"), "a__b-c");
  EXPECT_NE(jetstream::EncodeCenter("a.b"), jetstream::EncodeCenter("a_db"));
  EXPECT_EQ(jetstream::StreamName("eu.1:west", Kind::kOrders), "surge_orders_eu_d1_cwest");
  EXPECT_EQ(jetstream::Subject("eu.1:west", Kind::kMasterData), "surge.master_data.eu_d1_cwest");
}

TEST_F(JetStreamTest, AnUnreachableServerIsUnavailable) {
  testing::NatsServer stopped;
  ASSERT_TRUE(stopped.Start().ok());
  const std::string url = stopped.url();
  stopped.Stop(SIGTERM);
  auto bus = NewJetStreamBus(url);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), Code::kUnavailable);
  EXPECT_NE(bus.status().message().find("cannot reach NATS at " + url), std::string::npos)
      << bus.status().ToString();
}

TEST_F(JetStreamTest, ASubscriberMayStartBeforeAnyPublisher) {
  Sink sink;
  auto subscription = bus_->Subscribe({"m1", Kind::kMasterData}, 0, sink.Callback());
  ASSERT_TRUE(subscription.ok()) << subscription.status().ToString();
  ASSERT_TRUE(Eventually([&] { return (*subscription)->status().ok(); }))
      << (*subscription)->status().ToString();
  auto publisher = Open("m1");
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(publisher->last_published(), 0u);
  ASSERT_TRUE(publisher->Publish(Records(1, 50, Kind::kMasterData, &storage_)).ok());
  ASSERT_TRUE(sink.WaitFor(50));
  EXPECT_EQ(sink.sequences(), Range(1, 50));
  EXPECT_EQ(sink.payloads()[49], "p50");
}

TEST_F(JetStreamTest, CentersWithDotsAndColonsKeepTheirStreamsApart) {
  // "a.b" and "a_db" would collide under a naive '.'->'_' scheme; "a.b:c" needs ':' too.
  const std::vector<std::string> centers = {"a.b", "a_db", "a.b:c"};
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (size_t i = 0; i < centers.size(); ++i) {
    publishers.push_back(Open(centers[i]));
    ASSERT_NE(publishers.back(), nullptr);
    const uint64_t first = 100 * (i + 1);
    ASSERT_TRUE(
        publishers.back()->Publish(Records(first, first + 9, Kind::kOrders, &storage_)).ok());
  }
  for (size_t i = 0; i < centers.size(); ++i) {
    Sink sink;
    auto subscription = bus_->Subscribe({centers[i], Kind::kOrders}, 0, sink.Callback());
    ASSERT_TRUE(subscription.ok());
    ASSERT_TRUE(sink.WaitFor(10)) << centers[i];
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_EQ(sink.sequences(), Range(100 * (i + 1), 100 * (i + 1) + 9)) << centers[i];
  }
}

// Records first..last spread over the three kinds, payload "p<sequence>".
std::vector<Record> MixedRecords(uint64_t first, uint64_t last, std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(last - first + 1);
  std::vector<Record> records;
  for (uint64_t sequence = first; sequence <= last; ++sequence) {
    storage->push_back("p" + std::to_string(sequence));
    records.push_back(Record{sequence, static_cast<Kind>(1 + sequence % 3), storage->back()});
  }
  return records;
}

TEST_F(JetStreamTest, AReopenedPublisherResumesWhereTheServerStands) {
  {
    auto publisher = Open("c1");
    ASSERT_NE(publisher, nullptr);
    // A message says how far everything before it is stored. Within one Publish that trails
    // by what is in flight (with a slow server, all 3000); a later Publish starts from a
    // completed one, so its messages name at least 3000.
    ASSERT_TRUE(publisher->Publish(MixedRecords(1, 3000, &storage_)).ok());
    ASSERT_TRUE(publisher->Publish(MixedRecords(3001, 3003, &storage_)).ok());
    EXPECT_EQ(publisher->last_published(), 3003u);
  }
  auto reopened = Open("c1");
  ASSERT_NE(reopened, nullptr);
  // Every record up to it is held; it may trail the newest by what was in flight then.
  const uint64_t resume_after = reopened->last_published();
  EXPECT_GE(resume_after, 3000u);
  EXPECT_LE(resume_after, 3003u);
  // The center re-sends from there: nothing is stored twice.
  ASSERT_TRUE(reopened->Publish(MixedRecords(resume_after + 1, 3100, &storage_)).ok());
  EXPECT_EQ(reopened->last_published(), 3100u);
  Sink sink;
  auto subscription = bus_->Subscribe({"c1", Kind::kQuota}, 0, sink.Callback());
  ASSERT_TRUE(subscription.ok());
  std::vector<uint64_t> expected;
  for (uint64_t sequence = 1; sequence <= 3100; ++sequence) {
    if (1 + sequence % 3 == static_cast<uint64_t>(Kind::kQuota)) expected.push_back(sequence);
  }
  ASSERT_TRUE(sink.WaitFor(expected.size()));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(sink.sequences(), expected);
}

TEST_F(JetStreamTest, ServerRestartInTheMiddleLosesAndDuplicatesNothing) {
  auto publisher = Open("c1");
  ASSERT_NE(publisher, nullptr);
  Sink sink;
  auto subscription = bus_->Subscribe({"c1", Kind::kOrders}, 0, sink.Callback());
  ASSERT_TRUE(subscription.ok());
  constexpr uint64_t kLast = 20'000;
  std::atomic<bool> outage_seen{false};
  std::thread writer([&] {
    // A center: publishes in batches and, after an error, again from last_published().
    std::vector<std::string> payloads;
    uint64_t next = 1;
    while (next <= kLast) {
      const uint64_t last = std::min(kLast, next + 199);
      const Status status = publisher->Publish(Records(next, last, Kind::kOrders, &payloads));
      if (status.ok()) {
        next = last + 1;
      } else {
        next = publisher->last_published() + 1;
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
  });
  ASSERT_TRUE(sink.WaitFor(3000));
  server_.Stop(SIGKILL);
  outage_seen = Eventually([&] { return !(*subscription)->status().ok(); }, milliseconds(5000));
  const Status during = (*subscription)->status();
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(server_.Restart().ok());
  writer.join();
  ASSERT_TRUE(sink.WaitFor(kLast)) << sink.sequences().size();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(outage_seen);
  EXPECT_EQ(during.code(), Code::kUnavailable) << during.ToString();
  EXPECT_EQ(sink.out_of_order(), 0u);
  EXPECT_EQ(sink.sequences(), Range(1, kLast));
  EXPECT_TRUE(Eventually([&] { return (*subscription)->status().ok(); }))
      << (*subscription)->status().ToString();
  EXPECT_EQ(publisher->last_published(), kLast);
}

TEST_F(JetStreamTest, TheServerDropsAReSentMessageId) {
  auto publisher = Open("c1");
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->Publish(Records(1, 5, Kind::kOrders, &storage_)).ok());
  RawClient raw(server_.url());
  const auto duplicate = raw.Publish(
      jetstream::Subject("c1", Kind::kOrders), "p5",
      {{"Surge-Sequence", "5"}, {"Surge-Previous", "4"}, {"Surge-Published-Through", "4"}},
      jetstream::MessageId("c1", Kind::kOrders, 5));
  ASSERT_TRUE(duplicate.has_value());
  EXPECT_TRUE(*duplicate);
  Sink sink;
  auto subscription = bus_->Subscribe({"c1", Kind::kOrders}, 0, sink.Callback());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(sink.WaitFor(5));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(sink.sequences(), Range(1, 5));
}

TEST_F(JetStreamTest, AMessageWithoutAValidSequenceIsCorruption) {
  for (const std::string bad : {"", "12x"}) {
    const std::string center = bad.empty() ? "c1" : "c2";
    auto publisher = Open(center);
    ASSERT_NE(publisher, nullptr);
    ASSERT_TRUE(publisher->Publish(Records(1, 3, Kind::kOrders, &storage_)).ok());
    RawClient raw(server_.url());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!bad.empty()) headers.push_back({"Surge-Sequence", bad});
    ASSERT_TRUE(raw.Publish(jetstream::Subject(center, Kind::kOrders), "junk", headers));
    Sink sink;
    auto subscription = bus_->Subscribe({center, Kind::kOrders}, 0, sink.Callback());
    ASSERT_TRUE(subscription.ok());
    ASSERT_TRUE(Eventually([&] { return (*subscription)->status().code() == Code::kCorruption; }))
        << (*subscription)->status().ToString();
    EXPECT_EQ(sink.sequences(), Range(1, 3));
  }
}

// Reports the publish rate of 100,000 records of 100 bytes (the figure in the report).
TEST_F(JetStreamTest, PublishRate) {
  auto publisher = Open("c1");
  ASSERT_NE(publisher, nullptr);
  constexpr uint64_t kCount = 100'000;
  const std::string payload(100, 'x');
  std::vector<Record> records;
  for (uint64_t sequence = 1; sequence <= kCount; ++sequence) {
    records.push_back(Record{sequence, static_cast<Kind>(1 + sequence % 3), payload});
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(publisher->Publish(records).ok());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(publisher->last_published(), kCount);
  std::printf("published %llu records of 100 bytes in %.3f s: %.0f records/s\n",
              static_cast<unsigned long long>(kCount), seconds, kCount / seconds);
}

}  // namespace
}  // namespace surge::bus
