// The brain at the scale of issue 6's bar: a catalogue of 1 million items (categories and
// prices), a synthetic long-tail event log (Zipf popularity over the items, a few hundred
// thousand users with short sessions that often move to a related item), one Train, then
// top-20 recommendations for warm users (known to the models) and cold ones (never seen), and
// an audience request. BM_OpenLoop is the bar itself: requests due at fixed times, 1,000 a
// second, each latency measured from when it was due (a slow request delays the next ones,
// which count that delay: no coordinated omission), p50 / p99 / p99.9 over the run.
//
//   build/bench/brain_scale_bench
//   build/bench/brain_scale_bench --benchmark_filter=OpenLoop   (the bar alone)
//
// SURGE_BRAIN_SCALE_ITEMS and SURGE_BRAIN_SCALE_USERS override the sizes (1,000,000 and
// 300,000). BM_BuildAndTrain reports the time of PutItem, Observe and Train, and the memory
// (resident and peak) after training.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "brain/brain.h"

namespace {

using Clock = std::chrono::steady_clock;
using surge::brain::Brain;
using surge::brain::BrainOptions;
using surge::brain::Event;
using surge::brain::EventKind;

constexpr size_t kCategories = 2000;
constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int kDays = 30;

size_t FromEnv(const char* name, size_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::strtoull(value, nullptr, 10);
}

// Item ranks drawn with P(rank r) proportional to 1 / (r + 1)^s: the long tail of a real shop.
class Zipf {
 public:
  Zipf(size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (size_t r = 0; r < n; ++r) cdf_[r] = sum += std::pow(static_cast<double>(r + 1), -s);
    for (double& x : cdf_) x /= sum;
  }
  size_t operator()(std::mt19937_64& random) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(random);
    return static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

std::string ItemId(size_t item) { return "sku-" + std::to_string(item); }
std::string UserId(size_t user) { return "user-" + std::to_string(user); }

double MemoryGb(const char* field) {  // VmRSS or VmHWM from /proc/self/status
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / (1 << 20);
  }
  return 0;
}

struct World {
  std::unique_ptr<Brain> brain;
  size_t items = 0, users = 0, events = 0;
  double put_seconds = 0, observe_seconds = 0, train_seconds = 0;
  double rss_gb = 0, peak_gb = 0;
  int64_t now_ms = kStartMs + kDays * kDayMs;
  std::vector<std::string> warm_users, popular_items;
};

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sessions of 1 to 20 steps (mean about 4); each step views an item and half of them buy it;
// 60% of the steps go to one of five items related to the previous one (themselves drawn from
// the popularity law), the others to a fresh draw.
void ObserveSessions(World* world, const Zipf& zipf, std::mt19937_64& random) {
  std::geometric_distribution<int> extra(0.3);
  std::uniform_int_distribution<int64_t> start(kStartMs, kStartMs + (kDays - 1) * kDayMs);
  for (size_t u = 0; u < world->users; ++u) {
    const std::string user = UserId(u);
    const int steps = 1 + std::min(extra(random), 19);
    int64_t time = start(random);
    size_t item = zipf(random);
    for (int step = 0; step < steps; ++step, time += 60'000) {
      if (step > 0) {
        if (random() % 10 < 6) {
          std::mt19937_64 related(Mix(item * 8 + random() % 5));
          item = zipf(related);
        } else {
          item = zipf(random);
        }
      }
      const std::string sku = ItemId(item);
      (void)world->brain->Observe({user, sku, EventKind::kView, time, 1});
      if (random() % 2 == 0) {
        (void)world->brain->Observe({user, sku, EventKind::kPurchase, time + 1000, 1});
        ++world->events;
      }
      ++world->events;
    }
    if (u % 7 == 0 && world->warm_users.size() < 20000) world->warm_users.push_back(user);
  }
}

World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->items = FromEnv("SURGE_BRAIN_SCALE_ITEMS", 1'000'000);
    w->users = FromEnv("SURGE_BRAIN_SCALE_USERS", 300'000);
    BrainOptions options;
    w->brain = std::make_unique<Brain>(options);
    std::mt19937_64 random(42);
    auto start = Clock::now();
    std::lognormal_distribution<double> price(7.5, 1.0);  // median about 18 in cents * 100
    for (size_t i = 0; i < w->items; ++i) {
      const size_t category = Mix(i) % kCategories;
      (void)w->brain->PutItem(
          ItemId(i), {"cat-" + std::to_string(category), static_cast<int64_t>(price(random))});
    }
    w->put_seconds = Since(start);
    const Zipf zipf(w->items, 1.0);
    start = Clock::now();
    ObserveSessions(w, zipf, random);
    w->observe_seconds = Since(start);
    start = Clock::now();
    auto report = w->brain->Train();
    w->train_seconds = Since(start);
    if (!report.ok()) {
      std::fprintf(stderr, "Train: %s\n", report.status().ToString().c_str());
      std::abort();
    }
    w->rss_gb = MemoryGb("VmRSS:");
    w->peak_gb = MemoryGb("VmHWM:");
    for (size_t i = 0; i < 1000; ++i) w->popular_items.push_back(ItemId(i));
    std::fprintf(stderr,
                 "brain scale: %zu items, %zu users, %zu events; PutItem %.1f s, Observe %.1f s, "
                 "Train %.1f s (models of %zu items, ranker %s); memory %.2f GB resident, %.2f GB "
                 "peak\n",
                 w->items, w->users, w->events, w->put_seconds, w->observe_seconds,
                 w->train_seconds, report->items, report->ranker ? "yes" : "no", w->rss_gb,
                 w->peak_gb);
    return w;
  }();
  return *world;
}

