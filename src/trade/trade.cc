// The trade state machine: Apply and the rules of trade.h.
#include "trade/trade.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <type_traits>

#include "trade/trade_state.h"

namespace surge::trade {
namespace {

using internal::Campaign;
using internal::Cat;
using internal::Counts;
using internal::Expiry;
using internal::ExpiryQueue;
using internal::HashId;
using internal::IdTable;
using internal::Item;
using internal::kNoIndex;
using internal::Merchant;
using internal::Order;
using internal::Outcome;
using internal::Product;
using internal::RequestRecord;
using internal::State;
using internal::User;

// ---- Stock movements, each asserting the invariant of the counts it touched ----------------

void AssertCounts(const Counts& counts) {
  SURGE_ASSERT(counts.available >= 0 && counts.reserved >= 0 && counts.sold >= 0);
  SURGE_ASSERT(counts.available + counts.reserved + counts.sold == counts.stock);
}

void ReserveUnits(Counts& counts, int64_t quantity) {
  SURGE_ASSERT(quantity > 0 && quantity <= counts.available);
  counts.available -= quantity;
  counts.reserved += quantity;
  AssertCounts(counts);
}

void ReturnUnits(Counts& counts, int64_t quantity) {
  SURGE_ASSERT(quantity > 0 && quantity <= counts.reserved);
  counts.reserved -= quantity;
  counts.available += quantity;
  AssertCounts(counts);
}

void SellUnits(Counts& counts, int64_t quantity) {
  SURGE_ASSERT(quantity > 0 && quantity <= counts.reserved);
  counts.reserved -= quantity;
  counts.sold += quantity;
  AssertCounts(counts);
}

void SetStock(Counts& counts, int64_t stock) {
  SURGE_ASSERT(stock >= counts.reserved + counts.sold);
  counts.stock = stock;
  counts.available = stock - counts.reserved - counts.sold;
  AssertCounts(counts);
}

StockCounts ToStockCounts(const Counts& c) {
  return StockCounts{c.stock, c.available, c.reserved, c.sold};
}

bool Overlaps(const Campaign& campaign, int64_t starts_at_ms, int64_t ends_at_ms) {
  return campaign.starts_at_ms < ends_at_ms && starts_at_ms < campaign.ends_at_ms;
}

Reply ErrorReply(Status status) {
  Reply reply;
  reply.status = std::move(status);
  return reply;
}

template <typename View>
Reply ValueReply(View view) {
  Reply reply;
  reply.value = std::move(view);
  return reply;
}

Status NotFound(std::string_view what, std::string_view id) {
  return Status(Code::kNotFound, Cat(what, " ", id, " not found"));
}

Status WrongState(std::string_view order_id, OrderStatus status) {
  return Status(Code::kWrongState, Cat("order ", order_id, " is ", OrderStatusName(status)));
}

// An order event as recorded: the order's index and its status then (Trade::TakeEvents builds
// the OrderEvent, Trade::EncodePendingEvents writes it, both from the state).
struct PendingEvent {
  uint64_t number = 0;
  int64_t at_ms = 0;
  uint32_t order = 0;
  OrderEventType type = OrderEventType::kCreated;
  OrderStatus status = OrderStatus::kReserved;
};

// How a record's events change one campaign (by index).
struct EventDelta {
  uint32_t campaign = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
};

// The ids of a PlaceOrder that its apply looks up (and prefetches), hashed once.
struct OrderHashes {
  uint64_t request = 0;
  uint64_t user = 0;
};

OrderHashes HashOrder(const PlaceOrder& order) {
  return OrderHashes{HashId(order.request_id), HashId(order.user)};
}

// Returns the index of `id`, adding a default entity if it is new.
template <typename Entity>
uint32_t Intern(IdTable& ids, std::vector<Entity>& entities, std::string_view id) {
  bool added = false;
  const uint32_t index = ids.Insert(id, &added);
  if (added) entities.emplace_back();
  SURGE_ASSERT(entities.size() == ids.size());
  return index;
}

class TradeImpl final : public Trade {
 public:
  explicit TradeImpl(const Options& options)
      : prefix_(options.order_id_prefix),
        expected_orders_(options.expected_orders),
        record_events_(options.record_events) {
    internal::Topology& topology = state_.topology;
    topology.centers = options.centers;
    if (topology.multi()) {
      topology.self = topology.Find(options.center);
      topology.master = topology.Find(options.master);
      SURGE_ASSERT(options.up_front_percent >= 1 && options.up_front_percent <= 100);
      topology.up_front_percent = options.up_front_percent;
    }
    ReserveExpected();
  }

  Reply Apply(const Command& command) override;
  void ApplyBatch(std::span<const Command> commands,
                  const std::function<void(size_t, Reply&&)>& on_reply) override;

  Result<MerchantView> GetMerchant(std::string_view id) const override;
  Result<ProductView> GetProduct(std::string_view sku) const override;
  Result<UserView> GetUser(std::string_view id) const override;
  Result<InventoryView> GetInventory(std::string_view sku) const override;
  Result<CampaignView> GetCampaign(std::string_view id) const override;
  Result<OrderView> GetOrder(std::string_view order_id, int64_t now_ms) const override;
  Result<std::vector<OrderView>> GetUserOrders(std::string_view user,
                                               int64_t now_ms) const override;
  std::optional<StockCounts> ActiveCampaignCounts(std::string_view sku,
                                                  int64_t now_ms) const override;
  bool KnowsRequest(std::string_view request_id) const override {
    return state_.request_ids.Find(request_id) != kNoIndex;
  }
  void ForEachRequestId(const std::function<void(std::string_view)>& visit) const override {
    for (uint32_t i = 0; i < state_.request_ids.size(); ++i) visit(state_.request_ids.id(i));
  }
  std::optional<int64_t> NextExpiryMs() const override {
    if (state_.expiry.empty()) return std::nullopt;
    return state_.expiry.Front().expires_at_ms;
  }
  int64_t last_now_ms() const override { return state_.last_now_ms; }
  uint64_t order_count() const override { return state_.orders.size(); }

