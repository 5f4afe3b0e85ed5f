#include "journal/record.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/assert.h"
#include "common/coding.h"

namespace surge::journal {

void EncodeRecord(uint64_t sequence, std::string_view payload, std::string* out) {
  SURGE_ASSERT(payload.size() <= kRecordBytesLimit);
  RecordHeader header{};
  header.length = static_cast<uint32_t>(payload.size());
  header.sequence = sequence;
  char bytes[kRecordHeaderBytes];
  std::memcpy(bytes, &header, sizeof(header));
  const std::string_view covered(bytes + kRecordChecksummedFrom,
                                 kRecordHeaderBytes - kRecordChecksummedFrom);
  header.crc32c = Crc32c(payload, Crc32c(covered));
  std::memcpy(bytes, &header.crc32c, sizeof(header.crc32c));
  out->append(bytes, kRecordHeaderBytes);
  out->append(payload.data(), payload.size());
}

FrameStatus DecodeRecord(std::string_view bytes, uint32_t payload_bytes_max, Frame* frame,
                         size_t* bytes_needed) {
  if (bytes_needed != nullptr) *bytes_needed = kRecordHeaderBytes;
  if (bytes.size() < kRecordHeaderBytes) return FrameStatus::kTruncated;
  RecordHeader header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (header.length > payload_bytes_max) return FrameStatus::kTooLong;
  const size_t frame_bytes = kRecordHeaderBytes + header.length;
  if (bytes_needed != nullptr) *bytes_needed = frame_bytes;
  if (bytes.size() < frame_bytes) return FrameStatus::kTruncated;
  const uint32_t crc =
      Crc32c(bytes.substr(kRecordChecksummedFrom, frame_bytes - kRecordChecksummedFrom));
  if (crc != header.crc32c) return FrameStatus::kBadChecksum;
  frame->sequence = header.sequence;
  frame->payload = bytes.substr(kRecordHeaderBytes, header.length);
  frame->frame_bytes = frame_bytes;
  return FrameStatus::kOk;
}

std::string_view FrameStatusText(FrameStatus status) {
  switch (status) {
    case FrameStatus::kOk:
      return "ok";
    case FrameStatus::kTruncated:
      return "record cut short by the end of the file";
    case FrameStatus::kTooLong:
      return "record length field beyond the largest record allowed";
    case FrameStatus::kBadChecksum:
      return "record checksum mismatch";
  }
  return "unknown frame status";
}

namespace {

constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::string_view kSnapshotPrefix = "snapshot-";
constexpr std::string_view kSnapshotSuffix = ".snap";
constexpr size_t kSequenceDigits = 20;

std::string NameFor(std::string_view prefix, uint64_t sequence, std::string_view suffix) {
  char digits[kSequenceDigits + 1];
  std::snprintf(digits, sizeof(digits), "%020" PRIu64, sequence);
  std::string name(prefix);
  name += digits;
  name += suffix;
  return name;
}

bool ParseName(std::string_view name, std::string_view prefix, std::string_view suffix,
               uint64_t* sequence) {
  if (name.size() != prefix.size() + kSequenceDigits + suffix.size()) return false;
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return false;
  const std::string_view digits = name.substr(prefix.size(), kSequenceDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), *sequence);
  return error == std::errc() && end == digits.data() + digits.size() && *sequence > 0;
}

uint32_t SnapshotChecksum(SnapshotHeader header, std::string_view payload) {
  header.crc32c = 0;
  char bytes[kSnapshotHeaderBytes];
  std::memcpy(bytes, &header, sizeof(header));
  return Crc32c(payload, Crc32c(std::string_view(bytes, sizeof(bytes))));
}

}  // namespace

std::string SegmentName(uint64_t first_sequence) {
  return NameFor(kSegmentPrefix, first_sequence, kSegmentSuffix);
}

std::string SnapshotName(uint64_t sequence) {
  return NameFor(kSnapshotPrefix, sequence, kSnapshotSuffix);
}

bool ParseSegmentName(std::string_view name, uint64_t* first_sequence) {
  return ParseName(name, kSegmentPrefix, kSegmentSuffix, first_sequence);
}

bool ParseSnapshotName(std::string_view name, uint64_t* sequence) {
  return ParseName(name, kSnapshotPrefix, kSnapshotSuffix, sequence);
}

std::string EncodeSnapshotHeader(uint64_t sequence, std::string_view payload) {
  SnapshotHeader header{};
  header.magic = kSnapshotMagic;
  header.version = kSnapshotVersion;
  header.sequence = sequence;
  header.length = payload.size();
  header.crc32c = SnapshotChecksum(header, payload);
  return std::string(reinterpret_cast<const char*>(&header), sizeof(header));
}

bool DecodeSnapshot(std::string_view file, uint64_t* sequence, std::string_view* payload,
                    std::string* reason) {
  if (file.size() < kSnapshotHeaderBytes) {
    *reason = "shorter than a snapshot header";
    return false;
  }
  SnapshotHeader header;
  std::memcpy(&header, file.data(), sizeof(header));
  if (header.magic != kSnapshotMagic) {
    *reason = "bad magic number";
    return false;
  }
  if (header.version != kSnapshotVersion) {
    *reason = "unknown version " + std::to_string(header.version);
    return false;
  }
  if (header.length != file.size() - kSnapshotHeaderBytes) {
    *reason = "length field " + std::to_string(header.length) + " does not match the file size " +
              std::to_string(file.size());
    return false;
  }
  const std::string_view body = file.substr(kSnapshotHeaderBytes);
  if (SnapshotChecksum(header, body) != header.crc32c) {
    *reason = "checksum mismatch";
    return false;
  }
  *sequence = header.sequence;
  *payload = body;
  return true;
}

bool DecodeNamedSnapshot(std::string_view file, uint64_t named, std::string_view* payload,
                         std::string* reason) {
  uint64_t sequence = 0;
  if (!DecodeSnapshot(file, &sequence, payload, reason)) return false;
  if (sequence != named) {
    *reason = "its header names sequence " + std::to_string(sequence);
    return false;
  }
  return true;
}

}  // namespace surge::journal
