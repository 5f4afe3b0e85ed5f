// center: the engine loop of one center.
//
// Requests enter a bounded intake queue. One writer thread takes a batch (it closes at
// batch_records_max commands, or batch_wait after its first command, whichever comes first; and
// whatever arrived while the previous batch was being synced is taken at once), stamps each command
// with the time, appends the batch to the journal, makes it durable with one fdatasync, applies it
// to the trade state machine, and only then answers each request. Nothing is acknowledged before
// it is durable.
//
// Overload control, in front of the queue:
//   - a full queue answers overloaded at once (the API layer adds Retry-After);
//   - an order for a campaign that is sold out answers sold_out at once without entering the
//     queue, unless its request id was seen before (then it goes through the queue so that a retry
//     gets its original answer).
//
// Reads run on the writer thread between batches, against state that is wholly durable.
//
// Open recovers from the data directory (newest snapshot + journal tail) and refuses to start on
// corruption. Stop drains the queue, syncs and joins the writer.
//
// Thread safety: Submit, Read and stats may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "trade/trade.h"

namespace surge::center {

struct Options {
  std::string data_dir;
  std::string center_id = "c1";
  size_t intake_capacity = 65'536;
  size_t batch_records_max = 4'096;
  std::chrono::microseconds batch_wait{200};
  uint64_t snapshot_every_records = 1'000'000;
  uint64_t segment_bytes_max = 64ULL << 20;
  // How often the writer checks for due reservations when no command arrives.
  std::chrono::milliseconds tick_interval{100};
};

struct Stats {
  uint64_t commands_applied = 0;
  uint64_t batches_committed = 0;
  uint64_t reads_served = 0;
  uint64_t rejected_overloaded = 0;
  uint64_t rejected_sold_out_early = 0;
  uint64_t queue_depth = 0;
  uint64_t last_sequence = 0;
  uint64_t recovered_records = 0;
  uint64_t state_hash = 0;  // as of the last stats refresh on the writer thread
};

// Called exactly once per submitted command: on the writer thread once the command is durable and
// applied, or on the submitting thread if it is answered without entering the queue.
using Done = std::function<void(trade::Reply reply)>;
// Runs on the writer thread with the state and the current time; must not block or keep
// references to the state past its return.
using ReadFunction = std::function<void(const trade::Trade& state, int64_t now_ms)>;

class Center {
 public:
  static Result<std::unique_ptr<Center>> Open(Env& env, const Options& options);
  virtual ~Center() = default;

  virtual void Submit(trade::Body body, Done done) = 0;
  // Returns false (and does not run `read`) when the queue is full or the center is stopping.
  virtual bool Read(ReadFunction read) = 0;
  // Stops intake (later submissions answer unavailable), answers everything queued, commits and
  // joins the writer. Idempotent.
  virtual void Stop() = 0;

  virtual const std::string& center_id() const = 0;
  virtual Stats stats() const = 0;
};

}  // namespace surge::center
