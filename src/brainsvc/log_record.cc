// The event log's record codec (brainsvc.h states the format).
#include <string>

#include "brainsvc/brainsvc.h"
#include "brainsvc/service_internal.h"
#include "common/assert.h"
#include "common/coding.h"
#include "common/ids.h"

namespace surge::brainsvc {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kFromBus = 1;
// Centers are ids of at most 32 characters (topology.h); categories at most 64 bytes (brain.h).
constexpr size_t kCenterLengthMax = 32;
constexpr size_t kCategoryLengthMax = 64;
constexpr int64_t kPriceCentsMax = 100'000'000'000;
// A record holds at most one bus record's worth of items and events; a bus payload is at most
// 1 MiB, so no record can hold more entries than it has bytes.
constexpr uint64_t kEntriesMax = 1 << 20;

bool ValidCenter(std::string_view center) {
  return center.size() <= kCenterLengthMax && (center.empty() || IsValidId(center));
}

}  // namespace

bool LoggableEvent(const brain::Event& event) {
  return IsValidId(event.user) && IsValidId(event.item) &&
         static_cast<uint8_t>(event.kind) <= static_cast<uint8_t>(brain::EventKind::kPurchase) &&
         event.time_ms >= 0 && event.time_ms <= kTimeMsMax && event.quantity >= 1 &&
         event.quantity <= kQuantityMax && ValidCenter(event.center);
}

bool LoggableItem(std::string_view sku, const brain::ItemInfo& info) {
  return IsValidId(sku) && info.category.size() <= kCategoryLengthMax && info.price_cents >= -1 &&
         info.price_cents <= kPriceCentsMax;
}

namespace {

Status Corrupt(const std::string& what) {
  return Status(Code::kCorruption, "brain event log record: " + what);
}

bool DecodeEvent(Decoder& in, brain::Event* event) {
  uint8_t kind = 0;
  uint64_t quantity = 0;
  return in.String(&event->user, kIdLengthMax) && in.String(&event->item, kIdLengthMax) &&
         in.U8(&kind) && (event->kind = static_cast<brain::EventKind>(kind), true) &&
         in.SignedVarint(&event->time_ms) && in.Varint(&quantity) &&
         quantity <= static_cast<uint64_t>(kQuantityMax) &&
         (event->quantity = static_cast<int64_t>(quantity), true) &&
         in.String(&event->center, kCenterLengthMax);
}

}  // namespace

void EncodeLogRecord(const LogRecord& record, std::string* out) {
  Encoder encoder(out);
  encoder.U8(kVersion);
  encoder.U8(record.from_bus ? kFromBus : 0);
  if (record.from_bus) {
    SURGE_ASSERT(ValidCenter(record.center) && !record.center.empty());
    SURGE_ASSERT(record.kind >= 1 && record.kind <= bus::kKindMax && record.sequence >= 1);
    encoder.String(record.center);
    encoder.U8(record.kind);
    encoder.Varint(record.sequence);
  }
  encoder.Varint(record.items.size());
  for (const auto& [sku, info] : record.items) {
    SURGE_ASSERT(LoggableItem(sku, info));
    encoder.String(sku);
    encoder.String(info.category);
    encoder.Varint(static_cast<uint64_t>(info.price_cents + 1));
  }
  encoder.Varint(record.events.size());
  for (const brain::Event& event : record.events) {
    SURGE_ASSERT(LoggableEvent(event));
    encoder.String(event.user);
    encoder.String(event.item);
    encoder.U8(static_cast<uint8_t>(event.kind));
    encoder.SignedVarint(event.time_ms);
    encoder.Varint(static_cast<uint64_t>(event.quantity));
    encoder.String(event.center);
  }
}

Result<LogRecord> DecodeLogRecord(std::string_view bytes) {
  Decoder in(bytes);
  LogRecord record;
  uint8_t version = 0, flags = 0;
  if (!in.U8(&version) || version != kVersion) return Corrupt("unknown version");
  if (!in.U8(&flags) || (flags & ~kFromBus) != 0) return Corrupt("unknown flags");
  record.from_bus = (flags & kFromBus) != 0;
  if (record.from_bus) {
    if (!in.String(&record.center, kCenterLengthMax) || !in.U8(&record.kind) ||
        !in.Varint(&record.sequence)) {
      return Corrupt("truncated stream position");
    }
    if (record.center.empty() || !ValidCenter(record.center) || record.kind < 1 ||
        record.kind > bus::kKindMax || record.sequence < 1) {
      return Corrupt("invalid stream position");
    }
  }
  uint64_t count = 0;
  if (!in.Varint(&count) || count > kEntriesMax || count > in.remaining()) {
    return Corrupt("bad item count");
  }
  record.items.resize(count);
  for (auto& [sku, info] : record.items) {
    uint64_t price = 0;
    if (!in.String(&sku, kIdLengthMax) || !in.String(&info.category, kCategoryLengthMax) ||
        !in.Varint(&price) || price > static_cast<uint64_t>(kPriceCentsMax) + 1) {
      return Corrupt("truncated or out-of-range item");
    }
    info.price_cents = static_cast<int64_t>(price) - 1;
    if (!LoggableItem(sku, info)) return Corrupt("invalid item");
  }
  if (!in.Varint(&count) || count > kEntriesMax || count > in.remaining()) {
    return Corrupt("bad event count");
  }
  record.events.resize(count);
  for (brain::Event& event : record.events) {
    if (!DecodeEvent(in, &event)) return Corrupt("truncated or out-of-range event");
    if (!LoggableEvent(event)) return Corrupt("invalid event");
  }
  if (!in.done()) return Corrupt("trailing bytes");
  return record;
}

}  // namespace surge::brainsvc
