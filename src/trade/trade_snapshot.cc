// Snapshots of the trade state, and the full invariant scan that validates them.
//
// Format (version 3), all integers LEB128 varints unless noted:
//   magic "STRD" (fixed32), version (u8), order_id_prefix (string),
//   centers: count, then in topology order: center id (none: a single-center deployment),
//   last_now_ms, events recorded
//   applied:   count, then sorted by (center, kind): center, kind (u8), sequence
//   merchants: count, then sorted by id: id, name
//   users:     count, then sorted by id: id, region
//   products:  count, then sorted by sku: sku, merchant rank, name, category, price_cents,
//              has_inventory (u8), [inventory stock, [multi-center: the SKU's total stock]],
//              [multi-center, version 3: demand count (0 or the centers'), demand per center]
//   campaigns: count, then sorted by id: id, product rank, price_cents, starts_at, ends_at,
//              per_user_limit, reserve_ttl_ms, stock (this center's quota),
//              [multi-center: the campaign's stock, allocated per center, requested,
//              reported reserved and sold per center]
//   orders:    count, then by counter: user rank, status (u8), created_at, expires_at,
//              item count, items: product rank, campaign rank + 1 (0: regular), quantity, price
//   requests:  count, then sorted by request id: request id, outcome (u8), then for a reserved
//              order its index; else fingerprint (fixed64), item (u8), campaign rank + 1 (or 0)
//   crc32c of everything before (fixed32)
// A "rank" is an entity's position in its sorted list, so the bytes do not depend on the order in
// which entities were created. Everything derivable (reserved and sold counts, per-user holdings,
// order totals and request ids of orders, fingerprints of reserved requests, the expiry queue) is
// rebuilt on restore and checked rather than stored (so is each table's unallocated rest).
// Version 1 (no centers, no events count, no applied section) is read too: a single-center
// snapshot; so is version 2 (no demand).
#include <algorithm>
#include <cstring>

#include "common/coding.h"
#include "common/ids.h"
#include "trade/trade_state.h"

namespace surge::trade::internal {
namespace {

constexpr uint32_t kSnapshotMagic = 0x44525453;  // "STRD" read as little-endian
constexpr uint8_t kSnapshotVersion = 3;
constexpr uint8_t kSnapshotVersionNoDemand = 2;
constexpr uint8_t kSnapshotVersionSingleCenter = 1;  // before centers and origins

// Indexes of `ids` sorted by id, and the inverse: each index's rank.
std::vector<uint32_t> SortedById(const IdTable& ids) {
  std::vector<uint32_t> order(ids.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return ids.id(a) < ids.id(b); });
  return order;
}

std::vector<uint32_t> RanksOf(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> ranks(order.size());
  for (uint32_t rank = 0; rank < order.size(); ++rank) ranks[order[rank]] = rank;
  return ranks;
}

void PutInt(Encoder& e, int64_t value) {
  SURGE_ASSERT(value >= 0);
  e.Varint(static_cast<uint64_t>(value));
}

uint64_t RankPlusOne(const std::vector<uint32_t>& ranks, uint32_t index) {
  return index == kNoIndex ? 0 : uint64_t{ranks[index]} + 1;
}

class SnapshotWriter {
 public:
  SnapshotWriter(const State& state, std::string* out) : state_(state), e_(out) {}

  void Write(std::string_view prefix) {
    e_.Fixed32(kSnapshotMagic);
    e_.U8(kSnapshotVersion);
    e_.String(prefix);
    e_.Varint(state_.topology.centers.size());
    for (const std::string& center : state_.topology.centers) e_.String(center);
    PutInt(e_, state_.last_now_ms);
    e_.Varint(state_.events_recorded);
    e_.Varint(state_.applied.size());
    for (const AppliedPosition& position : state_.applied) {
      e_.String(position.center);
      e_.U8(position.kind);
      e_.Varint(position.sequence);
    }
    WriteMasterData();
    WriteOrders();
    WriteRequests();
    e_.Fixed32(Crc32c(*e_.out()));
  }

