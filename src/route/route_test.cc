// Every path of API.md, the edge cases a center and the gateway both rely on (an empty id segment
// matches and is refused as an invalid id; unknown paths and trailing parts do not match), the
// method table and the messages of the three refusals.
#include "route/route.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace surge::route {
namespace {

struct Case {
  std::string path;
  Resource resource;
  std::string collection;
  std::string id;
  std::string action;
};

// Matches each case's path and compares every part; `path_id` is what CheckPathId must answer.
void ExpectMatches(const std::vector<Case>& cases, Code path_id) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    const std::optional<Match> match = MatchPath(c.path);
    ASSERT_TRUE(match.has_value());
    EXPECT_EQ(match->resource, c.resource);
    EXPECT_EQ(match->collection, c.collection);
    EXPECT_EQ(match->id, c.id);
    EXPECT_EQ(match->action, c.action);
    EXPECT_EQ(CheckPathId(*match).code(), path_id) << CheckPathId(*match).ToString();
  }
}

const std::vector<Case>& ApiMdCases() {
  static const std::vector<Case> cases = {
      {"/v1/merchants/m1", Resource::kMerchant, "merchants", "m1", ""},
      {"/v1/products/sku-1", Resource::kProduct, "products", "sku-1", ""},
      {"/v1/users/u.1", Resource::kUser, "users", "u.1", ""},
      {"/v1/inventory/sku:2", Resource::kInventory, "inventory", "sku:2", ""},
      {"/v1/campaigns/c_1", Resource::kCampaign, "campaigns", "c_1", ""},
      {"/v1/orders", Resource::kOrders, "orders", "", ""},
      {"/v1/orders/o.east.7", Resource::kOrder, "orders", "o.east.7", ""},
      {"/v1/orders/o.east.7/pay", Resource::kOrderPay, "orders", "o.east.7", "pay"},
      {"/v1/orders/o.east.7/cancel", Resource::kOrderCancel, "orders", "o.east.7", "cancel"},
      {"/v1/users/u1/orders", Resource::kUserOrders, "users", "u1", "orders"},
      {"/healthz", Resource::kHealth, "", "", ""},
      {"/v1/topology", Resource::kTopology, "", "", ""},
  };
  return cases;
}

TEST(MatchPath, EveryPathOfApiMd) { ExpectMatches(ApiMdCases(), Code::kOk); }

// The views point into the path they were matched from (no copies).
TEST(MatchPath, ViewsPointIntoThePath) {
  const std::string path = "/v1/users/u1/orders";
  const std::optional<Match> match = MatchPath(path);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->collection.data(), path.data() + 4);
  EXPECT_EQ(match->id.data(), path.data() + 10);
  EXPECT_EQ(match->action.data(), path.data() + 13);
}

// API.md names these, but no center serves them: the brain's (MatchBrainPath) and the
// dashboard's.
TEST(MatchPath, PathsNotServedYet) {
  for (const char* path :
       {"/", "/v1/stream", "/v1/events", "/v1/recommendations", "/v1/forecast", "/v1/audience"}) {
    EXPECT_FALSE(MatchPath(path).has_value()) << path;
  }
}

TEST(MatchBrainPath, TheFourBrainPathsExactly) {
  EXPECT_EQ(MatchBrainPath("/v1/events"), BrainResource::kEvents);
  EXPECT_EQ(MatchBrainPath("/v1/recommendations"), BrainResource::kRecommendations);
  EXPECT_EQ(MatchBrainPath("/v1/forecast"), BrainResource::kForecast);
  EXPECT_EQ(MatchBrainPath("/v1/audience"), BrainResource::kAudience);
  for (const char* path : {"/v1/events/", "/v1/events/x", "/v1/Events", "/v1/forecasts",
                           "/v1/audience/u1", "/v1/orders", "/healthz", "", "/v1/"}) {
    EXPECT_FALSE(MatchBrainPath(path).has_value()) << path;
  }
}

TEST(MatchBrainRequest, MethodsAndErrors) {
  EXPECT_TRUE(MatchBrainRequest("POST", "/v1/events").ok());
  EXPECT_TRUE(MatchBrainRequest("GET", "/v1/recommendations").ok());
  EXPECT_TRUE(MatchBrainRequest("HEAD", "/v1/forecast").ok());
  Result<BrainResource> match = MatchBrainRequest("GET", "/v1/events");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().code(), Code::kMethodNotAllowed);
  EXPECT_EQ(match.status().message(), "GET is not allowed on /v1/events; use POST");
  match = MatchBrainRequest("POST", "/v1/audience");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().message(), "POST is not allowed on /v1/audience; use GET");
  match = MatchBrainRequest("GET", "/v1/brain");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().code(), Code::kNotFound);
}

TEST(MatchPath, UnknownPaths) {
  for (const char* path :
       {"", "/v1", "/v1/", "//", "v1/orders", "/v2/orders", "/V1/orders", "/v1/Orders",
        "/v1/merchants", "/v1/users", "/v1/stock/s1", "/v1//x", "/healthz/", "/healthz/x",
        "/v1/topology/", "/v1/topology/x", "/v1/orders?x=1", "/v1/topologyx", "/v1/orders-"}) {
    EXPECT_FALSE(MatchPath(path).has_value()) << path;
  }
}

