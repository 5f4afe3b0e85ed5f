// Journal::Open's recovery: newest verifying snapshot, then the records after it.
#include <algorithm>
#include <cinttypes>
#include <string>
#include <vector>

#include "common/log.h"
#include "journal/journal_impl.h"
#include "journal/record.h"
#include "journal/segment_reader.h"

namespace surge::journal {
namespace {

bool IsRootDirectory(const std::string& dir) { return dir.empty() || dir == "/" || dir == "."; }

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string WithoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

struct JournalImpl::Replay {
  RecoveryStats* stats = nullptr;
  // The snapshot loaded (0: none); records up to it are checked but not handed to on_record.
  uint64_t snapshot_sequence = 0;
  // The largest sequence any snapshot file is named after, damaged ones included: records up to
  // it were durable once, so the journal must reach at least that far.
  uint64_t snapshot_named_max = 0;
  // Why newer snapshots were passed over, for the error message if that leaves a gap.
  std::string skipped_snapshots;
  // The sequence the next record must carry.
  uint64_t expected = 1;
};

Status JournalImpl::Recover(const RecoveryHandler& handler, RecoveryStats* stats) {
  *stats = RecoveryStats{};
  Replay replay;
  replay.stats = stats;
  SURGE_RETURN_IF_ERROR(PrepareDirectory());
  SURGE_RETURN_IF_ERROR(ListDirectory());
  SURGE_RETURN_IF_ERROR(DropBeyondKeep(stats));
  SURGE_RETURN_IF_ERROR(LoadNewestSnapshot(handler, replay));
  SURGE_RETURN_IF_ERROR(ReplaySegments(handler, replay));
  SURGE_RETURN_IF_ERROR(OpenTailForAppend());
  stats->snapshot_sequence = replay.snapshot_sequence;
  stats->last_sequence = last_sequence_;
  SURGE_LOG_INFO("journal %s: recovered to sequence %" PRIu64 " (snapshot %" PRIu64 ", %" PRIu64
                 " records replayed, %" PRIu64 " torn bytes dropped)",
                 options_.dir.c_str(), last_sequence_, replay.snapshot_sequence,
                 stats->records_replayed, stats->torn_bytes_dropped);
  return Status::Ok();
}

Status CreateDirDurably(Env& env, const std::string& dir) {
  // Each directory this creates must also be made durable in its parent, or a crash could take
  // the whole journal with it.
  std::vector<std::string> missing;
  for (std::string path = WithoutTrailingSlashes(dir);
       !IsRootDirectory(path) && !env.FileExists(path); path = ParentDirectory(path)) {
    missing.push_back(path);
  }
  SURGE_RETURN_IF_ERROR(env.CreateDir(dir));
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    SURGE_RETURN_IF_ERROR(env.SyncDir(ParentDirectory(*it)));
  }
  return Status::Ok();
}

Status JournalImpl::PrepareDirectory() { return CreateDirDurably(env_, options_.dir); }

Status JournalImpl::ListDirectory() {
  SURGE_RETURN_IF_ERROR(FinishPendingInstall(env_, options_.dir));
  SURGE_ASSIGN_OR_RETURN(const std::vector<std::string> names, env_.ListDir(options_.dir));
  for (const std::string& name : names) {
    uint64_t sequence = 0;
    if (ParseSegmentName(name, &sequence)) {
      Segment segment;
      segment.first_sequence = sequence;
      segment.path = JoinPath(options_.dir, name);
      segments_.push_back(std::move(segment));
    } else if (ParseSnapshotName(name, &sequence)) {
      snapshot_files_.insert(sequence);
    } else if (name.ends_with(kTemporarySuffix) &&
               ParseSnapshotName(
                   std::string_view(name).substr(0, name.size() - kTemporarySuffix.size()),
                   &sequence)) {
      // A snapshot whose writing a crash interrupted: it was never renamed into place.
      SURGE_RETURN_IF_ERROR(env_.RemoveFile(JoinPath(options_.dir, name)));
    } else {
      SURGE_LOG_DEBUG("journal %s: ignoring %s", options_.dir.c_str(), name.c_str());
    }
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.first_sequence < b.first_sequence; });
  return Status::Ok();
}

