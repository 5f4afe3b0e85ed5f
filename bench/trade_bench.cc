// Throughput of the trade state machine on one core: PlaceOrder (mostly accepted, and mostly
// rejected as sold out), with Apply one by one and with ApplyBatch; idempotent retries; snapshot,
// restore and state hash of a large state.
//
// The order commands are built before timing starts: 1M unique request ids, users drawn from 100k,
// SKUs from 100 campaign SKUs. Each benchmark iteration applies all of them to a fresh Trade
// (built while the timer is paused), so every order is a new request, as in a flash sale. Time
// advances 1 ms per 1000 orders (a center taking 1M orders a second): with a 10-minute reservation
// TTL nothing expires during the run, as in the first minutes of a sale. The *Expiring variants
// use a 100 ms TTL instead, so that from 100k orders on, every new reservation comes with an old
// one expiring (and its stock and per-user units returning). BM_PlaceOrderInCache measures a state
// small enough to stay in the CPU caches.
//
// The center applies commands right after decoding and journaling them, while they are in the CPU
// caches. So that the pre-built commands are not measured as the cold memory they would otherwise
// be, each chunk of 4096 (the center's batch) is read once with the timer paused before it is
// applied.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "trade/trade.h"

namespace surge::trade {
namespace {

constexpr int kUsers = 100'000;
constexpr int kSkus = 100;
constexpr int64_t kSetupMs = 1'000;
constexpr size_t kOrders = 1 << 20;
constexpr int64_t kOrdersPerMs = 1'000;
constexpr int64_t kLongTtlMs = 10 * 60 * 1000;
constexpr int64_t kShortTtlMs = 100;
constexpr int64_t kLargeLimit = 1'000'000;
constexpr size_t kCenterBatch = 4'096;  // center::Options::batch_records_max

Command At(int64_t now_ms, Body body) { return Command{now_ms, std::move(body)}; }

void MustApply(Trade& trade, const Command& command) {
  const Reply reply = trade.Apply(command);
  if (!reply.status.ok()) {
    std::fprintf(stderr, "setup failed: %s\n", reply.status.ToString().c_str());
    std::abort();
  }
}

// `users` users and 100 SKUs, each with an open campaign of `stock` units.
std::unique_ptr<Trade> MakeTrade(int64_t stock, int64_t ttl_ms, int users = kUsers,
                                 size_t expected = 0) {
  auto trade = Trade::Create(Options{"o.c1.", expected});
  MustApply(*trade, At(kSetupMs, PutMerchant{"m1", "Merchant"}));
  for (int u = 0; u < users; ++u) {
    MustApply(*trade, At(kSetupMs, PutUser{"user" + std::to_string(u), "cn-north"}));
  }
  for (int s = 0; s < kSkus; ++s) {
    const std::string sku = "sku" + std::to_string(s);
    MustApply(*trade, At(kSetupMs, PutProduct{sku, "m1", "Phone", "phones", 99'900}));
    MustApply(*trade, At(kSetupMs, PutCampaign{"camp" + std::to_string(s), sku, stock, 49'900, 0,
                                               kTimeMsMax, kLargeLimit, ttl_ms}));
  }
  return trade;
}

std::vector<Command> MakeOrders(size_t count, uint64_t seed, int users = kUsers) {
  std::mt19937_64 random(seed);
  std::vector<Command> commands;
  commands.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    PlaceOrder order;
    order.request_id = "req-" + std::to_string(seed) + "-" + std::to_string(i);
    order.user = "user" + std::to_string(random() % static_cast<uint64_t>(users));
    order.items.push_back(OrderItem{"sku" + std::to_string(random() % kSkus), 1});
    const auto at = kSetupMs + 1 + static_cast<int64_t>(i) / kOrdersPerMs;
    commands.push_back(At(at, std::move(order)));
  }
  return commands;
}

// Reads every byte of the commands' ids, which brings them into the caches.
uint64_t Warm(std::span<const Command> commands) {
  uint64_t sum = 0;
  for (const Command& command : commands) {
    // The origin lies in the command's last cache line, which the state machine reads (a decoder
    // has just written it in the center).
    sum += command.origin.has_value() ? 1 : 0;
    const auto& order = std::get<PlaceOrder>(command.body);
    for (const char c : order.request_id) sum += static_cast<uint8_t>(c);
    for (const char c : order.user) sum += static_cast<uint8_t>(c);
    for (const OrderItem& item : order.items) {
      for (const char c : item.sku) sum += static_cast<uint8_t>(c);
    }
  }
  return sum;
}

// Applies every command to a fresh Trade per iteration, chunk by chunk of kCenterBatch: one by one
// with Apply, or with ApplyBatch (the center applies what one journal commit made durable as one
// batch).
void RunPlaceOrders(benchmark::State& state, int64_t stock, bool batch, int64_t ttl_ms,
                    int users = kUsers, size_t orders = kOrders, bool sized = false) {
  const std::vector<Command> commands = MakeOrders(orders, 1, users);
  uint64_t accepted = 0;
  const std::function<void(size_t, Reply &&)> on_reply = [&](size_t, Reply&& reply) {
    accepted += reply.status.ok() ? 1 : 0;
    benchmark::DoNotOptimize(reply);
  };
  for (auto _ : state) {
    state.PauseTiming();
    auto trade = MakeTrade(stock, ttl_ms, users, sized ? orders : 0);
    state.ResumeTiming();
    for (size_t begin = 0; begin < commands.size(); begin += kCenterBatch) {
      const auto chunk =
          std::span(commands).subspan(begin, std::min(kCenterBatch, commands.size() - begin));
      state.PauseTiming();
      benchmark::DoNotOptimize(Warm(chunk));
      state.ResumeTiming();
      if (batch) {
        trade->ApplyBatch(chunk, on_reply);
      } else {
        for (const Command& command : chunk) {
          Reply reply = trade->Apply(command);
          accepted += reply.status.ok() ? 1 : 0;
          benchmark::DoNotOptimize(reply);
        }
      }
    }
    state.PauseTiming();
    trade.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * commands.size()));
  state.counters["accepted_fraction"] =
      static_cast<double>(accepted) / static_cast<double>(state.iterations() * commands.size());
}

void BM_PlaceOrder(benchmark::State& state) { RunPlaceOrders(state, kStockMax, false, kLongTtlMs); }
BENCHMARK(BM_PlaceOrder)->Unit(benchmark::kMillisecond);

void BM_PlaceOrderBatch(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, true, kLongTtlMs);
}
BENCHMARK(BM_PlaceOrderBatch)->Unit(benchmark::kMillisecond);

// The same with the Trade sized for the sale (Options::expected_orders = 1M, as a center sized for
// its sale would be): the memory of the orders and request ids is allocated and touched when the
// Trade is created (untimed, as a center does it before the sale opens), so the timed part pays
// no table growth and no page fault on those.
void BM_PlaceOrderSized(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, false, kLongTtlMs, kUsers, kOrders, true);
}
BENCHMARK(BM_PlaceOrderSized)->Unit(benchmark::kMillisecond);

void BM_PlaceOrderBatchSized(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, true, kLongTtlMs, kUsers, kOrders, true);
}
BENCHMARK(BM_PlaceOrderBatchSized)->Unit(benchmark::kMillisecond);