  void TakeEvents(std::vector<OrderEvent>* out) override;
  size_t PendingEventCount() const override { return events_.size(); }
  uint64_t events_recorded() const override { return state_.events_recorded; }
  void EncodePendingEvents(uint64_t through, size_t begin, size_t count, std::string* out) override;
  void DropEventsThrough(uint64_t number) override;
  uint64_t AppliedThrough(std::string_view center, uint8_t kind) const override {
    return internal::AppliedThrough(state_, center, kind);
  }
  std::vector<Body> QuotaCommands(int64_t now_ms) const override {
    return internal::QuotaCommandsOf(state_, now_ms);
  }

  std::string Snapshot() const override { return internal::EncodeSnapshot(state_, prefix_); }
  Status Restore(std::string_view snapshot) override;
  uint64_t StateHash() const override;
  Status CheckInvariants() const override { return internal::CheckState(state_); }

  const State& state() const { return state_; }

 private:
  Reply Handle(const PutMerchant& body, int64_t now_ms);
  Reply Handle(const PutProduct& body, int64_t now_ms);
  Reply Handle(const PutUser& body, int64_t now_ms);
  Reply Handle(const PutInventory& body, int64_t now_ms);
  Reply Handle(const PutDemand& body, int64_t now_ms);
  Reply Handle(const PutCampaign& body, int64_t now_ms);
  Reply Handle(const PlaceOrder& body, int64_t now_ms);
  Reply Handle(const PayOrder& body, int64_t now_ms);
  Reply Handle(const CancelOrder& body, int64_t now_ms);
  Reply Handle(const Tick&, int64_t) { return Reply{}; }
  Reply Handle(const CenterOrders& body, int64_t) {
    return Reply{internal::ApplyCenterOrders(state_, body), {}, false};
  }
  // RequestQuota and ReturnQuota: the rule depends on whether the command has an origin.
  template <typename QuotaBody>
  Reply HandleQuota(const QuotaBody& body, bool from_origin);
  // Validates and applies a command's body (any kind).
  Reply ApplyBody(const Command& command);
  // Every command but a PlaceOrder without an origin: the origin's checks, then ApplyBody.
  Reply ApplyGeneral(const Command& command);

  Status CheckCampaignUpdate(const PutCampaign& body, uint32_t product) const;
  int64_t LargestHolding(uint32_t campaign) const;

  // PlaceOrder, steps 2-4 of trade.h; fills `record` with the outcome.
  void TryReserve(const PlaceOrder& body, int64_t now_ms, uint32_t request, uint64_t user_hash,
                  const uint64_t* sku_hashes, RequestRecord* record);
  // Resolves one item into state_.items.back(); kReserved if it can be reserved. Sets *holding to
  // where the user's holding of the item's campaign is (State::FindHolding), for CommitOrder.
  Outcome PlanItem(uint32_t user, const OrderItem& wanted, uint64_t sku_hash, int64_t now_ms,
                   uint32_t* holding);
  void CommitOrder(uint32_t user, uint32_t request, int64_t now_ms, size_t items_begin,
                   const uint32_t* holdings);
  Reply RememberedReply(const RequestRecord& record, const PlaceOrder& body, bool replayed) const;

  // Expires every reservation due at `now_ms`. Keeps the front of the expiry queue a reserved
  // order (so NextExpiryMs is exact): drops paid or cancelled orders that reach the front.
  void Settle(int64_t now_ms);
  void DropSettledFront();
  // reserved -> cancelled or expired: stock and per-user units return.
  void Release(Order& order, OrderStatus status);
  // Records the event of order `index` (as it is now) when record_events is on. Only what
  // changes of an order, its status, is kept: the rest of an order never changes and is read
  // from the state when the event is taken or encoded.
  void RecordEvent(OrderEventType type, uint32_t index, int64_t now_ms) {
    if (!record_events_) return;
    // The events record leaves the status out: it is the type's (internal::StatusAfter).
    SURGE_ASSERT(state_.orders[index].status == internal::StatusAfter(type));
    events_.push_back(
        PendingEvent{++state_.events_recorded, now_ms, index, type, state_.orders[index].status});
  }
  // EncodePendingEvents' first part: the events' CampaignDeltas, by campaign index, into
  // event_deltas_ (in order of first appearance, zero ones included).
  void SumEventDeltas(std::span<const PendingEvent> events);
  void AddHolding(uint32_t user, uint32_t campaign, uint32_t where, int64_t delta);
  Counts& SourceCounts(const Item& item) {
    return item.campaign != kNoIndex ? state_.campaigns[item.campaign].counts
                                     : state_.products[item.product].inventory;
  }

  uint32_t FindOrder(std::string_view order_id) const;
  OrderView MakeOrderView(uint32_t index, OrderStatus shown) const {
    OrderView view;
    FillOrderView(index, shown, &view);
    return view;
  }
  // Fills a default-constructed `view` (in place: replies build theirs inside the Reply).
  void FillOrderView(uint32_t index, OrderStatus shown, OrderView* view) const;
  OrderView MakeOrderViewAt(uint32_t index, int64_t now_ms) const;
  CampaignView MakeCampaignView(uint32_t index) const {
    return internal::MakeCampaignView(state_, index);
  }
  ProductView MakeProductView(uint32_t index) const;

  // PlaceOrder with the hashes of its ids computed once (by Apply, or ahead by ApplyBatch).
  Reply ApplyOrder(const PlaceOrder& body, int64_t now_ms, const OrderHashes& hashes);
  Reply HandleOrder(const PlaceOrder& body, int64_t now_ms, const OrderHashes& hashes);
  // Asserts that time does not go back, records it and expires what is due.
  void BeginCommand(int64_t now_ms);
  void FetchExpiring() const;
  // Starts loading both cache lines of a user's record.
  void FetchUser(uint32_t user) const {
    const char* record = reinterpret_cast<const char*>(&state_.users[user]);
    __builtin_prefetch(record);
    __builtin_prefetch(record + 64);
  }

