#include "journal/journal.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "journal/journal_impl.h"
#include "journal/record.h"

namespace surge::journal {
namespace {

// ReadFrom scans at most about this many bytes before reaching the record it starts from.
constexpr uint64_t kIndexSpacingBytes = 64U << 10;

Status ValidateOptions(const Options& options) {
  if (options.dir.empty()) return Status(Code::kInvalidArgument, "journal dir is empty");
  if (options.segment_bytes_max == 0) {
    return Status(Code::kInvalidArgument, "journal segment_bytes_max must be positive");
  }
  if (options.snapshot_every_records == 0) {
    return Status(Code::kInvalidArgument, "journal snapshot_every_records must be positive");
  }
  if (options.record_bytes_max == 0 || options.record_bytes_max > kRecordBytesLimit) {
    return Status(Code::kInvalidArgument, "journal record_bytes_max must be between 1 and " +
                                              std::to_string(kRecordBytesLimit));
  }
  return Status::Ok();
}

}  // namespace

Status CorruptionAt(const std::string& path, uint64_t offset, std::string_view what) {
  std::string message = "journal corruption in " + path + " at offset " + std::to_string(offset);
  message += ": ";
  message += what;
  return Status(Code::kCorruption, std::move(message));
}

Result<std::unique_ptr<Journal>> Journal::Open(Env& env, const Options& options,
                                               const RecoveryHandler& handler,
                                               RecoveryStats* stats) {
  SURGE_RETURN_IF_ERROR(ValidateOptions(options));
  auto journal = std::make_unique<JournalImpl>(env, options);
  RecoveryStats unused;
  SURGE_RETURN_IF_ERROR(journal->Recover(handler, stats != nullptr ? stats : &unused));
  return std::unique_ptr<Journal>(std::move(journal));
}

JournalImpl::JournalImpl(Env& env, const Options& options) : env_(env), options_(options) {}

JournalImpl::~JournalImpl() {
  // Nothing buffered is durable anyway; closing only releases the file.
  if (writer_ != nullptr) (void)writer_->Close();
}

Status JournalImpl::Poison(Status status) {
  SURGE_ASSERT(!status.ok());
  if (status_.ok()) {
    status_ = status;
    buffer_.clear();  // nothing more will be written
    SURGE_LOG_ERROR("journal %s is unusable: %s", options_.dir.c_str(), status.ToString().c_str());
  }
  return status;
}

void JournalImpl::MaybeIndex(Segment& segment, uint64_t sequence, uint64_t offset) {
  const bool due = segment.index.empty()
                       ? offset == 0
                       : offset >= segment.index.back().offset + kIndexSpacingBytes;
  if (due) segment.index.push_back(IndexEntry{sequence, offset});
}

uint64_t JournalImpl::Append(std::string_view payload) {
  SURGE_ASSERT_MSG(payload.size() <= options_.record_bytes_max,
                   "journal record larger than options.record_bytes_max");
  ++last_sequence_;
  if (status_.ok()) EncodeRecord(last_sequence_, payload, &buffer_);
  return last_sequence_;
}

Status JournalImpl::Commit() {
  if (!status_.ok()) return status_;
  if (buffer_.empty()) return Status::Ok();
  const Status status = WriteBatch();
  if (!status.ok()) return Poison(status);
  return Status::Ok();
}

Status JournalImpl::WriteBatch() {
  if (writer_ == nullptr || segments_.back().bytes > options_.segment_bytes_max) {
    SURGE_RETURN_IF_ERROR(StartSegment());
  }
  Segment& segment = segments_.back();
  SURGE_ASSERT(segment.last_sequence == durable_sequence_);
  SURGE_RETURN_IF_ERROR(writer_->Append(buffer_));
  SURGE_RETURN_IF_ERROR(writer_->Sync());
  MaybeIndex(segment, durable_sequence_ + 1, segment.bytes);
  segment.bytes += buffer_.size();
  segment.last_sequence = last_sequence_;
  durable_sequence_ = last_sequence_;
  buffer_.clear();
  return Status::Ok();
}

Status JournalImpl::StartSegment() {
  if (writer_ != nullptr) {
    const Status closed = writer_->Close();
    writer_.reset();
    SURGE_RETURN_IF_ERROR(closed);
  }
  Segment segment;
  segment.first_sequence = durable_sequence_ + 1;
  segment.path = JoinPath(options_.dir, SegmentName(segment.first_sequence));
  segment.last_sequence = durable_sequence_;
  SURGE_ASSIGN_OR_RETURN(writer_, env_.OpenWritable(segment.path, /*truncate=*/true));
  // The new file's directory entry must be durable before any record in it is acknowledged.
  SURGE_RETURN_IF_ERROR(env_.SyncDir(options_.dir));
  segments_.push_back(std::move(segment));
  return Status::Ok();
}

bool JournalImpl::SnapshotDue() const {
  return status_.ok() && last_sequence_ - snapshot_sequence_ >= options_.snapshot_every_records;
}

Status JournalImpl::WriteSnapshot(uint64_t sequence, std::string_view snapshot) {
  if (!status_.ok()) return status_;
  if (sequence == 0 || sequence > durable_sequence_) {
    return Status(Code::kInvalidArgument, "snapshot sequence " + std::to_string(sequence) +
                                              " is not between 1 and the durable sequence " +
                                              std::to_string(durable_sequence_));
  }
  if (!verified_snapshots_.empty() && sequence < *verified_snapshots_.rbegin()) {
    return Status(Code::kInvalidArgument, "snapshot sequence " + std::to_string(sequence) +
                                              " is older than the snapshot at " +
                                              std::to_string(*verified_snapshots_.rbegin()));
  }
  Status status = StoreSnapshot(sequence, snapshot);
  if (status.ok()) status = RemoveObsoleteFiles(sequence);
  if (!status.ok()) return Poison(status);
  snapshot_sequence_ = sequence;
  return Status::Ok();
}

Status WriteSnapshotFile(Env& env, const std::string& dir, uint64_t sequence,
                         std::string_view state, const std::string& name) {
  // Write aside, sync, then rename into place: a crash leaves either the old set of files or the
  // new one complete, never a half-written snapshot under a real name.
  const std::string temporary =
      JoinPath(dir, SnapshotName(sequence) + std::string(kTemporarySuffix));
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                         env.OpenWritable(temporary, /*truncate=*/true));
  SURGE_RETURN_IF_ERROR(file->Append(EncodeSnapshotHeader(sequence, state)));
  SURGE_RETURN_IF_ERROR(file->Append(state));
  SURGE_RETURN_IF_ERROR(file->Sync());
  SURGE_RETURN_IF_ERROR(file->Close());
  SURGE_RETURN_IF_ERROR(env.RenameFile(temporary, JoinPath(dir, name)));
  return env.SyncDir(dir);
}

