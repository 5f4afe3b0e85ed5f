#include "bus/wire.h"

#include <charconv>

#include "common/assert.h"
#include "common/coding.h"
#include "common/frame.h"
#include "common/ids.h"

namespace surge::bus {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kMasterData:
      return "master_data";
    case Kind::kOrders:
      return "orders";
    case Kind::kQuota:
      return "quota";
  }
  return "unknown";
}

namespace wire {
namespace {

template <typename AppendBody>
void AppendFrame(std::string* out, AppendBody append_body) {
  surge::AppendFrame(out, kBodyBytesMax, append_body);
}

Status Corrupt(std::string message) { return Status(Code::kCorruption, std::move(message)); }

}  // namespace

std::optional<Kind> KindFromName(std::string_view name) {
  for (uint8_t value = 1; value <= kKindMax; ++value) {
    const auto kind = static_cast<Kind>(value);
    if (KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string EncodeRequest(const Request& request) {
  return "SUB " + request.center + " " + std::string(KindName(request.kind)) + " " +
         std::to_string(request.after) + "\n";
}

Result<Request> ParseRequest(std::string_view line) {
  const auto fail = [](std::string why) {
    return Status(Code::kInvalidArgument, "bad subscription request: " + std::move(why));
  };
  if (line.size() > kRequestBytesMax) return fail("longer than 256 bytes");
  std::string_view parts[4];
  size_t count = 0;
  while (!line.empty() && count < 4) {
    const size_t space = line.find(' ');
    parts[count++] = line.substr(0, space);
    line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
  }
  if (count != 4 || !line.empty()) return fail("expected \"SUB <center> <kind> <after>\"");
  if (parts[0] != "SUB") return fail("expected \"SUB\", not \"" + std::string(parts[0]) + "\"");
  if (!IsValidId(parts[1])) return fail("the center is not a valid id");
  const std::optional<Kind> kind = KindFromName(parts[2]);
  if (!kind.has_value()) return fail("unknown kind \"" + std::string(parts[2]) + "\"");
  uint64_t after = 0;
  const auto [end, error] =
      std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), after);
  if (parts[3].empty() || error != std::errc() || end != parts[3].data() + parts[3].size()) {
    return fail("\"after\" must be an unsigned 64-bit integer");
  }
  return Request{std::string(parts[1]), *kind, after};
}

void AppendRecord(const Record& record, std::string* out) {
  SURGE_ASSERT(record.payload.size() <= kPayloadBytesMax);
  AppendFrame(out, [&](std::string* body) {
    Encoder encoder(body);
    encoder.U8(static_cast<uint8_t>(FrameType::kRecord));
    encoder.Fixed64(record.sequence);
    encoder.U8(static_cast<uint8_t>(record.kind));
    body->append(record.payload);
  });
}

void AppendHeartbeat(uint64_t last_published, std::string* out) {
  AppendFrame(out, [&](std::string* body) {
    Encoder encoder(body);
    encoder.U8(static_cast<uint8_t>(FrameType::kHeartbeat));
    encoder.Fixed64(last_published);
  });
}

void AppendError(const Status& status, std::string* out) {
  AppendFrame(out, [&](std::string* body) {
    Encoder encoder(body);
    encoder.U8(static_cast<uint8_t>(FrameType::kError));
    encoder.U8(static_cast<uint8_t>(status.code()));
    body->append(status.message().substr(0, 4096));
  });
}

Result<size_t> DecodeFrame(std::string_view bytes, Frame* frame) {
  std::string_view body;
  SURGE_ASSIGN_OR_RETURN(const size_t taken, NextFrame(bytes, kBodyBytesMax, "bus frame", &body));
  if (taken == 0) return taken;
  Decoder decoder(body);
  uint8_t type = 0;
  decoder.U8(&type);
  *frame = Frame{};
  switch (static_cast<FrameType>(type)) {
    case FrameType::kRecord: {
      uint8_t kind = 0;
      if (!decoder.Fixed64(&frame->sequence) || !decoder.U8(&kind)) {
        return Corrupt("bus record frame too short");
      }
      if (kind == 0 || kind > kKindMax) return Corrupt("bus record of unknown kind");
      if (frame->sequence == 0) return Corrupt("bus record with sequence 0");
      frame->type = FrameType::kRecord;
      frame->kind = static_cast<Kind>(kind);
      frame->payload = body.substr(1 + 8 + 1);
      break;
    }
    case FrameType::kHeartbeat:
      if (!decoder.Fixed64(&frame->sequence) || body.size() != 1 + 8) {
        return Corrupt("bus heartbeat frame of the wrong size");
      }
      frame->type = FrameType::kHeartbeat;
      break;
    case FrameType::kError: {
      uint8_t code = 0;
      if (!decoder.U8(&code) || code == 0 || code > static_cast<uint8_t>(Code::kInternal)) {
        return Corrupt("bus error frame with a bad code");
      }
      frame->type = FrameType::kError;
      frame->error = static_cast<Code>(code);
      frame->payload = body.substr(2);
      break;
    }
    default:
      return Corrupt("bus frame of unknown type " + std::to_string(type));
  }
  return taken;
}

}  // namespace wire
}  // namespace surge::bus
