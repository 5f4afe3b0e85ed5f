// Centers of a multi-center deployment, in one process on a simulated disk, joined by the
// embedded bus: order events are journaled exactly once however a crash tears the journal;
// master data reaches a sub-center and its orders reach the master's view; a follower restarted
// mid-stream applies nothing twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "center/center.h"
#include "center/center_testing.h"
#include "common/mem_env.h"
#include "journal/journal.h"
#include "trade/trade.h"

namespace surge::center {
namespace {

using std::chrono::milliseconds;

using test_util::Call;
using test_util::ReadNow;

Options CenterOptions(const std::string& id) {
  Options options;
  options.data_dir = "/data/" + id;
  options.center_id = id;
  options.master = "m";
  options.centers = {"m", "s1"};
  options.batch_wait = std::chrono::microseconds(50);
  return options;
}

void LoadCatalogue(Center& center, int users) {
  ASSERT_TRUE(Call(center, trade::PutMerchant{"acme", "Acme"}).status.ok());
  ASSERT_TRUE(Call(center, trade::PutProduct{"p1", "acme", "Phone", "phones", 100}).status.ok());
  ASSERT_TRUE(Call(center, trade::PutCampaign{"c1", "p1", 100'000, 50, 0, trade::kTimeMsMax, 1'000,
                                              600'000})
                  .status.ok());
  for (int i = 0; i < users; ++i) {
    ASSERT_TRUE(Call(center, trade::PutUser{"u" + std::to_string(i), "n"}).status.ok());
  }
}

// Every order event in a center's journal, by number, and how often each number appears.
std::map<uint64_t, int> JournaledEvents(Env& env, const std::string& data_dir, uint64_t through,
                                        uint64_t* created) {
  std::map<uint64_t, int> numbers;
  *created = 0;
  const Status read = journal::ReadDurable(env, data_dir + "/journal", 1, through, 1 << 20,
                                           [&](uint64_t, std::string_view payload) {
                                             if (!trade::IsEventsRecord(payload)) return true;
                                             auto record = trade::DecodeEvents(payload);
                                             EXPECT_TRUE(record.ok()) << record.status().ToString();
                                             if (!record.ok()) return false;
                                             for (const trade::OrderEvent& event : record->events) {
                                               ++numbers[event.number];
                                               if (event.type == trade::OrderEventType::kCreated)
                                                 ++*created;
                                             }
                                             return true;
                                           });
  EXPECT_TRUE(read.ok()) << read.ToString();
  return numbers;
}

// Orders under load, a power loss with torn writes at a random moment, recovery; three times.
// Afterwards the journal holds every order event once: numbers 1..N without a gap or a repeat,
// and as many creations as the state has orders.
TEST(CenterMultiTest, OrderEventsAreJournaledExactlyOnceAcrossCrashes) {
  MemEnv env(7);
  const Options options = CenterOptions("m");
  {
    auto opened = Center::Open(env, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    LoadCatalogue(**opened, 50);
    (*opened)->Stop();
  }
  int next_request = 0;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto opened = Center::Open(env, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Center& center = **opened;
    std::atomic<int> answered{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      const int first = next_request + t * 1000;
      threads.emplace_back([&center, &answered, first] {
        for (int i = 0; i < 400; ++i) {
          const int n = first + i;
          trade::PlaceOrder order{
              "r" + std::to_string(n), "u" + std::to_string(n % 50), {{"p1", 1}}};
          if (i % 7 == 0) order.items[0].quantity = 1;  // same shape, all valid
          Call(center, std::move(order));
          answered.fetch_add(1);
        }
      });
    }
    next_request += 2000;
    const int crash_after = 100 + round * 150;
    while (answered.load() < crash_after)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    CrashOptions crash;
    crash.tear_at_random = true;
    env.Crash(crash);
    for (std::thread& thread : threads) thread.join();
    center.Stop();
  }
  auto opened = Center::Open(env, options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const uint64_t orders =
      ReadNow(**opened, [](const trade::Trade& state, int64_t) { return state.order_count(); });
  // Recovery journals the events it regenerated with the first commit, or alone within 5 ms.
  std::this_thread::sleep_for(milliseconds(100));
  (*opened)->Stop();
  const uint64_t last_sequence = (*opened)->stats().last_sequence;
  uint64_t created = 0;
  const std::map<uint64_t, int> numbers =
      JournaledEvents(env, options.data_dir, last_sequence, &created);
  ASSERT_GT(orders, 0u);
  EXPECT_EQ(created, orders);
  ASSERT_FALSE(numbers.empty());
  EXPECT_EQ(numbers.begin()->first, 1u);
  EXPECT_EQ(numbers.rbegin()->first, numbers.size()) << "a gap in the event numbers";
  for (const auto& [number, count] : numbers) {
    EXPECT_EQ(count, 1) << "event " << number << " journaled " << count << " times";
  }
}

class TwoCentersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = bus::NewEmbeddedBus([this](std::string_view center) -> std::optional<std::string> {
      std::lock_guard lock(mutex_);
      const auto found = addresses_.find(std::string(center));
      if (found == addresses_.end()) return std::nullopt;
      return found->second;
    });
  }

  // Opens center `id` with its publisher and followers.
  std::unique_ptr<Center> Start(const std::string& id) {
    auto opened = Center::Open(env_, CenterOptions(id));
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    std::unique_ptr<Center> center = std::move(opened).value();
    bus::PublisherOptions options;
    options.center = id;
    options.listen = "127.0.0.1:0";
    options.history = JournalHistory(env_, "/data/" + id + "/journal", id == "m");
    options.published_through = center->stats().last_sequence;
    auto publisher = bus_->OpenPublisher(options);
    EXPECT_TRUE(publisher.ok()) << publisher.status().ToString();
    {
      std::lock_guard lock(mutex_);
      addresses_[id] = (*publisher)->address();
    }
    EXPECT_TRUE(center->AttachPublisher(**publisher).ok());
    EXPECT_TRUE(center->Follow(*bus_).ok());
    publishers_[id] = std::move(publisher).value();
    return center;
  }
  void StopCenter(std::unique_ptr<Center>& center, const std::string& id) {
    center->Stop();
    center.reset();
    publishers_.erase(id);
  }

  // Polls `read` on `center` until it returns true (10 s at most).
  bool Eventually(Center& center, const std::function<bool(const trade::Trade&)>& read) {
    for (int i = 0; i < 1000; ++i) {
      if (ReadNow(center, [&](const trade::Trade& state, int64_t) { return read(state); })) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  MemEnv env_;
  std::unique_ptr<bus::Bus> bus_;
  std::mutex mutex_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::unique_ptr<bus::Publisher>> publishers_;
};

TEST_F(TwoCentersTest, MasterDataGoesDownOrdersComeUpAndARestartAppliesNothingTwice) {
  auto master = Start("m");
  auto sub = Start("s1");
  ASSERT_TRUE(master && sub);
  LoadCatalogue(*master, 20);
  ASSERT_TRUE(Eventually(*sub, [](const trade::Trade& state) {
    return state.GetUser("u19").ok() && state.GetCampaign("c1").ok();
  }));
  // The sub-center sells from its own quota: half of the stock, the even split over two.
  const auto quota = ReadNow(*sub, [](const trade::Trade& state, int64_t) {
    return state.GetCampaign("c1")->counts.stock;
  });
  EXPECT_GT(quota, 0);
  EXPECT_LE(quota, 50'000);
  for (int i = 0; i < 30; ++i) {
    const trade::Reply reply =
        Call(*sub,
             trade::PlaceOrder{"r" + std::to_string(i), "u" + std::to_string(i % 20), {{"p1", 1}}});
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  }
  const auto master_sees = [](int64_t units) {
    return [units](const trade::Trade& state) {
      auto campaign = state.GetCampaign("c1");
      if (!campaign.ok() || campaign->centers.size() != 2) return false;
      return campaign->centers[1].center == "s1" && campaign->centers[1].reserved == units;
    };
  };
  ASSERT_TRUE(Eventually(*master, master_sees(30)));

  // Restart both: each resumes after what its state applied; nothing is counted twice.
  StopCenter(sub, "s1");
  StopCenter(master, "m");
  master = Start("m");
  sub = Start("s1");
  ASSERT_TRUE(master && sub);
  ASSERT_TRUE(Call(*master, trade::PutUser{"late", "s"}).status.ok());
  for (int i = 30; i < 40; ++i) {
    ASSERT_TRUE(
        Call(*sub,
             trade::PlaceOrder{"r" + std::to_string(i), "u" + std::to_string(i % 20), {{"p1", 1}}})
            .status.ok());
  }
  ASSERT_TRUE(
      Eventually(*sub, [](const trade::Trade& state) { return state.GetUser("late").ok(); }));
  ASSERT_TRUE(Eventually(*master, master_sees(40)));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(Eventually(*master, master_sees(40))) << "counted twice after the restart";
  EXPECT_GT(master->stats().replicated_applied, 0u);
  StopCenter(sub, "s1");
  StopCenter(master, "m");
}

}  // namespace
}  // namespace surge::center
