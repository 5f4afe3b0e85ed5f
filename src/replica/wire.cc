#include "replica/wire.h"

#include "common/coding.h"
#include "common/frame.h"
#include "common/ids.h"

namespace surge::replica::wire {
namespace {

template <typename AppendBody>
void Append(std::string* out, Type type, AppendBody append_body) {
  AppendFrame(out, kBodyBytesMax, [&](std::string* body) {
    Encoder encoder(body);
    encoder.U8(static_cast<uint8_t>(type));
    append_body(encoder);
  });
}

Status Corrupt(std::string message) {
  return Status(Code::kCorruption, "shipping protocol: " + std::move(message));
}

// How many bytes Encoder::Varint takes for `value`.
size_t VarintBytes(uint64_t value) {
  size_t bytes = 1;
  for (; value >= 0x80; value >>= 7) ++bytes;
  return bytes;
}

// The records of a batch body after its header.
Status DecodeRecords(Decoder& decoder, uint32_t count, std::vector<std::string_view>* records) {
  // Each record takes at least two bytes (length and one byte): a count beyond that is no batch.
  if (count == 0 || count > decoder.remaining() / 2) {
    return Corrupt("a batch of " + std::to_string(count) + " records");
  }
  records->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view record;
    const size_t before = decoder.remaining();
    if (!decoder.String(&record) || record.empty()) {
      return Corrupt("record " + std::to_string(i) + " of a batch is empty or cut short");
    }
    // Only the shortest varint for a length is valid, so that a batch has one encoding.
    if (before - decoder.remaining() - record.size() != VarintBytes(record.size())) {
      return Corrupt("record " + std::to_string(i) + " of a batch has an overlong length");
    }
    records->push_back(record);
  }
  return Status::Ok();
}

}  // namespace

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kHello:
      return "hello";
    case Type::kWelcome:
      return "welcome";
    case Type::kBatch:
      return "batch";
    case Type::kAck:
      return "ack";
    case Type::kInSync:
      return "in sync";
    case Type::kError:
      return "error";
    case Type::kSnapshot:
      return "snapshot";
    case Type::kSnapshotChunk:
      return "snapshot chunk";
  }
  return "unknown";
}

void AppendHello(uint64_t epoch, uint64_t last_sequence, std::string_view center,
                 std::string* out) {
  SURGE_ASSERT(IsValidId(center) && center.size() <= kCenterBytesMax);
  Append(out, Type::kHello, [&](Encoder& encoder) {
    encoder.Fixed64(epoch);
    encoder.Fixed64(last_sequence);
    encoder.out()->append(center);
  });
}

void AppendWelcome(uint64_t epoch, uint64_t keep_through, std::string* out) {
  Append(out, Type::kWelcome, [&](Encoder& encoder) {
    encoder.Fixed64(epoch);
    encoder.Fixed64(keep_through);
  });
}

void AppendBatch(uint64_t epoch, uint64_t first_sequence, std::span<const std::string_view> records,
                 std::string* out) {
  SURGE_ASSERT(first_sequence > 0 && !records.empty() && records.size() <= UINT32_MAX);
  Append(out, Type::kBatch, [&](Encoder& encoder) {
    encoder.Fixed64(epoch);
    encoder.Fixed64(first_sequence);
    encoder.Fixed32(static_cast<uint32_t>(records.size()));
    for (const std::string_view record : records) {
      SURGE_ASSERT(!record.empty() && record.size() <= UINT32_MAX);
      encoder.String(record);
    }
  });
}

void AppendAck(uint64_t through, std::string* out) {
  Append(out, Type::kAck, [&](Encoder& encoder) { encoder.Fixed64(through); });
}

void AppendInSync(uint64_t through, std::string* out) {
  Append(out, Type::kInSync, [&](Encoder& encoder) { encoder.Fixed64(through); });
}

void AppendError(const Status& status, std::string* out) {
  SURGE_ASSERT(!status.ok());
  Append(out, Type::kError, [&](Encoder& encoder) {
    encoder.U8(static_cast<uint8_t>(status.code()));
    encoder.out()->append(status.message().substr(0, 4096));
  });
}

void AppendSnapshot(uint64_t epoch, uint64_t sequence, uint64_t state_bytes, uint32_t state_crc32c,
                    std::string* out) {
  SURGE_ASSERT(sequence > 0 && state_bytes <= kSnapshotBytesMax);
  Append(out, Type::kSnapshot, [&](Encoder& encoder) {
    encoder.Fixed64(epoch);
    encoder.Fixed64(sequence);
    encoder.Fixed64(state_bytes);
    encoder.Fixed32(state_crc32c);
  });
}

