#include "center/center.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/strings/string_view.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "center/follower.h"
#include "center/intake.h"
#include "center/outbox.h"
#include "common/assert.h"
#include "common/coding.h"
#include "common/ids.h"
#include "common/log.h"
#include "journal/journal.h"

namespace surge::center {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStateHashRefreshInterval{10};
// How long a batch's order events may wait for the next commit before they are committed alone:
// the aggregation lag they add when the center goes quiet.
constexpr std::chrono::milliseconds kEventsFlushInterval{5};
// How often the writer asks the state for quota commands (QuotaCommands scans every campaign).
constexpr std::chrono::milliseconds kQuotaCheckInterval{10};
// Order events per journal record at most: about 100-200 bytes each, well under the journal's
// record size bound however many orders one command expires.
constexpr size_t kEventsPerRecordMax = 2048;

// The center id goes into order ids ("o.<center>.<n>"), which must stay within kIdLengthMax.
constexpr size_t kCenterIdLengthMax = 32;

trade::Reply ErrorReply(Code code, std::string message) {
  trade::Reply reply;
  reply.status = Status(code, std::move(message));
  return reply;
}

Status ValidateOptions(const Options& options) {
  if (options.data_dir.empty()) return Status(Code::kInvalidArgument, "data_dir is empty");
  if (!IsValidId(options.center_id) || options.center_id.size() > kCenterIdLengthMax) {
    return Status(Code::kInvalidArgument, "center_id '" + options.center_id +
                                              "' must be 1 to 32 characters from [A-Za-z0-9_.:-]");
  }
  if (options.intake_capacity == 0) {
    return Status(Code::kInvalidArgument, "intake_capacity must be at least 1");
  }
  if (options.batch_records_max == 0) {
    return Status(Code::kInvalidArgument, "batch_records_max must be at least 1");
  }
  if (options.batch_wait.count() < 0) {
    return Status(Code::kInvalidArgument, "batch_wait must not be negative");
  }
  if (options.tick_interval.count() <= 0) {
    return Status(Code::kInvalidArgument, "tick_interval must be positive");
  }
  if (options.max_queue_delay.count() < 0) {
    return Status(Code::kInvalidArgument, "max_queue_delay must not be negative");
  }
  if (options.snapshot_every_records == 0) {
    return Status(Code::kInvalidArgument, "snapshot_every_records must be at least 1");
  }
  if (!options.centers.empty()) {
    const auto known = [&](const std::string& id) {
      return std::find(options.centers.begin(), options.centers.end(), id) != options.centers.end();
    };
    if (!known(options.center_id) || !known(options.master)) {
      return Status(Code::kInvalidArgument,
                    "center_id and master must both be among the centers of the deployment");
    }
    if (options.up_front_percent < 1 || options.up_front_percent > 100) {
      return Status(Code::kInvalidArgument, "up_front_percent must be within 1..100");
    }
  }
  return Status::Ok();
}

// The windows of the campaigns this center has seen created or updated (live or in the journal
// tail replayed at recovery), by SKU. Campaigns known only from a snapshot are missing; callers
// must treat "unknown" conservatively.
class CampaignWindows {
 public:
  void Learn(const trade::PutCampaign& campaign) {
    auto [it, inserted] = campaigns_.try_emplace(campaign.id);
    if (!inserted && it->second.sku != campaign.sku) {
      auto& old_ids = ids_by_sku_[it->second.sku];
      old_ids.erase(std::remove(old_ids.begin(), old_ids.end(), campaign.id), old_ids.end());
    }
    if (inserted || it->second.sku != campaign.sku)
      ids_by_sku_[campaign.sku].push_back(campaign.id);
    it->second = Window{campaign.sku, campaign.starts_at_ms, campaign.ends_at_ms};
  }

  // The end (exclusive) of the known campaign of `sku` active at `now_ms`, if one is known.
  std::optional<int64_t> EndOfActive(std::string_view sku, int64_t now_ms) const {
    const auto ids = ids_by_sku_.find(absl::string_view(sku.data(), sku.size()));
    if (ids == ids_by_sku_.end()) return std::nullopt;
    for (const std::string& id : ids->second) {
      const Window& window = campaigns_.at(id);
      if (window.starts_at_ms <= now_ms && now_ms < window.ends_at_ms) return window.ends_at_ms;
    }
    return std::nullopt;
  }

 private:
  struct Window {
    std::string sku;
    int64_t starts_at_ms = 0;
    int64_t ends_at_ms = 0;
  };
  absl::flat_hash_map<std::string, Window> campaigns_;
  absl::flat_hash_map<std::string, std::vector<std::string>> ids_by_sku_;
};

class CenterImpl final : public Center {
 public:
  CenterImpl(Env& env, const Options& options)
      : env_(env),
        options_(options),
        queue_(options.intake_capacity, options.batch_records_max, options.batch_wait) {}
  ~CenterImpl() override { Stop(); }
  void HoldLock(std::unique_ptr<FileLock> lock) { lock_ = std::move(lock); }

  Status Recover();
  void Start() {
    writer_ = std::thread([this] { WriterLoop(); });
  }

  void Submit(trade::Body body, Done done) override;
  void SubmitReplicated(trade::Origin origin, trade::Body body, Done done) override;
  bool Read(ReadFunction read) override;
  void Stop() override;
  bool failed() const override { return failed_.load(std::memory_order_acquire); }
  Status AttachPublisher(bus::Publisher& publisher) override;
  Status Follow(bus::Bus& bus) override;
  Status AppendShipped(uint64_t first_sequence, std::span<const std::string_view> records) override;
  Status Promote(StandbyLink* link) override;
  bool standby() const override { return standby_.load(std::memory_order_acquire); }
  uint64_t durable_sequence() const override {
    return last_sequence_.load(std::memory_order_acquire);
  }
  const std::string& center_id() const override { return options_.center_id; }
  Stats stats() const override;

