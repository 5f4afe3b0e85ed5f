// The demo catalogue of `surge up`: a merchant, ten products in four categories with regular
// stock, users u1..u100, and a flash sale on one phone that is live for 24 hours from the first
// start, with small stock and a per-user limit of 2. It is loaded through the HTTP API, exactly as
// a client's PUTs would be: through the gateway, which forwards master data to the master.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/http.h"
#include "topology/topology.h"

namespace surge::cli {

inline constexpr std::string_view kDemoMerchantId = "demo";
inline constexpr std::string_view kDemoCampaignId = "flash1";
inline constexpr std::string_view kDemoCampaignSku = "phone-x1";
inline constexpr int kDemoUsers = 100;  // u1..u100

struct DemoState {
  bool catalogue_loaded = false;  // false: it existed already (a restart)
  bool campaign_created = false;
  int64_t campaign_starts_at_ms = 0;
  int64_t campaign_ends_at_ms = 0;
};

// Loads what is missing with PUTs through `client` (the gateway or the master), asking with GETs
// first so that a restart never resets anything: the catalogue only if its last user (u100) does
// not exist yet (so stock someone changed is kept, and a load cut short is completed), the
// campaign only if it does not exist (so its window does not move). Connection errors and 503
// answers (a center that has just started) are retried for a few seconds. Errors: unavailable,
// naming the request and the answer it got.
Result<DemoState> LoadDemo(http::Client& client, int64_t now_ms);

// Prints ready-to-paste curl lines against `base_url` (the gateway): orders of a user whose home
// center in `topology` is the master, the campaign, the topology, the user's orders, health.
void PrintDemoGuide(const std::string& base_url, const topology::Topology& topology,
                    const DemoState& state, int64_t now_ms);

}  // namespace surge::cli
