#include "demo.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "json/json.h"

namespace surge::cli {
namespace {

constexpr int64_t kCampaignStock = 20;
constexpr int64_t kCampaignPriceCents = 199'900;
constexpr int64_t kCampaignPerUserLimit = 2;
constexpr int64_t kCampaignReserveTtlMs = int64_t{10} * 60 * 1000;
constexpr int64_t kCampaignLengthMs = int64_t{24} * 3600 * 1000;
// A center that has just printed its listening line may still refuse a first connection through
// the gateway (which backs off briefly after a refused connect): retry that long.
constexpr std::chrono::seconds kRetryFor{10};
constexpr std::chrono::milliseconds kRetryPause{100};

struct DemoProduct {
  const char* sku;
  const char* name;
  const char* category;
  int64_t price_cents;
  int64_t stock;
};

constexpr DemoProduct kProducts[] = {
    {"phone-x1", "X1 Smartphone 256 GB", "phones", 399'900, 500},
    {"phone-lite", "Lite Phone 128 GB", "phones", 129'900, 800},
    {"laptop-pro", "Pro Laptop 14\"", "laptops", 1'299'900, 200},
    {"laptop-air", "Air Laptop 13\"", "laptops", 899'900, 300},
    {"earbuds", "Wireless Earbuds", "audio", 14'900, 2'000},
    {"headphones", "Noise-Cancelling Headphones", "audio", 29'900, 1'000},
    {"speaker", "Smart Speaker", "audio", 9'900, 1'500},
    {"kettle", "Electric Kettle 1.7 L", "home", 3'900, 3'000},
    {"vacuum", "Robot Vacuum", "home", 49'900, 400},
    {"lamp", "LED Desk Lamp", "home", 2'900, 2'500},
};

constexpr const char* kRegions[] = {"north", "south", "east", "west"};

std::string UserId(int index) { return "u" + std::to_string(index); }

// One request, retried while the answer means "not yet": no connection, or 503 (overloaded, or
// unavailable while a center starts). Any other answer is returned as it is.
Result<http::ClientResponse> Send(http::Client& client, std::string_view method,
                                  const std::string& target, std::string_view body) {
  const auto deadline = std::chrono::steady_clock::now() + kRetryFor;
  for (;;) {
    Result<http::ClientResponse> response = client.Do(method, target, body);
    const bool again = !response.ok() || response->status == 503;
    if (!again || std::chrono::steady_clock::now() >= deadline) {
      if (!response.ok()) {
        return response.status().Annotate(std::string(method) + " " + target);
      }
      return response;
    }
    std::this_thread::sleep_for(kRetryPause);
  }
}

Status Put(http::Client& client, const std::string& target, const std::string& body) {
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, Send(client, "PUT", target, body));
  if (response.status == 200) return Status::Ok();
  return Status(Code::kUnavailable, "loading the demo: PUT " + target + " answered " +
                                        std::to_string(response.status) + " " + response.body);
}

// The body of a GET that answered 200, or nullopt for 404.
Result<std::optional<std::string>> Get(http::Client& client, const std::string& target) {
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, Send(client, "GET", target, {}));
  if (response.status == 200) return std::optional<std::string>(std::move(response.body));
  if (response.status == 404) return std::optional<std::string>();
  return Status(Code::kUnavailable, "loading the demo: GET " + target + " answered " +
                                        std::to_string(response.status) + " " + response.body);
}

// Builds one JSON object from `fill`, which writes its fields.
template <typename Fill>
std::string Object(Fill fill) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  fill(writer);
  writer.EndObject();
  return out;
}

// The merchant first and the users last: products name their merchant, and the last user marks
// a catalogue that was loaded completely.
Status LoadCatalogue(http::Client& client) {
  const std::string merchant(kDemoMerchantId);
  SURGE_RETURN_IF_ERROR(Put(client, "/v1/merchants/" + merchant, Object([](json::Writer& w) {
                              w.Field("name", "Demo Electronics & Home");
                            })));
  for (const DemoProduct& product : kProducts) {
    const std::string sku = product.sku;
    SURGE_RETURN_IF_ERROR(Put(client, "/v1/products/" + sku, Object([&](json::Writer& w) {
                                w.Field("merchant", merchant);
                                w.Field("name", product.name);
                                w.Field("category", product.category);
                                w.Field("price_cents", product.price_cents);
                              })));
    SURGE_RETURN_IF_ERROR(Put(client, "/v1/inventory/" + sku,
                              Object([&](json::Writer& w) { w.Field("stock", product.stock); })));
  }
  for (int i = 1; i <= kDemoUsers; ++i) {
    SURGE_RETURN_IF_ERROR(Put(client, "/v1/users/" + UserId(i), Object([&](json::Writer& w) {
                                w.Field("region", kRegions[i % 4]);
                              })));
  }
  return Status::Ok();
}

// Reads the window of the campaign as GET /v1/campaigns/{id} answered it.
Status ReadWindow(const std::string& body, DemoState* state) {
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  SURGE_ASSIGN_OR_RETURN(json::Value starts_at, document.root().Field("starts_at"));
  SURGE_ASSIGN_OR_RETURN(json::Value ends_at, document.root().Field("ends_at"));
  SURGE_ASSIGN_OR_RETURN(state->campaign_starts_at_ms, starts_at.Int(0, INT64_MAX));
  SURGE_ASSIGN_OR_RETURN(state->campaign_ends_at_ms, ends_at.Int(0, INT64_MAX));
  return Status::Ok();
}

Status CreateCampaign(http::Client& client, int64_t now_ms, DemoState* state) {
  // Started a minute ago, so that it is live even if a center's clock is slightly behind.
  state->campaign_starts_at_ms = now_ms - 60'000;
  state->campaign_ends_at_ms = now_ms + kCampaignLengthMs;
  SURGE_RETURN_IF_ERROR(
      Put(client, "/v1/campaigns/" + std::string(kDemoCampaignId), Object([&](json::Writer& w) {
            w.Field("sku", kDemoCampaignSku);
            w.Field("stock", kCampaignStock);
            w.Field("price_cents", kCampaignPriceCents);
            w.Field("starts_at", state->campaign_starts_at_ms);
            w.Field("ends_at", state->campaign_ends_at_ms);
            w.Field("per_user_limit", kCampaignPerUserLimit);
            w.Field("reserve_ttl_ms", kCampaignReserveTtlMs);
          })));
  state->campaign_created = true;
  return Status::Ok();
}

// The first demo user whose home center is (or, with `master` false, is not) the master; empty
// if there is none.
std::string GuideUser(const topology::Topology& topology, bool master) {
  for (int i = 1; i <= kDemoUsers; ++i) {
    if (topology.HomeOf(UserId(i)).is_master == master) return UserId(i);
  }
  return "";
}

std::string OrderBody(const std::string& request_id, const std::string& user) {
  return "{\"request_id\":\"" + request_id + "\",\"user\":\"" + user + "\",\"items\":[{\"sku\":\"" +
         std::string(kDemoCampaignSku) + "\",\"quantity\":1}]}";
}

// An order of a user homed at a sub-center, if there is one: it lands there, and its id says so.
void PrintSubCenterOrder(const std::string& url, const topology::Topology& topology,
                         const std::string& request_id) {
  const std::string user = GuideUser(topology, /*master=*/false);
  if (user.empty()) return;
  std::printf("  # %s's home center is %s: its orders go there (an order id names its center)\n",
              user.c_str(), topology.HomeOf(user).id.c_str());
  std::printf("  curl -s -X POST %s/v1/orders -d '%s'; echo\n", url.c_str(),
              OrderBody(request_id, user).c_str());
}

void PrintCampaign(const DemoState& state, int64_t now_ms) {
  if (now_ms >= state.campaign_ends_at_ms) {
    std::printf("Flash sale '%s' on %s has ended (remove the data directory for a new one).\n",
                std::string(kDemoCampaignId).c_str(), std::string(kDemoCampaignSku).c_str());
    return;
  }
  const int64_t minutes_left = (state.campaign_ends_at_ms - now_ms) / 60'000;
  std::printf(
      "Flash sale '%s' on %s is live for %lld h %lld min more: %lld units at $%lld.%02lld, "
      "at most %lld per user.\n",
      std::string(kDemoCampaignId).c_str(), std::string(kDemoCampaignSku).c_str(),
      static_cast<long long>(minutes_left / 60), static_cast<long long>(minutes_left % 60),
      static_cast<long long>(kCampaignStock), static_cast<long long>(kCampaignPriceCents / 100),
      static_cast<long long>(kCampaignPriceCents % 100),
      static_cast<long long>(kCampaignPerUserLimit));
}

}  // namespace

Result<DemoState> LoadDemo(http::Client& client, int64_t now_ms) {
  DemoState state;
  SURGE_ASSIGN_OR_RETURN(auto last_user, Get(client, "/v1/users/" + UserId(kDemoUsers)));
  if (!last_user.has_value()) {
    SURGE_RETURN_IF_ERROR(LoadCatalogue(client));
    state.catalogue_loaded = true;
  }
  SURGE_ASSIGN_OR_RETURN(auto campaign,
                         Get(client, "/v1/campaigns/" + std::string(kDemoCampaignId)));
  if (!campaign.has_value()) {
    SURGE_RETURN_IF_ERROR(CreateCampaign(client, now_ms, &state));
    return state;
  }
  SURGE_RETURN_IF_ERROR(ReadWindow(*campaign, &state).Annotate("reading the demo campaign"));
  return state;
}

void PrintDemoGuide(const std::string& base_url, const topology::Topology& topology,
                    const DemoState& state, int64_t now_ms) {
  const char* url = base_url.c_str();
  // A user of the master: its orders work as soon as the master has the catalogue.
  std::string user = GuideUser(topology, /*master=*/true);
  if (user.empty()) user = UserId(1);
  const std::string campaign(kDemoCampaignId);
  std::printf(
      "\n%s the demo catalogue: merchant 'demo', 10 products (phones, laptops, audio, home), "
      "users u1..u%d.\n",
      state.catalogue_loaded ? "Loaded" : "Kept", kDemoUsers);
  PrintCampaign(state, now_ms);
  // A request id of its own per start, so that the first paste creates an order.
  const std::string request_id = "demo-" + std::to_string(now_ms);
  const std::string order_body = OrderBody(request_id, user);
  std::printf(
      "\nTry it (through the gateway, which sends each user's orders to the user's home "
      "center; %s's is %s):\n",
      user.c_str(), topology.HomeOf(user).id.c_str());
  std::printf("  # the centers, their roles and the user slices each is home to\n");
  std::printf("  curl -s %s/v1/topology; echo\n", url);
  std::printf("  # place an order in the flash sale (201, status reserved)\n");
  std::printf("  curl -s -X POST %s/v1/orders -d '%s'; echo\n", url, order_body.c_str());
  std::printf(
      "  # retry the very same request: the same order comes back, nothing is sold twice\n");
  std::printf("  curl -s -X POST %s/v1/orders -d '%s'; echo\n", url, order_body.c_str());
  std::printf("  # pay it (takes the order id from the answer)\n");
  std::printf(
      "  ORDER=$(curl -s -X POST %s/v1/orders -d '%s' | sed -E "
      "'s/.*\"order_id\":\"([^\"]+)\".*/\\1/')\n",
      url, order_body.c_str());
  std::printf("  curl -s -X POST -d '' %s/v1/orders/$ORDER/pay; echo\n", url);
  PrintSubCenterOrder(base_url, topology, request_id + "-2");
  std::printf(
      "  # the campaign's stock: available, reserved, sold (with a per-center breakdown)\n");
  std::printf("  curl -s %s/v1/campaigns/%s; echo\n", url, campaign.c_str());
  std::printf("  # %s's orders, and the gateway's health\n", user.c_str());
  std::printf("  curl -s %s/v1/users/%s/orders; echo\n", url, user.c_str());
  std::printf("  curl -s %s/healthz; echo\n\n", url);
  std::fflush(stdout);
}

}  // namespace surge::cli