 private:
  Status ReplayRecord(uint64_t sequence, std::string_view payload);
  Status ReplayEvents(uint64_t sequence, std::string_view payload);
  std::optional<uint64_t> AppliedThrough(const bus::StreamId& stream);
  bool AnswerSoldOutEarly(const trade::PlaceOrder& order, Done& done);
  bool RefusedAtOnce(const trade::Body& body, Done& done);
  void AnswerOverloaded(Done& done);
  void Enqueue(Request request, bool bypass_admit_limit);

  // Writer thread only, from here on.
  void WriterLoop();
  void ProcessBatch(Request* begin, Request* end);
  void RunReads(Request* begin, Request* end, int64_t now_ms);
  Status JournalCommands(int64_t now_ms);
  void ApplyAndAnswer();
  bool CommitOwnCommands(std::vector<trade::Body> bodies);
  void FlushEvents();
  void MaybeQuota();
  void EnterFailedState(const Status& status);
  void MaybeTick();
  void AfterBatch();
  void RefreshSoldOut(const absl::flat_hash_set<std::string_view>& touched_skus, int64_t now_ms);
  int64_t SoldOutUntilMs(std::string_view sku, int64_t now_ms) const;
  // Also a standby's, from AppendShipped under standby_mutex_.
  void MaybeSnapshot();
  void RefreshStateHash();
  void MeasureDrain(size_t commands, SteadyClock::duration busy);
  int64_t NowMs() const { return std::max(last_now_ms_, env_.WallNowMs()); }
  // The records of the batch being journaled, for the standby link (ship-first).
  Status ShipToStandby(uint64_t first_sequence);

  Env& env_;
  const Options options_;
  // Declared before the journal so that it is released after the journal is closed.
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<trade::Trade> trade_;
  std::unique_ptr<journal::Journal> journal_;
  // Set on the writer thread (by AttachPublisher's read); stopped after the writer, so that it
  // publishes everything the writer made durable.
  std::unique_ptr<Outbox> outbox_;
  // Stopped before the writer, so that nothing they submit is left unanswered.
  std::vector<std::unique_ptr<Follower>> followers_;
  std::mutex followers_mutex_;
  // The master, or a center alone: publishes master data (see PublishedKindOf).
  const bool at_master_ = options_.centers.empty() || options_.master == options_.center_id;

  // Hot standby (see center.h): a standby takes no commands; its writer starts at Promote. The
  // mutex serializes AppendShipped, reads run on a standby, and Promote.
  std::atomic<bool> standby_{options_.standby};
  std::mutex standby_mutex_;
  StandbyLink* link_ = options_.standby_link;
  std::string shipped_;               // the batch's records back to back, for link_
  std::vector<size_t> shipped_ends_;  // where each ends in shipped_

  IntakeQueue queue_;
  RequestIdSet request_ids_;
  SoldOutBoard sold_out_;
  std::thread writer_;
  std::mutex stop_mutex_;
  bool stopped_ = false;
  // Set once a commit failed: nothing is acknowledged after that.
  std::atomic<bool> failed_{false};
  // The writer's last command time, for submitters judging sold-out flags.
  std::atomic<int64_t> published_now_ms_{0};

  // Owned by the writer thread (and by Recover before it starts).
  int64_t last_now_ms_ = 0;
  std::vector<trade::Command> commands_;
  std::vector<Done> command_dones_;
  std::string encoded_;
  SoldOutBoard::Flags sold_out_flags_;
  CampaignWindows campaign_windows_;
  SteadyClock::time_point last_write_at_ = SteadyClock::now();
  SteadyClock::time_point quota_checked_at_;
  // Order events applied but not journaled yet are kept by the state (trade::Trade's pending
  // events); this is the journal sequence of the last command they cover (see "Several centers").
  uint64_t pending_events_through_ = 0;
  // At recovery: the number of the last order event found journaled.
  uint64_t journaled_event_number_ = 0;
  uint64_t next_snapshot_attempt_sequence_ = 0;
  bool state_hash_stale_ = true;
  SteadyClock::time_point state_hash_at_;
  // The drain rate's current measurement window.
  uint64_t drain_window_commands_ = 0;
  SteadyClock::duration drain_window_busy_{};