  // Sizes the order-growing parts of state_ for Options::expected_orders.
  void ReserveExpected() {
    if (expected_orders_ == 0) return;
    state_.request_ids.Reserve(expected_orders_);
    state_.requests.reserve(expected_orders_);
    state_.orders.reserve(expected_orders_);
    state_.items.reserve(expected_orders_);
  }

  // Sets an empty `out` to the id of order `counter`. Replies mostly show the newest order, whose
  // id is kept formatted and incremented in place (formatting digit by digit is a chain of
  // divisions on every order).
  void SetOrderId(uint64_t counter, std::string* out) const {
    if (counter == newest_order_counter_ + 1 && newest_order_counter_ != 0) {
      size_t at = newest_order_id_.size();
      while (at > prefix_.size() && newest_order_id_[at - 1] == '9') newest_order_id_[--at] = '0';
      if (at == prefix_.size()) {
        newest_order_id_.insert(at, 1, '1');
      } else {
        ++newest_order_id_[at - 1];
      }
    } else if (counter != newest_order_counter_) {
      newest_order_id_.clear();
      internal::AppendOrderId(prefix_, counter, &newest_order_id_);
    }
    newest_order_counter_ = counter;
    internal::SetEmpty(out, newest_order_id_);
  }

  std::string prefix_;
  size_t expected_orders_;
  bool record_events_;
  std::vector<PendingEvent> events_;  // since the last TakeEvents or DropEventsThrough
  // EncodePendingEvents' scratch, kept so that encoding allocates nothing once warm.
  std::vector<EventDelta> event_deltas_;
  std::vector<uint32_t> event_delta_of_campaign_;  // index in event_deltas_, or kNoIndex
  std::string event_order_id_;
  std::vector<std::string_view> event_users_;
  // SetOrderId's cache (a function of the counter alone, so it survives Restore).
  mutable std::string newest_order_id_;
  mutable uint64_t newest_order_counter_ = 0;
  State state_;
};

Reply TradeImpl::Apply(const Command& command) {
  const auto* order = std::get_if<PlaceOrder>(&command.body);
  if (order != nullptr && !command.origin.has_value()) {
    const OrderHashes hashes = HashOrder(*order);
    // The request and user tables are large and cold: start loading their slots now, so that
    // the misses overlap with validation and fingerprinting instead of following each other.
    state_.request_ids.Prefetch(hashes.request);
    state_.user_ids.Prefetch(hashes.user);
    return ApplyOrder(*order, command.now_ms, hashes);
  }
  return ApplyGeneral(command);
}

Reply TradeImpl::ApplyGeneral(const Command& command) {
  if (!command.origin.has_value()) return ApplyBody(command);
  const Origin& origin = *command.origin;
  Status valid = internal::ValidateOrigin(origin);
  if (!valid.ok()) {
    BeginCommand(command.now_ms);  // like a malformed body: time passes, nothing else
    return ErrorReply(std::move(valid));
  }
  if (origin.sequence <= internal::AppliedThrough(state_, origin.center, origin.kind)) {
    // Applied already: nothing changes, not even the time, so the state is exactly as before.
    SURGE_ASSERT(command.now_ms >= state_.last_now_ms && command.now_ms <= kTimeMsMax);
    Reply reply;
    reply.replayed = true;
    return reply;
  }
  Reply reply = ApplyBody(command);
  internal::AdvanceApplied(state_, origin);
  return reply;
}

Reply TradeImpl::ApplyBody(const Command& command) {
  BeginCommand(command.now_ms);
  Status valid = ValidateBody(command.body);
  if (!valid.ok()) return ErrorReply(std::move(valid));
  const bool from_origin = command.origin.has_value();
  return std::visit(
      [&](const auto& body) {
        using Kind = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Kind, RequestQuota> || std::is_same_v<Kind, ReturnQuota>) {
          return HandleQuota(body, from_origin);
        } else {
          return Handle(body, command.now_ms);
        }
      },
      command.body);
}

void TradeImpl::BeginCommand(int64_t now_ms) {
  SURGE_ASSERT(now_ms >= state_.last_now_ms);
  SURGE_ASSERT(now_ms <= kTimeMsMax);
  state_.last_now_ms = now_ms;
  Settle(now_ms);
}

Reply TradeImpl::ApplyOrder(const PlaceOrder& body, int64_t now_ms, const OrderHashes& hashes) {
  BeginCommand(now_ms);
  Status valid = internal::ValidatePlaceOrder(body);
  if (!valid.ok()) return ErrorReply(std::move(valid));
  return HandleOrder(body, now_ms, hashes);
}

// On a large state a PlaceOrder misses the cache in the request and user tables, then in the
// user's record (which holds the id the lookup compares): each step needs the one before. An
// expiring order misses in its user's record too. Running each step a few commands ahead of the
// apply lets the misses of several commands overlap.
void TradeImpl::ApplyBatch(std::span<const Command> commands,
                           const std::function<void(size_t, Reply&&)>& on_reply) {
  constexpr size_t kTablesAhead = 12;  // request and user table slots
  constexpr size_t kUserAhead = 6;     // the user's record (with its id)
  constexpr size_t kRing = 16;         // > kTablesAhead
  std::array<OrderHashes, kRing> hashes;
  // PlaceOrders without an origin (those with one take Apply's path).
  const auto order_at = [&](size_t i) -> const PlaceOrder* {
    if (i >= commands.size() || commands[i].origin.has_value()) return nullptr;
    return std::get_if<PlaceOrder>(&commands[i].body);
  };
  const auto fetch_tables = [&](size_t i) {
    if (const PlaceOrder* order = order_at(i)) {
      hashes[i % kRing] = HashOrder(*order);
      state_.request_ids.Prefetch(hashes[i % kRing].request);
      state_.user_ids.Prefetch(hashes[i % kRing].user);
    }
  };
  for (size_t i = 0; i < kTablesAhead; ++i) fetch_tables(i);
  for (size_t i = 0; i < commands.size(); ++i) {
    fetch_tables(i + kTablesAhead);
    if (order_at(i + kUserAhead) != nullptr) {
      const uint32_t user = state_.user_ids.Candidate(hashes[(i + kUserAhead) % kRing].user);
      if (user < state_.users.size()) FetchUser(user);
    }
    FetchExpiring();
    if (const PlaceOrder* order = order_at(i)) {
      on_reply(i, ApplyOrder(*order, commands[i].now_ms, hashes[i % kRing]));
    } else {
      on_reply(i, Apply(commands[i]));
    }
  }
}

// The orders about to expire are old, and their users random: fetch them a few expiries ahead
// (an order record, then its user's record).
void TradeImpl::FetchExpiring() const {
  const ExpiryQueue& expiry = state_.expiry;
  if (const Expiry* later = expiry.PeekFrontLane(12)) {
    __builtin_prefetch(&state_.orders[later->order]);
  }
  if (const Expiry* sooner = expiry.PeekFrontLane(6)) FetchUser(state_.orders[sooner->order].user);
}

// ---- Master data ---------------------------------------------------------------------------

Reply TradeImpl::Handle(const PutMerchant& body, int64_t) {
  const uint32_t index = Intern(state_.merchant_ids, state_.merchants, body.id);
  state_.merchants[index].name = body.name;
  return ValueReply(MerchantView{body.id, body.name});
}

Reply TradeImpl::Handle(const PutUser& body, int64_t) {
  const uint32_t index = Intern(state_.user_ids, state_.users, body.id);
  state_.users[index].SetId(body.id);
  if (index == state_.user_regions.size()) state_.user_regions.emplace_back();
  state_.user_regions[index] = body.region;
  return ValueReply(UserView{body.id, body.region});
}

Reply TradeImpl::Handle(const PutProduct& body, int64_t) {
  const uint32_t merchant = state_.merchant_ids.Find(body.merchant);
  if (merchant == kNoIndex) return ErrorReply(NotFound("merchant", body.merchant));
  const uint32_t index = Intern(state_.product_ids, state_.products, body.sku);
  Product& product = state_.products[index];
  product.merchant = merchant;
  product.name = body.name;
  product.category = body.category;
  product.price_cents = body.price_cents;
  return ValueReply(MakeProductView(index));
}

Reply TradeImpl::Handle(const PutInventory& body, int64_t) {
  const uint32_t index = state_.product_ids.Find(body.sku);
  if (index == kNoIndex) return ErrorReply(NotFound("product", body.sku));
  Product& product = state_.products[index];
  if (state_.topology.multi()) {
    Status applied = internal::ApplyInventoryMulti(state_, index, body);
    if (!applied.ok()) return ErrorReply(std::move(applied));
    return ValueReply(InventoryView{body.sku, ToStockCounts(product.inventory)});
  }
  const int64_t held = product.inventory.reserved + product.inventory.sold;
  if (body.stock < held) {
    return ErrorReply(
        Status(Code::kBadField, Cat("stock must be at least ", held, ", the units of sku ",
                                    body.sku, " reserved or sold")));
  }
  product.has_inventory = true;
  SetStock(product.inventory, body.stock);
  return ValueReply(InventoryView{body.sku, ToStockCounts(product.inventory)});
}

Reply TradeImpl::Handle(const PutDemand& body, int64_t) {
  const uint32_t index = state_.product_ids.Find(body.sku);
  if (index == kNoIndex) return ErrorReply(NotFound("product", body.sku));
  Status applied = internal::ApplyDemand(state_, index, body);
  if (!applied.ok()) return ErrorReply(std::move(applied));
  return ValueReply(MakeProductView(index));
}

int64_t TradeImpl::LargestHolding(uint32_t campaign) const {
  int64_t largest = 0;
  state_.ForEachHolding([&](uint32_t, uint32_t held_campaign, int64_t units) {
    if (held_campaign == campaign) largest = std::max(largest, units);
  });
  return largest;
}

Status TradeImpl::CheckCampaignUpdate(const PutCampaign& body, uint32_t product) const {
  const uint32_t self = state_.campaign_ids.Find(body.id);
  const Campaign* existing = self == kNoIndex ? nullptr : &state_.campaigns[self];
  const int64_t held = existing == nullptr ? 0 : existing->counts.reserved + existing->counts.sold;
  const bool multi = state_.topology.multi();
  // In a multi-center deployment, other centers may hold units of it: no center can tell.
  if (existing != nullptr && existing->product != product && (held > 0 || multi)) {
    return Status(Code::kBadField,
                  Cat("sku cannot change while campaign ", body.id,
                      multi ? " may have units at any center" : " has units reserved or sold"));
  }
  for (const uint32_t other : state_.products[product].campaigns) {
    if (other != self && Overlaps(state_.campaigns[other], body.starts_at_ms, body.ends_at_ms)) {
      return Status(Code::kBadField, Cat("starts_at..ends_at overlaps the window of campaign ",
                                         state_.campaign_ids.id(other), " of sku ", body.sku));
    }
  }
  if (existing == nullptr) return Status::Ok();
  if (multi) return internal::CheckCampaignUpdateMulti(state_, body, self);
  if (body.stock < held) {
    return Status(Code::kBadField, Cat("stock must be at least ", held, ", the units of campaign ",
                                       body.id, " reserved or sold"));
  }
  if (body.per_user_limit < existing->per_user_limit && held > 0) {
    const int64_t largest = LargestHolding(self);
    if (body.per_user_limit < largest) {
      return Status(Code::kBadField, Cat("per_user_limit must be at least ", largest,
                                         ", the units a user holds in campaign ", body.id));
    }
  }
  return Status::Ok();
}

Reply TradeImpl::Handle(const PutCampaign& body, int64_t) {
  const uint32_t product = state_.product_ids.Find(body.sku);
  if (product == kNoIndex) return ErrorReply(NotFound("product", body.sku));
  Status allowed = CheckCampaignUpdate(body, product);
  if (!allowed.ok()) return ErrorReply(std::move(allowed));

  const uint32_t index = Intern(state_.campaign_ids, state_.campaigns, body.id);
  const bool created = state_.campaigns[index].product == kNoIndex;
  Campaign& campaign = state_.campaigns[index];
  if (campaign.product != kNoIndex) std::erase(state_.products[campaign.product].campaigns, index);
  campaign.product = product;
  campaign.price_cents = body.price_cents;
  campaign.starts_at_ms = body.starts_at_ms;
  campaign.ends_at_ms = body.ends_at_ms;
  campaign.per_user_limit = body.per_user_limit;
  campaign.reserve_ttl_ms = body.reserve_ttl_ms;
  if (state_.topology.multi()) {
    if (created) state_.allocations.emplace_back();
    SURGE_ASSERT(state_.allocations.size() == state_.campaigns.size());
    internal::AllocateCampaign(state_, index, body.stock, created);
  } else {
    SetStock(campaign.counts, body.stock);
  }
  std::vector<uint32_t>& list = state_.products[product].campaigns;
  const auto position = std::lower_bound(
      list.begin(), list.end(), body.starts_at_ms,
      [&](uint32_t c, int64_t at) { return state_.campaigns[c].starts_at_ms < at; });
  list.insert(position, index);
  return ValueReply(MakeCampaignView(index));
}

template <typename QuotaBody>
Reply TradeImpl::HandleQuota(const QuotaBody& body, bool from_origin) {
  Result<uint32_t> index = [&] {
    if constexpr (std::is_same_v<QuotaBody, RequestQuota>) {
      return internal::ApplyRequestQuota(state_, body, from_origin);
    } else {
      return internal::ApplyReturnQuota(state_, body, from_origin);
    }
  }();
  if (!index.ok()) return ErrorReply(index.status());
  return ValueReply(MakeCampaignView(*index));
}

// ---- Orders --------------------------------------------------------------------------------

Reply TradeImpl::Handle(const PlaceOrder& body, int64_t now_ms) {
  return HandleOrder(body, now_ms, HashOrder(body));
}

Reply TradeImpl::HandleOrder(const PlaceOrder& body, int64_t now_ms, const OrderHashes& hashes) {
  uint64_t sku_hashes[kItemsMax];  // filled for body.items.size() entries
  for (size_t i = 0; i < body.items.size(); ++i) sku_hashes[i] = HashId(body.items[i].sku);
  const uint64_t fingerprint = internal::Fingerprint(body, hashes.user, sku_hashes);
  // One probe of the request table finds a known request id or adds the new one.
  bool added = false;
  const uint32_t request = state_.request_ids.Insert(body.request_id, hashes.request, &added);
  if (!added) {
    const RequestRecord& record = state_.requests[request];
    if (record.fingerprint != fingerprint) {
      return ErrorReply(Status(Code::kRequestIdReused,
                               Cat("request_id ", body.request_id,
                                   " was already used for an order with a different body")));
    }
    return RememberedReply(record, body, /*replayed=*/true);
  }
  RequestRecord& record = state_.requests.emplace_back();
  SURGE_ASSERT(state_.requests.size() == state_.request_ids.size());
  record.fingerprint = fingerprint;
  TryReserve(body, now_ms, request, hashes.user, sku_hashes, &record);
  return RememberedReply(record, body, /*replayed=*/false);
}

void TradeImpl::TryReserve(const PlaceOrder& body, int64_t now_ms, uint32_t request,
                           uint64_t user_hash, const uint64_t* sku_hashes, RequestRecord* record) {
  const uint32_t user = state_.FindUser(body.user, user_hash);
  if (user == kNoIndex) {
    record->outcome = Outcome::kUserNotFound;
    return;
  }
  FetchUser(user);
  // Items are planned straight into state_.items and dropped again if any of them fails.
  const size_t items_begin = state_.items.size();
  SURGE_ASSERT(items_begin + kItemsMax < kNoIndex);
  uint32_t holdings[kItemsMax];  // filled for body.items.size() entries
  for (size_t i = 0; i < body.items.size(); ++i) {
    const Outcome outcome = PlanItem(user, body.items[i], sku_hashes[i], now_ms, &holdings[i]);
    if (outcome != Outcome::kReserved) {
      record->outcome = outcome;
      record->item = static_cast<uint8_t>(i);
      record->target = state_.items.back().campaign;
      state_.items.truncate(items_begin);
      return;
    }
  }
  record->outcome = Outcome::kReserved;
  record->target = static_cast<uint32_t>(state_.orders.size());
  CommitOrder(user, request, now_ms, items_begin, holdings);
}

Outcome TradeImpl::PlanItem(uint32_t user, const OrderItem& wanted, uint64_t sku_hash,
                            int64_t now_ms, uint32_t* holding) {
  Item& item = state_.items.emplace_back();
  item.quantity = wanted.quantity;
  item.product = state_.product_ids.Find(wanted.sku, sku_hash);
  if (item.product == kNoIndex) return Outcome::kProductNotFound;
  const Product& product = state_.products[item.product];
  item.campaign = internal::ActiveCampaign(state_, product, now_ms);
  if (item.campaign != kNoIndex) {
    const Campaign& campaign = state_.campaigns[item.campaign];
    item.price_cents = campaign.price_cents;
    if (wanted.quantity > campaign.counts.available) return Outcome::kCampaignSoldOut;
    int64_t held;
    *holding = state_.FindHolding(user, item.campaign, &held);
    if (held + wanted.quantity > campaign.per_user_limit) return Outcome::kLimitExceeded;
    return Outcome::kReserved;
  }
  if (product.has_inventory) {
    item.price_cents = product.price_cents;
    if (wanted.quantity > product.inventory.available) return Outcome::kSoldOut;
    return Outcome::kReserved;
  }
  return product.campaigns.empty() ? Outcome::kNoStock : Outcome::kNotActive;
}

void TradeImpl::CommitOrder(uint32_t user, uint32_t request, int64_t now_ms, size_t items_begin,
                            const uint32_t* holdings) {
  SURGE_ASSERT(state_.orders.size() < kNoIndex - 1);
  const auto index = static_cast<uint32_t>(state_.orders.size());
  Order& order = state_.orders.emplace_back();
  order.request = request;
  order.user = user;
  order.items_begin = static_cast<uint32_t>(items_begin);
  order.items_count = static_cast<uint8_t>(state_.items.size() - items_begin);
  order.created_at_ms = now_ms;
  int64_t ttl_ms = kReserveTtlMsMax + 1;
  for (size_t i = items_begin; i < state_.items.size(); ++i) {
    const Item& item = state_.items[i];
    ReserveUnits(SourceCounts(item), item.quantity);
    order.total_cents += item.quantity * item.price_cents;
    if (item.campaign != kNoIndex) {
      // Items of one order are of distinct campaigns: adding one moves no other's holding.
      AddHolding(user, item.campaign, holdings[i - items_begin], item.quantity);
      ttl_ms = std::min(ttl_ms, state_.campaigns[item.campaign].reserve_ttl_ms);
    }
  }
  if (ttl_ms > kReserveTtlMsMax) ttl_ms = kDefaultReserveTtlMs;
  order.expires_at_ms = now_ms + ttl_ms;
  order.previous_of_user = state_.users[user].last_order;
  state_.users[user].last_order = index;
  state_.expiry.Add(ttl_ms, order.expires_at_ms, index);
  if (record_events_) [[unlikely]] {
    RecordEvent(OrderEventType::kCreated, index, now_ms);
  }
}

Reply TradeImpl::RememberedReply(const RequestRecord& record, const PlaceOrder& body,
                                 bool replayed) const {
  Reply reply;
  reply.replayed = replayed;
  if (record.outcome == Outcome::kReserved) {
    FillOrderView(record.target, OrderStatus::kReserved, &reply.value.emplace<OrderView>());
    return reply;
  }
  const std::string_view sku = body.items[record.item].sku;
  const auto campaign = [&] { return state_.campaign_ids.id(record.target); };
  switch (record.outcome) {
    case Outcome::kUserNotFound:
      reply.status = NotFound("user", body.user);
      break;
    case Outcome::kProductNotFound:
      reply.status = NotFound("product", sku);
      break;
    case Outcome::kCampaignSoldOut:
      reply.status =
          Status(Code::kSoldOut, Cat("campaign ", campaign(), " (sku ", sku, ") is sold out"));
      break;
    case Outcome::kLimitExceeded:
      reply.status = Status(Code::kLimitExceeded,
                            Cat("user ", body.user, " would exceed the per-user limit of ",
                                "campaign ", campaign(), " (sku ", sku, ")"));
      break;
    case Outcome::kSoldOut:
      reply.status = Status(Code::kSoldOut, Cat("sku ", sku, " is sold out"));
      break;
    case Outcome::kNoStock:
      reply.status = Status(Code::kSoldOut, Cat("sku ", sku, " has no stock"));
      break;
    case Outcome::kNotActive:
      reply.status =
          Status(Code::kCampaignNotActive, Cat("sku ", sku, " has no campaign active now"));
      break;
    case Outcome::kReserved:
      break;
  }
  return reply;
}

uint32_t TradeImpl::FindOrder(std::string_view order_id) const {
  const uint64_t counter = internal::ParseOrderCounter(prefix_, order_id);
  if (counter == 0 || counter > state_.orders.size()) return kNoIndex;
  return static_cast<uint32_t>(counter - 1);
}

Reply TradeImpl::Handle(const PayOrder& body, int64_t now_ms) {
  const uint32_t index = FindOrder(body.order_id);
  if (index == kNoIndex) return ErrorReply(NotFound("order", body.order_id));
  Order& order = state_.orders[index];
  if (order.status == OrderStatus::kReserved) {
    for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
      SellUnits(SourceCounts(state_.items[i]), state_.items[i].quantity);
    }
    order.status = OrderStatus::kPaid;
    DropSettledFront();
    RecordEvent(OrderEventType::kPaid, index, now_ms);
  } else if (order.status != OrderStatus::kPaid) {
    return ErrorReply(WrongState(body.order_id, order.status));
  }
  return ValueReply(MakeOrderView(index, order.status));
}

