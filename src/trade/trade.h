// trade: the deterministic state machine of one center. Commands in, replies out.
//
// It owns every business rule of API.md's master-data and order sections: merchants, products,
// users, regular inventory, flash-sale campaigns (window, stock, price, per-user limit, reservation
// TTL), orders (reserve -> pay | cancel | expire, stock returning on cancel and expiry), multi-item
// orders reserved all-or-nothing, and idempotency by request id.
//
// It reads no clock and does no I/O: the time of a command arrives inside it (Command::now_ms), so
// replaying the same commands yields the same state, byte for byte (StateHash). Before applying a
// command, every reservation whose expires_at <= now_ms is expired.
//
// Invariants, asserted in release builds too (a violation aborts the process):
//   for every campaign and SKU: available + reserved + sold == stock, none of them negative;
//   no user holds more units of a campaign (reserved or paid) than its per_user_limit.
//
// The rules, in the order they are checked (the first failing check answers):
//   Every command: ValidateBody() (ids, lengths, ranges, duplicate SKUs, starts_at < ends_at)
//     answers bad_field naming the field; such a command changes nothing.
//   PutMerchant, PutUser: create or replace.
//   PutProduct: the merchant must exist (not_found). Price changes do not touch existing orders.
//   PutInventory: the product must exist (not_found); stock >= reserved + sold (bad_field).
//   PutCampaign: the product must exist (not_found); an existing campaign holding reserved or sold
//     units may not move to another SKU (bad_field sku); its window may not overlap another
//     campaign of the same SKU (bad_field starts_at); stock >= reserved + sold (bad_field stock);
//     per_user_limit >= the units any user holds in it (bad_field per_user_limit).
//   PlaceOrder:
//     1. A known request_id with the same PlaceOrderFingerprint answers the remembered reply with
//        replayed = true (the order as created, status reserved; or the remembered error). A known
//        request_id with another fingerprint answers request_id_reused, which is not remembered.
//     2. The user must exist (not_found).
//     3. Each item, in order: the product must exist (not_found). If a campaign of the SKU is
//        active (starts_at <= now_ms < ends_at): quantity > its available is sold_out, and held
//        + quantity > per_user_limit is limit_exceeded. Else if the SKU has a regular inventory
//        record: quantity > available is sold_out. Else if the SKU has any campaign:
//        campaign_not_active. Else sold_out (the SKU has no stock at all).
//     4. Everything is reserved at once; the order id is order_id_prefix + a decimal counter that
//        starts at 1. expires_at = now_ms + the smallest reserve_ttl_ms of its campaigns, or
//        kDefaultReserveTtlMs if it has none.
//     The reply of steps 2-4 (success or error) is remembered under the request_id. A body failing
//     ValidateBody is not remembered: it never applied, so a corrected retry is a new request.
//   PayOrder: unknown order not_found; reserved -> paid (reserved units become sold); paid -> ok
//     (idempotent); cancelled or expired -> wrong_state.
//   CancelOrder: unknown order not_found; reserved -> cancelled (stock and per-user units return);
//     cancelled -> ok (idempotent); paid or expired -> wrong_state.
//   Error messages name the SKU, campaign, user or order concerned; they depend only on the
//   command and on ids, so a replayed error carries the same message as the original.
//
// Performance: a PlaceOrder allocates nothing but amortized growth of the state (and the strings
// of its reply that are too long for std::string's inline buffer). On a state far larger than the
// CPU caches it is bound by cache misses (the request and user tables, the user's record, fresh
// memory): ApplyBatch overlaps them across commands, use it for batches. bench/trade_bench.cc
// measures both.
//
// Centers and quotas (multi-center deployments, Options::centers not empty):
//   Every center applies the same master-data commands in the same order (the master's, from its
//   bus stream, with an Origin), so every center keeps the same allocation table per campaign:
//   its stock, the units allocated to each center, and the unallocated rest
//   (sum of allocated + unallocated == stock). Beside it, each center sells from its own quota
//   (available + reserved + sold == quota); at the master quota == allocated[master], at another
//   center quota <= its allocated (a return lowers the quota at once, the table when the master
//   applied it). Summed over centers, quotas never exceed the stock.
//   PutDemand{sku, centers}: master data like the others: the product must exist (not_found),
//     every center must be one of the deployment (bad_field center); it replaces the SKU's
//     expected demand per center (centers it does not name expect 0).
//   PutCampaign, new: Options::up_front_percent of its stock (rounded down) is split over the
//     centers, each center's quota being its share: in proportion to the SKU's expected demand
//     (PutDemand) when its total is above 0, the units left by rounding down going one each to
//     the largest remainders (ties in topology order); else evenly in topology order (the first
//     units % n centers get one more). The rest stays unallocated, for the centers that ask
//     (RequestQuota).
//     On update a raised stock is split the same way; a lowered stock is taken from the
//     unallocated units only (bad_field
//     stock if they do not suffice), because no center can judge the others' sales; the SKU may not
//     change and per_user_limit may not go down (bad_field), for the same reason. (A single-center
//     deployment keeps the rules above.)
//   PutInventory: regular stock is split evenly the same way and may only grow (bad_field).
//   RequestQuota{campaign, center, units}: at the master, or with an Origin, it grants
//     min(units, unallocated) to `center` (table, and the quota if `center` is this center, whose
//     outstanding request it clears); at a sub-center without an Origin it is the center's own
//     request, recorded as outstanding (`center` must be this center; a new request replaces the
//     outstanding one). Unknown campaign: not_found.
//   ReturnQuota{campaign, center, units}: without an Origin, this center's own: units <= its
//     available (bad_field), its quota goes down by units (at the master the table too); with
//     an Origin, only the table changes: allocated[center] goes down (units <= it) and the
//     unallocated units up. (At a sub-center, its own return coming back: units <= allocated
//     minus its quota, so that the quota stays within the allocation. At the master, a return of
//     the master's own units is its own return, origin or not.)
//   CenterOrders{center, deltas}: at any center, adds the deltas to what `center` reported for
//     each campaign (unknown campaign: not_found; a count going negative: bad_field; nothing
//     changes then). The master's view of its own units is its own state.
//   An unknown center in any of these: bad_field center (in a single-center deployment every
//   center is unknown).
//
// Thread safety: none. One thread (the center's writer) owns a Trade.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "common/status.h"

