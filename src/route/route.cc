#include "route/route.h"

#include <string>

#include "common/ids.h"

namespace surge::route {
namespace {

// Splits off the text up to the next '/' (or the end).
std::string_view NextSegment(std::string_view* rest) {
  const size_t slash = rest->find('/');
  const std::string_view segment = rest->substr(0, slash);
  rest->remove_prefix(slash == std::string_view::npos ? rest->size() : slash + 1);
  return segment;
}

std::optional<Resource> MasterDataResource(std::string_view collection) {
  if (collection == "merchants") return Resource::kMerchant;
  if (collection == "products") return Resource::kProduct;
  if (collection == "users") return Resource::kUser;
  if (collection == "inventory") return Resource::kInventory;
  if (collection == "campaigns") return Resource::kCampaign;
  if (collection == "demand") return Resource::kDemand;
  return std::nullopt;
}

// What API.md says of each resource: the methods it takes (for the 405 check and its message) and
// the name of its path id in messages (empty: it has none).
struct Rules {
  std::string_view methods;
  std::string_view id_name;
};

Rules RulesOf(Resource resource) {
  switch (resource) {
    case Resource::kMerchant:
      return {"GET, PUT", "merchant id"};
    case Resource::kProduct:
      return {"GET, PUT", "sku"};
    case Resource::kUser:
      return {"GET, PUT", "user id"};
    case Resource::kInventory:
      return {"GET, PUT", "sku"};
    case Resource::kCampaign:
      return {"GET, PUT", "campaign id"};
    case Resource::kOrders:
      return {"POST", ""};
    case Resource::kOrder:
      return {"GET", "order id"};
    case Resource::kOrderPay:
      return {"POST", "order id"};
    case Resource::kOrderCancel:
      return {"POST", "order id"};
    case Resource::kUserOrders:
      return {"GET", "user id"};
    case Resource::kHealth:
      return {"GET", ""};
    case Resource::kTopology:
      return {"GET", ""};
    case Resource::kDemand:
      return {"PUT", "sku"};
  }
  SURGE_ASSERT_MSG(false, "a resource without rules");
  return {};
}

bool MethodAllowed(Resource resource, std::string_view method) {
  const std::string_view allowed = RulesOf(resource).methods;
  if (IsRead(method)) return allowed.find("GET") != std::string_view::npos;
  if (method == "PUT") return allowed.find("PUT") != std::string_view::npos;
  if (method == "POST") return allowed.find("POST") != std::string_view::npos;
  return false;
}

}  // namespace

std::optional<Match> MatchPath(std::string_view path) {
  if (path == "/healthz") return Match{Resource::kHealth, {}, {}, {}};
  if (path == "/v1/topology") return Match{Resource::kTopology, {}, {}, {}};
  constexpr std::string_view kPrefix = "/v1/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  const bool has_id = rest.find('/') != std::string_view::npos;
  const std::string_view collection = NextSegment(&rest);
  if (!has_id) {
    if (collection == "orders") return Match{Resource::kOrders, collection, {}, {}};
    return std::nullopt;
  }
  const bool has_action = rest.find('/') != std::string_view::npos;
  const std::string_view id = NextSegment(&rest);
  if (!has_action) {
    if (collection == "orders") return Match{Resource::kOrder, collection, id, {}};
    const std::optional<Resource> resource = MasterDataResource(collection);
    if (resource) return Match{*resource, collection, id, {}};
    return std::nullopt;
  }
  const std::string_view action = rest;  // the remainder, slashes included
  if (collection == "orders" && action == "pay") {
    return Match{Resource::kOrderPay, collection, id, action};
  }
  if (collection == "orders" && action == "cancel") {
    return Match{Resource::kOrderCancel, collection, id, action};
  }
  if (collection == "users" && action == "orders") {
    return Match{Resource::kUserOrders, collection, id, action};
  }
  return std::nullopt;
}

Result<Match> MatchRequest(std::string_view method, std::string_view path) {
  const std::optional<Match> match = MatchPath(path);
  if (!match) return Status(Code::kNotFound, "no route for " + std::string(path));
  if (!MethodAllowed(match->resource, method)) {
    return Status(Code::kMethodNotAllowed, std::string(method) + " is not allowed on " +
                                               std::string(path) + "; use " +
                                               std::string(RulesOf(match->resource).methods));
  }
  return *match;
}

bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

std::optional<BrainResource> MatchBrainPath(std::string_view path) {
  if (path == "/v1/events") return BrainResource::kEvents;
  if (path == "/v1/recommendations") return BrainResource::kRecommendations;
  if (path == "/v1/forecast") return BrainResource::kForecast;
  if (path == "/v1/audience") return BrainResource::kAudience;
  return std::nullopt;
}

Result<BrainResource> MatchBrainRequest(std::string_view method, std::string_view path) {
  const std::optional<BrainResource> resource = MatchBrainPath(path);
  if (!resource) return Status(Code::kNotFound, "no route for " + std::string(path));
  const bool post = *resource == BrainResource::kEvents;
  if (post ? method != "POST" : !IsRead(method)) {
    return Status(Code::kMethodNotAllowed, std::string(method) + " is not allowed on " +
                                               std::string(path) + "; use " +
                                               (post ? "POST" : "GET"));
  }
  return *resource;
}

Status CheckPathId(const Match& match) {
  const std::string_view id_name = RulesOf(match.resource).id_name;
  if (id_name.empty() || IsValidId(match.id)) return Status::Ok();
  return Status(Code::kBadField,
                std::string(id_name) +
                    " (in the path): expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]");
}

}  // namespace surge::route
