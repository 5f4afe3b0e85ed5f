// Fuzzes journal recovery: the input becomes the segment files (and maybe a snapshot) of a journal
// directory in a MemEnv, which Journal::Open then recovers. Open must return ok or corruption,
// never crash or hang; and when it succeeds, the journal must take a new record and recover again
// to exactly one record more.
//
// Input layout: [flags u8][then, per file, a description (see below)]
//   flags bit 0: the segment files are built from records described by the input (otherwise the
//                rest of the input is the raw content of one segment file)
//   flags bit 1: add a snapshot file
//   flags bit 2: split the records over two segment files
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/mem_env.h"
#include "journal/journal.h"
#include "journal/record.h"

namespace surge::journal {
namespace {

constexpr char kDir[] = "/fuzz";

// Hands out the input byte by byte; past the end it returns zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : bytes_(reinterpret_cast<const char*>(data), size) {}
  uint8_t Byte() {
    if (bytes_.empty()) return 0;
    const auto value = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return value;
  }
  std::string_view Bytes(size_t count) {
    const std::string_view taken = bytes_.substr(0, count);
    bytes_.remove_prefix(taken.size());
    return taken;
  }
  std::string_view Rest() { return Bytes(bytes_.size()); }
  bool empty() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

void Check(bool condition) {
  if (!condition) std::abort();
}

void WriteFile(MemEnv& env, const std::string& path, std::string_view content) {
  auto file = env.OpenWritable(path, /*truncate=*/true);
  Check(file.ok());
  Check((*file)->Append(content).ok());
  Check((*file)->Sync().ok());
}

// Records with sequences that mostly follow on, then damage: a flipped bit and a cut tail.
std::string BuildRecords(Input& input, uint64_t first) {
  std::string bytes;
  uint64_t sequence = first;
  const int count = input.Byte() % 16;
  for (int i = 0; i < count; ++i) {
    const uint8_t step = input.Byte();
    if (step == 0xff) --sequence;  // a repeat
    if (step == 0xfe) ++sequence;  // a gap
    EncodeRecord(sequence++, input.Bytes(input.Byte() % 40), &bytes);
  }
  const uint8_t damage = input.Byte();
  if ((damage & 1) != 0 && !bytes.empty()) {
    const size_t offset = (static_cast<size_t>(input.Byte()) << 8 | input.Byte()) % bytes.size();
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << (input.Byte() % 8)));
  }
  if ((damage & 2) != 0) bytes.resize(bytes.size() - std::min<size_t>(bytes.size(), input.Byte()));
  return bytes;
}

std::string BuildSnapshot(Input& input, uint64_t sequence) {
  std::string payload(input.Bytes(input.Byte() % 32));
  std::string file = EncodeSnapshotHeader(sequence, payload) + payload;
  if ((input.Byte() & 1) != 0) {
    const size_t offset = input.Byte() % file.size();
    file[offset] = static_cast<char>(file[offset] ^ 0x04);
  }
  return file;
}

void BuildDirectory(MemEnv& env, Input& input) {
  Check(env.CreateDir(kDir).ok());
  const uint8_t flags = input.Byte();
  if ((flags & 2) != 0) {
    const uint64_t sequence = 1 + input.Byte() % 8;
    const std::string snapshot =
        (flags & 1) != 0 ? BuildSnapshot(input, sequence) : std::string(input.Bytes(input.Byte()));
    WriteFile(env, JoinPath(kDir, SnapshotName(sequence)), snapshot);
  }
  if ((flags & 1) == 0) {
    WriteFile(env, JoinPath(kDir, SegmentName(1)), input.Rest());
    return;
  }
  WriteFile(env, JoinPath(kDir, SegmentName(1)), BuildRecords(input, 1));
  if ((flags & 4) != 0) {
    const uint64_t first = 1 + input.Byte() % 16;
    WriteFile(env, JoinPath(kDir, SegmentName(first)), BuildRecords(input, first));
  }
}

Result<std::unique_ptr<Journal>> OpenChecked(MemEnv& env, const Options& options,
                                             RecoveryStats* stats) {
  // At most one snapshot, first; then records in order, one after another, from just after it.
  uint64_t next = 1;
  bool any = false;
  RecoveryHandler handler;
  handler.on_snapshot = [&next, &any](uint64_t sequence, std::string_view) {
    Check(!any);
    any = true;
    next = sequence + 1;
    return Status::Ok();
  };
  handler.on_record = [&next, &any](uint64_t sequence, std::string_view) {
    Check(sequence == next);
    any = true;
    next = sequence + 1;
    return Status::Ok();
  };
  return Journal::Open(env, options, handler, stats);
}

}  // namespace
}  // namespace surge::journal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge;
  using namespace surge::journal;
  // Torn tails are the common case here; a warning for each would only slow the fuzzer down.
  SetLogLevel(LogLevel::kError);
  MemEnv env;
  Input input(data, size);
  BuildDirectory(env, input);

  Options options;
  options.dir = kDir;
  options.record_bytes_max = 64;
  options.segment_bytes_max = 256;
  RecoveryStats stats;
  auto opened = OpenChecked(env, options, &stats);
  if (!opened.ok()) {
    Check(opened.status().code() == Code::kCorruption);
    return 0;
  }
  Journal& journal = **opened;
  Check(journal.last_sequence() == stats.last_sequence);
  Check(journal.durable_sequence() == stats.last_sequence);
  (void)journal.ReadFrom(0, [](uint64_t, std::string_view) { return true; });

  // A recovered journal takes a new record, and recovers again to exactly one more.
  Check(journal.Append("after recovery") == stats.last_sequence + 1);
  Check(journal.Commit().ok());
  opened->reset();
  RecoveryStats again;
  auto reopened = OpenChecked(env, options, &again);
  Check(reopened.ok());
  Check(again.last_sequence == stats.last_sequence + 1);
  Check(again.torn_bytes_dropped == 0);
  return 0;
}
