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

namespace {

// At the master of several centers: the campaign's totals over every center, and each center's.
void WriteGlobalCounts(json::Writer& writer, const trade::CampaignView& campaign) {
  int64_t reserved = 0;
  int64_t sold = 0;
  for (const trade::CenterQuotaView& center : campaign.centers) {
    reserved += center.reserved;
    sold += center.sold;
  }
  writer.Field("stock", campaign.campaign_stock);
  writer.Field("available", campaign.campaign_stock - reserved - sold);
  writer.Field("reserved", reserved);
  writer.Field("sold", sold);
  writer.Field("unallocated", campaign.unallocated);
  writer.Key("centers");
  writer.BeginArray();
  for (const trade::CenterQuotaView& center : campaign.centers) {
    writer.BeginObject();
    writer.Field("center", center.center);
    writer.Field("quota", center.quota);
    writer.Field("available", center.available);
    writer.Field("reserved", center.reserved);
    writer.Field("sold", center.sold);
    writer.EndObject();
  }
  writer.EndArray();
}

// At a sub-center: the campaign's stock, and this center's quota and units.
void WriteQuotaCounts(json::Writer& writer, const trade::CampaignView& campaign) {
  writer.Field("stock", campaign.campaign_stock);
  writer.Field("quota", campaign.counts.stock);
  writer.Field("available", campaign.counts.available);
  writer.Field("reserved", campaign.counts.reserved);
  writer.Field("sold", campaign.counts.sold);
  writer.Field("unallocated", campaign.unallocated);
  writer.Field("requested", campaign.requested);
}

}  // namespace

std::string EncodeCampaign(const trade::CampaignView& campaign, bool shared) {
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
  if (!shared) {
    WriteCounts(writer, campaign.counts);
  } else if (!campaign.centers.empty()) {
    WriteGlobalCounts(writer, campaign);
  } else {
    WriteQuotaCounts(writer, campaign);
  }
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
  if (!product.demand.empty()) {
    writer.Key("demand");
    writer.BeginArray();
    for (const trade::CenterDemand& each : product.demand) {
      writer.BeginObject();
      writer.Field("center", each.center);
      writer.Field("units", each.units);
      writer.EndObject();
    }
    writer.EndArray();
  }
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

http::Response EncodeReply(const trade::Reply& reply, int success_status, bool shared) {
  if (!reply.status.ok()) {
    http::Response response = http::ErrorResponse(reply.status);
    if (reply.status.code() == Code::kOverloaded) response.retry_after_s = 1;
    return response;
  }
  http::Response response;
  response.status = success_status;
  const bool encoded = std::visit(
      [&response, shared](const auto& value) {
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
          response.body = EncodeCampaign(value, shared);
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