TEST(MatchPath, TrailingPartsDoNotMatch) {
  for (const char* path :
       {"/v1/merchants/m1/", "/v1/merchants/m1/x", "/v1/orders/o1/", "/v1/orders/o1/pay/",
        "/v1/orders/o1/pay/x", "/v1/orders/o1/cancel/", "/v1/orders/o1/orders", "/v1/users/u1/pay",
        "/v1/users/u1/orders/", "/v1/users/u1/orders/o1", "/v1/products/s1/orders",
        "/v1/orders/o1//pay"}) {
    EXPECT_FALSE(MatchPath(path).has_value()) << path;
  }
}

// An empty id segment matches, so the caller answers "invalid id" (bad_field), not 404: every
// path of API.md with an id, with that id left out ("/v1/users/", "/v1/orders//pay").
TEST(MatchPath, EmptyIdSegmentMatchesAndIsRefusedAsInvalid) {
  std::vector<Case> cases;
  for (Case c : ApiMdCases()) {
    if (c.id.empty()) continue;
    c.path.erase(c.path.find(c.id), c.id.size());
    c.id.clear();
    cases.push_back(c);
  }
  ASSERT_EQ(cases.size(), 9u);
  ExpectMatches(cases, Code::kBadField);
}

TEST(CheckPathId, NamesTheIdAsApiMdDoes) {
  const std::string kRule =
      " (in the path): expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/merchants/a b", "merchant id"}, {"/v1/products/a!", "sku"},
      {"/v1/users/%41", "user id"},         {"/v1/inventory/a*", "sku"},
      {"/v1/campaigns/a,b", "campaign id"}, {"/v1/orders/a b", "order id"},
      {"/v1/orders/a b/pay", "order id"},   {"/v1/orders/a b/cancel", "order id"},
      {"/v1/users/a b/orders", "user id"},
  };
  for (const auto& [path, name] : cases) {
    SCOPED_TRACE(path);
    const std::optional<Match> match = MatchPath(path);
    ASSERT_TRUE(match.has_value());
    const Status status = CheckPathId(*match);
    EXPECT_EQ(status.code(), Code::kBadField);
    EXPECT_EQ(status.message(), name + kRule);
  }
}

TEST(CheckPathId, LengthLimit) {
  const std::string longest(64, 'a');
  EXPECT_TRUE(CheckPathId(*MatchPath("/v1/users/" + longest)).ok());
  EXPECT_EQ(CheckPathId(*MatchPath("/v1/users/" + longest + "a")).code(), Code::kBadField);
}

TEST(CheckPathId, ResourcesWithoutAnIdPass) {
  for (const char* path : {"/v1/orders", "/healthz", "/v1/topology"}) {
    EXPECT_TRUE(CheckPathId(*MatchPath(path)).ok()) << path;
  }
}

TEST(MatchRequest, MethodTable) {
  struct Row {
    const char* path;
    std::string allowed;  // the methods that pass, besides HEAD wherever GET does
  };
  const std::vector<Row> rows = {
      {"/v1/merchants/m", "GET PUT"},
      {"/v1/products/s", "GET PUT"},
      {"/v1/users/u", "GET PUT"},
      {"/v1/inventory/s", "GET PUT"},
      {"/v1/campaigns/c", "GET PUT"},
      {"/v1/orders", "POST"},
      {"/v1/orders/o", "GET"},
      {"/v1/orders/o/pay", "POST"},
      {"/v1/orders/o/cancel", "POST"},
      {"/v1/users/u/orders", "GET"},
      {"/healthz", "GET"},
      {"/v1/topology", "GET"},
  };
  for (const Row& row : rows) {
    for (const std::string method : {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "get", ""}) {
      SCOPED_TRACE(std::string(row.path) + " " + method);
      const std::string as = method == "HEAD" ? "GET" : method;
      const bool allowed =
          !as.empty() && (" " + row.allowed + " ").find(" " + as + " ") != std::string::npos;
      const Result<Match> match = MatchRequest(method, row.path);
      EXPECT_EQ(match.ok(), allowed);
      if (match.ok()) {
        EXPECT_EQ(match->resource, MatchPath(row.path)->resource);
      } else {
        EXPECT_EQ(match.status().code(), Code::kMethodNotAllowed);
      }
    }
  }
}

TEST(MatchRequest, Messages) {
  Result<Match> match = MatchRequest("GET", "/v1/nope");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().code(), Code::kNotFound);
  EXPECT_EQ(match.status().message(), "no route for /v1/nope");

  match = MatchRequest("DELETE", "/v1/products/s1");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().message(), "DELETE is not allowed on /v1/products/s1; use GET, PUT");
  match = MatchRequest("GET", "/v1/orders");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().message(), "GET is not allowed on /v1/orders; use POST");
  match = MatchRequest("POST", "/healthz");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.status().message(), "POST is not allowed on /healthz; use GET");

  // The method is checked before the id: a bad id on a wrong method is a 405.
  match = MatchRequest("DELETE", "/v1/users/");
  EXPECT_EQ(match.status().code(), Code::kMethodNotAllowed);
}

TEST(IsRead, GetAndHeadOnly) {
  EXPECT_TRUE(IsRead("GET"));
  EXPECT_TRUE(IsRead("HEAD"));
  EXPECT_FALSE(IsRead("PUT"));
  EXPECT_FALSE(IsRead("POST"));
  EXPECT_FALSE(IsRead("get"));
  EXPECT_FALSE(IsRead(""));
}

}  // namespace
}  // namespace surge::route
