#include "center/intake.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace surge::center {

IntakeQueue::IntakeQueue(size_t capacity, size_t batch_records_max,
                         std::chrono::microseconds batch_wait)
    : capacity_(capacity),
      batch_records_max_(batch_records_max),
      batch_wait_(batch_wait),
      admit_limit_(capacity) {
  SURGE_ASSERT(capacity_ > 0);
  SURGE_ASSERT(batch_records_max_ > 0);
}

IntakeQueue::PushResult IntakeQueue::Push(Request& request, bool bypass_admit_limit) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return PushResult::kClosed;
    const size_t limit =
        bypass_admit_limit ? capacity_ : admit_limit_.load(std::memory_order_relaxed);
    if (pending_.size() >= limit) {
      return PushResult::kFull;
    }
    if (pending_.empty()) first_queued_at_ = std::chrono::steady_clock::now();
    pending_.push_back(std::move(request));
    depth_.store(pending_.size(), std::memory_order_relaxed);
    // The consumer waits either for a first request or for a full batch; waking it for anything
    // else would cost a futex call per request and buy nothing.
    const size_t size = pending_.size();
    wake = consumer_waiting_ && (size == 1 || size == batch_records_max_);
  }
  if (wake) consumer_wakeup_.notify_one();
  return PushResult::kOk;
}

bool IntakeQueue::Take(std::vector<Request>* batch, std::chrono::nanoseconds idle_timeout) {
  SURGE_ASSERT(batch->empty());
  std::unique_lock lock(mutex_);
  if (pending_.empty() && !closed_) {
    consumer_waiting_ = true;
    consumer_wakeup_.wait_for(lock, idle_timeout, [&] { return !pending_.empty() || closed_; });
    consumer_waiting_ = false;
  }
  if (pending_.empty()) return !closed_;
  if (!closed_ && pending_.size() < batch_records_max_ && batch_wait_.count() > 0) {
    const auto deadline = first_queued_at_ + batch_wait_;
    consumer_waiting_ = true;
    consumer_wakeup_.wait_until(lock, deadline,
                                [&] { return pending_.size() >= batch_records_max_ || closed_; });
    consumer_waiting_ = false;
  }
  batch->swap(pending_);
  depth_.store(0, std::memory_order_relaxed);
  return true;
}

void IntakeQueue::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  consumer_wakeup_.notify_one();
}

void IntakeQueue::SetAdmitLimit(size_t limit) {
  admit_limit_.store(std::clamp<size_t>(limit, 1, capacity_), std::memory_order_relaxed);
}

void RequestIdSet::Insert(uint64_t hash) {
  Shard& shard = ShardOf(hash);
  std::lock_guard lock(shard.mutex);
  shard.hashes.insert(hash);
}

bool RequestIdSet::Contains(uint64_t hash) const {
  const Shard& shard = ShardOf(hash);
  std::lock_guard lock(shard.mutex);
  return shard.hashes.contains(hash);
}

void RequestIdSet::Reserve(size_t count) {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    // Shards fill unevenly by a few percent; a little headroom keeps each below its rehash point.
    shard.hashes.reserve(count / kShards + count / (kShards * 8) + 1);
  }
}

size_t RequestIdSet::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.hashes.size();
  }
  return total;
}

void SoldOutBoard::Publish(const Flags& flags) {
  Flags copy = flags;  // built outside the lock so that readers wait only for the swap
  {
    std::lock_guard lock(mutex_);
    flags_.swap(copy);
    flagged_count_.store(flags_.size(), std::memory_order_release);
  }
}

const trade::OrderItem* SoldOutBoard::FindSoldOut(const std::vector<trade::OrderItem>& items,
                                                  int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  for (const trade::OrderItem& item : items) {
    const auto it = flags_.find(item.sku);
    if (it != flags_.end() && now_ms < it->second) return &item;
  }
  return nullptr;
}

}  // namespace surge::center
