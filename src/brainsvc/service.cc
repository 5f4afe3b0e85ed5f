// The service's durable core: the event log and its writer, replay, the bus subscriptions and the
// retrain thread (brainsvc.h states the contract).
#include <algorithm>
#include <chrono>
#include <utility>

#include "brainsvc/service_internal.h"
#include "common/assert.h"
#include "common/ids.h"
#include "common/log.h"
#include "topology/topology.h"
#include "trade/trade.h"

namespace surge::brainsvc {
namespace {

using Clock = std::chrono::steady_clock;

// Records a bus record may turn into are at most a few times its own size (1 MiB at most).
constexpr uint32_t kLogRecordBytesMax = 8u << 20;
// Records the writer takes into one group (one fdatasync).
constexpr size_t kGroupRecordsMax = 4096;
// How often the retrain thread looks at the count of new events.
constexpr std::chrono::milliseconds kRetrainPoll{100};

Status CheckOptions(const Options& options) {
  auto invalid = [](const std::string& message) {
    return Status(Code::kInvalidArgument, "brain service: " + message);
  };
  if (options.data_dir.empty()) return invalid("a data directory is required");
  if (options.queue_records_max == 0) return invalid("queue_records_max must be >= 1");
  if (options.train_interval.count() < 0) return invalid("train_interval must be >= 0");
  for (const std::string& center : options.centers) {
    if (center.size() > 32 || !IsValidId(center)) return invalid("bad center id " + center);
  }
  if (!options.master.empty() && std::find(options.centers.begin(), options.centers.end(),
                                           options.master) == options.centers.end()) {
    return invalid("the master " + options.master + " is not one of the centers");
  }
  if (options.bus == nullptr && !options.centers.empty()) {
    return invalid("centers to follow need a bus");
  }
  if (!options.demand_target.empty() &&
      (options.centers.empty() || options.demand_interval.count() <= 0 ||
       options.demand_skus == 0 || options.demand_days < 1 || options.demand_days > 366)) {
    return invalid(
        "a demand target needs centers, an interval above 0, demand_skus >= 1 and "
        "demand_days in 1..366");
  }
  if (!options.demand_target.empty()) {
    const auto target = topology::ParseAddress(options.demand_target);
    if (!target.ok()) return invalid("demand target: " + target.status().message());
  }
  return Status::Ok();
}

}  // namespace

ServiceImpl::ServiceImpl(Env& env, const Options& options)
    : env_(env), options_(options), brain_(options.brain) {}

ServiceImpl::~ServiceImpl() { Stop(); }

Status ServiceImpl::Open() {
  SURGE_RETURN_IF_ERROR(LoadSynthetic(options_, env_.WallNowMs(), brain_));
  journal::Options journal_options;
  journal_options.dir = JoinPath(options_.data_dir, "events");
  journal_options.record_bytes_max = kLogRecordBytesMax;
  // The Brain has no snapshot: the log is the state, replayed whole.
  journal_options.snapshot_every_records = UINT64_MAX;
  journal::RecoveryHandler handler;
  handler.on_snapshot = [](uint64_t, std::string_view) {
    return Status(Code::kCorruption, "the brain's event log holds a snapshot it never writes");
  };
  handler.on_record = [this](uint64_t sequence, std::string_view payload) {
    Result<LogRecord> record = DecodeLogRecord(payload);
    if (!record.ok()) return record.status().Annotate("record " + std::to_string(sequence));
    records_replayed_.fetch_add(1, std::memory_order_relaxed);
    return Apply(*record, /*replaying=*/true);
  };
  SURGE_RETURN_IF_ERROR(env_.CreateDir(options_.data_dir));
  SURGE_ASSIGN_OR_RETURN(journal_, journal::Journal::Open(env_, journal_options, handler));
  SURGE_LOG_INFO("brain: replayed %llu log records, %zu events",
                 static_cast<unsigned long long>(records_replayed_.load()), brain_.event_count());
  writer_ = std::thread([this] { WriterLoop(); });
  retrainer_ = std::thread([this] { RetrainLoop(); });
  if (!options_.demand_target.empty()) planner_ = std::thread([this] { PlannerLoop(); });
  return Subscribe();
}

// Applies a record that is durable (or being replayed). The Brain refuses nothing that the log
// accepted (the codec checks the same bounds), so an error here is a bug of one of the two.
Status ServiceImpl::Apply(const LogRecord& record, bool replaying) {
  for (const auto& [sku, info] : record.items) {
    const Status status = brain_.PutItem(sku, info);
    if (!status.ok()) return Status(Code::kInternal, "brain refused item: " + status.ToString());
  }
  for (const brain::Event& event : record.events) {
    const Status status = brain_.Observe(event);
    if (!status.ok()) return Status(Code::kInternal, "brain refused event: " + status.ToString());
  }
  std::lock_guard lock(mutex_);
  events_since_train_ += record.events.size();
  if (!options_.demand_target.empty()) NoteDemandSources(record);
  if (record.from_bus) {
    uint64_t& through = applied_through_[{record.center, record.kind}];
    // The subscription resumes after `through`, so a record at or below it is never delivered.
    SURGE_ASSERT_MSG(replaying || record.sequence > through, "a bus record applied twice");
    through = std::max(through, record.sequence);
  }
  return Status::Ok();
}

bool ServiceImpl::Enqueue(Work work, bool wait) {
  std::unique_lock lock(mutex_);
  if (wait) {
    space_ready_.wait(lock,
                      [&] { return stopping_ || queue_.size() < options_.queue_records_max; });
  }
  if (stopping_ || failed_.load() || queue_.size() >= options_.queue_records_max) return false;
  queue_.push_back(std::move(work));
  work_ready_.notify_one();
  return true;
}

void ServiceImpl::WriterLoop() {
  std::vector<Work> group;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      const size_t take = std::min(queue_.size(), kGroupRecordsMax);
      for (size_t i = 0; i < take; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    space_ready_.notify_all();
    WriteGroup(group);
    group.clear();
  }
}

// One group: appended, made durable with one sync, then applied and answered in order.
void ServiceImpl::WriteGroup(std::vector<Work>& group) {
  Status status = failed_.load()
                      ? Status(Code::kUnavailable, "the brain's event log failed earlier")
                      : Status::Ok();
  if (status.ok()) {
    for (const Work& work : group) journal_->Append(work.payload);
    status = journal_->Commit();
    if (!status.ok()) {
      SURGE_LOG_ERROR("brain: the event log failed, refusing writes from now on: %s",
                      status.ToString().c_str());
      failed_.store(true);
      status = Status(Code::kUnavailable, "the brain's event log failed: " + status.message());
    }
  }
  for (Work& work : group) {
    if (status.ok()) {
      const Status applied = Apply(work.record, /*replaying=*/false);
      SURGE_ASSERT_MSG(applied.ok(), applied.ToString().c_str());
      if (work.record.from_bus) {
        bus_records_applied_.fetch_add(1, std::memory_order_relaxed);
        orders_observed_.fetch_add(work.record.events.size(), std::memory_order_relaxed);
      } else {
        events_posted_.fetch_add(work.record.events.size(), std::memory_order_relaxed);
      }
    }
    if (work.done) work.done(status);
  }
  retrain_wake_.notify_one();
}

void ServiceImpl::RetrainLoop() {
  Train();  // the models of what was replayed
  Clock::time_point last = Clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    retrain_wake_.wait_for(lock, kRetrainPoll);
    if (stopping_) break;
    const bool by_count =
        options_.train_after_events > 0 && events_since_train_ >= options_.train_after_events;
    const bool by_time = options_.train_interval.count() > 0 && events_since_train_ > 0 &&
                         Clock::now() - last >= options_.train_interval;
    if (!by_count && !by_time) continue;
    lock.unlock();
    Train();
    last = Clock::now();
    lock.lock();
  }
}

