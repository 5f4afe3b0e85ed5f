// Private to trade: the in-memory representation of a Trade's state.
//
// Ids are interned: every merchant, user, product (SKU), campaign and request id gets a dense
// uint32 index from its IdTable, and the entity lives at that index of a plain vector. Orders live
// in a vector indexed by counter - 1, their items in one shared vector. A PlaceOrder allocates
// nothing here but amortized vector and table growth.
//
// The layout is chosen for a flash sale's access pattern, millions of orders from millions of
// users on a few hot SKUs: the id tables hold 8-byte entries (so large ones stay cache-friendly and
// grow without touching the strings), what an order touches of its user fits one cache line, and
// orders, items and expiry lanes are appended and consumed sequentially.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "common/status.h"
#include "trade/trade.h"

namespace surge::trade::internal {

inline constexpr uint32_t kNoIndex = UINT32_MAX;

// Copies of short strings in large blocks that never move, so string_views into it stay valid for
// the arena's lifetime (also when the arena itself is moved).
class StringArena {
 public:
  std::string_view Store(std::string_view text);

 private:
  static constexpr size_t kBlockBytes = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  size_t left_ = 0;
};

inline uint64_t Load64(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, 8);  // little-endian on x86-64, the only target
  return word;
}

// 64x64 -> 128-bit multiply folded to 64 bits: a fast, well-mixing step (as in wyhash).
inline uint64_t FoldedMultiply(uint64_t a, uint64_t b) {
  const __uint128_t product = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

// A fast hash of an id (up to 64 bytes), deterministic across runs. For hash tables only.
inline uint64_t HashId(std::string_view id) {
  constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
  const char* bytes = id.data();
  size_t size = id.size();
  uint64_t hash = 0x2d358dccaa6c78a5ULL ^ size;
  if (size >= 8) {
    const char* last = bytes + size - 8;
    while (bytes < last) {
      hash = FoldedMultiply(hash ^ Load64(bytes), kMultiplier);
      bytes += 8;
    }
    hash = FoldedMultiply(hash ^ Load64(last), kMultiplier);  // overlaps the previous word
  } else if (size > 0) {
    uint64_t word = 0;
    std::memcpy(&word, bytes, size);
    hash = FoldedMultiply(hash ^ word, kMultiplier);
  }
  return FoldedMultiply(hash, 0x8bb84b93962eacc9ULL);
}

// Interns ids: each distinct id gets the next dense index, and a copy that lives as long as the
// table. Entries are 8 bytes (32 bits of hash, the index); lookups compare the hash bits first and
// the id bytes only on a match.
class IdTable {
 public:
  IdTable();

  // Index of `id`, or kNoIndex.
  uint32_t Find(std::string_view id) const {
    const auto found = set_.find(Probe{id, Hash32(id)});
    return found == set_.end() ? kNoIndex : static_cast<uint32_t>(*found);
  }
  // Index of `id`, adding it with index size() if absent (then *added is true).
  uint32_t Insert(std::string_view id, bool* added);
  // Starts loading the memory that a Find or Insert of `id` will touch.
  void Prefetch(std::string_view id) const { set_.prefetch(Probe{id, Hash32(id)}); }

  std::string_view id(uint32_t index) const { return ids_->ids[index]; }
  const std::vector<std::string_view>& ids() const { return ids_->ids; }
  size_t size() const { return ids_->ids.size(); }
  void Reserve(size_t count);

 private:
  struct Ids {
    StringArena arena;
    std::vector<std::string_view> ids;
  };
  struct Probe {
    std::string_view id;
    uint32_t hash;
  };
  static uint32_t Hash32(std::string_view id) { return static_cast<uint32_t>(HashId(id) >> 32); }
  static size_t Spread(uint64_t hash32) { return hash32 * 0x9e3779b97f4a7c15ULL; }
  struct Hasher {
    using is_transparent = void;
    size_t operator()(uint64_t entry) const { return Spread(entry >> 32); }
    size_t operator()(const Probe& probe) const { return Spread(probe.hash); }
  };
  struct Equal {
    using is_transparent = void;
    const Ids* ids;
    bool operator()(uint64_t a, uint64_t b) const {
      return (a >> 32) == (b >> 32) &&
             ids->ids[static_cast<uint32_t>(a)] == ids->ids[static_cast<uint32_t>(b)];
    }
    bool operator()(uint64_t entry, const Probe& probe) const {
      return (entry >> 32) == probe.hash && ids->ids[static_cast<uint32_t>(entry)] == probe.id;
    }
    bool operator()(const Probe& probe, uint64_t entry) const { return (*this)(entry, probe); }
  };

  std::unique_ptr<Ids> ids_;  // on the heap: Equal points to it, and tables move
  absl::flat_hash_set<uint64_t, Hasher, Equal> set_;
};

// stock == available + reserved + sold, all of them >= 0.
struct Counts {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
};

// Units a user holds (reserved or paid) in one campaign; never zero.
struct Holding {
  int64_t units = 0;
  uint32_t campaign = kNoIndex;
};

// What an order touches of its user, in one cache line (the region lives in State::user_regions).
struct alignas(64) User {
  uint32_t last_order = kNoIndex;  // newest order; orders link to their predecessor
  // Sorted by campaign. Short: a user holds units of few campaigns.
  absl::InlinedVector<Holding, 3> holdings;

  int64_t Held(uint32_t campaign) const {
    const auto found = std::lower_bound(
        holdings.begin(), holdings.end(), campaign,
        [](const Holding& holding, uint32_t wanted) { return holding.campaign < wanted; });
    return found != holdings.end() && found->campaign == campaign ? found->units : 0;
  }
  // Adds `delta` (positive or negative) to the units held in `campaign`; returns the new units.
  int64_t AddHeld(uint32_t campaign, int64_t delta);
};

struct Merchant {
  std::string name;
};

struct Product {
  uint32_t merchant = kNoIndex;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
  bool has_inventory = false;  // a PutInventory was applied
  Counts inventory;
  std::vector<uint32_t> campaigns;  // sorted by starts_at; windows never overlap
};

struct Campaign {
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
  uint32_t request = kNoIndex;  // index in State::request_ids
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

// Reserved orders by expiry. Orders with the same TTL are created in time order, so they expire in
// that order too: each TTL gets a FIFO lane (appended and consumed sequentially, which millions of
// reservations need far more than a binary heap's random accesses), and a small heap orders the
// lanes by their first entry. Entries of paid or cancelled orders stay until they reach the
// front; the state machine drops them there.
class ExpiryQueue {
 public:
  // `expires_at_ms` must not be earlier than that of the previous Add with the same `ttl_ms`.
  void Add(int64_t ttl_ms, int64_t expires_at_ms, uint32_t order);
  bool empty() const { return heap_.empty(); }
  // The entry with the earliest expires_at (ties: the lane created first). Not empty().
  const Expiry& Front() const { return lanes_[heap_.front()].Front(); }
  void PopFront();
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const Lane& lane : lanes_) {
      for (size_t i = lane.head; i < lane.entries.size(); ++i) visit(lane.ttl_ms, lane.entries[i]);
    }
  }
  // Lanes sorted, heap valid, and the lanes in the heap exactly the non-empty ones.
  bool WellFormed() const;

 private:
  struct Lane {
    int64_t ttl_ms = 0;
    std::vector<Expiry> entries;
    size_t head = 0;
    bool queued = false;  // in heap_, exactly when not empty
    const Expiry& Front() const { return entries[head]; }
    bool empty() const { return head == entries.size(); }
  };
  bool Later(uint32_t a, uint32_t b) const {
    const int64_t a_ms = lanes_[a].Front().expires_at_ms;
    const int64_t b_ms = lanes_[b].Front().expires_at_ms;
    return a_ms != b_ms ? a_ms > b_ms : a > b;
  }

  std::vector<Lane> lanes_;
  absl::flat_hash_map<int64_t, uint32_t> lane_of_ttl_;
  std::vector<uint32_t> heap_;
  uint32_t last_lane_ = kNoIndex;  // most orders share a TTL: skip the map lookup
};

