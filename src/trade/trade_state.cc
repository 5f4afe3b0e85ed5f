// Private helpers of the trade state: the string arena, hashing, ids, holdings and expiry lanes.
#include "trade/trade_state.h"

#include <nmmintrin.h>

#include <array>
#include <bit>
#include <cstring>

#include "common/ids.h"

namespace surge::trade::internal {

std::string_view StringArena::Store(std::string_view text) {
  if (left_ < text.size()) {
    const size_t bytes = std::max(kBlockBytes, text.size());
    blocks_.push_back(std::make_unique<char[]>(bytes));
    cursor_ = blocks_.back().get();
    left_ = bytes;
  }
  if (text.empty()) return {};
  std::memcpy(cursor_, text.data(), text.size());
  const std::string_view stored(cursor_, text.size());
  cursor_ += text.size();
  left_ -= text.size();
  return stored;
}

namespace {

constexpr std::array<bool, 256> MakeIdTable() {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == ':' || c == '-';
  }
  return table;
}
constexpr std::array<bool, 256> kIdTable = MakeIdTable();

}  // namespace

bool IsIdFast(std::string_view id) {
  if (id.empty() || id.size() > kIdLengthMax) return false;
  bool ok = true;
  for (const char c : id) ok &= kIdTable[static_cast<uint8_t>(c)];
  return ok;
}

bool IsIdString(const std::string& id) {
  const size_t size = id.size();
  if (size == 0 || size > kIdLengthMax) return false;
  // The id bytes as ranges: a-z A-Z 0-9 _ . : - (seven pairs).
  const __m128i ranges =
      _mm_setr_epi8('a', 'z', 'A', 'Z', '0', '9', '_', '_', '.', '.', ':', ':', '-', '-', 0, 0);
  constexpr int kMode = _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_MASKED_NEGATIVE_POLARITY;
  const char* bytes = id.data();
  // Carry set: one of the first `length` bytes is outside every range.
  const auto bad = [&](const char* at, int length) {
    return _mm_cmpestrc(ranges, 14, _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)), length,
                        kMode) != 0;
  };
  if (size <= 16) return !bad(bytes, static_cast<int>(size));
  for (size_t at = 0; at + 16 < size; at += 16) {
    if (bad(bytes + at, 16)) return false;
  }
  return !bad(bytes + size - 16, 16);  // the tail, overlapping the last full block
}

void AppendOrderId(std::string_view prefix, uint64_t counter, std::string* out) {
  // Two digits at a time from a table, into one buffer appended at once: every reply to an order
  // formats one of these.
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  constexpr size_t kDigitsMax = 20;
  char buffer[kOrderIdPrefixLengthMax + kDigitsMax];
  SURGE_ASSERT(prefix.size() <= kOrderIdPrefixLengthMax);
  char* const end = buffer + sizeof(buffer);
  char* cursor = end;
  while (counter >= 100) {
    const uint64_t pair = counter % 100;
    counter /= 100;
    cursor -= 2;
    std::memcpy(cursor, kPairs + pair * 2, 2);
  }
  if (counter >= 10) {
    cursor -= 2;
    std::memcpy(cursor, kPairs + counter * 2, 2);
  } else {
    *--cursor = static_cast<char>('0' + counter);
  }
  cursor -= prefix.size();
  std::memcpy(cursor, prefix.data(), prefix.size());
  out->append(cursor, static_cast<size_t>(end - cursor));
}

uint64_t ParseOrderCounter(std::string_view prefix, std::string_view order_id) {
  if (order_id.size() <= prefix.size() || order_id.substr(0, prefix.size()) != prefix) return 0;
  const std::string_view digits = order_id.substr(prefix.size());
  // Canonical decimal only (no leading zero), at most 19 digits so it cannot overflow.
  if (digits.size() > 19 || digits[0] == '0') return 0;
  uint64_t counter = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return 0;
    counter = counter * 10 + static_cast<uint64_t>(c - '0');
  }
  return counter;
}