namespace surge::trade {

// Bounds on client-supplied numbers, chosen so that no sum or product in the rules can overflow
// int64 (items_max * quantity_max * price_cents_max < 2^63).
inline constexpr int64_t kQuantityMax = 1'000'000;
inline constexpr int64_t kPriceCentsMax = 100'000'000'000;  // one billion in currency units
inline constexpr int64_t kStockMax = 1'000'000'000'000;
inline constexpr size_t kItemsMax = 64;
inline constexpr size_t kNameLengthMax = 256;
inline constexpr int64_t kTimeMsMax = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
inline constexpr int64_t kReserveTtlMsMax = 30LL * 24 * 3600 * 1000;
// Leaves room for 20 decimal digits of the order counter within an id's 64 characters.
inline constexpr size_t kOrderIdPrefixLengthMax = 44;

// ---- Commands ------------------------------------------------------------------------------

struct PutMerchant {
  std::string id;
  std::string name;

  friend bool operator==(const PutMerchant&, const PutMerchant&) = default;
};

struct PutProduct {
  std::string sku;
  std::string merchant;
  std::string name;
  std::string category;
  int64_t price_cents = 0;

  friend bool operator==(const PutProduct&, const PutProduct&) = default;
};

struct PutUser {
  std::string id;
  std::string region;

  friend bool operator==(const PutUser&, const PutUser&) = default;
};

// Sets the total regular (non-campaign) stock of a SKU: available becomes stock - reserved - sold,
// so stock may not go below what is already reserved or sold (bad_field).
struct PutInventory {
  std::string sku;
  int64_t stock = 0;

