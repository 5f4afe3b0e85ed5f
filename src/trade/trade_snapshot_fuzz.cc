// Fuzzes snapshot restore. The first input byte picks the mode:
//   bit 0 clear: the rest is a snapshot body; its checksum is appended here, so that the fuzzer
//         explores the decoder rather than the CRC;
//   bit 0 set: the rest is a list of (offset, xor) byte pairs applied to a real snapshot of a small
//         shop (then the checksum is fixed), so that damage lands deep inside valid structure;
//   bit 1: the Trade (and the shop) is a single center, or the master of three centers (with
//         allocation tables, reports and applied positions in its snapshot).
// Restore either fails with corruption or invalid_argument and leaves the state alone, or yields a
// state that keeps every invariant and whose own snapshot restores to itself.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/coding.h"
#include "trade/trade.h"

namespace {

using surge::trade::Body;
using surge::trade::Command;

surge::trade::Options OptionsOf(bool multi) {
  surge::trade::Options options{"o."};
  if (multi) {
    options.center = "m";
    options.master = "m";
    options.centers = {"m", "s1", "s2"};
  }
  return options;
}

// A snapshot body (no checksum) with every kind of entity, and orders in every state.
std::string MakeShopSnapshotBody(bool multi) {
  auto trade = surge::trade::Trade::Create(OptionsOf(multi));
  {
    const std::vector<Body> setup = {
        surge::trade::PutMerchant{"m", "M"},
        surge::trade::PutProduct{"a", "m", "A", "c", 100},
        surge::trade::PutProduct{"b", "m", "B", "c", 200},
        surge::trade::PutInventory{"a", 10},
        surge::trade::PutCampaign{"ca", "b", 5, 50, 0, 1'000'000, 2, 1'000},
        surge::trade::PutCampaign{"cb", "b", 5, 50, 2'000'000, 3'000'000, 1, 100},
        surge::trade::PutUser{"u", "r"},
        surge::trade::PutUser{"v", "r"},
        surge::trade::PlaceOrder{"r1", "u", {{"a", 1}, {"b", 1}}},
        surge::trade::PlaceOrder{"r2", "v", {{"b", 2}}},
        surge::trade::PlaceOrder{"r3", "u", {{"a", 2}}},
        surge::trade::PlaceOrder{"r4", "u", {{"b", 9}}},  // sold_out, remembered
        surge::trade::PayOrder{"o.2"},
        surge::trade::CancelOrder{"o.3"},
    };
    for (const Body& body : setup) trade->Apply(Command{100, body});
  }
  if (multi) {
    trade->Apply(Command{100, surge::trade::ReturnQuota{"ca", "m", 1}});
    trade->Apply(Command{100, surge::trade::CenterOrders{"s1", {{"cb", 1, 0}}},
                         surge::trade::Origin{"s1", 2, 5}});
    trade->Apply(Command{100, surge::trade::PutInventory{"a", 12}});
    trade->Apply(Command{100, surge::trade::PutDemand{"b", {{"s1", 3}, {"m", 1}}}});
  }
  std::string snapshot = trade->Snapshot();
  snapshot.resize(snapshot.size() - 4);
  return snapshot;
}

const std::string& ShopSnapshotBody(bool multi) {
  static const std::string single = MakeShopSnapshotBody(false);
  static const std::string master = MakeShopSnapshotBody(true);
  return multi ? master : single;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string snapshot;
  const bool multi = (data[0] & 2) != 0;
  if ((data[0] & 1) == 0) {
    snapshot.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    snapshot = ShopSnapshotBody(multi);
    for (size_t i = 1; i + 1 < size; i += 2) {
      snapshot[data[i] % snapshot.size()] ^= static_cast<char>(data[i + 1]);
    }
  }
  const uint32_t crc = surge::Crc32c(snapshot);
  snapshot.append(reinterpret_cast<const char*>(&crc), 4);

  auto trade = surge::trade::Trade::Create(OptionsOf(multi));
  const uint64_t empty_hash = trade->StateHash();
  const surge::Status status = trade->Restore(snapshot);
  if (!status.ok()) {
    SURGE_ASSERT(status.code() == surge::Code::kCorruption ||
                 status.code() == surge::Code::kInvalidArgument);
    SURGE_ASSERT(trade->StateHash() == empty_hash);
    return 0;
  }
  SURGE_ASSERT(trade->CheckInvariants().ok());
  const std::string canonical = trade->Snapshot();
  SURGE_ASSERT(trade->Restore(canonical).ok());
  SURGE_ASSERT(trade->Snapshot() == canonical);
  // The restored state keeps working.
  trade->Apply(Command{trade->last_now_ms(), surge::trade::PlaceOrder{"fz", "u", {{"a", 1}}}});
  const int64_t later = std::min(trade->last_now_ms() + 500, surge::trade::kTimeMsMax);
  trade->Apply(Command{later, surge::trade::Tick{}});
  SURGE_ASSERT(trade->CheckInvariants().ok());
  return 0;
}