namespace {

// memcpy of `text` (at most 23 bytes) into `out` with fixed-size copies (overlapping), not a
// library call for a variable size: every new request id is stored this way.
void CopyShort(char* out, std::string_view text) {
  const char* in = text.data();
  const size_t size = text.size();
  if (size >= 8) {
    std::memcpy(out, in, 8);
    if (size > 16) std::memcpy(out + 8, in + 8, 8);
    std::memcpy(out + size - 8, in + size - 8, 8);
  } else if (size >= 4) {
    std::memcpy(out, in, 4);
    std::memcpy(out + size - 4, in + size - 4, 4);
  } else {
    for (size_t i = 0; i < size; ++i) out[i] = in[i];
  }
}

}  // namespace

uint32_t IdTable::Insert(std::string_view id, uint64_t id_hash, bool* added) {
  // Keep the table at most 70% full (counting the id that may be added), so probes stay short.
  if ((size_t{size_} + 1) * 10 > slots_.size() * 7) Grow(slots_.size() * 2);
  const uint32_t hash = Hash32(id_hash);
  size_t slot = SlotOf(hash);
  for (;; slot = (slot + 1) & (slots_.size() - 1)) {
    const uint64_t entry = slots_[slot];
    if (entry == 0) break;
    if ((entry >> 32) == hash && Equals(IndexOf(entry), id)) {
      *added = false;
      return IndexOf(entry);
    }
  }
  SURGE_ASSERT(size_ < kNoIndex - 1);
  SURGE_ASSERT(id.size() <= UINT8_MAX);
  const uint32_t index = size_++;
  if ((index >> kChunkBits) >= chunks_.size()) {
    chunks_.push_back(std::make_unique<StoredId[]>(size_t{1} << kChunkBits));
  }
  StoredId& stored = chunks_[index >> kChunkBits][index & ((size_t{1} << kChunkBits) - 1)];
  stored.size = static_cast<uint8_t>(id.size());
  if (id.size() <= kInlineMax) {
    CopyShort(stored.bytes, id);
  } else {
    const char* data = arena_.Store(id).data();
    std::memcpy(stored.bytes, &data, sizeof(data));
  }
  slots_[slot] = (uint64_t{hash} << 32) | (uint64_t{index} + 1);
  *added = true;
  return index;
}

void IdTable::Reserve(size_t count) {
  size_t wanted = slots_.size();
  while (count * 10 > wanted * 7) wanted *= 2;
  if (wanted > slots_.size()) Grow(wanted);
  while (chunks_.size() << kChunkBits < count) {
    chunks_.push_back(std::make_unique<StoredId[]>(size_t{1} << kChunkBits));
  }
}

void IdTable::Grow(size_t slots_wanted) {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(slots_wanted, 0);
  shift_ = static_cast<uint32_t>(64 - std::countr_zero(slots_wanted));
  const size_t mask = slots_wanted - 1;
  for (const uint64_t entry : old) {
    if (entry == 0) continue;
    size_t slot = SlotOf(static_cast<uint32_t>(entry >> 32));
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = entry;
  }
}

int64_t State::AddHeldAt(uint32_t user, uint32_t campaign, uint32_t where, int64_t delta) {
  SURGE_ASSERT(campaign != kNoIndex);
  User& record = users[user];
  if (where < kHoldingsInline) {
    SURGE_ASSERT(record.campaigns[where] == campaign);
    const int64_t units = int64_t{record.units[where]} + delta;
    SURGE_ASSERT(units >= 0);
    if (units == 0) {
      record.campaigns[where] = kNoIndex;
    } else if (units > kInlineUnitsMax) {  // too many for the record: move it to the table
      record.campaigns[where] = kNoIndex;
      Spill(user, campaign, units);
    } else {
      record.units[where] = static_cast<uint16_t>(units);
    }
    return units;
  }
  if (where == kHoldingSpilled) {
    const auto found = spilled_holdings.find(SpillKey(user, campaign));
    SURGE_ASSERT(found != spilled_holdings.end());
    const int64_t units = found->second += delta;
    SURGE_ASSERT(units >= 0);
    if (units == 0) {
      spilled_holdings.erase(found);
      --record.spilled;
    }
    return units;
  }
  SURGE_ASSERT(where == kHoldingAbsent && delta > 0);
  const uint32_t free_slot = record.Slot(kNoIndex);
  if (free_slot < kHoldingsInline && delta <= kInlineUnitsMax) {
    record.campaigns[free_slot] = campaign;
    record.units[free_slot] = static_cast<uint16_t>(delta);
  } else {
    Spill(user, campaign, delta);
  }
  return delta;
}

