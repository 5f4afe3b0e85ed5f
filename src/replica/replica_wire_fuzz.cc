// Fuzzes the shipping protocol's frame decoder: any bytes give a frame, "incomplete" or
// corruption, never a crash; a decoded frame encodes back to the same bytes. The input is decoded
// as it is, and also as the body of a frame with a valid header and checksum, so that mutations
// reach the body decoders of every frame type (snapshot and snapshot chunk included) instead of
// stopping at the checksum.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/frame.h"
#include "replica/wire.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

std::string Reencode(const surge::replica::wire::Frame& frame) {
  using namespace surge::replica::wire;
  std::string out;
  switch (frame.type) {
    case Type::kHello:
      AppendHello(frame.epoch, frame.sequence, frame.center, &out);
      break;
    case Type::kWelcome:
      AppendWelcome(frame.epoch, frame.sequence, &out);
      break;
    case Type::kBatch:
      AppendBatch(frame.epoch, frame.sequence, frame.records, &out);
      break;
    case Type::kAck:
      AppendAck(frame.sequence, &out);
      break;
    case Type::kInSync:
      AppendInSync(frame.sequence, &out);
      break;
    case Type::kError:
      AppendError(surge::Status(frame.error, std::string(frame.message)), &out);
      break;
    case Type::kSnapshot:
      AppendSnapshot(frame.epoch, frame.sequence, frame.snapshot_bytes, frame.snapshot_crc32c,
                     &out);
      break;
    case Type::kSnapshotChunk:
      Check(!frame.chunk.empty() && frame.chunk.size() <= kSnapshotChunkBytesMax);
      AppendSnapshotChunk(frame.epoch, frame.sequence, frame.chunk, &out);
      break;
  }
  return out;
}

void DecodeAndReencode(std::string_view bytes) {
  surge::replica::wire::Frame frame;
  const surge::Result<size_t> taken = surge::replica::wire::DecodeFrame(bytes, &frame);
  if (!taken.ok() || *taken == 0) return;
  Check(*taken <= bytes.size());
  // Error messages are cut at 4096 bytes on encoding; everything else must round-trip.
  if (frame.type == surge::replica::wire::Type::kError && frame.message.size() > 4096) return;
  Check(Reencode(frame) == bytes.substr(0, *taken));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeAndReencode(bytes);
  if (!bytes.empty() && bytes.size() <= surge::replica::wire::kBodyBytesMax) {
    std::string framed;
    surge::AppendFrame(&framed, surge::replica::wire::kBodyBytesMax,
                       [&](std::string* body) { body->append(bytes); });
    DecodeAndReencode(framed);
  }
  return 0;
}