void BM_BuildAndTrain(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(TheWorld().brain.get());
  const World& world = TheWorld();
  state.counters["items"] = static_cast<double>(world.items);
  state.counters["events"] = static_cast<double>(world.events);
  state.counters["put_s"] = world.put_seconds;
  state.counters["observe_s"] = world.observe_seconds;
  state.counters["train_s"] = world.train_seconds;
  state.counters["rss_GB"] = world.rss_gb;
  state.counters["peak_GB"] = world.peak_gb;
}
BENCHMARK(BM_BuildAndTrain)->Iterations(1)->Unit(benchmark::kSecond);

void BM_RecommendWarm(benchmark::State& state) {
  World& world = TheWorld();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& user = world.warm_users[(i++ * 7919) % world.warm_users.size()];
    auto list = world.brain->Recommend(user, 20, world.now_ms);
    if (!list.ok() || list->size() != 20) state.SkipWithError("short answer");
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_RecommendWarm)->Unit(benchmark::kMicrosecond);

void BM_RecommendCold(benchmark::State& state) {
  World& world = TheWorld();
  size_t i = 0;
  for (auto _ : state) {
    auto list = world.brain->Recommend("new-user-" + std::to_string(i++), 20, world.now_ms);
    if (!list.ok() || list->size() != 20) state.SkipWithError("short answer");
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_RecommendCold)->Unit(benchmark::kMicrosecond);

void BM_Audience(benchmark::State& state) {
  World& world = TheWorld();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& item = world.popular_items[(i++ * 31) % world.popular_items.size()];
    auto audience = world.brain->Audience(item, 100, world.now_ms);
    if (!audience.ok()) state.SkipWithError("audience failed");
    benchmark::DoNotOptimize(audience);
  }
}
BENCHMARK(BM_Audience)->Unit(benchmark::kMicrosecond);

// 1,000 requests a second for `seconds` (10 by default), 9 in 10 for warm users and 1 in 10 for
// new ones, served by two threads (the machine's two cores). Request k is due at start + k ms;
// a free thread takes the next one, waits until it is due, serves it, and records the time from
// due to done.
void BM_OpenLoop(benchmark::State& state) {
  World& world = TheWorld();
  const auto seconds = static_cast<size_t>(state.range(0));
  const size_t total = 1000 * seconds;
  std::vector<double> latency_us(total);
  for (auto _ : state) {
    std::atomic<size_t> next{0};
    const Clock::time_point start = Clock::now() + std::chrono::milliseconds(10);
    auto serve = [&] {
      for (size_t k; (k = next.fetch_add(1)) < total;) {
        const Clock::time_point due = start + std::chrono::milliseconds(k);
        std::this_thread::sleep_until(due);
        auto list =
            k % 10 == 9
                ? world.brain->Recommend("fresh-" + std::to_string(k), 20, world.now_ms)
                : world.brain->Recommend(world.warm_users[(k * 7919) % world.warm_users.size()], 20,
                                         world.now_ms);
        benchmark::DoNotOptimize(list);
        latency_us[k] = std::chrono::duration<double, std::micro>(Clock::now() - due).count();
      }
    };
    std::thread helper(serve);
    serve();
    helper.join();
  }
  std::vector<double> sorted = latency_us;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](double q) {
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
  };
  state.counters["requests"] = static_cast<double>(total);
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = sorted.back();
  state.counters["over_3ms"] =
      static_cast<double>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), 3000.0));
}
BENCHMARK(BM_OpenLoop)
    ->Arg(10)
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
