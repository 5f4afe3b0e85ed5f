// The gateway's lease watcher (private to gateway): follows each center's lease in coord (its
// name is the center id) and moves the center's endpoint (endpoints.h) to wherever the lease's
// holder serves HTTP. gateway.h states the rules it follows; in short, per center:
//   - a holder with a usable address: the center is forwarded there (moved when it differs);
//   - no holder, and one was seen before: the center is down (503 unavailable at once) until a
//     holder appears; no holder and never one seen: the topology address stays in use;
//   - an address that does not parse or resolve, or a failed Read: logged (once per distinct
//     message) and ignored; the endpoint stays as it was.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "coord/coord.h"
#include "gateway/endpoints.h"
#include "topology/topology.h"

namespace surge::gateway {

// The HTTP address a lease's holder advertises: its address up to the first '/' (the failover
// nodes' "<http host:port>/<ship host:port>"), or the whole address if it has no '/'.
// invalid_argument if that is not a topology HOST:PORT.
Result<topology::Address> HttpAddressOfLease(std::string_view lease_address);

class LeaseWatcher {
 public:
  // Reads the leases of `endpoints`' centers (named by Endpoint::id) in `coordinator` every
  // `period`, and at once (at most every few milliseconds) when a center is suspected. Only the
  // first `watched` endpoints are centers (the rest, such as the brain, have no lease);
  // default: all of them.
  LeaseWatcher(std::unique_ptr<coord::Coordinator> coordinator, Endpoints& endpoints,
               std::chrono::milliseconds period, size_t watched = SIZE_MAX);
  ~LeaseWatcher();
  LeaseWatcher(const LeaseWatcher&) = delete;
  LeaseWatcher& operator=(const LeaseWatcher&) = delete;

  // Reads every center's lease once, on the caller's thread (before serving, so that the first
  // requests already go to the primaries).
  void PollAll();
  // Starts the watching thread; installs itself as `endpoints`' suspect listener.
  void Start();
  // Joins the thread (waiting for a Read in progress). Idempotent.
  void Stop();

 private:
  // What the watcher knows of one center.
  struct Center {
    std::string id;
    bool ever_held = false;      // a holder with a usable address was seen
    bool down = false;           // the published endpoint is a DownEndpoint
    std::string address_text;    // of the published endpoint, when not down
    std::string last_complaint;  // the last problem logged, so each is logged once
    // A holder's address that did not resolve, and when it may be looked up again.
    std::string unresolved_address;
    std::chrono::steady_clock::time_point resolve_again_at;
  };

  void Run();
  void Poll(size_t center);
  void Follow(size_t index, const coord::Holder& holder);
  void Complain(Center& center, std::string complaint);

  const std::unique_ptr<coord::Coordinator> coordinator_;
  Endpoints& endpoints_;
  const std::chrono::milliseconds period_;
  std::vector<Center> centers_;  // the watching thread's (or PollAll's caller's) only

  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;     // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace surge::gateway
