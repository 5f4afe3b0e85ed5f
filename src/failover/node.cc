#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/assert.h"
#include "common/log.h"
#include "failover/failover.h"
#include "replica/replica.h"
#include "topology/topology.h"

namespace surge::failover {

std::string LeaseAddress(const std::string& http_address, const std::string& ship_address) {
  return http_address + "/" + ship_address;
}

Result<Addresses> ParseLeaseAddress(std::string_view address) {
  const size_t slash = address.find('/');
  if (slash == std::string_view::npos) {
    return Status(Code::kInvalidArgument,
                  "lease address \"" + std::string(address) + "\" is not <http>/<ship>");
  }
  SURGE_ASSIGN_OR_RETURN(const topology::Address http,
                         topology::ParseAddress(address.substr(0, slash)));
  SURGE_ASSIGN_OR_RETURN(const topology::Address ship,
                         topology::ParseAddress(address.substr(slash + 1)));
  return Addresses{http.ToString(), ship.host, ship.port};
}

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr char kEligibleFile[] = "eligible";

class NodeImpl final : public Node {
 public:
  NodeImpl(Env& env, coord::Coordinator& coordinator, Options options)
      : env_(env), coord_(coordinator), options_(std::move(options)) {}
  ~NodeImpl() override { Stop(); }

