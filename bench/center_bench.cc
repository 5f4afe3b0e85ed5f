// Orders per second through Center::Submit into a center journaling to the real disk (a temporary
// directory; every batch pays one fdatasync), from 1 and 2 submitting threads. Each thread keeps
// up to kWindow orders in flight (a client that pipelines), and an order counts once its reply
// arrived. Reports orders/s (items_per_second), batches/s and orders per batch; and, separately,
// how fast the sold-out short-circuit answers on the submitting thread, and the intake queue alone.
//
//   build/bench/center_bench [--benchmark_filter=Durable]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "center/center.h"
#include "center/intake.h"
#include "common/env.h"
#include "common/log.h"
#include "trade/trade.h"

namespace surge::center {
namespace {

constexpr int kUsers = 1'000;
constexpr std::ptrdiff_t kWindow = 8'192;  // orders in flight per submitting thread

struct Setup {
  std::string dir;
  std::unique_ptr<Center> center;
  std::atomic<uint64_t> next_request{0};
  Stats before;
};
Setup* setup = nullptr;

void MustCall(Center& center, trade::Body body) {
  std::binary_semaphore done(0);
  bool ok = false;
  center.Submit(std::move(body), [&](trade::Reply reply) {
    ok = reply.status.ok();
    if (!ok) std::fprintf(stderr, "setup failed: %s\n", reply.status.ToString().c_str());
    done.release();
  });
  done.acquire();
  if (!ok) std::abort();
}

void StartCenter(int64_t campaign_stock, uint64_t snapshot_every_records = 1'000'000) {
  // Quiet by default; SURGE_LOG_LEVEL=info shows recovery and snapshot timings.
  if (std::getenv("SURGE_LOG_LEVEL") == nullptr) SetLogLevel(LogLevel::kWarning);
  setup = new Setup;
  std::random_device random;
  setup->dir = (std::filesystem::temp_directory_path() /
                ("center_bench." + std::to_string(::getpid()) + "." + std::to_string(random())))
                   .string();
  Options options;
  options.data_dir = setup->dir;
  options.snapshot_every_records = snapshot_every_records;
  auto center = Center::Open(*Env::Default(), options);
  if (!center.ok()) {
    std::fprintf(stderr, "opening the center: %s\n", center.status().ToString().c_str());
    std::abort();
  }
  setup->center = std::move(center).value();
  Center& c = *setup->center;
  MustCall(c, trade::PutMerchant{"m1", "Merchant"});
  MustCall(c, trade::PutProduct{"p1", "m1", "Phone", "phones", 100'000});
  MustCall(c, trade::PutCampaign{"c1", "p1", campaign_stock, 50'000, 0, trade::kTimeMsMax,
                                 trade::kStockMax, 15 * 60 * 1000});
  for (int u = 0; u < kUsers; ++u) MustCall(c, trade::PutUser{"u" + std::to_string(u), "north"});
  setup->before = c.stats();
}

void StopCenter(benchmark::State& state) {
  const Stats after = setup->center->stats();
  setup->center->Stop();
  const double batches =
      static_cast<double>(after.batches_committed - setup->before.batches_committed);
  const double commands =
      static_cast<double>(after.commands_applied - setup->before.commands_applied);
  state.counters["batches_per_s"] = benchmark::Counter(batches, benchmark::Counter::kIsRate);
  state.counters["orders_per_batch"] = batches > 0 ? commands / batches : 0;
  state.counters["early_sold_out"] =
      static_cast<double>(after.rejected_sold_out_early - setup->before.rejected_sold_out_early);
  state.counters["overloaded"] =
      static_cast<double>(after.rejected_overloaded - setup->before.rejected_overloaded);
  std::error_code ignored;
  std::filesystem::remove_all(setup->dir, ignored);
  delete setup;
  setup = nullptr;
}

// Submits orders (each from a new request id) until the loop ends, keeping kWindow in flight;
// waits for every reply before returning. Counts replies with the expected code.
void SubmitOrders(benchmark::State& state, Code expected) {
  std::counting_semaphore<kWindow> window(kWindow);
  std::atomic<int64_t> unexpected{0};
  const uint64_t thread_tag = static_cast<uint64_t>(state.thread_index());
  uint64_t n = 0;
  for (auto _ : state) {
    window.acquire();
    const uint64_t id = setup->next_request.fetch_add(1, std::memory_order_relaxed);
    trade::PlaceOrder order{"b" + std::to_string(thread_tag) + "." + std::to_string(id),
                            "u" + std::to_string(n++ % kUsers),
                            {{"p1", 1}}};
    setup->center->Submit(std::move(order), [&](trade::Reply reply) {
      if (reply.status.code() != expected) unexpected.fetch_add(1, std::memory_order_relaxed);
      window.release();
    });
  }
  for (std::ptrdiff_t i = 0; i < kWindow; ++i) window.acquire();
  state.SetItemsProcessed(state.iterations());
  state.counters["unexpected_replies"] =
      benchmark::Counter(static_cast<double>(unexpected.load()), benchmark::Counter::kDefaults);
}

// Every order succeeds (the campaign has more stock than the run can sell): the full path of
// queue, batch, journal append, fdatasync, apply and reply.
void BM_PlaceOrdersDurable(benchmark::State& state) {
  if (state.thread_index() == 0) StartCenter(trade::kStockMax);
  SubmitOrders(state, Code::kOk);
  if (state.thread_index() == 0) StopCenter(state);
}
BENCHMARK(BM_PlaceOrdersDurable)->Threads(1)->Threads(2)->UseRealTime()->MinTime(3.0);

// The same without snapshots: the steady state between two snapshots, when the writer does not
// pause to serialize the whole state.
void BM_PlaceOrdersDurableNoSnapshot(benchmark::State& state) {
  if (state.thread_index() == 0) StartCenter(trade::kStockMax, UINT64_MAX);
  SubmitOrders(state, Code::kOk);
  if (state.thread_index() == 0) StopCenter(state);
}
BENCHMARK(BM_PlaceOrdersDurableNoSnapshot)->Threads(2)->UseRealTime()->MinTime(3.0);

// The campaign is sold out from the start: every order of a new request id is answered sold_out
// on the submitting thread, without the queue or the disk.
void BM_PlaceOrdersSoldOutShortCircuit(benchmark::State& state) {
  if (state.thread_index() == 0) StartCenter(0);
  SubmitOrders(state, Code::kSoldOut);
  if (state.thread_index() == 0) StopCenter(state);
}
BENCHMARK(BM_PlaceOrdersSoldOutShortCircuit)->Threads(1)->Threads(2)->UseRealTime()->MinTime(2.0);

// The intake queue alone (private to center, measured here to show it is not the bottleneck):
// the benchmark threads push, one consumer thread swaps batches out and answers each request.
IntakeQueue* queue = nullptr;
std::thread* consumer = nullptr;

void BM_IntakeQueuePushTake(benchmark::State& state) {
  if (state.thread_index() == 0) {
    queue = new IntakeQueue(65'536, 4'096, std::chrono::microseconds(200));
    consumer = new std::thread([] {
      std::vector<Request> batch;
      while (queue->Take(&batch, std::chrono::milliseconds(100))) {
        for (Request& request : batch) request.done(trade::Reply{});
        batch.clear();
      }
    });
  }
  std::counting_semaphore<kWindow> window(kWindow);
  uint64_t n = 0;
  for (auto _ : state) {
    window.acquire();
    Request request;
    request.body = trade::PayOrder{"o." + std::to_string(n++)};
    request.done = [&window](trade::Reply) { window.release(); };
    if (queue->Push(request) != IntakeQueue::PushResult::kOk) std::abort();
  }
  for (std::ptrdiff_t i = 0; i < kWindow; ++i) window.acquire();
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    queue->Close();
    consumer->join();
    delete consumer;
    delete queue;
  }
}
BENCHMARK(BM_IntakeQueuePushTake)->Threads(2)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace surge::center
