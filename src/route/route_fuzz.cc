// Fuzzes the path matcher: it must never crash, a match's views must lie inside the input, and
// the parts of a match must spell the input back (nothing skipped, nothing invented). The first
// byte picks the method for MatchRequest; the rest is the path.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/ids.h"
#include "route/route.h"

namespace {

using surge::route::Match;

bool Inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// The path a match was made from, rebuilt from its parts.
std::string Spelled(const Match& match) {
  using surge::route::Resource;
  if (match.resource == Resource::kHealth) return "/healthz";
  if (match.resource == Resource::kTopology) return "/v1/topology";
  std::string path = "/v1/" + std::string(match.collection);
  if (match.resource == Resource::kOrders) return path;
  path += "/" + std::string(match.id);
  if (!match.action.empty()) path += "/" + std::string(match.action);
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr std::string_view kMethods[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
  const std::string_view method = kMethods[data[0] % std::size(kMethods)];
  const std::string_view path(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::optional<Match> match = surge::route::MatchPath(path);
  const surge::Result<Match> request = surge::route::MatchRequest(method, path);
  if (!match) {
    SURGE_ASSERT(!request.ok() && request.status().code() == surge::Code::kNotFound);
    return 0;
  }
  SURGE_ASSERT(Inside(match->collection, path));
  SURGE_ASSERT(Inside(match->id, path));
  SURGE_ASSERT(Inside(match->action, path));
  SURGE_ASSERT(Spelled(*match) == path);
  SURGE_ASSERT(match->id.find('/') == std::string_view::npos);
  if (request.ok()) {
    SURGE_ASSERT(request->resource == match->resource && request->id.data() == match->id.data());
  } else {
    SURGE_ASSERT(request.status().code() == surge::Code::kMethodNotAllowed);
  }
  const surge::Status id = surge::route::CheckPathId(*match);
  SURGE_ASSERT(id.ok() || id.code() == surge::Code::kBadField);
  const bool has_id = match->resource != surge::route::Resource::kOrders &&
                      match->resource != surge::route::Resource::kHealth &&
                      match->resource != surge::route::Resource::kTopology;
  SURGE_ASSERT(id.ok() == (!has_id || surge::IsValidId(match->id)));
  return 0;
}
