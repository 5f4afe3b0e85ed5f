// failover: runs one node of a center's primary/standby pair (issue 5).
//
// Two processes run a center, each a Node with its own data directory, both started the same way.
// The center's lease in coord (name: the center id) says which is the primary; its address,
// "<http host:port>/<ship host:port>", says where clients and the standby reach it.
//
//   standby: the center is open as a standby (center.h, "Hot standby"). The node follows the
//     lease's holder with a replica::Receiver (its epoch fences every other primary). When the
//     primary says this journal holds a tail nobody acknowledged, the node reopens the center
//     keeping only what the primary holds. When the lease is free (the primary died, froze or
//     lost its link, and its lease ran out) and this node is eligible, it takes the lease with a
//     new epoch, stops following, starts a replica::Shipper at that epoch and promotes its
//     center: it is the primary, and on_primary runs (the caller starts serving clients).
//   primary: renews the lease every ttl/4. The shipper lets a batch count as acknowledged only
//     before the lease's conservative valid_until, so a primary that cannot renew stops
//     acknowledging before anyone else can take over. When the lease is lost, the node steps
//     down for good: the shipper closes, the center fails everything from then on, and Wait
//     returns; the process should exit and be started again (it then comes back as a standby).
//
// Eligibility: a primary acknowledges only what its standby made durable, and never acknowledges
// anything without one in sync. So a node that has ever been in sync with a primary, or been the
// primary, holds everything ever acknowledged, and may take over; a node that was never in sync
// (a new, empty one) must not, or acknowledged orders would be lost. The node records it with a
// file "eligible" in its data directory once it is in sync or primary. Options::initial_primary
// makes the first node of a new deployment eligible from the start.
//
// Policy when the standby is gone: the primary stops acknowledging (its requests wait, then are
// shed as overloaded) until a standby is back in sync; a standby restarted from its own data
// directory catches up from where it stopped. Acknowledging alone would make the next failover
// lose what was acknowledged meanwhile (see "Eligibility").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "center/center.h"
#include "common/env.h"
#include "common/status.h"
#include "coord/coord.h"

namespace surge::failover {

struct Options {
  center::Options center;    // data_dir and center_id must be set; the standby fields are ours
  std::string node;          // this node's name, the lease's owner ("c1-a")
  std::string http_address;  // host:port where this node serves clients once primary
  std::string ship_host = "127.0.0.1";
  uint16_t ship_port = 0;  // where the shipper listens once primary (required)
  std::chrono::milliseconds lease_ttl{500};
  bool initial_primary = false;  // eligible before ever being in sync (see above)
  // Runs once, on the node's thread, when this node becomes the primary; the center is promoted
  // and takes orders. An error makes the node step down.
  std::function<Status(center::Center&)> on_primary;
};

class Node {
 public:
  // Opens the center as a standby and starts the node's thread. Errors: the center's Open.
  static Result<std::unique_ptr<Node>> Start(Env& env, coord::Coordinator& coordinator,
                                             Options options);
  virtual ~Node() = default;

  // Blocks until the node stepped down or failed (or Stop was called); returns why.
  virtual Status Wait() = 0;
  // Stops the node: releases the lease if it holds it, stops the center. Idempotent.
  virtual void Stop() = 0;
  virtual bool primary() const = 0;
  // The lease's epoch while primary (0 before).
  virtual uint64_t epoch() const = 0;
  // The center now; it changes when a standby reopens it, and is null during that moment. Only
  // for reads on a standby (tests) and for the primary's serving (fixed once primary).
  virtual center::Center* center() = 0;
};

// "<http>/<ship>" as the lease's address carries them, and back.
std::string LeaseAddress(const std::string& http_address, const std::string& ship_address);
struct Addresses {
  std::string http;
  std::string ship_host;
  uint16_t ship_port = 0;
};
Result<Addresses> ParseLeaseAddress(std::string_view address);

}  // namespace surge::failover