Status JournalImpl::DropBeyondKeep(RecoveryStats* stats) {
  const uint64_t keep = options_.keep_through;
  bool removed = false;
  while (!snapshot_files_.empty() && *snapshot_files_.rbegin() > keep) {
    SURGE_RETURN_IF_ERROR(
        env_.RemoveFile(JoinPath(options_.dir, SnapshotName(*snapshot_files_.rbegin()))));
    snapshot_files_.erase(std::prev(snapshot_files_.end()));
    removed = true;
  }
  while (!segments_.empty() && segments_.back().first_sequence > keep) {
    SURGE_LOG_WARNING("journal %s: removing segment %s, beyond sequence %" PRIu64 " kept",
                      options_.dir.c_str(), segments_.back().path.c_str(), keep);
    SURGE_ASSIGN_OR_RETURN(const uint64_t bytes, env_.FileSize(segments_.back().path));
    stats->bytes_beyond_keep_dropped += bytes;
    SURGE_RETURN_IF_ERROR(env_.RemoveFile(segments_.back().path));
    segments_.pop_back();
    removed = true;
  }
  if (removed) SURGE_RETURN_IF_ERROR(env_.SyncDir(options_.dir));
  return Status::Ok();
}

Status JournalImpl::LoadNewestSnapshot(const RecoveryHandler& handler, Replay& replay) {
  if (snapshot_files_.empty()) return Status::Ok();
  replay.snapshot_named_max = *snapshot_files_.rbegin();
  for (auto it = snapshot_files_.rbegin(); it != snapshot_files_.rend(); ++it) {
    const std::string path = JoinPath(options_.dir, SnapshotName(*it));
    SURGE_ASSIGN_OR_RETURN(const std::string file, env_.ReadFile(path));
    const uint64_t sequence = *it;
    std::string_view payload;
    std::string reason;
    if (!DecodeNamedSnapshot(file, sequence, &payload, &reason)) {
      std::string note = "snapshot " + path;
      note += " is damaged (";
      note += reason;
      note += ")";
      replay.skipped_snapshots += "; " + note;
      const std::string fallback = std::next(it) != snapshot_files_.rend()
                                       ? "the previous snapshot"
                                       : "replaying the segments without a snapshot";
      SURGE_LOG_WARNING("journal: %s; falling back to %s", note.c_str(), fallback.c_str());
      continue;
    }
    if (handler.on_snapshot) SURGE_RETURN_IF_ERROR(handler.on_snapshot(sequence, payload));
    replay.snapshot_sequence = sequence;
    snapshot_sequence_ = sequence;
    verified_snapshots_.insert(sequence);
    return Status::Ok();
  }
  return Status::Ok();
}

Status JournalImpl::ReplaySegments(const RecoveryHandler& handler, Replay& replay) {
  const uint64_t from = replay.snapshot_sequence + 1;
  uint64_t end = 0;  // the last sequence the segments hold
  if (!segments_.empty()) {
    // Start at the last segment that begins at or before `from`: older ones hold only records the
    // snapshot covers.
    const auto after = std::upper_bound(
        segments_.begin(), segments_.end(), from,
        [](uint64_t value, const Segment& segment) { return value < segment.first_sequence; });
    if (after == segments_.begin()) {
      return CorruptionAt(segments_.front().path, 0,
                          "the oldest segment starts at sequence " +
                              std::to_string(segments_.front().first_sequence) +
                              " but recovery needs records from " + std::to_string(from) +
                              replay.skipped_snapshots);
    }
    const auto start = static_cast<size_t>(after - segments_.begin()) - 1;
    replay.expected = segments_[start].first_sequence;
    for (size_t i = start; i < segments_.size(); ++i) {
      Segment& segment = segments_[i];
      if (segment.first_sequence != replay.expected) {
        return CorruptionAt(segment.path, 0,
                            "segment starts at sequence " + std::to_string(segment.first_sequence) +
                                " but the previous one ends at " +
                                std::to_string(replay.expected - 1));
      }
      SURGE_RETURN_IF_ERROR(ReplaySegment(segment, i + 1 == segments_.size(), handler, replay));
    }
    end = replay.expected - 1;
  }
  if (end < replay.snapshot_named_max) {
    return Status(Code::kCorruption, "journal " + options_.dir + " holds records up to sequence " +
                                         std::to_string(end) + " but a snapshot was taken at " +
                                         std::to_string(replay.snapshot_named_max) +
                                         ": records are missing" + replay.skipped_snapshots);
  }
  last_sequence_ = std::max(end, replay.snapshot_sequence);
  return Status::Ok();
}

