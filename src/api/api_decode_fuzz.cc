// Fuzzes the API's request decoders. Input: byte 0 picks the decoder, byte 1 the length of the
// path id that follows it, the rest is the JSON body. Decoding must never crash; what it accepts
// must satisfy every documented constraint (api.h), pass trade::ValidateBody, and survive a round
// trip: re-encoded as JSON and decoded again, it gives the same command.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/api.h"
#include "common/assert.h"
#include "common/ids.h"
#include "json/json.h"
#include "trade/trade.h"

namespace surge::api {
namespace {

void CheckName(std::string_view name) { SURGE_ASSERT(name.size() <= trade::kNameLengthMax); }

void CheckRange(int64_t value, int64_t minimum, int64_t maximum) {
  SURGE_ASSERT(value >= minimum && value <= maximum);
}

void Check(const trade::PutMerchant& merchant) {
  SURGE_ASSERT(IsValidId(merchant.id));
  CheckName(merchant.name);
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("name", merchant.name);
  writer.EndObject();
  auto again = DecodePutMerchant(merchant.id, body);
  SURGE_ASSERT(again.ok() && *again == merchant);
}

void Check(const trade::PutProduct& product) {
  SURGE_ASSERT(IsValidId(product.sku) && IsValidId(product.merchant));
  CheckName(product.name);
  CheckName(product.category);
  CheckRange(product.price_cents, 0, trade::kPriceCentsMax);
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("merchant", product.merchant);
  writer.Field("name", product.name);
  writer.Field("category", product.category);
  writer.Field("price_cents", product.price_cents);
  writer.EndObject();
  auto again = DecodePutProduct(product.sku, body);
  SURGE_ASSERT(again.ok() && *again == product);
}

void Check(const trade::PutUser& user) {
  SURGE_ASSERT(IsValidId(user.id));
  CheckName(user.region);
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("region", user.region);
  writer.EndObject();
  auto again = DecodePutUser(user.id, body);
  SURGE_ASSERT(again.ok() && *again == user);
}

void Check(const trade::PutInventory& inventory) {
  SURGE_ASSERT(IsValidId(inventory.sku));
  CheckRange(inventory.stock, 0, trade::kStockMax);
}

void Check(const trade::PutCampaign& campaign) {
  SURGE_ASSERT(IsValidId(campaign.id) && IsValidId(campaign.sku));
  CheckRange(campaign.stock, 0, trade::kStockMax);
  CheckRange(campaign.price_cents, 0, trade::kPriceCentsMax);
  CheckRange(campaign.starts_at_ms, 0, trade::kTimeMsMax);
  CheckRange(campaign.ends_at_ms, 0, trade::kTimeMsMax);
  SURGE_ASSERT(campaign.starts_at_ms < campaign.ends_at_ms);
  CheckRange(campaign.per_user_limit, 1, trade::kStockMax);
  CheckRange(campaign.reserve_ttl_ms, 1, trade::kReserveTtlMsMax);
}

void Check(const trade::PlaceOrder& order) {
  SURGE_ASSERT(IsValidId(order.request_id) && IsValidId(order.user));
  SURGE_ASSERT(!order.items.empty() && order.items.size() <= trade::kItemsMax);
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("request_id", order.request_id);
  writer.Field("user", order.user);
  writer.Key("items");
  writer.BeginArray();
  for (size_t i = 0; i < order.items.size(); ++i) {
    const trade::OrderItem& item = order.items[i];
    SURGE_ASSERT(IsValidId(item.sku));
    CheckRange(item.quantity, 1, trade::kQuantityMax);
    for (size_t j = 0; j < i; ++j) SURGE_ASSERT(order.items[j].sku != item.sku);
    writer.BeginObject();
    writer.Field("sku", item.sku);
    writer.Field("quantity", item.quantity);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  auto again = DecodePlaceOrder(body);
  SURGE_ASSERT(again.ok() && *again == order);
}

void Check(const trade::PutDemand& demand) {
  SURGE_ASSERT(IsValidId(demand.sku));
  SURGE_ASSERT(!demand.centers.empty() && demand.centers.size() <= trade::kDemandCentersMax);
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Key("centers");
  writer.BeginArray();
  for (size_t i = 0; i < demand.centers.size(); ++i) {
    const trade::CenterDemand& each = demand.centers[i];
    SURGE_ASSERT(IsValidId(each.center) && each.center.size() <= 32);
    CheckRange(each.units, 0, trade::kStockMax);
    for (size_t j = 0; j < i; ++j) SURGE_ASSERT(demand.centers[j].center != each.center);
    writer.BeginObject();
    writer.Field("center", each.center);
    writer.Field("units", each.units);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  auto again = DecodePutDemand(demand.sku, body);
  SURGE_ASSERT(again.ok() && *again == demand);
}

// Runs one decoder; on success checks the command and that trade accepts it as well-formed.
template <typename Command>
void Run(const Result<Command>& decoded) {
  if (!decoded.ok()) {
    const Code code = decoded.status().code();
    SURGE_ASSERT(code == Code::kBadJson || code == Code::kBadField);
    SURGE_ASSERT(!decoded.status().message().empty());
    return;
  }
  Check(decoded.value());
  SURGE_ASSERT(trade::ValidateBody(trade::Body(decoded.value())).ok());
}

}  // namespace
}  // namespace surge::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge::api;  // NOLINT(google-build-using-namespace)
  if (size < 2) return 0;
  const uint8_t which = data[0] % 8;
  const size_t id_length = std::min<size_t>(data[1] % 72, size - 2);
  const std::string_view id(reinterpret_cast<const char*>(data + 2), id_length);
  const std::string_view body(reinterpret_cast<const char*>(data + 2 + id_length),
                              size - 2 - id_length);
  switch (which) {
    case 0:
      Run(DecodePutMerchant(id, body));
      break;
    case 1:
      Run(DecodePutProduct(id, body));
      break;
    case 2:
      Run(DecodePutUser(id, body));
      break;
    case 3:
      Run(DecodePutInventory(id, body));
      break;
    case 4:
      Run(DecodePutCampaign(id, body));
      break;
    case 5:
      Run(DecodePlaceOrder(body));
      break;
    case 6:
      Run(DecodePutDemand(id, body));
      break;
    default: {
      const surge::Status status = CheckEmptyBody(body);
      SURGE_ASSERT(status.ok() || status.code() == surge::Code::kBadJson ||
                   status.code() == surge::Code::kBadField);
      break;
    }
  }
  return 0;
}
