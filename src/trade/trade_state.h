// Private to trade: the in-memory representation of a Trade's state.
//
// Ids are interned: every merchant, user, product (SKU), campaign and request id gets a dense
// uint32 index from its IdTable, and the entity lives at that index of a plain vector. Orders live
// in a vector indexed by counter - 1, their items in one shared vector. A PlaceOrder allocates
// nothing here but amortized vector and table growth.
//
// The layout is chosen for a flash sale's access pattern, millions of orders from millions of
// users on a few hot SKUs: the id tables hold 8-byte entries (so large ones stay cache-friendly and
// grow without touching the strings), what an order touches of its user (its id included) fits
// two adjacent cache lines, and orders, items and expiry lanes are appended and consumed
// sequentially.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
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

 private:
  static constexpr size_t kBlockBytes = size_t{64} * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  size_t left_ = 0;
};

// A vector in fixed-size chunks, for the arrays that grow with every order: growing never copies
// or moves an element (no doubling, so each byte of fresh memory, which costs a page fault, is
// touched once), and elements never move.
template <typename T>
class ChunkedVector {
 public:
  static constexpr size_t kChunkBits = 12;
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;

  T& operator[](size_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  const T& operator[](size_t i) const { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& back() { return (*this)[size_ - 1]; }
  // Appends a value-initialized element.
  T& emplace_back() {
    if ((size_ >> kChunkBits) == chunks_.size()) {
      chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    }
    T& element = (*this)[size_++];
    element = T{};
    return element;
  }
  // Allocates (and, by value-initializing them, touches) the chunks of the first `count`
  // elements, so that appending them later neither allocates nor page-faults.
  void reserve(size_t count) {
    while (chunks_.size() * kChunkSize < count) {
      chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    }
  }
  // Drops the elements from `size` on (keeping their memory for the next ones).
  void truncate(size_t size) {
    SURGE_ASSERT(size <= size_);
    size_ = size;
  }

  template <typename Element, typename Owner>
  class Iterator {
   public:
    Iterator(Owner* owner, size_t index) : owner_(owner), index_(index) {}
    Element& operator*() const { return (*owner_)[index_]; }
    Element* operator->() const { return &(*owner_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }

   private:
    Owner* owner_;
    size_t index_;
  };
  Iterator<T, ChunkedVector> begin() { return {this, 0}; }
  Iterator<T, ChunkedVector> end() { return {this, size_}; }
  Iterator<const T, const ChunkedVector> begin() const { return {this, 0}; }
  Iterator<const T, const ChunkedVector> end() const { return {this, size_}; }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

inline uint64_t Load64(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, 8);  // little-endian on x86-64, the only target
  return word;
}

// The 1 to 7 bytes at `bytes` as a little-endian integer (zero-extended), with fixed-size loads:
// memcpy of a variable size is a library call, and every order hashes and compares short ids.
inline uint64_t LoadShort(const char* bytes, size_t size) {
  if (size >= 4) {
    uint32_t low;
    uint32_t high;  // the last 4 bytes, overlapping `low` unless size is 8
    std::memcpy(&low, bytes, 4);
    std::memcpy(&high, bytes + size - 4, 4);
    return low | (uint64_t{high} << (8 * (size - 4)));
  }
  const auto byte = [&](size_t i) { return uint64_t{static_cast<uint8_t>(bytes[i])}; };
  return byte(0) | (byte(size / 2) << (8 * (size / 2))) | (byte(size - 1) << (8 * (size - 1)));
}

// True if the `size` (at most 23) bytes at `a` and `b` are equal, with overlapping fixed-size
// loads that read only those bytes (no library call).
inline bool SameShortBytes(const char* a, const char* b, size_t size) {
  if (size < 8) return size == 0 || LoadShort(a, size) == LoadShort(b, size);
  uint64_t differ = Load64(a) ^ Load64(b);
  differ |= Load64(a + size - 8) ^ Load64(b + size - 8);
  if (size > 16) differ |= Load64(a + 8) ^ Load64(b + 8);
  return differ == 0;
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
    hash = FoldedMultiply(hash ^ LoadShort(bytes, size), kMultiplier);
  }
  return FoldedMultiply(hash, 0x8bb84b93962eacc9ULL);
}

// Interns ids: each distinct id gets the next dense index, and a copy that lives (at a stable
// address) as long as the table.
//
// Built for tables of millions of ids far beyond the CPU caches: an open-addressing table of 8-byte
// slots (32 bits of hash and the index; linear probing, at most 70% full), so a lookup usually
// touches one cache line of slots, which Prefetch can load ahead exactly; and ids of up to 23 bytes
// stored inline in 24-byte records, so comparing a candidate costs one more line.
class IdTable {
 public:
  IdTable() : slots_(kSlotsMin, 0), shift_(64 - kSlotsMinBits) {}

  // Every method taking an id also comes with one taking its HashId too, for callers that use
  // the hash of one id several times.

  // Index of `id`, or kNoIndex.
  uint32_t Find(std::string_view id) const { return Find(id, HashId(id)); }
  uint32_t Find(std::string_view id, uint64_t id_hash) const {
    const uint32_t hash = Hash32(id_hash);
    for (size_t slot = SlotOf(hash);; slot = (slot + 1) & (slots_.size() - 1)) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) return kNoIndex;
      if ((entry >> 32) == hash && Equals(IndexOf(entry), id)) return IndexOf(entry);
    }
  }
  // Index of `id`, adding it with index size() if absent (then *added is true).
  uint32_t Insert(std::string_view id, bool* added) { return Insert(id, HashId(id), added); }
  uint32_t Insert(std::string_view id, uint64_t id_hash, bool* added);
  // Starts loading the slots that a Find or Insert of the id will probe first.
  void Prefetch(uint64_t id_hash) const { __builtin_prefetch(&slots_[SlotOf(Hash32(id_hash))]); }
  // The index the id most likely has (its hash matches), or kNoIndex; compares no id bytes, so it
  // touches only the slots (after Prefetch, in cache).
  uint32_t Candidate(uint64_t id_hash) const {
    const uint32_t hash = Hash32(id_hash);
    for (size_t slot = SlotOf(hash);; slot = (slot + 1) & (slots_.size() - 1)) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) return kNoIndex;
      if ((entry >> 32) == hash) return IndexOf(entry);
    }
  }
  // Find, with `is_id(index)` (true when the entity at `index` has the id) in place of comparing
  // the stored copy: for entities that keep their id where the caller reads anyway.
  template <typename IsId>
  uint32_t FindIf(uint64_t id_hash, IsId is_id) const {
    const uint32_t hash = Hash32(id_hash);
    for (size_t slot = SlotOf(hash);; slot = (slot + 1) & (slots_.size() - 1)) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) return kNoIndex;
      if ((entry >> 32) == hash && is_id(IndexOf(entry))) return IndexOf(entry);
    }
  }

  std::string_view id(uint32_t index) const {
    const StoredId& stored = Stored(index);
    if (stored.size <= kInlineMax) return std::string_view(stored.bytes, stored.size);
    const char* data;
    std::memcpy(&data, stored.bytes, sizeof(data));
    return std::string_view(data, stored.size);
  }
  size_t size() const { return size_; }
  // Makes room for `count` ids without growing: slots and id records, allocated and touched.
  void Reserve(size_t count);

 private:
  static constexpr size_t kInlineMax = 23;
  struct StoredId {
    char bytes[kInlineMax];  // the id, or (when longer) a pointer to it in arena_
    uint8_t size;
  };
  static_assert(sizeof(StoredId) == 24);
  static constexpr size_t kChunkBits = 12;  // records per chunk: 4096; chunks never move
  static constexpr size_t kSlotsMinBits = 4;
  static constexpr size_t kSlotsMin = size_t{1} << kSlotsMinBits;

  static uint32_t Hash32(uint64_t id_hash) { return static_cast<uint32_t>(id_hash >> 32); }
  // id(index) == id, comparing short ids inline with overlapping 8-byte loads.
  bool Equals(uint32_t index, std::string_view id) const {
    const StoredId& stored = Stored(index);
    if (stored.size != id.size()) return false;
    if (id.size() > kInlineMax) return this->id(index) == id;
    return SameShortBytes(stored.bytes, id.data(), id.size());
  }
  static uint32_t IndexOf(uint64_t entry) { return static_cast<uint32_t>(entry) - 1; }
  size_t SlotOf(uint32_t hash) const {
    return static_cast<size_t>((hash * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  const StoredId& Stored(uint32_t index) const {
    return chunks_[index >> kChunkBits][index & ((size_t{1} << kChunkBits) - 1)];
  }
  void Grow(size_t slots_wanted);

  std::vector<std::unique_ptr<StoredId[]>> chunks_;
  StringArena arena_;            // ids longer than kInlineMax
  std::vector<uint64_t> slots_;  // 0: empty; else hash << 32 | (index + 1)
  uint32_t size_ = 0;
  uint32_t shift_;  // 64 - log2(slots_.size())
};

// stock == available + reserved + sold, all of them >= 0.
struct Counts {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
};

// A user's holdings: the units (reserved or paid, never zero) the user holds per campaign.
inline constexpr size_t kHoldingsInline = 16;
// The most units a holding kept in the user's record may have (more live in the spill table).
inline constexpr int64_t kInlineUnitsMax = UINT16_MAX;
// Where FindHolding found a holding: an inline slot (< kHoldingsInline), or one of these.
inline constexpr uint32_t kHoldingSpilled = kHoldingsInline;  // in State::spilled_holdings
inline constexpr uint32_t kHoldingAbsent = kHoldingsInline + 1;

// Everything an order touches of its user, in two adjacent cache lines (the region lives in
// State::user_regions):
//  - the user's id, when it has at most kUserIdInline bytes, so that finding the user by id
//    compares it here rather than in the id table's copy (one cache miss less per order);
//  - the newest order;
//  - up to kHoldingsInline holdings, unordered, their campaign ids packed together (kNoIndex marks
//    a free slot) so that one SIMD scan finds one, their units (at most kInlineUnitsMax) beside
//    them. A user holding more campaigns, or more units of one, keeps those holdings in
//    State::spilled_holdings. (A flash sale user holds a handful, of a unit or a few each.)
struct alignas(128) User {
  static constexpr size_t kUserIdInline = 23;
  static constexpr uint8_t kLongId = UINT8_MAX;  // id_size of a longer id (see the id table)

  User() { std::fill(std::begin(campaigns), std::end(campaigns), kNoIndex); }

  uint32_t last_order = kNoIndex;  // newest order; orders link to their predecessor
  uint32_t spilled = 0;            // holdings of this user in State::spilled_holdings
  char id[kUserIdInline] = {};
  uint8_t id_size = 0;
  uint32_t campaigns[kHoldingsInline];
  uint16_t units[kHoldingsInline] = {};

  void SetId(std::string_view user_id) {
    if (user_id.size() > kUserIdInline) {
      id_size = kLongId;
      return;
    }
    std::memcpy(id, user_id.data(), user_id.size());
    id_size = static_cast<uint8_t>(user_id.size());
  }
  // The inline id, or nullopt when the id is too long to be kept here.
  std::optional<std::string_view> InlineId() const {
    if (id_size == kLongId) return std::nullopt;
    return std::string_view(id, id_size);
  }

  // The inline slot holding `campaign`, or kHoldingsInline. kNoIndex finds a free slot.
  uint32_t Slot(uint32_t campaign) const {
    const __m128i wanted = _mm_set1_epi32(static_cast<int>(campaign));
    const auto* ids = reinterpret_cast<const __m128i*>(campaigns);
    const auto lanes = [&](int i) {
      return static_cast<unsigned>(
          _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_loadu_si128(ids + i), wanted))));
    };
    const unsigned mask = lanes(0) | lanes(1) << 4 | lanes(2) << 8 | lanes(3) << 12;
    return mask == 0 ? static_cast<uint32_t>(kHoldingsInline)
                     : static_cast<uint32_t>(std::countr_zero(mask));
  }
};
static_assert(sizeof(User) == 128);
static_assert(offsetof(User, campaigns) == 32 && kHoldingsInline == 16);  // Slot's 4x4 lanes