Reply TradeImpl::Handle(const CancelOrder& body, int64_t now_ms) {
  const uint32_t index = FindOrder(body.order_id);
  if (index == kNoIndex) return ErrorReply(NotFound("order", body.order_id));
  Order& order = state_.orders[index];
  if (order.status == OrderStatus::kReserved) {
    Release(order, OrderStatus::kCancelled);
    DropSettledFront();
    RecordEvent(OrderEventType::kCancelled, index, now_ms);
  } else if (order.status != OrderStatus::kCancelled) {
    return ErrorReply(WrongState(body.order_id, order.status));
  }
  return ValueReply(MakeOrderView(index, order.status));
}

void TradeImpl::AddHolding(uint32_t user, uint32_t campaign, uint32_t where, int64_t delta) {
  const int64_t units = state_.AddHeldAt(user, campaign, where, delta);
  SURGE_ASSERT(units <= state_.campaigns[campaign].per_user_limit);
}

void TradeImpl::Release(Order& order, OrderStatus status) {
  SURGE_ASSERT(order.status == OrderStatus::kReserved);
  for (uint32_t i = order.items_begin; i < order.items_begin + order.items_count; ++i) {
    const Item& item = state_.items[i];
    ReturnUnits(SourceCounts(item), item.quantity);
    if (item.campaign != kNoIndex) {
      int64_t held;
      const uint32_t where = state_.FindHolding(order.user, item.campaign, &held);
      AddHolding(order.user, item.campaign, where, -item.quantity);
    }
  }
  order.status = status;
}

