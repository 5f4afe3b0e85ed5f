// Fuzzes the decoder of events records: any bytes either fail to decode (corruption) or decode
// into events that encode back to a record decoding to the same events, that CampaignDeltas can
// sum, and whose bytes are told apart from every command (IsEventsRecord, DecodeCommand fails).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "trade/trade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto decoded = surge::trade::DecodeEvents(bytes);
  if (!decoded.ok()) {
    SURGE_ASSERT(decoded.status().code() == surge::Code::kCorruption);
    return 0;
  }
  SURGE_ASSERT(surge::trade::IsEventsRecord(bytes));
  SURGE_ASSERT(!surge::trade::DecodeCommand(bytes).ok());
  std::string encoded;
  surge::trade::EncodeEvents(decoded->through, decoded->events, &encoded);
  const auto again = surge::trade::DecodeEvents(encoded);
  SURGE_ASSERT(again.ok() && *again == *decoded);
  // Sums of at most kItemsMax * kQuantityMax per event: no overflow to find here, but every
  // delta must name a campaign of the events and be non-zero.
  for (const surge::trade::CampaignDelta& delta : surge::trade::CampaignDeltas(decoded->events)) {
    SURGE_ASSERT(!delta.campaign.empty() && (delta.reserved != 0 || delta.sold != 0));
  }
  return 0;
}
