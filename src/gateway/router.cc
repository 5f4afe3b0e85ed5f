#include "gateway/router.h"

#include <utility>

#include "common/ids.h"
#include "json/json.h"
#include "route/route.h"

namespace surge::gateway {
namespace {

using route::Match;
using route::Resource;

Destination Answer(http::Response response) {
  Destination destination;
  destination.answer_here = true;
  destination.answer = std::move(response);
  return destination;
}

Destination Error(const Status& status) { return Answer(http::ErrorResponse(status)); }

Destination Forward(size_t center) {
  Destination destination;
  destination.center = center;
  return destination;
}

Destination Ok(std::string body) {
  http::Response response;
  response.body = std::move(body);
  return Answer(std::move(response));
}

json::Document& ThreadDocument() {
  thread_local json::Document document;
  return document;
}

}  // namespace

Router::Router(const topology::Topology& topology, bool has_brain)
    : topology_(topology), has_brain_(has_brain) {
  const auto& centers = topology.centers();
  for (size_t i = 0; i < centers.size(); ++i) {
    center_index_by_id_.emplace(centers[i].id, i);
    if (centers[i].is_master) master_index_ = i;
  }
  topology_json_ = topology.ToJson();
}

Result<size_t> Router::CenterOfOrder(std::string_view order_id) const {
  const std::string_view center = CenterOfOrderId(order_id);
  if (!center.empty()) {
    const auto it = center_index_by_id_.find(center);
    if (it != center_index_by_id_.end()) return it->second;
    return Status(Code::kNotFound, "order " + std::string(order_id) + " not found: no center " +
                                       std::string(center) + " in the topology");
  }
  return Status(Code::kNotFound,
                "order " + std::string(order_id) + " not found: order ids are o.<center>.<number>");
}

// The center checks the fields in this order (api::DecodePlaceOrder): unknown fields, request_id,
// user; the gateway stops at the user, so its answers match the center's for every body it
// refuses, and the rest of the body is the home center's to check.
Destination Router::RouteOrderPlacement(std::string_view body) const {
  json::Document& document = ThreadDocument();
  Status status = document.Parse(body);
  if (!status.ok()) return Error(status);
  const json::Value root = document.root();
  status = root.OnlyFields({"request_id", "user", "items"});
  if (!status.ok()) return Error(status);
  for (const std::string_view field : {std::string_view("request_id"), std::string_view("user")}) {
    Result<json::Value> value = root.Field(field);
    if (!value.ok()) return Error(value.status());
    Result<std::string_view> id = value->Id();
    if (!id.ok()) return Error(id.status());
    if (field == "user") return Forward(topology_.HomeIndexOf(*id));
  }
  SURGE_ASSERT_MSG(false, "the loop returns at the user field");
  return Error(Status(Code::kInternal, "unreachable"));
}

Destination Router::Route(const http::Request& request) const {
  if (route::MatchBrainPath(request.path).has_value()) {
    const Result<route::BrainResource> brain =
        route::MatchBrainRequest(request.method, request.path);
    if (!brain.ok()) return Error(brain.status());
    if (!has_brain_) {
      return Error(Status(Code::kUnavailable,
                          "no brain is configured for this gateway (surge gateway --brain "
                          "HOST:PORT)"));
    }
    return Forward(topology_.centers().size());
  }
  const Result<Match> match = route::MatchRequest(request.method, request.path);
  if (!match.ok()) return Error(match.status());
  switch (match->resource) {
    case Resource::kHealth:
      return Ok(R"({"status":"ok","role":"gateway"})");
    case Resource::kTopology:
      return Ok(topology_json_);
    case Resource::kOrders:
      return RouteOrderPlacement(request.body);
    default:
      break;
  }
  const Status path_id = route::CheckPathId(*match);
  if (!path_id.ok()) return Error(path_id);
  switch (match->resource) {
    case Resource::kMerchant:
    case Resource::kProduct:
    case Resource::kUser:
    case Resource::kInventory:
    case Resource::kCampaign:
    case Resource::kDemand:
      return Forward(master_index_);
    case Resource::kOrder:
    case Resource::kOrderPay:
    case Resource::kOrderCancel: {
      const Result<size_t> center = CenterOfOrder(match->id);
      if (!center.ok()) return Error(center.status());
      return Forward(*center);
    }
    case Resource::kUserOrders:
      return Forward(topology_.HomeIndexOf(match->id));
    default:
      break;
  }
  SURGE_ASSERT_MSG(false, "every resource is routed above");
  return Error(Status(Code::kInternal, "unroutable request"));
}

}  // namespace surge::gateway
