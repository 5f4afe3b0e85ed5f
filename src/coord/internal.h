// What the two coordinators share: checks of the caller's arguments, and the boot id.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::coord::internal {

// An API.md id: 1 to kNameBytesMax characters of [A-Za-z0-9_.:-].
bool IsValidName(std::string_view name);
// 1 to `bytes_max` printable ASCII characters without spaces ('!' to '~').
bool IsValidToken(std::string_view token, size_t bytes_max);

// invalid_argument naming the first bad argument, per coord.h's limits.
Status CheckLeaseArguments(std::string_view name, std::string_view owner, std::string_view address,
                           std::chrono::milliseconds ttl);
Status CheckName(std::string_view name);

}  // namespace surge::coord::internal
