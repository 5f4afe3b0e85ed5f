// libFuzzer target: ParseSequences on arbitrary bytes never crashes, and what it accepts obeys
// its contract (dense item indices, one sequence per user, no empty sequence).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "brain/brain.h"
#include "common/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = surge::brain::ParseSequences(text);
  if (!parsed.ok()) {
    SURGE_ASSERT(parsed.status().message().rfind("line ", 0) == 0 ||
                 parsed.status().message() == "no users in the input");
    return 0;
  }
  SURGE_ASSERT(parsed->user_ids.size() == parsed->sequences.size());
  SURGE_ASSERT(!parsed->sequences.empty());
  for (const auto& sequence : parsed->sequences) {
    SURGE_ASSERT(!sequence.empty());
    for (const uint32_t item : sequence) SURGE_ASSERT(item < parsed->item_ids.size());
  }
  return 0;
}
