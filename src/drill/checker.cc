// The history checker: see drill.h for what it proves.
#include <map>
#include <set>

#include "drill/drill.h"
#include "drill/order_json.h"
#include "json/json.h"

namespace surge::drill {
namespace {

struct SeenOrder {
  std::string order_id;
  std::string request_id;
  std::string user;
  std::string status;
  std::vector<Item> items;
  std::vector<std::string> item_campaigns;  // parallel to items; empty when regular stock
};

class Checker {
 public:
  Checker(const CheckOptions& options, http::Client& client, CheckReport* report)
      : options_(options), client_(client), report_(report) {}

  Status Run(const std::vector<OrderAttempt>& history);

 private:
  Status Resend(const OrderAttempt& attempt);
  Status ReadUserOrders(const std::string& user);
  Status CheckCampaign(const CampaignSpec& campaign);
  void CheckAcknowledged(const OrderAttempt& attempt);
  void Violation(std::string text) { report_->violations.push_back(std::move(text)); }

  const CheckOptions& options_;
  http::Client& client_;
  CheckReport* report_;
  std::map<std::string, SeenOrder> orders_;            // by order id
  std::map<std::string, std::string> request_orders_;  // request id -> order id
};

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

Result<SeenOrder> ParseOrder(const json::Value& value) {
  SeenOrder order;
  SURGE_ASSIGN_OR_RETURN(json::Value id, value.Field("order_id"));
  SURGE_ASSIGN_OR_RETURN(std::string_view id_text, id.String());
  order.order_id = std::string(id_text);
  if (value.Has("request_id")) {
    SURGE_ASSIGN_OR_RETURN(json::Value request, value.Field("request_id"));
    SURGE_ASSIGN_OR_RETURN(std::string_view request_text, request.String());
    order.request_id = std::string(request_text);
  }
  SURGE_ASSIGN_OR_RETURN(json::Value user, value.Field("user"));
  SURGE_ASSIGN_OR_RETURN(std::string_view user_text, user.String());
  order.user = std::string(user_text);
  SURGE_ASSIGN_OR_RETURN(json::Value status, value.Field("status"));
  SURGE_ASSIGN_OR_RETURN(std::string_view status_text, status.String());
  order.status = std::string(status_text);
  SURGE_ASSIGN_OR_RETURN(json::Value items, value.Field("items"));
  SURGE_ASSIGN_OR_RETURN(size_t count, items.ArraySize());
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(json::Value item, items.At(i));
    SURGE_ASSIGN_OR_RETURN(json::Value sku, item.Field("sku"));
    SURGE_ASSIGN_OR_RETURN(std::string_view sku_text, sku.String());
    SURGE_ASSIGN_OR_RETURN(json::Value quantity, item.Field("quantity"));
    SURGE_ASSIGN_OR_RETURN(int64_t quantity_value, quantity.Int(1, INT64_MAX));
    std::string campaign;
    if (item.Has("campaign")) {
      SURGE_ASSIGN_OR_RETURN(json::Value campaign_value, item.Field("campaign"));
      if (!campaign_value.is_null()) {
        SURGE_ASSIGN_OR_RETURN(std::string_view campaign_text, campaign_value.String());
        campaign = std::string(campaign_text);
      }
    }
    order.items.push_back(Item{std::string(sku_text), quantity_value});
    order.item_campaigns.push_back(std::move(campaign));
  }
  return order;
}

Status Checker::Resend(const OrderAttempt& attempt) {
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response,
                         client_.Do("POST", "/v1/orders", OrderBody(attempt)));
  ++report_->requests_resent;
  if (attempt.status != 201)
    return Status::Ok();  // any answer is fine; uniqueness is checked later
  if (response.status != 201) {
    Violation("re-sending acknowledged request " + Quoted(attempt.request_id) + " answered " +
              std::to_string(response.status) + " " + response.body);
    return Status::Ok();
  }
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(response.body));
  SURGE_ASSIGN_OR_RETURN(json::Value id, document.root().Field("order_id"));
  SURGE_ASSIGN_OR_RETURN(std::string_view order_id, id.String());
  if (order_id != attempt.order_id) {
    Violation("re-sending request " + Quoted(attempt.request_id) + " gave order " +
              Quoted(order_id) + ", first answer was " + Quoted(attempt.order_id));
  }
  return Status::Ok();
}

Status Checker::ReadUserOrders(const std::string& user) {
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response,
                         client_.Do("GET", "/v1/users/" + user + "/orders"));
  if (response.status != 200) {
    return Status(Code::kUnavailable, "reading orders of " + user + " answered " +
                                          std::to_string(response.status) + " " + response.body);
  }
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(response.body));
  SURGE_ASSIGN_OR_RETURN(json::Value list, document.root().Field("orders"));
  SURGE_ASSIGN_OR_RETURN(size_t count, list.ArraySize());
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(json::Value value, list.At(i));
    SURGE_ASSIGN_OR_RETURN(SeenOrder order, ParseOrder(value));
    if (order.user != user) {
      Violation("order " + Quoted(order.order_id) + " listed under " + Quoted(user) +
                " belongs to " + Quoted(order.user));
    }
    if (!order.request_id.empty()) {
      auto [it, inserted] = request_orders_.emplace(order.request_id, order.order_id);
      if (!inserted && it->second != order.order_id) {
        Violation("request " + Quoted(order.request_id) + " has two orders: " + Quoted(it->second) +
                  " and " + Quoted(order.order_id));
      }
    }
    if (!orders_.emplace(order.order_id, order).second) {
      Violation("order " + Quoted(order.order_id) + " listed twice");
    }
    ++report_->orders_seen;
  }
  return Status::Ok();
}

