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
// Thread safety: none. One thread (the center's writer) owns a Trade.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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

// ---- Commands ------------------------------------------------------------------------------

struct PutMerchant {
  std::string id;
  std::string name;
};

struct PutProduct {
  std::string sku;
  std::string merchant;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
};

struct PutUser {
  std::string id;
  std::string region;
};

// Sets the total regular (non-campaign) stock of a SKU: available becomes stock - reserved - sold,
// so stock may not go below what is already reserved or sold (bad_field).
struct PutInventory {
  std::string sku;
  int64_t stock = 0;
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
};

struct OrderItem {
  std::string sku;
  int64_t quantity = 0;
};

// Reserves every item or none. An item whose SKU has a campaign active at now_ms is bought at the
// campaign's price from the campaign's stock and counts toward its per-user limit; otherwise from
// regular stock at the product's price. The order expires at now_ms + the shortest reserve_ttl_ms
// of its campaigns (kDefaultReserveTtlMs when it has none).
struct PlaceOrder {
  std::string request_id;
  std::string user;
  std::vector<OrderItem> items;
};

struct PayOrder {
  std::string order_id;
};

struct CancelOrder {
  std::string order_id;
};

// Does nothing but expire due reservations (every command does that first); the center journals
// one when reservations are due and no other command arrives.
struct Tick {};

using Body = std::variant<PutMerchant, PutProduct, PutUser, PutInventory, PutCampaign, PlaceOrder,
                          PayOrder, CancelOrder, Tick>;

struct Command {
  int64_t now_ms = 0;
  Body body;
};

inline constexpr int64_t kDefaultReserveTtlMs = 15 * 60 * 1000;

// ---- Views (what replies and reads return) -------------------------------------------------

enum class OrderStatus : uint8_t { kReserved = 0, kPaid = 1, kCancelled = 2, kExpired = 3 };
std::string_view OrderStatusName(OrderStatus status);  // "reserved", "paid", ...

struct MerchantView {
  std::string id;
  std::string name;
};

struct ProductView {
  std::string sku;
  std::string merchant;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
};

struct UserView {
  std::string id;
  std::string region;
};

struct StockCounts {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
};

struct InventoryView {
  std::string sku;
  StockCounts counts;
};

struct CampaignView {
  std::string id;
  std::string sku;
  int64_t price_cents = 0;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t per_user_limit = 0;
  int64_t reserve_ttl_ms = 0;
  StockCounts counts;
};

struct OrderItemView {
  std::string sku;
  int64_t quantity = 0;
  int64_t price_cents = 0;  // unit price charged
  std::string campaign;     // empty when bought from regular stock
};

struct OrderView {
  std::string order_id;
  std::string request_id;
  std::string user;
  OrderStatus status = OrderStatus::kReserved;
  int64_t total_cents = 0;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  std::vector<OrderItemView> items;
};

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
  // string; order ids stay unique across centers as long as prefixes differ.
  std::string order_id_prefix = "o.";
};

class Trade {
 public:
  static std::unique_ptr<Trade> Create(const Options& options);
  virtual ~Trade() = default;

  // Applies one command. Commands must come with non-decreasing now_ms (asserted).
  virtual Reply Apply(const Command& command) = 0;

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
  // publish sold-out flags without copying views.
  virtual std::optional<StockCounts> ActiveCampaignCounts(std::string_view sku,
                                                          int64_t now_ms) const = 0;
  // True if a PlaceOrder with this request id has been applied.
  virtual bool KnowsRequest(std::string_view request_id) const = 0;
  // Calls `visit` with every known request id (to rebuild caches after recovery).
  virtual void ForEachRequestId(const std::function<void(std::string_view)>& visit) const = 0;
  // The earliest expires_at of a reserved order, if any.
  virtual std::optional<int64_t> NextExpiryMs() const = 0;
  // now_ms of the last applied command (0 before any).
  virtual int64_t last_now_ms() const = 0;
  // Count of orders ever created.
  virtual uint64_t order_count() const = 0;

  // The whole state as bytes, deterministic: the same state gives the same bytes.
  virtual std::string Snapshot() const = 0;
  // Replaces the state with a snapshot's. corruption if the bytes do not decode or break an
  // invariant; the state is unchanged then.
  virtual Status Restore(std::string_view snapshot) = 0;
  // A hash of Snapshot(): equal on every replica that applied the same commands.
  virtual uint64_t StateHash() const = 0;
  // Scans everything and checks every invariant; returns the first violation found.
  virtual Status CheckInvariants() const = 0;
};

// Journal payload codec. Encode asserts the command is well-formed enough to encode; Decode checks
// every byte (its input comes from disk) and returns corruption on anything it cannot read.
void EncodeCommand(const Command& command, std::string* out);
Result<Command> DecodeCommand(std::string_view bytes);

// A fingerprint of the parts of a PlaceOrder that make two requests "the same body" (user, and
// items in order), to tell an idempotent retry from a reused request id.
uint64_t PlaceOrderFingerprint(const PlaceOrder& order);

}  // namespace surge::trade
