// journal: a segmented, checksummed, append-only log of opaque records with snapshots.
//
// On disk, in one directory:
//   segment-<first sequence, 20 digits>.log   records, back to back
//   snapshot-<sequence, 20 digits>.snap       the state after applying every record <= sequence
// A record is framed as [crc32c u32][payload length u32][sequence u64][payload]; the checksum
// covers length, sequence and payload. Sequences start at 1 and have no gaps. A snapshot file is
// [magic "SURGSNAP"][version u32][crc32c u32][sequence u64][length u64][state]; it is written to a
// .tmp file, synced and renamed into place, so a snapshot under its real name is always complete.
// A snapshot-<sequence>.snap.install file is an InstallSnapshot that a crash interrupted: Open
// completes it first (see InstallSnapshot).
// Integers are little-endian.
//
// Durability: Append only buffers. Commit writes everything appended since the last Commit and
// makes it durable with one fdatasync (group commit: the caller decides how many records form a
// batch, and pays one sync for all of them).
//
// Recovery (Open): loads the newest snapshot that verifies (a damaged one is logged and passed
// over for the previous one), then replays every record after it, in order, checking that
// sequences follow on across files. A torn tail (the last record of the last segment incomplete or
// failing its checksum, with nothing after it) is dropped and the file truncated: it was never
// acknowledged. Damage anywhere before the tail is reported as corruption naming the file and the
// byte offset, and Open fails: the center refuses to start rather than skip acknowledged data.
// Whole records of a batch whose Commit never returned may survive a crash and be replayed: they
// were never acknowledged, so their commands must simply apply like any other (idempotency by
// request id covers a client's retry). Open syncs the last segment before returning, so everything
// it replayed is durable.
//
// All file access goes through the Env, so tests can tear writes and crash at any point.
// Thread safety: none; one thread owns a Journal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace surge::journal {

struct Options {
  std::string dir;
  // A new segment starts once the current one exceeds this size.
  uint64_t segment_bytes_max = 64ULL << 20;
  // SnapshotDue() turns true once this many records were appended since the last snapshot.
  uint64_t snapshot_every_records = 1'000'000;
  // Largest record payload accepted (Append asserts; recovery reports corruption beyond it).
  uint32_t record_bytes_max = 1U << 20;
  // Recovery keeps records up to this sequence and drops the rest for good: the segment holding
  // the first one dropped is truncated there, later segments and snapshots beyond it are removed.
  // For a hot standby whose tail its new primary never had: those records were never
  // acknowledged (a primary answers only what both hold), and the primary's own records take
  // their sequences. Default: keep everything.
  uint64_t keep_through = UINT64_MAX;
};

struct RecoveryHandler {
  // Called at most once, first, with the newest valid snapshot and the sequence it covers.
  std::function<Status(uint64_t sequence, std::string_view snapshot)> on_snapshot;
  // Called for every record after the snapshot, in sequence order.
  std::function<Status(uint64_t sequence, std::string_view payload)> on_record;
};

struct RecoveryStats {
  uint64_t snapshot_sequence = 0;  // 0 if no snapshot was loaded
  uint64_t records_replayed = 0;
  uint64_t torn_bytes_dropped = 0;
  uint64_t bytes_beyond_keep_dropped = 0;  // records after Options::keep_through
  uint64_t last_sequence = 0;
};

class Journal {
 public:
  // Creates the directory if missing, recovers (see above) and opens for appending after the last
  // valid record. An error from a handler aborts recovery and is returned.
  static Result<std::unique_ptr<Journal>> Open(Env& env, const Options& options,
                                               const RecoveryHandler& handler,
                                               RecoveryStats* stats = nullptr);
  virtual ~Journal() = default;

  // Buffers one record and returns its sequence (last_sequence() + 1). The payload must be at most
  // options.record_bytes_max bytes (asserted). On an unusable journal (see Commit) the record is
  // dropped; the next Commit reports the error.
  virtual uint64_t Append(std::string_view payload) = 0;
  // Writes and fdatasyncs everything appended since the last Commit (nothing to do: ok, no sync).
  // After an I/O error the journal is unusable (every later call fails): the caller must not
  // acknowledge anything and should stop.
  virtual Status Commit() = 0;

