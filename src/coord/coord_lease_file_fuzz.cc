// Fuzzes the lease file's strict parser three ways: the input as a whole file (checksum line
// included); as a body without one, so the fuzzer reaches the grammar without forging
// CRC-32Cs; and as an edit of a valid file's body (splice the input in at an offset the input
// chooses), resealed with a fresh checksum, so that near-valid files are explored from the first
// run. Whatever parses must be valid and re-encode to exactly its text (the format is canonical);
// whatever does not must be corruption.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/coding.h"
#include "coord/lease_file.h"

namespace {

using surge::coord::internal::DecodeLeaseTable;
using surge::coord::internal::DecodeLeaseTableBody;
using surge::coord::internal::EncodeLeaseTable;
using surge::coord::internal::IsValidTable;
using surge::coord::internal::LeaseTable;

void CheckFile(std::string_view text) {
  surge::Result<LeaseTable> file = DecodeLeaseTable(text);
  if (file.ok()) {
    SURGE_ASSERT(IsValidTable(*file));
    SURGE_ASSERT(EncodeLeaseTable(*file) == text);
  } else {
    SURGE_ASSERT(file.status().code() == surge::Code::kCorruption);
  }
}

void CheckBody(std::string_view body) {
  surge::Result<LeaseTable> table = DecodeLeaseTableBody(body);
  if (!table.ok()) {
    SURGE_ASSERT(table.status().code() == surge::Code::kCorruption);
    return;
  }
  SURGE_ASSERT(IsValidTable(*table));
  const std::string encoded = EncodeLeaseTable(*table);
  SURGE_ASSERT(encoded.substr(0, body.size()) == body);
  surge::Result<LeaseTable> again = DecodeLeaseTable(encoded);
  SURGE_ASSERT(again.ok() && *again == *table);
}

const std::string& ValidBody() {
  static const std::string body =
      "surge-leases 1\nboot 6f0c1d2e-8b7a-4c55-9d1e-0123456789ab\n"
      "lease c1 7 123456789000 c1-a 127.0.0.1:9001\n"
      "lease c2 3 0 c2-b [::1]:9002\n"
      "lease master 18446744073709551615 9223372036854775807 m x\n";
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckFile(input);
  CheckBody(input);
  if (size >= 2) {
    // Replace data[1] % 8 bytes at offset data[0] of the valid body by the rest of the input.
    std::string body = ValidBody();
    const size_t at = data[0] % (body.size() + 1);
    body.replace(at, std::min<size_t>(data[1] % 8, body.size() - at), input.substr(2));
    char checksum[32];
    std::snprintf(checksum, sizeof(checksum), "crc32c %08x\n", surge::Crc32c(body));
    CheckBody(body);
    CheckFile(body + checksum);
  }
  return 0;
}
