// The multi-center rules of trade.h's "Centers and quotas": origins, the allocation table of each
// campaign, this center's quota, quota requests and returns, the units other centers reported, and
// the master's per-center view.
#include <algorithm>
#include <utility>

#include "trade/trade_state.h"

namespace surge::trade::internal {
namespace {

Status BadField(std::string_view field, std::string_view why) {
  return Status(Code::kBadField, Cat(field, " ", why));
}

Status UnknownCenter(std::string_view center) {
  return BadField("center", Cat(center, " is not a center of this deployment"));
}

// Finds the center and the campaign a quota command names; the campaign's index, or the error.
Result<uint32_t> FindCampaign(const State& state, std::string_view center,
                              std::string_view campaign, uint32_t* center_index) {
  *center_index = state.topology.Find(center);
  if (*center_index == kNoIndex) return UnknownCenter(center);
  const uint32_t index = state.campaign_ids.Find(campaign);
  if (index == kNoIndex) return Status(Code::kNotFound, Cat("campaign ", campaign, " not found"));
  return index;
}

// Moves this center's quota (its counts' stock, and so its available units) by `delta`.
void AddQuota(Counts& counts, int64_t delta) {
  SURGE_ASSERT(counts.available + delta >= 0);
  counts.stock += delta;
  counts.available += delta;
  SURGE_ASSERT(counts.available + counts.reserved + counts.sold == counts.stock);
  SURGE_ASSERT(counts.stock <= kStockMax);
}

void Allocate(Allocation& table, uint32_t center, int64_t units) {
  SURGE_ASSERT(units >= 0 && units <= table.unallocated);
  table.allocated[center] += units;
  table.unallocated -= units;
}

void Deallocate(Allocation& table, uint32_t center, int64_t units) {
  SURGE_ASSERT(units >= 0 && units <= table.allocated[center]);
  table.allocated[center] -= units;
  table.unallocated += units;
}

bool Before(const AppliedPosition& position, std::string_view center, uint8_t kind) {
  return position.center != center ? position.center < center : position.kind < kind;
}

}  // namespace

bool IsCenterId(std::string_view id) { return id.size() <= kCenterIdLengthMax && IsIdFast(id); }

Status ValidateOrigin(const Origin& origin) {
  if (!IsCenterId(origin.center)) {
    return BadField("origin.center", "must be 1 to 32 characters of [A-Za-z0-9_.:-]");
  }
  if (origin.kind < 1 || origin.kind > 3) return BadField("origin.kind", "must be 1, 2 or 3");
  if (origin.sequence < 1) return BadField("origin.sequence", "must be at least 1");
  return Status::Ok();
}

uint64_t AppliedThrough(const State& state, std::string_view center, uint8_t kind) {
  const auto found = std::lower_bound(
      state.applied.begin(), state.applied.end(), std::pair(center, kind),
      [](const AppliedPosition& p, const auto& key) { return Before(p, key.first, key.second); });
  if (found == state.applied.end() || found->center != center || found->kind != kind) return 0;
  return found->sequence;
}

void AdvanceApplied(State& state, const Origin& origin) {
  const auto found = std::lower_bound(
      state.applied.begin(), state.applied.end(), origin,
      [](const AppliedPosition& p, const Origin& key) { return Before(p, key.center, key.kind); });
  if (found != state.applied.end() && found->center == origin.center &&
      found->kind == origin.kind) {
    SURGE_ASSERT(origin.sequence > found->sequence);
    found->sequence = origin.sequence;
    return;
  }
  state.applied.insert(found, AppliedPosition{origin.center, origin.kind, origin.sequence});
}

// No center can judge what the others sold, so in a multi-center deployment an update may take
// units from the unallocated rest only, and may not tighten what orders already rely on.
Status CheckCampaignUpdateMulti(const State& state, const PutCampaign& body, uint32_t index) {
  const Allocation& table = state.allocations[index];
  const int64_t lowered = table.stock - body.stock;
  if (lowered > table.unallocated) {
    return BadField("stock", Cat("may go down by at most ", table.unallocated,
                                 ", the unallocated units of campaign ", body.id));
  }
  const int64_t limit = state.campaigns[index].per_user_limit;
  if (body.per_user_limit < limit) {
    return BadField("per_user_limit", Cat("may not go below ", limit, " in a multi-center ",
                                          "deployment (campaign ", body.id, ")"));
  }
  return Status::Ok();
}

std::vector<int64_t> SplitUnits(int64_t units, const std::vector<int64_t>& demand, size_t centers) {
  SURGE_ASSERT(centers > 0 && units >= 0 && (demand.empty() || demand.size() == centers));
  std::vector<int64_t> shares(centers);
  __int128 total = 0;  // up to kCentersMax * kStockMax; units * demand up to kStockMax^2
  for (const int64_t each : demand) total += each;
  if (total == 0) {
    for (size_t i = 0; i < centers; ++i) shares[i] = EvenShare(units, centers, i);
    return shares;
  }
  std::vector<std::pair<__int128, size_t>> remainders(centers);
  int64_t given = 0;
  for (size_t i = 0; i < centers; ++i) {
    const __int128 exact = static_cast<__int128>(units) * demand[i];
    shares[i] = static_cast<int64_t>(exact / total);
    remainders[i] = {exact % total, i};
    given += shares[i];
  }
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  SURGE_ASSERT(units - given >= 0 && units - given < static_cast<int64_t>(centers));
  for (int64_t k = 0; k < units - given; ++k) ++shares[remainders[k].second];
  return shares;
}

Status ApplyDemand(State& state, uint32_t index, const PutDemand& body) {
  std::vector<int64_t> demand(state.topology.centers.size(), 0);
  for (const CenterDemand& each : body.centers) {
    const uint32_t center = state.topology.Find(each.center);
    if (center == kNoIndex) return UnknownCenter(each.center);
    demand[center] = each.units;
  }
  state.products[index].demand = std::move(demand);
  return Status::Ok();
}

void AllocateCampaign(State& state, uint32_t index, int64_t stock, bool created) {
  const Topology& topology = state.topology;
  Allocation& table = state.allocations[index];
  if (created) {
    table = Allocation{};
    table.allocated.assign(topology.centers.size(), 0);
    table.reported.assign(topology.centers.size(), CenterUnits{});
  }
  if (stock >= table.stock) {
    // New stock is split up front only in part: the rest waits, unallocated, for the centers
    // whose demand turns out larger (RequestQuota).
    const int64_t raised = stock - table.stock;
    const int64_t percent = topology.up_front_percent;
    const int64_t up_front = raised / 100 * percent + raised % 100 * percent / 100;
    const std::vector<int64_t> shares = SplitUnits(
        up_front, state.products[state.campaigns[index].product].demand, topology.centers.size());
    for (size_t i = 0; i < topology.centers.size(); ++i) table.allocated[i] += shares[i];
    table.unallocated += raised - up_front;
    AddQuota(state.campaigns[index].counts, shares[topology.self]);
  } else {
    SURGE_ASSERT(table.stock - stock <= table.unallocated);
    table.unallocated -= table.stock - stock;
  }
  table.stock = stock;
}

Status ApplyInventoryMulti(State& state, uint32_t index, const PutInventory& body) {
  Product& product = state.products[index];
  if (body.stock < product.inventory_total) {
    return BadField("stock", Cat("may not go below ", product.inventory_total,
                                 " in a multi-center deployment (sku ", body.sku, ")"));
  }
  const Topology& topology = state.topology;
  const int64_t raised = body.stock - product.inventory_total;
  AddQuota(product.inventory, EvenShare(raised, topology.centers.size(), topology.self));
  product.inventory_total = body.stock;
  product.has_inventory = true;
  return Status::Ok();
}

Result<uint32_t> ApplyRequestQuota(State& state, const RequestQuota& body, bool from_origin) {
  uint32_t center = kNoIndex;
  SURGE_ASSIGN_OR_RETURN(const uint32_t index,
                         FindCampaign(state, body.center, body.campaign, &center));
  const Topology& topology = state.topology;
  Allocation& table = state.allocations[index];
  if (!from_origin && !topology.is_master()) {
    if (center != topology.self) {
      return BadField("center", Cat("must be ", topology.centers[topology.self],
                                    ": a center requests quota for itself"));
    }
    table.requested = body.units;
    return index;
  }
  const int64_t granted = std::min(body.units, table.unallocated);
  Allocate(table, center, granted);
  if (center == topology.self) {
    AddQuota(state.campaigns[index].counts, granted);
    table.requested = 0;
  }
  return index;
}

// Without an origin (or at the master, whose quota is its allocation), the center's own return;
// with one, the table's record of another center's.
Result<uint32_t> ApplyReturnQuota(State& state, const ReturnQuota& body, bool from_origin) {
  uint32_t center = kNoIndex;
  SURGE_ASSIGN_OR_RETURN(const uint32_t index,
                         FindCampaign(state, body.center, body.campaign, &center));
  const Topology& topology = state.topology;
  Allocation& table = state.allocations[index];
  Counts& counts = state.campaigns[index].counts;
  if (!from_origin || (topology.is_master() && center == topology.self)) {
    if (center != topology.self) {
      return BadField("center", Cat("must be ", topology.centers[topology.self],
                                    ": a center returns its own quota"));
    }
    if (body.units > counts.available) {
      return BadField("units", Cat("must be at most ", counts.available,
                                   ", the available units of campaign ", body.campaign));
    }
    AddQuota(counts, -body.units);
    if (topology.is_master()) Deallocate(table, center, body.units);
    return index;
  }
  // This center's own return, coming back from the master: its quota went down already, and must
  // stay within its allocation.
  const int64_t returnable = table.allocated[center] - (center == topology.self ? counts.stock : 0);
  if (body.units > returnable) {
    return BadField("units", Cat("must be at most ", returnable, ", what center ", body.center,
                                 " can return of campaign ", body.campaign));
  }
  Deallocate(table, center, body.units);
  return index;
}

Status ApplyCenterOrders(State& state, const CenterOrders& body) {
  const uint32_t center = state.topology.Find(body.center);
  if (center == kNoIndex) return UnknownCenter(body.center);
  std::vector<uint32_t> campaigns(body.deltas.size());
  for (size_t i = 0; i < body.deltas.size(); ++i) {
    const CampaignDelta& delta = body.deltas[i];
    campaigns[i] = state.campaign_ids.Find(delta.campaign);
    if (campaigns[i] == kNoIndex) {
      return Status(Code::kNotFound, Cat("campaign ", delta.campaign, " not found"));
    }
    const CenterUnits& units = state.allocations[campaigns[i]].reported[center];
    const int64_t reserved = units.reserved + delta.reserved;
    const int64_t sold = units.sold + delta.sold;
    if (reserved < 0 || reserved > kStockMax || sold < 0 || sold > kStockMax) {
      return BadField(Cat("deltas[", i, "]"),
                      Cat("would take the units center ", body.center, " reported of campaign ",
                          delta.campaign, " out of 0..", kStockMax));
    }
  }
  for (size_t i = 0; i < body.deltas.size(); ++i) {
    CenterUnits& units = state.allocations[campaigns[i]].reported[center];
    units.reserved += body.deltas[i].reserved;
    units.sold += body.deltas[i].sold;
  }
  return Status::Ok();
}

std::vector<Body> QuotaCommandsOf(const State& state, int64_t now_ms) {
  const Topology& topology = state.topology;
  std::vector<Body> commands;
  if (!topology.multi()) return commands;
  std::vector<uint32_t> sorted(state.campaigns.size());
  for (uint32_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
  std::sort(sorted.begin(), sorted.end(), [&](uint32_t a, uint32_t b) {
    return state.campaign_ids.id(a) < state.campaign_ids.id(b);
  });
  const std::string& self = topology.centers[topology.self];
  const auto centers = static_cast<int64_t>(topology.centers.size());
  for (const uint32_t index : sorted) {
    const Campaign& campaign = state.campaigns[index];
    const Allocation& table = state.allocations[index];
    const std::string id(state.campaign_ids.id(index));
    const bool active = campaign.starts_at_ms <= now_ms && now_ms < campaign.ends_at_ms;
    if (active && campaign.counts.available <= campaign.counts.stock / 10 &&
        table.unallocated > 0 && table.requested == 0) {
      commands.emplace_back(
          RequestQuota{id, self, std::max<int64_t>(1, table.unallocated / centers)});
    } else if (!topology.is_master() && now_ms >= campaign.ends_at_ms &&
               campaign.counts.available > 0) {
      commands.emplace_back(ReturnQuota{id, self, campaign.counts.available});
    }
  }
  return commands;
}

CampaignView MakeCampaignView(const State& state, uint32_t index) {
  const Campaign& c = state.campaigns[index];
  CampaignView view{
      std::string(state.campaign_ids.id(index)),
      std::string(state.product_ids.id(c.product)),
      c.price_cents,
      c.starts_at_ms,
      c.ends_at_ms,
      c.per_user_limit,
      c.reserve_ttl_ms,
      StockCounts{c.counts.stock, c.counts.available, c.counts.reserved, c.counts.sold},
      c.counts.stock};
  const Topology& topology = state.topology;
  if (!topology.multi()) return view;
  const Allocation& table = state.allocations[index];
  view.campaign_stock = table.stock;
  view.unallocated = table.unallocated;
  view.requested = table.requested;
  if (!topology.is_master()) return view;
  for (uint32_t i = 0; i < topology.centers.size(); ++i) {
    const bool self = i == topology.self;
    const int64_t reserved = self ? c.counts.reserved : table.reported[i].reserved;
    const int64_t sold = self ? c.counts.sold : table.reported[i].sold;
    const int64_t quota = table.allocated[i];
    // Reports may lag behind a return that the table already shows.
    view.centers.push_back(CenterQuotaView{
        topology.centers[i], quota, std::max<int64_t>(0, quota - reserved - sold), reserved, sold});
  }
  return view;
}

}  // namespace surge::trade::internal
