// The gateway's routing decision for one request (private to gateway): answer it here, or forward
// it to one center. Pure: no I/O, no state beyond the immutable topology. gateway.h states the
// rules.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "http/http.h"
#include "topology/topology.h"

namespace surge::gateway {

struct Destination {
  // True: send `answer` (a local route or an error). False: forward to centers()[center], or,
  // when `center` is centers().size(), to the brain.
  bool answer_here = false;
  http::Response answer;
  size_t center = 0;
};

class Router {
 public:
  // Keeps a reference to `topology`, which must outlive the router. `has_brain`: the brain's
  // paths are forwarded (to index centers().size()), else answered 503 unavailable.
  explicit Router(const topology::Topology& topology, bool has_brain = false);

  // Thread-safe; never blocks. Parses a POST /v1/orders body with a thread-local json::Document.
  Destination Route(const http::Request& request) const;

  // The index of the center that an order id names ("o.<center>.<n>"), or not_found.
  Result<size_t> CenterOfOrder(std::string_view order_id) const;

 private:
  Destination RouteOrderPlacement(std::string_view body) const;

  const topology::Topology& topology_;
  const bool has_brain_;
  size_t master_index_ = 0;
  std::map<std::string, size_t, std::less<>> center_index_by_id_;
  std::string topology_json_;
};

}  // namespace surge::gateway