 private:
  void WriteMasterData() {
    const auto merchants = SortedById(state_.merchant_ids);
    const auto users = SortedById(state_.user_ids);
    const auto products = SortedById(state_.product_ids);
    const auto campaigns = SortedById(state_.campaign_ids);
    const auto merchant_ranks = RanksOf(merchants);
    user_ranks_ = RanksOf(users);
    product_ranks_ = RanksOf(products);
    campaign_ranks_ = RanksOf(campaigns);
    e_.Varint(merchants.size());
    for (const uint32_t i : merchants) {
      e_.String(state_.merchant_ids.id(i));
      e_.String(state_.merchants[i].name);
    }
    e_.Varint(users.size());
    for (const uint32_t i : users) {
      e_.String(state_.user_ids.id(i));
      e_.String(state_.user_regions[i]);
    }
    e_.Varint(products.size());
    for (const uint32_t i : products) {
      const Product& p = state_.products[i];
      e_.String(state_.product_ids.id(i));
      e_.Varint(merchant_ranks[p.merchant]);
      e_.String(p.name);
      e_.String(p.category);
      PutInt(e_, p.price_cents);
      e_.U8(p.has_inventory ? 1 : 0);
      if (p.has_inventory) PutInt(e_, p.inventory.stock);
      if (p.has_inventory && state_.topology.multi()) PutInt(e_, p.inventory_total);
      if (state_.topology.multi()) {
        e_.Varint(p.demand.size());
        for (const int64_t units : p.demand) PutInt(e_, units);
      }
    }
    e_.Varint(campaigns.size());
    for (const uint32_t i : campaigns) {
      const Campaign& c = state_.campaigns[i];
      e_.String(state_.campaign_ids.id(i));
      e_.Varint(product_ranks_[c.product]);
      for (const int64_t value : {c.price_cents, c.starts_at_ms, c.ends_at_ms, c.per_user_limit,
                                  c.reserve_ttl_ms, c.counts.stock}) {
        PutInt(e_, value);
      }
      if (state_.topology.multi()) WriteAllocation(state_.allocations[i]);
    }
  }

  void WriteAllocation(const Allocation& table) {
    PutInt(e_, table.stock);
    for (const int64_t units : table.allocated) PutInt(e_, units);
    PutInt(e_, table.requested);
    for (const CenterUnits& units : table.reported) {
      PutInt(e_, units.reserved);
      PutInt(e_, units.sold);
    }
  }

  void WriteOrders() {
    e_.Varint(state_.orders.size());
    for (const Order& order : state_.orders) {
      e_.Varint(user_ranks_[order.user]);
      e_.U8(static_cast<uint8_t>(order.status));
      PutInt(e_, order.created_at_ms);
      PutInt(e_, order.expires_at_ms);
      e_.Varint(order.items_count);
      for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
        const Item& item = state_.items[i];
        e_.Varint(product_ranks_[item.product]);
        e_.Varint(RankPlusOne(campaign_ranks_, item.campaign));
        PutInt(e_, item.quantity);
        PutInt(e_, item.price_cents);
      }
    }
  }

  void WriteRequests() {
    const auto requests = SortedById(state_.request_ids);
    e_.Varint(requests.size());
    for (const uint32_t i : requests) {
      const RequestRecord& record = state_.requests[i];
      e_.String(state_.request_ids.id(i));
      e_.U8(static_cast<uint8_t>(record.outcome));
      if (record.outcome == Outcome::kReserved) {
        e_.Varint(record.target);
        continue;
      }
      e_.Fixed64(record.fingerprint);
      e_.U8(record.item);
      e_.Varint(RankPlusOne(campaign_ranks_, record.target));
    }
  }

  const State& state_;
  Encoder e_;
  std::vector<uint32_t> user_ranks_;
  std::vector<uint32_t> product_ranks_;
  std::vector<uint32_t> campaign_ranks_;
};