Status JournalImpl::StoreSnapshot(uint64_t sequence, std::string_view snapshot) {
  SURGE_RETURN_IF_ERROR(
      WriteSnapshotFile(env_, options_.dir, sequence, snapshot, SnapshotName(sequence)));
  snapshot_files_.insert(sequence);
  verified_snapshots_.insert(sequence);
  return Status::Ok();
}

Status JournalImpl::RemoveObsoleteFiles(uint64_t sequence) {
  // Keep the new snapshot and the newest older one known to verify, so that a damaged newest
  // snapshot can still fall back; keep every segment that the older one does not wholly cover.
  uint64_t previous = 0;
  for (const uint64_t verified : verified_snapshots_) {
    if (verified < sequence) previous = verified;
  }
  bool removed = false;
  for (auto it = snapshot_files_.begin(); it != snapshot_files_.end();) {
    if (*it == sequence || *it == previous) {
      ++it;
      continue;
    }
    SURGE_RETURN_IF_ERROR(env_.RemoveFile(JoinPath(options_.dir, SnapshotName(*it))));
    verified_snapshots_.erase(*it);
    it = snapshot_files_.erase(it);
    removed = true;
  }
  size_t covered = 0;  // segments_[0, covered) hold only records <= previous
  while (previous > 0 && covered + 1 < segments_.size() &&
         segments_[covered + 1].first_sequence <= previous + 1) {
    ++covered;
  }
  for (size_t i = 0; i < covered; ++i) {
    SURGE_RETURN_IF_ERROR(env_.RemoveFile(segments_[i].path));
    removed = true;
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(covered));
  if (removed) SURGE_RETURN_IF_ERROR(env_.SyncDir(options_.dir));
  return Status::Ok();
}

Status JournalImpl::ReadFrom(uint64_t from, const Visit& visit) {
  if (!status_.ok()) return status_;
  from = std::max<uint64_t>(from, 1);
  if (from > durable_sequence_) return Status::Ok();
  if (segments_.empty() || from < segments_.front().first_sequence) {
    return Status(Code::kNotFound, "journal record " + std::to_string(from) +
                                       " is older than the oldest segment kept");
  }
  const auto after = std::upper_bound(
      segments_.begin(), segments_.end(), from,
      [](uint64_t value, const Segment& segment) { return value < segment.first_sequence; });
  const auto first_index = static_cast<size_t>(after - segments_.begin()) - 1;
  uint64_t expected = 0;
  bool stop = false;
  for (size_t i = first_index; i < segments_.size() && !stop; ++i) {
    if (i > first_index && segments_[i].first_sequence != expected) {
      return CorruptionAt(segments_[i].path, 0,
                          "segment starts at sequence " +
                              std::to_string(segments_[i].first_sequence) + " but " +
                              std::to_string(expected) + " was expected");
    }
    Status status = ReadSegmentFrom(i, from, visit, &expected, &stop);
    if (!status.ok()) return status.code() == Code::kIoError ? Poison(status) : status;
  }
  return Status::Ok();
}

Status JournalImpl::ReadSegmentFrom(size_t index, uint64_t from, const Visit& visit,
                                    uint64_t* expected, bool* stop) {
  Segment& segment = segments_[index];
  const bool last = index + 1 == segments_.size();
  uint64_t end = segment.bytes;
  if (!last) {
    SURGE_ASSIGN_OR_RETURN(end, env_.FileSize(segment.path));
  }
  IndexEntry start{segment.first_sequence, 0};
  for (const IndexEntry& entry : segment.index) {
    if (entry.sequence > from) break;
    start = entry;
  }
  *expected = start.sequence;
  SegmentReader reader(env_, segment.path, start.offset, end, options_.record_bytes_max);
  SegmentReader::Step step;
  for (;;) {
    SURGE_RETURN_IF_ERROR(reader.Next(&step));
    if (step.outcome == SegmentReader::Outcome::kEnd) break;
    if (step.outcome == SegmentReader::Outcome::kDamaged) {
      return CorruptionAt(segment.path, step.offset, FrameStatusText(step.damage));
    }
    if (step.frame.sequence != *expected) {
      return CorruptionAt(segment.path, step.offset,
                          "record has sequence " + std::to_string(step.frame.sequence) + " where " +
                              std::to_string(*expected) + " was expected");
    }
    MaybeIndex(segment, step.frame.sequence, step.offset);
    ++*expected;
    if (step.frame.sequence >= from && !visit(step.frame.sequence, step.frame.payload)) {
      *stop = true;
      return Status::Ok();
    }
    if (step.frame.sequence >= durable_sequence_) break;
  }
  *stop = last || *expected > durable_sequence_;
  return Status::Ok();
}

}  // namespace surge::journal
