// The embedded coordinator with a given boot id instead of the kernel's, so that a test can show
// what happens to leases across a reboot.
#pragma once

#include <memory>
#include <string>

#include "coord/coord.h"

namespace surge::coord::internal {

Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithBootId(const std::string& path,
                                                            std::string boot_id);

// The kernel's boot id (/proc/sys/kernel/random/boot_id).
Result<std::string> ReadBootId();

}  // namespace surge::coord::internal
