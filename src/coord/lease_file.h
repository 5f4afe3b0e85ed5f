// The embedded coordinator's file: every name's last owner, address, epoch and expiry, as text
// that a person can read with cat:
//
//   surge-leases 1
//   boot 6f0c1d2e-8b7a-4c55-9d1e-0123456789ab
//   lease c1 7 123456789000 c1-a 127.0.0.1:9001
//   lease c2 3 0 c2-b 127.0.0.1:9002
//   crc32c 0a1b2c3d
//
// Line 2 is the kernel's boot id at the last write. A "lease" line is: name, epoch (the last one
// given out for the name, >= 1), expiry (CLOCK_MONOTONIC nanoseconds; 0 once released), owner
// and address; names in strictly increasing byte order, at most kEntriesMax of them. The last
// line is the CRC-32C of every byte before it, in 8 lowercase hex digits. Every line ends with a
// newline; fields are separated by exactly one space; numbers are decimal without sign or leading
// zeros. Anything else is corruption: the format is canonical, so Encode(Decode(text)) == text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::coord::internal {

inline constexpr size_t kEntriesMax = 1024;
inline constexpr size_t kBootIdBytesMax = 64;
// Bounds what a reader accepts before parsing (the largest valid file is about 600 KiB).
inline constexpr size_t kFileBytesMax = size_t{1} << 20;

struct LeaseEntry {
  std::string name;
  uint64_t epoch = 0;
  int64_t expiry_ns = 0;
  std::string owner;
  std::string address;

  bool operator==(const LeaseEntry&) const = default;
};

struct LeaseTable {
  std::string boot_id;              // 1 to kBootIdBytesMax of [0-9a-f-]
  std::vector<LeaseEntry> entries;  // sorted by name, unique

  bool operator==(const LeaseTable&) const = default;
  // The entry of `name`, or nullptr.
  LeaseEntry* Find(std::string_view name);
  // The entry of `name`, inserted (epoch 0, expiry 0) in name order if missing.
  LeaseEntry& FindOrInsert(std::string_view name);
};

// True if `table` satisfies every rule above (what Encode asserts and Decode checks).
bool IsValidTable(const LeaseTable& table);
bool IsValidBootId(std::string_view boot_id);

// The file's text, with its checksum line. Asserts IsValidTable.
std::string EncodeLeaseTable(const LeaseTable& table);

// Parses a whole file. corruption "line N: <what is wrong>" (or "checksum ..." / "file ...").
Result<LeaseTable> DecodeLeaseTable(std::string_view text);
// Parses the lines before the checksum line (the fuzz target reaches the grammar through it).
Result<LeaseTable> DecodeLeaseTableBody(std::string_view body);

}  // namespace surge::coord::internal