struct Merchant {
  std::string name;
};

struct Product {
  uint32_t merchant = kNoIndex;
  std::string name;
  std::string category;
  int64_t price_cents = 0;
  bool has_inventory = false;  // a PutInventory was applied
  Counts inventory;            // this center's (in a multi-center deployment, its share)
  // Multi-center only (else 0): the SKU's regular stock over all centers, the last PutInventory's.
  int64_t inventory_total = 0;
  std::vector<uint32_t> campaigns;  // sorted by starts_at; windows never overlap
  // Multi-center only: the expected demand per center (PutDemand), by center index; empty when
  // none was put.
  std::vector<int64_t> demand;
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

// ---- Multi-center state (trade.h's "Centers and quotas") ---------------------------------------

// The most centers a topology may have, and the longest center id (as topology.h's).
inline constexpr size_t kCentersMax = 256;
inline constexpr size_t kCenterIdLengthMax = 32;
// The most deltas of one CenterOrders (trade.h).
inline constexpr size_t kCenterOrdersDeltasMax = kItemsMax * 64;

// This center's place in the deployment. No centers: a single-center deployment.
struct Topology {
  std::vector<std::string> centers;  // topology order
  uint32_t self = 0;                 // indexes into centers (multi-center only)
  uint32_t master = 0;
  int64_t up_front_percent = 100;  // Options::up_front_percent