Status Corrupt(std::string_view what) {
  return Status(Code::kCorruption, Cat("trade snapshot: ", what));
}

// Reads the sections in order into a fresh State; every method returns the first problem found.
class SnapshotReader {
 public:
  SnapshotReader(std::string_view body, State* state) : d_(body), state_(*state) {}

  Status ReadHeader(std::string_view prefix);
  Status ReadApplied();
  Status ReadMasterData();
  Status ReadOrders();
  Status ReadRequests();
  Status Finish();

 private:
  bool Int(int64_t* value, int64_t low, int64_t high) {
    uint64_t raw = 0;
    if (!d_.Varint(&raw) || raw > static_cast<uint64_t>(high)) return false;
    *value = static_cast<int64_t>(raw);
    return *value >= low;
  }
  // An index below `limit`, written with `offset` (1 when 0 means "none").
  bool Index(uint32_t* index, size_t limit, uint64_t offset = 0) {
    uint64_t raw = 0;
    if (!d_.Varint(&raw) || raw < offset || raw - offset >= limit) return false;
    *index = static_cast<uint32_t>(raw - offset);
    return true;
  }
  bool OptionalIndex(uint32_t* index, size_t limit) {
    uint64_t raw = 0;
    if (!d_.Varint(&raw) || raw > limit) return false;
    *index = raw == 0 ? kNoIndex : static_cast<uint32_t>(raw - 1);
    return true;
  }
  // A count of entities, each of which takes at least one byte.
  bool Count(size_t* count) {
    uint64_t raw = 0;
    if (!d_.Varint(&raw) || raw > d_.remaining() || raw >= kNoIndex) return false;
    *count = static_cast<size_t>(raw);
    return true;
  }
  // A valid id, greater than the previous one of its section, interned in `ids` with the next
  // index.
  bool SortedId(IdTable& ids, std::string_view* previous) {
    std::string_view raw;
    if (!d_.String(&raw, kIdLengthMax) || !IsIdFast(raw)) return false;
    if (!previous->empty() && raw <= *previous) return false;
    *previous = raw;
    bool added = false;
    ids.Insert(raw, &added);
    return added;
  }
  bool Name(std::string* name) { return d_.String(name, kNameLengthMax); }
  Status ReadCenters();
  bool ReadProduct(Product* product);
  bool ReadCampaign(uint32_t index);
  bool ReadAllocation(Allocation* table);
  Status ReadOrder();
  bool ReadRequest(uint32_t index);

  Decoder d_;
  State& state_;
  uint8_t version_ = 0;
};

Status SnapshotReader::ReadHeader(std::string_view prefix) {
  uint32_t magic = 0;
  uint8_t version = 0;
  std::string_view snapshot_prefix;
  if (!d_.Fixed32(&magic) || magic != kSnapshotMagic) return Corrupt("bad magic");
  if (!d_.U8(&version) || (version != kSnapshotVersion && version != kSnapshotVersionNoDemand &&
                           version != kSnapshotVersionSingleCenter)) {
    return Corrupt(Cat("unknown format version ", version));
  }
  version_ = version;
  if (!d_.String(&snapshot_prefix, kOrderIdPrefixLengthMax)) return Corrupt("bad prefix");
  if (snapshot_prefix != prefix) {
    return Status(Code::kInvalidArgument,
                  Cat("trade snapshot was taken with order_id_prefix \"", snapshot_prefix,
                      "\", this state machine uses \"", prefix, "\""));
  }
  SURGE_RETURN_IF_ERROR(ReadCenters());
  if (!Int(&state_.last_now_ms, 0, kTimeMsMax)) return Corrupt("bad last_now_ms");
  if (version_ != kSnapshotVersionSingleCenter && !d_.Varint(&state_.events_recorded)) {
    return Corrupt("bad events count");
  }
  return Status::Ok();
}

