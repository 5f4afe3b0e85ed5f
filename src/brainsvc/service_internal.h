// The service's implementation (private to brainsvc): the writer of the event log, the retrain
// thread and the bus subscriptions (service.cc), and the HTTP routes (handler.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "brainsvc/brainsvc.h"
#include "journal/journal.h"

namespace surge::brainsvc {

// A record on its way to the log, and who waits for it (called once, on the writer thread, after
// the record was made durable and applied, or with the error that kept it out).
struct Work {
  std::string payload;
  LogRecord record;
  std::function<void(const Status&)> done;
};

// What one bus record teaches the brain: its order events (kOrders) or catalogue facts
// (kMasterData). Records it cannot read teach nothing (logged); their position still counts.
LogRecord LearnFromBusRecord(const std::string& center, const bus::Record& record);

// Synthetic catalogue and behaviour for benchmarks (Options::synthetic_*), the events spread
// over the 30 days before `now_ms`.
Status LoadSynthetic(const Options& options, int64_t now_ms, brain::Brain& brain);

// What the log's codec accepts (EncodeLogRecord asserts it).
bool LoggableEvent(const brain::Event& event);
bool LoggableItem(std::string_view sku, const brain::ItemInfo& info);

class ServiceImpl final : public Service {
 public:
  ServiceImpl(Env& env, const Options& options);
  ~ServiceImpl() override;

  Status Open();
  void Stop() override;
  Stats stats() const override;
  Result<brain::TrainReport> TrainNow() override;
  const brain::Brain& brain() const override { return brain_; }
  void Handle(const http::Request& request, http::Responder responder) override;

 private:
  // service.cc
  Status Apply(const LogRecord& record, bool replaying);
  // Queues `work` for the writer. False (work not queued) when stopping, failed, or when the
  // queue is full and `wait` is false; with `wait`, blocks while it is full.
  bool Enqueue(Work work, bool wait);
  void WriterLoop();
  void WriteGroup(std::vector<Work>& group);
  void RetrainLoop();
  void Train();
  Status Subscribe();
  void Deliver(const std::string& center, const bus::Record& record);
  // The SKUs whose demand Apply saw change (orders and products from the bus), for the planner.
  void NoteDemandSources(const LogRecord& record);

  // planner.cc: the demand planner's thread and one round of it.
  void PlannerLoop();
  void PlanDemand();

  // handler.cc
  void PostEvents(const http::Request& request, http::Responder responder);
  http::Response Recommendations(std::string_view query);
  http::Response Forecast(std::string_view query);
  http::Response Audience(std::string_view query);
  http::Response Health() const;

  Env& env_;
  const Options options_;
  brain::Brain brain_;
  std::unique_ptr<journal::Journal> journal_;  // the writer thread's once Open returns

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable space_ready_;
  std::deque<Work> queue_;                                               // guarded by mutex_
  bool stopping_ = false;                                                // guarded by mutex_
  std::map<std::pair<std::string, uint8_t>, uint64_t> applied_through_;  // guarded by mutex_
  uint64_t events_since_train_ = 0;                                      // guarded by mutex_
  double last_train_seconds_ = 0;                                        // guarded by mutex_
  std::condition_variable retrain_wake_;
  // For the planner (guarded by mutex_): orders seen per SKU, and the recent products in the
  // order they came (at most Options::demand_skus of them).
  std::map<std::string, uint64_t> ordered_skus_;
  std::deque<std::string> recent_products_;
  // The planner thread's own: what the master accepted last for each SKU.
  std::map<std::string, std::string> demand_put_;
  std::condition_variable planner_wake_;  // Stop wakes the planner

  std::atomic<bool> failed_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> events_posted_{0};
  std::atomic<uint64_t> bus_records_applied_{0};
  std::atomic<uint64_t> orders_observed_{0};
  std::atomic<uint64_t> records_replayed_{0};
  std::atomic<uint64_t> trains_{0};
  std::atomic<uint64_t> demand_puts_{0};

  std::mutex train_mutex_;  // one Train at a time (the retrain thread and TrainNow)
  std::thread writer_;
  std::thread retrainer_;
  std::thread planner_;
  std::vector<std::unique_ptr<bus::Subscription>> subscriptions_;
};

}  // namespace surge::brainsvc
