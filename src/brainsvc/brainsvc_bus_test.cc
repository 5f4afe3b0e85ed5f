// Orders taken by a real center reach the brain over the embedded data bus: each created order is
// a purchase at that center, products give items their category, and a restart of the brain
// resumes each stream after what it applied, so nothing is applied twice or missed.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "brainsvc/brainsvc.h"
#include "brainsvc/brainsvc_testing.h"
#include "bus/bus.h"
#include "center/center.h"
#include "center/center_testing.h"
#include "common/mem_env.h"
#include "json/json.h"
#include "trade/trade.h"

namespace surge::brainsvc {
namespace {

using std::chrono::milliseconds;
using testing::Served;
using testing::Strings;

constexpr int64_t kNowMs = 1'731'283'200'000;  // 2024-11-11T00:00:00Z

// The units of the first day of a forecast body.
double FirstUnits(const std::string& body) {
  json::Document document;
  if (!document.Parse(body).ok()) return -1;
  auto days = document.root().Field("days");
  if (!days.ok() || !days->At(0).ok()) return -1;
  auto units = days->At(0)->Field("units");
  return units.ok() && units->Number().ok() ? *units->Number() : -1;
}

void MustCall(center::Center& center, trade::Body body) {
  const trade::Reply reply = center::test_util::Call(center, std::move(body));
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
}

class BrainBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    center_env_.SetWallNowMs(kNowMs);
    brain_env_.SetWallNowMs(kNowMs);
    bus_ = bus::NewEmbeddedBus([this](std::string_view) -> std::optional<std::string> {
      std::lock_guard lock(mutex_);
      return address_;
    });
    center::Options options;
    options.data_dir = "/data/m";
    options.center_id = "m";
    options.master = "m";
    options.centers = {"m"};
    options.batch_wait = std::chrono::microseconds(50);
    auto opened = center::Center::Open(center_env_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    center_ = std::move(opened).value();
    bus::PublisherOptions publisher_options;
    publisher_options.center = "m";
    publisher_options.listen = "127.0.0.1:0";
    publisher_options.history =
        center::JournalHistory(center_env_, "/data/m/journal", /*at_master=*/true);
    publisher_options.published_through = center_->stats().last_sequence;
    auto publisher = bus_->OpenPublisher(publisher_options);
    ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
    publisher_ = std::move(publisher).value();
    {
      std::lock_guard lock(mutex_);
      address_ = publisher_->address();
    }
    ASSERT_TRUE(center_->AttachPublisher(*publisher_).ok());
  }
  void TearDown() override {
    if (center_) center_->Stop();
  }

  Options BrainOptions() {
    Options options;
    options.data_dir = "/brain";
    options.train_interval = milliseconds(0);
    options.bus = bus_.get();
    options.centers = {"m"};
    options.master = "m";
    return options;
  }
  // Waits up to 10 s for the brain to hold `events` events.
  bool WaitForEvents(Service& service, uint64_t events) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (service.stats().brain_events < events) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  MemEnv center_env_;
  MemEnv brain_env_;
  std::unique_ptr<bus::Bus> bus_;
  std::mutex mutex_;
  std::string address_;
  std::unique_ptr<center::Center> center_;
  std::unique_ptr<bus::Publisher> publisher_;
};

TEST_F(BrainBusTest, OrdersOfACenterReachTheBrainOnceEachAcrossARestart) {
  MustCall(*center_, trade::PutMerchant{"acme", "Acme"});
  MustCall(*center_, trade::PutProduct{"phone", "acme", "Phone X", "phones", 99'900});
  MustCall(*center_, trade::PutProduct{"case", "acme", "Case", "phones", 1'900});
  MustCall(*center_, trade::PutInventory{"case", 100});
  MustCall(*center_,
           trade::PutCampaign{"flash1", "phone", 1'000, 49'900, 0, trade::kTimeMsMax, 5, 600'000});
  for (int u = 0; u < 6; ++u) MustCall(*center_, trade::PutUser{"u" + std::to_string(u), "n"});
  {
    Served served;
    served.Start(brain_env_, BrainOptions());
    // Orders before and after the brain subscribed; u0 buys two units of the campaign's SKU.
    MustCall(*center_, trade::PlaceOrder{"r0", "u0", {{"phone", 2}}});
    MustCall(*center_, trade::PlaceOrder{"r1", "u1", {{"phone", 1}, {"case", 1}}});
    ASSERT_TRUE(WaitForEvents(served.service(), 3));
    const auto forecast = served.Do("GET", "/v1/forecast?sku=phone&days=2&by=center");
    ASSERT_EQ(forecast.status, 200) << forecast.body;
    EXPECT_EQ(Strings(forecast.body, "centers", "center"), (std::vector<std::string>{"m"}))
        << forecast.body;
    // 3 units of the phone on the one day of history.
    EXPECT_EQ(Strings(forecast.body, "days", "date"),
              (std::vector<std::string>{"2024-11-12", "2024-11-13"}));
    EXPECT_NEAR(FirstUnits(forecast.body), 3.0, 0.5) << forecast.body;
    // u2 viewed the phone: the campaign's audience; u0 and u1 bought it already.
    ASSERT_EQ(served
                  .Do("POST", "/v1/events",
                      R"({"user":"u2","sku":"phone","type":"view","at":1731283200000})")
                  .status,
              202);
    const auto audience = served.Do("GET", "/v1/audience?sku=phone&n=5");
    ASSERT_EQ(audience.status, 200) << audience.body;
    EXPECT_EQ(Strings(audience.body, "users", "user").front(), "u2") << audience.body;
    EXPECT_EQ(audience.body.find(R"("u0")"), std::string::npos) << audience.body;
    EXPECT_GE(served.service().stats().applied_through.at({"m", 1}), 4u) << "products applied";
  }
  // Orders taken while the brain is down come after its restart, and none twice.
  MustCall(*center_, trade::PlaceOrder{"r2", "u3", {{"case", 1}}});
  Served served;
  served.Start(brain_env_, BrainOptions());
  EXPECT_GE(served.service().stats().records_replayed, 12u) << "bus records and the view";
  ASSERT_TRUE(WaitForEvents(served.service(), 5));  // 3 purchases, u2's view, the new case
  MustCall(*center_, trade::PlaceOrder{"r3", "u4", {{"phone", 1}}});
  ASSERT_TRUE(WaitForEvents(served.service(), 6));
  std::this_thread::sleep_for(milliseconds(200));  // anything applied twice would show now
  EXPECT_EQ(served.service().stats().brain_events, 6u);
  const auto forecast = served.Do("GET", "/v1/forecast?sku=phone&days=1");
  EXPECT_NEAR(FirstUnits(forecast.body), 4.0, 0.5) << forecast.body;
}

}  // namespace
}  // namespace surge::brainsvc
