// The embedded coordinator: the lease table of one machine, as immutable versions in a
// directory, updated by compare-and-swap without locks (versions.h).
#include "coord/embedded.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>

#include "coord/coord.h"
#include "coord/internal.h"
#include "coord/lease_file.h"
#include "coord/versions.h"

namespace surge::coord {
namespace internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

Status Errno(const std::string& what) {
  return Status(Code::kIoError, what + ": " + std::strerror(errno));
}

steady_clock::time_point ToSteady(int64_t monotonic_ns) {
  return steady_clock::time_point(
      std::chrono::duration_cast<steady_clock::duration>(nanoseconds(monotonic_ns)));
}

// Attempts of one call before it gives up: each lost attempt means another writer published
// first (which is progress), so only a writer outrun this many times in a row gives up.
constexpr int kAttemptsMax = 100;

std::string Describe(const LeaseEntry& entry) {
  return entry.owner + " at " + entry.address + ", epoch " + std::to_string(entry.epoch);
}

class EmbeddedCoordinator final : public Coordinator {
 public:
  EmbeddedCoordinator(std::unique_ptr<VersionDirectory> versions, std::string boot_id)
      : versions_(std::move(versions)), boot_id_(std::move(boot_id)) {}

  // Makes sure a first version exists and that the newest is sound (run once by Open).
  Status Check() {
    return Transact([](LeaseTable&, int64_t, Write*) { return Status::Ok(); }, nullptr);
  }

  Result<Lease> Acquire(std::string_view name, std::string_view owner, std::string_view address,
                        milliseconds ttl) override;
  Status Renew(Lease& lease) override;
  Status Release(const Lease& lease) override;
  Result<std::optional<Holder>> Read(std::string_view name) override;

 private:
  // What a change asks of its write.
  struct Write {
    bool dirty = false;
    // A new epoch must survive a power failure (epochs are never reused), so Acquire syncs the
    // directory too; a renewal or release lost with the machine is harmless (its holders died
    // with it, and the boot id expires every lease), which saves a directory fsync per renewal.
    bool sync_directory = false;
  };
  using Change = std::function<Status(LeaseTable& table, int64_t now_ns, Write* write)>;
  // Runs `change` on the newest table and, if it set write->dirty and returned ok, publishes the
  // result as the next version; when another writer publishes first, starts again from its
  // version. Nothing is written if loading or `change` fails. Sets *uncertain (if given) when
  // a write may or may not have taken effect (VersionDirectory::Outcome::kUnknown).
  Status Transact(const Change& change, bool* uncertain);
  // The version's table (a fresh one if there is none yet), with every lease expired if it was
  // written before the last reboot.
  Result<LeaseTable> Load(const VersionDirectory::Snapshot& snapshot);

