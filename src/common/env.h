// Env: every file, clock and randomness access of surge goes through this interface, so that a
// test can substitute a simulated disk (torn writes, crashes that lose unsynced data), a manual
// clock and a seeded random source, and replay a whole run from a seed.
//
// Thread safety: Env::Default() and its files may be used from any thread; a single WritableFile
// is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge {

// A file opened for appending. Data passed to Append is durable only after Sync returns ok.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file including what was appended but not yet synced.
  virtual uint64_t size() const = 0;
};

// An exclusive lock on a file, held until the object is destroyed (or the process dies).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The real thing: POSIX files, CLOCK_MONOTONIC, CLOCK_REALTIME, a random seed from the kernel.
  static Env* Default();

  // Opens `path` for appending, creating it if missing. With `truncate` an existing file is
  // emptied first.
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             bool truncate) = 0;
  // Reads the whole file.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Reads up to `length` bytes at `offset`; fewer at the end of the file.
  virtual Result<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t length) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Creates `dir` and missing parents; ok if it exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable after SyncDir of the parent.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Cuts the file to `size` bytes and makes that durable.
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive lock on `path`, creating the file if missing, so that two processes never
  // open the same data directory. unavailable if someone else holds it. The lock does not
  // survive the process: a kill -9 releases it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Monotonic time for durations and timeouts.
  virtual std::chrono::nanoseconds MonotonicNow() = 0;
  // Wall-clock milliseconds since the Unix epoch: the time that orders and campaigns speak.
  virtual int64_t WallNowMs() = 0;
  // A uniformly distributed random number.
  virtual uint64_t Random() = 0;
};

// Joins path parts with '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace surge
