// libFuzzer target: ParseHistory on arbitrary bytes never crashes, refuses with a message naming
// the line, and what it accepts encodes back to a text that parses to the same history.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "drill/drill.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = surge::drill::ParseHistory(text);
  if (!parsed.ok()) {
    SURGE_ASSERT(parsed.status().code() == surge::Code::kInvalidArgument);
    SURGE_ASSERT(parsed.status().message().rfind("history line ", 0) == 0);
    return 0;
  }
  auto again = surge::drill::ParseHistory(surge::drill::EncodeHistory(*parsed));
  SURGE_ASSERT(again.ok() && again->size() == parsed->size());
  for (size_t i = 0; i < parsed->size(); ++i) {
    const surge::drill::OrderAttempt& a = (*parsed)[i];
    const surge::drill::OrderAttempt& b = (*again)[i];
    SURGE_ASSERT(a.request_id == b.request_id && a.user == b.user && a.status == b.status &&
                 a.error_code == b.error_code && a.order_id == b.order_id && a.due_us == b.due_us &&
                 a.answered_us == b.answered_us && a.items.size() == b.items.size());
  }
  return 0;
}