  friend bool operator==(const PutInventory&, const PutInventory&) = default;
};

// Creates or updates a flash sale on one SKU. Two campaigns of the same SKU may not have
// overlapping windows. On update, stock may not go below reserved + sold.
struct PutCampaign {
  std::string id;
  std::string sku;
  int64_t stock = 0;
  int64_t price_cents = 0;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // exclusive
  int64_t per_user_limit = 0;
  int64_t reserve_ttl_ms = 0;

  friend bool operator==(const PutCampaign&, const PutCampaign&) = default;
};

struct OrderItem {
  std::string sku;
  int64_t quantity = 0;

  friend bool operator==(const OrderItem&, const OrderItem&) = default;
};

// Reserves every item or none. An item whose SKU has a campaign active at now_ms is bought at the
// campaign's price from the campaign's stock and counts toward its per-user limit; otherwise from
// regular stock at the product's price. The order expires at now_ms + the shortest reserve_ttl_ms
// of its campaigns (kDefaultReserveTtlMs when it has none).
struct PlaceOrder {
  std::string request_id;
  std::string user;
  std::vector<OrderItem> items;

  friend bool operator==(const PlaceOrder&, const PlaceOrder&) = default;
};

struct PayOrder {
  std::string order_id;

  friend bool operator==(const PayOrder&, const PayOrder&) = default;
};

struct CancelOrder {
  std::string order_id;

  friend bool operator==(const CancelOrder&, const CancelOrder&) = default;
};

// Does nothing but expire due reservations (every command does that first); the center journals
// one when reservations are due and no other command arrives.
struct Tick {
  friend bool operator==(const Tick&, const Tick&) = default;
};

// ---- Multi-center commands (see "Centers and quotas" below) ----------------------------------

// A center asks the master for `units` (1..kStockMax) more of a campaign's stock; at the master
// (and replayed from the master's stream) it is the grant itself.
struct RequestQuota {
  std::string campaign;
  std::string center;
  int64_t units = 0;

  friend bool operator==(const RequestQuota&, const RequestQuota&) = default;
};

// A center hands `units` (1..kStockMax) of its available quota of a campaign back to the master.
struct ReturnQuota {
  std::string campaign;
  std::string center;
  int64_t units = 0;

  friend bool operator==(const ReturnQuota&, const ReturnQuota&) = default;
};

// How a center's order events changed a campaign's units (signed; see CampaignDeltas).
struct CampaignDelta {
  std::string campaign;
  int64_t reserved = 0;
  int64_t sold = 0;

  friend bool operator==(const CampaignDelta&, const CampaignDelta&) = default;
};

// At the master: what one record of order events of `center` changed, for its global view.
// 0..kItemsMax * 64 deltas, each campaign at most once, |reserved| and |sold| <= kStockMax.
struct CenterOrders {
  std::string center;
  std::vector<CampaignDelta> deltas;

  friend bool operator==(const CenterOrders&, const CenterOrders&) = default;
};

// ---- Demand (master data from the brain's forecasts) -----------------------------------------

struct CenterDemand {
  std::string center;  // 1..32 characters of an id
  int64_t units = 0;   // 0..kStockMax

  friend bool operator==(const CenterDemand&, const CenterDemand&) = default;
};

// The expected demand for a SKU at each center (the brain's forecast of its units over the days
// ahead), by which the master splits the up-front part of a campaign's stock (see "Centers and
// quotas"). Replaces what the SKU had. 1..kDemandCentersMax entries, each center at most once.
struct PutDemand {
  std::string sku;
  std::vector<CenterDemand> centers;

  friend bool operator==(const PutDemand&, const PutDemand&) = default;
};
inline constexpr size_t kDemandCentersMax = 256;

using Body =
    std::variant<PutMerchant, PutProduct, PutUser, PutInventory, PutCampaign, PlaceOrder, PayOrder,
                 CancelOrder, Tick, RequestQuota, ReturnQuota, CenterOrders, PutDemand>;

// Where a command applied at this center was first journaled: by center `center`, as its journal
// record `sequence`, published on the bus stream of kind `kind` (bus::Kind's value). A Trade
// keeps, per (center, kind), the highest origin sequence it applied (AppliedThrough, part of the
// state, its snapshot and its hash); a command whose origin sequence is not above it changes
// nothing (not even last_now_ms) and answers ok with replayed = true, no value. Otherwise it is
// applied and the position advances, whatever the reply (an error reply is as final as a
// success). So a consumer that resubscribes after AppliedThrough, or is handed a record twice,
// applies every record exactly once.
struct Origin {
  std::string center;     // a valid center id (common/ids.h), at most 32 characters
  uint8_t kind = 0;       // 1..3
  uint64_t sequence = 0;  // >= 1

