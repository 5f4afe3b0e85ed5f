// The order-event path of a multi-center center, in process, per order (single core):
//   - BM_ApplyBatch/events:0|1: applying batches of 4,096 PlaceOrders without and with events
//     recorded (what record_events costs the state machine itself);
//   - BM_JournalEvents/0: the way the center journaled a batch's events until format 2: take
//     them as OrderEvents (TakeEvents), then EncodeEvents;
//   - BM_JournalEvents/1: the way it does now: EncodePendingEvents, straight from the state;
//   - BM_MasterReadsEvents/0: what the master did with a sub-center's record before: a record of
//     format 1, DecodeEvents and CampaignDeltas; /1: what it does now, DecodeEventsSummary of
//     format 2 (its deltas alone).
// Orders are as surge load sends them: one campaign item, request ids of 20 characters.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"
#include "trade/trade_events_testing.h"

namespace surge::trade {
namespace {

constexpr int kUsers = 100'000;
constexpr int kSkus = 3;
constexpr size_t kBatch = 4'096;
constexpr int64_t kNowMs = 1'763'700'000'000;  // a 2025 wall clock: times take 6 varint bytes

void MustApply(Trade& trade, const Command& command) {
  const Reply reply = trade.Apply(command);
  if (!reply.status.ok()) {
    std::fprintf(stderr, "setup failed: %s\n", reply.status.ToString().c_str());
    std::abort();
  }
}

std::unique_ptr<Trade> MakeTrade(bool record_events) {
  Options options{"o.s1."};
  options.center = "s1";
  options.master = "m";
  options.centers = {"m", "s1", "s2"};
  options.record_events = record_events;
  auto trade = Trade::Create(options);
  MustApply(*trade, Command{kNowMs, PutMerchant{"m1", "Merchant"}});
  for (int u = 0; u < kUsers; ++u) {
    MustApply(*trade, Command{kNowMs, PutUser{"user" + std::to_string(u), "north"}});
  }
  for (int s = 0; s < kSkus; ++s) {
    const std::string sku = "hot-" + std::to_string(s + 1);
    MustApply(*trade, Command{kNowMs, PutProduct{sku, "m1", "Phone", "phones", 99'900}});
    MustApply(*trade, Command{kNowMs, PutCampaign{"camp-" + sku, sku, 3'000'000'000, 49'900, 0,
                                                  kTimeMsMax, 1'000'000, 10 * 60 * 1000}});
  }
  return trade;
}

std::vector<Command> MakeOrders(size_t count, uint64_t seed) {
  std::vector<Command> commands;
  commands.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    PlaceOrder order;
    order.request_id = "req-" + std::to_string(seed) + "-" + std::to_string(1'000'000'000 + i);
    order.user = "user" + std::to_string((i * 7919 + seed) % kUsers);
    order.items.push_back(OrderItem{"hot-" + std::to_string(i % kSkus + 1), 1});
    commands.push_back(Command{kNowMs + 1 + static_cast<int64_t>(i / 100), std::move(order)});
  }
  return commands;
}

const std::function<void(size_t, Reply&&)> kIgnore = [](size_t, Reply&& reply) {
  benchmark::DoNotOptimize(reply);
};

void BM_ApplyBatch(benchmark::State& state) {
  const std::vector<Command> commands = MakeOrders(kBatch * 64, 1);
  std::vector<OrderEvent> events;
  for (auto _ : state) {
    state.PauseTiming();
    auto trade = MakeTrade(state.range(0) != 0);
    state.ResumeTiming();
    for (size_t begin = 0; begin < commands.size(); begin += kBatch) {
      trade->ApplyBatch(std::span(commands).subspan(begin, kBatch), kIgnore);
      state.PauseTiming();
      trade->DropEventsThrough(trade->events_recorded());
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * commands.size()));
}
BENCHMARK(BM_ApplyBatch)->ArgName("events")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Applies each batch untimed, then times turning its events into a record.
void BM_JournalEvents(benchmark::State& state) {
  const std::vector<Command> commands = MakeOrders(kBatch * 64, 2);
  const bool direct = state.range(0) != 0;
  std::vector<OrderEvent> events;
  std::string record;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto trade = MakeTrade(true);
    state.ResumeTiming();
    for (size_t begin = 0; begin < commands.size(); begin += kBatch) {
      state.PauseTiming();
      trade->ApplyBatch(std::span(commands).subspan(begin, kBatch), kIgnore);
      state.ResumeTiming();
      record.clear();
      if (direct) {
        trade->EncodePendingEvents(begin, 0, trade->PendingEventCount(), &record);
        trade->DropEventsThrough(trade->events_recorded());
      } else {
        events.clear();
        trade->TakeEvents(&events);
        EncodeEvents(begin, events, &record);
      }
      bytes += record.size();
      benchmark::DoNotOptimize(record);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * commands.size()));
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * commands.size());
}
BENCHMARK(BM_JournalEvents)->ArgName("direct")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Records of kBatch created orders, in format 2 (or 1 with `format_one`).
std::vector<std::string> MakeRecords(bool format_one) {
  const std::vector<Command> commands = MakeOrders(kBatch * 16, 3);
  auto trade = MakeTrade(true);
  std::vector<std::string> records;
  for (size_t begin = 0; begin < commands.size(); begin += kBatch) {
    trade->ApplyBatch(std::span(commands).subspan(begin, kBatch), kIgnore);
    std::vector<OrderEvent> events;
    trade->TakeEvents(&events);
    records.push_back(format_one ? trade::testing::FormatOneRecord(begin, events) : std::string());
    if (!format_one) EncodeEvents(begin, events, &records.back());
  }
  return records;
}

void BM_MasterReadsEvents(benchmark::State& state) {
  const std::vector<std::string> records = MakeRecords(state.range(0) == 0);
  for (auto _ : state) {
    for (const std::string& record : records) {
      if (state.range(0) == 0) {
        Result<EventsRecord> decoded = DecodeEvents(record);
        if (!decoded.ok()) std::abort();
        std::vector<CampaignDelta> deltas = CampaignDeltas(decoded->events);
        benchmark::DoNotOptimize(deltas);
      } else {
        Result<EventsSummary> summary = DecodeEventsSummary(record);
        if (!summary.ok()) std::abort();
        benchmark::DoNotOptimize(summary);
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size() * kBatch));
  size_t bytes = 0;
  for (const std::string& record : records) bytes += record.size();
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(records.size() * kBatch);
}
BENCHMARK(BM_MasterReadsEvents)->ArgName("now")->Arg(0)->Arg(1);

}  // namespace
}  // namespace surge::trade
