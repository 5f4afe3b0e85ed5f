// Private to drill: the fields of an order request as JSON, shared by the body of a POST
// /v1/orders (checker.cc) and a line of a history file (history.cc).
#pragma once

#include "drill/drill.h"
#include "json/json.h"

namespace surge::drill::internal {

// "request_id", "user" and "items" ([{"sku", "quantity"}]) of `attempt`, into an open object.
inline void WriteRequestFields(json::Writer& writer, const OrderAttempt& attempt) {
  writer.Field("request_id", attempt.request_id);
  writer.Field("user", attempt.user);
  writer.Key("items");
  writer.BeginArray();
  for (const Item& item : attempt.items) {
    writer.BeginObject();
    writer.Field("sku", item.sku);
    writer.Field("quantity", item.quantity);
    writer.EndObject();
  }
  writer.EndArray();
}

}  // namespace surge::drill::internal
