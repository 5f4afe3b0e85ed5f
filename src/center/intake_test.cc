// Unit tests of the pieces in front of the writer: the intake queue's bound and batching, the
// request-id set, the sold-out board.
#include "center/intake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace surge::center {
namespace {

using std::chrono::milliseconds;

Request Order(const std::string& request_id) {
  Request request;
  request.body = trade::PlaceOrder{request_id, "u1", {{"p1", 1}}};
  request.done = [](trade::Reply) {};
  return request;
}

const std::string& RequestIdOf(const Request& request) {
  return std::get<trade::PlaceOrder>(request.body).request_id;
}

TEST(IntakeQueueTest, FullQueueRefusesAndLeavesTheRequestToTheCaller) {
  IntakeQueue queue(/*capacity=*/2, /*batch_records_max=*/8, std::chrono::microseconds(0));
  Request first = Order("r1");
  Request second = Order("r2");
  Request third = Order("r3");
  EXPECT_EQ(queue.Push(first), IntakeQueue::PushResult::kOk);
  EXPECT_EQ(queue.Push(second), IntakeQueue::PushResult::kOk);
  EXPECT_EQ(queue.Push(third), IntakeQueue::PushResult::kFull);
  // A refused request keeps its body and its Done, so the caller can answer it.
  EXPECT_EQ(RequestIdOf(third), "r3");
  EXPECT_TRUE(third.done != nullptr);
  EXPECT_EQ(queue.depth(), 2u);

  std::vector<Request> batch;
  EXPECT_TRUE(queue.Take(&batch, milliseconds(10)));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(RequestIdOf(batch[0]), "r1");
  EXPECT_EQ(RequestIdOf(batch[1]), "r2");
  EXPECT_EQ(queue.depth(), 0u);
  // Taking frees the capacity.
  EXPECT_EQ(queue.Push(third), IntakeQueue::PushResult::kOk);
}

TEST(IntakeQueueTest, AdmitLimitShedsBeforeTheCapacityAndIsClamped) {
  IntakeQueue queue(/*capacity=*/8, /*batch_records_max=*/8, std::chrono::microseconds(0));
  EXPECT_EQ(queue.admit_limit(), 8u);
  queue.SetAdmitLimit(2);
  Request requests[] = {Order("r1"), Order("r2"), Order("r3")};
  EXPECT_FALSE(queue.LikelyFull());
  EXPECT_EQ(queue.Push(requests[0]), IntakeQueue::PushResult::kOk);
  EXPECT_EQ(queue.Push(requests[1]), IntakeQueue::PushResult::kOk);
  EXPECT_TRUE(queue.LikelyFull());
  EXPECT_EQ(queue.Push(requests[2]), IntakeQueue::PushResult::kFull);
  std::vector<Request> batch;
  EXPECT_TRUE(queue.Take(&batch, milliseconds(10)));
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_FALSE(queue.LikelyFull());
  queue.SetAdmitLimit(0);
  EXPECT_EQ(queue.admit_limit(), 1u);
  queue.SetAdmitLimit(1'000);
  EXPECT_EQ(queue.admit_limit(), 8u);
}

TEST(IntakeQueueTest, IdleTakeReturnsEmptyAfterTheTimeout) {
  IntakeQueue queue(4, 4, std::chrono::microseconds(0));
  std::vector<Request> batch;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.Take(&batch, milliseconds(30)));
  EXPECT_TRUE(batch.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(25));
}

TEST(IntakeQueueTest, BatchWaitsForMoreUntilFullThenClosesAtOnce) {
  // batch_wait is long: the batch must close because it reached batch_records_max, not by time.
  IntakeQueue queue(100, 3, std::chrono::microseconds(10'000'000));
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(milliseconds(5));
      Request request = Order("r" + std::to_string(i));
      EXPECT_EQ(queue.Push(request), IntakeQueue::PushResult::kOk);
    }
  });
  std::vector<Request> batch;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.Take(&batch, std::chrono::seconds(10)));
  const auto waited = std::chrono::steady_clock::now() - started;
  producer.join();
  EXPECT_EQ(batch.size(), 3u);
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(IntakeQueueTest, BatchClosesAfterBatchWaitWhenNotFull) {
  IntakeQueue queue(100, 1000, std::chrono::microseconds(20'000));
  Request request = Order("r1");
  ASSERT_EQ(queue.Push(request), IntakeQueue::PushResult::kOk);
  std::vector<Request> batch;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.Take(&batch, std::chrono::seconds(10)));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(IntakeQueueTest, CloseRefusesNewRequestsButDrainsQueuedOnes) {
  IntakeQueue queue(10, 10, std::chrono::microseconds(1'000'000));
  Request first = Order("r1");
  ASSERT_EQ(queue.Push(first), IntakeQueue::PushResult::kOk);
  queue.Close();
  Request late = Order("r2");
  EXPECT_EQ(queue.Push(late), IntakeQueue::PushResult::kClosed);
  std::vector<Request> batch;
  EXPECT_TRUE(queue.Take(&batch, std::chrono::seconds(10)));  // closed: no batch_wait either
  EXPECT_EQ(batch.size(), 1u);
  batch.clear();
  EXPECT_FALSE(queue.Take(&batch, std::chrono::seconds(10)));
  EXPECT_TRUE(batch.empty());
}

TEST(IntakeQueueTest, ManyProducersLoseNothing) {
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 20'000;
  IntakeQueue queue(256, 64, std::chrono::microseconds(50));
  std::atomic<int> refused{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        Request request = Order(std::to_string(p) + "." + std::to_string(i));
        while (queue.Push(request) == IntakeQueue::PushResult::kFull) {
          refused.fetch_add(1);
          std::this_thread::yield();
        }
      }
    });
  }
  std::thread closer([&] {
    for (auto& producer : producers) producer.join();
    queue.Close();
  });
  std::vector<int> next_of_producer(kProducers, 0);
  size_t taken = 0;
  std::vector<Request> batch;
  while (queue.Take(&batch, milliseconds(100))) {
    for (const Request& request : batch) {
      const std::string& id = RequestIdOf(request);
      const int producer = id[0] - '0';
      // Each producer's requests come out in the order it pushed them.
      EXPECT_EQ(std::stoi(id.substr(2)), next_of_producer[producer]++);
    }
    taken += batch.size();
    batch.clear();
  }
  closer.join();
  EXPECT_EQ(taken, static_cast<size_t>(kProducers * kPerProducer));
}