void TradeImpl::Settle(int64_t now_ms) {
  // Only a due front needs its order read: a front that is not due stays reserved until it is
  // paid or cancelled, and those drop it themselves (DropSettledFront).
  while (!state_.expiry.empty() && state_.expiry.Front().expires_at_ms <= now_ms) {
    const uint32_t index = state_.expiry.Front().order;
    Order& order = state_.orders[index];
    if (order.status == OrderStatus::kReserved) {
      Release(order, OrderStatus::kExpired);
      RecordEvent(OrderEventType::kExpired, index, now_ms);
    }
    state_.expiry.PopFront();
    DropSettledFront();
  }
}

void TradeImpl::DropSettledFront() {
  while (!state_.expiry.empty() &&
         state_.orders[state_.expiry.Front().order].status != OrderStatus::kReserved) {
    state_.expiry.PopFront();
  }
}

// ---- Views and reads -----------------------------------------------------------------------

void TradeImpl::FillOrderView(uint32_t index, OrderStatus shown, OrderView* view) const {
  const Order& order = state_.orders[index];
  SetOrderId(uint64_t{index} + 1, &view->order_id);
  internal::SetEmpty(&view->request_id, state_.request_ids.id(order.request));
  internal::SetEmpty(&view->user, state_.UserId(order.user));
  view->status = shown;
  view->total_cents = order.total_cents;
  view->created_at_ms = order.created_at_ms;
  view->expires_at_ms = order.expires_at_ms;
  view->items.resize(order.items_count);
  for (size_t i = 0; i < order.items_count; ++i) {
    const Item& item = state_.items[order.items_begin + i];
    OrderItemView& item_view = view->items[i];
    internal::SetEmpty(&item_view.sku, state_.product_ids.id(item.product));
    item_view.quantity = item.quantity;
    item_view.price_cents = item.price_cents;
    if (item.campaign != kNoIndex) {
      internal::SetEmpty(&item_view.campaign, state_.campaign_ids.id(item.campaign));
    }
  }
}

