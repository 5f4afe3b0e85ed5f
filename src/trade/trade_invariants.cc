// CheckState: the full scan behind Trade::CheckInvariants and snapshot restore. It recomputes
// everything that Apply maintains incrementally (reserved and sold units, per-user holdings, the
// expiry heap, users' order lists) from the orders, and compares.
#include <algorithm>
#include <utility>

#include "trade/trade_state.h"

namespace surge::trade::internal {
namespace {

template <typename... Parts>
Status Violation(const Parts&... parts) {
  return Status(Code::kInternal, Cat("invariant violated: ", parts...));
}

Status CheckCounts(std::string_view what, std::string_view id, const Counts& c) {
  if (c.available < 0 || c.reserved < 0 || c.sold < 0 || c.stock > kStockMax ||
      c.available + c.reserved + c.sold != c.stock) {
    return Violation(what, " ", id, " has stock ", c.stock, " != available ", c.available,
                     " + reserved ", c.reserved, " + sold ", c.sold);
  }
  return Status::Ok();
}

Status CheckIds(std::string_view what, const IdTable& ids, size_t entities) {
  if (ids.size() != entities) return Violation(what, " table and entities differ in size");
  for (uint32_t i = 0; i < ids.size(); ++i) {
    if (!IsIdFast(ids.id(i)) || ids.Find(ids.id(i)) != i) return Violation(what, " table broken");
  }
  return Status::Ok();
}

Status CheckMasterData(const State& state) {
  SURGE_RETURN_IF_ERROR(CheckIds("merchant", state.merchant_ids, state.merchants.size()));
  SURGE_RETURN_IF_ERROR(CheckIds("user", state.user_ids, state.users.size()));
  SURGE_RETURN_IF_ERROR(CheckIds("product", state.product_ids, state.products.size()));
  SURGE_RETURN_IF_ERROR(CheckIds("campaign", state.campaign_ids, state.campaigns.size()));
  SURGE_RETURN_IF_ERROR(CheckIds("request", state.request_ids, state.requests.size()));
  if (state.user_regions.size() != state.users.size()) return Violation("user regions");
  size_t listed = 0;
  for (uint32_t p = 0; p < state.products.size(); ++p) {
    const Product& product = state.products[p];
    if (product.merchant >= state.merchants.size()) return Violation("bad merchant");
    const std::string_view sku = state.product_ids.id(p);
    SURGE_RETURN_IF_ERROR(CheckCounts("inventory of sku", sku, product.inventory));
    if (!product.has_inventory && product.inventory.stock != 0) {
      return Violation("sku ", sku, " has stock without an inventory record");
    }
    if (!product.demand.empty() && product.demand.size() != state.topology.centers.size()) {
      return Violation("sku ", sku, " has a demand of ", product.demand.size(), " centers");
    }
    for (const int64_t units : product.demand) {
      if (units < 0 || units > kStockMax) return Violation("sku ", sku, " has a bad demand");
    }
    uint32_t previous = kNoIndex;
    for (const uint32_t c : product.campaigns) {
      if (c >= state.campaigns.size() || state.campaigns[c].product != p) {
        return Violation("campaign list of sku ", sku);
      }
      if (previous != kNoIndex &&
          state.campaigns[previous].ends_at_ms > state.campaigns[c].starts_at_ms) {
        return Violation("campaigns ", state.campaign_ids.id(previous), " and ",
                         state.campaign_ids.id(c), " overlap");
      }
      previous = c;
      ++listed;
    }
  }
  if (listed != state.campaigns.size()) return Violation("a campaign is not listed by its sku");
  for (uint32_t c = 0; c < state.campaigns.size(); ++c) {
    const Campaign& campaign = state.campaigns[c];
    const std::string_view id = state.campaign_ids.id(c);
    if (campaign.product >= state.products.size() || campaign.starts_at_ms >= campaign.ends_at_ms ||
        campaign.per_user_limit < 1) {
      return Violation("campaign ", id, " has a bad sku, window or limit");
    }
    SURGE_RETURN_IF_ERROR(CheckCounts("campaign", id, campaign.counts));
  }
  return Status::Ok();
}

using HoldingMap = absl::flat_hash_map<uint64_t, int64_t>;  // (user << 32 | campaign) -> units

Status CheckOrder(const State& state, uint32_t index, std::vector<Counts>* product_units,
                  std::vector<Counts>* campaign_units, HoldingMap* holdings) {
  const Order& order = state.orders[index];
  if (order.user >= state.users.size() || order.items_count == 0 || order.items_count > kItemsMax ||
      order.items_begin + order.items_count > state.items.size()) {
    return Violation("order ", index + 1, " is malformed");
  }
  const int64_t ttl_ms = order.expires_at_ms - order.created_at_ms;
  const int64_t created_min = index == 0 ? 0 : state.orders[index - 1].created_at_ms;
  if (order.created_at_ms < created_min || order.created_at_ms > state.last_now_ms || ttl_ms < 1 ||
      ttl_ms > kReserveTtlMsMax) {
    return Violation("order ", index + 1, " has bad times");
  }
  const bool reserved = order.status == OrderStatus::kReserved;
  const bool holds = reserved || order.status == OrderStatus::kPaid;
  if (reserved && order.expires_at_ms <= state.last_now_ms) {
    return Violation("order ", index + 1, " is reserved past its expiry");
  }
  int64_t total = 0;
  for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
    const Item& item = state.items[i];
    if (item.product >= state.products.size() ||
        (item.campaign != kNoIndex && item.campaign >= state.campaigns.size()) ||
        item.quantity < 1 || item.quantity > kQuantityMax) {
      return Violation("order ", index + 1, " has a malformed item");
    }
    for (uint32_t j = order.items_begin; j < i; ++j) {
      if (state.items[j].product == item.product) {
        return Violation("order ", index + 1, " has a SKU twice");
      }
    }
    total += item.quantity * item.price_cents;
    if (!holds) continue;
    Counts* units = &(*product_units)[item.product];
    if (item.campaign != kNoIndex) {
      // A campaign holding units cannot move to another SKU.
      if (state.campaigns[item.campaign].product != item.product) {
        return Violation("order ", index + 1, " holds units of a campaign of another sku");
      }
      units = &(*campaign_units)[item.campaign];
      (*holdings)[(uint64_t{order.user} << 32) | item.campaign] += item.quantity;
    }
    (reserved ? units->reserved : units->sold) += item.quantity;
  }
  if (total != order.total_cents) return Violation("order ", index + 1, " total is wrong");
  return Status::Ok();
}

// `holdings` (from the orders) is consumed: each stored holding takes its entry out, so a
// holding stored twice finds nothing the second time, and any entry left over is missing.
Status CheckHoldings(const State& state, HoldingMap holdings) {
  std::vector<uint32_t> spilled(state.users.size());
  Status status = Status::Ok();
  state.ForEachHolding([&](uint32_t u, uint32_t campaign, int64_t units) {
    if (!status.ok()) return;
    if (u >= state.users.size()) {
      status = Violation("a holding of an unknown user");
      return;
    }
    const std::string_view id = state.user_ids.id(u);
    const uint64_t key = State::SpillKey(u, campaign);
    const auto found = holdings.find(key);
    if (campaign >= state.campaigns.size() || found == holdings.end() || found->second != units) {
      status = Violation("holdings of user ", id, " differ from the orders (or repeat one)");
      return;
    }
    holdings.erase(found);
    const Campaign& c = state.campaigns[campaign];
    if (units > c.per_user_limit) {
      status = Violation("user ", id, " holds ", units, " units of campaign ",
                         state.campaign_ids.id(campaign), " over its limit ", c.per_user_limit);
    }
  });
  SURGE_RETURN_IF_ERROR(status);
  if (!holdings.empty()) return Violation("a holding is missing");
  for (const auto& [key, units] : state.spilled_holdings) ++spilled[key >> 32];
  for (uint32_t u = 0; u < state.users.size(); ++u) {
    if (spilled[u] != state.users[u].spilled) {
      return Violation("user ", state.user_ids.id(u), " miscounts its spilled holdings");
    }
    const std::optional<std::string_view> inline_id = state.users[u].InlineId();
    const bool fits = state.user_ids.id(u).size() <= User::kUserIdInline;
    if (inline_id.has_value() != fits || (fits && *inline_id != state.user_ids.id(u))) {
      return Violation("user ", state.user_ids.id(u), " keeps another id in its record");
    }
  }
  return Status::Ok();
}

Status CheckExpiry(const State& state, size_t reserved_count) {
  if (!state.expiry.WellFormed()) return Violation("the expiry queue is malformed");
  size_t queued_reserved = 0;
  bool ok = true;
  std::vector<bool> queued(state.orders.size());
  state.expiry.ForEach([&](int64_t ttl_ms, const Expiry& expiry) {
    if (expiry.order >= state.orders.size() || queued[expiry.order]) {
      ok = false;
      return;
    }
    queued[expiry.order] = true;
    const Order& order = state.orders[expiry.order];
    if (order.status != OrderStatus::kReserved) return;
    ok &= order.expires_at_ms == expiry.expires_at_ms &&
          order.expires_at_ms - order.created_at_ms == ttl_ms;
    ++queued_reserved;
  });
  if (!ok) return Violation("the expiry queue disagrees with the orders");
  if (queued_reserved != reserved_count) return Violation("a reserved order is not queued");
  if (!state.expiry.empty() &&
      state.orders[state.expiry.Front().order].status != OrderStatus::kReserved) {
    return Violation("the expiry queue's front is not reserved");
  }
  return Status::Ok();
}

Status CheckOrders(const State& state) {
  std::vector<Counts> product_units(state.products.size());
  std::vector<Counts> campaign_units(state.campaigns.size());
  HoldingMap holdings;
  size_t reserved_count = 0;
  for (uint32_t i = 0; i < state.orders.size(); ++i) {
    SURGE_RETURN_IF_ERROR(CheckOrder(state, i, &product_units, &campaign_units, &holdings));
    if (state.orders[i].status == OrderStatus::kReserved) ++reserved_count;
  }
  for (size_t p = 0; p < state.products.size(); ++p) {
    const Counts& stored = state.products[p].inventory;
    if (stored.reserved != product_units[p].reserved || stored.sold != product_units[p].sold) {
      return Violation("sku ", state.product_ids.id(p), " counts differ from its orders");
    }
  }
  for (size_t c = 0; c < state.campaigns.size(); ++c) {
    const Counts& stored = state.campaigns[c].counts;
    if (stored.reserved != campaign_units[c].reserved || stored.sold != campaign_units[c].sold) {
      return Violation("campaign ", state.campaign_ids.id(c), " counts differ from its orders");
    }
  }
  SURGE_RETURN_IF_ERROR(CheckHoldings(state, std::move(holdings)));
  return CheckExpiry(state, reserved_count);
}

Status CheckLinks(const State& state) {
  size_t linked = 0;
  for (uint32_t u = 0; u < state.users.size(); ++u) {
    uint32_t bound = kNoIndex;
    for (uint32_t i = state.users[u].last_order; i != kNoIndex;
         i = state.orders[i].previous_of_user) {
      if (i >= bound || i >= state.orders.size() || state.orders[i].user != u) {
        return Violation("order list of a user");
      }
      bound = i;
      ++linked;
    }
  }
  if (linked != state.orders.size()) return Violation("an order is missing from its user's list");
  size_t reserved_requests = 0;
  for (uint32_t r = 0; r < state.requests.size(); ++r) {
    const RequestRecord& record = state.requests[r];
    if (record.outcome != Outcome::kReserved) {
      if (record.target != kNoIndex && record.target >= state.campaigns.size()) {
        return Violation("request ", state.request_ids.id(r), " names an unknown campaign");
      }
      continue;
    }
    ++reserved_requests;
    if (record.target >= state.orders.size() || state.orders[record.target].request != r) {
      return Violation("request ", state.request_ids.id(r), " does not lead to its order");
    }
  }
  if (reserved_requests != state.orders.size()) return Violation("orders without their requests");
  return Status::Ok();
}

Status CheckApplied(const State& state) {
  for (size_t i = 0; i < state.applied.size(); ++i) {
    const AppliedPosition& position = state.applied[i];
    if (!ValidateOrigin(Origin{position.center, position.kind, position.sequence}).ok()) {
      return Violation("a malformed applied position");
    }
    if (i > 0) {
      const AppliedPosition& before = state.applied[i - 1];
      if (std::pair(before.center, before.kind) >= std::pair(position.center, position.kind)) {
        return Violation("applied positions are not sorted, or repeat");
      }
    }
  }
  return Status::Ok();
}

// One campaign's table against this center's counts (quota == counts.stock).
Status CheckAllocation(const State& state, uint32_t index) {
  const Topology& topology = state.topology;
  const Allocation& table = state.allocations[index];
  const std::string_view id = state.campaign_ids.id(index);
  if (table.allocated.size() != topology.centers.size() ||
      table.reported.size() != topology.centers.size()) {
    return Violation("campaign ", id, " has a table of another topology");
  }
  int64_t allocated = 0;
  for (const int64_t units : table.allocated) {
    if (units < 0) return Violation("campaign ", id, " allocates negative units");
    allocated += units;
  }
  if (table.stock > kStockMax || table.unallocated < 0 ||
      allocated + table.unallocated != table.stock) {
    return Violation("campaign ", id, " has stock ", table.stock, " != allocated ", allocated,
                     " + unallocated ", table.unallocated);
  }
  const int64_t quota = state.campaigns[index].counts.stock;
  const int64_t own = table.allocated[topology.self];
  if (topology.is_master() ? quota != own : quota > own) {
    return Violation("campaign ", id, " has quota ", quota, " beside its allocation ", own);
  }
  if (table.requested < 0 || table.requested > kStockMax ||
      (topology.is_master() && table.requested != 0)) {
    return Violation("campaign ", id, " has a bad outstanding request");
  }
  for (const CenterUnits& units : table.reported) {
    if (units.reserved < 0 || units.sold < 0 || units.reserved > kStockMax ||
        units.sold > kStockMax) {
      return Violation("campaign ", id, " has bad reported units");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckQuotas(const State& state) {
  SURGE_RETURN_IF_ERROR(CheckApplied(state));
  const bool multi = state.topology.multi();
  for (uint32_t p = 0; p < state.products.size(); ++p) {
    const Product& product = state.products[p];
    const bool total_ok = multi ? product.inventory.stock <= product.inventory_total &&
                                      product.inventory_total <= kStockMax &&
                                      (product.has_inventory || product.inventory_total == 0)
                                : product.inventory_total == 0;
    if (!total_ok) return Violation("sku ", state.product_ids.id(p), " has a bad total stock");
  }
  if (!multi) {
    if (!state.allocations.empty()) return Violation("allocation tables in a single center");
    return Status::Ok();
  }
  if (state.allocations.size() != state.campaigns.size()) {
    return Violation("a campaign without its allocation table");
  }
  for (uint32_t c = 0; c < state.campaigns.size(); ++c) {
    SURGE_RETURN_IF_ERROR(CheckAllocation(state, c));
  }
  return Status::Ok();
}

Status CheckState(const State& state) {
  SURGE_RETURN_IF_ERROR(CheckMasterData(state));
  SURGE_RETURN_IF_ERROR(CheckQuotas(state));
  SURGE_RETURN_IF_ERROR(CheckOrders(state));
  return CheckLinks(state);
}

}  // namespace surge::trade::internal
