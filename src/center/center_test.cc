// Tests of the engine loop: durability before the reply (crashes through MemEnv), concurrency
// without oversell, overload control (full queue, sold-out short-circuit), reads, expiry, stop,
// recovery equivalence, and refusing to start on corruption. Most run on MemEnv; some on the
// real disk in a temporary directory.
#include "center/center.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "center/center_testing.h"
#include "common/mem_env.h"
#include "journal/journal.h"
#include "trade/trade.h"

namespace surge::center {
namespace {

using std::chrono::milliseconds;
using trade::Body;
using trade::Reply;

constexpr int64_t kT0 = kMemEnvWallStartMs;

// ---- Helpers ----------------------------------------------------------------------------------

using test_util::Call;
using test_util::ReadNow;

uint64_t HashNow(Center& center) {
  return ReadNow(center, [](const trade::Trade& state, int64_t) { return state.StateHash(); });
}

trade::StockCounts CampaignCounts(Center& center, const std::string& id) {
  return ReadNow(center, [&](const trade::Trade& state, int64_t) {
    auto campaign = state.GetCampaign(id);
    EXPECT_TRUE(campaign.ok()) << campaign.status().ToString();
    return campaign.ok() ? campaign->counts : trade::StockCounts{};
  });
}

// Collects asynchronous replies.
class Replies {
 public:
  Done Add() {
    {
      std::lock_guard lock(mutex_);
      ++expected_;
    }
    const size_t index = next_index_++;
    return [this, index](Reply reply) {
      std::lock_guard lock(mutex_);
      replies_.emplace_back(index, std::move(reply));
      if (replies_.size() == expected_) all_done_.notify_all();
    };
  }
  // Waits for every reply and returns them in the order of Add.
  std::vector<Reply> Wait() {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(all_done_.wait_for(lock, std::chrono::seconds(60),
                                   [&] { return replies_.size() == expected_; }))
        << "missing replies: " << expected_ - replies_.size();
    std::vector<Reply> ordered(expected_);
    for (auto& [index, reply] : replies_) ordered[index] = std::move(reply);
    return ordered;
  }
  size_t received() {
    std::lock_guard lock(mutex_);
    return replies_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_done_;
  std::vector<std::pair<size_t, Reply>> replies_;
  size_t expected_ = 0;
  std::atomic<size_t> next_index_{0};
};

struct Catalogue {
  int users = 10;
  int64_t campaign_stock = 10;
  int64_t per_user_limit = 1'000'000;
  int64_t reserve_ttl_ms = 10 * 60 * 1000;
  int64_t campaign_ends_at_ms = trade::kTimeMsMax;
  int64_t regular_stock = -1;  // no inventory record when negative
};

// Loads merchant m1, product p1 with campaign c1, and users u0..; returns the commands applied.
int LoadCatalogue(Center& center, const Catalogue& catalogue) {
  std::vector<Body> bodies;
  bodies.push_back(trade::PutMerchant{"m1", "Merchant One"});
  bodies.push_back(trade::PutProduct{"p1", "m1", "Phone", "phones", 100'000});
  if (catalogue.regular_stock >= 0) {
    bodies.push_back(trade::PutInventory{"p1", catalogue.regular_stock});
  }
  bodies.push_back(trade::PutCampaign{"c1", "p1", catalogue.campaign_stock, 50'000, 0,
                                      catalogue.campaign_ends_at_ms, catalogue.per_user_limit,
                                      catalogue.reserve_ttl_ms});
  for (int i = 0; i < catalogue.users; ++i) {
    bodies.push_back(trade::PutUser{"u" + std::to_string(i), "north"});
  }
  const int count = static_cast<int>(bodies.size());
  for (Body& body : bodies) {
    const Reply reply = Call(center, std::move(body));
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  }
  return count;
}

trade::PlaceOrder Order(const std::string& request_id, int user, int64_t quantity = 1) {
  return trade::PlaceOrder{request_id, "u" + std::to_string(user), {{"p1", quantity}}};
}

std::string OrderIdOf(const Reply& reply) {
  const auto* order = std::get_if<trade::OrderView>(&reply.value);
  return order == nullptr ? std::string() : order->order_id;
}

Options MemOptions() {
  Options options;
  options.data_dir = "/data/c1";
  options.batch_wait = std::chrono::microseconds(100);
  options.tick_interval = milliseconds(10);
  return options;
}

std::unique_ptr<Center> MustOpen(Env& env, const Options& options) {
  auto center = Center::Open(env, options);
  EXPECT_TRUE(center.ok()) << center.status().ToString();
  if (!center.ok()) return nullptr;
  return std::move(center).value();
}

// A temporary directory on the real disk, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = (std::filesystem::temp_directory_path() /
             ("center_test." + std::to_string(::getpid()) + "." + std::to_string(random())))
                .string();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Blocks the writer thread inside a read until Release (or destruction).
class WriterGate {
 public:
  // Returns once the writer is inside the blocking read.
  explicit WriterGate(Center& center) {
    std::future<void> started = started_.get_future();
    std::shared_future<void> release = release_.get_future().share();
    const bool queued = center.Read([this, release](const trade::Trade&, int64_t) {
      started_.set_value();
      release.wait();
    });
    EXPECT_TRUE(queued);
    if (queued) started.wait();
  }
  ~WriterGate() { Release(); }
  void Release() {
    if (released_) return;
    released_ = true;
    release_.set_value();
  }

 private:
  std::promise<void> started_;
  std::promise<void> release_;
  bool released_ = false;
};

// ---- Durability ------------------------------------------------------------------------------

TEST(CenterTest, AnsweredOrderSurvivesACrashRightAfterTheReply) {
  MemEnv env;
  const Options options = MemOptions();
  auto center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  const Reply reply = Call(*center, Order("r1", 0));
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  const std::string order_id = OrderIdOf(reply);
  EXPECT_EQ(order_id, "o.c1.1");
  // Power loss right after the reply: every unsynced byte is gone.
  env.Crash();
  center->Stop();
  center.reset();

  center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  const auto order = ReadNow(*center, [&](const trade::Trade& state, int64_t now_ms) {
    return state.GetOrder(order_id, now_ms);
  });
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(order->request_id, "r1");
  EXPECT_EQ(order->status, trade::OrderStatus::kReserved);
  EXPECT_GT(center->stats().recovered_records, 0u);
  // A retry after the crash gets the same order.
  const Reply retry = Call(*center, Order("r1", 0));
  ASSERT_TRUE(retry.status.ok());
  EXPECT_EQ(OrderIdOf(retry), order_id);
  EXPECT_TRUE(retry.replayed);
}

// Two threads submit while the disk loses power at a random moment (with torn writes): every
// order that was acknowledged, even one whose reply arrived after the crash, is there afterwards.
TEST(CenterTest, EveryAcknowledgedOrderSurvivesACrashUnderLoad) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    MemEnv env(seed);
    const Options options = MemOptions();
    auto center = MustOpen(env, options);
    ASSERT_NE(center, nullptr);
    LoadCatalogue(*center, Catalogue{.users = 20, .campaign_stock = 100'000});
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> acknowledged;  // request id, order id
    std::atomic<int> unavailable{0};
    std::atomic<int> answered{0};
    std::vector<std::thread> threads;
    constexpr int kPerThread = 2'000;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string request_id = "r" + std::to_string(t) + "." + std::to_string(i);
          center->Submit(Order(request_id, i % 20), [&, request_id](Reply reply) {
            if (reply.status.ok()) {
              std::lock_guard lock(mutex);
              acknowledged.emplace_back(request_id, OrderIdOf(reply));
            } else if (reply.status.code() == Code::kUnavailable) {
              unavailable.fetch_add(1);
            } else {
              ADD_FAILURE() << reply.status.ToString();
            }
            answered.fetch_add(1);
          });
          if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      });
    }
    std::mt19937_64 random(seed);
    const int crash_after = 200 + static_cast<int>(random() % 1500);
    while (answered.load() < crash_after)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    CrashOptions crash;
    crash.tear_at_random = true;
    env.Crash(crash);
    for (auto& thread : threads) thread.join();
    center->Stop();
    EXPECT_EQ(answered.load(), 2 * kPerThread);
    EXPECT_GT(unavailable.load(), 0);  // the center refused to acknowledge after the crash
    center.reset();

