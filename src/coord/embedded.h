// The embedded coordinator with a given boot id instead of the kernel's, so that a test can show
// what happens to leases across a reboot, and with the store's options, so that a test can make
// superseded versions go fast.
#pragma once

#include <memory>
#include <string>

#include "coord/coord.h"
#include "coord/versions.h"

namespace surge::coord::internal {

// Every coordinator on one directory must be opened with the same options (versions.h).
Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithOptions(const std::string& path,
                                                             std::string boot_id,
                                                             VersionDirectoryOptions options);
Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithBootId(const std::string& path,
                                                            std::string boot_id);

// The kernel's boot id (/proc/sys/kernel/random/boot_id).
Result<std::string> ReadBootId();

// The path of the newest version of the lease table in the directory `path`: the file to read
// (or, in a test, to damage). not_found if there is none.
Result<std::string> NewestLeaseFile(const std::string& path);

}  // namespace surge::coord::internal
