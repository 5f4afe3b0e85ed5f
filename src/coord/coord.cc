#include "coord/coord.h"

#include "coord/internal.h"

namespace surge::coord {
namespace internal {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kNameBytesMax) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidToken(std::string_view token, size_t bytes_max) {
  if (token.empty() || token.size() > bytes_max) return false;
  for (const char c : token) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

Status CheckName(std::string_view name) {
  if (IsValidName(name)) return Status::Ok();
  return Status(Code::kInvalidArgument, "lease name \"" + std::string(name.substr(0, 80)) +
                                            "\": expected 1 to 64 characters of [A-Za-z0-9_.:-]");
}

Status CheckLeaseArguments(std::string_view name, std::string_view owner, std::string_view address,
                           std::chrono::milliseconds ttl) {
  SURGE_RETURN_IF_ERROR(CheckName(name));
  if (!IsValidToken(owner, kOwnerBytesMax)) {
    return Status(Code::kInvalidArgument,
                  "lease owner \"" + std::string(owner.substr(0, 80)) +
                      "\": expected 1 to 256 printable ASCII characters without spaces");
  }
  if (!IsValidToken(address, kAddressBytesMax)) {
    return Status(Code::kInvalidArgument,
                  "lease address \"" + std::string(address.substr(0, 80)) +
                      "\": expected 1 to 256 printable ASCII characters without spaces");
  }
  if (ttl < kTtlMin || ttl > kTtlMax) {
    return Status(Code::kInvalidArgument,
                  "lease ttl " + std::to_string(ttl.count()) + " ms: expected 1 ms to 1 hour");
  }
  return Status::Ok();
}

}  // namespace internal

std::chrono::steady_clock::time_point ValidUntil(std::chrono::steady_clock::time_point sent,
                                                 std::chrono::milliseconds ttl) {
  SURGE_ASSERT(ttl.count() > 0);
  return sent + ttl - ttl / 10;
}

Result<std::unique_ptr<Coordinator>> Open(std::string_view spec) {
  if (spec.starts_with("file:") && spec.size() > 5) {
    return OpenEmbedded(std::string(spec.substr(5)));
  }
  if (spec.starts_with("etcd:") && spec.size() > 5) {
    std::vector<std::string> endpoints;
    std::string_view rest = spec.substr(5);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      endpoints.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
      if (rest.empty()) endpoints.emplace_back();  // a trailing comma: refused by OpenEtcd
    }
    return OpenEtcd(std::move(endpoints));
  }
  return Status(Code::kInvalidArgument,
                "coordinator \"" + std::string(spec.substr(0, 200)) +
                    "\": expected file:<path> or etcd:<host:port>[,<host:port>...]");
}

}  // namespace surge::coord
