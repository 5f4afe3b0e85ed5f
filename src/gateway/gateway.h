// gateway: the stateless HTTP front of a deployment. It serves the whole of API.md by forwarding
// each request to the center that owns it and relaying that center's answer unchanged (status,
// body, Content-Type and Retry-After). Several gateways can run side by side: all they know is the
// topology, which is immutable, and, with a coordinator, where each center's primary is now.
//
// Routing (topology.h says how users map to centers):
//   PUT/GET /v1/{merchants,products,users,inventory,campaigns}/{id}  -> the master
//   POST /v1/orders                        -> the home center of the body's "user"
//   GET /v1/orders/{id}, POST .../pay|cancel -> the center named in the order id "o.<center>.<n>"
//   GET /v1/users/{id}/orders              -> the user's home center
//   GET /v1/topology                       -> answered here: Topology::ToJson()
//   GET /healthz                           -> answered here: {"status":"ok","role":"gateway"}
//   POST /v1/events, GET /v1/recommendations, /v1/forecast, /v1/audience
//                                          -> the brain (Options::brain), unchanged; without a
//                                             brain: 503 unavailable. Wrong methods 405 here.
// HEAD is forwarded as GET (the gateway's server drops the body). Answered by the gateway itself,
// with the body a center would give: an unknown path (404 not_found), a known path with a method
// it does not take (405 method_not_allowed), an invalid id in the path (400 bad_field), a POST
// /v1/orders body that is not JSON (400 bad_json) or lacks a valid "request_id" or "user" or has
// an unknown field (400 bad_field naming it; checked in the order a center checks them), an order
// id that names no center of the topology (404 not_found). None of these reach a center.
//
// Overload and failure, per center:
//   - At most in_flight_per_center_max requests per center are being forwarded at once (across
//     all threads); beyond it the gateway answers 503 overloaded with Retry-After: 1 at once.
//   - A center's own 503 overloaded (and its Retry-After) is relayed unchanged.
//   - A center that cannot be reached (connection refused, reset or closed, connect or request
//     timeout, a malformed response) makes the requests sent to it answer 503 unavailable with a
//     message naming the center. After a failed connect, requests for that center are answered
//     unavailable at once for reconnect_backoff, then the next request tries again.
//   A request that failed on a connection may or may not have been executed by the center; writes
//   are idempotent by request id (API.md), so a client simply retries. The gateway itself never
//   retries a request.
//
// Where a center is (hot standby, issue 5): without `coord`, at its topology address. With
// `coord`, a center may run as a primary/standby pair that holds the lease named after the center
// id (coord.h); its holder's address is "<http host:port>/<ship host:port>" (failover.h), or just
// "<http host:port>". A watcher thread reads every center's lease every coord_poll_interval, and
// at once (at most every 5 ms) after a request to a center failed to connect, timed out or lost
// its connection, or the center answered 421 or 503 unavailable (those answers are still relayed
// unchanged). Per center:
//   - the lease is held: requests go to the holder's HTTP address. When it changes, new requests
//     go to the new address at once (no backoff of the old one applies); requests already sent to
//     the old address keep their connections until answered, for moved_answer_timeout at most,
//     then they fail 503 unavailable (a frozen old primary cannot hold clients for the full
//     request_timeout), and those connections close.
//   - the lease is free and was held before (seen by this gateway): the center is failing over
//     and nobody may acknowledge anything (coord.h, "conservative"), so its requests are answered
//     503 unavailable at once ("center c1 is failing over ...") until a holder appears.
//   - the lease was never seen held by this gateway: the topology address stays in use (a center
//     that is not a pair simply never takes a lease).
//   - the holder's address does not parse or resolve, or the coordinator cannot be read: logged
//     to stderr (once per distinct problem) and ignored; the center stays where it was.
// Start reads every lease once before serving, so the first requests already go to the primaries.
//
// Threads: the HTTP server's event loops (`threads`) route requests and never block; forwarding
// runs on `upstream_threads` epoll loops, each with its own keep-alive connections to every center
// (opened on demand, reused, HTTP/1.1 pipelined up to upstream_pipeline_depth_max requests each).
// Center host names are resolved by Start (topology addresses) and by the watcher thread (lease
// holders), never on an event loop. A loop notices a move with one atomic load per request.
//
// Thread safety: port() and stats() may be called from any thread; Stop from any thread but the
// gateway's own.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "topology/topology.h"

