#include "api/placement.h"

#include <utility>

#include "common/assert.h"
#include "common/ids.h"
#include "json/json.h"

namespace surge::api {

Placement::Placement(topology::Topology topology, std::string_view self_id)
    : topology_(std::move(topology)), self_id_(self_id) {
  SURGE_ASSERT_MSG(topology_.Find(self_id_) != nullptr, "the center is not in its topology");
  self_is_master_ = topology_.IsMaster(self_id_);
}

const topology::Center* Placement::UnlessSelf(const topology::Center& center) const {
  return center.id == self_id_ ? nullptr : &center;
}

const topology::Center* Placement::MasterDataOwner() const {
  return UnlessSelf(topology_.master());
}

const topology::Center* Placement::HomeOf(std::string_view user) const {
  return UnlessSelf(topology_.HomeOf(user));
}

const topology::Center* Placement::OrderOwner(std::string_view order_id) const {
  const std::string_view center_id = CenterOfOrderId(order_id);
  if (center_id.empty()) return nullptr;
  const topology::Center* center = topology_.Find(center_id);
  return center == nullptr ? nullptr : UnlessSelf(*center);
}

http::Response WrongCenter(const topology::Center& owner, std::string_view why) {
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Key("error");
  writer.BeginObject();
  writer.Field("code", "wrong_center");
  writer.Field("message", std::string(why) + ": that is center " + owner.id + " at " +
                              owner.address.ToString());
  writer.Field("center", owner.id);
  writer.Field("address", owner.address.ToString());
  writer.EndObject();
  writer.EndObject();
  http::Response response;
  response.status = 421;
  response.body = std::move(body);
  return response;
}

}  // namespace surge::api
