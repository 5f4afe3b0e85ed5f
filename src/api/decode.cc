// The request decoders: strict JSON bodies into trade commands. Every check that trade's
// ValidateBody makes is made here first, so a bad request is answered with a message that names
// the field as the client wrote it, and never reaches the center's queue.
#include <string>

#include "api/api.h"
#include "common/ids.h"
#include "json/json.h"

namespace surge::api {
namespace {

using json::Value;

Status BadField(std::string message) { return Status(Code::kBadField, std::move(message)); }

// One parser per thread: its buffers are reused, so parsing a request allocates nothing.
json::Document& ThreadDocument() {
  thread_local json::Document document;
  return document;
}

Status CheckPathId(std::string_view name, std::string_view id) {
  if (IsValidId(id)) return Status::Ok();
  return BadField(std::string(name) +
                  " (in the path): expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]");
}

// Parses `body` and checks that it is an object holding no field outside `allowed`.
Result<Value> ParseObject(std::string_view body, std::initializer_list<std::string_view> allowed) {
  json::Document& document = ThreadDocument();
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  Value root = document.root();
  SURGE_RETURN_IF_ERROR(root.OnlyFields(allowed));
  return root;
}

Result<std::string> IdField(const Value& object, std::string_view key) {
  SURGE_ASSIGN_OR_RETURN(Value value, object.Field(key));
  SURGE_ASSIGN_OR_RETURN(std::string_view id, value.Id());
  return std::string(id);
}

Result<std::string> NameField(const Value& object, std::string_view key) {
  SURGE_ASSIGN_OR_RETURN(Value value, object.Field(key));
  SURGE_ASSIGN_OR_RETURN(std::string_view text, value.String());
  if (text.size() > trade::kNameLengthMax) {
    return BadField(value.path() + ": expected a string of at most " +
                    std::to_string(trade::kNameLengthMax) + " bytes");
  }
  return std::string(text);
}

Result<int64_t> IntField(const Value& object, std::string_view key, int64_t minimum,
                         int64_t maximum) {
  SURGE_ASSIGN_OR_RETURN(Value value, object.Field(key));
  return value.Int(minimum, maximum);
}

Result<trade::OrderItem> DecodeItem(const Value& item) {
  SURGE_RETURN_IF_ERROR(item.OnlyFields({"sku", "quantity"}));
  trade::OrderItem decoded;
  SURGE_ASSIGN_OR_RETURN(decoded.sku, IdField(item, "sku"));
  SURGE_ASSIGN_OR_RETURN(decoded.quantity, IntField(item, "quantity", 1, trade::kQuantityMax));
  return decoded;
}

Status DecodeItems(const Value& root, std::vector<trade::OrderItem>* items) {
  SURGE_ASSIGN_OR_RETURN(Value list, root.Field("items"));
  SURGE_ASSIGN_OR_RETURN(size_t count, list.ArraySize());
  if (count == 0 || count > trade::kItemsMax) {
    return BadField("items: expected an array of 1 to " + std::to_string(trade::kItemsMax) +
                    " items");
  }
  items->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(Value item, list.At(i));
    SURGE_ASSIGN_OR_RETURN(trade::OrderItem decoded, DecodeItem(item));
    for (size_t earlier = 0; earlier < items->size(); ++earlier) {
      if ((*items)[earlier].sku == decoded.sku) {
        return BadField("items[" + std::to_string(i) + "].sku: " + decoded.sku +
                        " is already in items[" + std::to_string(earlier) +
                        "]; put the whole quantity of a SKU in one item");
      }
    }
    items->push_back(std::move(decoded));
  }
  return Status::Ok();
}

}  // namespace

Result<trade::PutMerchant> DecodePutMerchant(std::string_view id, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("id", id));
  SURGE_ASSIGN_OR_RETURN(Value root, ParseObject(body, {"name"}));
  trade::PutMerchant merchant;
  merchant.id = std::string(id);
  SURGE_ASSIGN_OR_RETURN(merchant.name, NameField(root, "name"));
  return merchant;
}

Result<trade::PutProduct> DecodePutProduct(std::string_view sku, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("sku", sku));
  SURGE_ASSIGN_OR_RETURN(Value root,
                         ParseObject(body, {"merchant", "name", "category", "price_cents"}));
  trade::PutProduct product;
  product.sku = std::string(sku);
  SURGE_ASSIGN_OR_RETURN(product.merchant, IdField(root, "merchant"));
  SURGE_ASSIGN_OR_RETURN(product.name, NameField(root, "name"));
  SURGE_ASSIGN_OR_RETURN(product.category, NameField(root, "category"));
  SURGE_ASSIGN_OR_RETURN(product.price_cents,
                         IntField(root, "price_cents", 0, trade::kPriceCentsMax));
  return product;
}

