// Fuzzes snapshot restore: the input is a snapshot without its checksum (appended here, so that
// the fuzzer explores the decoder instead of the CRC). Restore either fails with corruption or
// invalid_argument and leaves the state alone, or yields a state that keeps every invariant and
// whose own snapshot restores to itself.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common/assert.h"
#include "common/coding.h"
#include "trade/trade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string snapshot(reinterpret_cast<const char*>(data), size);
  const uint32_t crc = surge::Crc32c(snapshot);
  snapshot.append(reinterpret_cast<const char*>(&crc), 4);

  auto trade = surge::trade::Trade::Create(surge::trade::Options{"o."});
  const uint64_t empty_hash = trade->StateHash();
  const surge::Status status = trade->Restore(snapshot);
  if (!status.ok()) {
    SURGE_ASSERT(status.code() == surge::Code::kCorruption ||
                 status.code() == surge::Code::kInvalidArgument);
    SURGE_ASSERT(trade->StateHash() == empty_hash);
    return 0;
  }
  SURGE_ASSERT(trade->CheckInvariants().ok());
  const std::string canonical = trade->Snapshot();
  SURGE_ASSERT(trade->Restore(canonical).ok());
  SURGE_ASSERT(trade->Snapshot() == canonical);
  return 0;
}