  std::atomic<uint64_t> commands_applied_{0};
  std::atomic<uint64_t> batches_committed_{0};
  std::atomic<uint64_t> reads_served_{0};
  std::atomic<uint64_t> rejected_overloaded_{0};
  std::atomic<uint64_t> rejected_sold_out_early_{0};
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> recovered_records_{0};
  std::atomic<uint64_t> state_hash_{0};
  std::atomic<uint64_t> drain_rate_per_s_{0};
  std::atomic<uint64_t> replicated_applied_{0};
  std::atomic<uint64_t> events_records_{0};
};

// ---- Recovery -------------------------------------------------------------------------------

Status CenterImpl::Recover() {
  trade::Options trade_options;
  trade_options.order_id_prefix = OrderIdPrefix(options_.center_id);
  trade_options.expected_orders = options_.expected_orders;
  trade_options.center = options_.center_id;
  trade_options.master = options_.master;
  trade_options.centers = options_.centers;
  trade_options.record_events = !options_.centers.empty();
  trade_options.up_front_percent = options_.up_front_percent;
  trade_ = trade::Trade::Create(trade_options);

  journal::Options journal_options;
  journal_options.dir = JoinPath(options_.data_dir, "journal");
  journal_options.segment_bytes_max = options_.segment_bytes_max;
  journal_options.snapshot_every_records = options_.snapshot_every_records;
  journal_options.keep_through = options_.keep_through;
  journal::RecoveryHandler handler;
  handler.on_snapshot = [this](uint64_t sequence, std::string_view snapshot) {
    Status status = trade_->Restore(snapshot);
    if (status.ok()) return status;
    return status.Annotate("restoring the snapshot at sequence " + std::to_string(sequence));
  };
  handler.on_record = [this](uint64_t sequence, std::string_view payload) {
    return ReplayRecord(sequence, payload);
  };
  journal::RecoveryStats recovery;
  auto journal = journal::Journal::Open(env_, journal_options, handler, &recovery);
  if (!journal.ok()) {
    return journal.status().Annotate("center " + options_.center_id + " recovering from " +
                                     journal_options.dir);
  }
  journal_ = std::move(journal).value();

  const Status invariants = trade_->CheckInvariants();
  if (!invariants.ok()) {
    return Status(Code::kCorruption, "center " + options_.center_id +
                                         ": the state recovered from " + journal_options.dir +
                                         " breaks an invariant: " + invariants.ToString());
  }
  request_ids_.Reserve(options_.expected_orders);
  trade_->ForEachRequestId(
      [this](std::string_view request_id) { request_ids_.Insert(StableHash64(request_id)); });
  last_now_ms_ = trade_->last_now_ms();
  published_now_ms_.store(last_now_ms_, std::memory_order_relaxed);
  recovered_records_.store(recovery.records_replayed, std::memory_order_relaxed);
  last_sequence_.store(journal_->last_sequence(), std::memory_order_relaxed);
  RefreshStateHash();
  SURGE_LOG_INFO(
      "center %s: recovered from %s (snapshot at sequence %llu, %llu records replayed, %llu torn "
      "bytes dropped, last sequence %llu)",
      options_.center_id.c_str(), journal_options.dir.c_str(),
      static_cast<unsigned long long>(recovery.snapshot_sequence),
      static_cast<unsigned long long>(recovery.records_replayed),
      static_cast<unsigned long long>(recovery.torn_bytes_dropped),
      static_cast<unsigned long long>(journal_->last_sequence()));
  return Status::Ok();
}

Status CenterImpl::ReplayRecord(uint64_t sequence, std::string_view payload) {
  if (trade::IsEventsRecord(payload)) return ReplayEvents(sequence, payload);
  auto command = trade::DecodeCommand(payload);
  if (!command.ok()) {
    return Status(Code::kCorruption, "journal record " + std::to_string(sequence) +
                                         " does not decode: " + command.status().ToString());
  }
  // Trade asserts that time never goes back; data from disk gets a Status instead.
  if (command->now_ms < trade_->last_now_ms()) {
    return Status(Code::kCorruption, "journal record " + std::to_string(sequence) +
                                         " goes back in time (" + std::to_string(command->now_ms) +
                                         " ms < " + std::to_string(trade_->last_now_ms()) + " ms)");
  }
  const trade::Reply reply = trade_->Apply(*command);
  if (const auto* campaign = std::get_if<trade::PutCampaign>(&command->body);
      campaign != nullptr && reply.status.ok()) {
    campaign_windows_.Learn(*campaign);
  }
  // The events of the commands replayed after the last events record (they stay pending in the
  // state) are journaled again once recovery ends, unless a later events record shows they were
  // journaled (ReplayEvents).
  if (!options_.centers.empty()) pending_events_through_ = sequence;
  return Status::Ok();
}

Status CenterImpl::ReplayEvents(uint64_t sequence, std::string_view payload) {
  // Only the header is needed (a record of the current format is not read further; the journal's
  // checksum covers its bytes).
  Result<trade::EventsSummary> record = trade::DecodeEventsSummary(payload);
  if (!record.ok()) {
    return Status(Code::kCorruption,
                  "journal record " + std::to_string(sequence) +
                      " (order events) does not decode: " + record.status().ToString());
  }
  // Events are numbered consecutively by the state and journaled in order: the ones pending
  // so far up to this record's last number are journaled already.
  if (record->count > 0) {
    journaled_event_number_ =
        std::max(journaled_event_number_, record->first_number + record->count - 1);
  }
  trade_->DropEventsThrough(journaled_event_number_);
  return Status::Ok();
}

// ---- Submitting threads ---------------------------------------------------------------------

// Answers `done` at once, and returns true, when a write cannot even be queued: the center failed,
// or the body is invalid (EncodeCommand asserts a valid body, and an invalid one changes nothing
// and is not remembered: it is answered here, on the caller's thread, without journaling it).
bool CenterImpl::RefusedAtOnce(const trade::Body& body, Done& done) {
  SURGE_ASSERT(done != nullptr);
  if (failed_.load(std::memory_order_acquire)) {
    done(ErrorReply(Code::kUnavailable,
                    "center " + options_.center_id + " cannot make writes durable"));
    return true;
  }
  if (standby_.load(std::memory_order_acquire)) {
    done(ErrorReply(Code::kUnavailable, "center " + options_.center_id +
                                            " is a standby here: its primary takes writes"));
    return true;
  }
  Status valid = trade::ValidateBody(body);
  if (valid.ok()) return false;
  trade::Reply reply;
  reply.status = std::move(valid);
  done(std::move(reply));
  return true;
}

void CenterImpl::AnswerOverloaded(Done& done) {
  rejected_overloaded_.fetch_add(1, std::memory_order_relaxed);
  done(ErrorReply(Code::kOverloaded,
                  "center " + options_.center_id + " is overloaded (intake queue full)"));
}

void CenterImpl::Enqueue(Request request, bool bypass_admit_limit) {
  switch (queue_.Push(request, bypass_admit_limit)) {
    case IntakeQueue::PushResult::kOk:
      return;
    case IntakeQueue::PushResult::kFull:
      AnswerOverloaded(request.done);
      return;
    case IntakeQueue::PushResult::kClosed:
      request.done(ErrorReply(Code::kUnavailable, "center " + options_.center_id + " is stopping"));
      return;
  }
}

void CenterImpl::Submit(trade::Body body, Done done) {
  if (RefusedAtOnce(body, done)) return;
  if (const auto* order = std::get_if<trade::PlaceOrder>(&body)) {
    if (AnswerSoldOutEarly(*order, done)) return;
    // Shed before the request id is recorded as admitted: under overload most requests end here,
    // and recording theirs would grow memory with every one of them. (If the queue fills between
    // this check and the push, the id stays recorded: harmless, it only sends a retry of it
    // through the queue.)
    if (queue_.LikelyFull()) {
      AnswerOverloaded(done);
      return;
    }
    request_ids_.Insert(StableHash64(order->request_id));
  }
  Enqueue(Request{std::move(body), std::move(done), nullptr, std::nullopt}, false);
}

void CenterImpl::SubmitReplicated(trade::Origin origin, trade::Body body, Done done) {
  if (RefusedAtOnce(body, done)) return;
  Enqueue(Request{std::move(body), std::move(done), nullptr, std::move(origin)},
          /*bypass_admit_limit=*/true);
}

// Answers sold_out and returns true if an item's campaign is sold out and the request id was
// never admitted. Otherwise the caller records the request id as admitted before it pushes the
// request: a retry must find the id even while the original still waits in the queue.
bool CenterImpl::AnswerSoldOutEarly(const trade::PlaceOrder& order, Done& done) {
  if (sold_out_.empty()) return false;
  const int64_t now_ms =
      std::max(env_.WallNowMs(), published_now_ms_.load(std::memory_order_relaxed));
  const trade::OrderItem* item = sold_out_.FindSoldOut(order.items, now_ms);
  if (item == nullptr || request_ids_.Contains(StableHash64(order.request_id))) return false;
  rejected_sold_out_early_.fetch_add(1, std::memory_order_relaxed);
  done(ErrorReply(Code::kSoldOut, "the flash sale of " + item->sku + " is sold out"));
  return true;
}

bool CenterImpl::Read(ReadFunction read) {
  SURGE_ASSERT(read != nullptr);
  if (failed_.load(std::memory_order_acquire)) return false;
  if (standby_.load(std::memory_order_acquire)) {
    // No writer runs yet: the read runs here, between shipped batches.
    std::lock_guard lock(standby_mutex_);
    if (standby_.load(std::memory_order_acquire)) {
      reads_served_.fetch_add(1, std::memory_order_relaxed);
      read(*trade_, trade_->last_now_ms());
      return true;
    }
  }
  Request request;
  request.read = std::move(read);
  switch (queue_.Push(request)) {
    case IntakeQueue::PushResult::kOk:
      return true;
    case IntakeQueue::PushResult::kFull:
      rejected_overloaded_.fetch_add(1, std::memory_order_relaxed);
      return false;
    case IntakeQueue::PushResult::kClosed:
      return false;
  }
  return false;
}

Status CenterImpl::AttachPublisher(bus::Publisher& publisher) {
  // Attached on the writer thread, between batches: the outbox then starts from exactly what is
  // durable, and sees every later batch.
  std::promise<Status> attached;
  std::future<Status> done = attached.get_future();
  const bool queued = Read([&](const trade::Trade&, int64_t) {
    if (outbox_ != nullptr) {
      attached.set_value(Status(Code::kInvalidArgument, "a publisher is already attached"));
      return;
    }
    outbox_ = std::make_unique<Outbox>(env_, JoinPath(options_.data_dir, "journal"), publisher,
                                       journal_->durable_sequence(), at_master_);
    attached.set_value(Status::Ok());
  });
  if (!queued) {
    return Status(Code::kUnavailable,
                  "center " + options_.center_id + " is stopping, failed or overloaded");
  }
  return done.get();
}

std::optional<uint64_t> CenterImpl::AppliedThrough(const bus::StreamId& stream) {
  auto answer = std::make_shared<std::promise<uint64_t>>();
  std::future<uint64_t> applied = answer->get_future();
  const bool queued = Read([answer, stream](const trade::Trade& state, int64_t) {
    answer->set_value(state.AppliedThrough(stream.center, static_cast<uint8_t>(stream.kind)));
  });
  if (!queued) return std::nullopt;
  return applied.get();
}

Status CenterImpl::Follow(bus::Bus& bus) {
  if (options_.centers.empty()) {
    return Status(Code::kInvalidArgument,
                  "center " + options_.center_id + " is alone: there is no stream to follow");
  }
  std::vector<bus::StreamId> streams;
  if (at_master_) {
    for (const std::string& center : options_.centers) {
      if (center == options_.center_id) continue;
      streams.push_back({center, bus::Kind::kOrders});
      streams.push_back({center, bus::Kind::kQuota});
    }
  } else {
    streams.push_back({options_.master, bus::Kind::kMasterData});
  }
  FollowerTarget target;
  target.applied_through = [this](const bus::StreamId& stream) { return AppliedThrough(stream); };
  target.submit = [this](trade::Origin origin, trade::Body body, Done done) {
    SubmitReplicated(std::move(origin), std::move(body), std::move(done));
  };
  std::lock_guard lock(followers_mutex_);
  if (!followers_.empty()) return Status(Code::kInvalidArgument, "already following");
  for (bus::StreamId& stream : streams) {
    followers_.push_back(std::make_unique<Follower>(bus, std::move(stream), target));
  }
  return Status::Ok();
}

Status CenterImpl::AppendShipped(uint64_t first_sequence,
                                 std::span<const std::string_view> records) {
  std::lock_guard lock(standby_mutex_);
  if (!standby_.load(std::memory_order_acquire)) {
    return Status(Code::kWrongState,
                  "center " + options_.center_id + " is a primary: it takes no shipped records");
  }
  if (failed_.load(std::memory_order_acquire)) {
    return Status(Code::kUnavailable, "center " + options_.center_id + " failed");
  }
  if (first_sequence != journal_->last_sequence() + 1) {
    return Status(Code::kCorruption, "shipped records start at " + std::to_string(first_sequence) +
                                         " but this journal ends at " +
                                         std::to_string(journal_->last_sequence()));
  }
  for (const std::string_view record : records) journal_->Append(record);
  Status status = journal_->Commit();
  if (status.ok()) {
    last_sequence_.store(journal_->durable_sequence(), std::memory_order_release);
    uint64_t sequence = first_sequence;
    for (const std::string_view record : records) {
      status = ReplayRecord(sequence++, record);
      if (!status.ok()) break;
    }
    commands_applied_.fetch_add(records.size(), std::memory_order_relaxed);
    batches_committed_.fetch_add(1, std::memory_order_relaxed);
    state_hash_stale_ = true;
  }
  if (!status.ok()) {
    EnterFailedState(status);
    return status.Annotate("center " + options_.center_id + " (standby)");
  }
  MaybeSnapshot();  // a standby snapshots like its primary, or its journal grows without end
  return Status::Ok();
}

Status CenterImpl::Promote(StandbyLink* link) {
  std::lock_guard lock(standby_mutex_);
  if (!standby_.load(std::memory_order_acquire)) {
    return Status(Code::kWrongState, "center " + options_.center_id + " is no standby");
  }
  if (failed_.load(std::memory_order_acquire)) {
    return Status(Code::kUnavailable, "center " + options_.center_id + " failed");
  }
  // What recovery does once the journal is read: the state's request ids and time, and the
  // order events the old primary had not journaled (the writer journals them first).
  const Status invariants = trade_->CheckInvariants();
  if (!invariants.ok()) {
    return Status(Code::kCorruption,
                  "center " + options_.center_id +
                      ": the standby's state breaks an invariant: " + invariants.ToString());
  }
  trade_->ForEachRequestId(
      [this](std::string_view request_id) { request_ids_.Insert(StableHash64(request_id)); });
  last_now_ms_ = trade_->last_now_ms();
  published_now_ms_.store(last_now_ms_, std::memory_order_relaxed);
  link_ = link;
  RefreshStateHash();
  standby_.store(false, std::memory_order_release);
  Start();
  SURGE_LOG_INFO("center %s: promoted from standby at sequence %llu", options_.center_id.c_str(),
                 static_cast<unsigned long long>(journal_->last_sequence()));
  return Status::Ok();
}

void CenterImpl::Stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  SURGE_ASSERT_MSG(std::this_thread::get_id() != writer_.get_id(),
                   "Center::Stop called on the writer thread (from a Done or a read)");
  {
    std::lock_guard followers_lock(followers_mutex_);
    followers_.clear();  // each waits for its submissions' answers, which the writer gives
  }
  queue_.Close();
  if (writer_.joinable()) writer_.join();
  outbox_.reset();
  stopped_ = true;
}

