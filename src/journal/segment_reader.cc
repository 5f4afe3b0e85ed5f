#include "journal/segment_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace surge::journal {
namespace {

// Large enough that a replay is a handful of reads per segment, small enough to stay cache- and
// memory-friendly.
constexpr size_t kChunkBytes = 8U << 20;

}  // namespace

SegmentReader::SegmentReader(Env& env, std::string path, uint64_t offset, uint64_t end,
                             uint32_t payload_bytes_max)
    : env_(env),
      path_(std::move(path)),
      end_(end),
      payload_bytes_max_(payload_bytes_max),
      buffer_offset_(offset) {
  SURGE_ASSERT(offset <= end);
}

Status SegmentReader::Next(Step* step) {
  for (;;) {
    const uint64_t offset = buffer_offset_ + position_;
    step->offset = offset;
    if (offset >= end_) {
      step->outcome = Outcome::kEnd;
      return Status::Ok();
    }
    const std::string_view rest(buffer_.data() + position_, buffer_.size() - position_);
    size_t bytes_needed = 0;
    const FrameStatus status = DecodeRecord(rest, payload_bytes_max_, &step->frame, &bytes_needed);
    if (status == FrameStatus::kOk) {
      position_ += step->frame.frame_bytes;
      step->outcome = Outcome::kRecord;
      return Status::Ok();
    }
    const bool file_has_more = buffer_offset_ + buffer_.size() < end_;
    if (status == FrameStatus::kTruncated && file_has_more) {
      SURGE_RETURN_IF_ERROR(Refill(bytes_needed));
      continue;
    }
    step->outcome = Outcome::kDamaged;
    step->damage = status;
    return Status::Ok();
  }
}

Status SegmentReader::Refill(size_t bytes_needed) {
  buffer_.erase(0, position_);
  buffer_offset_ += position_;
  position_ = 0;
  const uint64_t loaded_end = buffer_offset_ + buffer_.size();
  const uint64_t missing = bytes_needed > buffer_.size() ? bytes_needed - buffer_.size() : 0;
  const uint64_t want =
      std::min<uint64_t>(std::max<uint64_t>(kChunkBytes, missing), end_ - loaded_end);
  SURGE_ASSIGN_OR_RETURN(std::string chunk, env_.ReadAt(path_, loaded_end, want));
  // A file shorter than expected ends where its data ends.
  if (chunk.size() < want) end_ = loaded_end + chunk.size();
  if (buffer_.empty()) {
    buffer_ = std::move(chunk);
  } else {
    buffer_.append(chunk);
  }
  return Status::Ok();
}

bool ValidRecordFollows(std::string_view bytes, uint64_t expected_sequence,
                        uint32_t payload_bytes_max) {
  // Any record written after the damaged one has a sequence a little above the expected one; this
  // cheap filter keeps the checksum work for the rare plausible header.
  const uint64_t sequence_max = expected_sequence + bytes.size() / kRecordHeaderBytes + 1;
  for (size_t start = 1; start + kRecordHeaderBytes <= bytes.size(); ++start) {
    RecordHeader header;
    std::memcpy(&header, bytes.data() + start, sizeof(header));
    if (header.sequence < expected_sequence || header.sequence > sequence_max) continue;
    Frame frame;
    if (DecodeRecord(bytes.substr(start), payload_bytes_max, &frame) == FrameStatus::kOk) {
      return true;
    }
  }
  return false;
}

}  // namespace surge::journal
