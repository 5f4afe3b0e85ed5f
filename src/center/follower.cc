#include "center/follower.h"

#include <chrono>
#include <utility>
#include <variant>

#include "common/assert.h"
#include "common/log.h"

namespace surge::center {
namespace {

constexpr auto kRetryMin = std::chrono::milliseconds(50);
constexpr auto kRetryMax = std::chrono::milliseconds(2000);

Status NotInStream(const bus::StreamId& stream, const bus::Record& record, const char* what) {
  return Status(Code::kCorruption, "record " + std::to_string(record.sequence) + " of " +
                                       stream.center + "'s " + std::string(KindName(stream.kind)) +
                                       " stream " + what);
}

// The center a quota command is about, or nullptr for another command.
const std::string* QuotaCenter(const trade::Body& body) {
  if (const auto* request = std::get_if<trade::RequestQuota>(&body)) return &request->center;
  if (const auto* back = std::get_if<trade::ReturnQuota>(&body)) return &back->center;
  return nullptr;
}

}  // namespace

bool IsMasterData(const trade::Body& body) {
  return std::holds_alternative<trade::PutMerchant>(body) ||
         std::holds_alternative<trade::PutProduct>(body) ||
         std::holds_alternative<trade::PutUser>(body) ||
         std::holds_alternative<trade::PutInventory>(body) ||
         std::holds_alternative<trade::PutCampaign>(body) ||
         std::holds_alternative<trade::PutDemand>(body);
}

const std::string* QuotaCampaign(const trade::Body& body) {
  if (const auto* request = std::get_if<trade::RequestQuota>(&body)) return &request->campaign;
  if (const auto* back = std::get_if<trade::ReturnQuota>(&body)) return &back->campaign;
  return nullptr;
}

Result<trade::Body> RecordToBody(const bus::StreamId& stream, const bus::Record& record) {
  if (record.kind != stream.kind) return NotInStream(stream, record, "has another kind");
  if (stream.kind == bus::Kind::kOrders) {
    if (!trade::IsEventsRecord(record.payload)) {
      return NotInStream(stream, record, "is not a record of order events");
    }
    // Only the per-campaign deltas: a record of the current format carries them ahead of its
    // orders, which are then not read at all (an older record is decoded whole and summed).
    SURGE_ASSIGN_OR_RETURN(trade::EventsSummary summary,
                           trade::DecodeEventsSummary(record.payload));
    return trade::Body(trade::CenterOrders{stream.center, std::move(summary.deltas)});
  }
  SURGE_ASSIGN_OR_RETURN(trade::Command command, trade::DecodeCommand(record.payload));
  if (stream.kind == bus::Kind::kMasterData) {
    // The master's stream: master data, and the quota requests and returns it applied.
    if (!IsMasterData(command.body) && QuotaCampaign(command.body) == nullptr) {
      return NotInStream(stream, record, "is not master data");
    }
    return std::move(command.body);
  }
  // A center's quota stream: its own requests and returns only, which it took itself.
  const std::string* center = QuotaCenter(command.body);
  if (center == nullptr || *center != stream.center || command.origin.has_value()) {
    return NotInStream(stream, record, "is not a quota request or return of that center");
  }
  return std::move(command.body);
}

Follower::Follower(bus::Bus& bus, bus::StreamId stream, FollowerTarget target)
    : bus_(bus), stream_(std::move(stream)), target_(std::move(target)) {
  thread_ = std::thread([this] { Run(); });
}

Follower::~Follower() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool Follower::WaitStopping(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return stopping_; });
}

void Follower::Run() {
  auto backoff = kRetryMin;
  const std::string name = stream_.center + "/" + std::string(KindName(stream_.kind));
  while (!WaitStopping(std::chrono::milliseconds(0))) {
    const std::optional<uint64_t> after = target_.applied_through(stream_);
    if (!after.has_value()) {
      if (WaitStopping(backoff)) break;
      continue;
    }
    delivered_through_.store(*after);
    auto subscribed =
        bus_.Subscribe(stream_, *after, [this](const bus::Record& record) { Deliver(record); });
    if (!subscribed.ok()) {
      SURGE_LOG_WARNING("following %s after %llu: %s (retrying)", name.c_str(),
                        static_cast<unsigned long long>(*after),
                        subscribed.status().ToString().c_str());
      if (WaitStopping(backoff)) break;
      backoff = std::min(backoff * 2, kRetryMax);
      continue;
    }
    std::unique_ptr<bus::Subscription> subscription = std::move(subscribed).value();
    {
      std::unique_lock lock(mutex_);
      // A failed subscription keeps retrying by itself; only refused submissions need a restart.
      changed_.wait(lock, [&] { return stopping_ || broken_; });
    }
    subscription.reset();  // no Deliver runs after this
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ == 0; });
    if (stopping_) break;
    broken_ = false;
    lock.unlock();
    if (WaitStopping(backoff)) break;
    backoff = std::min(backoff * 2, kRetryMax);
  }
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return in_flight_ == 0; });
}

// On the subscription's thread, in sequence order.
void Follower::Deliver(const bus::Record& record) {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopping_ || broken_ || in_flight_ < kInFlightMax; });
    if (stopping_ || broken_) return;  // resubscribed later from what the state applied
    ++in_flight_;
  }
  delivered_through_.store(record.sequence);
  Result<trade::Body> body = RecordToBody(stream_, record);
  if (!body.ok()) {
    // A record that cannot apply never will: skipping it is what applying it would do. Said
    // loudly, since it means a center published what it should not have.
    SURGE_LOG_ERROR("skipping a record: %s", body.status().ToString().c_str());
    Answered(trade::Reply{});
    return;
  }
  trade::Origin origin{stream_.center, static_cast<uint8_t>(stream_.kind), record.sequence};
  target_.submit(std::move(origin), std::move(body).value(),
                 [this](trade::Reply reply) { Answered(reply); });
}

void Follower::Answered(const trade::Reply& reply) {
  const Code code = reply.status.code();
  {
    std::lock_guard lock(mutex_);
    SURGE_ASSERT(in_flight_ > 0);
    --in_flight_;
    // Not applied, and the records after it must not apply before it: start again from the state.
    if (code == Code::kOverloaded || code == Code::kUnavailable) broken_ = true;
  }
  changed_.notify_all();
}

}  // namespace surge::center