Stats CenterImpl::stats() const {
  Stats stats;
  stats.commands_applied = commands_applied_.load(std::memory_order_relaxed);
  stats.batches_committed = batches_committed_.load(std::memory_order_relaxed);
  stats.reads_served = reads_served_.load(std::memory_order_relaxed);
  stats.rejected_overloaded = rejected_overloaded_.load(std::memory_order_relaxed);
  stats.rejected_sold_out_early = rejected_sold_out_early_.load(std::memory_order_relaxed);
  stats.queue_depth = queue_.depth();
  stats.queue_admit_limit = queue_.admit_limit();
  stats.drain_rate_per_s = drain_rate_per_s_.load(std::memory_order_relaxed);
  stats.last_sequence = last_sequence_.load(std::memory_order_relaxed);
  stats.recovered_records = recovered_records_.load(std::memory_order_relaxed);
  stats.state_hash = state_hash_.load(std::memory_order_relaxed);
  stats.replicated_applied = replicated_applied_.load(std::memory_order_relaxed);
  stats.events_records = events_records_.load(std::memory_order_relaxed);
  return stats;
}

// ---- The writer thread ----------------------------------------------------------------------

void CenterImpl::WriterLoop() {
  std::vector<Request> batch;
  bool open = true;
  while (open) {
    // Order events waiting for a commit wait at most kEventsFlushInterval.
    open = queue_.Take(&batch, trade_->PendingEventCount() == 0
                                   ? std::chrono::nanoseconds(options_.tick_interval)
                                   : std::chrono::nanoseconds(kEventsFlushInterval));
    const bool idle = batch.empty();
    const SteadyClock::time_point taken_at = SteadyClock::now();
    // Everything queued was taken at once; it is committed in batches of batch_records_max.
    for (size_t begin = 0; begin < batch.size(); begin += options_.batch_records_max) {
      const size_t end = std::min(batch.size(), begin + options_.batch_records_max);
      ProcessBatch(batch.data() + begin, batch.data() + end);
    }
    if (!idle) MeasureDrain(batch.size(), SteadyClock::now() - taken_at);
    batch.clear();
    if (failed_.load(std::memory_order_relaxed)) continue;
    MaybeTick();
    MaybeQuota();
    if (idle && trade_->PendingEventCount() > 0) FlushEvents();
    if (idle) {
      // Time alone may have ended a campaign or made a reservation due: re-judge the flags.
      RefreshSoldOut({}, NowMs());
      // Hashing serializes the whole state (hundreds of ms for millions of orders), and a request
      // arriving meanwhile waits: only when idle, and rarely.
      if (SteadyClock::now() - state_hash_at_ >= kStateHashRefreshInterval) RefreshStateHash();
    }
  }
  RefreshStateHash();
}

