// The demand planner (brainsvc.h, "Quotas from forecasts"): forecasts per center, put to the
// master as master data so that it sizes each center's quota of the next campaigns.
#include <algorithm>
#include <cmath>
#include <utility>

#include "brainsvc/service_internal.h"
#include "common/assert.h"
#include "common/log.h"
#include "json/json.h"
#include "topology/topology.h"

namespace surge::brainsvc {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr std::chrono::milliseconds kPutTimeout{2000};

}  // namespace

// Under mutex_, from Apply: a bus record's orders count for their SKUs; its products (master
// data) are candidates too, the newest first, since a product nobody bought yet still gets its
// category's demand per center.
void ServiceImpl::NoteDemandSources(const LogRecord& record) {
  if (!record.from_bus) return;
  for (const brain::Event& event : record.events) {
    if (!event.center.empty()) ++ordered_skus_[event.item];
  }
  for (const auto& [sku, info] : record.items) {
    const auto known = std::find(recent_products_.begin(), recent_products_.end(), sku);
    if (known != recent_products_.end()) recent_products_.erase(known);
    recent_products_.push_back(sku);
    if (recent_products_.size() > options_.demand_skus) recent_products_.pop_front();
  }
}

void ServiceImpl::PlannerLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    planner_wake_.wait_for(lock, options_.demand_interval);
    if (stopping_) break;
    lock.unlock();
    PlanDemand();
    lock.lock();
  }
}

// One round: the candidates, their forecasts per center, and a PUT for each that changed.
void ServiceImpl::PlanDemand() {
  std::vector<std::string> skus;
  {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<uint64_t, std::string>> ordered;
    ordered.reserve(ordered_skus_.size());
    for (const auto& [sku, orders] : ordered_skus_) ordered.emplace_back(orders, sku);
    const size_t top = std::min(ordered.size(), options_.demand_skus);
    std::partial_sort(ordered.begin(), ordered.begin() + static_cast<std::ptrdiff_t>(top),
                      ordered.end(), [](const auto& a, const auto& b) { return a > b; });
    for (size_t i = 0; i < top; ++i) skus.push_back(ordered[i].second);
    skus.insert(skus.end(), recent_products_.rbegin(), recent_products_.rend());
  }
  std::sort(skus.begin(), skus.end());
  skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
  if (skus.empty()) return;
  auto target = topology::ParseAddress(options_.demand_target);
  SURGE_ASSERT_MSG(target.ok(), "Open checks the demand target");
  const auto tomorrow = static_cast<int32_t>(env_.WallNowMs() / kDayMs + 1);
  http::Client client(target->host, target->port, kPutTimeout);
  size_t failed = 0;
  std::string first_failure;
  for (const std::string& sku : skus) {
    Result<std::vector<brain::CenterForecast>> forecast =
        brain_.ForecastByCenter(sku, tomorrow, options_.demand_days);
    if (!forecast.ok() || forecast->empty()) continue;
    // Every center of the deployment, in order; whole units (a center forecast to sell
    // something gets at least one, so that a small demand still weighs).
    std::string body;
    json::Writer writer(&body);
    writer.BeginObject();
    writer.Key("centers");
    writer.BeginArray();
    int64_t total = 0;
    for (const std::string& center : options_.centers) {
      double units = 0;
      for (const brain::CenterForecast& each : *forecast) {
        if (each.center == center) units = each.total_units;
      }
      const int64_t whole =
          units > 0 ? std::max<int64_t>(1, std::llround(std::min(units, 1e12))) : 0;
      total += whole;
      writer.BeginObject();
      writer.Field("center", center);
      writer.Field("units", whole);
      writer.EndObject();
    }
    writer.EndArray();
    writer.EndObject();
    if (total == 0 || demand_put_[sku] == body) continue;
    Result<http::ClientResponse> response = client.Do("PUT", "/v1/demand/" + sku, body);
    if (response.ok() && response->status == 200) {
      demand_put_[sku] = body;
      demand_puts_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (failed++ == 0) {
      first_failure = sku + ": " +
                      (response.ok() ? std::to_string(response->status) + " " + response->body
                                     : response.status().ToString());
    }
  }
  if (failed > 0) {
    SURGE_LOG_WARNING("brain: %zu demand puts to %s failed (first: %s); trying again next round",
                      failed, options_.demand_target.c_str(), first_failure.c_str());
  }
}

}  // namespace surge::brainsvc