    center = MustOpen(env, options);
    ASSERT_NE(center, nullptr);
    std::lock_guard lock(mutex);
    ASSERT_GE(acknowledged.size(), 1u);
    const size_t missing = ReadNow(*center, [&](const trade::Trade& state, int64_t now_ms) {
      size_t lost = 0;
      for (const auto& [request_id, order_id] : acknowledged) {
        auto order = state.GetOrder(order_id, now_ms);
        if (!order.ok() || order->request_id != request_id) ++lost;
      }
      return lost;
    });
    EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged orders";
    const Status invariants = ReadNow(
        *center, [](const trade::Trade& state, int64_t) { return state.CheckInvariants(); });
    EXPECT_TRUE(invariants.ok()) << invariants.ToString();
  }
}

TEST(CenterTest, CommitFailureAnswersUnavailableAndNeverAcknowledgesAgain) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  const uint64_t applied = center->stats().commands_applied;
  EXPECT_FALSE(center->failed());
  env.FailNth(FaultOp::kSync, 1);  // only the next sync fails
  const Reply failed = Call(*center, Order("r1", 0));
  EXPECT_EQ(failed.status.code(), Code::kUnavailable) << failed.status.ToString();
  // Even though the disk works again, the center acknowledges nothing more.
  const Reply later = Call(*center, Order("r2", 1));
  EXPECT_EQ(later.status.code(), Code::kUnavailable) << later.status.ToString();
  EXPECT_FALSE(center->Read([](const trade::Trade&, int64_t) {}));
  EXPECT_TRUE(center->failed());
  EXPECT_EQ(center->stats().commands_applied, applied);
}

