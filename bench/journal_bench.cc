// Journal benchmarks on the real disk (Env::Default()), in a temporary directory under
// $SURGE_BENCH_DIR (default /tmp) that is removed afterwards.
//
//   BM_AppendCommit/<n>: ~100-byte records, one Commit (write + fdatasync) every n records.
//   BM_Replay/<n>:       Open of a journal of n ~100-byte records (written just before, so mostly
//                        from the page cache): replay throughput, which must be >= 2M records/s.
//   BM_SnapshotWrite/<bytes>, BM_SnapshotLoad/<bytes>: one snapshot of that size.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "common/env.h"
#include "journal/journal.h"

namespace surge::journal {
namespace {

constexpr size_t kPayloadBytes = 100;

// A fresh directory for one benchmark run, removed with everything in it.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    const char* base = std::getenv("SURGE_BENCH_DIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/surge-journal-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Options JournalOptions(const TemporaryDirectory& directory) {
  Options options;
  options.dir = directory.path() + "/journal";
  return options;
}

// A payload that differs per record, like real commands do.
std::string Payload(uint64_t sequence) {
  std::string payload(kPayloadBytes, 'x');
  const std::string number = std::to_string(sequence);
  payload.replace(0, number.size(), number);
  return payload;
}

void BM_AppendCommit(benchmark::State& state) {
  const auto records_per_commit = static_cast<uint64_t>(state.range(0));
  TemporaryDirectory directory;
  auto journal = Journal::Open(*Env::Default(), JournalOptions(directory), {});
  if (!journal.ok()) return state.SkipWithError(journal.status().ToString().c_str());
  std::string payload = Payload(0);
  for (auto _ : state) {
    for (uint64_t i = 0; i < records_per_commit; ++i) (*journal)->Append(payload);
    const Status status = (*journal)->Commit();
    if (!status.ok()) return state.SkipWithError(status.ToString().c_str());
  }
  const auto commits = static_cast<double>(state.iterations());
  state.counters["records/s"] = benchmark::Counter(
      commits * static_cast<double>(records_per_commit), benchmark::Counter::kIsRate);
  state.counters["commits/s"] = benchmark::Counter(commits, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(records_per_commit) *
                          static_cast<int64_t>(kPayloadBytes + 16));
}
BENCHMARK(BM_AppendCommit)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->Arg(4096)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_Replay(benchmark::State& state) {
  const auto records = static_cast<uint64_t>(state.range(0));
  TemporaryDirectory directory;
  const Options options = JournalOptions(directory);
  {
    auto journal = Journal::Open(*Env::Default(), options, {});
    if (!journal.ok()) return state.SkipWithError(journal.status().ToString().c_str());
    for (uint64_t sequence = 1; sequence <= records; ++sequence) {
      (*journal)->Append(Payload(sequence));
      if (sequence % 4096 == 0 || sequence == records) {
        if (!(*journal)->Commit().ok()) return state.SkipWithError("commit failed");
      }
    }
  }
  uint64_t replayed = 0;
  uint64_t payload_bytes = 0;
  RecoveryHandler handler;
  handler.on_record = [&](uint64_t, std::string_view payload) {
    ++replayed;
    payload_bytes += payload.size();
    return Status::Ok();
  };
  for (auto _ : state) {
    replayed = 0;
    RecoveryStats stats;
    auto journal = Journal::Open(*Env::Default(), options, handler, &stats);
    if (!journal.ok()) return state.SkipWithError(journal.status().ToString().c_str());
    if (replayed != records) return state.SkipWithError("replayed a different number of records");
  }
  benchmark::DoNotOptimize(payload_bytes);
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * records), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(records) *
                          static_cast<int64_t>(kPayloadBytes + 16));
}
BENCHMARK(BM_Replay)->Arg(5'000'000)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SnapshotWrite(benchmark::State& state) {
  const std::string snapshot(static_cast<size_t>(state.range(0)), 's');
  TemporaryDirectory directory;
  auto journal = Journal::Open(*Env::Default(), JournalOptions(directory), {});
  if (!journal.ok()) return state.SkipWithError(journal.status().ToString().c_str());
  for (auto _ : state) {
    // Each snapshot needs a record after the previous one.
    (*journal)->Append(Payload(0));
    if (!(*journal)->Commit().ok()) return state.SkipWithError("commit failed");
    const Status status = (*journal)->WriteSnapshot((*journal)->durable_sequence(), snapshot);
    if (!status.ok()) return state.SkipWithError(status.ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SnapshotWrite)
    ->Arg(256 << 20)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SnapshotLoad(benchmark::State& state) {
  const std::string snapshot(static_cast<size_t>(state.range(0)), 's');
  TemporaryDirectory directory;
  const Options options = JournalOptions(directory);
  {
    auto journal = Journal::Open(*Env::Default(), options, {});
    if (!journal.ok()) return state.SkipWithError(journal.status().ToString().c_str());
    (*journal)->Append(Payload(1));
    if (!(*journal)->Commit().ok() || !(*journal)->WriteSnapshot(1, snapshot).ok()) {
      return state.SkipWithError("could not write the snapshot");
    }
  }
  size_t loaded_bytes = 0;
  RecoveryHandler handler;
  handler.on_snapshot = [&](uint64_t, std::string_view loaded) {
    loaded_bytes = loaded.size();
    return Status::Ok();
  };
  for (auto _ : state) {
    auto journal = Journal::Open(*Env::Default(), options, handler);
    if (!journal.ok() || loaded_bytes != snapshot.size()) {
      return state.SkipWithError("snapshot did not load");
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SnapshotLoad)
    ->Arg(256 << 20)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace surge::journal