  friend bool operator==(const Origin&, const Origin&) = default;
};

struct Command {
  int64_t now_ms = 0;
  Body body;
  // none: a command this center took itself. (Every member added to a struct that callers build
  // by aggregate initialization has a default member initializer: -Wmissing-field-initializers.)
  std::optional<Origin> origin = std::nullopt;

  friend bool operator==(const Command&, const Command&) = default;
};

inline constexpr int64_t kDefaultReserveTtlMs = int64_t{15} * 60 * 1000;

// ---- Views (what replies and reads return) -------------------------------------------------

enum class OrderStatus : uint8_t { kReserved = 0, kPaid = 1, kCancelled = 2, kExpired = 3 };
std::string_view OrderStatusName(OrderStatus status);  // "reserved", "paid", ...

struct MerchantView {
  std::string id;
  std::string name;

  friend bool operator==(const MerchantView&, const MerchantView&) = default;
};

struct ProductView {
  std::string sku;
  std::string merchant;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
  // Multi-center, after a PutDemand: the expected demand of every center, in topology order.
  std::vector<CenterDemand> demand = {};

  friend bool operator==(const ProductView&, const ProductView&) = default;
};

struct UserView {
  std::string id;
  std::string region;

  friend bool operator==(const UserView&, const UserView&) = default;
};

struct StockCounts {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;

  friend bool operator==(const StockCounts&, const StockCounts&) = default;
};

struct InventoryView {
  std::string sku;
  StockCounts counts;

  friend bool operator==(const InventoryView&, const InventoryView&) = default;
};

// One center's share of a campaign, as the master sees it.
struct CenterQuotaView {
  std::string center;
  int64_t quota = 0;      // allocated to the center (its available + reserved + sold)
  int64_t available = 0;  // quota - reserved - sold
  int64_t reserved = 0;   // the master's own, or as the center's order events reported them
  int64_t sold = 0;

  friend bool operator==(const CenterQuotaView&, const CenterQuotaView&) = default;
};

struct CampaignView {
  std::string id;
  std::string sku;
  int64_t price_cents = 0;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t per_user_limit = 0;
  int64_t reserve_ttl_ms = 0;
  // This center's units: stock is its quota (in a single-center deployment, the campaign's stock).
  StockCounts counts;
  // The campaign's whole stock, and what of it no center holds (the allocation table, which every
  // center keeps identically). In a single-center deployment: counts.stock and 0.
  int64_t campaign_stock = 0;
  int64_t unallocated = 0;
  // Units this center asked the master for and has not been granted yet (0: none outstanding).
  int64_t requested = 0;
  // At the master of a multi-center deployment: every center, in topology order. Else empty.
  std::vector<CenterQuotaView> centers = {};

  friend bool operator==(const CampaignView&, const CampaignView&) = default;
};

struct OrderItemView {
  std::string sku;
  int64_t quantity = 0;
  int64_t price_cents = 0;  // unit price charged
  std::string campaign;     // empty when bought from regular stock

  friend bool operator==(const OrderItemView&, const OrderItemView&) = default;
};

struct OrderView {
  std::string order_id;
  std::string request_id;
  std::string user;
  OrderStatus status = OrderStatus::kReserved;
  int64_t total_cents = 0;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  // Has std::vector's interface. Most orders have one item, which then lives in the view itself:
  // answering an order allocates nothing but its strings (none when they are short).
  absl::InlinedVector<OrderItemView, 1> items;