// ---- Concurrency and overload -------------------------------------------------------------------

TEST(CenterTest, ConcurrentSubmittersOnTheRealDiskNeverOversell) {
  TempDir dir;
  Options options;
  options.data_dir = dir.path();
  auto center = MustOpen(*Env::Default(), options);
  ASSERT_NE(center, nullptr);
  constexpr int64_t kStock = 300;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  const int catalogue_commands =
      LoadCatalogue(*center, Catalogue{.users = 40, .campaign_stock = kStock});
  Replies replies;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        center->Submit(Order("r" + std::to_string(t) + "." + std::to_string(i), (t * 7 + i) % 40),
                       replies.Add());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int created = 0;
  int sold_out = 0;
  std::set<std::string> order_ids;
  for (const Reply& reply : replies.Wait()) {
    if (reply.status.ok()) {
      ++created;
      order_ids.insert(OrderIdOf(reply));
    } else if (reply.status.code() == Code::kSoldOut) {
      ++sold_out;
    } else {
      ADD_FAILURE() << reply.status.ToString();
    }
  }
  EXPECT_EQ(created, kStock);
  EXPECT_EQ(created + sold_out, kThreads * kPerThread);
  EXPECT_EQ(order_ids.size(), static_cast<size_t>(kStock));
  const trade::StockCounts counts = CampaignCounts(*center, "c1");
  EXPECT_EQ(counts.available, 0);
  EXPECT_EQ(counts.reserved, kStock);
  EXPECT_EQ(counts.sold, 0);
  const Stats stats = center->stats();
  // Every order either went through the journal or was answered early; nothing else was applied.
  EXPECT_EQ(stats.commands_applied + stats.rejected_sold_out_early,
            static_cast<uint64_t>(catalogue_commands + kThreads * kPerThread));
  EXPECT_EQ(stats.last_sequence, stats.commands_applied);
  EXPECT_LE(stats.rejected_sold_out_early, static_cast<uint64_t>(sold_out));
  EXPECT_GT(stats.batches_committed, 0u);
  EXPECT_LE(stats.batches_committed, stats.commands_applied);
}

TEST(CenterTest, FullQueueAnswersOverloadedAtOnce) {
  MemEnv env;
  Options options = MemOptions();
  options.intake_capacity = 4;
  auto center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  WriterGate gate(*center);
  Replies replies;
  for (int i = 0; i < 4; ++i) center->Submit(Order("r" + std::to_string(i), i), replies.Add());
  EXPECT_EQ(center->stats().queue_depth, 4u);
  bool answered = false;
  center->Submit(Order("r-over", 5), [&](Reply reply) {
    EXPECT_EQ(reply.status.code(), Code::kOverloaded) << reply.status.ToString();
    answered = true;
  });
  EXPECT_TRUE(answered);  // on this thread, before Submit returned
  EXPECT_FALSE(center->Read([](const trade::Trade&, int64_t) { ADD_FAILURE(); }));
  EXPECT_EQ(center->stats().rejected_overloaded, 2u);
  EXPECT_EQ(replies.received(), 0u);
  gate.Release();
  for (const Reply& reply : replies.Wait())
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  // The overloaded request was not remembered: it can be retried.
  EXPECT_TRUE(Call(*center, Order("r-over", 5)).status.ok());
}

