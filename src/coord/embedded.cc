// The embedded coordinator: one lease file per machine, read and rewritten under flock(2).
#include "coord/embedded.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>

#include "coord/coord.h"
#include "coord/internal.h"
#include "coord/lease_file.h"

namespace surge::coord {
namespace internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

Status Errno(const std::string& what) {
  return Status(Code::kIoError, what + ": " + std::strerror(errno));
}

// CLOCK_MONOTONIC: system-wide, so expiries written by one process mean the same in another.
// libstdc++'s steady_clock reads the same clock, so the two convert by their epoch offsets.
int64_t MonotonicNowNs() {
  timespec now{};
  SURGE_ASSERT(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

steady_clock::time_point ToSteady(int64_t monotonic_ns) {
  return steady_clock::time_point(
      std::chrono::duration_cast<steady_clock::duration>(nanoseconds(monotonic_ns)));
}

// Holds flock(LOCK_EX) on an open file for its lifetime.
class FlockGuard {
 public:
  explicit FlockGuard(int fd) : fd_(fd) {
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        status_ = Errno("locking the lease file");
        fd_ = -1;
        return;
      }
    }
  }
  ~FlockGuard() {
    if (fd_ >= 0) flock(fd_, LOCK_UN);
  }
  FlockGuard(const FlockGuard&) = delete;
  FlockGuard& operator=(const FlockGuard&) = delete;
  const Status& status() const { return status_; }

 private:
  int fd_;
  Status status_;
};

Result<std::string> ReadWholeFile(const std::string& path, bool* missing) {
  *missing = false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      *missing = true;
      return std::string();
    }
    return Errno("opening " + path);
  }
  std::string text;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status status = Errno("reading " + path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kFileBytesMax) break;  // DecodeLeaseTable says it is too large
  }
  close(fd);
  return text;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("writing the lease file");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectoryOf(const std::string& path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  if (directory.empty()) directory = ".";
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opening directory " + directory);
  const int rc = fsync(fd);
  Status status = rc == 0 ? Status::Ok() : Errno("syncing directory " + directory);
  close(fd);
  return status;
}

std::string Describe(const LeaseEntry& entry) {
  return entry.owner + " at " + entry.address + ", epoch " + std::to_string(entry.epoch);
}

class EmbeddedCoordinator final : public Coordinator {
 public:
  EmbeddedCoordinator(std::string path, std::string boot_id, int lock_fd)
      : path_(std::move(path)), boot_id_(std::move(boot_id)), lock_fd_(lock_fd) {}
  ~EmbeddedCoordinator() override { close(lock_fd_); }

  // Makes sure the file exists and is sound (run once by Open).
  Status Check() {
    return Transact(Durability::kContentAndRename,
                    [](LeaseTable&, int64_t, bool*) { return Status::Ok(); });
  }

  Result<Lease> Acquire(std::string_view name, std::string_view owner, std::string_view address,
                        milliseconds ttl) override;
  Status Renew(Lease& lease) override;
  Status Release(const Lease& lease) override;
  Result<std::optional<Holder>> Read(std::string_view name) override;

 private:
  using Change = std::function<Status(LeaseTable& table, int64_t now_ns, bool* dirty)>;
  // How durable a write must be. Every write syncs the new file's content before renaming it
  // over the old one, so that whatever a crash leaves is one whole version. A new epoch must
  // also survive a power failure (epochs are never reused), so Acquire syncs the rename too; a
  // renewal or release lost with the machine is harmless (its holders died with it, and the
  // boot id expires every lease), which saves a directory fsync (about 3 ms here) per renewal.
  enum class Durability { kContent, kContentAndRename };
  // Loads the table under the locks, runs `change` on it and, if it set *dirty and returned ok,
  // writes the table back. Nothing is written if loading or `change` fails.
  Status Transact(Durability durability, const Change& change);
  // The file's table (a fresh one if the file is missing), with every lease expired if it was
  // written before the last reboot.
  Result<LeaseTable> Load(bool* missing);
  Status Store(const LeaseTable& table, Durability durability);