// Reads run first, against state that is wholly durable (this batch is not applied yet); then the
// writes are journaled, made durable with one sync, applied and answered, in order.
void CenterImpl::ProcessBatch(Request* begin, Request* end) {
  const int64_t now_ms = NowMs();
  RunReads(begin, end, now_ms);
  commands_.clear();
  command_dones_.clear();
  for (Request* request = begin; request != end; ++request) {
    if (request->read) continue;
    commands_.push_back(
        trade::Command{now_ms, std::move(request->body), std::move(request->origin)});
    command_dones_.push_back(std::move(request->done));
  }
  if (commands_.empty()) return;
  if (failed_.load(std::memory_order_relaxed)) {
    for (Done& done : command_dones_) {
      done(ErrorReply(Code::kUnavailable,
                      "center " + options_.center_id + " cannot make writes durable"));
    }
    return;
  }
  const Status status = JournalCommands(now_ms);
  if (!status.ok()) {
    EnterFailedState(status);
    for (Done& done : command_dones_) {
      done(ErrorReply(Code::kUnavailable,
                      "center " + options_.center_id + " could not make the request durable"));
    }
    return;
  }
  ApplyAndAnswer();
  AfterBatch();
}

void CenterImpl::RunReads(Request* begin, Request* end, int64_t now_ms) {
  for (Request* request = begin; request != end; ++request) {
    if (!request->read) continue;
    // Counted first, so that whoever the read answers sees it in the stats.
    reads_served_.fetch_add(1, std::memory_order_relaxed);
    request->read(*trade_, now_ms);
  }
}