Status JournalImpl::ReplaySegment(Segment& segment, bool last, const RecoveryHandler& handler,
                                  Replay& replay) {
  SURGE_ASSIGN_OR_RETURN(const uint64_t file_bytes, env_.FileSize(segment.path));
  SegmentReader reader(env_, segment.path, 0, file_bytes, options_.record_bytes_max);
  SegmentReader::Step step;
  const bool has_handler = static_cast<bool>(handler.on_record);
  for (;;) {
    SURGE_RETURN_IF_ERROR(reader.Next(&step));
    if (step.outcome == SegmentReader::Outcome::kEnd) break;
    if (step.outcome == SegmentReader::Outcome::kDamaged) {
      if (!last) {
        return CorruptionAt(
            segment.path, step.offset,
            std::string(FrameStatusText(step.damage)) + ", in a segment that is not the last one");
      }
      SURGE_RETURN_IF_ERROR(DropTornTail(segment, step, file_bytes, replay));
      break;
    }
    const uint64_t sequence = step.frame.sequence;
    if (sequence != replay.expected) {
      return CorruptionAt(segment.path, step.offset,
                          "record has sequence " + std::to_string(sequence) + " where " +
                              std::to_string(replay.expected) + " was expected");
    }
    if (sequence > options_.keep_through) {
      // Only the last segment can reach beyond it (DropBeyondKeep removed every later one).
      SURGE_ASSERT(last);
      SURGE_RETURN_IF_ERROR(env_.TruncateFile(segment.path, step.offset));
      replay.stats->bytes_beyond_keep_dropped += file_bytes - step.offset;
      SURGE_LOG_WARNING("journal %s: dropped the records after sequence %" PRIu64
                        " (from offset %" PRIu64 " of %s): kept only what the primary holds",
                        options_.dir.c_str(), options_.keep_through, step.offset,
                        segment.path.c_str());
      break;
    }
    MaybeIndex(segment, sequence, step.offset);
    if (sequence > replay.snapshot_sequence) {
      if (has_handler) SURGE_RETURN_IF_ERROR(handler.on_record(sequence, step.frame.payload));
      ++replay.stats->records_replayed;
    }
    ++replay.expected;
  }
  segment.bytes = step.offset;
  segment.last_sequence = replay.expected - 1;
  return Status::Ok();
}

Status JournalImpl::DropTornTail(Segment& segment, const SegmentReader::Step& step,
                                 uint64_t file_bytes, Replay& replay) {
  // A crash mid-write leaves a prefix of the last batch: a partial frame at the very end. Damage
  // followed by intact records is something else, and dropping those records would lose data
  // that was acknowledged.
  SURGE_ASSIGN_OR_RETURN(const std::string tail,
                         env_.ReadAt(segment.path, step.offset, file_bytes - step.offset));
  if (ValidRecordFollows(tail, replay.expected, options_.record_bytes_max)) {
    return CorruptionAt(
        segment.path, step.offset,
        std::string(FrameStatusText(step.damage)) + ", and valid records follow it");
  }
  SURGE_RETURN_IF_ERROR(env_.TruncateFile(segment.path, step.offset));
  const uint64_t dropped = file_bytes - step.offset;
  replay.stats->torn_bytes_dropped += dropped;
  SURGE_LOG_WARNING(
      "journal: dropped a torn tail of %" PRIu64 " bytes at offset %" PRIu64 " of %s (%s)", dropped,
      step.offset, segment.path.c_str(), std::string(FrameStatusText(step.damage)).c_str());
  return Status::Ok();
}

Status JournalImpl::OpenTailForAppend() {
  durable_sequence_ = last_sequence_;
  if (segments_.empty()) return Status::Ok();
  SURGE_ASSIGN_OR_RETURN(writer_, env_.OpenWritable(segments_.back().path, /*truncate=*/false));
  // What recovery read may exist only in the page cache (a killed process loses no written data,
  // but a power cut would): make it durable before anything built on it is shipped or answered.
  SURGE_RETURN_IF_ERROR(writer_->Sync());
  return Status::Ok();
}

}  // namespace surge::journal