// With one command per batch the writer drains slowly (a sync per order); the queue then admits
// only what it drains in max_queue_delay, and sheds the rest at once.
TEST(CenterTest, QueueAdmitsOnlyWhatDrainsWithinTheMaxDelay) {
  TempDir dir;
  Options options;
  options.data_dir = dir.path();
  options.batch_records_max = 1;
  options.max_queue_delay = milliseconds(5);
  auto center = MustOpen(*Env::Default(), options);
  ASSERT_NE(center, nullptr);
  EXPECT_EQ(center->stats().queue_admit_limit, options.intake_capacity);  // nothing measured yet
  LoadCatalogue(*center, Catalogue{.users = 10, .campaign_stock = 100'000});
  // Enough busy writer time (one sync per order) for the drain rate to be measured. Once it is,
  // some of these are shed: how many depends on this machine's disk.
  Replies warmup;
  for (int i = 0; i < 400; ++i)
    center->Submit(Order("w" + std::to_string(i), i % 10), warmup.Add());
  int warmup_created = 0;
  for (const Reply& reply : warmup.Wait()) {
    EXPECT_TRUE(reply.status.ok() || reply.status.code() == Code::kOverloaded)
        << reply.status.ToString();
    warmup_created += reply.status.ok() ? 1 : 0;
  }
  EXPECT_GT(warmup_created, 0);
  // Read with the writer held: the last warm-up batch's replies go out before the writer measures
  // that batch, so only once the writer is inside a later read is the limit settled.
  WriterGate gate(*center);
  const Stats measured = center->stats();
  ASSERT_GT(measured.drain_rate_per_s, 0u);
  // A sync per order cannot drain anywhere near intake_capacity in 5 ms.
  const uint64_t limit = measured.queue_admit_limit;
  EXPECT_GE(limit, 1u);
  EXPECT_LT(limit, options.intake_capacity / 4);
  const auto expected = static_cast<double>(measured.drain_rate_per_s) * 0.005;
  EXPECT_NEAR(static_cast<double>(limit), std::max(1.0, expected), 1.0);

  Replies queued;
  for (uint64_t i = 0; i < limit; ++i)
    center->Submit(Order("q" + std::to_string(i), 1), queued.Add());
  int overloaded = 0;
  for (int i = 0; i < 50; ++i) {
    center->Submit(Order("shed" + std::to_string(i), 2), [&](Reply reply) {
      EXPECT_EQ(reply.status.code(), Code::kOverloaded) << reply.status.ToString();
      ++overloaded;
    });
  }
  EXPECT_EQ(overloaded, 50);  // all answered on this thread, before Submit returned
  EXPECT_EQ(center->stats().queue_depth, limit);
  gate.Release();
  for (const Reply& reply : queued.Wait())
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  // A shed request was never admitted: its retry is a new order.
  EXPECT_TRUE(Call(*center, Order("shed0", 2)).status.ok());
}

TEST(CenterTest, InvalidBodyIsAnsweredAtOnceAndNotJournaled) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  const uint64_t sequence = center->stats().last_sequence;
  bool answered = false;
  center->Submit(Order("r1", 0, /*quantity=*/0), [&](Reply reply) {
    EXPECT_EQ(reply.status.code(), Code::kBadField) << reply.status.ToString();
    answered = true;
  });
  EXPECT_TRUE(answered);
  EXPECT_EQ(center->stats().last_sequence, sequence);
  // The request id was not taken by the invalid body.
  EXPECT_TRUE(Call(*center, Order("r1", 0)).status.ok());
}

// ---- Sold-out short-circuit ---------------------------------------------------------------------

// Waits until the writer has finished the batches queued so far (and published their flags).
void Barrier(Center& center) {
  ReadNow(center, [](const trade::Trade&, int64_t) { return 0; });
}

// Submits an order and reports whether it was answered on the calling thread (early).
Reply SubmitAndNoteEarly(Center& center, trade::PlaceOrder order, bool* early) {
  std::promise<Reply> promise;
  std::future<Reply> future = promise.get_future();
  const std::thread::id caller = std::this_thread::get_id();
  *early = false;
  center.Submit(std::move(order), [&](Reply reply) {
    *early = std::this_thread::get_id() == caller;
    promise.set_value(std::move(reply));
  });
  return future.get();
}

TEST(CenterTest, SoldOutShortCircuitAndRetriesOfEarlierRequests) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{.campaign_stock = 3});
  std::vector<std::string> order_ids;
  for (int i = 0; i < 3; ++i) {
    const Reply reply = Call(*center, Order("r" + std::to_string(i), i));
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    order_ids.push_back(OrderIdOf(reply));
  }
  Barrier(*center);
  const uint64_t applied = center->stats().commands_applied;

  bool early = false;
  Reply reply = SubmitAndNoteEarly(*center, Order("r-late", 5), &early);
  EXPECT_EQ(reply.status.code(), Code::kSoldOut);
  EXPECT_TRUE(early);
  EXPECT_EQ(center->stats().rejected_sold_out_early, 1u);
  EXPECT_EQ(center->stats().commands_applied, applied);  // not journaled

  // A retry of a request that made an order gets that order, through the queue.
  reply = SubmitAndNoteEarly(*center, Order("r1", 1), &early);
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_FALSE(early);
  EXPECT_TRUE(reply.replayed);
  EXPECT_EQ(OrderIdOf(reply), order_ids[1]);
  EXPECT_EQ(center->stats().rejected_sold_out_early, 1u);

  // The early answer was not remembered: once stock returns, the same request id succeeds.
  ASSERT_TRUE(Call(*center, trade::CancelOrder{order_ids[0]}).status.ok());
  Barrier(*center);
  reply = SubmitAndNoteEarly(*center, Order("r-late", 5), &early);
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_FALSE(early);
  EXPECT_FALSE(reply.replayed);
  EXPECT_EQ(center->stats().rejected_sold_out_early, 1u);
}