Result<trade::PutUser> DecodePutUser(std::string_view id, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("id", id));
  SURGE_ASSIGN_OR_RETURN(Value root, ParseObject(body, {"region"}));
  trade::PutUser user;
  user.id = std::string(id);
  SURGE_ASSIGN_OR_RETURN(user.region, NameField(root, "region"));
  return user;
}

Result<trade::PutInventory> DecodePutInventory(std::string_view sku, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("sku", sku));
  SURGE_ASSIGN_OR_RETURN(Value root, ParseObject(body, {"stock"}));
  trade::PutInventory inventory;
  inventory.sku = std::string(sku);
  SURGE_ASSIGN_OR_RETURN(inventory.stock, IntField(root, "stock", 0, trade::kStockMax));
  return inventory;
}

Result<trade::PutCampaign> DecodePutCampaign(std::string_view id, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("id", id));
  SURGE_ASSIGN_OR_RETURN(Value root,
                         ParseObject(body, {"sku", "stock", "price_cents", "starts_at", "ends_at",
                                            "per_user_limit", "reserve_ttl_ms"}));
  trade::PutCampaign campaign;
  campaign.id = std::string(id);
  SURGE_ASSIGN_OR_RETURN(campaign.sku, IdField(root, "sku"));
  SURGE_ASSIGN_OR_RETURN(campaign.stock, IntField(root, "stock", 0, trade::kStockMax));
  SURGE_ASSIGN_OR_RETURN(campaign.price_cents,
                         IntField(root, "price_cents", 0, trade::kPriceCentsMax));
  SURGE_ASSIGN_OR_RETURN(campaign.starts_at_ms, IntField(root, "starts_at", 0, trade::kTimeMsMax));
  SURGE_ASSIGN_OR_RETURN(campaign.ends_at_ms, IntField(root, "ends_at", 0, trade::kTimeMsMax));
  if (campaign.ends_at_ms <= campaign.starts_at_ms) {
    return BadField("ends_at: expected a time after starts_at (" +
                    std::to_string(campaign.starts_at_ms) + ")");
  }
  SURGE_ASSIGN_OR_RETURN(campaign.per_user_limit,
                         IntField(root, "per_user_limit", 1, trade::kStockMax));
  SURGE_ASSIGN_OR_RETURN(campaign.reserve_ttl_ms,
                         IntField(root, "reserve_ttl_ms", 1, trade::kReserveTtlMsMax));
  return campaign;
}

Result<trade::PutDemand> DecodePutDemand(std::string_view sku, std::string_view body) {
  SURGE_RETURN_IF_ERROR(CheckPathId("sku", sku));
  SURGE_ASSIGN_OR_RETURN(Value root, ParseObject(body, {"centers"}));
  trade::PutDemand demand;
  demand.sku = std::string(sku);
  SURGE_ASSIGN_OR_RETURN(Value list, root.Field("centers"));
  SURGE_ASSIGN_OR_RETURN(size_t count, list.ArraySize());
  if (count == 0 || count > trade::kDemandCentersMax) {
    return BadField("centers: expected an array of 1 to " +
                    std::to_string(trade::kDemandCentersMax) + " entries");
  }
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(Value entry, list.At(i));
    SURGE_RETURN_IF_ERROR(entry.OnlyFields({"center", "units"}));
    trade::CenterDemand decoded;
    SURGE_ASSIGN_OR_RETURN(decoded.center, IdField(entry, "center"));
    SURGE_ASSIGN_OR_RETURN(decoded.units, IntField(entry, "units", 0, trade::kStockMax));
    for (size_t earlier = 0; earlier < demand.centers.size(); ++earlier) {
      if (demand.centers[earlier].center == decoded.center) {
        return BadField("centers[" + std::to_string(i) + "].center: " + decoded.center +
                        " is already in centers[" + std::to_string(earlier) + "]");
      }
    }
    demand.centers.push_back(std::move(decoded));
  }
  // Center ids are shorter than other ids: what trade would refuse is refused here, with a path.
  SURGE_RETURN_IF_ERROR(trade::ValidateBody(demand));
  return demand;
}

Result<trade::PlaceOrder> DecodePlaceOrder(std::string_view body) {
  SURGE_ASSIGN_OR_RETURN(Value root, ParseObject(body, {"request_id", "user", "items"}));
  trade::PlaceOrder order;
  SURGE_ASSIGN_OR_RETURN(order.request_id, IdField(root, "request_id"));
  SURGE_ASSIGN_OR_RETURN(order.user, IdField(root, "user"));
  SURGE_RETURN_IF_ERROR(DecodeItems(root, &order.items));
  return order;
}

Status CheckEmptyBody(std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Status::Ok();
  json::Document& document = ThreadDocument();
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  return document.root().OnlyFields({});
}

}  // namespace surge::api