  const std::string path_;
  const std::string boot_id_;
  const int lock_fd_;
  // flock excludes other open file descriptions, not other threads sharing ours.
  std::mutex mutex_;
};

Result<LeaseTable> EmbeddedCoordinator::Load(bool* missing) {
  SURGE_ASSIGN_OR_RETURN(const std::string text, ReadWholeFile(path_, missing));
  if (*missing) {
    LeaseTable fresh;
    fresh.boot_id = boot_id_;
    return fresh;
  }
  Result<LeaseTable> table = DecodeLeaseTable(text);
  if (!table.ok()) return table.status().Annotate("lease file " + path_);
  if (table->boot_id != boot_id_) {
    // CLOCK_MONOTONIC restarted with the machine: the old expiries mean nothing now, and every
    // holder died with the machine. The epochs stay.
    for (LeaseEntry& entry : table->entries) entry.expiry_ns = 0;
    table->boot_id = boot_id_;
  }
  return table;
}

Status EmbeddedCoordinator::Store(const LeaseTable& table, Durability durability) {
  const std::string temporary = path_ + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + temporary);
  Status status = WriteAll(fd, EncodeLeaseTable(table));
  if (status.ok() && fdatasync(fd) != 0) status = Errno("syncing " + temporary);
  if (close(fd) != 0 && status.ok()) status = Errno("closing " + temporary);
  SURGE_RETURN_IF_ERROR(status);
  if (rename(temporary.c_str(), path_.c_str()) != 0) return Errno("renaming over " + path_);
  if (durability == Durability::kContent) return Status::Ok();
  return SyncDirectoryOf(path_);
}

Status EmbeddedCoordinator::Transact(Durability durability, const Change& change) {
  std::lock_guard lock(mutex_);
  FlockGuard guard(lock_fd_);
  SURGE_RETURN_IF_ERROR(guard.status());
  bool missing = false;
  SURGE_ASSIGN_OR_RETURN(LeaseTable table, Load(&missing));
  bool dirty = missing;
  SURGE_RETURN_IF_ERROR(change(table, MonotonicNowNs(), &dirty));
  if (!dirty) return Status::Ok();
  return Store(table, missing ? Durability::kContentAndRename : durability);
}

Result<Lease> EmbeddedCoordinator::Acquire(std::string_view name, std::string_view owner,
                                           std::string_view address, milliseconds ttl) {
  SURGE_RETURN_IF_ERROR(CheckLeaseArguments(name, owner, address, ttl));
  Lease lease;
  SURGE_RETURN_IF_ERROR(Transact(Durability::kContentAndRename, [&](LeaseTable& table,
                                                                    int64_t now_ns, bool* dirty) {
    const LeaseEntry* existing = table.Find(name);
    if (existing != nullptr && existing->expiry_ns > now_ns) {
      const auto left = std::chrono::ceil<milliseconds>(nanoseconds(existing->expiry_ns - now_ns));
      return Status(Code::kUnavailable, "lease " + std::string(name) + " is held by " +
                                            Describe(*existing) + ", for " +
                                            std::to_string(left.count()) + " ms more");
    }
    if (existing == nullptr && table.entries.size() == kEntriesMax) {
      return Status(Code::kInvalidArgument, "the lease file " + path_ + " already holds " +
                                                std::to_string(kEntriesMax) + " names");
    }
    LeaseEntry& entry = table.FindOrInsert(name);
    SURGE_ASSERT(entry.epoch < UINT64_MAX);
    entry.epoch += 1;
    entry.owner = owner;
    entry.address = address;
    entry.expiry_ns = now_ns + nanoseconds(ttl).count();
    lease = Lease{std::string(name),
                  std::string(owner),
                  std::string(address),
                  entry.epoch,
                  ttl,
                  ValidUntil(ToSteady(now_ns), ttl),
                  0};
    *dirty = true;
    return Status::Ok();
  }));
  SURGE_ASSERT(lease.epoch >= 1);
  return lease;
}

