// Private to bus: the embedded bus's TCP protocol.
//
// The subscriber opens a connection and sends one line:
//   "SUB <center> <kind name> <after>\n"        (at most kRequestBytesMax bytes)
// The publisher answers with frames until either side closes:
//   [u32 body length][u32 crc32c of the body][body]           (little-endian)
//   body = [u8 type] then
//     record:    [u64 sequence][u8 kind][payload]
//     heartbeat: [u64 last published sequence]   (sent when idle, so both sides notice a dead peer)
//     error:     [u8 status code][message]        (then the publisher closes)
// Every length and value is checked on decode: a bad frame is corruption, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bus/bus.h"
#include "common/status.h"

namespace surge::bus::wire {

inline constexpr size_t kRequestBytesMax = 256;
inline constexpr size_t kBodyBytesMax = 1 + 8 + 1 + kPayloadBytesMax;

struct Request {
  std::string center;
  Kind kind = Kind::kMasterData;
  uint64_t after = 0;
};

std::string EncodeRequest(const Request& request);
// `line` without its '\n'. invalid_argument saying what is wrong.
Result<Request> ParseRequest(std::string_view line);

// Kind by name ("orders"), if it is one.
std::optional<Kind> KindFromName(std::string_view name);

enum class FrameType : uint8_t { kRecord = 1, kHeartbeat = 2, kError = 3 };

struct Frame {
  FrameType type = FrameType::kHeartbeat;
  uint64_t sequence = 0;  // record: its sequence; heartbeat: the last published
  Kind kind = Kind::kMasterData;
  std::string_view payload;  // record: the payload; error: the message (views into the input)
  Code error = Code::kOk;
};

void AppendRecord(const Record& record, std::string* out);
void AppendHeartbeat(uint64_t last_published, std::string* out);
void AppendError(const Status& status, std::string* out);

// Decodes the frame at the start of `bytes`. Returns the bytes it takes (0: incomplete, more input
// needed), or corruption for a frame that can never be valid (bad length, checksum, type, kind).
Result<size_t> DecodeFrame(std::string_view bytes, Frame* frame);

}  // namespace surge::bus::wire
