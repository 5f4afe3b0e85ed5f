// Order events: their names, what they change of each campaign, and the journal record of a batch
// of them.
//
// Record format (all integers LEB128 varints unless noted):
//   tag (u8, kEventsRecordTag: no command starts with it), version (u8), through, count, events:
//   number, type (u8), at_ms, order_id, request_id, user, status (u8), total_cents,
//   created_at_ms, expires_at_ms, item count, items: sku, quantity, price_cents, campaign (empty:
//   regular stock)
// The events of a record are numbered consecutively (a state numbers all it records so).

#include <algorithm>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "common/coding.h"
#include "common/ids.h"
#include "trade/trade.h"
#include "trade/trade_state.h"

namespace surge::trade {

using internal::Cat;

std::string_view OrderEventTypeName(OrderEventType type) {
  switch (type) {
    case OrderEventType::kCreated:
      return "created";
    case OrderEventType::kPaid:
      return "paid";
    case OrderEventType::kCancelled:
      return "cancelled";
    case OrderEventType::kExpired:
      return "expired";
  }
  return "unknown";
}

std::vector<CampaignDelta> CampaignDeltas(std::span<const OrderEvent> events) {
  std::vector<CampaignDelta> deltas;
  absl::flat_hash_map<std::string_view, size_t> position;  // campaign -> index in deltas
  for (const OrderEvent& event : events) {
    for (const OrderItemView& item : event.order.items) {
      if (item.campaign.empty()) continue;
      const auto [found, added] = position.try_emplace(item.campaign, deltas.size());
      if (added) deltas.push_back(CampaignDelta{item.campaign, 0, 0});
      CampaignDelta& delta = deltas[found->second];
      delta.reserved += event.type == OrderEventType::kCreated ? item.quantity : -item.quantity;
      if (event.type == OrderEventType::kPaid) delta.sold += item.quantity;
    }
  }
  std::erase_if(deltas, [](const CampaignDelta& d) { return d.reserved == 0 && d.sold == 0; });
  return deltas;
}

namespace {

// The first byte of an events record. Commands start with their format version (1 or 2); a
// value far from those keeps the two apart however the command versions grow.
constexpr uint8_t kEventsRecordTag = 0xE5;
constexpr uint8_t kEventsFormatVersion = 1;

OrderStatus StatusAfter(OrderEventType type) {
  switch (type) {
    case OrderEventType::kCreated:
      return OrderStatus::kReserved;
    case OrderEventType::kPaid:
      return OrderStatus::kPaid;
    case OrderEventType::kCancelled:
      return OrderStatus::kCancelled;
    case OrderEventType::kExpired:
      return OrderStatus::kExpired;
  }
  return OrderStatus::kReserved;
}

// What a Trade can record: the problem, or "" (shared by the encoder's assertion and the decoder).
std::string ProblemOf(const OrderEvent& event) {
  const OrderView& order = event.order;
  if (event.number == 0) return "number 0";
  if (order.status != StatusAfter(event.type)) return "status does not match the event";
  if (!IsValidId(order.order_id) || !IsValidId(order.request_id) || !IsValidId(order.user)) {
    return "bad id";
  }
  const int64_t ttl_ms = order.expires_at_ms - order.created_at_ms;
  if (order.created_at_ms < 0 || order.created_at_ms > kTimeMsMax || ttl_ms < 1 ||
      ttl_ms > kReserveTtlMsMax || event.at_ms < order.created_at_ms || event.at_ms > kTimeMsMax) {
    return "bad times";
  }
  // Created when it was; expired once due, paid or cancelled before.
  const bool due = event.at_ms >= order.expires_at_ms;
  if ((event.type == OrderEventType::kCreated && event.at_ms != order.created_at_ms) ||
      due != (event.type == OrderEventType::kExpired)) {
    return "at_ms does not fit the event";
  }
  if (order.items.empty() || order.items.size() > kItemsMax) return "bad item count";
  int64_t total = 0;
  for (size_t i = 0; i < order.items.size(); ++i) {
    const OrderItemView& item = order.items[i];
    if (!IsValidId(item.sku) || (!item.campaign.empty() && !IsValidId(item.campaign)) ||
        item.quantity < 1 || item.quantity > kQuantityMax || item.price_cents < 0 ||
        item.price_cents > kPriceCentsMax) {
      return Cat("bad item ", i);
    }
    for (size_t j = 0; j < i; ++j) {
      if (order.items[j].sku == item.sku) return Cat("sku of item ", i, " repeats");
    }
    total += item.quantity * item.price_cents;
  }
  if (total != order.total_cents) return "total_cents is not the sum of the items";
  return "";
}

void EncodeEvent(Encoder& e, const OrderEvent& event) {
  const OrderView& order = event.order;
  e.Varint(event.number);
  e.U8(static_cast<uint8_t>(event.type));
  e.Varint(static_cast<uint64_t>(event.at_ms));
  e.String(order.order_id);
  e.String(order.request_id);
  e.String(order.user);
  e.U8(static_cast<uint8_t>(order.status));
  e.Varint(static_cast<uint64_t>(order.total_cents));
  e.Varint(static_cast<uint64_t>(order.created_at_ms));
  e.Varint(static_cast<uint64_t>(order.expires_at_ms));
  e.Varint(order.items.size());
  for (const OrderItemView& item : order.items) {
    e.String(item.sku);
    e.Varint(static_cast<uint64_t>(item.quantity));
    e.Varint(static_cast<uint64_t>(item.price_cents));
    e.String(item.campaign);
  }
}

// A non-negative int64 (range checks come after, in ProblemOf).
bool GetInt(Decoder& d, int64_t* value) {
  uint64_t raw = 0;
  if (!d.Varint(&raw) || raw > static_cast<uint64_t>(INT64_MAX)) return false;
  *value = static_cast<int64_t>(raw);
  return true;
}

bool GetId(Decoder& d, std::string* id) { return d.String(id, kIdLengthMax); }

bool DecodeItems(Decoder& d, OrderView* order) {
  uint64_t count = 0;
  if (!d.Varint(&count) || count > kItemsMax) return false;
  order->items.resize(count);
  for (OrderItemView& item : order->items) {
    if (!GetId(d, &item.sku) || !GetInt(d, &item.quantity) || !GetInt(d, &item.price_cents) ||
        !GetId(d, &item.campaign)) {
      return false;
    }
  }
  return true;
}

bool DecodeEvent(Decoder& d, OrderEvent* event) {
  uint8_t type = 0;
  uint8_t status = 0;
  OrderView& order = event->order;
  if (!d.Varint(&event->number) || !d.U8(&type) ||
      type > static_cast<uint8_t>(OrderEventType::kExpired) || !GetInt(d, &event->at_ms) ||
      !GetId(d, &order.order_id) || !GetId(d, &order.request_id) || !GetId(d, &order.user) ||
      !d.U8(&status) || status > static_cast<uint8_t>(OrderStatus::kExpired) ||
      !GetInt(d, &order.total_cents) || !GetInt(d, &order.created_at_ms) ||
      !GetInt(d, &order.expires_at_ms)) {
    return false;
  }
  event->type = static_cast<OrderEventType>(type);
  order.status = static_cast<OrderStatus>(status);
  return DecodeItems(d, &order);
}

Status Corrupt(std::string_view what) {
  return Status(Code::kCorruption, Cat("trade events record: ", what));
}

}  // namespace

bool IsEventsRecord(std::string_view journal_payload) {
  return !journal_payload.empty() && static_cast<uint8_t>(journal_payload[0]) == kEventsRecordTag;
}

void EncodeEvents(uint64_t through, std::span<const OrderEvent> events, std::string* out) {
  Encoder encoder(out);
  encoder.U8(kEventsRecordTag);
  encoder.U8(kEventsFormatVersion);
  encoder.Varint(through);
  encoder.Varint(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    // The events come from the state machine, whose invariants hold; checking every field here
    // as DecodeEvents does cost the center's writer thread (the one thread every order passes)
    // about 2 % of its time under load. The reader checks everything anyway: a bad event would
    // stop every consumer, loudly, not pass silently. The numbering is cheap and guards the
    // exactly-once journaling, so it stays.
    SURGE_ASSERT_MSG(events[i].number > 0, "events are numbered from 1");
    SURGE_ASSERT_MSG(i == 0 || events[i].number == events[i - 1].number + 1,
                     "the events of a record must be numbered consecutively");
    EncodeEvent(encoder, events[i]);
  }
}

Result<EventsRecord> DecodeEvents(std::string_view bytes) {
  Decoder decoder(bytes);
  uint8_t tag = 0;
  uint8_t version = 0;
  uint64_t count = 0;
  EventsRecord record;
  if (!decoder.U8(&tag) || tag != kEventsRecordTag) return Corrupt("not an events record");
  if (!decoder.U8(&version) || version != kEventsFormatVersion) {
    return Corrupt(Cat("unknown format version ", version));
  }
  // Every event takes more than one byte: a count beyond the bytes left is damage, not a reason
  // to allocate.
  if (!decoder.Varint(&record.through) || !decoder.Varint(&count) || count > decoder.remaining()) {
    return Corrupt("truncated header");
  }
  record.events.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!DecodeEvent(decoder, &record.events[i])) return Corrupt(Cat("truncated event ", i));
    const std::string problem = ProblemOf(record.events[i]);
    if (!problem.empty()) return Corrupt(Cat("event ", i, ": ", problem));
    if (i > 0 && record.events[i].number != record.events[i - 1].number + 1) {
      return Corrupt(Cat("event ", i, " is not numbered after event ", i - 1));
    }
  }
  if (!decoder.done()) return Corrupt(Cat(decoder.remaining(), " trailing bytes"));
  return record;
}

}  // namespace surge::trade