  Status Open() {
    marked_ = env_.FileExists(JoinPath(options_.center.data_dir, kEligibleFile));
    SURGE_RETURN_IF_ERROR(OpenCenter(UINT64_MAX));
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  Status Wait() override {
    std::unique_lock lock(mutex_);
    ended_changed_.wait(lock, [&] { return ended_; });
    return outcome_;
  }

  void Stop() override;
  bool primary() const override { return primary_.load(std::memory_order_acquire); }
  uint64_t epoch() const override { return epoch_.load(std::memory_order_acquire); }
  center::Center* center() override {
    std::lock_guard lock(mutex_);
    return center_.get();
  }

 private:
  Status OpenCenter(uint64_t keep_through);
  void Run();
  // Standby: one step of following the lease's holder, or of taking the lease when it is free.
  void FollowOrTakeOver();
  void StartReceiver(const coord::Holder& holder);
  void StopReceiver();
  // Closes the standby center, drops its tail or installs the primary's snapshot as `resync`
  // says, and opens it again.
  Status ReopenForResync(const replica::Resync& resync);
  Status TakeOver(coord::Lease lease);
  // Primary: renews the lease when due; false once the node must step down.
  bool KeepLease();
  void End(Status why);
  void MarkEligible();
  bool MayAcknowledge() const {
    return SteadyClock::now().time_since_epoch().count() <
           valid_until_ns_.load(std::memory_order_acquire);
  }

  Env& env_;
  coord::Coordinator& coord_;
  const Options options_;
  bool marked_ = false;  // the "eligible" file exists
  bool eligible() const { return options_.initial_primary || marked_; }
  // While primary: notices at once that the center failed (a batch could not be shipped), even
  // while the node's thread waits on a slow lease renewal.
  std::thread guard_;

  mutable std::mutex mutex_;  // center_, ended_, outcome_
  std::unique_ptr<center::Center> center_;
  bool ended_ = false;
  Status outcome_;
  std::condition_variable ended_changed_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // Standby (node thread only).
  std::unique_ptr<replica::Receiver> receiver_;
  std::thread receiving_;
  std::atomic<bool> received_end_{false};
  Status received_status_;
  // What Run said the standby must change before following again (a tail, a snapshot).
  replica::Resync resync_;
  uint64_t following_epoch_ = 0;

  // Primary.
  std::atomic<bool> primary_{false};
  std::atomic<uint64_t> epoch_{0};
  std::unique_ptr<replica::Shipper> shipper_;
  coord::Lease lease_;
  SteadyClock::time_point renewed_at_;
  std::atomic<SteadyClock::rep> valid_until_ns_{0};
};

Status NodeImpl::OpenCenter(uint64_t keep_through) {
  center::Options options = options_.center;
  options.standby = true;
  options.standby_link = nullptr;
  options.keep_through = keep_through;
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<center::Center> center,
                         center::Center::Open(env_, options));
  std::lock_guard lock(mutex_);
  center_ = std::move(center);
  return Status::Ok();
}

void NodeImpl::Run() {
  const auto period = std::max(std::chrono::milliseconds(5), options_.lease_ttl / 10);
  while (!stopping_.load(std::memory_order_acquire)) {
    if (primary()) {
      if (!KeepLease()) return;
    } else {
      FollowOrTakeOver();
      std::lock_guard lock(mutex_);
      if (ended_) return;
    }
    std::this_thread::sleep_for(period);
  }
}

void NodeImpl::FollowOrTakeOver() {
  if (receiver_ != nullptr && received_end_.load(std::memory_order_acquire)) {
    replica::Resync resync = std::move(resync_);
    resync_ = replica::Resync{};
    const bool must_reopen = received_status_.code() == Code::kWrongState &&
                             (resync.must_truncate() || resync.must_install());
    if (!must_reopen) {
      SURGE_LOG_WARNING("node %s: stopped following: %s", options_.node.c_str(),
                        received_status_.ToString().c_str());
    }
    StopReceiver();
    if (must_reopen) {
      const Status reopened = ReopenForResync(resync);
      if (!reopened.ok()) return End(reopened);
    }
  }
  if (receiver_ != nullptr && receiver_->in_sync()) MarkEligible();
  Result<std::optional<coord::Holder>> holder = coord_.Read(options_.center.center_id);
  if (!holder.ok()) {
    SURGE_LOG_WARNING("node %s: reading the lease: %s", options_.node.c_str(),
                      holder.status().ToString().c_str());
    return;
  }
  if (holder->has_value() && (*holder)->owner != options_.node) {
    if (receiver_ != nullptr && following_epoch_ != (*holder)->epoch) StopReceiver();
    if (receiver_ == nullptr) StartReceiver(**holder);
    return;
  }
  // Free (or still held by an earlier incarnation of this node, which must run out first).
  if (!eligible()) return;
  const std::string ship_address =
      topology::Address{options_.ship_host, options_.ship_port}.ToString();
  Result<coord::Lease> lease =
      coord_.Acquire(options_.center.center_id, options_.node,
                     LeaseAddress(options_.http_address, ship_address), options_.lease_ttl);
  if (!lease.ok()) return;  // someone else was faster, or coord is unreachable: try again
  // valid_until counts from before the request: an Acquire that took most of the lease (a
  // stalled machine, a slow coordinator) leaves too little to promote and ship the first batch
  // with; promoting would only fail that batch and step down. Let it lapse and try again.
  if (lease->valid_until - SteadyClock::now() < options_.lease_ttl / 2) {
    SURGE_LOG_WARNING(
        "node %s: the lease came with too little time left (the Acquire took "
        "long); letting it lapse",
        options_.node.c_str());
    return;
  }
  const Status taken = TakeOver(std::move(lease).value());
  if (!taken.ok()) End(taken.Annotate("taking over"));
}

Status NodeImpl::ReopenForResync(const replica::Resync& resync) {
  {
    std::lock_guard lock(mutex_);
    center_.reset();
  }
  if (resync.must_install()) {
    SURGE_LOG_INFO("node %s: installing the primary's snapshot after record %llu (%zu bytes)",
                   options_.node.c_str(), static_cast<unsigned long long>(resync.snapshot_sequence),
                   resync.snapshot.size());
    const Status installed = replica::InstallSnapshot(env_, options_.center.data_dir, resync);
    if (!installed.ok()) return installed.Annotate("installing the primary's snapshot");
  }
  const Status reopened = OpenCenter(resync.keep_through);
  if (!reopened.ok()) return reopened.Annotate("reopening the standby");
  return Status::Ok();
}

void NodeImpl::StartReceiver(const coord::Holder& holder) {
  Result<Addresses> addresses = ParseLeaseAddress(holder.address);
  if (!addresses.ok()) {
    SURGE_LOG_WARNING("node %s: %s", options_.node.c_str(), addresses.status().ToString().c_str());
    return;
  }
  center::Center* center = this->center();
  SURGE_ASSERT(center != nullptr);
  replica::ReceiverOptions receiving;
  receiving.center = options_.center.center_id;
  receiving.primary_host = addresses->ship_host;
  receiving.primary_port = addresses->ship_port;
  receiving.epoch = holder.epoch;
  receiver_ = std::make_unique<replica::Receiver>(receiving, *center);
  following_epoch_ = holder.epoch;
  received_end_.store(false, std::memory_order_release);
  receiving_ = std::thread([this] {
    replica::Resync resync;
    received_status_ = receiver_->Run(&resync);
    resync_ = std::move(resync);
    received_end_.store(true, std::memory_order_release);
  });
}

void NodeImpl::StopReceiver() {
  if (receiver_ == nullptr) return;
  receiver_->Close();
  if (receiving_.joinable()) receiving_.join();
  if (receiver_->in_sync()) MarkEligible();
  receiver_.reset();
  following_epoch_ = 0;
}

Status NodeImpl::TakeOver(coord::Lease lease) {
  lease_ = std::move(lease);
  renewed_at_ = SteadyClock::now();
  valid_until_ns_.store(lease_.valid_until.time_since_epoch().count(), std::memory_order_release);
  StopReceiver();
  center::Center* center = this->center();
  replica::ShipperOptions shipping;
  shipping.center = options_.center.center_id;
  shipping.host = options_.ship_host;
  shipping.port = options_.ship_port;
  shipping.journal_dir = JoinPath(options_.center.data_dir, "journal");
  shipping.epoch = lease_.epoch;
  shipping.may_acknowledge = [this] { return MayAcknowledge(); };
  SURGE_ASSIGN_OR_RETURN(shipper_,
                         replica::Shipper::Start(env_, shipping, center->durable_sequence()));
  SURGE_RETURN_IF_ERROR(center->Promote(shipper_.get()));
  epoch_.store(lease_.epoch, std::memory_order_release);
  primary_.store(true, std::memory_order_release);
  guard_ = std::thread([this, center] {
    while (!stopping_.load(std::memory_order_acquire)) {
      if (center->failed()) {
        return End(Status(Code::kUnavailable,
                          "the center failed (a batch could not be shipped or synced)"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::lock_guard lock(mutex_);
      if (ended_) return;
    }
  });
  MarkEligible();
  SURGE_LOG_INFO("node %s: primary of center %s at epoch %llu (shipping on %s)",
                 options_.node.c_str(), options_.center.center_id.c_str(),
                 static_cast<unsigned long long>(lease_.epoch), shipper_->address().c_str());
  if (options_.on_primary) SURGE_RETURN_IF_ERROR(options_.on_primary(*center));
  return Status::Ok();
}

bool NodeImpl::KeepLease() {
  center::Center* center = this->center();
  if (center->failed()) {
    End(Status(Code::kUnavailable, "the center failed (a batch could not be shipped or synced)"));
    return false;
  }
  if (SteadyClock::now() - renewed_at_ < options_.lease_ttl / 4) return true;
  const Status renewed = coord_.Renew(lease_);
  if (renewed.ok()) {
    renewed_at_ = SteadyClock::now();
    valid_until_ns_.store(lease_.valid_until.time_since_epoch().count(), std::memory_order_release);
    return true;
  }
  if (renewed.code() == Code::kWrongState) {
    End(renewed.Annotate("node " + options_.node + " lost the lease"));
    return false;
  }
  // Unknown outcome (coord unreachable): keep trying; the shipper stops acknowledging on its own
  // once valid_until passes.
  SURGE_LOG_WARNING("node %s: renewing the lease: %s", options_.node.c_str(),
                    renewed.ToString().c_str());
  return true;
}

void NodeImpl::MarkEligible() {
  if (marked_) return;
  const std::string path = JoinPath(options_.center.data_dir, kEligibleFile);
  Result<std::unique_ptr<WritableFile>> file = env_.OpenWritable(path, /*truncate=*/true);
  Status status = file.status();
  if (status.ok()) status = (*file)->Append("in sync with a primary, or primary\n");
  if (status.ok()) status = (*file)->Sync();
  if (status.ok()) status = (*file)->Close();
  if (status.ok()) status = env_.SyncDir(options_.center.data_dir);
  if (!status.ok()) {
    SURGE_LOG_WARNING("node %s: recording eligibility: %s", options_.node.c_str(),
                      status.ToString().c_str());
    return;
  }
  marked_ = true;
}

void NodeImpl::End(Status why) {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  if (shipper_ != nullptr) shipper_->Close();  // nothing more is acknowledged
  SURGE_LOG_WARNING("node %s: stepping down: %s", options_.node.c_str(), why.ToString().c_str());
  ended_ = true;
  outcome_ = std::move(why);
  ended_changed_.notify_all();
}

void NodeImpl::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  if (guard_.joinable()) guard_.join();
  StopReceiver();
  if (shipper_ != nullptr) shipper_->Close();
  {
    std::lock_guard lock(mutex_);
    if (center_ != nullptr) center_->Stop();
  }
  // Released only once the center stopped: nothing is acknowledged after this.
  if (primary()) (void)coord_.Release(lease_);
  std::lock_guard lock(mutex_);
  if (!ended_) {
    ended_ = true;
    outcome_ = Status::Ok();
    ended_changed_.notify_all();
  }
}

}  // namespace

Result<std::unique_ptr<Node>> Node::Start(Env& env, coord::Coordinator& coordinator,
                                          Options options) {
  if (options.node.empty() || options.center.data_dir.empty() || options.ship_port == 0 ||
      options.http_address.empty()) {
    return Status(
        Code::kInvalidArgument,
        "a failover node needs a name, a data directory, an HTTP address and a ship port");
  }
  auto node = std::make_unique<NodeImpl>(env, coordinator, std::move(options));
  SURGE_RETURN_IF_ERROR(node->Open());
  return std::unique_ptr<Node>(std::move(node));
}

}  // namespace surge::failover