// Appends the order events waiting for a commit, then commands_, to the journal and makes them
// durable with one sync.
Status CenterImpl::JournalCommands(int64_t now_ms) {
  std::vector<Outbox::Pending> published;
  const size_t events = trade_->PendingEventCount();
  const size_t events_records = (events + kEventsPerRecordMax - 1) / kEventsPerRecordMax;
  const uint64_t first_sequence = journal_->last_sequence() + 1;
  shipped_.clear();
  shipped_ends_.clear();
  const auto keep_for_standby = [this] {
    if (link_ == nullptr) return;
    shipped_ += encoded_;
    shipped_ends_.push_back(shipped_.size());
  };
  for (size_t begin = 0; begin < events; begin += kEventsPerRecordMax) {
    const size_t count = std::min(kEventsPerRecordMax, events - begin);
    encoded_.clear();
    // Straight from the state: no OrderEvent is built for the journal.
    trade_->EncodePendingEvents(pending_events_through_, begin, count, &encoded_);
    const uint64_t sequence = journal_->Append(encoded_);
    keep_for_standby();
    if (outbox_ != nullptr) published.push_back({sequence, bus::Kind::kOrders, encoded_});
  }
  for (const trade::Command& command : commands_) {
    encoded_.clear();
    trade::EncodeCommand(command, &encoded_);
    const uint64_t sequence = journal_->Append(encoded_);
    keep_for_standby();
    if (outbox_ == nullptr) continue;
    if (const std::optional<bus::Kind> kind = PublishedKindOf(command, at_master_)) {
      published.push_back(Outbox::Pending{sequence, *kind, encoded_});
    }
  }
  // Ship first: only what the standby holds becomes durable here (see "Hot standby").
  SURGE_RETURN_IF_ERROR(ShipToStandby(first_sequence));
  SURGE_RETURN_IF_ERROR(journal_->Commit());
  if (link_ != nullptr) link_->LocallyDurable(journal_->durable_sequence());
  // Journaled: from now on they are the journal's (and, through it, the bus's).
  trade_->DropEventsThrough(trade_->events_recorded());
  events_records_.fetch_add(events_records, std::memory_order_relaxed);
  if (outbox_ != nullptr) outbox_->Committed(journal_->durable_sequence(), std::move(published));
  SURGE_ASSERT(journal_->durable_sequence() == journal_->last_sequence());
  last_now_ms_ = now_ms;
  published_now_ms_.store(now_ms, std::memory_order_relaxed);
  last_write_at_ = SteadyClock::now();
  batches_committed_.fetch_add(1, std::memory_order_relaxed);
  last_sequence_.store(journal_->last_sequence(), std::memory_order_relaxed);
  return Status::Ok();
}

Status CenterImpl::ShipToStandby(uint64_t first_sequence) {
  if (link_ == nullptr || shipped_ends_.empty()) return Status::Ok();
  std::vector<std::string_view> records;
  records.reserve(shipped_ends_.size());
  size_t begin = 0;
  for (const size_t end : shipped_ends_) {
    records.emplace_back(shipped_.data() + begin, end - begin);
    begin = end;
  }
  SURGE_ASSERT(first_sequence + records.size() - 1 == journal_->last_sequence());
  Status shipped = link_->ShipAndWait(first_sequence, records);
  if (shipped.ok()) return shipped;
  return shipped.Annotate("shipping records " + std::to_string(first_sequence) + ".." +
                          std::to_string(journal_->last_sequence()) + " to the standby");
}

void CenterImpl::ApplyAndAnswer() {
  SURGE_ASSERT(commands_.size() == command_dones_.size());
  // Counted before the first reply, so that whoever got a reply sees it in the stats.
  commands_applied_.fetch_add(commands_.size(), std::memory_order_relaxed);
  // ApplyBatch overlaps the cache misses of consecutive commands; same replies as Apply.
  trade_->ApplyBatch(commands_, [this](size_t i, trade::Reply&& reply) {
    if (const auto* campaign = std::get_if<trade::PutCampaign>(&commands_[i].body);
        campaign != nullptr && reply.status.ok()) {
      campaign_windows_.Learn(*campaign);
    }
    if (command_dones_[i]) command_dones_[i](std::move(reply));
  });
  state_hash_stale_ = true;
  if (options_.centers.empty()) return;
  replicated_applied_.fetch_add(
      std::count_if(commands_.begin(), commands_.end(),
                    [](const trade::Command& command) { return command.origin.has_value(); }),
      std::memory_order_relaxed);
  // This batch's events stay pending in the state until the next commit journals them.
  pending_events_through_ = journal_->durable_sequence();
}

