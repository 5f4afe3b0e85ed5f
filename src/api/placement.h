// Private to api: where a request belongs in a deployment of several centers (issue 4's rule
// "writes go where they belong"), and the 421 wrong_center answer that names the right center.
#pragma once

#include <string>
#include <string_view>

#include "http/http.h"
#include "topology/topology.h"

namespace surge::api {

// The placement rules for the center `self_id` of `topology` (which must contain it):
//   - master data is written at the master only;
//   - a user's orders are placed, and listed, at the user's home center only;
//   - an order ("o.<center>.<n>", see center.h) is paid, cancelled and read at the center that
//     made it.
// Each lookup returns the center a request belongs to when that is another one, or null when it is
// this one (or when the request names no center of the topology: the center then answers it, e.g.
// not_found for an order id it never made).
class Placement {
 public:
  Placement(topology::Topology topology, std::string_view self_id);

  const topology::Topology& topology() const { return topology_; }
  bool is_master() const { return self_is_master_; }

  const topology::Center* MasterDataOwner() const;
  const topology::Center* HomeOf(std::string_view user) const;
  const topology::Center* OrderOwner(std::string_view order_id) const;

 private:
  const topology::Center* UnlessSelf(const topology::Center& center) const;

  topology::Topology topology_;
  std::string self_id_;
  bool self_is_master_;
};

// 421 wrong_center: {"error":{"code":"wrong_center","message":...,"center":<id>,
// "address":"HOST:PORT"}}, so that a client or gateway can go to the right center.
http::Response WrongCenter(const topology::Center& owner, std::string_view why);

}  // namespace surge::api