  bool multi() const { return !centers.empty(); }
  bool is_master() const { return self == master; }
  // The index of center `id`, or kNoIndex.
  uint32_t Find(std::string_view id) const {
    for (uint32_t i = 0; i < centers.size(); ++i) {
      if (centers[i] == id) return i;
    }
    return kNoIndex;
  }
};

struct CenterUnits {
  int64_t reserved = 0;
  int64_t sold = 0;
};

// A campaign's allocation table (identical at every center once the master's commands are
// applied), and what this center keeps about it beside its own counts.
struct Allocation {
  int64_t stock = 0;                  // the campaign's whole stock
  int64_t unallocated = 0;            // stock - sum(allocated)
  std::vector<int64_t> allocated;     // per center, topology order
  std::vector<CenterUnits> reported;  // per center: the sums of its CenterOrders
  int64_t requested = 0;              // this center's outstanding request (never at the master)
};

// The highest origin sequence applied from one (center, kind) stream.
struct AppliedPosition {
  std::string center;
  uint8_t kind = 0;
  uint64_t sequence = 0;
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
  // The entry `ahead` places behind the front in the front's lane, if there is one: most likely
  // among the next to expire (for prefetching).
  const Expiry* PeekFrontLane(size_t ahead) const {
    if (heap_.empty()) return nullptr;
    const Lane& lane = lanes_[heap_.front()];
    return ahead < lane.entries.size() ? &lane.entries[ahead] : nullptr;
  }
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const Lane& lane : lanes_) {
      for (const Expiry& entry : lane.entries) visit(lane.ttl_ms, entry);
    }
  }
  // Lanes sorted, heap valid, and the lanes in the heap exactly the non-empty ones.
  bool WellFormed() const;

 private:
  struct Lane {
    int64_t ttl_ms = 0;
    // A deque gives back the blocks it has consumed and reuses them for new entries, so a lane
    // that is consumed as fast as it grows stops touching fresh memory.
    std::deque<Expiry> entries;
    bool queued = false;  // in heap_, exactly when not empty
    const Expiry& Front() const { return entries.front(); }
    bool empty() const { return entries.empty(); }
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
  // Order events recorded so far (the number of the last one; 0 while record_events is off).
  uint64_t events_recorded = 0;
  // Configuration, not state: set from Options, and kept (checked) across Restore.
  Topology topology;

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
  ChunkedVector<RequestRecord> requests;

  ChunkedVector<Order> orders;  // order counter - 1
  ChunkedVector<Item> items;
  // Every reserved order; its front is always a reserved one (settled fronts are dropped after
  // every command).
  ExpiryQueue expiry;
  // The holdings that did not fit in their user's record: (user << 32 | campaign) -> units.
  absl::flat_hash_map<uint64_t, int64_t> spilled_holdings;
  // Multi-center only (else empty): indexed like campaigns.
  std::vector<Allocation> allocations;
  // Sorted by (center, kind).
  std::vector<AppliedPosition> applied;

  // Index of the user `id` (hashed `id_hash`), or kNoIndex: compares the id kept in the user's
  // record (which the order reads anyway), not the id table's copy.
  uint32_t FindUser(std::string_view id, uint64_t id_hash) const {
    return user_ids.FindIf(id_hash, [&](uint32_t index) {
      const User& user = users[index];
      if (user.id_size == User::kLongId) return user_ids.id(index) == id;
      return user.id_size == id.size() && SameShortBytes(user.id, id.data(), id.size());
    });
  }
  std::string_view UserId(uint32_t index) const {
    const std::optional<std::string_view> inline_id = users[index].InlineId();
    return inline_id ? *inline_id : user_ids.id(index);
  }

  // Where `user`'s holding of `campaign` is (an inline slot, kHoldingSpilled or kHoldingAbsent);
  // sets *units to the units held (0 when absent).
  uint32_t FindHolding(uint32_t user, uint32_t campaign, int64_t* units) const {
    const User& record = users[user];
    const uint32_t slot = record.Slot(campaign);
    if (slot < kHoldingsInline) {
      *units = record.units[slot];
      return slot;
    }
    if (record.spilled > 0) {
      const auto found = spilled_holdings.find(SpillKey(user, campaign));
      if (found != spilled_holdings.end()) {
        *units = found->second;
        return kHoldingSpilled;
      }
    }
    *units = 0;
    return kHoldingAbsent;
  }
  int64_t Held(uint32_t user, uint32_t campaign) const {
    int64_t units;
    FindHolding(user, campaign, &units);
    return units;
  }
  // Adds `delta` (positive or negative) to the units `user` holds in `campaign`; returns the new
  // units. `where` is what FindHolding answered, with no holding of the user added or removed
  // since (AddHeld searches itself).
  int64_t AddHeldAt(uint32_t user, uint32_t campaign, uint32_t where, int64_t delta);
  int64_t AddHeld(uint32_t user, uint32_t campaign, int64_t delta) {
    int64_t units;
    return AddHeldAt(user, campaign, FindHolding(user, campaign, &units), delta);
  }
  // Calls visit(user, campaign, units) for every holding of every user, in no particular order.
  template <typename Visit>
  void ForEachHolding(Visit visit) const {
    for (uint32_t user = 0; user < users.size(); ++user) {
      const User& record = users[user];
      for (size_t slot = 0; slot < kHoldingsInline; ++slot) {
        if (record.campaigns[slot] != kNoIndex) {
          visit(user, record.campaigns[slot], record.units[slot]);
        }
      }
    }
    for (const auto& [key, units] : spilled_holdings) {
      visit(static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key), units);
    }
  }
  // Adds a holding of `user` to spilled_holdings (it must be in neither place).
  void Spill(uint32_t user, uint32_t campaign, int64_t units);
  static uint64_t SpillKey(uint32_t user, uint32_t campaign) {
    return (uint64_t{user} << 32) | campaign;
  }
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