TEST(CenterTest, SoldOutFlagEndsWhenAReservationFallsDue) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{.campaign_stock = 1, .reserve_ttl_ms = 1'000});
  ASSERT_TRUE(Call(*center, Order("r0", 0)).status.ok());
  Barrier(*center);
  bool early = false;
  EXPECT_EQ(SubmitAndNoteEarly(*center, Order("r1", 1), &early).status.code(), Code::kSoldOut);
  EXPECT_TRUE(early);
  // The reservation is due: the next command expires it, so the order must not be refused early.
  env.SetWallNowMs(kT0 + 1'000);
  const Reply reply = SubmitAndNoteEarly(*center, Order("r2", 2), &early);
  EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_FALSE(early);
}

TEST(CenterTest, SoldOutFlagEndsWithTheCampaign) {
  // With snapshot_every_records = 1 the reopened center knows the campaign only from a snapshot,
  // not from a replayed PutCampaign; the flag must still end with the campaign.
  for (const bool reopen : {false, true}) {
    SCOPED_TRACE(reopen ? "campaign known from a snapshot" : "campaign seen live");
    MemEnv env;
    Options options = MemOptions();
    options.snapshot_every_records = 1;
    auto center = MustOpen(env, options);
    ASSERT_NE(center, nullptr);
    LoadCatalogue(
        *center,
        Catalogue{.campaign_stock = 1, .campaign_ends_at_ms = kT0 + 5'000, .regular_stock = 5});
    if (reopen) {
      center.reset();
      center = MustOpen(env, options);
      ASSERT_NE(center, nullptr);
      EXPECT_EQ(center->stats().recovered_records, 0u);
    }
    ASSERT_TRUE(Call(*center, Order("r0", 0)).status.ok());
    Barrier(*center);
    bool early = false;
    EXPECT_EQ(SubmitAndNoteEarly(*center, Order("r1", 1), &early).status.code(), Code::kSoldOut);
    EXPECT_TRUE(early);
    env.SetWallNowMs(kT0 + 5'000);  // the campaign is over; regular stock sells at list price
    const Reply reply = SubmitAndNoteEarly(*center, Order("r2", 2), &early);
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    EXPECT_FALSE(early);
    const auto& order = std::get<trade::OrderView>(reply.value);
    ASSERT_EQ(order.items.size(), 1u);
    EXPECT_EQ(order.items[0].campaign, "");
    EXPECT_EQ(order.items[0].price_cents, 100'000);
  }
}

// ---- Reads, expiry, stop ------------------------------------------------------------------------

TEST(CenterTest, ReadsOfABatchSeeOnlyStateThatWasAlreadyApplied) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  WriterGate gate(*center);
  // The order and the read queue up together and form one batch; the read was queued after the
  // order, yet it must not see it: the order is not durable when reads run.
  std::atomic<bool> order_answered{false};
  center->Submit(Order("r1", 0), [&](Reply reply) {
    EXPECT_TRUE(reply.status.ok());
    order_answered = true;
  });
  std::promise<std::pair<uint64_t, bool>> seen;
  ASSERT_TRUE(center->Read([&](const trade::Trade& state, int64_t) {
    seen.set_value({state.order_count(), order_answered.load()});
  }));
  gate.Release();
  const auto [order_count, answered_before_read] = seen.get_future().get();
  EXPECT_EQ(order_count, 0u);
  EXPECT_FALSE(answered_before_read);
  // A read queued after the reply sees the order.
  while (!order_answered) std::this_thread::sleep_for(std::chrono::microseconds(100));
  EXPECT_EQ(
      ReadNow(*center, [](const trade::Trade& state, int64_t) { return state.order_count(); }), 1u);
  EXPECT_GE(center->stats().reads_served, 3u);
}

TEST(CenterTest, DueReservationsExpireDurablyThroughATick) {
  MemEnv env;
  const Options options = MemOptions();
  auto center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{.campaign_stock = 5, .reserve_ttl_ms = 1'000});
  const Reply reply = Call(*center, Order("r1", 0, 2));
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(std::get<trade::OrderView>(reply.value).expires_at_ms, kT0 + 1'000);
  const uint64_t applied = center->stats().commands_applied;

  // Not due yet: several tick intervals pass without a Tick.
  env.SetWallNowMs(kT0 + 999);
  std::this_thread::sleep_for(milliseconds(60));
  EXPECT_EQ(center->stats().commands_applied, applied);
  EXPECT_EQ(CampaignCounts(*center, "c1").reserved, 2);

  env.SetWallNowMs(kT0 + 1'000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (center->stats().commands_applied == applied &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_EQ(center->stats().commands_applied, applied + 1);
  trade::StockCounts counts = CampaignCounts(*center, "c1");
  EXPECT_EQ(counts.available, 5);
  EXPECT_EQ(counts.reserved, 0);

  // The expiry was journaled: after a crash the stock is still back.
  env.Crash();
  center.reset();
  center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  counts = CampaignCounts(*center, "c1");
  EXPECT_EQ(counts.available, 5);
  EXPECT_EQ(counts.reserved, 0);
  const auto order = ReadNow(*center, [&](const trade::Trade& state, int64_t now_ms) {
    return state.GetOrder(OrderIdOf(reply), now_ms);
  });
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->status, trade::OrderStatus::kExpired);
}

TEST(CenterTest, CommandTimeNeverGoesBackWhenTheWallClockDoes) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{});
  env.SetWallNowMs(kT0 + 10'000);
  const Reply first = Call(*center, Order("r1", 0));
  env.SetWallNowMs(kT0 + 5'000);  // the clock steps back
  const Reply second = Call(*center, Order("r2", 1));
  ASSERT_TRUE(first.status.ok());
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(std::get<trade::OrderView>(first.value).created_at_ms, kT0 + 10'000);
  EXPECT_EQ(std::get<trade::OrderView>(second.value).created_at_ms, kT0 + 10'000);
}

TEST(CenterTest, StopDrainsEverythingQueuedThenRefuses) {
  MemEnv env;
  auto center = MustOpen(env, MemOptions());
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{.campaign_stock = 1'000});
  auto gate = std::make_unique<WriterGate>(*center);
  Replies replies;
  constexpr int kQueued = 500;
  for (int i = 0; i < kQueued; ++i)
    center->Submit(Order("r" + std::to_string(i), i % 10), replies.Add());
  std::promise<int64_t> read_ran;
  ASSERT_TRUE(
      center->Read([&](const trade::Trade&, int64_t now_ms) { read_ran.set_value(now_ms); }));
  std::thread stopper([&] { center->Stop(); });
  std::this_thread::sleep_for(milliseconds(20));
  gate->Release();
  stopper.join();
  EXPECT_EQ(replies.received(), static_cast<size_t>(kQueued));
  for (const Reply& reply : replies.Wait())
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_GE(read_ran.get_future().get(), kT0);

  const Reply late = Call(*center, Order("r-late", 0));
  EXPECT_EQ(late.status.code(), Code::kUnavailable) << late.status.ToString();
  EXPECT_FALSE(center->Read([](const trade::Trade&, int64_t) { ADD_FAILURE(); }));
  center->Stop();  // idempotent
  const Stats stats = center->stats();
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_NE(stats.state_hash, 0u);
}

// ---- Recovery -----------------------------------------------------------------------------------

// Applies a random mix of commands through `center` (orders with retries of earlier request ids,
// payments, cancellations, stock changes, clock jumps that make reservations expire).
void RunRandomWorkload(Center& center, MemEnv& env, uint64_t seed, int steps) {
  std::mt19937_64 random(seed);
  const auto pick = [&](uint64_t n) { return random() % n; };
  for (Body& body : std::vector<Body>{
           trade::PutMerchant{"m1", "M"},
           trade::PutProduct{"p0", "m1", "A", "x", 1'000},
           trade::PutProduct{"p1", "m1", "B", "x", 2'000},
           trade::PutProduct{"p2", "m1", "C", "x", 3'000},
           trade::PutInventory{"p0", 40},
           trade::PutInventory{"p2", 15},
           trade::PutCampaign{"c0", "p0", 30, 500, 0, trade::kTimeMsMax, 3, 5'000},
           trade::PutCampaign{"c1", "p1", 12, 900, 0, kT0 + 60'000, 2, 2'000},
       }) {
    ASSERT_TRUE(Call(center, std::move(body)).status.ok());
  }
  for (int u = 0; u < 15; ++u)
    ASSERT_TRUE(Call(center, trade::PutUser{"u" + std::to_string(u), "r"}).status.ok());

  std::vector<trade::PlaceOrder> placed;
  std::vector<std::string> order_ids;
  int64_t now_ms = kT0;
  for (int step = 0; step < steps;) {
    Replies replies;
    for (int i = 0; i < 40 && step < steps; ++i, ++step) {
      const uint64_t dice = pick(100);
      if (dice < 55) {
        trade::PlaceOrder order;
        if (!placed.empty() && pick(5) == 0) {
          order = placed[pick(placed.size())];  // a retry
        } else {
          order.request_id = "r" + std::to_string(step);
          order.user = "u" + std::to_string(pick(15));
          const size_t first = pick(3);
          order.items.push_back({"p" + std::to_string(first), 1 + static_cast<int64_t>(pick(2))});
          if (pick(3) == 0) order.items.push_back({"p" + std::to_string((first + 1) % 3), 1});
          placed.push_back(order);
        }
        center.Submit(std::move(order), replies.Add());
      } else if (dice < 70 && !order_ids.empty()) {
        center.Submit(trade::PayOrder{order_ids[pick(order_ids.size())]}, replies.Add());
      } else if (dice < 85 && !order_ids.empty()) {
        center.Submit(trade::CancelOrder{order_ids[pick(order_ids.size())]}, replies.Add());
      } else if (dice < 90) {
        center.Submit(
            trade::PutInventory{"p" + std::to_string(pick(3)), static_cast<int64_t>(pick(40))},
            replies.Add());
      } else if (dice < 93) {
        center.Submit(trade::PutCampaign{"c0", "p0", 20 + static_cast<int64_t>(pick(30)), 500, 0,
                                         trade::kTimeMsMax, 3, 5'000},
                      replies.Add());
      } else {
        now_ms += static_cast<int64_t>(pick(3'000));
        env.SetWallNowMs(now_ms);
      }
    }
    for (const Reply& reply : replies.Wait()) {
      if (reply.status.ok() && !reply.replayed &&
          std::holds_alternative<trade::OrderView>(reply.value)) {
        const std::string id = OrderIdOf(reply);
        if (std::find(order_ids.begin(), order_ids.end(), id) == order_ids.end())
          order_ids.push_back(id);
      }
    }
  }
}

// Replays every record of the journal in `dir` into a fresh Trade, ignoring snapshots.
uint64_t StraightReplayHash(Env& env, const std::string& dir) {
  journal::RecoveryHandler ignore;
  ignore.on_snapshot = [](uint64_t, std::string_view) { return Status::Ok(); };
  ignore.on_record = [](uint64_t, std::string_view) { return Status::Ok(); };
  journal::Options options;
  options.dir = dir;
  auto journal = journal::Journal::Open(env, options, ignore);
  EXPECT_TRUE(journal.ok()) << journal.status().ToString();
  if (!journal.ok()) return 0;
  auto state = trade::Trade::Create(trade::Options{.order_id_prefix = "o.c1."});
  uint64_t records = 0;
  const Status read = (*journal)->ReadFrom(1, [&](uint64_t, std::string_view payload) {
    auto command = trade::DecodeCommand(payload);
    EXPECT_TRUE(command.ok()) << command.status().ToString();
    if (!command.ok()) return false;
    state->Apply(*command);
    ++records;
    return true;
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(records, (*journal)->last_sequence());
  return state->StateHash();
}

TEST(CenterTest, RecoveryRebuildsTheLiveStateExactly) {
  struct Case {
    const char* name;
    uint64_t snapshot_every_records;
    uint64_t segment_bytes_max;
    bool straight_replay;  // possible only while every segment is kept
  };
  for (const Case& c : {Case{"no snapshots", 1'000'000, 64ULL << 20, true},
                        Case{"snapshots", 37, 64ULL << 20, true},
                        Case{"snapshots, small segments", 50, 4'096, false}}) {
    SCOPED_TRACE(c.name);
    MemEnv env(7);
    Options options = MemOptions();
    options.snapshot_every_records = c.snapshot_every_records;
    options.segment_bytes_max = c.segment_bytes_max;
    auto center = MustOpen(env, options);
    ASSERT_NE(center, nullptr);
    RunRandomWorkload(*center, env, /*seed=*/11, /*steps=*/1'500);
    const uint64_t live_hash = HashNow(*center);
    const uint64_t last_sequence = center->stats().last_sequence;
    center->Stop();
    EXPECT_EQ(center->stats().state_hash, live_hash);
    center.reset();
    env.Crash();

    center = MustOpen(env, options);
    ASSERT_NE(center, nullptr);
    EXPECT_EQ(center->stats().state_hash, live_hash);
    EXPECT_EQ(HashNow(*center), live_hash);
    EXPECT_EQ(center->stats().last_sequence, last_sequence);
    if (c.snapshot_every_records < 1'000) {
      EXPECT_LT(center->stats().recovered_records, last_sequence);  // a snapshot was used
    } else {
      EXPECT_EQ(center->stats().recovered_records, last_sequence);
    }
    center.reset();
    if (c.straight_replay) {
      EXPECT_EQ(StraightReplayHash(env, options.data_dir + "/journal"), live_hash);
    }
  }
}

// Finds the first journal segment of a center's data directory.
std::string FirstSegment(MemEnv& env, const std::string& data_dir) {
  auto names = env.ListDir(data_dir + "/journal");
  EXPECT_TRUE(names.ok());
  std::string first;
  for (const std::string& name : *names) {
    if (name.rfind("segment-", 0) == 0 && (first.empty() || name < first)) first = name;
  }
  return first;
}

TEST(CenterTest, CorruptionInTheMiddleOfTheJournalRefusesToStart) {
  MemEnv env;
  const Options options = MemOptions();
  auto center = MustOpen(env, options);
  ASSERT_NE(center, nullptr);
  LoadCatalogue(*center, Catalogue{.campaign_stock = 1'000});
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(Call(*center, Order("r" + std::to_string(i), i % 10)).status.ok());
  center.reset();
  const std::string segment = FirstSegment(env, options.data_dir);
  ASSERT_FALSE(segment.empty());
  const std::string path = options.data_dir + "/journal/" + segment;
  const auto size = env.FileSize(path);
  ASSERT_TRUE(size.ok());
  ASSERT_TRUE(env.FlipBit(path, *size / 3).ok());

  auto reopened = Center::Open(env, options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kCorruption) << reopened.status().ToString();
  EXPECT_NE(reopened.status().message().find(segment), std::string::npos)
      << reopened.status().ToString();
  EXPECT_NE(reopened.status().message().find("offset"), std::string::npos)
      << reopened.status().ToString();
}

TEST(CenterTest, ARecordThatDoesNotDecodeRefusesToStart) {
  MemEnv env;
  const Options options = MemOptions();
  {
    journal::Options journal_options;
    journal_options.dir = options.data_dir + "/journal";
    auto journal = journal::Journal::Open(
        env, journal_options,
        journal::RecoveryHandler{[](uint64_t, std::string_view) { return Status::Ok(); },
                                 [](uint64_t, std::string_view) { return Status::Ok(); }});
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    (*journal)->Append("not a command");
    ASSERT_TRUE((*journal)->Commit().ok());
  }
  auto reopened = Center::Open(env, options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kCorruption) << reopened.status().ToString();
  EXPECT_NE(reopened.status().message().find("journal record 1"), std::string::npos)
      << reopened.status().ToString();
}

TEST(CenterTest, BadOptionsAreRefused) {
  MemEnv env;
  Options options = MemOptions();
  options.center_id = "no spaces";
  EXPECT_EQ(Center::Open(env, options).status().code(), Code::kInvalidArgument);
  options = MemOptions();
  options.intake_capacity = 0;
  EXPECT_EQ(Center::Open(env, options).status().code(), Code::kInvalidArgument);
  options = MemOptions();
  options.data_dir = "";
  EXPECT_EQ(Center::Open(env, options).status().code(), Code::kInvalidArgument);
}

TEST(CenterTest, ASecondCenterOnTheSameDataDirectoryIsRefused) {
  MemEnv env;
  auto first = Center::Open(env, MemOptions());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Center::Open(env, MemOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find("LOCK"), std::string::npos) << second.status().message();
  first->reset();
  auto third = Center::Open(env, MemOptions());
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(CenterTest, TheDataDirectoryLockIsARealFlockOnDisk) {
  char pattern[] = "/tmp/surge-lock-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  Options options;
  options.data_dir = pattern;
  auto first = Center::Open(*Env::Default(), options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Center::Open(*Env::Default(), options);
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  first->reset();
  auto third = Center::Open(*Env::Default(), options);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
  third->reset();
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace surge::center
