// Sequential reading of the record frames of one segment file (private to the journal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"
#include "journal/record.h"

namespace surge::journal {

// Reads frames from `offset` up to `end` (a file offset, normally the file size) in large chunks,
// so that a replay costs a few reads per segment and no allocation per record. A frame that fails
// to decode stops the reader: it reports kDamaged with the reason and where the frame begins, and
// leaves it to the caller to decide whether that is a torn tail or corruption.
class SegmentReader {
 public:
  enum class Outcome { kRecord, kEnd, kDamaged };
  struct Step {
    Outcome outcome = Outcome::kEnd;
    uint64_t offset = 0;  // file offset of the record, of the damaged frame, or of the end
    Frame frame;          // kRecord: valid until the next call to Next
    FrameStatus damage = FrameStatus::kOk;  // kDamaged: why
  };

  SegmentReader(Env& env, std::string path, uint64_t offset, uint64_t end,
                uint32_t payload_bytes_max);

  // Advances by one frame. Errors are the Env's (io_error); a damaged frame is not an error.
  Status Next(Step* step);

  const std::string& path() const { return path_; }

 private:
  // Makes at least `bytes_needed` bytes from the current position available, or as many as the
  // file has before `end_`.
  Status Refill(size_t bytes_needed);

  Env& env_;
  std::string path_;
  uint64_t end_;
  uint32_t payload_bytes_max_;
  std::string buffer_;
  uint64_t buffer_offset_;  // file offset of buffer_[0]
  size_t position_ = 0;     // next frame begins at buffer_[position_]
};

// True if a frame that decodes, with a sequence that could plausibly come after
// `expected_sequence`, begins anywhere in `bytes` after its first byte. Recovery uses it to tell a
// torn tail (nothing valid after the damage) from damage in the middle of the data.
bool ValidRecordFollows(std::string_view bytes, uint64_t expected_sequence,
                        uint32_t payload_bytes_max);

}  // namespace surge::journal
