// MemEnv: an in-memory Env that simulates a disk, a clock and a random source, for crash tests,
// fault injection and deterministic simulation.
//
// The disk model is deliberately pessimistic, so that code which passes against it does not rely
// on luck:
//   - File data. Every file has the bytes that reads see and a durable image: what survives a
//     crash. WritableFile::Sync makes the file's whole content durable; TruncateFile cuts the file
//     and makes the result durable (as ftruncate + fdatasync do). Append, and emptying a file with
//     OpenWritable(truncate = true), change only what reads see until the next Sync.
//   - Directory entries. Creating a file (OpenWritable of a missing path), RenameFile, RemoveFile
//     and CreateDir change the namespace at once, but the change becomes durable only when SyncDir
//     is called on the parent directory. A file created and synced whose directory was never
//     synced is lost by a crash; a renamed file whose directory was not synced is back under its
//     old name. The roots ("/", and "" or "." for the current directory) always exist and
//     are durable.
//   - Crash() simulates power loss (or kill -9 followed by a reboot): every unsynced byte and every
//     unsynced directory change is dropped, unless CrashOptions says to keep some of them. A "torn"
//     write is modelled by keeping a prefix of a file's unsynced appended bytes; a test can cut at
//     every byte offset with CrashOptions::keep_unsynced_bytes. WritableFiles opened before the
//     crash belong to the dead process: Append and Sync on them fail with io_error afterwards.
//
// Simplifications: a crash never corrupts durable bytes (use FlipBit for that); a failed Append
// writes nothing and a failed Sync makes nothing durable; directories can be created but not
// removed or renamed; there is no limit on space.
//
// Faults: FailNth makes the n-th next operation of a kind (append, sync, rename, ...) fail with
// io_error, once or from then on. FlipBit damages a stored byte, durable image included.
//
// Time and randomness: the clocks stand still until SetMonotonicNow, SetWallNowMs or AdvanceBy
// move them. The monotonic clock starts at zero, the wall clock at kMemEnvWallStartMs
// (2024-11-11 00:00:00 UTC). Random is a deterministic sequence (splitmix64) fixed by the seed.
//
// Thread safety: every method, and the WritableFiles it hands out, may be called from any thread;
// one mutex serializes them all. A single WritableFile is still meant for one thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace surge {

// The kinds of operation that FailNth can make fail.
enum class FaultOp : uint8_t {
  kOpenWritable = 0,  // Env::OpenWritable
  kAppend,            // WritableFile::Append
  kSync,              // WritableFile::Sync
  kRead,              // Env::ReadFile and Env::ReadAt
  kRename,            // Env::RenameFile
  kRemove,            // Env::RemoveFile
  kTruncate,          // Env::TruncateFile
  kSyncDir,           // Env::SyncDir
  kCreateDir,         // Env::CreateDir
};
inline constexpr size_t kFaultOpCount = 9;

inline constexpr int64_t kMemEnvWallStartMs = 1'731'283'200'000;

struct CrashOptions {
  // How many of a file's unsynced appended bytes survive the crash (a torn write), given the
  // file's path and the number of such bytes; the answer is clamped to that number. When unset,
  // none survive (unless tear_at_random). Called with MemEnv's lock held: it must not call MemEnv.
  // A file that was emptied by OpenWritable(truncate = true) and not synced since has no appended
  // tail: it always returns to its durable image.
  std::function<uint64_t(const std::string& path, uint64_t unsynced_bytes)> keep_unsynced_bytes;
  // Each file keeps a prefix of its unsynced bytes of a length drawn from the env's Random.
  // Ignored when keep_unsynced_bytes is set.
  bool tear_at_random = false;
  // Every unsynced directory change survives, as if the file system had flushed its metadata just
  // before the crash. By default none does.
  bool keep_unsynced_directory_changes = false;
};

class MemEnv final : public Env {
 public:
  explicit MemEnv(uint64_t seed = 1);
  ~MemEnv() override;
  MemEnv(const MemEnv&) = delete;
  MemEnv& operator=(const MemEnv&) = delete;

  // Env. Errors are io_error with the path in the message: a missing file or parent directory, a
  // path that names a directory where a file is expected (or the reverse), an injected fault.
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     bool truncate) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t length) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  // Locks live in memory only; Crash releases them, as the death of a process would.
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  std::chrono::nanoseconds MonotonicNow() override;
  int64_t WallNowMs() override;
  uint64_t Random() override;

  // Simulates power loss as described above. The env stays usable: it now shows what a process
  // starting after the crash would find.
  void Crash(const CrashOptions& options = {});

  // The n-th next operation of kind `op` (n = 1: the very next one) fails with io_error; with
  // `sticky`, so does every one after it, until ClearFaults. A later call for the same kind
  // replaces the earlier plan.
  void FailNth(FaultOp op, uint64_t n, bool sticky = false);
  void ClearFaults();
  // How many operations of kind `op` were attempted since construction (failed ones included).
  uint64_t OperationCount(FaultOp op) const;

  // Damages the file at `path`: XORs `mask` (not zero) into the byte at `offset`, both in what
  // reads see and in the durable image. io_error if the file is missing or shorter.
  Status FlipBit(const std::string& path, uint64_t offset, uint8_t mask = 0x01);

  // What the file at `path` would hold right after a crash with default options: its durable
  // bytes, or not_found if its durable directory entry is missing.
  Result<std::string> DurableContent(const std::string& path) const;

  // Clocks. AdvanceBy moves the monotonic and the wall clock together.
  void SetMonotonicNow(std::chrono::nanoseconds now);
  void SetWallNowMs(int64_t now_ms);
  void AdvanceBy(std::chrono::nanoseconds duration);

 private:
  struct Inode;
  class File;
  struct Fault {
    uint64_t fail_at = 0;  // the OperationCount at which to fail; 0 = never
    bool sticky = false;
  };

  // Counts an operation of kind `op` and returns the injected failure if one is due.
  Status CountAndMaybeFail(FaultOp op, std::string_view path);
  bool DirExistsLocked(const std::string& dir) const;
  Status NeedParentLocked(const std::string& path) const;
  void RevertInodeLocked(const std::string& path, Inode& inode, const CrashOptions& options);
  uint64_t RandomLocked();

  mutable std::mutex mutex_;
  // The namespace that reads see, and the one that survives a crash. Keys are normalized paths.
  std::map<std::string, std::shared_ptr<Inode>> files_;
  std::map<std::string, std::shared_ptr<Inode>> durable_files_;
  std::set<std::string> dirs_;
  std::set<std::string> durable_dirs_;
  // Held locks: path -> the token of the FileLock that holds it.
  std::map<std::string, uint64_t> locks_;
  uint64_t next_lock_token_ = 1;
  // Bumped by every crash; a WritableFile from an earlier generation is dead.
  uint64_t generation_ = 0;
  std::array<uint64_t, kFaultOpCount> operation_counts_{};
  std::array<Fault, kFaultOpCount> faults_{};
  std::chrono::nanoseconds monotonic_now_{0};
  std::chrono::nanoseconds wall_now_{0};
  uint64_t random_state_;
};

}  // namespace surge