// The quotas and tables are those of one topology: another one would misread them.
Status SnapshotReader::ReadCenters() {
  std::vector<std::string> centers;
  uint64_t count = 0;
  if (version_ != kSnapshotVersionSingleCenter) {
    if (!d_.Varint(&count) || count > kCentersMax) return Corrupt("bad center count");
    centers.resize(count);
    for (std::string& center : centers) {
      if (!d_.String(&center, kCenterIdLengthMax) || !IsCenterId(center)) {
        return Corrupt("bad center id");
      }
    }
  }
  if (centers != state_.topology.centers) {
    const auto list = [](const std::vector<std::string>& ids) {
      std::string out = "[";
      for (const std::string& id : ids) out += (out.size() > 1 ? "," : "") + id;
      return out + "]";
    };
    return Status(Code::kInvalidArgument,
                  Cat("trade snapshot was taken with centers ", list(centers),
                      ", this state machine has ", list(state_.topology.centers)));
  }
  return Status::Ok();
}

Status SnapshotReader::ReadApplied() {
  if (version_ == kSnapshotVersionSingleCenter) return Status::Ok();
  size_t count = 0;
  if (!Count(&count)) return Corrupt("bad applied count");
  state_.applied.resize(count);
  for (size_t i = 0; i < count; ++i) {
    AppliedPosition& position = state_.applied[i];
    if (!d_.String(&position.center, kCenterIdLengthMax) || !d_.U8(&position.kind) ||
        !d_.Varint(&position.sequence)) {
      return Corrupt("truncated applied position");
    }
    // CheckState judges the values and the order.
  }
  return Status::Ok();
}

bool SnapshotReader::ReadProduct(Product* p) {
  uint8_t has_inventory = 0;
  if (!Index(&p->merchant, state_.merchants.size()) || !Name(&p->name) || !Name(&p->category) ||
      !Int(&p->price_cents, 0, kPriceCentsMax) || !d_.U8(&has_inventory) || has_inventory > 1) {
    return false;
  }
  p->has_inventory = has_inventory == 1;
  const bool multi = state_.topology.multi();
  if (p->has_inventory) {
    if (!Int(&p->inventory.stock, 0, kStockMax)) return false;
    if (multi && !Int(&p->inventory_total, p->inventory.stock, kStockMax)) return false;
  }
  if (!multi || version_ != kSnapshotVersion) return true;
  uint64_t count = 0;
  if (!d_.Varint(&count) || (count != 0 && count != state_.topology.centers.size())) return false;
  p->demand.resize(count);
  for (int64_t& units : p->demand) {
    if (!Int(&units, 0, kStockMax)) return false;
  }
  return true;
}

bool SnapshotReader::ReadAllocation(Allocation* table) {
  const size_t centers = state_.topology.centers.size();
  table->allocated.resize(centers);
  table->reported.resize(centers);
  if (!Int(&table->stock, 0, kStockMax)) return false;
  int64_t allocated = 0;
  for (int64_t& units : table->allocated) {
    if (!Int(&units, 0, kStockMax)) return false;
    allocated += units;  // at most kCentersMax * kStockMax: no overflow
  }
  table->unallocated = table->stock - allocated;
  if (table->unallocated < 0 || !Int(&table->requested, 0, kStockMax)) return false;
  for (CenterUnits& units : table->reported) {
    if (!Int(&units.reserved, 0, kStockMax) || !Int(&units.sold, 0, kStockMax)) return false;
  }
  return true;
}

bool SnapshotReader::ReadCampaign(uint32_t index) {
  Campaign& c = state_.campaigns[index];
  if (!Index(&c.product, state_.products.size()) || !Int(&c.price_cents, 0, kPriceCentsMax) ||
      !Int(&c.starts_at_ms, 0, kTimeMsMax) || !Int(&c.ends_at_ms, 0, kTimeMsMax) ||
      !Int(&c.per_user_limit, 1, kStockMax) || !Int(&c.reserve_ttl_ms, 1, kReserveTtlMsMax) ||
      !Int(&c.counts.stock, 0, kStockMax) || c.starts_at_ms >= c.ends_at_ms) {
    return false;
  }
  if (state_.topology.multi() && !ReadAllocation(&state_.allocations[index])) return false;
  state_.products[c.product].campaigns.push_back(index);
  return true;
}