// Campaigns of 100 units each: all but 10k of the 1M orders are rejected as sold_out.
void BM_PlaceOrderSoldOut(benchmark::State& state) {
  RunPlaceOrders(state, 100, false, kLongTtlMs);
}
BENCHMARK(BM_PlaceOrderSoldOut)->Unit(benchmark::kMillisecond);

void BM_PlaceOrderSoldOutBatch(benchmark::State& state) {
  RunPlaceOrders(state, 100, true, kLongTtlMs);
}
BENCHMARK(BM_PlaceOrderSoldOutBatch)->Unit(benchmark::kMillisecond);

void BM_PlaceOrderExpiring(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, false, kShortTtlMs);
}
BENCHMARK(BM_PlaceOrderExpiring)->Unit(benchmark::kMillisecond);

void BM_PlaceOrderExpiringBatch(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, true, kShortTtlMs);
}
BENCHMARK(BM_PlaceOrderExpiringBatch)->Unit(benchmark::kMillisecond);

// A small state that stays in the CPU caches (1000 users, 64k orders per fresh Trade, whose memory
// the allocator reuses from one iteration to the next): the cost of the rules themselves, without
// cache misses or page faults.
void BM_PlaceOrderInCache(benchmark::State& state) {
  RunPlaceOrders(state, kStockMax, false, kLongTtlMs, 1'000, 1 << 16);
}
BENCHMARK(BM_PlaceOrderInCache)->Unit(benchmark::kMillisecond);

// A client retrying the same request: answered from the idempotency record.
void BM_IdempotentRetry(benchmark::State& state) {
  auto trade = MakeTrade(kStockMax, kLongTtlMs);
  const Command command = MakeOrders(1, 7).front();
  MustApply(*trade, command);
  for (auto _ : state) {
    Reply reply = trade->Apply(command);
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_IdempotentRetry);

std::unique_ptr<Trade> MakeLargeTrade() {
  auto trade = MakeTrade(kStockMax, kLongTtlMs);
  for (const Command& command : MakeOrders(kOrders, 3)) trade->Apply(command);
  return trade;
}

void BM_Snapshot(benchmark::State& state) {
  const auto trade = MakeLargeTrade();
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string snapshot = trade->Snapshot();
    bytes = snapshot.size();
    benchmark::DoNotOptimize(snapshot.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["orders"] = static_cast<double>(trade->order_count());
  state.counters["snapshot_mb"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_Snapshot)->Unit(benchmark::kMillisecond);

void BM_Restore(benchmark::State& state) {
  const std::string snapshot = MakeLargeTrade()->Snapshot();
  auto trade = Trade::Create(Options{"o.c1."});
  for (auto _ : state) {
    const Status status = trade->Restore(snapshot);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * snapshot.size()));
}
BENCHMARK(BM_Restore)->Unit(benchmark::kMillisecond);

void BM_StateHash(benchmark::State& state) {
  const auto trade = MakeLargeTrade();
  for (auto _ : state) benchmark::DoNotOptimize(trade->StateHash());
}
BENCHMARK(BM_StateHash)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace surge::trade
