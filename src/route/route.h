// API.md's request paths, matched to the resources they name: the one path parser that a center's
// handler (src/api) and the gateway's router (src/gateway) share, so the two cannot disagree on
// what a path means, which methods it takes or how a bad path id is refused. What to do with a
// match (serve it, forward it, refuse it for this center) stays with each of them.
//
// Pure functions, thread-safe, no state. The views in a Match point into the `path` they were
// matched from and are valid as long as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace surge::route {

enum class Resource : uint8_t {
  kMerchant,     // /v1/merchants/{id}
  kProduct,      // /v1/products/{sku}
  kUser,         // /v1/users/{id}
  kInventory,    // /v1/inventory/{sku}
  kCampaign,     // /v1/campaigns/{id}
  kOrders,       // /v1/orders: the collection; POST places an order
  kOrder,        // /v1/orders/{id}
  kOrderPay,     // /v1/orders/{id}/pay
  kOrderCancel,  // /v1/orders/{id}/cancel
  kUserOrders,   // /v1/users/{id}/orders
  kHealth,       // /healthz
  kTopology,     // /v1/topology
  kDemand,       // /v1/demand/{sku}: PUT the expected demand per center (master data)
};

struct Match {
  Resource resource = Resource::kHealth;
  std::string_view collection;  // the segment after /v1/ ("orders", "users", ...); empty for
                                // /healthz and /v1/topology
  std::string_view id;          // the path id; empty when the resource has none, and also for an
                                // empty id segment ("/v1/users/"), which CheckPathId refuses
  std::string_view action;      // what follows the id ("pay", "cancel", "orders"), or empty
};

// Matches `path` (without the query) against API.md's paths, exactly: no trailing slash, no extra
// segment, no percent-decoding. An empty id segment ("/v1/users/", "/v1/orders//pay") matches, so
// that the caller refuses it as an invalid id (CheckPathId), which tells a client more than a 404.
// The id itself is not checked here. nullopt: no such path.
std::optional<Match> MatchPath(std::string_view path);

// MatchPath, then the method check: not_found "no route for PATH"; method_not_allowed
// "METHOD is not allowed on PATH; use GET, PUT" when the resource does not take `method`. HEAD is
// allowed wherever GET is.
Result<Match> MatchRequest(std::string_view method, std::string_view path);

// GET and HEAD (HEAD is answered as GET, without the body).
bool IsRead(std::string_view method);

// The brain's paths (API.md "Brain"), served by the brain process (src/brainsvc), which the
// gateway forwards them to. Kept apart from Resource so that a center's handler, which serves
// none of them, answers them 404 like any path it does not know.
enum class BrainResource : uint8_t {
  kEvents,           // /v1/events: POST records behaviour events
  kRecommendations,  // /v1/recommendations?user=&k=
  kForecast,         // /v1/forecast?sku=&days=
  kAudience,         // /v1/audience?sku=&n=
};

// The brain resource `path` (without the query) names, exactly; nullopt for any other path.
std::optional<BrainResource> MatchBrainPath(std::string_view path);

// MatchBrainPath, then the method check, with MatchRequest's errors: not_found "no route for
// PATH", method_not_allowed "METHOD is not allowed on PATH; use POST" (or GET; HEAD is allowed
// wherever GET is).
Result<BrainResource> MatchBrainRequest(std::string_view method, std::string_view path);

// Ok when the match's resource has no path id or its id is valid (common/ids.h); otherwise
// bad_field naming the id as API.md does ("sku (in the path): expected an id of ...").
Status CheckPathId(const Match& match);

}  // namespace surge::route
