// Fuzzes the request parser the way a connection drives it: the input arrives in chunks (their
// sizes come from the first bytes of the fuzz input), and before every chunk the unparsed bytes
// move to a fresh, exactly sized allocation (as when the server replaces its read buffer), so
// AddressSanitizer catches any view or pointer kept across calls and any read past the data.
// Checks: no crash, every parsed request's views lie inside that request's bytes, the body
// respects the limit, and errors carry one of the three codes the server answers with.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "http/request_parser.h"

namespace {

using surge::Code;
using surge::Status;
using surge::http::detail::ParsedRequest;
using surge::http::detail::ParserLimits;
using surge::http::detail::RequestParser;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_request_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

bool Within(std::string_view view, const char* begin, const char* end) {
  return view.empty() || (view.data() >= begin && view.data() + view.size() <= end);
}

void CheckRequest(const ParsedRequest& parsed, const char* begin, size_t consumed,
                  const ParserLimits& limits) {
  const char* end = begin + consumed;
  const auto& request = parsed.request;
  Check(!request.method.empty() && !request.target.empty(), "method and target are set");
  Check(Within(request.method, begin, end), "method inside the message");
  Check(Within(request.target, begin, end), "target inside the message");
  Check(Within(request.path, begin, end), "path inside the message");
  Check(Within(request.query, begin, end), "query inside the message");
  Check(Within(request.body, begin, end), "body inside the message");
  Check(Within(request.content_type, begin, end), "content type inside the message");
  Check(request.body.size() <= limits.body_bytes_max, "body within its limit");
  Check(request.path.size() <= request.target.size(), "path is part of the target");
  // Touch every byte so that ASan sees any view into freed or foreign memory.
  size_t sum = 0;
  for (std::string_view view : {request.method, request.target, request.body}) {
    for (char c : view) sum += static_cast<unsigned char>(c);
  }
  Check(sum < SIZE_MAX, "views readable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t chunk_sizes[2] = {static_cast<size_t>(data[0] % 64) + 1,
                                 static_cast<size_t>(data[1]) * 4 + 1};
  ParserLimits limits;
  limits.header_bytes_max = 64 + static_cast<size_t>(data[2] & 0x0f) * 64;
  limits.body_bytes_max = static_cast<size_t>(data[2] >> 4) * 32;
  data += 3;
  size -= 3;

  RequestParser parser(limits);
  std::unique_ptr<char[]> buffer;
  size_t live = 0;  // bytes of buffer from the current message's start
  size_t offset = 0;
  for (size_t turn = 0; offset < size; ++turn) {
    const size_t chunk = std::min(chunk_sizes[turn % 2], size - offset);
    auto fresh = std::make_unique<char[]>(live + chunk);
    if (live > 0) std::memcpy(fresh.get(), buffer.get(), live);
    std::memcpy(fresh.get() + live, data + offset, chunk);
    buffer = std::move(fresh);
    live += chunk;
    offset += chunk;
    size_t begin = 0;
    for (;;) {
      ParsedRequest parsed;
      size_t consumed = 0;
      Status error;
      const auto state =
          parser.Parse(buffer.get() + begin, live - begin, &parsed, &consumed, &error);
      if (state == RequestParser::State::kNeedMore) break;
      if (state == RequestParser::State::kError) {
        Check(error.code() == Code::kBadRequest || error.code() == Code::kHeadersTooLarge ||
                  error.code() == Code::kBodyTooLarge,
              "error code is one the server answers with");
        Check(!error.message().empty(), "error has a message");
        return 0;
      }
      Check(consumed > 0 && consumed <= live - begin, "consumed within the input");
      CheckRequest(parsed, buffer.get() + begin, consumed, limits);
      begin += consumed;
    }
    // Keep only the current message's bytes, as the server does.
    if (begin > 0) {
      auto rest = std::make_unique<char[]>(live - begin + 1);
      std::memcpy(rest.get(), buffer.get() + begin, live - begin);
      buffer = std::move(rest);
      live -= begin;
    }
  }
  return 0;
}