void AppendSnapshotChunk(uint64_t epoch, uint64_t offset, std::string_view chunk,
                         std::string* out) {
  SURGE_ASSERT(!chunk.empty() && chunk.size() <= kSnapshotChunkBytesMax &&
               offset <= kSnapshotBytesMax - chunk.size());
  Append(out, Type::kSnapshotChunk, [&](Encoder& encoder) {
    encoder.Fixed64(epoch);
    encoder.Fixed64(offset);
    encoder.out()->append(chunk);
  });
}

Result<size_t> DecodeFrame(std::string_view bytes, Frame* frame) {
  std::string_view body;
  SURGE_ASSIGN_OR_RETURN(const size_t taken,
                         NextFrame(bytes, kBodyBytesMax, "shipping frame", &body));
  if (taken == 0) return taken;
  Decoder decoder(body);
  uint8_t type = 0;
  decoder.U8(&type);
  *frame = Frame{};
  frame->type = static_cast<Type>(type);
  switch (frame->type) {
    case Type::kHello:
      if (!decoder.Fixed64(&frame->epoch) || !decoder.Fixed64(&frame->sequence)) {
        return Corrupt("hello cut short");
      }
      frame->center = body.substr(1 + 8 + 8);
      if (!IsValidId(frame->center) || frame->center.size() > kCenterBytesMax) {
        return Corrupt("hello names no valid center");
      }
      break;
    case Type::kWelcome:
      if (!decoder.Fixed64(&frame->epoch) || !decoder.Fixed64(&frame->sequence) ||
          !decoder.done()) {
        return Corrupt("welcome of the wrong size");
      }
      break;
    case Type::kBatch: {
      uint32_t count = 0;
      if (!decoder.Fixed64(&frame->epoch) || !decoder.Fixed64(&frame->sequence) ||
          !decoder.Fixed32(&count)) {
        return Corrupt("batch header cut short");
      }
      if (frame->sequence == 0 || frame->sequence > UINT64_MAX - count) {
        return Corrupt("batch starting at sequence " + std::to_string(frame->sequence));
      }
      SURGE_RETURN_IF_ERROR(DecodeRecords(decoder, count, &frame->records));
      if (!decoder.done()) return Corrupt("batch with bytes after its last record");
      break;
    }
    case Type::kAck:
    case Type::kInSync:
      if (!decoder.Fixed64(&frame->sequence) || !decoder.done()) {
        return Corrupt(std::string(TypeName(frame->type)) + " of the wrong size");
      }
      break;
    case Type::kError: {
      uint8_t code = 0;
      if (!decoder.U8(&code) || code == 0 || code > static_cast<uint8_t>(Code::kInternal)) {
        return Corrupt("error with a bad code");
      }
      frame->error = static_cast<Code>(code);
      frame->message = body.substr(2);
      break;
    }
    case Type::kSnapshot:
      if (!decoder.Fixed64(&frame->epoch) || !decoder.Fixed64(&frame->sequence) ||
          !decoder.Fixed64(&frame->snapshot_bytes) || !decoder.Fixed32(&frame->snapshot_crc32c) ||
          !decoder.done()) {
        return Corrupt("snapshot header of the wrong size");
      }
      if (frame->sequence == 0 || frame->snapshot_bytes > kSnapshotBytesMax) {
        return Corrupt("a snapshot after record " + std::to_string(frame->sequence) + " of " +
                       std::to_string(frame->snapshot_bytes) + " bytes (at most " +
                       std::to_string(kSnapshotBytesMax) + ")");
      }
      break;
    case Type::kSnapshotChunk:
      if (!decoder.Fixed64(&frame->epoch) || !decoder.Fixed64(&frame->sequence)) {
        return Corrupt("snapshot chunk header cut short");
      }
      frame->chunk = body.substr(1 + 8 + 8);
      if (frame->chunk.empty() || frame->chunk.size() > kSnapshotChunkBytesMax ||
          frame->sequence > kSnapshotBytesMax - frame->chunk.size()) {
        return Corrupt("a snapshot chunk of " + std::to_string(frame->chunk.size()) +
                       " bytes at offset " + std::to_string(frame->sequence) +
                       " (chunks hold 1 to " + std::to_string(kSnapshotChunkBytesMax) +
                       " bytes of at most " + std::to_string(kSnapshotBytesMax) + ")");
      }
      break;
    default:
      return Corrupt("frame of unknown type " + std::to_string(type));
  }
  return taken;
}

}  // namespace surge::replica::wire
