// Fuzzes the decoders of events records (both formats: 2, written now, and 1, written before):
// any bytes either fail to decode (corruption) or decode into events that encode back to a
// record decoding to the same events, that CampaignDeltas can sum, and whose bytes are told apart
// from every command (IsEventsRecord, DecodeCommand fails). What the master reads of a record
// (DecodeEventsSummary) is, for every record that decodes, its header and its events' deltas;
// for the rest it fails or holds only deltas that name a campaign and change something.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/ids.h"
#include "trade/trade.h"

namespace {

using surge::trade::CampaignDelta;
using surge::trade::EventsRecord;
using surge::trade::EventsSummary;

// The summary a record that decodes must give.
EventsSummary SummaryOf(const EventsRecord& record) {
  return EventsSummary{record.through, record.events.empty() ? 0 : record.events[0].number,
                       record.events.size(), surge::trade::CampaignDeltas(record.events)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto decoded = surge::trade::DecodeEvents(bytes);
  const auto summary = surge::trade::DecodeEventsSummary(bytes);
  if (!decoded.ok()) {
    SURGE_ASSERT(decoded.status().code() == surge::Code::kCorruption);
    if (!summary.ok()) {
      SURGE_ASSERT(summary.status().code() == surge::Code::kCorruption);
      return 0;
    }
    // Format 2 reads only its header: its deltas must still be well-formed.
    for (const CampaignDelta& delta : summary->deltas) {
      SURGE_ASSERT(surge::IsValidId(delta.campaign) && (delta.reserved != 0 || delta.sold != 0));
    }
    return 0;
  }
  SURGE_ASSERT(surge::trade::IsEventsRecord(bytes));
  SURGE_ASSERT(!surge::trade::DecodeCommand(bytes).ok());
  SURGE_ASSERT(summary.ok() && *summary == SummaryOf(*decoded));
  std::string encoded;
  surge::trade::EncodeEvents(decoded->through, decoded->events, &encoded);
  const auto again = surge::trade::DecodeEvents(encoded);
  SURGE_ASSERT(again.ok() && *again == *decoded);
  const auto summary_again = surge::trade::DecodeEventsSummary(encoded);
  SURGE_ASSERT(summary_again.ok() && *summary_again == *summary);
  // Sums of at most kItemsMax * kQuantityMax per event: no overflow to find here, but every
  // delta must name a campaign of the events and be non-zero.
  for (const CampaignDelta& delta : summary->deltas) {
    SURGE_ASSERT(!delta.campaign.empty() && (delta.reserved != 0 || delta.sold != 0));
  }
  return 0;
}