void State::Spill(uint32_t user, uint32_t campaign, int64_t units) {
  const bool added = spilled_holdings.try_emplace(SpillKey(user, campaign), units).second;
  SURGE_ASSERT(added);
  ++users[user].spilled;
}

void ExpiryQueue::Add(int64_t ttl_ms, int64_t expires_at_ms, uint32_t order) {
  uint32_t lane_index = last_lane_;
  if (lane_index == kNoIndex || lanes_[lane_index].ttl_ms != ttl_ms) {
    const auto [entry, inserted] =
        lane_of_ttl_.try_emplace(ttl_ms, static_cast<uint32_t>(lanes_.size()));
    if (inserted) lanes_.emplace_back().ttl_ms = ttl_ms;
    lane_index = entry->second;
    last_lane_ = lane_index;
  }
  Lane& lane = lanes_[lane_index];
  SURGE_ASSERT(lane.empty() || lane.entries.back().expires_at_ms <= expires_at_ms);
  lane.entries.push_back(Expiry{expires_at_ms, order});
  if (!lane.queued) {
    lane.queued = true;
    heap_.push_back(lane_index);
    std::push_heap(heap_.begin(), heap_.end(),
                   [this](uint32_t a, uint32_t b) { return Later(a, b); });
  }
}

void ExpiryQueue::PopFront() {
  SURGE_ASSERT(!heap_.empty());
  const auto later = [this](uint32_t a, uint32_t b) { return Later(a, b); };
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Lane& lane = lanes_[heap_.back()];
  lane.entries.pop_front();
  if (lane.empty()) {
    lane.queued = false;
    heap_.pop_back();
    return;
  }
  std::push_heap(heap_.begin(), heap_.end(), later);
}

bool ExpiryQueue::WellFormed() const {
  size_t queued = 0;
  for (uint32_t l = 0; l < lanes_.size(); ++l) {
    const Lane& lane = lanes_[l];
    if (lane.queued != !lane.empty()) return false;
    const auto found = lane_of_ttl_.find(lane.ttl_ms);
    if (found == lane_of_ttl_.end() || found->second != l) return false;
    for (size_t i = 1; i < lane.entries.size(); ++i) {
      if (lane.entries[i - 1].expires_at_ms > lane.entries[i].expires_at_ms) return false;
    }
    queued += lane.queued ? 1 : 0;
  }
  return queued == heap_.size() && lane_of_ttl_.size() == lanes_.size() &&
         std::is_heap(heap_.begin(), heap_.end(),
                      [this](uint32_t a, uint32_t b) { return Later(a, b); });
}

uint32_t ActiveCampaign(const State& state, const Product& product, int64_t now_ms) {
  // Windows are sorted and disjoint: the candidate is the last one starting at or before now.
  const std::vector<uint32_t>& list = product.campaigns;
  const auto after = std::upper_bound(
      list.begin(), list.end(), now_ms,
      [&](int64_t now, uint32_t campaign) { return now < state.campaigns[campaign].starts_at_ms; });
  if (after == list.begin()) return kNoIndex;
  const uint32_t candidate = *(after - 1);
  return now_ms < state.campaigns[candidate].ends_at_ms ? candidate : kNoIndex;
}

}  // namespace surge::trade::internal