// Journals, applies and answers nobody: commands the writer takes itself (a Tick, quota requests
// and returns), with the order events waiting for a commit; with no command, only those events.
// False if the commit failed (the center is then in the failed state).
bool CenterImpl::CommitOwnCommands(std::vector<trade::Body> bodies) {
  const bool events_only = bodies.empty();
  const int64_t now_ms = NowMs();
  commands_.clear();
  command_dones_.clear();
  for (trade::Body& body : bodies) {
    commands_.push_back(trade::Command{now_ms, std::move(body), std::nullopt});
    command_dones_.emplace_back();
  }
  const Status status = JournalCommands(now_ms);
  if (!status.ok()) {
    EnterFailedState(status);
    return false;
  }
  ApplyAndAnswer();
  // Events alone change no state: nothing to re-judge, and no snapshot is due because of them
  // (MaybeSnapshot itself flushes events this way).
  if (!events_only) AfterBatch();
  return true;
}

// The order events of the last batch, committed alone: nothing else came to carry them.
void CenterImpl::FlushEvents() { CommitOwnCommands({}); }

// Asks the state, now and then, whether a campaign needs more quota (or has some to give back).
void CenterImpl::MaybeQuota() {
  if (options_.centers.empty()) return;
  const SteadyClock::time_point now = SteadyClock::now();
  if (now - quota_checked_at_ < kQuotaCheckInterval) return;
  quota_checked_at_ = now;
  std::vector<trade::Body> bodies = trade_->QuotaCommands(NowMs());
  if (bodies.empty()) return;
  CommitOwnCommands(std::move(bodies));
}

void CenterImpl::EnterFailedState(const Status& status) {
  failed_.store(true, std::memory_order_release);
  SURGE_LOG_ERROR(
      "center %s: a batch could not be made durable (journal or standby); answering everything "
      "unavailable from now on, since "
      "nothing may be acknowledged after a durability failure: %s",
      options_.center_id.c_str(), status.ToString().c_str());
}

// Every command expires due reservations first, so a Tick is needed only when no write arrived
// for a tick_interval; it makes the expiry durable and returns the stock.
void CenterImpl::MaybeTick() {
  if (SteadyClock::now() - last_write_at_ < options_.tick_interval) return;
  const std::optional<int64_t> next_expiry_ms = trade_->NextExpiryMs();
  if (!next_expiry_ms.has_value() || *next_expiry_ms > NowMs()) return;
  CommitOwnCommands({trade::Tick{}});
}

void CenterImpl::AfterBatch() {
  absl::flat_hash_set<std::string_view> touched_skus;
  std::deque<std::string> quota_skus;  // stable addresses for the views in touched_skus
  for (const trade::Command& command : commands_) {
    if (const auto* order = std::get_if<trade::PlaceOrder>(&command.body)) {
      for (const trade::OrderItem& item : order->items) touched_skus.insert(item.sku);
    } else if (const auto* campaign = std::get_if<trade::PutCampaign>(&command.body)) {
      touched_skus.insert(campaign->sku);
    } else if (const std::string* id = QuotaCampaign(command.body)) {
      // A grant may end a sell-out, a return start one.
      if (Result<trade::CampaignView> view = trade_->GetCampaign(*id); view.ok()) {
        touched_skus.insert(quota_skus.emplace_back(std::move(view->sku)));
      }
    }
  }
  RefreshSoldOut(touched_skus, last_now_ms_);
  MaybeSnapshot();
}

// Re-judges every flagged SKU and every SKU the last batch touched (only a PlaceOrder, a
// PutCampaign or a quota command can change whether a campaign is sold out), and publishes the
// flags if they changed.
void CenterImpl::RefreshSoldOut(const absl::flat_hash_set<std::string_view>& touched_skus,
                                int64_t now_ms) {
  SoldOutBoard::Flags next;
  const auto judge = [&](std::string_view sku) {
    if (next.contains(absl::string_view(sku.data(), sku.size()))) return;
    const int64_t until_ms = SoldOutUntilMs(sku, now_ms);
    if (until_ms > now_ms) next.emplace(sku, until_ms);
  };
  for (const auto& [sku, until_ms] : sold_out_flags_) judge(sku);
  for (const std::string_view sku : touched_skus) judge(sku);
  if (next == sold_out_flags_) return;
  sold_out_flags_ = std::move(next);
  sold_out_.Publish(sold_out_flags_);
}

// Until when (exclusive, ms) `sku`'s active campaign is known to stay sold out: until the
// campaign ends or the next reservation expires (which may return stock), whichever is first;
// for a campaign known only from a snapshot, whose end is unknown here, for one tick_interval
// (the writer re-judges at least that often). 0 if it is not sold out.
int64_t CenterImpl::SoldOutUntilMs(std::string_view sku, int64_t now_ms) const {
  const std::optional<trade::StockCounts> counts = trade_->ActiveCampaignCounts(sku, now_ms);
  if (!counts.has_value() || counts->available > 0) return 0;
  int64_t until_ms =
      campaign_windows_.EndOfActive(sku, now_ms).value_or(now_ms + options_.tick_interval.count());
  if (const std::optional<int64_t> next_expiry_ms = trade_->NextExpiryMs()) {
    until_ms = std::min(until_ms, *next_expiry_ms);
  }
  return until_ms;
}

