#include "gateway/router.h"

#include <optional>
#include <utility>

#include "common/ids.h"
#include "json/json.h"

namespace surge::gateway {
namespace {

// API.md's paths, as a center matches them (src/api/handler.cc), plus the gateway's own.
enum class Resource {
  kMasterData,  // merchants, products, users, inventory, campaigns
  kOrders,      // the collection: POST places an order
  kOrder,
  kOrderAction,  // pay, cancel
  kUserOrders,
  kHealth,
  kTopology,
};

struct Match {
  Resource resource;
  std::string_view collection;  // "products", ...: names the path id in messages
  std::string_view id;          // empty if the route has none
};

std::string_view NextSegment(std::string_view* rest) {
  const size_t slash = rest->find('/');
  const std::string_view segment = rest->substr(0, slash);
  rest->remove_prefix(slash == std::string_view::npos ? rest->size() : slash + 1);
  return segment;
}

bool IsMasterDataCollection(std::string_view collection) {
  return collection == "merchants" || collection == "products" || collection == "users" ||
         collection == "inventory" || collection == "campaigns";
}

// Like the center, an empty id segment ("/v1/users/") matches and is then refused as an invalid
// id, which tells the client more than a 404 would.
std::optional<Match> MatchPath(std::string_view path) {
  if (path == "/healthz") return Match{Resource::kHealth, {}, {}};
  if (path == "/v1/topology") return Match{Resource::kTopology, {}, {}};
  constexpr std::string_view kPrefix = "/v1/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  const bool has_id = rest.find('/') != std::string_view::npos;
  const std::string_view collection = NextSegment(&rest);
  if (!has_id) {
    if (collection == "orders") return Match{Resource::kOrders, collection, {}};
    return std::nullopt;
  }
  const bool has_action = rest.find('/') != std::string_view::npos;
  const std::string_view id = NextSegment(&rest);
  if (!has_action) {
    if (collection == "orders") return Match{Resource::kOrder, collection, id};
    if (IsMasterDataCollection(collection)) return Match{Resource::kMasterData, collection, id};
    return std::nullopt;
  }
  const std::string_view action = rest;  // the remainder, slashes included
  if (collection == "orders" && (action == "pay" || action == "cancel")) {
    return Match{Resource::kOrderAction, collection, id};
  }
  if (collection == "users" && action == "orders") {
    return Match{Resource::kUserOrders, collection, id};
  }
  return std::nullopt;
}

std::string_view AllowedMethods(Resource resource) {
  switch (resource) {
    case Resource::kMasterData:
      return "GET, PUT";
    case Resource::kOrders:
    case Resource::kOrderAction:
      return "POST";
    case Resource::kOrder:
    case Resource::kUserOrders:
    case Resource::kHealth:
    case Resource::kTopology:
      return "GET";
  }
  return "";
}

bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool MethodAllowed(Resource resource, std::string_view method) {
  const std::string_view allowed = AllowedMethods(resource);
  if (IsRead(method)) return allowed.find("GET") != std::string_view::npos;
  if (method == "PUT") return allowed.find("PUT") != std::string_view::npos;
  if (method == "POST") return allowed.find("POST") != std::string_view::npos;
  return false;
}

// The name of a path id in messages, as the center says it.
std::string_view IdName(const Match& match) {
  switch (match.resource) {
    case Resource::kOrder:
    case Resource::kOrderAction:
      return "order id";
    case Resource::kUserOrders:
      return "user id";
    case Resource::kMasterData:
      if (match.collection == "products" || match.collection == "inventory") return "sku";
      if (match.collection == "users") return "user id";
      if (match.collection == "merchants") return "merchant id";
      return "campaign id";
    case Resource::kOrders:
    case Resource::kHealth:
    case Resource::kTopology:
      break;
  }
  return "id";
}

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

Router::Router(const topology::Topology& topology) : topology_(topology) {
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
  const std::optional<Match> match = MatchPath(request.path);
  if (!match) return Error(Status(Code::kNotFound, "no route for " + std::string(request.path)));
  if (!MethodAllowed(match->resource, request.method)) {
    return Error(Status(Code::kMethodNotAllowed, std::string(request.method) +
                                                     " is not allowed on " +
                                                     std::string(request.path) + "; use " +
                                                     std::string(AllowedMethods(match->resource))));
  }
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
  if (!IsValidId(match->id)) {
    return Error(Status(Code::kBadField, std::string(IdName(*match)) +
                                             " (in the path): expected an id of 1 to 64 "
                                             "characters from [A-Za-z0-9_.:-]"));
  }
  switch (match->resource) {
    case Resource::kMasterData:
      return Forward(master_index_);
    case Resource::kOrder:
    case Resource::kOrderAction: {
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