Status SnapshotReader::ReadMasterData() {
  size_t count = 0;
  std::string_view previous;
  if (!Count(&count)) return Corrupt("bad merchant count");
  state_.merchants.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!SortedId(state_.merchant_ids, &previous) || !Name(&state_.merchants[i].name)) {
      return Corrupt("bad merchant");
    }
  }
  previous = {};
  if (!Count(&count)) return Corrupt("bad user count");
  state_.users.resize(count);
  state_.user_regions.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!SortedId(state_.user_ids, &previous) || !Name(&state_.user_regions[i])) {
      return Corrupt("bad user");
    }
    state_.users[i].SetId(state_.user_ids.id(i));
  }
  previous = {};
  if (!Count(&count)) return Corrupt("bad product count");
  state_.products.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!SortedId(state_.product_ids, &previous) || !ReadProduct(&state_.products[i])) {
      return Corrupt("bad product");
    }
  }
  previous = {};
  if (!Count(&count)) return Corrupt("bad campaign count");
  state_.campaigns.resize(count);
  if (state_.topology.multi()) state_.allocations.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!SortedId(state_.campaign_ids, &previous) || !ReadCampaign(i)) {
      return Corrupt("bad campaign");
    }
  }
  return Status::Ok();
}

Status SnapshotReader::ReadOrder() {
  const auto index = static_cast<uint32_t>(state_.orders.size());
  Order& order = state_.orders.emplace_back();
  uint8_t status = 0;
  int64_t items_count = 0;
  // Orders were created in time order (commands come with non-decreasing now_ms).
  const int64_t created_min = index == 0 ? 0 : state_.orders[index - 1].created_at_ms;
  if (!Index(&order.user, state_.users.size()) || !d_.U8(&status) ||
      status > static_cast<uint8_t>(OrderStatus::kExpired) ||
      !Int(&order.created_at_ms, created_min, state_.last_now_ms) ||
      !Int(&order.expires_at_ms, order.created_at_ms + 1, order.created_at_ms + kReserveTtlMsMax) ||
      !Int(&items_count, 1, kItemsMax)) {
    return Corrupt(Cat("bad order ", index + 1));
  }
  order.status = static_cast<OrderStatus>(status);
  order.items_begin = static_cast<uint32_t>(state_.items.size());
  order.items_count = static_cast<uint8_t>(items_count);
  for (int64_t i = 0; i < items_count; ++i) {
    Item& item = state_.items.emplace_back();
    if (!Index(&item.product, state_.products.size()) ||
        !OptionalIndex(&item.campaign, state_.campaigns.size()) ||
        !Int(&item.quantity, 1, kQuantityMax) || !Int(&item.price_cents, 0, kPriceCentsMax)) {
      return Corrupt(Cat("bad item of order ", index + 1));
    }
    order.total_cents += item.quantity * item.price_cents;
  }
  User& user = state_.users[order.user];
  order.previous_of_user = user.last_order;
  user.last_order = index;
  if (order.status == OrderStatus::kReserved) {
    state_.expiry.Add(order.expires_at_ms - order.created_at_ms, order.expires_at_ms, index);
  }
  return Status::Ok();
}

Status SnapshotReader::ReadOrders() {
  size_t count = 0;
  if (!Count(&count)) return Corrupt("bad order count");
  for (size_t i = 0; i < count; ++i) SURGE_RETURN_IF_ERROR(ReadOrder());
  return Status::Ok();
}

