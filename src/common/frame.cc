#include "common/frame.h"

namespace surge {

Result<size_t> NextFrame(std::string_view bytes, size_t body_max, std::string_view what,
                         std::string_view* body) {
  if (bytes.size() < kFrameHeaderBytes) return size_t{0};
  Decoder header(bytes.substr(0, kFrameHeaderBytes));
  uint32_t length = 0;
  uint32_t crc = 0;
  const bool whole = header.Fixed32(&length) && header.Fixed32(&crc);
  SURGE_ASSERT(whole);
  if (length == 0 || length > body_max) {
    return Status(Code::kCorruption, std::string(what) + " of " + std::to_string(length) +
                                         " bytes (at most " + std::to_string(body_max) + ")");
  }
  if (bytes.size() - kFrameHeaderBytes < length) return size_t{0};
  *body = bytes.substr(kFrameHeaderBytes, length);
  if (Crc32c(*body) != crc) {
    return Status(Code::kCorruption, std::string(what) + " fails its checksum");
  }
  return kFrameHeaderBytes + length;
}

}  // namespace surge