  friend bool operator==(const OrderView&, const OrderView&) = default;
};

// ---- Order events --------------------------------------------------------------------------

enum class OrderEventType : uint8_t { kCreated = 0, kPaid = 1, kCancelled = 2, kExpired = 3 };
std::string_view OrderEventTypeName(OrderEventType type);  // "created", "paid", ...

// What happened to an order, self-contained: the order as it is after the event (created: status
// reserved; paid; cancelled; expired), at the command time `at_ms`. Recorded only when
// Options::record_events is on, in the order they happened, and taken with TakeEvents.
struct OrderEvent {
  // 1 + the number of events this state recorded before this one: consecutive, deterministic, part
  // of the state (its snapshot and hash). The center uses it to journal every event exactly once
  // (at recovery it journals again only the events numbered beyond the last one journaled), so
  // the EventsRecord codec must carry it.
  uint64_t number = 0;
  OrderEventType type = OrderEventType::kCreated;
  int64_t at_ms = 0;
  OrderView order = {};

  friend bool operator==(const OrderEvent&, const OrderEvent&) = default;
};

// How `events` change each campaign's reserved and sold units (created: +reserved; paid:
// -reserved +sold; cancelled, expired: -reserved), one delta per campaign, in order of first
// appearance, campaigns whose units did not change left out. Items bought from regular stock
// do not count.
std::vector<CampaignDelta> CampaignDeltas(std::span<const OrderEvent> events);

// ---- Replies -------------------------------------------------------------------------------

// What applying a command answers. `status` is ok or one of the API's error codes with a message a
// person can act on; on success `value` holds the stored object (the order for order commands; for
// PlaceOrder the order as it was created, with status reserved, also on an idempotent retry).
struct Reply {
  Status status;
  std::variant<std::monostate, MerchantView, ProductView, UserView, InventoryView, CampaignView,
               OrderView>
      value;
  // True when a PlaceOrder was answered from the idempotency record of an earlier request.
  bool replayed = false;
};

// ---- The state machine ---------------------------------------------------------------------

struct Options {
  // Prefix of the order ids this center issues ("o.c1." -> "o.c1.42"). Must be an id-safe
  // string (empty allowed) of at most kOrderIdPrefixLengthMax characters, so that every order id
  // is a valid id (Create asserts it); order ids stay unique across centers as long as prefixes
  // differ. A Trade only recognizes order ids with its own prefix.
  std::string order_id_prefix = "o.";
  // How many orders (and order requests) the center expects to take, a sizing hint like a
  // database's initial size: Create (and Restore) allocates and touches the memory of that many
  // request ids, orders and items up front, so that taking them neither rehashes the request
  // table nor page-faults on fresh memory. 0 (the default): everything grows on demand. It changes
  // no behaviour and no snapshot byte.
  size_t expected_orders = 0;

  // Multi-center deployments (see "Centers and quotas"): this center's id, the master's, and
  // every center of the topology in its order (which decides the even split of stock). Empty
  // `centers`: a single-center deployment, this center alone and its own master.
  std::string center = {};
  std::string master = {};
  std::vector<std::string> centers = {};
  // Multi-center: the share of a new campaign's stock, in percent (1..100), split evenly over the
  // centers up front; the rest is granted on request (RequestQuota), so that it goes where the
  // demand turns out to be. Every center of a deployment must use the same value: it decides the
  // allocation table, which every center computes alike.
  int64_t up_front_percent = 100;
  // Record an OrderEvent for every order created, paid, cancelled or expired (TakeEvents).
  bool record_events = false;
};

class Trade {
 public:
  static std::unique_ptr<Trade> Create(const Options& options);
  virtual ~Trade() = default;

  // Applies one command. Commands must come with non-decreasing now_ms (asserted).
  virtual Reply Apply(const Command& command) = 0;
  // Applies `commands` in order, with exactly the effect and the replies of calling Apply on each,
  // and calls `on_reply` with each command's index in `commands` and its reply, in order, as soon
  // as that command is applied. Prefer it for batches: while one command is applied, the memory
  // that the next ones will touch is fetched, so that on a large state (millions of requests and
  // users, far beyond the CPU caches) their cache misses overlap instead of following each other.
  // `on_reply` must not call back into this Trade.
  virtual void ApplyBatch(std::span<const Command> commands,
                          const std::function<void(size_t index, Reply&& reply)>& on_reply);

