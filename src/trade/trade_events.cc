// Order events: their names, what they change of each campaign, and the journal record of a batch
// of them.
//
// Record format 2 (written now; all integers LEB128 varints unless noted, signed ones zig-zag):
//   tag (u8, kEventsRecordTag: no command starts with it), version (u8, 2), through,
//   first number (0 when there are no events), count, delta count, deltas: campaign, reserved
//   (signed), sold (signed) -- CampaignDeltas of the events, so that the master reads only these
//   --, then the events: type (u8), at_ms, order_id, request_id, user, total_cents,
//   at_ms - created_at_ms, expires_at_ms - created_at_ms, item count, items: sku, quantity,
//   price_cents, campaign (empty: regular stock). An event's number is first number + its index
//   and its status the one its type leaves (StatusAfter): a Trade records nothing else.
// Format 1 (written before, still read): tag, version (1), through, count, events: number, type
//   (u8), at_ms, order_id, request_id, user, status (u8), total_cents, created_at_ms,
//   expires_at_ms, item count, items as above; no deltas.
// The events of a record are numbered consecutively (a state numbers all it records so).

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

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
constexpr uint8_t kEventsFormatV1 = 1;
constexpr uint8_t kEventsFormatVersion = 2;

// What a Trade can record: the problem, or "" (shared by the encoder's assertion and the decoder).
std::string ProblemOf(const OrderEvent& event) {
  const OrderView& order = event.order;
  if (event.number == 0) return "number 0";
  if (order.status != internal::StatusAfter(event.type)) return "status does not match the event";
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

bool GetType(Decoder& d, OrderEventType* type) {
  uint8_t raw = 0;
  if (!d.U8(&raw) || raw > static_cast<uint8_t>(OrderEventType::kExpired)) return false;
  *type = static_cast<OrderEventType>(raw);
  return true;
}

bool DecodeEventV1(Decoder& d, OrderEvent* event) {
  uint8_t status = 0;
  OrderView& order = event->order;
  if (!d.Varint(&event->number) || !GetType(d, &event->type) || !GetInt(d, &event->at_ms) ||
      !GetId(d, &order.order_id) || !GetId(d, &order.request_id) || !GetId(d, &order.user) ||
      !d.U8(&status) || status > static_cast<uint8_t>(OrderStatus::kExpired) ||
      !GetInt(d, &order.total_cents) || !GetInt(d, &order.created_at_ms) ||
      !GetInt(d, &order.expires_at_ms)) {
    return false;
  }
  order.status = static_cast<OrderStatus>(status);
  return DecodeItems(d, &order);
}

// Format 2: the number comes from the header, the status from the type, the times relative.
bool DecodeEventV2(Decoder& d, uint64_t number, OrderEvent* event) {
  OrderView& order = event->order;
  int64_t age_ms = 0;
  int64_t ttl_ms = 0;
  if (!GetType(d, &event->type) || !GetInt(d, &event->at_ms) || !GetId(d, &order.order_id) ||
      !GetId(d, &order.request_id) || !GetId(d, &order.user) || !GetInt(d, &order.total_cents) ||
      !GetInt(d, &age_ms) || !GetInt(d, &ttl_ms)) {
    return false;
  }
  // Out of range here would overflow below; ProblemOf checks the rest.
  if (event->at_ms > kTimeMsMax || age_ms > event->at_ms || ttl_ms > kReserveTtlMsMax) return false;
  event->number = number;
  order.status = internal::StatusAfter(event->type);
  order.created_at_ms = event->at_ms - age_ms;
  order.expires_at_ms = order.created_at_ms + ttl_ms;
  return DecodeItems(d, &order);
}

// The deltas of a format-2 header; each names a valid campaign and changes something.
bool DecodeDeltas(Decoder& d, std::vector<CampaignDelta>* deltas) {
  uint64_t count = 0;
  // Each delta takes at least three bytes: a count beyond the bytes left is damage.
  if (!d.Varint(&count) || count > d.remaining()) return false;
  deltas->resize(count);
  for (CampaignDelta& delta : *deltas) {
    if (!GetId(d, &delta.campaign) || !d.SignedVarint(&delta.reserved) ||
        !d.SignedVarint(&delta.sold) || !IsValidId(delta.campaign) ||
        (delta.reserved == 0 && delta.sold == 0)) {
      return false;
    }
  }
  return true;
}

Status Corrupt(std::string_view what) {
  return Status(Code::kCorruption, Cat("trade events record: ", what));
}

// After the tag: the version, 1 or 2.
Result<uint8_t> DecodeVersion(Decoder& d) {
  uint8_t tag = 0;
  uint8_t version = 0;
  if (!d.U8(&tag) || tag != kEventsRecordTag) return Corrupt("not an events record");
  if (!d.U8(&version) || (version != kEventsFormatV1 && version != kEventsFormatVersion)) {
    return Corrupt(Cat("unknown format version ", version));
  }
  return version;
}

// The format-2 header through the deltas; `count` checked against the bytes left.
Status DecodeHeaderV2(Decoder& d, EventsSummary* summary) {
  // Every event takes more than one byte: a count beyond the bytes left is damage, not a reason
  // to allocate.
  if (!d.Varint(&summary->through) || !d.Varint(&summary->first_number) ||
      !d.Varint(&summary->count) || summary->count > d.remaining()) {
    return Corrupt("truncated header");
  }
  // The last number, first + count - 1, must not wrap.
  if ((summary->count == 0) != (summary->first_number == 0) ||
      (summary->count > 0 && summary->first_number - 1 > UINT64_MAX - summary->count)) {
    return Corrupt("bad first number");
  }
  if (!DecodeDeltas(d, &summary->deltas)) return Corrupt("bad deltas");
  return Status::Ok();
}

Result<EventsRecord> DecodeEventsV1(Decoder& decoder) {
  uint64_t count = 0;
  EventsRecord record;
  if (!decoder.Varint(&record.through) || !decoder.Varint(&count) || count > decoder.remaining()) {
    return Corrupt("truncated header");
  }
  record.events.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!DecodeEventV1(decoder, &record.events[i])) return Corrupt(Cat("truncated event ", i));
  }
  return record;
}

