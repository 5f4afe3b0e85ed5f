// Private to trade: the in-memory representation of a Trade's state.
//
// Ids are interned: every merchant, user, product (SKU) and campaign gets a dense uint32 index in
// its vector, and an id -> index map. Id strings live in a StringArena, so the maps can key on
// string_views that never move. Orders live in a vector indexed by counter - 1, their items in one
// shared vector. Nothing here allocates per command except amortized vector and map growth.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "trade/trade.h"

namespace surge::trade::internal {

inline constexpr uint32_t kNoIndex = UINT32_MAX;

// Copies of short strings in large blocks that never move, so string_views into it stay valid for
// the arena's lifetime (also when the arena itself is moved).
class StringArena {
 public:
  std::string_view Store(std::string_view text);
  // Gives back the bytes of `text`, which must be the result of the latest Store.
  void Unstore(std::string_view text);

 private:
  static constexpr size_t kBlockBytes = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  size_t left_ = 0;
};

// stock == available + reserved + sold, all of them >= 0.
struct Counts {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
};

struct Merchant {
  std::string_view id;
  std::string name;
};

struct User {
  std::string_view id;
  std::string region;
  uint32_t last_order = kNoIndex;  // newest order; orders link to their predecessor
};

struct Product {
  std::string_view sku;
  uint32_t merchant = kNoIndex;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
  bool has_inventory = false;  // a PutInventory was applied
  Counts inventory;
  std::vector<uint32_t> campaigns;  // sorted by starts_at; windows never overlap
};

struct Campaign {
  std::string_view id;
  uint32_t product = kNoIndex;
  int64_t price_cents = 0;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t per_user_limit = 0;
  int64_t reserve_ttl_ms = 0;
  Counts counts;
};

struct Item {
  uint32_t product = kNoIndex;
  uint32_t campaign = kNoIndex;  // kNoIndex: bought from regular inventory
  int64_t quantity = 0;
  int64_t price_cents = 0;
};

struct Order {
  std::string_view request_id;
  uint32_t user = kNoIndex;
  uint32_t previous_of_user = kNoIndex;
  uint32_t items_begin = 0;
  uint8_t items_count = 0;
  OrderStatus status = OrderStatus::kReserved;
  int64_t total_cents = 0;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// How a remembered PlaceOrder was answered. Error messages are rebuilt from the outcome, the item
// index and the campaign, with the retried body (which has the same fingerprint).
enum class Outcome : uint8_t {
  kReserved = 0,         // target = order index
  kUserNotFound = 1,     //
  kProductNotFound = 2,  // item
  kCampaignSoldOut = 3,  // item, target = campaign index
  kLimitExceeded = 4,    // item, target = campaign index
  kSoldOut = 5,          // item: regular inventory too small
  kNoStock = 6,          // item: no inventory record and no campaign
  kNotActive = 7,        // item: campaigns exist, none active
};
inline constexpr uint8_t kOutcomeMax = 7;

struct RequestRecord {
  uint64_t fingerprint = 0;
  uint32_t target = kNoIndex;
  Outcome outcome = Outcome::kReserved;
  uint8_t item = 0;
};

struct Expiry {
  int64_t expires_at_ms;
  uint32_t order;
};

using IdMap = absl::flat_hash_map<std::string_view, uint32_t>;

inline uint64_t HoldingKey(uint32_t user, uint32_t campaign) {
  return (static_cast<uint64_t>(user) << 32) | campaign;
}

struct State {
  StringArena arena;
  int64_t last_now_ms = 0;

  IdMap merchant_index;
  IdMap user_index;
  IdMap product_index;
  IdMap campaign_index;
  std::vector<Merchant> merchants;
  std::vector<User> users;
  std::vector<Product> products;
  std::vector<Campaign> campaigns;

  std::vector<Order> orders;  // order counter - 1
  std::vector<Item> items;
  absl::flat_hash_map<std::string_view, RequestRecord> requests;
  // Units a user holds (reserved or paid) per campaign; entries at zero are erased.
  absl::flat_hash_map<uint64_t, int64_t> holdings;
  // A min-heap on expires_at of reserved orders. Orders leave it lazily; its top is always a
  // reserved order (settled tops are popped after every command).
  std::vector<Expiry> expiry_heap;
};

// Index of the campaign of `product` active at `now_ms`, or kNoIndex.
uint32_t ActiveCampaign(const State& state, const Product& product, int64_t now_ms);

// Full scan of every invariant (see trade.h); the first violation as internal.
Status CheckState(const State& state);

// The snapshot format of trade.h's Snapshot(), and its validating inverse: DecodeSnapshot fills a
// fresh `out` and checks every field and invariant (corruption), and that the snapshot was taken
// with `prefix` (invalid_argument).
std::string EncodeSnapshot(const State& state, std::string_view prefix);
Status DecodeSnapshot(std::string_view bytes, std::string_view prefix, State* out);

// A stable 64-bit hash, 8 bytes at a time, little-endian; for fingerprints and state hashes.
class StableHasher {
 public:
  explicit StableHasher(uint64_t seed = 0) : state_(seed ^ 0x243f6a8885a308d3ULL) {}
  void AddWord(uint64_t word) {
    state_ = (state_ ^ word) * 0x9e3779b97f4a7c15ULL;
    state_ ^= state_ >> 29;
  }
  void AddBytes(std::string_view bytes);
  uint64_t Finish() const;

 private:
  uint64_t state_;
};

// Concatenates strings and integers (for messages; absl::StrCat does not take std::string_view
// in every abseil build).
template <typename Piece>
void AppendPiece(std::string* out, const Piece& piece) {
  if constexpr (std::is_integral_v<Piece> && std::is_signed_v<Piece>) {
    out->append(std::to_string(static_cast<long long>(piece)));
  } else if constexpr (std::is_integral_v<Piece>) {
    out->append(std::to_string(static_cast<unsigned long long>(piece)));
  } else {
    out->append(std::string_view(piece));
  }
}
template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::string out;
  (AppendPiece(&out, pieces), ...);
  return out;
}

// True if `id` is a valid id (common/ids.h), by table lookup.
bool IsIdFast(std::string_view id);

// "<prefix><counter>" and its inverse (0 when `order_id` is not one of ours).
void AppendOrderId(std::string_view prefix, uint64_t counter, std::string* out);
uint64_t ParseOrderCounter(std::string_view prefix, std::string_view order_id);

}  // namespace surge::trade::internal