  const std::unique_ptr<VersionDirectory> versions_;
  const std::string boot_id_;
  // Writers of this process take turns (they would only outrun each other); this never waits
  // for another process, since a stopped process stops all its threads.
  std::mutex write_mutex_;
};

Result<LeaseTable> EmbeddedCoordinator::Load(const VersionDirectory::Snapshot& snapshot) {
  if (snapshot.version == 0) {
    LeaseTable fresh;
    fresh.boot_id = boot_id_;
    return fresh;
  }
  Result<LeaseTable> table = DecodeLeaseTable(snapshot.text);
  if (!table.ok()) return table.status().Annotate("lease file " + snapshot.file);
  if (table->boot_id != boot_id_) {
    // CLOCK_MONOTONIC restarted with the machine: the old expiries mean nothing now, and every
    // holder died with the machine. The epochs stay.
    for (LeaseEntry& entry : table->entries) entry.expiry_ns = 0;
    table->boot_id = boot_id_;
  }
  return table;
}

Status EmbeddedCoordinator::Transact(const Change& change, bool* uncertain) {
  std::lock_guard lock(write_mutex_);
  for (int attempt = 0; attempt < kAttemptsMax; ++attempt) {
    SURGE_ASSIGN_OR_RETURN(const VersionDirectory::Snapshot base,
                           versions_->ReadNewest(kFileBytesMax));
    SURGE_ASSIGN_OR_RETURN(LeaseTable table, Load(base));
    Write write;
    write.dirty = write.sync_directory = base.version == 0;
    SURGE_RETURN_IF_ERROR(change(table, MonotonicNowNs(), &write));
    if (!write.dirty) return Status::Ok();
    SURGE_ASSIGN_OR_RETURN(const VersionDirectory::Outcome outcome,
                           versions_->Publish(base, EncodeLeaseTable(table), write.sync_directory));
    switch (outcome) {
      case VersionDirectory::Outcome::kPublished:
        return Status::Ok();
      case VersionDirectory::Outcome::kUnknown:
        if (uncertain != nullptr) *uncertain = true;
        break;
      case VersionDirectory::Outcome::kLost:
        break;
    }
  }
  return Status(Code::kIoError, "updating the leases in " + versions_->directory() + ": other " +
                                    "writers published first " + std::to_string(kAttemptsMax) +
                                    " times in a row");
}

Result<Lease> EmbeddedCoordinator::Acquire(std::string_view name, std::string_view owner,
                                           std::string_view address, milliseconds ttl) {
  SURGE_RETURN_IF_ERROR(CheckLeaseArguments(name, owner, address, ttl));
  Lease lease;
  bool uncertain = false;
  Status status = Transact(
      [&](LeaseTable& table, int64_t now_ns, Write* write) {
        const LeaseEntry* existing = table.Find(name);
        if (existing != nullptr && existing->expiry_ns > now_ns) {
          const auto left =
              std::chrono::ceil<milliseconds>(nanoseconds(existing->expiry_ns - now_ns));
          return Status(Code::kUnavailable, "lease " + std::string(name) + " is held by " +
                                                Describe(*existing) + ", for " +
                                                std::to_string(left.count()) + " ms more");
        }
        if (existing == nullptr && table.entries.size() == kEntriesMax) {
          return Status(Code::kInvalidArgument, "the leases in " + versions_->directory() +
                                                    " already hold " + std::to_string(kEntriesMax) +
                                                    " names");
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
        write->dirty = write->sync_directory = true;
        return Status::Ok();
      },
      &uncertain);
  if (status.code() == Code::kUnavailable && uncertain) {
    // The holder may be this very call, whose write this process cannot confirm.
    return Status(Code::kIoError, "acquiring lease " + std::string(name) + ": this process " +
                                      "stalled between reading and writing the leases and " +
                                      "cannot tell whether its write took effect (" +
                                      status.message() + ")");
  }
  SURGE_RETURN_IF_ERROR(status);
  SURGE_ASSERT(lease.epoch >= 1);
  return lease;
}

Status EmbeddedCoordinator::Renew(Lease& lease) {
  SURGE_RETURN_IF_ERROR(CheckLeaseArguments(lease.name, lease.owner, lease.address, lease.ttl));
  steady_clock::time_point valid_until;
  // A write that lost (or may have lost) a race is redone on the newer version: if the lease
  // is still this epoch's and unexpired there, renewing it again is what was asked.
  SURGE_RETURN_IF_ERROR(Transact(
      [&](LeaseTable& table, int64_t now_ns, Write* write) {
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
        // Checked now, as the request is handled; the write that follows wins only if nobody
        // wrote meanwhile, so a lease taken by another owner is never revived. (If the lease's
        // old expiry passes while this write is synced, a Read meanwhile may see it free.)
        entry->expiry_ns = now_ns + nanoseconds(lease.ttl).count();
        valid_until = ValidUntil(ToSteady(now_ns), lease.ttl);
        write->dirty = true;
        return Status::Ok();
      },
      nullptr));
  lease.valid_until = valid_until;
  return Status::Ok();
}

Status EmbeddedCoordinator::Release(const Lease& lease) {
  SURGE_RETURN_IF_ERROR(CheckName(lease.name));
  return Transact(
      [&](LeaseTable& table, int64_t now_ns, Write* write) {
        LeaseEntry* entry = table.Find(lease.name);
        if (entry == nullptr || entry->epoch != lease.epoch || entry->expiry_ns <= now_ns) {
          return Status::Ok();  // already lost: nothing of ours to free
        }
        entry->expiry_ns = 0;
        write->dirty = true;
        return Status::Ok();
      },
      nullptr);
}

Result<std::optional<Holder>> EmbeddedCoordinator::Read(std::string_view name) {
  SURGE_RETURN_IF_ERROR(CheckName(name));
  SURGE_ASSIGN_OR_RETURN(const VersionDirectory::Snapshot newest,
                         versions_->ReadNewest(kFileBytesMax));
  SURGE_ASSIGN_OR_RETURN(LeaseTable table, Load(newest));
  const LeaseEntry* entry = table.Find(name);
  if (entry == nullptr || entry->expiry_ns <= MonotonicNowNs()) {
    return std::optional<Holder>();
  }
  return std::optional<Holder>(Holder{entry->owner, entry->address, entry->epoch});
}

}  // namespace

Result<std::string> ReadBootId() {
  const std::string path = "/proc/sys/kernel/random/boot_id";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening " + path);
  char buffer[kBootIdBytesMax + 2];
  ssize_t n = 0;
  do {
    n = read(fd, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  close(fd);
  std::string text(buffer, static_cast<size_t>(std::max<ssize_t>(n, 0)));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (!IsValidBootId(text)) {
    return Status(Code::kIoError, "cannot read the kernel's boot id from " + path);
  }
  return text;
}

Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithOptions(const std::string& path,
                                                             std::string boot_id,
                                                             VersionDirectoryOptions options) {
  SURGE_ASSERT(IsValidBootId(boot_id));
  if (path.empty()) return Status(Code::kInvalidArgument, "the lease directory path is empty");
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_directory(path, error)) {
    return Status(Code::kIoError, path + " is not a directory (the embedded coordinator keeps " +
                                      "its leases in a directory of versions; a lease file of " +
                                      "the former flock-based format is not read)");
  }
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<VersionDirectory> versions,
                         VersionDirectory::Open(path, options));
  auto coordinator = std::make_unique<EmbeddedCoordinator>(std::move(versions), std::move(boot_id));
  SURGE_RETURN_IF_ERROR(coordinator->Check());
  return std::unique_ptr<Coordinator>(std::move(coordinator));
}

Result<std::unique_ptr<Coordinator>> OpenEmbeddedWithBootId(const std::string& path,
                                                            std::string boot_id) {
  return OpenEmbeddedWithOptions(path, std::move(boot_id), VersionDirectoryOptions());
}

Result<std::string> NewestLeaseFile(const std::string& path) {
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<VersionDirectory> versions,
                         VersionDirectory::Open(path, VersionDirectoryOptions()));
  SURGE_ASSIGN_OR_RETURN(const VersionDirectory::Snapshot newest, versions->ReadNewest(0));
  if (newest.version == 0) return Status(Code::kNotFound, "no lease file in " + path);
  return newest.file;
}

}  // namespace internal

Result<std::unique_ptr<Coordinator>> OpenEmbedded(const std::string& path) {
  SURGE_ASSIGN_OR_RETURN(std::string boot_id, internal::ReadBootId());
  return internal::OpenEmbeddedWithBootId(path, std::move(boot_id));
}

}  // namespace surge::coord
