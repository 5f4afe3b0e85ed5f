// The checksummed frame that surge's own TCP protocols (the embedded bus, journal shipping) put
// around each message: [u32 body length][u32 crc32c of the body][body], little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/coding.h"
#include "common/status.h"

namespace surge {

inline constexpr size_t kFrameHeaderBytes = 8;

// Appends to `out` a frame around the body that `append_body(out)` appends (at most `body_max`
// bytes, asserted).
template <typename AppendBody>
void AppendFrame(std::string* out, size_t body_max, AppendBody append_body) {
  const size_t start = out->size();
  out->append(kFrameHeaderBytes, '\0');
  append_body(out);
  const std::string_view body = std::string_view(*out).substr(start + kFrameHeaderBytes);
  SURGE_ASSERT(!body.empty() && body.size() <= body_max);
  std::string header;
  Encoder encoder(&header);
  encoder.Fixed32(static_cast<uint32_t>(body.size()));
  encoder.Fixed32(Crc32c(body));
  out->replace(start, kFrameHeaderBytes, header);
}

// Finds the frame at the start of `bytes`: sets `body` and returns the bytes the frame takes, 0
// if it is not complete yet, or corruption (naming `what`, e.g. "bus frame") for an empty body,
// one over `body_max` bytes, or a checksum that does not match.
Result<size_t> NextFrame(std::string_view bytes, size_t body_max, std::string_view what,
                         std::string_view* body);

}  // namespace surge