// The record's deltas go to *deltas (checked against the events by the caller, once the events
// are known to be sound).
Result<EventsRecord> DecodeEventsV2(Decoder& decoder, std::vector<CampaignDelta>* deltas) {
  EventsSummary summary;
  SURGE_RETURN_IF_ERROR(DecodeHeaderV2(decoder, &summary));
  EventsRecord record;
  record.through = summary.through;
  record.events.resize(summary.count);
  for (size_t i = 0; i < summary.count; ++i) {
    if (!DecodeEventV2(decoder, summary.first_number + i, &record.events[i])) {
      return Corrupt(Cat("truncated event ", i));
    }
  }
  *deltas = std::move(summary.deltas);
  return record;
}

}  // namespace

namespace internal {

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

void EncodeEventsHeader(std::string* out, uint64_t through, uint64_t first_number, uint64_t count,
                        uint64_t deltas) {
  Encoder e(out);
  e.U8(kEventsRecordTag);
  e.U8(kEventsFormatVersion);
  e.Varint(through);
  e.Varint(first_number);
  e.Varint(count);
  e.Varint(deltas);
}

void EncodeEventsDelta(std::string* out, std::string_view campaign, int64_t reserved,
                       int64_t sold) {
  Encoder e(out);
  e.String(campaign);
  e.SignedVarint(reserved);
  e.SignedVarint(sold);
}

// Times as the decoder wants them; a bad event (which no Trade records) still encodes, into
// values the decoder refuses.
void EncodeEventHead(std::string* out, const EventHead& head) {
  Encoder e(out);
  e.U8(static_cast<uint8_t>(head.type));
  e.Varint(static_cast<uint64_t>(head.at_ms));
  e.String(head.order_id);
  e.String(head.request_id);
  e.String(head.user);
  e.Varint(static_cast<uint64_t>(head.total_cents));
  e.Varint(static_cast<uint64_t>(head.at_ms) - static_cast<uint64_t>(head.created_at_ms));
  e.Varint(static_cast<uint64_t>(head.expires_at_ms) - static_cast<uint64_t>(head.created_at_ms));
  e.Varint(head.items);
}

void EncodeEventItem(std::string* out, std::string_view sku, int64_t quantity, int64_t price_cents,
                     std::string_view campaign) {
  Encoder e(out);
  e.String(sku);
  e.Varint(static_cast<uint64_t>(quantity));
  e.Varint(static_cast<uint64_t>(price_cents));
  e.String(campaign);
}

}  // namespace internal

