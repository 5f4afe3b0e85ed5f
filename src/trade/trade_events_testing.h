// For tests and benchmarks of order events: the events record written field by field in format 1
// (what the centers wrote before format 2; journals still hold it and the decoder still reads
// it), so that a record can also hold what EncodeEvents refuses.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"

namespace surge::trade::testing {

// An order's items as both formats write them: count, then sku, quantity, price, campaign each.
inline void WriteOrderItems(Encoder& e, std::span<const OrderItemView> items) {
  e.Varint(items.size());
  for (const OrderItemView& item : items) {
    e.String(item.sku);
    e.Varint(static_cast<uint64_t>(item.quantity));
    e.Varint(static_cast<uint64_t>(item.price_cents));
    e.String(item.campaign);
  }
}

inline void WriteFormatOneEvent(Encoder& e, const OrderEvent& event) {
  const OrderView& order = event.order;
  e.Varint(event.number);
  e.U8(static_cast<uint8_t>(event.type));
  e.Varint(static_cast<uint64_t>(event.at_ms));
  for (const std::string* id : {&order.order_id, &order.request_id, &order.user}) e.String(*id);
  e.U8(static_cast<uint8_t>(order.status));
  for (const int64_t value : {order.total_cents, order.created_at_ms, order.expires_at_ms}) {
    e.Varint(static_cast<uint64_t>(value));
  }
  WriteOrderItems(e, order.items);
}

inline std::string FormatOneRecord(uint64_t through, const std::vector<OrderEvent>& events) {
  std::string bytes;
  Encoder e(&bytes);
  e.U8(0xE5);  // the events record's tag
  e.U8(1);     // format version
  e.Varint(through);
  e.Varint(events.size());
  for (const OrderEvent& event : events) WriteFormatOneEvent(e, event);
  return bytes;
}

}  // namespace surge::trade::testing