// A reservation due at `now_ms` shows as expired: the next command will expire it.
OrderView TradeImpl::MakeOrderViewAt(uint32_t index, int64_t now_ms) const {
  const Order& order = state_.orders[index];
  const bool due = order.status == OrderStatus::kReserved && order.expires_at_ms <= now_ms;
  return MakeOrderView(index, due ? OrderStatus::kExpired : order.status);
}

ProductView TradeImpl::MakeProductView(uint32_t index) const {
  const Product& p = state_.products[index];
  ProductView view{std::string(state_.product_ids.id(index)),
                   std::string(state_.merchant_ids.id(p.merchant)), p.name, p.category,
                   p.price_cents};
  for (size_t i = 0; i < p.demand.size(); ++i) {
    view.demand.push_back(CenterDemand{state_.topology.centers[i], p.demand[i]});
  }
  return view;
}

Result<MerchantView> TradeImpl::GetMerchant(std::string_view id) const {
  const uint32_t index = state_.merchant_ids.Find(id);
  if (index == kNoIndex) return NotFound("merchant", id);
  return MerchantView{std::string(id), state_.merchants[index].name};
}

Result<ProductView> TradeImpl::GetProduct(std::string_view sku) const {
  const uint32_t index = state_.product_ids.Find(sku);
  if (index == kNoIndex) return NotFound("product", sku);
  return MakeProductView(index);
}

