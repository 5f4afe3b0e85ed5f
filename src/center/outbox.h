// Private to center: publishing what the center journals to the data bus, off the writer thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "common/env.h"

namespace surge::center {

// Hands published records to a bus::Publisher from its own thread, so that a slow bus (JetStream
// waits for the server's acknowledgements) never stalls the writer. The writer tells it each
// commit (Committed) with the records to publish; it keeps at most kMemoryRecordsMax of them in
// memory, and when it has fallen behind further (or the bus failed and it retries), it reads what
// it misses back from the journal, which holds everything. So nothing durable is ever skipped,
// memory stays bounded, and after a restart it resumes from the publisher's last_published().
class Outbox {
 public:
  static constexpr size_t kMemoryRecordsMax = 65'536;

  // Starts publishing everything after publisher->last_published() through what is durable.
  // `at_master`: which records of the journal it publishes (PublishedKind).
  Outbox(Env& env, std::string journal_dir, bus::Publisher& publisher, uint64_t durable_sequence,
         bool at_master);
  // Publishes what is durable (unless the bus keeps failing), then stops.
  ~Outbox();

  struct Pending {
    uint64_t sequence;
    bus::Kind kind;
    std::string payload;
  };
  // Writer thread: the batch through `durable_sequence` is durable; `records` are the ones of it
  // to publish, in sequence order.
  void Committed(uint64_t durable_sequence, std::vector<Pending> records);

  uint64_t published_through() const;

 private:
  void Run();
  Status PublishFromJournal(uint64_t through);

  Env& env_;
  const std::string journal_dir_;
  bus::Publisher& publisher_;
  const bool at_master_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  uint64_t durable_ = 0;
  // In memory: the records of sequences (memory_from_, durable_], all of them that are published,
  // unless the memory bound dropped some (then memory_from_ moved up).
  uint64_t memory_from_ = 0;
  std::deque<Pending> memory_;
  uint64_t published_ = 0;
  std::thread thread_;
};

}  // namespace surge::center
