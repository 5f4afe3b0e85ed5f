// Parse must never crash or assert, whatever the bytes. What it accepts must also hold together:
// every slice has a home, the canonical TOML reads back to the same topology, and the JSON
// rendering completes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "topology/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const surge::Result<surge::topology::Topology> topology =
      surge::topology::Parse(text, "fuzz.toml");
  if (!topology.ok()) {
    SURGE_ASSERT(!topology.status().message().empty());
    return 0;
  }
  SURGE_ASSERT(topology->IsMaster(topology->master_id()));
  uint32_t slices_seen = 0;
  for (const surge::topology::Center& center : topology->centers()) {
    for (const surge::topology::SliceRange& range : center.slices) {
      SURGE_ASSERT(range.first <= range.last && range.last < topology->slice_count());
      SURGE_ASSERT(&topology->CenterOfSlice(range.first) == &center);
      slices_seen += range.last - range.first + 1;
    }
  }
  SURGE_ASSERT(slices_seen == topology->slice_count());
  const surge::Result<surge::topology::Topology> again =
      surge::topology::Parse(topology->ToToml(), "canonical.toml");
  SURGE_ASSERT(again.ok() && *again == *topology);
  SURGE_ASSERT(!topology->ToJson().empty());
  SURGE_ASSERT(topology->SliceOf(text) < topology->slice_count());
  return 0;
}
