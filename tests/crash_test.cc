// The kill -9 crash test: a real `surge center` process takes concurrent orders from many users
// for a campaign with less stock than demand (with retries of the same request ids, payments and
// cancellations), and is killed with SIGKILL at random moments, at least 20 times, restarted each
// time from its data directory. Afterwards the checker proves that every acknowledged order exists
// with its status, nothing was oversold, no user is over the limit, and every acknowledged request
// id still returns its order id.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "drill/drill.h"
#include "http/http.h"
#include "json/json.h"
#include "process_testing.h"

namespace surge {
namespace {

using process_testing::MustPut;
using process_testing::User;

using std::chrono::milliseconds;

constexpr int kKills = 24;
constexpr int kUsers = 2000;
constexpr int kWorkers = 6;
// Demand (2000 users x 2 units) is well above the stock, and the workers are paced so that the
// stock lasts about as long as the kills go on: the kills land in the middle of the sale.
constexpr int64_t kCampaignStock = 1500;
constexpr int64_t kPerUserLimit = 2;
constexpr int64_t kRegularStock = 300;
constexpr std::chrono::milliseconds kWorkerPause{12};

class CenterProcess {
 public:
  explicit CenterProcess(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  // Starts the center and waits until it listens; returns its port.
  uint16_t Start() {
    auto process = drill::Process::Start(
        {SURGE_BINARY, "center", "--data", data_dir_, "--listen", "127.0.0.1:0"},
        data_dir_ + ".stderr");
    EXPECT_TRUE(process.ok()) << process.status().ToString();
    process_ = std::move(process).value();
    auto line = process_->WaitForLine("listening on", milliseconds(20'000));
    EXPECT_TRUE(line.ok()) << line.status().ToString() << "; see " << data_dir_ << ".stderr";
    if (!line.ok()) return 0;
    const size_t colon = line->rfind(':');
    return static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
  }

  void Kill() {
    ASSERT_TRUE(process_->Signal(SIGKILL).ok());
    auto status = process_->Wait(milliseconds(10'000));
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(*status, -SIGKILL);
  }

  int Terminate() {
    EXPECT_TRUE(process_->Signal(SIGTERM).ok());
    auto status = process_->Wait(milliseconds(20'000));
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return status.ok() ? *status : -1;
  }

 private:
  std::string data_dir_;
  std::unique_ptr<drill::Process> process_;
};

void LoadCatalogue(http::Client& client, int64_t now_ms) {
  MustPut(client, "/v1/merchants/m1", R"({"name":"Crash Test Goods"})");
  MustPut(client, "/v1/products/flash",
          R"({"merchant":"m1","name":"Flash phone","category":"phones","price_cents":99900})");
  MustPut(client, "/v1/products/reg",
          R"({"merchant":"m1","name":"Cable","category":"cables","price_cents":1500})");
  MustPut(client, "/v1/inventory/reg", "{\"stock\":" + std::to_string(kRegularStock) + "}");
  MustPut(client, "/v1/campaigns/c1",
          "{\"sku\":\"flash\",\"stock\":" + std::to_string(kCampaignStock) +
              ",\"price_cents\":49900,\"starts_at\":" + std::to_string(now_ms - 1000) +
              ",\"ends_at\":" + std::to_string(now_ms + 3'600'000) + ",\"per_user_limit\":" +
              std::to_string(kPerUserLimit) + ",\"reserve_ttl_ms\":600000}");
  for (int i = 0; i < kUsers; ++i) MustPut(client, "/v1/users/" + User(i), R"({"region":"north"})");
}

// Sends orders, retries, payments and cancellations until told to stop, recording what it saw.
class Worker {
 public:
  Worker(int index, std::atomic<uint16_t>& port, std::atomic<bool>& stop)
      : index_(index), port_(port), stop_(stop), random_(1000 + index) {}

  void Run() {
    while (!stop_.load()) {
      std::this_thread::sleep_for(kWorkerPause);
      const int dice = static_cast<int>(random_() % 100);
      if (dice < 70 || history_.empty()) {
        NewOrder();
      } else if (dice < 85) {
        Retry(history_[random_() % history_.size()]);
      } else {
        PayOrCancel(dice < 95 ? "pay" : "cancel");
      }
    }
  }

  std::vector<drill::OrderAttempt>& history() { return history_; }
  std::vector<std::string>& errors() { return errors_; }

 private:
  http::Client& Connection() {
    const uint16_t port = port_.load();
    if (client_ == nullptr || port != client_port_) {
      client_ = std::make_unique<http::Client>("127.0.0.1", port, milliseconds(3000));
      client_port_ = port;
    }
    return *client_;
  }

  // Sends an order; fills status/code/order id, or leaves status 0 if no answer came.
  void Send(drill::OrderAttempt& attempt) {
    auto response = Connection().Do("POST", "/v1/orders", drill::OrderBody(attempt));
    if (!response.ok()) {
      std::this_thread::sleep_for(milliseconds(20));  // the center is down; try again soon
      return;
    }
    process_testing::RecordOrderAnswer(*response, attempt, errors_,
                                       /*unavailable_expected=*/false);
  }

  void NewOrder() {
    drill::OrderAttempt attempt;
    attempt.request_id = "w" + std::to_string(index_) + "-" + std::to_string(sequence_++);
    attempt.user = User(static_cast<int>(random_() % kUsers));
    attempt.items.push_back({"flash", 1 + static_cast<int64_t>(random_() % 2)});
    if (random_() % 4 == 0) attempt.items.push_back({"reg", 1});
    Send(attempt);
    history_.push_back(std::move(attempt));
  }

  void Retry(drill::OrderAttempt& attempt) { Send(attempt); }

  void PayOrCancel(const std::string& action) {
    const drill::OrderAttempt& attempt = history_[random_() % history_.size()];
    if (attempt.status != 201) return;
    auto response = Connection().Do("POST", "/v1/orders/" + attempt.order_id + "/" + action, "");
    if (!response.ok()) std::this_thread::sleep_for(milliseconds(20));
    if (response.ok() && response->status != 200 && response->status != 409) {
      errors_.push_back(action + " " + attempt.order_id + " answered " +
                        std::to_string(response->status) + " " + response->body);
    }
  }

  int index_;
  std::atomic<uint16_t>& port_;
  std::atomic<bool>& stop_;
  std::mt19937_64 random_;
  std::unique_ptr<http::Client> client_;
  uint16_t client_port_ = 0;
  uint64_t sequence_ = 0;
  std::vector<drill::OrderAttempt> history_;
  std::vector<std::string> errors_;
};

TEST(CrashTest, KillNineDuringASaleLosesNothingAndOversellsNothing) {
  char pattern[] = "/tmp/surge-crash-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string root = pattern;
  CenterProcess center(root + "/data");

  std::atomic<uint16_t> port{center.Start()};
  ASSERT_NE(port.load(), 0);
  {
    http::Client setup("127.0.0.1", port.load(), milliseconds(5000));
    const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    LoadCatalogue(setup, now_ms);
  }

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    workers.push_back(std::make_unique<Worker>(i, port, stop));
    threads.emplace_back([worker = workers.back().get()] { worker->Run(); });
  }

  std::mt19937_64 random(42);
  std::vector<int64_t> restart_ms;
  for (int kill = 0; kill < kKills; ++kill) {
    std::this_thread::sleep_for(milliseconds(80 + random() % 320));
    center.Kill();
    const auto restart_began = std::chrono::steady_clock::now();
    port.store(center.Start());
    ASSERT_NE(port.load(), 0) << "restart " << kill << " failed";
    restart_ms.push_back(
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - restart_began)
            .count());
  }
  std::this_thread::sleep_for(milliseconds(300));
  stop.store(true);
  for (std::thread& thread : threads) thread.join();

  std::vector<drill::OrderAttempt> history;
  for (auto& worker : workers) {
    for (const std::string& error : worker->errors()) ADD_FAILURE() << error;
    history.insert(history.end(), worker->history().begin(), worker->history().end());
  }
  int64_t acknowledged = 0, sold_out = 0, unanswered = 0;
  for (const auto& attempt : history) {
    acknowledged += attempt.status == 201;
    sold_out += attempt.error_code == "sold_out";
    unanswered += attempt.status == 0;
  }
  std::printf(
      "crash test: %d kills, %zu order requests: %lld acknowledged, %lld sold_out, "
      "%lld unanswered\n",
      kKills, history.size(), static_cast<long long>(acknowledged),
      static_cast<long long>(sold_out), static_cast<long long>(unanswered));
  std::sort(restart_ms.begin(), restart_ms.end());
  std::printf("restart to listening: median %lld ms, max %lld ms\n",
              static_cast<long long>(restart_ms[restart_ms.size() / 2]),
              static_cast<long long>(restart_ms.back()));
  EXPECT_GT(acknowledged, 500) << "the test must actually sell something";
  EXPECT_GT(unanswered, 0) << "some kills must land on requests in flight";

  process_testing::ExpectHistoryHolds(
      history, kUsers, {"c1", "flash", kCampaignStock, kPerUserLimit},
      [&] { return std::pair<std::string, uint16_t>("127.0.0.1", port.load()); }, acknowledged);
  http::Client client("127.0.0.1", port.load(), milliseconds(5000));

  // Regular stock is conserved too.
  auto inventory = drill::ReadStock(client, "/v1/inventory/reg");
  ASSERT_TRUE(inventory.ok()) << inventory.status().ToString();
  EXPECT_TRUE(inventory->adds_up()) << inventory->ToString();
  EXPECT_EQ(inventory->stock, kRegularStock);

  // A clean shutdown drains, syncs and exits 0.
  EXPECT_EQ(center.Terminate(), 0);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace surge
