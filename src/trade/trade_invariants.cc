// CheckState: the full scan behind Trade::CheckInvariants and snapshot restore. It recomputes
// everything that Apply maintains incrementally (reserved and sold units, per-user holdings, the
// expiry heap, users' order lists) from the orders, and compares.
#include <algorithm>

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

template <typename Entity, typename IdOf>
Status CheckIndex(std::string_view what, const IdMap& index, const std::vector<Entity>& entities,
                  IdOf id_of) {
  if (index.size() != entities.size()) return Violation(what, " index size differs");
  for (uint32_t i = 0; i < entities.size(); ++i) {
    const auto found = index.find(id_of(entities[i]));
    if (found == index.end() || found->second != i) return Violation(what, " index broken");
  }
  return Status::Ok();
}

Status CheckMasterData(const State& state) {
  SURGE_RETURN_IF_ERROR(CheckIndex("merchant", state.merchant_index, state.merchants,
                                   [](const Merchant& m) { return m.id; }));
  SURGE_RETURN_IF_ERROR(
      CheckIndex("user", state.user_index, state.users, [](const User& u) { return u.id; }));
  SURGE_RETURN_IF_ERROR(CheckIndex("product", state.product_index, state.products,
                                   [](const Product& p) { return p.sku; }));
  SURGE_RETURN_IF_ERROR(CheckIndex("campaign", state.campaign_index, state.campaigns,
                                   [](const Campaign& c) { return c.id; }));
  size_t listed = 0;
  for (uint32_t p = 0; p < state.products.size(); ++p) {
    const Product& product = state.products[p];
    if (product.merchant >= state.merchants.size()) return Violation("bad merchant");
    SURGE_RETURN_IF_ERROR(CheckCounts("inventory of sku", product.sku, product.inventory));
    if (!product.has_inventory && product.inventory.stock != 0) {
      return Violation("sku ", product.sku, " has stock without an inventory record");
    }
    const Campaign* previous = nullptr;
    for (const uint32_t c : product.campaigns) {
      if (c >= state.campaigns.size() || state.campaigns[c].product != p) {
        return Violation("campaign list of sku ", product.sku);
      }
      const Campaign& campaign = state.campaigns[c];
      if (previous != nullptr && previous->ends_at_ms > campaign.starts_at_ms) {
        return Violation("campaigns ", previous->id, " and ", campaign.id, " overlap");
      }
      previous = &campaign;
      ++listed;
    }
  }
  if (listed != state.campaigns.size()) return Violation("a campaign is not listed by its sku");
  for (const Campaign& campaign : state.campaigns) {
    if (campaign.starts_at_ms >= campaign.ends_at_ms || campaign.per_user_limit < 1) {
      return Violation("campaign ", campaign.id, " has a bad window or limit");
    }
    SURGE_RETURN_IF_ERROR(CheckCounts("campaign", campaign.id, campaign.counts));
  }
  return Status::Ok();
}

Status CheckOrder(const State& state, uint32_t index, std::vector<Counts>* product_units,
                  std::vector<Counts>* campaign_units,
                  absl::flat_hash_map<uint64_t, int64_t>* holdings) {
  const Order& order = state.orders[index];
  if (order.user >= state.users.size() || order.items_count == 0 || order.items_count > kItemsMax ||
      order.items_begin + order.items_count > state.items.size()) {
    return Violation("order ", index + 1, " is malformed");
  }
  const int64_t ttl_ms = order.expires_at_ms - order.created_at_ms;
  if (order.created_at_ms > state.last_now_ms || ttl_ms < 1 || ttl_ms > kReserveTtlMsMax) {
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
      (*holdings)[HoldingKey(order.user, item.campaign)] += item.quantity;
    }
    (reserved ? units->reserved : units->sold) += item.quantity;
  }
  if (total != order.total_cents) return Violation("order ", index + 1, " total is wrong");
  return Status::Ok();
}

Status CheckOrders(const State& state) {
  std::vector<Counts> product_units(state.products.size());
  std::vector<Counts> campaign_units(state.campaigns.size());
  absl::flat_hash_map<uint64_t, int64_t> holdings;
  size_t reserved_count = 0;
  for (uint32_t i = 0; i < state.orders.size(); ++i) {
    SURGE_RETURN_IF_ERROR(CheckOrder(state, i, &product_units, &campaign_units, &holdings));
    if (state.orders[i].status == OrderStatus::kReserved) ++reserved_count;
  }
  for (size_t p = 0; p < state.products.size(); ++p) {
    const Counts& stored = state.products[p].inventory;
    if (stored.reserved != product_units[p].reserved || stored.sold != product_units[p].sold) {
      return Violation("sku ", state.products[p].sku, " counts differ from its orders");
    }
  }
  for (size_t c = 0; c < state.campaigns.size(); ++c) {
    const Counts& stored = state.campaigns[c].counts;
    if (stored.reserved != campaign_units[c].reserved || stored.sold != campaign_units[c].sold) {
      return Violation("campaign ", state.campaigns[c].id, " counts differ from its orders");
    }
  }
  if (holdings != state.holdings) return Violation("per-user holdings differ from the orders");
  for (const auto& [key, units] : holdings) {
    const Campaign& campaign = state.campaigns[static_cast<uint32_t>(key)];
    if (units > campaign.per_user_limit) {
      return Violation("user ", state.users[key >> 32].id, " holds ", units, " units of campaign ",
                       campaign.id, " over its limit ", campaign.per_user_limit);
    }
  }
  size_t heap_reserved = 0;
  for (const Expiry& expiry : state.expiry_heap) {
    if (expiry.order >= state.orders.size()) return Violation("expiry of an unknown order");
    const Order& order = state.orders[expiry.order];
    if (order.status == OrderStatus::kReserved) {
      if (order.expires_at_ms != expiry.expires_at_ms) return Violation("expiry time differs");
      ++heap_reserved;
    }
  }
  if (heap_reserved != reserved_count) return Violation("a reserved order is not in the heap");
  if (!state.expiry_heap.empty() &&
      state.orders[state.expiry_heap.front().order].status != OrderStatus::kReserved) {
    return Violation("the expiry heap's top is not reserved");
  }
  return Status::Ok();
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
  for (const auto& [request_id, record] : state.requests) {
    if (record.outcome != Outcome::kReserved) {
      if (record.target != kNoIndex && record.target >= state.campaigns.size()) {
        return Violation("request ", request_id, " names an unknown campaign");
      }
      continue;
    }
    ++reserved_requests;
    if (record.target >= state.orders.size() ||
        state.orders[record.target].request_id != request_id) {
      return Violation("request ", request_id, " does not lead to its order");
    }
  }
  if (reserved_requests != state.orders.size()) return Violation("orders without their requests");
  return Status::Ok();
}

}  // namespace

Status CheckState(const State& state) {
  SURGE_RETURN_IF_ERROR(CheckMasterData(state));
  SURGE_RETURN_IF_ERROR(CheckOrders(state));
  return CheckLinks(state);
}

}  // namespace surge::trade::internal