Result<UserView> TradeImpl::GetUser(std::string_view id) const {
  const uint32_t index = state_.user_ids.Find(id);
  if (index == kNoIndex) return NotFound("user", id);
  return UserView{std::string(id), state_.user_regions[index]};
}

Result<InventoryView> TradeImpl::GetInventory(std::string_view sku) const {
  const uint32_t index = state_.product_ids.Find(sku);
  if (index == kNoIndex || !state_.products[index].has_inventory) {
    return NotFound("inventory of sku", sku);
  }
  return InventoryView{std::string(sku), ToStockCounts(state_.products[index].inventory)};
}

Result<CampaignView> TradeImpl::GetCampaign(std::string_view id) const {
  const uint32_t index = state_.campaign_ids.Find(id);
  if (index == kNoIndex) return NotFound("campaign", id);
  return MakeCampaignView(index);
}

Result<OrderView> TradeImpl::GetOrder(std::string_view order_id, int64_t now_ms) const {
  const uint32_t index = FindOrder(order_id);
  if (index == kNoIndex) return NotFound("order", order_id);
  return MakeOrderViewAt(index, now_ms);
}

Result<std::vector<OrderView>> TradeImpl::GetUserOrders(std::string_view user,
                                                        int64_t now_ms) const {
  const uint32_t found = state_.user_ids.Find(user);
  if (found == kNoIndex) return NotFound("user", user);
  std::vector<uint32_t> indexes;
  for (uint32_t i = state_.users[found].last_order; i != kNoIndex;
       i = state_.orders[i].previous_of_user) {
    indexes.push_back(i);
  }
  std::vector<OrderView> views;
  views.reserve(indexes.size());
  for (auto i = indexes.rbegin(); i != indexes.rend(); ++i) {
    views.push_back(MakeOrderViewAt(*i, now_ms));
  }
  return views;
}

std::optional<StockCounts> TradeImpl::ActiveCampaignCounts(std::string_view sku,
                                                           int64_t now_ms) const {
  const uint32_t product = state_.product_ids.Find(sku);
  if (product == kNoIndex) return std::nullopt;
  const uint32_t campaign = internal::ActiveCampaign(state_, state_.products[product], now_ms);
  if (campaign == kNoIndex) return std::nullopt;
  return ToStockCounts(state_.campaigns[campaign].counts);
}

// ---- Order events --------------------------------------------------------------------------

void TradeImpl::TakeEvents(std::vector<OrderEvent>* out) {
  out->reserve(out->size() + events_.size());
  for (const PendingEvent& pending : events_) {
    OrderEvent& event = out->emplace_back();
    event.number = pending.number;
    event.type = pending.type;
    event.at_ms = pending.at_ms;
    FillOrderView(pending.order, pending.status, &event.order);
  }
  events_.clear();
}

