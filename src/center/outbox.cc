#include "center/outbox.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "center/center.h"
#include "common/assert.h"
#include "common/log.h"
#include "journal/journal.h"

namespace surge::center {
namespace {

constexpr size_t kPublishBatchMax = 4096;
constexpr uint32_t kRecordBytesMax = 1 << 20;  // journal::Options's default

}  // namespace

Outbox::Outbox(Env& env, std::string journal_dir, bus::Publisher& publisher,
               uint64_t durable_sequence, bool at_master)
    : env_(env),
      journal_dir_(std::move(journal_dir)),
      publisher_(publisher),
      at_master_(at_master) {
  durable_ = durable_sequence;
  memory_from_ = durable_sequence;
  published_ = std::min(publisher.last_published(), durable_sequence);
  thread_ = std::thread([this] { Run(); });
}

Outbox::~Outbox() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Outbox::Committed(uint64_t durable_sequence, std::vector<Pending> records) {
  {
    std::lock_guard lock(mutex_);
    SURGE_ASSERT(durable_sequence >= durable_);
    for (Pending& record : records) {
      SURGE_ASSERT(record.sequence > durable_ && record.sequence <= durable_sequence);
      memory_.push_back(std::move(record));
    }
    durable_ = durable_sequence;
    while (memory_.size() > kMemoryRecordsMax) {
      // Dropped from memory: the journal still has it.
      memory_from_ = memory_.front().sequence;
      memory_.pop_front();
    }
  }
  changed_.notify_all();
}

uint64_t Outbox::published_through() const {
  std::lock_guard lock(mutex_);
  return published_;
}

void Outbox::Run() {
  auto backoff = std::chrono::milliseconds(50);
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || published_ < durable_; });
    if (published_ >= durable_) return;  // stopping, and everything durable is published
    Status status;
    uint64_t covered = 0;
    if (published_ < memory_from_) {
      covered = memory_from_;
      lock.unlock();
      status = PublishFromJournal(covered);
      lock.lock();
    } else {
      while (!memory_.empty() && memory_.front().sequence <= published_) memory_.pop_front();
      // Copied out: the writer may drop the front of memory_ (its bound) while this publishes.
      const size_t count = std::min(memory_.size(), kPublishBatchMax);
      std::vector<Pending> batch(memory_.begin(), memory_.begin() + static_cast<ptrdiff_t>(count));
      // Everything durable is covered when all of memory goes in this batch.
      covered = count < memory_.size() ? batch.back().sequence : durable_;
      lock.unlock();
      std::vector<bus::Record> records;
      records.reserve(batch.size());
      for (const Pending& pending : batch) {
        records.push_back({pending.sequence, pending.kind, pending.payload});
      }
      status = publisher_.Publish(records);
      lock.lock();
    }
    if (status.ok()) {
      published_ = std::max(published_, covered);
      backoff = std::chrono::milliseconds(50);
      continue;
    }
    // The publisher says what it holds; the rest is published again (re-sends are skipped).
    published_ = std::min(published_, publisher_.last_published());
    SURGE_LOG_WARNING("center: publishing to the bus failed (retrying from sequence %llu): %s",
                      static_cast<unsigned long long>(published_ + 1), status.ToString().c_str());
    if (stopping_) return;  // the next start resumes from what the bus holds
    changed_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
  }
}

// Publishes the published kinds of the journal's records in (published_, through], in batches.
Status Outbox::PublishFromJournal(uint64_t through) {
  uint64_t from = 0;
  {
    std::lock_guard lock(mutex_);
    from = published_ + 1;
  }
  std::vector<std::string> payloads;
  std::vector<bus::Record> records;
  Status published = Status::Ok();
  const auto flush = [&] {
    if (records.empty() || !published.ok()) return;
    published = publisher_.Publish(records);
    records.clear();
    payloads.clear();
  };
  payloads.reserve(kPublishBatchMax);
  const Status read = journal::ReadDurable(
      env_, journal_dir_, from, through, kRecordBytesMax,
      [&](uint64_t sequence, std::string_view payload) {
        const std::optional<bus::Kind> kind = PublishedKind(payload, at_master_);
        if (kind.has_value()) {
          payloads.emplace_back(payload);  // reserved: earlier views stay valid
          records.push_back({sequence, *kind, payloads.back()});
          if (records.size() == kPublishBatchMax) flush();
        }
        return published.ok();
      });
  flush();
  if (!read.ok()) return read.Annotate("reading the journal to publish it");
  return published;
}

}  // namespace surge::center