  virtual uint64_t last_sequence() const = 0;     // appended, maybe not durable
  virtual uint64_t durable_sequence() const = 0;  // made durable by Commit

  virtual bool SnapshotDue() const = 0;
  // Durably stores `snapshot` as the state after record `sequence` (<= durable_sequence()), then
  // removes snapshots and segments no longer needed to recover (keeping the previous snapshot).
  // invalid_argument (and the journal stays usable) if `sequence` is 0, beyond
  // durable_sequence(), or older than the newest snapshot already stored.
  virtual Status WriteSnapshot(uint64_t sequence, std::string_view snapshot) = 0;

  // Reads durable records with sequence >= `from`, in order, until `visit` returns false or the
  // durable end is reached (used to ship the journal to standbys and the bus). not_found if
  // `from` is older than the oldest segment kept; corruption (naming file and offset) if a
  // record read fails its checksum or breaks the sequence. The payload view is valid only during
  // the call to `visit`; `visit` must not call the journal.
  virtual Status ReadFrom(uint64_t from,
                          const std::function<bool(uint64_t, std::string_view)>& visit) = 0;

  // Ok while the journal is usable; otherwise the I/O error that made it unusable.
  virtual const Status& status() const = 0;
};

// Reads, from any thread or process other than the Journal's owner, the records with sequence
// in [from, through] of the journal in `dir`, in order, until `visit` returns false. `through`
// must be durable (the owner's durable_sequence() or earlier), so that every record up to it is
// whole on disk while the owner keeps appending after it. not_found if `from` is older than the
// oldest segment kept, or a segment was removed while reading (a snapshot made it unneeded), or
// the journal ends before `through`; corruption (naming file and offset) if a record in range
// fails its checksum or breaks the sequence. Used by the data bus to serve what a center
// published before the subscriber's live window.
Status ReadDurable(Env& env, const std::string& dir, uint64_t from, uint64_t through,
                   uint32_t record_bytes_max,
                   const std::function<bool(uint64_t sequence, std::string_view payload)>& visit);

// A snapshot as stored in a journal directory: the state after applying every record up to
// `sequence`.
struct StoredSnapshot {
  uint64_t sequence = 0;
  std::string state;
};

// Reads, from any thread or process other than the Journal's owner, the newest snapshot of the
// journal in `dir` that verifies as recovery checks it (magic, version, length, checksum, and the
// sequence its file name gives). A damaged snapshot is passed over for the previous one, and so is
// one removed while reading (a newer snapshot made it unneeded: the owner keeps the two newest, so
// a read racing one WriteSnapshot still finds one). not_found if no snapshot verifies; io_error if
// the directory cannot be listed. Used to seed a hot standby that needs records older than the
// oldest segment kept.
Result<StoredSnapshot> ReadNewestSnapshot(Env& env, const std::string& dir);

// Makes the journal in `dir`, which must be CLOSED (no Journal open on it in any process), hold
// `state` as its snapshot after record `sequence` (> 0) and nothing else: every segment and
// snapshot there goes, the snapshot is written (to a temporary file, synced, renamed, directory
// synced) with an empty segment starting at sequence + 1. Open then recovers exactly `state`
// (on_snapshot with `sequence`, no records) and the next record appended is sequence + 1.
// Creates `dir` if missing. Crash-safe: the snapshot is first made durable under a pending name
// ("snapshot-<sequence>.snap.install"); once it is, the install is decided, and if a crash stops
// it halfway, Open finishes it before recovering. A crash before that point leaves the old journal
// as it was. Errors are the Env's (io_error), or invalid_argument for sequence 0.
Status InstallSnapshot(Env& env, const std::string& dir, uint64_t sequence, std::string_view state);

}  // namespace surge::journal
