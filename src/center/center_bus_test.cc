// A center publishing what it journals to the data bus: master data goes out in journal order,
// orders do not; what was journaled before the publisher opened comes from the journal; a bus
// that fails or falls far behind gets everything in the end, once each, read back from the
// journal.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "center/center.h"
#include "center/center_testing.h"
#include "common/mem_env.h"
#include "trade/trade.h"

namespace surge::center {
namespace {

using std::chrono::milliseconds;

using test_util::Call;

Options MemOptions() {
  Options options;
  options.data_dir = "/data/c1";
  options.batch_wait = std::chrono::microseconds(50);
  return options;
}

void MustCall(Center& center, trade::Body body) {
  const trade::Reply reply = Call(center, std::move(body));
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
}

// Merchant, product, campaign, and `users` users: 3 + users master-data commands.
void LoadCatalogue(Center& center, int users, const std::string& suffix = "") {
  MustCall(center, trade::PutMerchant{"m1", "Merchant" + suffix});
  MustCall(center, trade::PutProduct{"p1", "m1", "Phone" + suffix, "phones", 100'000});
  MustCall(center,
           trade::PutCampaign{"c1", "p1", 1'000, 50'000, 0, trade::kTimeMsMax, 1'000, 600'000});
  for (int i = 0; i < users; ++i) MustCall(center, trade::PutUser{"u" + std::to_string(i), "n"});
}

// Collects what a subscription delivers: each command decoded.
class Received {
 public:
  bus::Deliver Callback() {
    return [this](const bus::Record& record) {
      auto command = trade::DecodeCommand(record.payload);
      std::lock_guard lock(mutex_);
      EXPECT_TRUE(command.ok()) << command.status().ToString();
      if (command.ok()) bodies_.push_back(command->body);
      sequences_.push_back(record.sequence);
      changed_.notify_all();
    };
  }
  bool WaitFor(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, milliseconds(10'000), [&] { return bodies_.size() >= count; });
  }
  std::vector<trade::Body> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::vector<uint64_t> sequences() {
    std::lock_guard lock(mutex_);
    return sequences_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<trade::Body> bodies_;
  std::vector<uint64_t> sequences_;
};

class CenterBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = bus::NewEmbeddedBus([this](std::string_view) -> std::optional<std::string> {
      std::lock_guard lock(mutex_);
      return address_;
    });
  }
  // The embedded publisher of a center, serving catch-up from its journal.
  std::unique_ptr<bus::Publisher> OpenPublisher(Center& center) {
    bus::PublisherOptions options;
    options.center = "c1";
    options.listen = "127.0.0.1:0";
    options.history = JournalHistory(env_, "/data/c1/journal", /*at_master=*/true);
    options.published_through = center.stats().last_sequence;
    auto publisher = bus_->OpenPublisher(options);
    EXPECT_TRUE(publisher.ok()) << publisher.status().ToString();
    std::lock_guard lock(mutex_);
    address_ = (*publisher)->address();
    return std::move(publisher).value();
  }

  MemEnv env_;
  std::unique_ptr<bus::Bus> bus_;
  std::mutex mutex_;
  std::string address_;
};

TEST_F(CenterBusTest, MasterDataGoesOutInJournalOrderAndOrdersDoNot) {
  auto opened = Center::Open(env_, MemOptions());
  ASSERT_TRUE(opened.ok());
  Center& center = **opened;
  // Journaled before the publisher opened: served from the journal.
  LoadCatalogue(center, 3);
  auto publisher = OpenPublisher(center);
  ASSERT_TRUE(center.AttachPublisher(*publisher).ok());
  EXPECT_EQ(center.AttachPublisher(*publisher).code(), Code::kInvalidArgument);
  Received master_data, orders;
  auto down = bus_->Subscribe({"c1", bus::Kind::kMasterData}, 0, master_data.Callback());
  auto up = bus_->Subscribe({"c1", bus::Kind::kOrders}, 0, orders.Callback());
  ASSERT_TRUE(down.ok() && up.ok());
  // Live: orders in between master data.
  MustCall(center, trade::PlaceOrder{"r1", "u0", {{"p1", 1}}});
  MustCall(center, trade::PutUser{"late", "s"});
  MustCall(center, trade::PlaceOrder{"r2", "u1", {{"p1", 1}}});
  MustCall(center, trade::PutInventory{"p1", 7});
  ASSERT_TRUE(master_data.WaitFor(8));
  const std::vector<trade::Body> bodies = master_data.bodies();
  ASSERT_EQ(bodies.size(), 8u);
  EXPECT_TRUE(std::holds_alternative<trade::PutMerchant>(bodies[0]));
  EXPECT_TRUE(std::holds_alternative<trade::PutProduct>(bodies[1]));
  EXPECT_TRUE(std::holds_alternative<trade::PutCampaign>(bodies[2]));
  EXPECT_EQ(std::get<trade::PutUser>(bodies[6]).id, "late");
  EXPECT_EQ(std::get<trade::PutInventory>(bodies[7]).stock, 7);
  // Journal sequences: the catalogue's 1..6, then 8 and 10 (7 and 9 are the orders).
  EXPECT_EQ(master_data.sequences(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 8, 10}));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_TRUE(orders.bodies().empty());
  center.Stop();
}

// A publisher standing in for a bus that fails its first calls and then takes everything,
// keeping what it took (re-sends skipped, as bus.h requires).
class FlakyPublisher final : public bus::Publisher {
 public:
  explicit FlakyPublisher(int failures) : failures_(failures) {}
  Status Publish(std::span<const bus::Record> records) override {
    std::lock_guard lock(mutex_);
    if (failures_ > 0) {
      --failures_;
      return Status(Code::kUnavailable, "the bus is down");
    }
    for (const bus::Record& record : records) {
      if (record.sequence <= last_) continue;
      sequences_.push_back(record.sequence);
      last_ = record.sequence;
    }
    return Status::Ok();
  }
  uint64_t last_published() const override {
    std::lock_guard lock(mutex_);
    return last_;
  }
  std::string address() const override { return "flaky"; }
  std::vector<uint64_t> sequences() {
    std::lock_guard lock(mutex_);
    return sequences_;
  }

 private:
  mutable std::mutex mutex_;
  int failures_;
  uint64_t last_ = 0;
  std::vector<uint64_t> sequences_;
};

TEST_F(CenterBusTest, AFailingBusGetsEverythingOnceInTheEnd) {
  auto opened = Center::Open(env_, MemOptions());
  ASSERT_TRUE(opened.ok());
  Center& center = **opened;
  LoadCatalogue(center, 5);  // sequences 1..8, before the attach
  FlakyPublisher publisher(3);
  ASSERT_TRUE(center.AttachPublisher(publisher).ok());
  for (int i = 0; i < 20; ++i) {
    MustCall(center, trade::PlaceOrder{"r" + std::to_string(i), "u1", {{"p1", 1}}});
    MustCall(center, trade::PutUser{"v" + std::to_string(i), "n"});
  }
  // The outbox retries with a growing backoff: give it time to get through.
  for (int i = 0; i < 500 && publisher.last_published() < 48; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  center.Stop();
  std::vector<uint64_t> expected{1, 2, 3, 4, 5, 6, 7, 8};
  for (uint64_t i = 0; i < 20; ++i) expected.push_back(10 + 2 * i);  // every other is an order
  EXPECT_EQ(publisher.sequences(), expected);
}

}  // namespace
}  // namespace surge::center
