// The demo catalogue of `surge up`: a merchant, ten products in four categories with regular
// stock, users u1..u100, and a flash sale on one phone that is live for 24 hours from the first
// start, with small stock and a per-user limit of 2.
#pragma once

#include <cstdint>
#include <string>

#include "center/center.h"
#include "common/status.h"

namespace surge::cli {

inline constexpr std::string_view kDemoCampaignId = "flash1";
inline constexpr std::string_view kDemoCampaignSku = "phone-x1";

struct DemoState {
  bool catalogue_loaded = false;  // false: it existed already (a restart)
  bool campaign_created = false;
  int64_t campaign_starts_at_ms = 0;
  int64_t campaign_ends_at_ms = 0;
};

// Loads what is missing through Center::Submit, as a client's PUTs would: the catalogue only if
// the demo merchant does not exist yet (so a restart never resets stock someone changed), the
// campaign only if it does not exist (so its window is not moved). Waits for each reply.
Result<DemoState> LoadDemo(center::Center& center, int64_t now_ms);

// Prints ready-to-paste curl lines for `base_url` and "Ctrl-C to stop".
void PrintDemoGuide(const std::string& base_url, const DemoState& state, int64_t now_ms);

}  // namespace surge::cli