// For tests: the state of a Trade made by Trade::Create.
const State& StateOf(const Trade& trade);

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

// PlaceOrderFingerprint, from the HashId of the user and of each item's SKU (which the state
// machine computes anyway for its lookups).
inline uint64_t Fingerprint(const PlaceOrder& order, uint64_t user_hash,
                            const uint64_t* sku_hashes) {
  StableHasher hasher(0x6f72646572ULL);  // "order"
  hasher.AddWord(user_hash);
  hasher.AddWord(order.items.size());
  for (size_t i = 0; i < order.items.size(); ++i) {
    hasher.AddWord(sku_hashes[i]);
    hasher.AddWord(static_cast<uint64_t>(order.items[i].quantity));
  }
  return hasher.Finish();
}

// ValidateBody of a PlaceOrder.
Status ValidatePlaceOrder(const PlaceOrder& body);

// True if `id` is a valid id (common/ids.h), by table lookup.
bool IsIdFast(std::string_view id);
// The same for a std::string, 16 bytes at a time (SSE4.2 range compares). Only for std::string:
// it may read the bytes of the string's buffer past its size, which a std::string always has
// (the inline buffer is 16 bytes, a heap one holds more than size()).
bool IsIdString(const std::string& id);

// Sets an empty `out` to `text`. Through std::string's out-of-line assign, whose copy is a
// library memcpy: an inlined append compiles the copy of a short variable size to `rep movsq`,
// whose start-up cost made it the most expensive part of building a reply.
inline void SetEmpty(std::string* out, std::string_view text) {
  out->assign(text.data(), text.size());
}

