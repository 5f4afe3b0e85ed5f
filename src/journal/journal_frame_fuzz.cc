// Fuzzes the decoding of a single record frame and of a snapshot file: never read outside the
// input, and whatever decodes must encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "journal/record.h"
#include "journal/segment_reader.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void FuzzRecord(std::string_view bytes, uint32_t payload_bytes_max) {
  surge::journal::Frame frame;
  size_t bytes_needed = 0;
  const auto status = surge::journal::DecodeRecord(bytes, payload_bytes_max, &frame, &bytes_needed);
  Check(bytes_needed >= surge::journal::kRecordHeaderBytes);
  if (status == surge::journal::FrameStatus::kTruncated) Check(bytes_needed > bytes.size());
  if (status != surge::journal::FrameStatus::kOk) return;
  Check(frame.frame_bytes <= bytes.size());
  Check(frame.payload.size() <= payload_bytes_max);
  Check(frame.payload.data() == bytes.data() + surge::journal::kRecordHeaderBytes);
  std::string encoded;
  surge::journal::EncodeRecord(frame.sequence, frame.payload, &encoded);
  Check(encoded == bytes.substr(0, frame.frame_bytes));
}

void FuzzSnapshot(std::string_view bytes) {
  uint64_t sequence = 0;
  std::string_view payload;
  std::string reason;
  if (!surge::journal::DecodeSnapshot(bytes, &sequence, &payload, &reason)) {
    Check(!reason.empty());
    return;
  }
  Check(surge::journal::EncodeSnapshotHeader(sequence, payload) + std::string(payload) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  FuzzRecord(bytes, 1U << 20);
  FuzzRecord(bytes, 16);
  FuzzSnapshot(bytes);
  (void)surge::journal::ValidRecordFollows(bytes, size > 0 ? data[0] : 0, 64);
  return 0;
}
