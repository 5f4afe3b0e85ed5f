// Where each center is reached now (private to gateway). A center's endpoint starts as its
// topology address; with a coordinator, the lease watcher (watcher.h) replaces it, as a whole,
// when the center's primary moves. The upstream loops notice a move by the center's generation
// number (one atomic load per request) and only then take the mutex to fetch the new endpoint.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "topology/topology.h"

namespace surge::gateway {

// One center's address, resolved. Immutable once published.
struct Endpoint {
  std::string id;
  std::string noun = "center";  // "center" or "brain": what error messages call it
  std::string address_text;     // "127.0.0.1:18601": the Host header and error messages
  sockaddr_storage address{};
  socklen_t address_bytes = 0;
  // Non-empty: the center cannot be reached anywhere now (no node holds its lease); requests to
  // it are answered 503 unavailable at once with this message. The address fields are unset.
  std::string down;
};

// Resolves `address` for center `id`; invalid_argument naming the center if it does not resolve.
// May block (name lookup): never call it on an event loop.
Result<Endpoint> ResolveEndpoint(const std::string& id, const topology::Address& address);

// An endpoint for a center that no node serves now (see Endpoint::down).
Endpoint DownEndpoint(const std::string& id, std::string why);

class Endpoints {
 public:
  // One endpoint per center, in the topology's order.
  explicit Endpoints(std::vector<Endpoint> initial);
  Endpoints(const Endpoints&) = delete;
  Endpoints& operator=(const Endpoints&) = delete;

  size_t size() const { return size_; }

  // Changes every time the center's endpoint is replaced. Any thread, lock-free.
  uint64_t generation(size_t center) const {
    return slots_[center].generation.load(std::memory_order_acquire);
  }
  // The center's endpoint now, and the generation it belongs to. Any thread; a short mutex.
  std::shared_ptr<const Endpoint> Current(size_t center, uint64_t* generation) const;
  // Publishes a new endpoint for the center. Any thread.
  void Replace(size_t center, Endpoint endpoint);

  // Reports that a request to the center failed in a way that may mean it moved (its connection
  // failed or timed out, or it answered 421 or 503 unavailable): the listener, if any, is called
  // the first time after each TakeSuspects. Any thread; lock-free unless it calls the listener.
  void Suspect(size_t center);
  // The centers suspected since the last call, clearing them.
  std::vector<size_t> TakeSuspects();
  // Called (on the suspecting thread, so it must be quick) when a center becomes suspected. Set
  // it before any thread calls Suspect.
  void SetSuspectListener(std::function<void()> listener) { listener_ = std::move(listener); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> generation{1};
    std::atomic<bool> suspected{false};
    mutable std::mutex mutex;
    std::shared_ptr<const Endpoint> endpoint;  // guarded by mutex
  };

  const size_t size_;
  std::unique_ptr<Slot[]> slots_;
  std::function<void()> listener_;
};

}  // namespace surge::gateway