// The snapshot is serialized and written synchronously on the writer, which takes no batch in the
// meantime: simple and obviously consistent, but it stalls intake for as long as serializing and
// syncing the whole state takes (a pause per snapshot_every_records records). Moving the write
// and sync to a background thread (serializing stays here) would shorten the pause.
void CenterImpl::MaybeSnapshot() {
  if (!journal_->SnapshotDue()) return;
  if (journal_->durable_sequence() < next_snapshot_attempt_sequence_) return;
  // Recovery starts after the snapshot: the events of what it covers must be journaled first. A
  // standby cannot journal them itself; it waits for a batch that leaves none pending (the
  // primary journals them right after its batches).
  if (trade_->PendingEventCount() > 0) {
    if (standby_.load(std::memory_order_acquire) || !CommitOwnCommands({})) return;
  }
  SURGE_ASSERT(trade_->PendingEventCount() == 0);
  const uint64_t sequence = journal_->durable_sequence();
  const SteadyClock::time_point started = SteadyClock::now();
  const std::string snapshot = trade_->Snapshot();
  const SteadyClock::time_point serialized = SteadyClock::now();
  const Status status = journal_->WriteSnapshot(sequence, snapshot);
  const auto ms = [](SteadyClock::duration duration) {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
  };
  if (status.ok()) {
    // The pause in intake, for operators tuning snapshot_every_records.
    SURGE_LOG_INFO(
        "center %s: snapshot at sequence %llu, %zu bytes: serialized in %lld ms, "
        "written in %lld ms",
        options_.center_id.c_str(), static_cast<unsigned long long>(sequence), snapshot.size(),
        ms(serialized - started), ms(SteadyClock::now() - serialized));
  } else {
    // The journal still holds every record. If the failure made it unusable, the next commit
    // fails and the center enters the failed state; otherwise retry after another interval.
    next_snapshot_attempt_sequence_ = sequence + options_.snapshot_every_records;
    SURGE_LOG_ERROR("center %s: writing the snapshot at sequence %llu failed: %s",
                    options_.center_id.c_str(), static_cast<unsigned long long>(sequence),
                    status.ToString().c_str());
  }
}

// Estimates how many commands the writer drains per second while busy (so it measures what the
// center can take, however little it is offered), and lets into the queue only as many as it
// drains in max_queue_delay. Never below one batch, so the writer always finds a full one.
void CenterImpl::MeasureDrain(size_t commands, SteadyClock::duration busy) {
  if (options_.max_queue_delay.count() == 0) return;
  drain_window_commands_ += commands;
  drain_window_busy_ += busy;
  constexpr SteadyClock::duration kWindow = std::chrono::milliseconds(10);
  if (drain_window_busy_ < kWindow) return;
  const double seconds = std::chrono::duration<double>(drain_window_busy_).count();
  const double measured = static_cast<double>(drain_window_commands_) / seconds;
  const auto previous = static_cast<double>(drain_rate_per_s_.load(std::memory_order_relaxed));
  // Smoothed, but quick to follow: a spike grows the batches, and with them the rate, within a
  // few windows.
  const double rate = previous == 0 ? measured : 0.5 * previous + 0.5 * measured;
  drain_rate_per_s_.store(static_cast<uint64_t>(rate), std::memory_order_relaxed);
  drain_window_commands_ = 0;
  drain_window_busy_ = {};
  const double delay_s = std::chrono::duration<double>(options_.max_queue_delay).count();
  queue_.SetAdmitLimit(std::max(options_.batch_records_max, static_cast<size_t>(rate * delay_s)));
}

void CenterImpl::RefreshStateHash() {
  if (!state_hash_stale_) return;
  state_hash_.store(trade_->StateHash(), std::memory_order_relaxed);
  state_hash_stale_ = false;
  state_hash_at_ = SteadyClock::now();
}

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Creates `dir` and its missing parents, and makes every new entry durable in its parent: a
// directory that a crash could take away would take the whole journal with it.
Status CreateDirDurably(Env& env, std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::vector<std::string> missing;
  for (std::string at = dir; !at.empty() && at != "/" && !env.FileExists(at);
       at = ParentDirectory(at)) {
    missing.push_back(at);
  }
  SURGE_RETURN_IF_ERROR(env.CreateDir(dir));
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    const std::string parent = ParentDirectory(*it);
    SURGE_RETURN_IF_ERROR(env.SyncDir(parent.empty() ? "." : parent));
  }
  return Status::Ok();
}

}  // namespace

std::optional<bus::Kind> PublishedKindOf(const trade::Command& command, bool at_master) {
  const trade::Body& body = command.body;
  if (IsMasterData(body)) {
    // At a sub-center these come from the master's stream: the master publishes them.
    if (at_master) return bus::Kind::kMasterData;
    return std::nullopt;
  }
  if (QuotaCampaign(body) != nullptr) {
    if (at_master) return bus::Kind::kMasterData;
    if (!command.origin.has_value()) return bus::Kind::kQuota;
  }
  return std::nullopt;
}

std::optional<bus::Kind> PublishedKind(std::string_view journal_payload, bool at_master) {
  if (trade::IsEventsRecord(journal_payload)) return bus::Kind::kOrders;
  const Result<trade::Command> command = trade::DecodeCommand(journal_payload);
  if (!command.ok()) return std::nullopt;
  return PublishedKindOf(*command, at_master);
}

bus::History JournalHistory(Env& env, std::string journal_dir, bool at_master) {
  return
      [&env, dir = std::move(journal_dir), at_master](
          uint64_t from, uint64_t through, const std::function<bool(const bus::Record&)>& visit) {
        return journal::ReadDurable(env, dir, from, through, journal::Options().record_bytes_max,
                                    [&](uint64_t sequence, std::string_view payload) {
                                      const std::optional<bus::Kind> kind =
                                          PublishedKind(payload, at_master);
                                      if (!kind.has_value()) return true;
                                      return visit(bus::Record{sequence, *kind, payload});
                                    });
      };
}

Result<std::unique_ptr<Center>> Center::Open(Env& env, const Options& options) {
  SURGE_RETURN_IF_ERROR(ValidateOptions(options));
  const Status created = CreateDirDurably(env, options.data_dir);
  if (!created.ok()) return created.Annotate("creating the data directory " + options.data_dir);
  // One process per data directory: a second writer would interleave two journals.
  auto lock = env.LockFile(JoinPath(options.data_dir, "LOCK"));
  if (!lock.ok()) return lock.status().Annotate("locking the data directory");
  auto center = std::make_unique<CenterImpl>(env, options);
  center->HoldLock(std::move(lock).value());
  SURGE_RETURN_IF_ERROR(center->Recover());
  if (!options.standby) center->Start();
  return std::unique_ptr<Center>(std::move(center));
}

}  // namespace surge::center
