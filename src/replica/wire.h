// Private to replica: the shipping protocol's frames.
//
// Every message is a frame [u32 body length][u32 crc32c of the body][body] (little-endian), and
// body = [u8 type] then:
//   hello    (standby -> primary)  [u64 epoch][u64 last sequence][center id]
//   welcome  (primary -> standby)  [u64 epoch][u64 keep through]
//   batch    (primary -> standby)  [u64 epoch][u64 first sequence][u32 count] count x
//                                  ([varint length][record]), records never empty
//   ack      (standby -> primary)  [u64 durable through]
//   in sync  (primary -> standby)  [u64 through]: the standby holds all the primary does; said
//                                  again as a keep-alive whenever the link is quiet
//   error    (either way)          [u8 status code][message], then the sender closes
//   snapshot (primary -> standby)  [u64 epoch][u64 sequence][u64 state bytes][u32 crc32c of the
//                                  state]: the primary no longer holds the records the standby
//                                  needs; its snapshot after record `sequence` follows, in chunks
//   snapshot chunk (primary -> standby)  [u64 epoch][u64 offset][bytes], 1..kSnapshotChunkBytesMax
//                                  bytes of the state at `offset`, in order; the standby answers
//                                  the last one with ack(sequence), then both close
// Decoding checks every length, count and value: a bad frame is corruption, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::replica::wire {

inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr size_t kBodyBytesMax = 64u << 20;
inline constexpr size_t kCenterBytesMax = 64;
// A snapshot travels in chunks of at most this many bytes, and is at most kSnapshotBytesMax long.
inline constexpr size_t kSnapshotChunkBytesMax = 1u << 20;
inline constexpr uint64_t kSnapshotBytesMax = 64ULL << 30;

enum class Type : uint8_t {
  kHello = 1,
  kWelcome = 2,
  kBatch = 3,
  kAck = 4,
  kInSync = 5,
  kError = 6,
  kSnapshot = 7,
  kSnapshotChunk = 8,
};

struct Frame {
  Type type = Type::kAck;
  uint64_t epoch = 0;  // hello, welcome, batch
  // hello: last; welcome: keep through; batch: first; ack, in sync: through; snapshot: the record
  // it follows; snapshot chunk: the offset of its bytes in the state.
  uint64_t sequence = 0;
  uint64_t snapshot_bytes = 0;            // snapshot: the state's length
  uint32_t snapshot_crc32c = 0;           // snapshot: crc32c of the whole state
  std::string_view chunk;                 // snapshot chunk (a view into the input)
  std::string_view center;                // hello
  std::vector<std::string_view> records;  // batch (views into the input)
  Code error = Code::kOk;                 // error
  std::string_view message;               // error
};

void AppendHello(uint64_t epoch, uint64_t last_sequence, std::string_view center, std::string* out);
void AppendWelcome(uint64_t epoch, uint64_t keep_through, std::string* out);
void AppendBatch(uint64_t epoch, uint64_t first_sequence, std::span<const std::string_view> records,
                 std::string* out);
void AppendAck(uint64_t through, std::string* out);
void AppendInSync(uint64_t through, std::string* out);
void AppendError(const Status& status, std::string* out);
void AppendSnapshot(uint64_t epoch, uint64_t sequence, uint64_t state_bytes, uint32_t state_crc32c,
                    std::string* out);
void AppendSnapshotChunk(uint64_t epoch, uint64_t offset, std::string_view chunk, std::string* out);

// Decodes the frame at the start of `bytes`. Returns the bytes it takes (0: incomplete, more input
// needed), or corruption for a frame that can never be valid.
Result<size_t> DecodeFrame(std::string_view bytes, Frame* frame);

// A frame's type name, for messages ("batch").
std::string_view TypeName(Type type);

}  // namespace surge::replica::wire
