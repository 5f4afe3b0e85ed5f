#include "gateway/watcher.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "common/log.h"

namespace surge::gateway {
namespace {

using Clock = std::chrono::steady_clock;

// Suspicions are acted on at most this often, so that a stream of failing requests costs a
// bounded rate of reads of the coordinator.
constexpr std::chrono::milliseconds kSuspectSpacing{5};
// A holder's address that did not resolve is looked up again at most this often: a name lookup
// may take long, and the watcher serves every center.
constexpr std::chrono::milliseconds kResolveRetry{1'000};

}  // namespace

Result<topology::Address> HttpAddressOfLease(std::string_view lease_address) {
  const std::string_view http = lease_address.substr(0, lease_address.find('/'));
  Result<topology::Address> address = topology::ParseAddress(http);
  if (!address.ok()) {
    return Status(Code::kInvalidArgument,
                  "lease address \"" + std::string(lease_address) +
                      "\" has no usable HTTP address: " + address.status().message());
  }
  return address;
}

LeaseWatcher::LeaseWatcher(std::unique_ptr<coord::Coordinator> coordinator, Endpoints& endpoints,
                           std::chrono::milliseconds period, size_t watched)
    : coordinator_(std::move(coordinator)), endpoints_(endpoints), period_(period) {
  SURGE_ASSERT(coordinator_ != nullptr && period_.count() > 0);
  for (size_t i = 0; i < std::min(watched, endpoints_.size()); ++i) {
    uint64_t generation = 0;
    const std::shared_ptr<const Endpoint> endpoint = endpoints_.Current(i, &generation);
    Center center;
    center.id = endpoint->id;
    center.address_text = endpoint->address_text;
    centers_.push_back(std::move(center));
  }
}

LeaseWatcher::~LeaseWatcher() { Stop(); }

void LeaseWatcher::PollAll() {
  endpoints_.TakeSuspects();  // every center is read now anyway
  for (size_t i = 0; i < centers_.size(); ++i) Poll(i);
}

void LeaseWatcher::Start() {
  SURGE_ASSERT(!thread_.joinable());
  endpoints_.SetSuspectListener([this] {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken_ = true;
    }
    wake_.notify_one();
  });
  thread_ = std::thread([this] { Run(); });
}

void LeaseWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LeaseWatcher::Run() {
  Clock::time_point next_poll = Clock::now() + period_;
  Clock::time_point suspects_not_before = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    if (now >= next_poll) {
      woken_ = false;
      lock.unlock();
      PollAll();
      lock.lock();
      next_poll = Clock::now() + period_;
      continue;
    }
    if (woken_ && now >= suspects_not_before) {
      woken_ = false;
      lock.unlock();
      for (const size_t center : endpoints_.TakeSuspects()) {
        if (center < centers_.size()) Poll(center);  // the brain has no lease
      }
      lock.lock();
      suspects_not_before = now + kSuspectSpacing;
      continue;
    }
    wake_.wait_until(lock, woken_ ? std::min(next_poll, suspects_not_before) : next_poll);
  }
}

void LeaseWatcher::Poll(size_t index) {
  Center& center = centers_[index];
  const Result<std::optional<coord::Holder>> holder = coordinator_->Read(center.id);
  if (!holder.ok()) {
    return Complain(center, "cannot read the lease of center " + center.id + ": " +
                                holder.status().ToString() + " (keeping " +
                                (center.down ? "it down" : center.address_text) + ")");
  }
  if (holder->has_value()) return Follow(index, **holder);
  // No holder: nobody acts as the primary (coord.h, "conservative"), so nothing sent anywhere
  // could be acknowledged. Before any holder was seen, the center may simply not be a pair.
  if (!center.ever_held || center.down) return;
  center.down = true;
  center.last_complaint.clear();
  SURGE_LOG_WARNING(
      "gateway: no node holds the lease of center %s: answering unavailable until "
      "one does",
      center.id.c_str());
  endpoints_.Replace(index, DownEndpoint(center.id, "center " + center.id +
                                                        " is failing over: no node holds its "
                                                        "lease; retry shortly"));
}

void LeaseWatcher::Follow(size_t index, const coord::Holder& holder) {
  Center& center = centers_[index];
  const Result<topology::Address> address = HttpAddressOfLease(holder.address);
  if (!address.ok()) {
    return Complain(center, "center " + center.id + ": ignoring the lease of " + holder.owner +
                                " (epoch " + std::to_string(holder.epoch) +
                                "): " + address.status().message());
  }
  const std::string text = address->ToString();
  if (!center.down && text == center.address_text) {
    center.ever_held = true;
    center.last_complaint.clear();
    return;
  }
  if (text == center.unresolved_address && Clock::now() < center.resolve_again_at) return;
  Result<Endpoint> endpoint = ResolveEndpoint(center.id, *address);
  if (!endpoint.ok()) {
    center.unresolved_address = text;
    center.resolve_again_at = Clock::now() + kResolveRetry;
    return Complain(center, "center " + center.id + ": ignoring the lease of " + holder.owner +
                                " (epoch " + std::to_string(holder.epoch) +
                                "): " + endpoint.status().message());
  }
  SURGE_LOG_INFO("gateway: center %s is served by %s at %s (epoch %llu)%s%s", center.id.c_str(),
                 holder.owner.c_str(), text.c_str(), static_cast<unsigned long long>(holder.epoch),
                 center.down ? "" : ", moved from ",
                 center.down ? "" : center.address_text.c_str());
  center.ever_held = true;
  center.down = false;
  center.address_text = text;
  center.unresolved_address.clear();
  center.last_complaint.clear();
  endpoints_.Replace(index, std::move(endpoint).value());
}

void LeaseWatcher::Complain(Center& center, std::string complaint) {
  if (complaint == center.last_complaint) return;
  SURGE_LOG_WARNING("gateway: %s", complaint.c_str());
  center.last_complaint = std::move(complaint);
}

}  // namespace surge::gateway