void TradeImpl::DropEventsThrough(uint64_t number) {
  // Numbered consecutively: the ones to drop are a prefix.
  const auto kept = std::find_if(events_.begin(), events_.end(),
                                 [&](const PendingEvent& event) { return event.number > number; });
  events_.erase(events_.begin(), kept);
}

// The same sums as CampaignDeltas, by campaign index instead of id (one to one).
void TradeImpl::SumEventDeltas(std::span<const PendingEvent> events) {
  event_deltas_.clear();
  if (event_delta_of_campaign_.size() < state_.campaigns.size()) {
    event_delta_of_campaign_.resize(state_.campaigns.size(), kNoIndex);
  }
  for (const PendingEvent& event : events) {
    const Order& order = state_.orders[event.order];
    for (size_t i = 0; i < order.items_count; ++i) {
      const Item& item = state_.items[order.items_begin + i];
      if (item.campaign == kNoIndex) continue;
      uint32_t& slot = event_delta_of_campaign_[item.campaign];
      if (slot == kNoIndex) {
        slot = static_cast<uint32_t>(event_deltas_.size());
        event_deltas_.push_back(EventDelta{item.campaign, 0, 0});
      }
      EventDelta& delta = event_deltas_[slot];
      delta.reserved += event.type == OrderEventType::kCreated ? item.quantity : -item.quantity;
      if (event.type == OrderEventType::kPaid) delta.sold += item.quantity;
    }
  }
  for (const EventDelta& delta : event_deltas_) event_delta_of_campaign_[delta.campaign] = kNoIndex;
}

void TradeImpl::EncodePendingEvents(uint64_t through, size_t begin, size_t count,
                                    std::string* out) {
  SURGE_ASSERT(begin <= events_.size() && count <= events_.size() - begin);
  const std::span<const PendingEvent> events(events_.data() + begin, count);
  SumEventDeltas(events);
  const auto changed = [](const EventDelta& d) { return d.reserved != 0 || d.sold != 0; };
  internal::EncodeEventsHeader(out, through, events.empty() ? 0 : events[0].number, count,
                               std::count_if(event_deltas_.begin(), event_deltas_.end(), changed));
  for (const EventDelta& delta : event_deltas_) {
    if (!changed(delta)) continue;
    internal::EncodeEventsDelta(out, state_.campaign_ids.id(delta.campaign), delta.reserved,
                                delta.sold);
  }
  // The orders are read in sequence, but their users are spread over a table far larger than
  // the caches (the user's id lives in its record), and a batch later they are cold: reading
  // them one event at a time, encoding spent nearly all its time waiting for each in turn. This
  // loop's iterations are independent, so the CPU overlaps those misses.
  event_users_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    event_users_[i] = state_.UserId(state_.orders[events[i].order].user);
  }
  for (size_t i = 0; i < count; ++i) {
    const PendingEvent& event = events[i];
    const Order& order = state_.orders[event.order];
    event_order_id_.clear();
    internal::AppendOrderId(prefix_, uint64_t{event.order} + 1, &event_order_id_);
    internal::EncodeEventHead(
        out, internal::EventHead{event.type, event.at_ms, event_order_id_,
                                 state_.request_ids.id(order.request), event_users_[i],
                                 order.total_cents, order.created_at_ms, order.expires_at_ms,
                                 order.items_count});
    for (size_t k = 0; k < order.items_count; ++k) {
      const Item& item = state_.items[order.items_begin + k];
      internal::EncodeEventItem(
          out, state_.product_ids.id(item.product), item.quantity, item.price_cents,
          item.campaign == kNoIndex ? std::string_view() : state_.campaign_ids.id(item.campaign));
    }
  }
}

// ---- Snapshots -----------------------------------------------------------------------------

Status TradeImpl::Restore(std::string_view snapshot) {
  State restored;
  restored.topology = state_.topology;
  SURGE_RETURN_IF_ERROR(internal::DecodeSnapshot(snapshot, prefix_, &restored));
  state_ = std::move(restored);
  events_.clear();  // they were the replaced state's
  ReserveExpected();
  return Status::Ok();
}

uint64_t TradeImpl::StateHash() const {
  internal::StableHasher hasher(0x7374617465ULL);  // "state"
  hasher.AddBytes(Snapshot());
  return hasher.Finish();
}

// A multi-center Trade's options come from a checked topology: anything else is a bug.
void AssertTopology(const Options& options) {
  const std::vector<std::string>& centers = options.centers;
  if (centers.empty()) return;
  SURGE_ASSERT_MSG(centers.size() <= internal::kCentersMax, "too many centers");
  for (size_t i = 0; i < centers.size(); ++i) {
    SURGE_ASSERT_MSG(internal::IsCenterId(centers[i]), "centers must hold center ids");
    SURGE_ASSERT_MSG(
        std::find(centers.begin(), centers.begin() + i, centers[i]) == centers.begin() + i,
        "centers must not name a center twice");
  }
  SURGE_ASSERT_MSG(std::find(centers.begin(), centers.end(), options.center) != centers.end(),
                   "center must be one of centers");
  SURGE_ASSERT_MSG(std::find(centers.begin(), centers.end(), options.master) != centers.end(),
                   "master must be one of centers");
}

}  // namespace

const internal::State& internal::StateOf(const Trade& trade) {
  return static_cast<const TradeImpl&>(trade).state();
}

void Trade::ApplyBatch(std::span<const Command> commands,
                       const std::function<void(size_t, Reply&&)>& on_reply) {
  for (size_t i = 0; i < commands.size(); ++i) on_reply(i, Apply(commands[i]));
}

std::unique_ptr<Trade> Trade::Create(const Options& options) {
  const std::string& prefix = options.order_id_prefix;
  SURGE_ASSERT_MSG(prefix.size() <= kOrderIdPrefixLengthMax, "order_id_prefix is too long");
  SURGE_ASSERT_MSG(prefix.empty() || internal::IsIdFast(prefix),
                   "order_id_prefix must be made of [A-Za-z0-9_.:-]");
  AssertTopology(options);
  return std::make_unique<TradeImpl>(options);
}

}  // namespace surge::trade
