// The on-disk frames of the journal (private to the journal component).
//
// Record frame, little-endian, back to back in a segment file:
//   [crc32c u32][payload length u32][sequence u64][payload bytes]
// The checksum covers everything after itself: length, sequence and payload.
//
// Snapshot file:
//   [magic u64 "SURGSNAP"][version u32][crc32c u32][sequence u64][payload length u64][payload]
// The checksum covers the whole file with the checksum field taken as zero.
//
// File names: segment-<first sequence>.log and snapshot-<sequence>.snap, with 20-digit sequences so
// that names sort like their sequences; a snapshot is written as snapshot-<sequence>.snap.tmp
// first. InstallSnapshot writes snapshot-<sequence>.snap.install (via the same .tmp name) before
// it replaces the directory's contents.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace surge::journal {

static_assert(std::endian::native == std::endian::little,
              "frames are stored little-endian by memcpy; a big-endian port must byte-swap");

struct RecordHeader {
  uint32_t crc32c;
  uint32_t length;
  uint64_t sequence;
};
static_assert(sizeof(RecordHeader) == 16);
static_assert(offsetof(RecordHeader, crc32c) == 0);
static_assert(offsetof(RecordHeader, length) == 4);
static_assert(offsetof(RecordHeader, sequence) == 8);
inline constexpr size_t kRecordHeaderBytes = sizeof(RecordHeader);
// Where the bytes covered by the checksum begin.
inline constexpr size_t kRecordChecksummedFrom = offsetof(RecordHeader, length);

// The largest record_bytes_max an Options may ask for: frames must stay far below 4 GiB.
inline constexpr uint32_t kRecordBytesLimit = 1U << 30;

// Appends the frame of one record to `out`.
void EncodeRecord(uint64_t sequence, std::string_view payload, std::string* out);

enum class FrameStatus {
  kOk,
  kTruncated,    // `bytes` ends before the frame does (header or payload incomplete)
  kTooLong,      // the length field exceeds the largest payload allowed
  kBadChecksum,  // the frame is complete but its checksum does not match
};

struct Frame {
  uint64_t sequence = 0;
  std::string_view payload;  // points into the decoded bytes
  size_t frame_bytes = 0;    // header + payload
};

// Decodes the frame at the start of `bytes`. Never reads outside `bytes`. On kTruncated,
// `*bytes_needed` (if given) is how many bytes the frame needs in all, when known from a complete
// header with an acceptable length, else kRecordHeaderBytes.
FrameStatus DecodeRecord(std::string_view bytes, uint32_t payload_bytes_max, Frame* frame,
                         size_t* bytes_needed = nullptr);

std::string_view FrameStatusText(FrameStatus status);

struct SnapshotHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t crc32c;
  uint64_t sequence;
  uint64_t length;
};
static_assert(sizeof(SnapshotHeader) == 32);
static_assert(offsetof(SnapshotHeader, magic) == 0);
static_assert(offsetof(SnapshotHeader, version) == 8);
static_assert(offsetof(SnapshotHeader, crc32c) == 12);
static_assert(offsetof(SnapshotHeader, sequence) == 16);
static_assert(offsetof(SnapshotHeader, length) == 24);
inline constexpr size_t kSnapshotHeaderBytes = sizeof(SnapshotHeader);
inline constexpr uint64_t kSnapshotMagic = 0x50414e5347525553ULL;  // "SURGSNAP" little-endian
inline constexpr uint32_t kSnapshotVersion = 1;

// The header bytes of a snapshot of `payload` taken after record `sequence`.
std::string EncodeSnapshotHeader(uint64_t sequence, std::string_view payload);

// Checks a whole snapshot file. On success sets `*sequence` and `*payload` (a view into `file`);
// on failure returns false and says why in `*reason`.
bool DecodeSnapshot(std::string_view file, uint64_t* sequence, std::string_view* payload,
                    std::string* reason);
// DecodeSnapshot of the file named for `named` (snapshot-<named>.snap): its header must give the
// same sequence. On success sets `*payload`.
bool DecodeNamedSnapshot(std::string_view file, uint64_t named, std::string_view* payload,
                         std::string* reason);

std::string SegmentName(uint64_t first_sequence);
std::string SnapshotName(uint64_t sequence);
inline constexpr std::string_view kTemporarySuffix = ".tmp";
// snapshot-<sequence>.snap.install: a snapshot InstallSnapshot made durable and has not finished
// installing (journal.h).
inline constexpr std::string_view kInstallSuffix = ".install";
// Parse the names above; false for anything else (including sequence 0).
bool ParseSegmentName(std::string_view name, uint64_t* first_sequence);
bool ParseSnapshotName(std::string_view name, uint64_t* sequence);

}  // namespace surge::journal