bool SnapshotReader::ReadRequest(uint32_t index) {
  uint8_t outcome = 0;
  if (!d_.U8(&outcome) || outcome > kOutcomeMax) return false;
  RequestRecord& record = state_.requests.emplace_back();
  record.outcome = static_cast<Outcome>(outcome);
  if (record.outcome == Outcome::kReserved) {
    if (!Index(&record.target, state_.orders.size())) return false;
    Order& order = state_.orders[record.target];
    if (order.request != kNoIndex) return false;  // two requests claim one order
    order.request = index;
    PlaceOrder body;
    body.user = state_.user_ids.id(order.user);
    for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
      body.items.push_back(OrderItem{std::string(state_.product_ids.id(state_.items[i].product)),
                                     state_.items[i].quantity});
    }
    record.fingerprint = PlaceOrderFingerprint(body);
    return true;
  }
  if (!d_.Fixed64(&record.fingerprint) || !d_.U8(&record.item) || record.item >= kItemsMax ||
      !OptionalIndex(&record.target, state_.campaigns.size())) {
    return false;
  }
  const bool names_campaign =
      record.outcome == Outcome::kCampaignSoldOut || record.outcome == Outcome::kLimitExceeded;
  return names_campaign == (record.target != kNoIndex);
}

Status SnapshotReader::ReadRequests() {
  size_t count = 0;
  if (!Count(&count)) return Corrupt("bad request count");
  state_.request_ids.Reserve(count);
  std::string_view previous;
  for (uint32_t i = 0; i < count; ++i) {
    if (!SortedId(state_.request_ids, &previous) || !ReadRequest(i)) {
      return Corrupt(Cat("bad request record ", i));
    }
  }
  return Status::Ok();
}

// Derives what the snapshot does not store, then lets CheckState judge the result.
Status SnapshotReader::Finish() {
  if (!d_.done()) return Corrupt("trailing bytes");
  for (Product& product : state_.products) {
    std::sort(product.campaigns.begin(), product.campaigns.end(), [&](uint32_t a, uint32_t b) {
      return state_.campaigns[a].starts_at_ms < state_.campaigns[b].starts_at_ms;
    });
  }
  for (const Order& order : state_.orders) {
    if (order.request == kNoIndex) return Corrupt("an order has no request record");
    const bool holds = order.status == OrderStatus::kReserved || order.status == OrderStatus::kPaid;
    if (!holds) continue;
    for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
      const Item& item = state_.items[i];
      Counts& counts = item.campaign == kNoIndex ? state_.products[item.product].inventory
                                                 : state_.campaigns[item.campaign].counts;
      (order.status == OrderStatus::kReserved ? counts.reserved : counts.sold) += item.quantity;
      if (counts.reserved + counts.sold > counts.stock) return Corrupt("units exceed stock");
      if (item.campaign != kNoIndex) state_.AddHeld(order.user, item.campaign, item.quantity);
    }
  }
  for (Product& p : state_.products) {
    p.inventory.available = p.inventory.stock - p.inventory.reserved - p.inventory.sold;
  }
  for (Campaign& c : state_.campaigns) {
    c.counts.available = c.counts.stock - c.counts.reserved - c.counts.sold;
  }
  const Status invariants = CheckState(state_);
  if (!invariants.ok()) return Corrupt(invariants.message());
  return Status::Ok();
}

}  // namespace

std::string EncodeSnapshot(const State& state, std::string_view prefix) {
  std::string out;
  out.reserve(64 + state.orders.size() * 24 + state.requests.size() * 24);
  SnapshotWriter(state, &out).Write(prefix);
  return out;
}

Status DecodeSnapshot(std::string_view bytes, std::string_view prefix, State* out) {
  if (bytes.size() < 4) return Corrupt("truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + body.size(), 4);
  if (Crc32c(body) != stored_crc) return Corrupt("checksum mismatch");
  SnapshotReader reader(body, out);
  SURGE_RETURN_IF_ERROR(reader.ReadHeader(prefix));
  SURGE_RETURN_IF_ERROR(reader.ReadApplied());
  SURGE_RETURN_IF_ERROR(reader.ReadMasterData());
  SURGE_RETURN_IF_ERROR(reader.ReadOrders());
  SURGE_RETURN_IF_ERROR(reader.ReadRequests());
  return reader.Finish();
}

}  // namespace surge::trade::internal