// ---- Multi-center rules (trade_quota.cc) ------------------------------------------------------
// Each Apply* checks everything first and changes nothing when it answers an error.

// A valid id of at most kCenterIdLengthMax characters.
bool IsCenterId(std::string_view id);
// bad_field naming origin.center, origin.kind or origin.sequence, or ok.
Status ValidateOrigin(const Origin& origin);
// The share of `units` split evenly over `centers` that center `index` gets: the first
// units % centers get one more.
inline int64_t EvenShare(int64_t units, size_t centers, size_t index) {
  const auto n = static_cast<int64_t>(centers);
  return units / n + (static_cast<int64_t>(index) < units % n ? 1 : 0);
}

uint64_t AppliedThrough(const State& state, std::string_view center, uint8_t kind);
void AdvanceApplied(State& state, const Origin& origin);

// The checks of a PutCampaign updating campaign `index` that only a multi-center deployment has.
Status CheckCampaignUpdateMulti(const State& state, const PutCampaign& body, uint32_t index);
// Sets the allocation table and this center's quota of campaign `index` for a PutCampaign of
// `stock` units (checked already); `created`: the campaign is new.
void AllocateCampaign(State& state, uint32_t index, int64_t stock, bool created);
// PutInventory of product `index` (which exists) in a multi-center deployment.
Status ApplyInventoryMulti(State& state, uint32_t index, const PutInventory& body);
// PutDemand of product `index` (which exists): bad_field for a center not of the deployment.
Status ApplyDemand(State& state, uint32_t index, const PutDemand& body);
// `units` split over `centers` centers: in proportion to `demand` (one entry per center) when
// its total is above 0, the units left by rounding down going one each to the largest
// remainders, ties to the earlier center; else evenly (EvenShare).
std::vector<int64_t> SplitUnits(int64_t units, const std::vector<int64_t>& demand, size_t centers);
// Each returns the campaign's index.
Result<uint32_t> ApplyRequestQuota(State& state, const RequestQuota& body, bool from_origin);
Result<uint32_t> ApplyReturnQuota(State& state, const ReturnQuota& body, bool from_origin);
Status ApplyCenterOrders(State& state, const CenterOrders& body);
std::vector<Body> QuotaCommandsOf(const State& state, int64_t now_ms);

