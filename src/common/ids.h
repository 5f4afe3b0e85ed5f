// Identifiers as API.md defines them: 1 to 64 characters from [A-Za-z0-9_.:-].
#pragma once

#include <string>
#include <string_view>

namespace surge {

inline constexpr size_t kIdLengthMax = 64;

inline bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kIdLengthMax) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Order ids are "<prefix><n>" with the prefix "o.<center id>.", so that any order id names the
// center that made it (the gateway routes by it; a center answers wrong_center by it).
inline std::string OrderIdPrefix(std::string_view center_id) {
  return "o." + std::string(center_id) + ".";
}

// The center id in an order id "o.<center>.<n>" (a center id may itself hold dots: the counter is
// what follows the last one), or empty if `order_id` does not have that shape.
inline std::string_view CenterOfOrderId(std::string_view order_id) {
  constexpr std::string_view kPrefix = "o.";
  if (order_id.substr(0, kPrefix.size()) != kPrefix) return {};
  const size_t last_dot = order_id.rfind('.');
  if (last_dot <= kPrefix.size()) return {};  // "o.5": no center between the dots
  return order_id.substr(kPrefix.size(), last_dot - kPrefix.size());
}

}  // namespace surge