TEST(RequestIdSetTest, InsertThenContains) {
  RequestIdSet set;
  EXPECT_FALSE(set.Contains(42));
  set.Insert(42);
  set.Insert(42);
  set.Insert(1ULL << 63);
  EXPECT_TRUE(set.Contains(42));
  EXPECT_TRUE(set.Contains(1ULL << 63));
  EXPECT_FALSE(set.Contains(43));
  EXPECT_EQ(set.size(), 2u);
}

TEST(SoldOutBoardTest, FlagsHoldUntilTheirTime) {
  SoldOutBoard board;
  EXPECT_TRUE(board.empty());
  const std::vector<trade::OrderItem> items = {{"a", 1}, {"b", 2}};
  EXPECT_EQ(board.FindSoldOut(items, 0), nullptr);
  board.Publish({{"b", 100}});
  EXPECT_FALSE(board.empty());
  const trade::OrderItem* found = board.FindSoldOut(items, 99);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sku, "b");
  EXPECT_EQ(board.FindSoldOut(items, 100), nullptr);  // valid until 100, exclusive
  EXPECT_EQ(board.FindSoldOut({{"c", 1}}, 0), nullptr);
  board.Publish({});
  EXPECT_TRUE(board.empty());
  EXPECT_EQ(board.FindSoldOut(items, 0), nullptr);
}

}  // namespace
}  // namespace surge::center
