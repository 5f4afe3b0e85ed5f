// Throughput of the trade state machine on one core: PlaceOrder (mostly accepted, and mostly
// rejected as sold out), idempotent retries, and snapshot / restore of a large state.
//
// The order commands are built before timing starts: unique request ids, users drawn from 100k,
// SKUs from 100 campaign SKUs. Each benchmark iteration applies all of them to a fresh Trade
// (built while the timer is paused), so every order is a new request, as in a flash sale.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "trade/trade.h"

namespace surge::trade {
namespace {

constexpr int kUsers = 100'000;
constexpr int kSkus = 100;
constexpr int64_t kSetupMs = 1'000;
constexpr size_t kOrders = 1 << 20;

Command At(int64_t now_ms, Body body) { return Command{now_ms, std::move(body)}; }

void MustApply(Trade& trade, const Command& command) {
  const Reply reply = trade.Apply(command);
  if (!reply.status.ok()) {
    std::fprintf(stderr, "setup failed: %s\n", reply.status.ToString().c_str());
    std::abort();
  }
}

// 100k users and 100 SKUs, each with an open campaign of `stock` units and a 10-minute TTL, so
// that reservations of the first minutes expire during the run (1 order per simulated ms).
std::unique_ptr<Trade> MakeTrade(int64_t stock, int64_t per_user_limit) {
  auto trade = Trade::Create(Options{"o.c1."});
  MustApply(*trade, At(kSetupMs, PutMerchant{"m1", "Merchant"}));
  for (int u = 0; u < kUsers; ++u) {
    MustApply(*trade, At(kSetupMs, PutUser{"user" + std::to_string(u), "cn-north"}));
  }
  for (int s = 0; s < kSkus; ++s) {
    const std::string sku = "sku" + std::to_string(s);
    MustApply(*trade, At(kSetupMs, PutProduct{sku, "m1", "Phone", "phones", 99'900}));
    MustApply(*trade, At(kSetupMs, PutCampaign{"camp" + std::to_string(s), sku, stock, 49'900, 0,
                                               kTimeMsMax, per_user_limit, 10 * 60 * 1000}));
  }
  return trade;
}

std::vector<Command> MakeOrders(size_t count, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<Command> commands;
  commands.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    PlaceOrder order;
    order.request_id = "req-" + std::to_string(seed) + "-" + std::to_string(i);
    order.user = "user" + std::to_string(random() % kUsers);
    order.items.push_back(OrderItem{"sku" + std::to_string(random() % kSkus), 1});
    commands.push_back(At(kSetupMs + 1 + static_cast<int64_t>(i), std::move(order)));
  }
  return commands;
}

void RunPlaceOrders(benchmark::State& state, int64_t stock) {
  const std::vector<Command> commands = MakeOrders(kOrders, 1);
  uint64_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto trade = MakeTrade(stock, /*per_user_limit=*/1'000'000);
    state.ResumeTiming();
    for (const Command& command : commands) {
      Reply reply = trade->Apply(command);
      accepted += reply.status.ok() ? 1 : 0;
      benchmark::DoNotOptimize(reply);
    }
    state.PauseTiming();
    trade.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * commands.size()));
  state.counters["accepted_fraction"] =
      static_cast<double>(accepted) / static_cast<double>(state.iterations() * commands.size());
}

void BM_PlaceOrder(benchmark::State& state) { RunPlaceOrders(state, kStockMax); }
BENCHMARK(BM_PlaceOrder)->Unit(benchmark::kMillisecond);

// Campaigns of 100 units each: all but 10k of the 1M orders are rejected as sold_out.
void BM_PlaceOrderSoldOut(benchmark::State& state) { RunPlaceOrders(state, 100); }
BENCHMARK(BM_PlaceOrderSoldOut)->Unit(benchmark::kMillisecond);

// A client retrying the same request: answered from the idempotency record.
void BM_IdempotentRetry(benchmark::State& state) {
  auto trade = MakeTrade(kStockMax, 1'000'000);
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
  auto trade = MakeTrade(kStockMax, 1'000'000);
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