Status EmbeddedCoordinator::Renew(Lease& lease) {
  SURGE_RETURN_IF_ERROR(CheckLeaseArguments(lease.name, lease.owner, lease.address, lease.ttl));
  steady_clock::time_point valid_until;
  SURGE_RETURN_IF_ERROR(
      Transact(Durability::kContent, [&](LeaseTable& table, int64_t now_ns, bool* dirty) {
        LeaseEntry* entry = table.Find(lease.name);
        const std::string lost =
            "lease " + lease.name + " of epoch " + std::to_string(lease.epoch) + " is lost: ";
        if (entry == nullptr || entry->epoch < lease.epoch) {
          return Status(Code::kWrongState, lost + "the lease file does not know that epoch");
        }
        if (entry->epoch > lease.epoch) {
          return Status(Code::kWrongState, lost + "taken by " + Describe(*entry));
        }
        if (entry->expiry_ns <= now_ns) {
          return Status(Code::kWrongState, lost + (entry->expiry_ns == 0 ? "released" : "expired"));
        }
        entry->expiry_ns = now_ns + nanoseconds(lease.ttl).count();
        valid_until = ValidUntil(ToSteady(now_ns), lease.ttl);
        *dirty = true;
        return Status::Ok();
      }));
  lease.valid_until = valid_until;
  return Status::Ok();
}

Status EmbeddedCoordinator::Release(const Lease& lease) {
  SURGE_RETURN_IF_ERROR(CheckName(lease.name));
  return Transact(Durability::kContent, [&](LeaseTable& table, int64_t now_ns, bool* dirty) {
    LeaseEntry* entry = table.Find(lease.name);
    if (entry == nullptr || entry->epoch != lease.epoch || entry->expiry_ns <= now_ns) {
      return Status::Ok();  // already lost: nothing of ours to free
    }
    entry->expiry_ns = 0;
    *dirty = true;
    return Status::Ok();
  });
}

Result<std::optional<Holder>> EmbeddedCoordinator::Read(std::string_view name) {
  SURGE_RETURN_IF_ERROR(CheckName(name));
  // No lock needed: the file is replaced by rename, so a reader sees one whole version.
  bool missing = false;
  SURGE_ASSIGN_OR_RETURN(LeaseTable table, Load(&missing));
  const LeaseEntry* entry = table.Find(name);
  if (entry == nullptr || entry->expiry_ns <= MonotonicNowNs()) {
    return std::optional<Holder>();
  }
  return std::optional<Holder>(Holder{entry->owner, entry->address, entry->epoch});
}

}  // namespace

Result<std::string> ReadBootId() {
  bool missing = false;
  const std::string path = "/proc/sys/kernel/random/boot_id";
  SURGE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path, &missing));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (missing || !IsValidBootId(text)) {
    return Status(Code::kIoError, "cannot read the kernel's boot id from " + path);
  }
  return text;
}

Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithBootId(const std::string& path,
                                                            std::string boot_id) {
  SURGE_ASSERT(IsValidBootId(boot_id));
  if (path.empty()) return Status(Code::kInvalidArgument, "the lease file path is empty");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return Status(Code::kIoError,
                    "creating directory " + parent.string() + ": " + error.message());
    }
  }
  const std::string lock_path = path + ".lock";
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Errno("opening " + lock_path);
  auto coordinator = std::make_unique<EmbeddedCoordinator>(path, std::move(boot_id), lock_fd);
  SURGE_RETURN_IF_ERROR(coordinator->Check());
  return std::unique_ptr<Coordinator>(std::move(coordinator));
}

}  // namespace internal

Result<std::unique_ptr<Coordinator>> OpenEmbedded(const std::string& path) {
  SURGE_ASSIGN_OR_RETURN(std::string boot_id, internal::ReadBootId());
  return internal::OpenEmbeddedWithBootId(path, std::move(boot_id));
}

}  // namespace surge::coord
