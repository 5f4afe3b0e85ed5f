// The response encoders: trade views into API.md's JSON shapes.
#include <type_traits>
#include <variant>

#include "api/api.h"
#include "json/json.h"

namespace surge::api {
namespace {

void WriteCounts(json::Writer& writer, const trade::StockCounts& counts) {
  writer.Field("stock", counts.stock);
  writer.Field("available", counts.available);
  writer.Field("reserved", counts.reserved);
  writer.Field("sold", counts.sold);
}

void WriteOrder(json::Writer& writer, const trade::OrderView& order) {
  writer.BeginObject();
  writer.Field("order_id", order.order_id);
  writer.Field("request_id", order.request_id);
  writer.Field("user", order.user);
  writer.Field("status", trade::OrderStatusName(order.status));
  writer.Field("total_cents", order.total_cents);
  writer.Field("expires_at", order.expires_at_ms);
  writer.Key("items");
  writer.BeginArray();
  for (const trade::OrderItemView& item : order.items) {
    writer.BeginObject();
    writer.Field("sku", item.sku);
    writer.Field("quantity", item.quantity);
    writer.Field("price_cents", item.price_cents);
    if (!item.campaign.empty()) writer.Field("campaign", item.campaign);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
}

// Roughly what an order takes, so that encoding one allocates once.
size_t OrderBytesEstimate(const trade::OrderView& order) { return 160 + 80 * order.items.size(); }

http::Response Internal(std::string message) {
  return http::ErrorResponse(Status(Code::kInternal, std::move(message)));
}

}  // namespace

std::string EncodeOrder(const trade::OrderView& order) {
  std::string out;
  out.reserve(OrderBytesEstimate(order));
  json::Writer writer(&out);
  WriteOrder(writer, order);
  return out;
}

std::string EncodeOrders(const std::vector<trade::OrderView>& orders) {
  size_t estimate = 16;
  for (const trade::OrderView& order : orders) estimate += OrderBytesEstimate(order);
  std::string out;
  out.reserve(estimate);
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Key("orders");
  writer.BeginArray();
  for (const trade::OrderView& order : orders) WriteOrder(writer, order);
  writer.EndArray();
  writer.EndObject();
  return out;
}

std::string EncodeCampaign(const trade::CampaignView& campaign) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("id", campaign.id);
  writer.Field("sku", campaign.sku);
  writer.Field("price_cents", campaign.price_cents);
  writer.Field("starts_at", campaign.starts_at_ms);
  writer.Field("ends_at", campaign.ends_at_ms);
  writer.Field("per_user_limit", campaign.per_user_limit);
  writer.Field("reserve_ttl_ms", campaign.reserve_ttl_ms);
  WriteCounts(writer, campaign.counts);
  writer.EndObject();
  return out;
}

std::string EncodeInventory(const trade::InventoryView& inventory) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("sku", inventory.sku);
  WriteCounts(writer, inventory.counts);
  writer.EndObject();
  return out;
}

std::string EncodeMerchant(const trade::MerchantView& merchant) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("id", merchant.id);
  writer.Field("name", merchant.name);
  writer.EndObject();
  return out;
}

std::string EncodeProduct(const trade::ProductView& product) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("sku", product.sku);
  writer.Field("merchant", product.merchant);
  writer.Field("name", product.name);
  writer.Field("category", product.category);
  writer.Field("price_cents", product.price_cents);
  writer.EndObject();
  return out;
}

std::string EncodeUser(const trade::UserView& user) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("id", user.id);
  writer.Field("region", user.region);
  writer.EndObject();
  return out;
}

http::Response EncodeReply(const trade::Reply& reply, int success_status) {
  if (!reply.status.ok()) {
    http::Response response = http::ErrorResponse(reply.status);
    if (reply.status.code() == Code::kOverloaded) response.retry_after_s = 1;
    return response;
  }
  http::Response response;
  response.status = success_status;
  const bool encoded = std::visit(
      [&response](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return false;
        } else if constexpr (std::is_same_v<T, trade::MerchantView>) {
          response.body = EncodeMerchant(value);
        } else if constexpr (std::is_same_v<T, trade::ProductView>) {
          response.body = EncodeProduct(value);
        } else if constexpr (std::is_same_v<T, trade::UserView>) {
          response.body = EncodeUser(value);
        } else if constexpr (std::is_same_v<T, trade::InventoryView>) {
          response.body = EncodeInventory(value);
        } else if constexpr (std::is_same_v<T, trade::CampaignView>) {
          response.body = EncodeCampaign(value);
        } else {
          static_assert(std::is_same_v<T, trade::OrderView>);
          response.body = EncodeOrder(value);
        }
        return true;
      },
      reply.value);
  if (!encoded) return Internal("the center answered a write without a value");
  return response;
}

}  // namespace surge::api