Status Checker::CheckCampaign(const CampaignSpec& campaign) {
  SURGE_ASSIGN_OR_RETURN(StockReading counts, ReadStock(client_, "/v1/campaigns/" + campaign.id));
  const int64_t reserved = counts.reserved, sold = counts.sold;
  if (!counts.adds_up() || counts.stock != campaign.stock) {
    Violation("campaign " + campaign.id + " does not add up to its stock " +
              std::to_string(campaign.stock) + ": " + counts.ToString());
  }
  // Units held by the orders we read, by status, and per user.
  int64_t held_reserved = 0, held_sold = 0;
  std::map<std::string, int64_t> per_user;
  for (const auto& [order_id, order] : orders_) {
    const bool reserved_status = order.status == "reserved";
    const bool paid_status = order.status == "paid";
    if (!reserved_status && !paid_status) continue;
    for (size_t i = 0; i < order.items.size(); ++i) {
      if (order.item_campaigns[i] != campaign.id) continue;
      (reserved_status ? held_reserved : held_sold) += order.items[i].quantity;
      per_user[order.user] += order.items[i].quantity;
    }
  }
  if (held_reserved != reserved || held_sold != sold) {
    Violation("campaign " + campaign.id + ": orders hold " + std::to_string(held_reserved) +
              " reserved and " + std::to_string(held_sold) + " sold units, campaign says " +
              std::to_string(reserved) + " and " + std::to_string(sold));
  }
  for (const auto& [user, units] : per_user) {
    if (units > campaign.per_user_limit) {
      Violation("user " + Quoted(user) + " holds " + std::to_string(units) + " units of " +
                campaign.id + ", limit " + std::to_string(campaign.per_user_limit));
    }
  }
  return Status::Ok();
}

void Checker::CheckAcknowledged(const OrderAttempt& attempt) {
  ++report_->acknowledged_orders;
  const auto it = orders_.find(attempt.order_id);
  if (it == orders_.end()) {
    Violation("acknowledged order " + Quoted(attempt.order_id) + " of request " +
              Quoted(attempt.request_id) + " is missing");
    return;
  }
  const SeenOrder& order = it->second;
  if (order.user != attempt.user) Violation("order " + Quoted(order.order_id) + " changed user");
  bool same_items = order.items.size() == attempt.items.size();
  for (size_t i = 0; same_items && i < order.items.size(); ++i) {
    same_items = order.items[i].sku == attempt.items[i].sku &&
                 order.items[i].quantity == attempt.items[i].quantity;
  }
  if (!same_items) Violation("order " + Quoted(order.order_id) + " has other items than requested");
  if (!order.request_id.empty() && order.request_id != attempt.request_id) {
    Violation("order " + Quoted(order.order_id) + " carries request " + Quoted(order.request_id) +
              ", acknowledged for " + Quoted(attempt.request_id));
  }
}

Status Checker::Run(const std::vector<OrderAttempt>& history) {
  if (options_.resend_acknowledged) {
    for (const OrderAttempt& attempt : history) SURGE_RETURN_IF_ERROR(Resend(attempt));
  }
  std::set<std::string> users(options_.users.begin(), options_.users.end());
  for (const OrderAttempt& attempt : history) users.insert(attempt.user);
  for (const std::string& user : users) SURGE_RETURN_IF_ERROR(ReadUserOrders(user));
  for (const OrderAttempt& attempt : history) {
    if (attempt.status == 201) CheckAcknowledged(attempt);
  }
  for (const CampaignSpec& campaign : options_.campaigns) {
    SURGE_RETURN_IF_ERROR(CheckCampaign(campaign));
  }
  return Status::Ok();
}

}  // namespace

std::string CheckReport::Summary() const {
  std::string text = std::to_string(acknowledged_orders) + " acknowledged orders, " +
                     std::to_string(orders_seen) + " orders read, " +
                     std::to_string(requests_resent) + " requests re-sent, " +
                     std::to_string(violations.size()) + " violations";
  for (size_t i = 0; i < violations.size() && i < 20; ++i) text += "\n  " + violations[i];
  return text;
}

std::string StockReading::ToString() const {
  return "stock " + std::to_string(stock) + ", available " + std::to_string(available) +
         ", reserved " + std::to_string(reserved) + ", sold " + std::to_string(sold);
}

Result<StockReading> ReadStock(http::Client& client, const std::string& target) {
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, client.Do("GET", target));
  if (response.status != 200) {
    return Status(Code::kUnavailable, "GET " + target + " answered " +
                                          std::to_string(response.status) + " " + response.body);
  }
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(response.body));
  StockReading reading;
  const std::pair<const char*, int64_t*> fields[] = {{"stock", &reading.stock},
                                                     {"available", &reading.available},
                                                     {"reserved", &reading.reserved},
                                                     {"sold", &reading.sold}};
  for (const auto& [name, into] : fields) {
    SURGE_ASSIGN_OR_RETURN(json::Value value, document.root().Field(name));
    SURGE_ASSIGN_OR_RETURN(*into, value.Int(INT64_MIN, INT64_MAX));
  }
  return reading;
}

std::string OrderBody(const OrderAttempt& attempt) {
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  internal::WriteRequestFields(writer, attempt);
  writer.EndObject();
  return body;
}

Result<CheckReport> Check(const std::vector<OrderAttempt>& history, const CheckOptions& options,
                          http::Client& client) {
  CheckReport report;
  Checker checker(options, client, &report);
  SURGE_RETURN_IF_ERROR(checker.Run(history));
  return report;
}

}  // namespace surge::drill
