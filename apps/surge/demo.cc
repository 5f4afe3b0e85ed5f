#include "demo.h"

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

namespace surge::cli {
namespace {

constexpr std::string_view kMerchantId = "demo";
constexpr int kUsers = 100;
constexpr int64_t kCampaignStock = 20;
constexpr int64_t kCampaignPriceCents = 199'900;
constexpr int64_t kCampaignPerUserLimit = 2;
constexpr int64_t kCampaignReserveTtlMs = int64_t{10} * 60 * 1000;
constexpr int64_t kCampaignLengthMs = int64_t{24} * 3600 * 1000;

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

// Submits one command and waits for its reply; retries while the center is overloaded.
trade::Reply SubmitAndWait(center::Center& center, const trade::Body& body) {
  for (int attempt = 0;; ++attempt) {
    auto promise = std::make_shared<std::promise<trade::Reply>>();
    std::future<trade::Reply> future = promise->get_future();
    center.Submit(body, [promise](trade::Reply reply) { promise->set_value(std::move(reply)); });
    trade::Reply reply = future.get();
    if (reply.status.code() != Code::kOverloaded || attempt == 50) return reply;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status Put(center::Center& center, const trade::Body& body, std::string_view what) {
  const trade::Reply reply = SubmitAndWait(center, body);
  return reply.status.Annotate("loading the demo " + std::string(what));
}

// Whether the state knows the merchant and the campaign (a read on the writer thread).
Result<std::pair<bool, std::optional<trade::CampaignView>>> Existing(center::Center& center) {
  auto promise =
      std::make_shared<std::promise<std::pair<bool, std::optional<trade::CampaignView>>>>();
  auto future = promise->get_future();
  const bool accepted = center.Read([promise](const trade::Trade& state, int64_t) {
    std::optional<trade::CampaignView> campaign;
    auto found = state.GetCampaign(kDemoCampaignId);
    if (found.ok()) campaign = std::move(found).value();
    promise->set_value({state.GetMerchant(kMerchantId).ok(), std::move(campaign)});
  });
  if (!accepted) return Status(Code::kUnavailable, "the center refused a read while starting");
  return future.get();
}

Status LoadCatalogue(center::Center& center) {
  SURGE_RETURN_IF_ERROR(Put(
      center, trade::PutMerchant{std::string(kMerchantId), "Demo Electronics & Home"}, "merchant"));
  for (const DemoProduct& product : kProducts) {
    SURGE_RETURN_IF_ERROR(Put(center,
                              trade::PutProduct{product.sku, std::string(kMerchantId), product.name,
                                                product.category, product.price_cents},
                              "products"));
    SURGE_RETURN_IF_ERROR(
        Put(center, trade::PutInventory{product.sku, product.stock}, "inventory"));
  }
  for (int i = 1; i <= kUsers; ++i) {
    SURGE_RETURN_IF_ERROR(
        Put(center, trade::PutUser{"u" + std::to_string(i), kRegions[i % 4]}, "users"));
  }
  return Status::Ok();
}

}  // namespace

Result<DemoState> LoadDemo(center::Center& center, int64_t now_ms) {
  SURGE_ASSIGN_OR_RETURN(auto existing, Existing(center));
  DemoState state;
  if (!existing.first) {
    SURGE_RETURN_IF_ERROR(LoadCatalogue(center));
    state.catalogue_loaded = true;
  }
  if (existing.second) {
    state.campaign_starts_at_ms = existing.second->starts_at_ms;
    state.campaign_ends_at_ms = existing.second->ends_at_ms;
    return state;
  }
  // Started a minute ago, so that it is live even if the clock is slightly behind.
  trade::PutCampaign campaign;
  campaign.id = std::string(kDemoCampaignId);
  campaign.sku = std::string(kDemoCampaignSku);
  campaign.stock = kCampaignStock;
  campaign.price_cents = kCampaignPriceCents;
  campaign.starts_at_ms = now_ms - 60'000;
  campaign.ends_at_ms = now_ms + kCampaignLengthMs;
  campaign.per_user_limit = kCampaignPerUserLimit;
  campaign.reserve_ttl_ms = kCampaignReserveTtlMs;
  SURGE_RETURN_IF_ERROR(Put(center, campaign, "campaign"));
  state.campaign_created = true;
  state.campaign_starts_at_ms = campaign.starts_at_ms;
  state.campaign_ends_at_ms = campaign.ends_at_ms;
  return state;
}

void PrintDemoGuide(const std::string& base_url, const DemoState& state, int64_t now_ms) {
  const std::string sku(kDemoCampaignSku);
  const std::string campaign(kDemoCampaignId);
  std::printf(
      "\n%s the demo catalogue: merchant 'demo', 10 products (phones, laptops, audio, home), "
      "users u1..u100.\n",
      state.catalogue_loaded ? "Loaded" : "Kept");
  if (now_ms >= state.campaign_ends_at_ms) {
    std::printf("Flash sale '%s' on %s has ended (remove the data directory for a new one).\n",
                campaign.c_str(), sku.c_str());
  } else {
    const int64_t minutes_left = (state.campaign_ends_at_ms - now_ms) / 60'000;
    std::printf(
        "Flash sale '%s' on %s is live for %lld h %lld min more: %lld units at $%lld.%02lld, "
        "at most %lld per user.\n",
        campaign.c_str(), sku.c_str(), static_cast<long long>(minutes_left / 60),
        static_cast<long long>(minutes_left % 60), static_cast<long long>(kCampaignStock),
        static_cast<long long>(kCampaignPriceCents / 100),
        static_cast<long long>(kCampaignPriceCents % 100),
        static_cast<long long>(kCampaignPerUserLimit));
  }
  // A request id of its own per start, so the first paste creates an order.
  const std::string request_id = "demo-" + std::to_string(now_ms);
  const std::string order_body = "{\"request_id\":\"" + request_id +
                                 "\",\"user\":\"u1\",\"items\":[{\"sku\":\"" + sku +
                                 "\",\"quantity\":1}]}";
  std::printf("\nTry it:\n");
  std::printf("  # place an order in the flash sale (201, status reserved)\n");
  std::printf("  curl -s -X POST %s/v1/orders -d '%s'; echo\n", base_url.c_str(),
              order_body.c_str());
  std::printf(
      "  # retry the very same request: the same order comes back, nothing is sold twice\n");
  std::printf("  curl -s -X POST %s/v1/orders -d '%s'; echo\n", base_url.c_str(),
              order_body.c_str());
  std::printf("  # pay it (takes the order id from the answer)\n");
  std::printf(
      "  ORDER=$(curl -s -X POST %s/v1/orders -d '%s' | sed -E "
      "'s/.*\"order_id\":\"([^\"]+)\".*/\\1/')\n",
      base_url.c_str(), order_body.c_str());
  std::printf("  curl -s -X POST -d '' %s/v1/orders/$ORDER/pay; echo\n", base_url.c_str());
  std::printf("  # the campaign's stock: available, reserved, sold\n");
  std::printf("  curl -s %s/v1/campaigns/%s; echo\n", base_url.c_str(), campaign.c_str());
  std::printf("  # u1's orders, and the center's health\n");
  std::printf("  curl -s %s/v1/users/u1/orders; echo\n", base_url.c_str());
  std::printf("  curl -s %s/healthz; echo\n", base_url.c_str());
  std::printf("\nCtrl-C to stop.\n");
  std::fflush(stdout);
}

}  // namespace surge::cli
