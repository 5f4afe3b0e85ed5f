// Private to center: applying one bus stream of another center, exactly once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bus/bus.h"
#include "center/center.h"
#include "trade/trade.h"

namespace surge::center {

// What a follower needs of its center.
struct FollowerTarget {
  // The state's position in a stream (trade::Trade::AppliedThrough); nullopt if the center could
  // not answer now (overloaded, stopping).
  std::function<std::optional<uint64_t>(const bus::StreamId& stream)> applied_through;
  // Center::SubmitReplicated.
  std::function<void(trade::Origin origin, trade::Body body, Done done)> submit;
};

// Subscribes to `stream` after what the state says was applied, turns each record into the
// command the center applies (RecordToBody), and submits it with its origin, keeping at most
// kInFlightMax in flight (the subscription's thread waits: back-pressure to the bus). If a
// submission is refused (overloaded, unavailable) or the subscription fails, it drops the
// subscription, waits for what is in flight, and subscribes again after what the state then says:
// records are never applied out of order or twice, because the state decides where to resume.
class Follower {
 public:
  static constexpr size_t kInFlightMax = 256;

  Follower(bus::Bus& bus, bus::StreamId stream, FollowerTarget target);
  // Stops following; returns once nothing it submitted is still unanswered.
  ~Follower();

  uint64_t delivered_through() const { return delivered_through_.load(); }

 private:
  void Run();
  void Deliver(const bus::Record& record);
  void Answered(const trade::Reply& reply);
  bool WaitStopping(std::chrono::milliseconds timeout);

  bus::Bus& bus_;
  const bus::StreamId stream_;
  const FollowerTarget target_;

  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool broken_ = false;  // a submission was refused: resubscribe
  size_t in_flight_ = 0;
  std::atomic<uint64_t> delivered_through_{0};
  std::thread thread_;
};

// True for the master-data commands (merchants, products, users, inventory, campaigns): what only
// the master takes from clients, and publishes.
bool IsMasterData(const trade::Body& body);
// The campaign of a quota request or return; nullptr for any other command.
const std::string* QuotaCampaign(const trade::Body& body);

// The command a center applies for a record of another center's `stream`: the master's commands
// as they are (only master-data, quota and nothing else); a sub-center's quota requests and
// returns (for that center only); a sub-center's order events as CenterOrders. corruption for a
// record that does not decode or does not belong in its stream.
Result<trade::Body> RecordToBody(const bus::StreamId& stream, const bus::Record& record);

}  // namespace surge::center