  // Reads. `now_ms` only affects how a due-but-not-yet-expired reservation is shown: as expired,
  // because the next command will expire it. Unknown ids are not_found.
  virtual Result<MerchantView> GetMerchant(std::string_view id) const = 0;
  virtual Result<ProductView> GetProduct(std::string_view sku) const = 0;
  virtual Result<UserView> GetUser(std::string_view id) const = 0;
  virtual Result<InventoryView> GetInventory(std::string_view sku) const = 0;
  virtual Result<CampaignView> GetCampaign(std::string_view id) const = 0;
  virtual Result<OrderView> GetOrder(std::string_view order_id, int64_t now_ms) const = 0;
  // All orders of the user, oldest first; not_found if the user does not exist.
  virtual Result<std::vector<OrderView>> GetUserOrders(std::string_view user,
                                                       int64_t now_ms) const = 0;

  // The campaign of `sku` active at `now_ms`, if any, and its counts. Used by the center to
  // publish sold-out flags without copying views. The counts are as of the last command: units of
  // reservations due at now_ms still count as reserved until the next command expires them.
  virtual std::optional<StockCounts> ActiveCampaignCounts(std::string_view sku,
                                                          int64_t now_ms) const = 0;
  // True if a PlaceOrder with this request id has been applied and its reply remembered (see the
  // rules above: bad_field and request_id_reused answers are not remembered).
  virtual bool KnowsRequest(std::string_view request_id) const = 0;
  // Calls `visit` with every known request id (to rebuild caches after recovery), in no particular
  // order.
  virtual void ForEachRequestId(const std::function<void(std::string_view)>& visit) const = 0;
  // The earliest expires_at of a reserved order, if any.
  virtual std::optional<int64_t> NextExpiryMs() const = 0;
  // now_ms of the last applied command (0 before any).
  virtual int64_t last_now_ms() const = 0;
  // Count of orders ever created.
  virtual uint64_t order_count() const = 0;

  // Moves the events recorded since the last call to the end of *out (Options::record_events).
  virtual void TakeEvents(std::vector<OrderEvent>* out) = 0;
  // The same pending events (recorded, not yet taken nor dropped), without building them: the
  // center's path, which journals each batch's events as records and needs no OrderEvent.
  // How many are pending; they are numbered consecutively, the last one events_recorded().
  virtual size_t PendingEventCount() const = 0;
  virtual uint64_t events_recorded() const = 0;
  // Appends to *out the events record (EncodeEvents's bytes exactly) of `through` and the pending
  // events [begin, begin + count) (asserted within PendingEventCount()), read straight from the
  // state: allocates nothing but *out's growth once warm. Leaves them pending.
  virtual void EncodePendingEvents(uint64_t through, size_t begin, size_t count,
                                   std::string* out) = 0;
  // Forgets the pending events numbered up to `number` (all of them when it is at least
  // events_recorded()), as if taken.
  virtual void DropEventsThrough(uint64_t number) = 0;
  // The highest origin sequence applied from (center, kind); 0 if none.
  virtual uint64_t AppliedThrough(std::string_view center, uint8_t kind) const = 0;
  // The quota commands this center should take now (see "Centers and quotas"): a RequestQuota
  // for each campaign active at now_ms whose available fell to its low-water mark (a tenth of
  // its quota, rounded down) while the allocation table has unallocated units and no request is
  // outstanding, for max(1, unallocated / number of centers) units; at a sub-center, a
  // ReturnQuota of what is available of each campaign that has ended. Empty in a single-center
  // deployment. Pure: the caller journals and applies them like any command.
  virtual std::vector<Body> QuotaCommands(int64_t now_ms) const = 0;

