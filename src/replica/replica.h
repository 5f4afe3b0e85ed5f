// replica: ships a primary center's journal to its hot standby, synchronously (center.h, "Hot
// standby", says what the center does with it).
//
// The standby connects to its primary's shipping address and says hello: its center, the epoch it
// expects (the lease holder's, from coord) and the last sequence its journal holds. The primary
// welcomes it with its epoch and how far the standby may keep its journal: a standby holding
// records beyond the primary's durable end holds a tail nobody acknowledged (the primary answers
// only what both hold, and makes records durable only after the standby did), which it must drop
// (center::Options::keep_through) before it connects again. Otherwise the primary sends every
// record after the standby's last: catch-up from its journal, then the batch it is shipping now;
// once the standby acknowledged all of it, the primary says "in sync" and from then on ships each
// batch as it is journaled, waiting for its acknowledgement.
//
// Seeding: a primary's journal removes the segments its snapshots made unneeded, so a standby that
// needs records older than the oldest segment kept (a new or wiped disk, or one down for long)
// cannot catch up from the journal. The primary then sends its newest snapshot instead (in chunks,
// checksummed) and closes; the Receiver cannot swap the state of a running center, so Run returns
// wrong_state with the snapshot in its Resync, and the caller stops the standby center, installs
// the snapshot into its journal (InstallSnapshot below), reopens it and runs again: the hello then
// says the snapshot's sequence and catch-up goes on from the journal.
//
// Epochs fence old primaries: a Receiver is told the epoch of the primary it must follow and
// refuses a primary of any other; a standby that takes over stops following, so a primary that
// was frozen and wakes up can no longer get anything acknowledged, and a Shipper whose lease runs
// out (ShipperOptions::may_acknowledge) fails every ShipAndWait: the center then steps down.
//
// Liveness: a primary in sync says "in sync" again whenever the link has been quiet for 200 ms;
// a standby that hears nothing for 1.5 s ends (io_error), as a link taken down or a frozen primary
// gives no error of its own (before the first frame after the welcome it waits 5 s, the time a
// primary that seeds it has to read its snapshot). A primary finds a silent standby through
// ack_timeout.
//
// One standby per primary: a new hello replaces the previous connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "center/center.h"
#include "common/env.h"
#include "common/status.h"

namespace surge::replica {

struct ShipperOptions {
  std::string center;              // the center's id; a hello naming another is refused
  std::string host = "127.0.0.1";  // where to accept the standby
  uint16_t port = 0;               // 0: any free port (address() tells which)
  std::string journal_dir;  // the primary's journal, read for catch-up (journal::ReadDurable)
  uint32_t record_bytes_max = 1U << 20;
  uint64_t epoch = 0;  // this primary's epoch (its lease's)
  // Asked before a batch counts as acknowledged, and while waiting for a standby: false once the
  // primary may no longer acknowledge anything (its lease runs out). ShipAndWait then fails, now
  // and from then on. Null: always true.
  std::function<bool()> may_acknowledge;
  // How long a standby may take to acknowledge a batch before it is dropped (then a standby that
  // connects again catches up and the batch waits for it).
  std::chrono::milliseconds ack_timeout{2000};
};

// The primary's side: a center::StandbyLink that accepts its standby on a TCP port.
class Shipper final : public center::StandbyLink {
 public:
  // Listens at once. `durable_sequence`: the primary journal's durable end now.
  static Result<std::unique_ptr<Shipper>> Start(Env& env, ShipperOptions options,
                                                uint64_t durable_sequence);
  ~Shipper() override;

  // Blocks until a standby in sync holds the records durably (see center::StandbyLink). Fails
  // (unavailable) once Close was called or the lease ran out.
  Status ShipAndWait(uint64_t first_sequence, std::span<const std::string_view> records) override;
  void LocallyDurable(uint64_t sequence) override;

  // Fails every ShipAndWait from now on and drops the standby; idempotent.
  void Close();
  // host:port it listens on (the port chosen when 0 was asked).
  std::string address() const;
  bool in_sync() const;

  struct Impl;

 private:
  explicit Shipper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ReceiverOptions {
  std::string center;
  std::string primary_host;  // the primary's Shipper
  uint16_t primary_port = 0;
  uint64_t epoch = 0;  // the primary's epoch (the lease holder's); any other is refused
  std::chrono::milliseconds connect_timeout{1000};
  // The largest snapshot accepted to seed this standby (it is held in memory until installed); a
  // primary offering a larger one gets an error and the standby stays as it is.
  uint64_t snapshot_bytes_max = 4ULL << 30;
};

// What the caller must do to the standby before Run can follow the primary, when Run returns
// wrong_state because of it (at most one of the two is set).
struct Resync {
  // The standby's journal holds records after this sequence that its primary does not (a tail
  // nobody acknowledged): reopen the center with Options::keep_through = keep_through. UINT64_MAX:
  // nothing to drop.
  uint64_t keep_through = UINT64_MAX;
  // The primary no longer holds the records after the standby's last: it sent `snapshot`, its
  // state after record `snapshot_sequence` (0: none sent). Stop and close the standby center,
  // InstallSnapshot (below), reopen it and run again.
  uint64_t snapshot_sequence = 0;
  std::string snapshot;

  bool must_truncate() const { return keep_through != UINT64_MAX; }
  bool must_install() const { return snapshot_sequence != 0; }
};

// Installs the snapshot of `resync` (must_install()) into the journal of the CLOSED standby center
// whose data directory is `data_dir` (journal::InstallSnapshot on <data_dir>/journal): every
// record and snapshot it held goes, and reopened it holds exactly the primary's state after record
// resync.snapshot_sequence. Crash-safe (journal.h). Errors are the Env's.
Status InstallSnapshot(Env& env, const std::string& data_dir, const Resync& resync);

// The standby's side: follows a primary into a center opened with Options::standby.
class Receiver {
 public:
  Receiver(ReceiverOptions options, center::Center& standby);
  ~Receiver();

  // Connects, catches up, then appends each batch the primary ships (Center::AppendShipped) and
  // acknowledges it, until the link breaks, Close is called or something is wrong. Returns why it
  // ended. `*resync` is reset first; when the standby must change before it can follow (a tail to
  // drop, a snapshot to install: see Resync), Run returns wrong_state and fills it in. A snapshot
  // is taken only if it lies beyond the standby's last record and its checksum matches; one larger
  // than ReceiverOptions::snapshot_bytes_max is refused (invalid_argument).
  Status Run(Resync* resync);
  // From another thread: Run returns soon. Idempotent.
  void Close();
  // True once the primary said this standby holds all it does (it stays true after Run ends).
  bool in_sync() const { return in_sync_.load(std::memory_order_acquire); }

 private:
  const ReceiverOptions options_;
  center::Center& standby_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> closed_{false};
  std::atomic<bool> in_sync_{false};
};

}  // namespace surge::replica
