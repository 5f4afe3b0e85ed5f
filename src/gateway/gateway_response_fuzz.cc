// Fuzzes the parser of centers' responses: any bytes, fed whole or in two pieces, must parse the
// same way, never read out of bounds, and every parsed response must lie within the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "gateway/response_parser.h"

namespace {

using surge::gateway::ParsedResponse;
using surge::gateway::ResponseParser;

constexpr size_t kHeadBytesMax = 512;
constexpr size_t kBodyBytesMax = 2048;

bool Same(const ParsedResponse& a, const ParsedResponse& b) {
  return a.status == b.status && a.content_type == b.content_type &&
         a.retry_after_s == b.retry_after_s && a.close == b.close && a.body == b.body &&
         a.size_bytes == b.size_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % size;  // where the second read starts
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view rest = input;
  for (int responses = 0; responses < 16 && !rest.empty(); ++responses) {
    ResponseParser whole(kHeadBytesMax, kBodyBytesMax);
    ParsedResponse parsed;
    std::string error;
    const ResponseParser::State state = whole.Parse(rest, &parsed, &error);
    if (state == ResponseParser::State::kDone) {
      SURGE_ASSERT(parsed.size_bytes <= rest.size());
      SURGE_ASSERT(parsed.body.data() + parsed.body.size() == rest.data() + parsed.size_bytes);
      SURGE_ASSERT(parsed.status >= 200 && parsed.status <= 599);
      SURGE_ASSERT(parsed.body.size() <= kBodyBytesMax);
    }
    if (state == ResponseParser::State::kError) SURGE_ASSERT(!error.empty());

    // The same bytes in two reads, the second from a moved buffer.
    ResponseParser pieces(kHeadBytesMax, kBodyBytesMax);
    ParsedResponse parsed_in_pieces;
    std::string piece_error;
    std::string buffer(rest.substr(0, split));
    ResponseParser::State piece_state = pieces.Parse(buffer, &parsed_in_pieces, &piece_error);
    if (piece_state == ResponseParser::State::kNeedMore) {
      buffer.assign(rest);
      piece_state = pieces.Parse(buffer, &parsed_in_pieces, &piece_error);
    }
    if (piece_state != ResponseParser::State::kError || state != ResponseParser::State::kError) {
      // A complete response found early is the same one (a prefix holds the whole of it).
      SURGE_ASSERT(piece_state == state);
      if (state == ResponseParser::State::kDone) SURGE_ASSERT(Same(parsed, parsed_in_pieces));
    }
    if (state != ResponseParser::State::kDone) break;
    rest.remove_prefix(parsed.size_bytes);
  }
  return 0;
}
