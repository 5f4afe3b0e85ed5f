// Fuzzes the journal codec of trade commands: any bytes either fail to decode (corruption) or
// decode into a command that re-encodes to an equal command and applies without breaking an
// invariant to a small Trade of each kind: a single center, and the master and a sub-center of a
// two-center deployment (where quota commands and CenterOrders reach their rules).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/assert.h"
#include "trade/trade.h"

namespace surge::trade {
namespace {

// A shop with a little of everything, so that decoded orders, pays and cancels reach real paths:
// o.1 reserved, o.2 paid, o.3 cancelled, a campaign open during [0, 10^6) (8 units: 4 per
// center when there are two), one that opens later;
// with centers, some quota handed back and some units reported.
std::unique_ptr<Trade> SmallTrade(const std::string& center) {
  Options options{"o."};
  if (!center.empty()) {
    options.center = center;
    options.master = "m";
    options.centers = {"m", "s"};
  }
  auto trade = Trade::Create(options);
  const std::vector<Body> setup = {
      PutMerchant{"m", "M"},
      PutProduct{"a", "m", "A", "c", 100},
      PutProduct{"b", "m", "B", "c", 200},
      PutProduct{"c", "m", "C", "c", 300},
      PutInventory{"a", 10},
      PutCampaign{"ca", "b", 8, 50, 0, 1'000'000, 2, 1'000},
      PutCampaign{"cc", "c", 5, 50, 2'000'000, 3'000'000, 1, 1'000},
      PutUser{"u", "r"},
      PutUser{"v", "r"},
      PlaceOrder{"r1", "u", {{"a", 1}, {"b", 1}}},
      PlaceOrder{"r2", "v", {{"b", 2}}},
      PlaceOrder{"r3", "u", {{"a", 2}}},
      PayOrder{"o.2"},
      CancelOrder{"o.3"},
  };
  for (Body& body : std::vector<Body>(setup)) {
    SURGE_ASSERT(trade->Apply(Command{100, std::move(body)}).status.ok());
  }
  if (center.empty()) return trade;
  // The center's own return (at the sub, the master has not applied it yet), and a report.
  SURGE_ASSERT(trade->Apply(Command{100, ReturnQuota{"cc", center, 1}}).status.ok());
  const CenterOrders report{"s", {{"ca", 2, 1}}};
  SURGE_ASSERT(trade->Apply(Command{100, report, Origin{"s", 2, 1}}).status.ok());
  return trade;
}

}  // namespace
}  // namespace surge::trade

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using surge::trade::Command;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = surge::trade::DecodeCommand(bytes);
  if (!decoded.ok()) {
    SURGE_ASSERT(decoded.status().code() == surge::Code::kCorruption);
    return 0;
  }
  std::string encoded;
  surge::trade::EncodeCommand(*decoded, &encoded);
  const auto again = surge::trade::DecodeCommand(encoded);
  SURGE_ASSERT(again.ok() && *again == *decoded);

  for (const char* center : {"", "m", "s"}) {
    auto trade = surge::trade::SmallTrade(center);
    Command command = *decoded;
    command.now_ms = std::max(command.now_ms, trade->last_now_ms());  // time never goes back
    const surge::trade::Reply reply = trade->Apply(command);
    SURGE_ASSERT(reply.status.ok() || !reply.status.message().empty());
    SURGE_ASSERT(trade->CheckInvariants().ok());
    // Once applied (whatever the reply: a decoded origin is well-formed), it changes nothing.
    if (command.origin.has_value()) {
      const uint64_t hash = trade->StateHash();
      SURGE_ASSERT(trade->Apply(command).replayed);
      SURGE_ASSERT(trade->StateHash() == hash);
    }
  }
  return 0;
}
