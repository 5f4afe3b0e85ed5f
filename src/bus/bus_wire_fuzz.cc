// Fuzzes the embedded bus's wire decoders: a subscription request line and a stream of frames.
// Neither may crash or assert on any bytes; whatever decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bus/wire.h"
#include "common/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge::bus;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = wire::ParseRequest(bytes.substr(0, bytes.find('\n')));
  if (request.ok()) {
    const std::string line = wire::EncodeRequest(*request);
    auto again = wire::ParseRequest(std::string_view(line).substr(0, line.size() - 1));
    SURGE_ASSERT(again.ok() && again->center == request->center && again->kind == request->kind &&
                 again->after == request->after);
  }
  std::string_view rest = bytes;
  for (;;) {
    wire::Frame frame;
    auto used = wire::DecodeFrame(rest, &frame);
    if (!used.ok() || *used == 0) break;
    if (frame.type == wire::FrameType::kRecord) {
      std::string encoded;
      wire::AppendRecord(Record{frame.sequence, frame.kind, frame.payload}, &encoded);
      SURGE_ASSERT(encoded == rest.substr(0, *used));
    }
    rest.remove_prefix(*used);
  }
  return 0;
}