void ServiceImpl::Train() {
  Result<brain::TrainReport> report = TrainNow();
  if (!report.ok()) {
    SURGE_LOG_ERROR("brain: retrain failed: %s", report.status().ToString().c_str());
    return;
  }
  SURGE_LOG_INFO("brain: retrained on %zu users, %zu items, %zu purchases in %.2f s (ranker %s)",
                 report->users, report->items, report->purchases, report->seconds,
                 report->ranker ? "on" : "off");
}

Result<brain::TrainReport> ServiceImpl::TrainNow() {
  std::lock_guard train_lock(train_mutex_);
  {
    std::lock_guard lock(mutex_);
    events_since_train_ = 0;  // what arrives from now on counts toward the next one
  }
  SURGE_ASSIGN_OR_RETURN(brain::TrainReport report, brain_.Train());
  trains_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  last_train_seconds_ = report.seconds;
  return report;
}

Status ServiceImpl::Subscribe() {
  if (options_.bus == nullptr) return Status::Ok();
  std::vector<std::pair<std::string, bus::Kind>> streams;
  for (const std::string& center : options_.centers)
    streams.emplace_back(center, bus::Kind::kOrders);
  if (!options_.master.empty()) streams.emplace_back(options_.master, bus::Kind::kMasterData);
  for (const auto& [center, kind] : streams) {
    uint64_t after = 0;
    {
      std::lock_guard lock(mutex_);
      const auto it = applied_through_.find({center, static_cast<uint8_t>(kind)});
      if (it != applied_through_.end()) after = it->second;
    }
    Result<std::unique_ptr<bus::Subscription>> subscription = options_.bus->Subscribe(
        {center, kind}, after,
        [this, name = center](const bus::Record& record) { Deliver(name, record); });
    if (!subscription.ok()) {
      return subscription.status().Annotate("subscribing to " + center + "'s " +
                                            std::string(bus::KindName(kind)));
    }
    subscriptions_.push_back(std::move(subscription).value());
  }
  return Status::Ok();
}

