// Private to center: the pieces that sit in front of the writer thread and are shared between the
// submitting threads and the writer. Each is thread-safe as documented per class.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "center/center.h"
#include "trade/trade.h"

namespace surge::center {

// One submission: a write command (read is empty) or a read (read is set, body unused).
struct Request {
  trade::Body body;
  Done done;
  ReadFunction read;
  std::optional<trade::Origin> origin;  // a replicated command (Center::SubmitReplicated)
};

// The bounded multi-producer, single-consumer intake queue. Producers append to one vector under a
// mutex; the consumer swaps the whole vector out, so a lock is held for one push_back or one swap
// and never while a request is processed. Capacity bounds what waits in the queue; what the writer
// has taken (at most one capacity's worth) is no longer counted.
class IntakeQueue {
 public:
  enum class PushResult { kOk, kFull, kClosed };

  IntakeQueue(size_t capacity, size_t batch_records_max, std::chrono::microseconds batch_wait);
  IntakeQueue(const IntakeQueue&) = delete;
  IntakeQueue& operator=(const IntakeQueue&) = delete;

  // Any thread. Appends `request` and returns kOk; on kFull or kClosed `request` is left untouched
  // (the caller still owns its Done and answers it).
  // `bypass_admit_limit`: only the capacity bounds it (replicated commands, which must not be
  // shed: their sender bounds what it has in flight).
  PushResult Push(Request& request, bool bypass_admit_limit = false);

  // Consumer only. Waits up to `idle_timeout` for a first request; then lets the batch fill until
  // it holds batch_records_max requests or batch_wait has passed since its first request was
  // queued (so requests that queued up while the consumer was busy are taken at once). Swaps
  // everything queued into `*batch`, which must be empty (it may then hold more than
  // batch_records_max requests). Returns false once the queue is closed and empty: nothing more
  // will ever arrive. An empty `*batch` with true means the idle timeout passed.
  bool Take(std::vector<Request>* batch, std::chrono::nanoseconds idle_timeout);

  // Any thread. Later pushes answer kClosed; the consumer still drains what is queued.
  void Close();

  // Consumer. Lowers the number of requests admitted to the queue below the capacity (the center
  // sets it from how fast it drains, so that a queue never holds more than a bounded wait); it is
  // clamped to [1, capacity].
  void SetAdmitLimit(size_t limit);
  size_t admit_limit() const { return admit_limit_.load(std::memory_order_relaxed); }

  // Any thread, without the lock: true if a Push now would most likely answer kFull. A hint for
  // answering overloaded before doing other work; Push decides.
  bool LikelyFull() const {
    return depth_.load(std::memory_order_relaxed) >= admit_limit_.load(std::memory_order_relaxed);
  }

  size_t depth() const { return depth_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  const size_t batch_records_max_;
  const std::chrono::microseconds batch_wait_;
  std::atomic<size_t> admit_limit_;
  std::atomic<size_t> depth_{0};  // pending_.size(), published for lock-free readers

  mutable std::mutex mutex_;
  std::condition_variable consumer_wakeup_;
  std::vector<Request> pending_;
  // When pending_ went from empty to non-empty (real time: this is scheduling, not business time).
  std::chrono::steady_clock::time_point first_queued_at_;
  bool consumer_waiting_ = false;
  bool closed_ = false;
};

// The 64-bit hashes (StableHash64) of every PlaceOrder request id admitted to the queue or known
// from recovery. A false positive (hash collision) only sends a request through the queue, which
// answers it correctly; there are no false negatives. Thread-safe; sharded so that submitting
// threads rarely meet on a lock.
class RequestIdSet {
 public:
  void Insert(uint64_t hash);
  bool Contains(uint64_t hash) const;
  size_t size() const;
  // Makes room for `count` hashes, so that inserting them never rehashes a shard (which would
  // hold its lock, and stall the submitters waiting on it, for as long as the copy takes).
  void Reserve(size_t count);

 private:
  static constexpr size_t kShards = 32;
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    absl::flat_hash_set<uint64_t> hashes;
  };
  Shard& ShardOf(uint64_t hash) { return shards_[(hash >> 7) % kShards]; }
  const Shard& ShardOf(uint64_t hash) const { return shards_[(hash >> 7) % kShards]; }

  std::array<Shard, kShards> shards_;
};

// The published set of SKUs whose active campaign is sold out, each with the wall time (ms) until
// which the flag is known to hold (the campaign's end, or the next reservation expiry, which may
// return stock). Written by the writer after each batch, read by submitting threads.
class SoldOutBoard {
 public:
  using Flags = absl::flat_hash_map<std::string, int64_t>;  // sku -> valid until (exclusive), ms

  // Writer only. Replaces the published flags.
  void Publish(const Flags& flags);

  // Any thread. True when no SKU is flagged at all: the common case, answered without a lock.
  bool empty() const { return flagged_count_.load(std::memory_order_acquire) == 0; }

  // Any thread. Returns the first item whose SKU is flagged and still valid at `now_ms`, or null.
  const trade::OrderItem* FindSoldOut(const std::vector<trade::OrderItem>& items,
                                      int64_t now_ms) const;

 private:
  mutable std::mutex mutex_;
  Flags flags_;
  std::atomic<size_t> flagged_count_{0};
};

}  // namespace surge::center
