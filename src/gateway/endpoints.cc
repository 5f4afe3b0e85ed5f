#include "gateway/endpoints.h"

#include <utility>

#include "common/assert.h"
#include "common/net.h"

namespace surge::gateway {

Result<Endpoint> ResolveEndpoint(const std::string& id, const topology::Address& address) {
  const Result<std::vector<SocketAddress>> addresses = ResolveTcp(address.host, address.port);
  if (!addresses.ok()) {
    return Status(Code::kInvalidArgument,
                  "gateway: center " + id + ": " + addresses.status().message());
  }
  Endpoint endpoint;
  endpoint.id = id;
  endpoint.address_text = address.ToString();
  endpoint.address = addresses->front().storage;
  endpoint.address_bytes = addresses->front().length;
  return endpoint;
}

Endpoint DownEndpoint(const std::string& id, std::string why) {
  SURGE_ASSERT(!why.empty());
  Endpoint endpoint;
  endpoint.id = id;
  endpoint.down = std::move(why);
  return endpoint;
}

Endpoints::Endpoints(std::vector<Endpoint> initial)
    : size_(initial.size()), slots_(std::make_unique<Slot[]>(initial.size())) {
  for (size_t i = 0; i < size_; ++i) {
    slots_[i].endpoint = std::make_shared<const Endpoint>(std::move(initial[i]));
  }
}

std::shared_ptr<const Endpoint> Endpoints::Current(size_t center, uint64_t* generation) const {
  SURGE_ASSERT(center < size_);
  const Slot& slot = slots_[center];
  std::lock_guard<std::mutex> lock(slot.mutex);
  *generation = slot.generation.load(std::memory_order_relaxed);
  return slot.endpoint;
}

void Endpoints::Replace(size_t center, Endpoint endpoint) {
  SURGE_ASSERT(center < size_);
  Slot& slot = slots_[center];
  auto published = std::make_shared<const Endpoint>(std::move(endpoint));
  std::lock_guard<std::mutex> lock(slot.mutex);
  slot.endpoint = std::move(published);
  // Release: a loop that sees the new generation and then takes the mutex gets this endpoint.
  slot.generation.fetch_add(1, std::memory_order_release);
}

void Endpoints::Suspect(size_t center) {
  SURGE_ASSERT(center < size_);
  if (slots_[center].suspected.exchange(true, std::memory_order_acq_rel)) return;
  if (listener_) listener_();
}

std::vector<size_t> Endpoints::TakeSuspects() {
  std::vector<size_t> suspects;
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].suspected.exchange(false, std::memory_order_acq_rel)) suspects.push_back(i);
  }
  return suspects;
}

}  // namespace surge::gateway