// On a subscription's thread. The position is remembered with what the record taught, in one
// log record; the next one is delivered once this one is queued (the queue keeps their order).
void ServiceImpl::Deliver(const std::string& center, const bus::Record& record) {
  Work work;
  work.record = LearnFromBusRecord(center, record);
  EncodeLogRecord(work.record, &work.payload);
  if (!Enqueue(std::move(work), /*wait=*/true)) {
    // Stopping or failed: not remembered, so delivered again after the next start.
    SURGE_LOG_WARNING("brain: bus record %s/%llu not applied (stopping or failed)", center.c_str(),
                      static_cast<unsigned long long>(record.sequence));
  }
}

void ServiceImpl::Stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  space_ready_.notify_all();  // a Deliver waiting for room gives up, so its subscription can end
  retrain_wake_.notify_all();
  planner_wake_.notify_all();
  subscriptions_.clear();  // no Deliver runs after this
  if (writer_.joinable()) writer_.join();
  if (retrainer_.joinable()) retrainer_.join();
  if (planner_.joinable()) planner_.join();
}

Stats ServiceImpl::stats() const {
  Stats stats;
  stats.events_posted = events_posted_.load();
  stats.bus_records_applied = bus_records_applied_.load();
  stats.orders_observed = orders_observed_.load();
  stats.records_replayed = records_replayed_.load();
  stats.brain_events = brain_.event_count();
  stats.trains = trains_.load();
  stats.demand_puts = demand_puts_.load();
  stats.failed = failed_.load();
  std::lock_guard lock(mutex_);
  stats.last_train_seconds = last_train_seconds_;
  stats.applied_through = applied_through_;
  return stats;
}

Result<std::unique_ptr<Service>> Service::Open(Env& env, const Options& options) {
  SURGE_RETURN_IF_ERROR(CheckOptions(options));
  auto service = std::make_unique<ServiceImpl>(env, options);
  SURGE_RETURN_IF_ERROR(service->Open());
  return std::unique_ptr<Service>(std::move(service));
}

}  // namespace surge::brainsvc