namespace surge::gateway {

struct Options {
  // Required: the deployment the gateway routes for.
  std::optional<topology::Topology> topology;
  std::string host = "127.0.0.1";
  uint16_t port = 0;         // 0: the kernel picks (see Gateway::port)
  int threads = 0;           // event loops serving clients; 0: one per core
  int upstream_threads = 0;  // loops forwarding to centers; 0: as many as `threads`
  // Requests forwarded to one center and not yet answered, across all threads.
  size_t in_flight_per_center_max = 4096;
  // Keep-alive connections to each center, across all upstream threads (each thread gets an
  // equal share, at least one).
  size_t upstream_connections_per_center = 4;
  // Requests written on one upstream connection and not yet answered; more wait in the thread's
  // queue for that center.
  size_t upstream_pipeline_depth_max = 128;
  std::chrono::milliseconds connect_timeout{1'000};
  // From handing a request to an upstream thread to the center's complete answer.
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds reconnect_backoff{100};
  // An upstream connection unused this long is closed (shorter than the centers' own idle
  // timeout, so that a request is never written on a connection the center is closing).
  std::chrono::milliseconds upstream_idle_timeout{30'000};
  // Client side, as in http::ServerOptions.
  size_t body_bytes_max = size_t{1024} * 1024;
  size_t connections_max = 200'000;
  // A center's response larger than this is a failure of that center (503 unavailable).
  size_t response_bytes_max = size_t{64} * 1024 * 1024;
  // The coordinator that says where each center's primary is (see "Where a center is"): a
  // coord::Open spec, "file:<path>" or "etcd:<host:port>[,...]". Empty: topology addresses only.
  std::string coord;
  std::chrono::milliseconds coord_poll_interval{50};
  // Requests in flight at a center's old address when it moved get this long to be answered.
  std::chrono::milliseconds moved_answer_timeout{1'000};
  // Where the brain serves (`surge brain serve`): the brain's paths are forwarded there, like a
  // center's (same in-flight bound, connections, timeouts and 503 unavailable when it cannot be
  // reached). None: those paths answer 503 unavailable.
  std::optional<topology::Address> brain;
};

// Counters of one center, since Start. Read without a lock: each field is exact, but fields may
// be read at slightly different moments.
struct CenterStats {
  std::string center_id;
  std::string address;              // where its requests go now; empty while it is failing over
  uint64_t forwarded = 0;           // handed to an upstream thread
  uint64_t answered = 0;            // relayed a center's response (any status)
  uint64_t shed_overloaded = 0;     // answered 503 overloaded by the gateway (in-flight bound)
  uint64_t unavailable = 0;         // answered 503 unavailable by the gateway
  uint64_t connections_opened = 0;  // upstream connections attempted
  uint64_t in_flight = 0;           // forwarded and not yet answered, now
};

class Gateway {
 public:
  // Validates the options, resolves the centers' addresses, opens the coordinator and reads every
  // center's lease (if `coord` is set), binds, and starts the threads. invalid_argument for a
  // missing topology or a bad option (a bad coord spec included), or a center address that does
  // not resolve; io_error if the port cannot be bound; coord::Open's errors (say, a damaged lease
  // file). A coordinator that cannot be read is not an error (see "Where a center is").
  static Result<std::unique_ptr<Gateway>> Start(const Options& options);
  virtual ~Gateway() = default;
  virtual uint16_t port() const = 0;
  // One entry per center, in the order of topology().centers().
  virtual std::vector<CenterStats> stats() const = 0;
  // Stops serving and closes every connection, client and upstream; requests in flight are
  // dropped with their connections. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
};

}  // namespace surge::gateway