bool IsEventsRecord(std::string_view journal_payload) {
  return !journal_payload.empty() && static_cast<uint8_t>(journal_payload[0]) == kEventsRecordTag;
}

void EncodeEvents(uint64_t through, std::span<const OrderEvent> events, std::string* out) {
  const std::vector<CampaignDelta> deltas = CampaignDeltas(events);
  internal::EncodeEventsHeader(out, through, events.empty() ? 0 : events[0].number, events.size(),
                               deltas.size());
  for (const CampaignDelta& delta : deltas) {
    internal::EncodeEventsDelta(out, delta.campaign, delta.reserved, delta.sold);
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const OrderEvent& event = events[i];
    const OrderView& order = event.order;
    // The events come from the state machine, whose invariants hold; checking every field here
    // as DecodeEvents does cost the center's writer thread about 2 % of its time under load. The
    // reader checks everything anyway. The numbering and the status are not written (the header's
    // first number and the type give them), so what the record could not carry is asserted.
    SURGE_ASSERT_MSG(event.number > 0, "events are numbered from 1");
    SURGE_ASSERT_MSG(i == 0 || event.number == events[i - 1].number + 1,
                     "the events of a record must be numbered consecutively");
    SURGE_ASSERT_MSG(order.status == internal::StatusAfter(event.type),
                     "an event shows the status its type leaves");
    internal::EncodeEventHead(
        out, internal::EventHead{event.type, event.at_ms, order.order_id, order.request_id,
                                 order.user, order.total_cents, order.created_at_ms,
                                 order.expires_at_ms, order.items.size()});
    for (const OrderItemView& item : order.items) {
      internal::EncodeEventItem(out, item.sku, item.quantity, item.price_cents, item.campaign);
    }
  }
}

Result<EventsRecord> DecodeEvents(std::string_view bytes) {
  Decoder decoder(bytes);
  SURGE_ASSIGN_OR_RETURN(const uint8_t version, DecodeVersion(decoder));
  std::vector<CampaignDelta> deltas;
  Result<EventsRecord> record =
      version == kEventsFormatV1 ? DecodeEventsV1(decoder) : DecodeEventsV2(decoder, &deltas);
  if (!record.ok()) return record;
  const std::vector<OrderEvent>& events = record->events;
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string problem = ProblemOf(events[i]);
    if (!problem.empty()) return Corrupt(Cat("event ", i, ": ", problem));
    if (i > 0 && events[i].number != events[i - 1].number + 1) {
      return Corrupt(Cat("event ", i, " is not numbered after event ", i - 1));
    }
  }
  if (!decoder.done()) return Corrupt(Cat(decoder.remaining(), " trailing bytes"));
  // The master applies a record's deltas without reading its events: they must be the events'.
  if (version != kEventsFormatV1 && deltas != CampaignDeltas(events)) {
    return Corrupt("the deltas are not the events'");
  }
  return record;
}

Result<EventsSummary> DecodeEventsSummary(std::string_view bytes) {
  Decoder decoder(bytes);
  SURGE_ASSIGN_OR_RETURN(const uint8_t version, DecodeVersion(decoder));
  EventsSummary summary;
  if (version == kEventsFormatV1) {
    SURGE_ASSIGN_OR_RETURN(EventsRecord record, DecodeEvents(bytes));
    summary.through = record.through;
    summary.count = record.events.size();
    summary.first_number = record.events.empty() ? 0 : record.events[0].number;
    summary.deltas = CampaignDeltas(record.events);
    return summary;
  }
  SURGE_RETURN_IF_ERROR(DecodeHeaderV2(decoder, &summary));
  return summary;
}

}  // namespace surge::trade