CampaignView MakeCampaignView(const State& state, uint32_t index);
// The allocation tables, quotas and reported units (part of CheckState).
Status CheckQuotas(const State& state);

// "<prefix><counter>" and its inverse (0 when `order_id` is not one of ours).
void AppendOrderId(std::string_view prefix, uint64_t counter, std::string* out);
uint64_t ParseOrderCounter(std::string_view prefix, std::string_view order_id);

// ---- The events record, written in pieces (trade_events.cc) -----------------------------------
// EncodeEvents and Trade::EncodePendingEvents (which reads the state, not OrderEvents) both write
// the current format through these, so their bytes are the same: the header, then `deltas`
// EncodeEventsDelta, then `count` times EncodeEventHead followed by its items' EncodeEventItem.

struct EventHead {
  OrderEventType type = OrderEventType::kCreated;
  int64_t at_ms = 0;
  std::string_view order_id;
  std::string_view request_id;
  std::string_view user;
  int64_t total_cents = 0;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  size_t items = 0;
};
// `first_number`: the first event's number, 0 when count is 0.
void EncodeEventsHeader(std::string* out, uint64_t through, uint64_t first_number, uint64_t count,
                        uint64_t deltas);
void EncodeEventsDelta(std::string* out, std::string_view campaign, int64_t reserved, int64_t sold);
void EncodeEventHead(std::string* out, const EventHead& head);
void EncodeEventItem(std::string* out, std::string_view sku, int64_t quantity, int64_t price_cents,
                     std::string_view campaign);
// The order's status after an event of `type` (what every recorded event shows).
OrderStatus StatusAfter(OrderEventType type);

}  // namespace surge::trade::internal