  // The whole state as bytes, deterministic: the same state gives the same bytes (entities are
  // written sorted by id, orders by counter), whatever order the entities were created in. The
  // bytes start with a format version and end with a CRC-32C of everything before it. Costs time
  // and memory in proportion to the state: call it for snapshots, not per command.
  virtual std::string Snapshot() const = 0;
  // Replaces the state with a snapshot's. corruption if the bytes do not decode (bad checksum,
  // unknown version, truncation, trailing bytes, out-of-range values) or break an invariant;
  // invalid_argument if the snapshot was taken with another order_id_prefix or another list of
  // centers (Options::centers). The state is unchanged on any error.
  virtual Status Restore(std::string_view snapshot) = 0;
  // A stable 64-bit hash of Snapshot(): equal on every replica that applied the same commands,
  // and across processes and builds. As costly as Snapshot().
  virtual uint64_t StateHash() const = 0;
  // Scans everything and checks every invariant; returns the first violation found (internal).
  virtual Status CheckInvariants() const = 0;
};

// The checks of a command that need no state: every id valid (common/ids.h), names at most
// kNameLengthMax bytes, numbers within the bounds above (quantity 1..kQuantityMax, price_cents
// 0..kPriceCentsMax, stock 0..kStockMax, times 0..kTimeMsMax with starts_at < ends_at,
// per_user_limit 1..kStockMax, reserve_ttl_ms 1..kReserveTtlMsMax), 1..kItemsMax items with no SKU
// twice; in quota commands, center ids of at most 32 characters, units 1..kStockMax, at most
// kItemsMax * 64 deltas with no campaign twice and |reserved|, |sold| <= kStockMax. Returns
// bad_field naming the field ("items[2].quantity") or ok. Apply runs it first (after the origin's
// checks: bad_field "origin.kind" and the like, which advance no position); the center should run
// both before journaling a command, because EncodeCommand asserts them.
Status ValidateBody(const Body& body);

// Journal payload codec: a format version byte (1; 2 when an origin follows now_ms), the command
// kind, now_ms, [the origin,] the fields (varints and length-prefixed strings, common/coding.h).
// Encode asserts that now_ms is within 0..kTimeMsMax, that ValidateBody(command.body) is ok and
// that the origin is well-formed (see Origin); Decode checks every byte (its input comes from disk)
// and returns corruption on anything it cannot read, on trailing bytes, and on a command that
// Encode would have refused. decode(encode(c)) == c for every command Encode accepts.
void EncodeCommand(const Command& command, std::string* out);
Result<Command> DecodeCommand(std::string_view bytes);

// A fingerprint of the parts of a PlaceOrder that make two requests "the same body" (user, and
// items in order), to tell an idempotent retry from a reused request id. Stable across processes
// and builds (it is part of the snapshot's meaning).
uint64_t PlaceOrderFingerprint(const PlaceOrder& order);

// The journal record of a batch's order events: its own format, told apart from a command by its
// first byte. `through` is the journal sequence of the last command whose events it holds (the
// center regenerates at recovery the events of commands after the last such record). Decode
// checks every byte like DecodeCommand (corruption).
struct EventsRecord {
  uint64_t through = 0;
  std::vector<OrderEvent> events = {};

  friend bool operator==(const EventsRecord&, const EventsRecord&) = default;
};
bool IsEventsRecord(std::string_view journal_payload);
void EncodeEvents(uint64_t through, std::span<const OrderEvent> events, std::string* out);
Result<EventsRecord> DecodeEvents(std::string_view bytes);

// What a consumer that does not need the orders reads of an events record: its header and its
// events' CampaignDeltas. Records of format 2 (those written now) carry the deltas ahead of the
// events, so that only the header and the deltas are read and checked (the events are not); a
// record of format 1 (written before) is decoded whole (DecodeEvents) and summed. For bytes
// DecodeEvents accepts, it gives exactly through, the first event's number (0 if none), the
// count and CampaignDeltas(events); corruption for what it cannot read.
struct EventsSummary {
  uint64_t through = 0;
  uint64_t first_number = 0;
  uint64_t count = 0;
  std::vector<CampaignDelta> deltas = {};

  friend bool operator==(const EventsSummary&, const EventsSummary&) = default;
};
Result<EventsSummary> DecodeEventsSummary(std::string_view bytes);

}  // namespace surge::trade
