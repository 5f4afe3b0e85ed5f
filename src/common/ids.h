// Identifiers as API.md defines them: 1 to 64 characters from [A-Za-z0-9_.:-].
#pragma once

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

}  // namespace surge