struct State {
  int64_t last_now_ms = 0;

  IdTable merchant_ids;
  IdTable user_ids;
  IdTable product_ids;
  IdTable campaign_ids;
  IdTable request_ids;
  // Each indexed like its IdTable.
  std::vector<Merchant> merchants;
  std::vector<User> users;
  std::vector<std::string> user_regions;
  std::vector<Product> products;
  std::vector<Campaign> campaigns;
  std::vector<RequestRecord> requests;

  std::vector<Order> orders;  // order counter - 1
  std::vector<Item> items;
  // Every reserved order; its front is always a reserved one (settled fronts are dropped after
  // every command).
  ExpiryQueue expiry;
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
  void AddWord(uint64_t word) { state_ = FoldedMultiply(state_ ^ word, 0x9e3779b97f4a7c15ULL); }
  void AddBytes(std::string_view bytes) {
    AddWord(bytes.size());
    const char* cursor = bytes.data();
    size_t left = bytes.size();
    for (; left >= 8; left -= 8, cursor += 8) AddWord(Load64(cursor));
    if (left > 0) {
      uint64_t word = 0;
      std::memcpy(&word, cursor, left);
      AddWord(word);
    }
  }
  uint64_t Finish() const { return FoldedMultiply(state_, 0x8bb84b93962eacc9ULL); }

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
