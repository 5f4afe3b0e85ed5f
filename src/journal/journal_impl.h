// The Journal implementation (private to the journal component). journal.cc holds the write
// path, snapshots and ReadFrom; recovery.cc holds Open's recovery.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "journal/journal.h"
#include "journal/segment_reader.h"

namespace surge::journal {

// "journal corruption in <path> at offset <offset>: <what>"
Status CorruptionAt(const std::string& path, uint64_t offset, std::string_view what);

struct IndexEntry {
  uint64_t sequence;
  uint64_t offset;
};

struct Segment {
  uint64_t first_sequence = 0;
  std::string path;
  // Known only for segments recovery scanned or this journal wrote (the last one among them):
  // the bytes of whole records, and the sequence of the last one (first_sequence - 1 if none).
  uint64_t bytes = 0;
  uint64_t last_sequence = 0;
  // Sparse, ascending (sequence, offset) pairs about kIndexSpacingBytes apart, so that ReadFrom
  // starts near its target instead of at the start of the segment.
  std::vector<IndexEntry> index;
};

// Writes `state` as the snapshot after record `sequence` to dir/`name`: to the temporary
// snapshot-<sequence>.snap.tmp, synced, renamed into place, the directory synced, so that a
// file under `name` is always complete.
Status WriteSnapshotFile(Env& env, const std::string& dir, uint64_t sequence,
                         std::string_view state, const std::string& name);

// Creates `dir` and its missing parents, each made durable in its own parent.
Status CreateDirDurably(Env& env, const std::string& dir);

// Completes an InstallSnapshot that a crash interrupted, if `dir` holds a pending one
// (snapshot-<sequence>.snap.install, durable and complete): removes every segment and snapshot,
// creates the empty segment after it and renames it into place. Ok and nothing done otherwise.
Status FinishPendingInstall(Env& env, const std::string& dir);

class JournalImpl final : public Journal {
 public:
  JournalImpl(Env& env, const Options& options);
  ~JournalImpl() override;

  // Recovers the directory (recovery.cc). Called once, by Open.
  Status Recover(const RecoveryHandler& handler, RecoveryStats* stats);

  uint64_t Append(std::string_view payload) override;
  Status Commit() override;
  uint64_t last_sequence() const override { return last_sequence_; }
  uint64_t durable_sequence() const override { return durable_sequence_; }
  bool SnapshotDue() const override;
  Status WriteSnapshot(uint64_t sequence, std::string_view snapshot) override;
  Status ReadFrom(uint64_t from,
                  const std::function<bool(uint64_t, std::string_view)>& visit) override;
  const Status& status() const override { return status_; }

 private:
  using Visit = std::function<bool(uint64_t, std::string_view)>;
  struct Replay;  // recovery's running state

  // Write path.
  Status WriteBatch();
  Status StartSegment();
  Status StoreSnapshot(uint64_t sequence, std::string_view snapshot);
  Status RemoveObsoleteFiles(uint64_t sequence);
  // Records `status` as the reason the journal is unusable, and returns it.
  Status Poison(Status status);
  // Adds (sequence, offset) to the segment's index if it lies far enough past the last entry.
  static void MaybeIndex(Segment& segment, uint64_t sequence, uint64_t offset);

  // ReadFrom. `*expected` is the sequence the next record must have; `*stop` turns true when the
  // visitor or the durable end says so.
  Status ReadSegmentFrom(size_t index, uint64_t from, const Visit& visit, uint64_t* expected,
                         bool* stop);

  // Recovery steps (recovery.cc).
  Status PrepareDirectory();
  Status ListDirectory();
  Status LoadNewestSnapshot(const RecoveryHandler& handler, Replay& replay);
  Status ReplaySegments(const RecoveryHandler& handler, Replay& replay);
  Status ReplaySegment(Segment& segment, bool last, const RecoveryHandler& handler, Replay& replay);
  // Removes the segments and snapshots wholly beyond options_.keep_through.
  Status DropBeyondKeep(RecoveryStats* stats);
  Status DropTornTail(Segment& segment, const SegmentReader::Step& step, uint64_t file_bytes,
                      Replay& replay);
  Status OpenTailForAppend();

  Env& env_;
  const Options options_;
  Status status_;

  uint64_t last_sequence_ = 0;
  uint64_t durable_sequence_ = 0;
  // Sequence of the newest snapshot stored (0 if none): SnapshotDue counts from it.
  uint64_t snapshot_sequence_ = 0;

  // Framed records appended since the last Commit.
  std::string buffer_;
  // Segment files on disk, by first sequence. The last one receives appends.
  std::vector<Segment> segments_;
  // Open on segments_.back() once a Commit (or recovery) needs it.
  std::unique_ptr<WritableFile> writer_;
  // Sequences of every snapshot file in the directory, and of those known to verify: the one
  // recovery loaded and those written since.
  std::set<uint64_t> snapshot_files_;
  std::set<uint64_t> verified_snapshots_;
};

}  // namespace surge::journal
