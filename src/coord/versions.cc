#include "coord/versions.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>

#include "common/assert.h"

namespace surge::coord::internal {
namespace {

constexpr size_t kVersionDigits = 20;
// Names above this are not versions (so that version + 1 never overflows, whatever the
// directory holds); reaching it would take 10^11 years of a write per millisecond.
constexpr uint64_t kVersionMax = uint64_t{INT64_MAX};
constexpr std::string_view kTemporaryPrefix = "tmp.";
// Attempts of ReadNewest before it gives up: each failed attempt means this process stalled for
// about keep_superseded / 2, or versions vanished under it.
constexpr int kReadAttemptsMax = 32;
// Bounds the deletions of one collection (the rest waits for the next).
constexpr uint64_t kDeletionsPerCollectionMax = 4096;
// Every this many collections, one scans the directory for what the others missed: versions
// left by a writer that stalled (or died) while collecting, or linked again by a writer that
// stalled past keep_superseded, and temporaries of killed writers.
constexpr int kCollectionsPerScan = 16;
// The observations kept for collection (at most one per keep_superseded / 8 is added).
constexpr size_t kSeenMax = 64;

Status Errno(const std::string& what) {
  return Status(Code::kIoError, what + ": " + std::strerror(errno));
}

std::string VersionName(uint64_t version) {
  char name[32];
  std::snprintf(name, sizeof(name), "v%020llu", static_cast<unsigned long long>(version));
  return name;
}

// The version an entry names ("v" and exactly 20 digits), or 0 if it names none.
uint64_t ParseVersionName(std::string_view name) {
  if (name.size() != 1 + kVersionDigits || name[0] != 'v') return 0;
  const std::string_view digits = name.substr(1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  uint64_t version = 0;
  const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  return result.ec == std::errc() && version <= kVersionMax ? version : 0;
}

// Closes a descriptor when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(-1); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset(other.fd_);
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// At most bytes_max + 1 bytes of an open file.
Status ReadUpTo(int fd, size_t bytes_max, const std::string& path, std::string* text) {
  text->clear();
  char buffer[16 * 1024];
  while (text->size() <= bytes_max) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("reading " + path);
    if (n == 0) break;
    text->append(buffer, static_cast<size_t>(n));
  }
  if (text->size() > bytes_max + 1) text->resize(bytes_max + 1);
  return Status::Ok();
}

// Calls `visit` with the name of every entry of the directory open as `directory_fd`.
Status ForEachEntry(int directory_fd, const std::string& directory,
                    const std::function<void(const char* name)>& visit) {
  // A descriptor of its own: readdir moves the offset of the one it reads.
  const int fd = openat(directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opening directory " + directory);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    Status status = Errno("opening directory " + directory);
    close(fd);
    return status;
  }
  for (;;) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) break;
    visit(entry->d_name);
  }
  Status status = errno == 0 ? Status::Ok() : Errno("reading directory " + directory);
  closedir(dir);
  return status;
}

std::string RandomHex() {
  std::random_device device;
  const uint64_t value = (uint64_t{device()} << 32) ^ device();
  char hex[24];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

std::atomic<int64_t> unconfirmed_publishes{0};

}  // namespace

int64_t UnconfirmedPublishes() { return unconfirmed_publishes.load(); }

int64_t MonotonicNowNs() {
  timespec now{};
  SURGE_ASSERT(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

VersionDirectory::VersionDirectory(std::string directory, int directory_fd,
                                   VersionDirectoryOptions options)
    : directory_(std::move(directory)),
      directory_fd_(directory_fd),
      options_(options),
      keep_ns_(std::chrono::nanoseconds(options.keep_superseded).count()),
      temporary_(std::string(kTemporaryPrefix) + std::to_string(getpid()) + "." + RandomHex()) {
  SURGE_ASSERT(keep_ns_ > 0);
}

VersionDirectory::~VersionDirectory() { close(directory_fd_); }

Result<std::unique_ptr<VersionDirectory>> VersionDirectory::Open(const std::string& directory,
                                                                 VersionDirectoryOptions options) {
  std::error_code error;
  const bool created = std::filesystem::create_directories(directory, error);
  if (error)
    return Status(Code::kIoError, "creating directory " + directory + ": " + error.message());
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opening directory " + directory);
  auto versions = std::unique_ptr<VersionDirectory>(new VersionDirectory(directory, fd, options));
  if (created) {
    // The new directory's own entry must survive a power failure with the versions in it.
    std::string parent = std::filesystem::path(directory).parent_path().string();
    if (parent.empty()) parent = ".";
    const Fd parent_fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd.ok() || fsync(parent_fd.get()) != 0) {
      return Errno("syncing directory " + parent);
    }
  }
  return versions;
}

std::string VersionDirectory::PathOf(uint64_t version) const {
  return directory_ + "/" + VersionName(version);
}

bool VersionDirectory::RecentHint(Hint* hint) {
  std::lock_guard lock(hint_mutex_);
  if (!has_hint_ || MonotonicNowNs() - hint_.head_at_ns >= keep_ns_ / 2) return false;
  *hint = hint_;
  return true;
}

void VersionDirectory::Learn(Hint hint, int64_t existed_at_ns) {
  std::lock_guard lock(hint_mutex_);
  // Any true hint is correct; the most recent one stays usable the longest.
  if (!has_hint_ || hint.head_at_ns >= hint_.head_at_ns) hint_ = hint;
  has_hint_ = true;
  if (hint.version == 0) return;
  if (!seen_.empty() && (hint.version <= seen_.back().version ||
                         existed_at_ns - seen_.back().head_at_ns < keep_ns_ / 8)) {
    return;
  }
  seen_.push_back(Hint{hint.version, existed_at_ns});
  if (seen_.size() > kSeenMax) seen_.pop_front();
}

Result<VersionDirectory::Scanned> VersionDirectory::Scan() {
  const int64_t start_ns = MonotonicNowNs();
  uint64_t highest = 0;
  SURGE_RETURN_IF_ERROR(ForEachEntry(directory_fd_, directory_, [&](const char* name) {
    highest = std::max(highest, ParseVersionName(name));
  }));
  // The head at the start is still there at the end of a scan this short, and whatever is
  // higher was linked during the scan: the highest name seen was the head at some instant
  // at or after the start.
  const bool in_time = MonotonicNowNs() - start_ns < keep_ns_ / 2;
  return Scanned{in_time, Hint{highest, start_ns}};
}

Status VersionDirectory::WalkForward(Hint from, size_t bytes_max, bool* found, Snapshot* snapshot) {
  *found = false;
  uint64_t version = from.version;
  Fd current;
  if (version > 0) {
    const int fd = openat(directory_fd_, VersionName(version).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? Status::Ok() : Errno("opening " + PathOf(version));
    current.Reset(fd);
  }
  int64_t head_at_ns = 0;
  for (;;) {
    if (version >= kVersionMax) {
      return Status(Code::kIoError, "the version numbers in " + directory_ + " are exhausted");
    }
    const int64_t before_ns = MonotonicNowNs();
    Fd next(openat(directory_fd_, VersionName(version + 1).c_str(), O_RDONLY | O_CLOEXEC));
    const int open_errno = errno;
    if (next.ok()) {
      current = std::move(next);
      ++version;
      continue;
    }
    if (open_errno != ENOENT) {
      errno = open_errno;
      return Errno("opening " + PathOf(version + 1));
    }
    // A missing name proves that `version` is the head only within keep_superseded of the
    // hint's instant (versions.h): later, that name may have been linked and deleted since.
    if (MonotonicNowNs() - from.head_at_ns >= keep_ns_) return Status::Ok();
    head_at_ns = before_ns;
    break;
  }
  snapshot->version = version;
  snapshot->head_at_ns = head_at_ns;
  snapshot->file = PathOf(version);
  snapshot->text.clear();
  if (version > 0)
    SURGE_RETURN_IF_ERROR(ReadUpTo(current.get(), bytes_max, snapshot->file, &snapshot->text));
  Learn(Hint{version, head_at_ns}, MonotonicNowNs());
  *found = true;
  return Status::Ok();
}

Result<VersionDirectory::Snapshot> VersionDirectory::ReadNewest(size_t bytes_max) {
  bool scan = false;
  for (int attempt = 0; attempt < kReadAttemptsMax; ++attempt) {
    Hint from;
    if (scan || !RecentHint(&from)) {
      SURGE_ASSIGN_OR_RETURN(const Scanned scanned, Scan());
      scan = true;
      if (!scanned.in_time) continue;
      from = scanned.hint;
    }
    Snapshot snapshot;
    bool found = false;
    SURGE_RETURN_IF_ERROR(WalkForward(from, bytes_max, &found, &snapshot));
    if (found) return snapshot;
    scan = true;  // the hint was stale, or its version vanished
  }
  return Status(Code::kIoError, "reading the newest version in " + directory_ + ": gave up after " +
                                    std::to_string(kReadAttemptsMax) +
                                    " attempts (this process keeps stalling, or something other "
                                    "than a coordinator deletes versions)");
}

Status VersionDirectory::WriteTemporary(std::string_view text) {
  const std::string path = directory_ + "/" + temporary_;
  const Fd fd(
      openat(directory_fd_, temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.ok()) return Errno("creating " + path);
  while (!text.empty()) {
    const ssize_t n = write(fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("writing " + path);
    text.remove_prefix(static_cast<size_t>(n));
  }
  if (fdatasync(fd.get()) != 0) return Errno("syncing " + path);
  return Status::Ok();
}

Status VersionDirectory::SyncDirectory() {
  return fsync(directory_fd_) == 0 ? Status::Ok() : Errno("syncing directory " + directory_);
}

Result<VersionDirectory::Outcome> VersionDirectory::Publish(const Snapshot& base,
                                                            std::string_view text,
                                                            bool sync_directory) {
  std::lock_guard lock(publish_mutex_);
  SURGE_ASSERT(base.version < kVersionMax);
  SURGE_RETURN_IF_ERROR(WriteTemporary(text));
  const uint64_t version = base.version + 1;
  const int64_t before_ns = MonotonicNowNs();
  const int linked =
      linkat(directory_fd_, temporary_.c_str(), directory_fd_, VersionName(version).c_str(), 0);
  const int link_errno = errno;
  const int64_t after_ns = MonotonicNowNs();
  unlinkat(directory_fd_, temporary_.c_str(), 0);  // ENOENT if a collector took it: no matter
  if (linked != 0) {
    // EEXIST: another writer was first. ENOENT: the collector deleted our temporary while this
    // process stalled (or the directory is gone, which the next read reports).
    if (link_errno == EEXIST || link_errno == ENOENT) return Outcome::kLost;
    errno = link_errno;
    return Errno("linking " + PathOf(version));
  }
  if (sync_directory) SURGE_RETURN_IF_ERROR(SyncDirectory());
  if (after_ns - base.head_at_ns >= keep_ns_) {
    // Stalled past keep_superseded: the name may have been linked and deleted meanwhile. If
    // it had been, a higher version would exist.
    SURGE_ASSIGN_OR_RETURN(const Snapshot newest, ReadNewest(0));
    if (newest.version != version) {
      ++unconfirmed_publishes;
      return Outcome::kUnknown;
    }
  } else {
    Learn(Hint{version, before_ns}, after_ns);
  }
  Collect();
  return Outcome::kPublished;
}

void VersionDirectory::Collect() {
  const int64_t now_ns = MonotonicNowNs();
  if (last_collect_ns_ != 0 && now_ns - last_collect_ns_ < keep_ns_ / 4) return;
  last_collect_ns_ = now_ns;
  uint64_t below = 0;
  {
    std::lock_guard lock(hint_mutex_);
    while (!seen_.empty() && seen_.front().head_at_ns + keep_ns_ <= now_ns) {
      below = seen_.front().version;
      seen_.pop_front();
    }
  }
  if (below <= collected_below_) return;
  // The newer names must be durable before the older ones go (a renewal does not sync the
  // directory): after a power failure the directory must still hold its head.
  if (!SyncDirectory().ok()) return;
  if (collected_below_ == 0 || ++collections_ % kCollectionsPerScan == 0) {
    CollectByScan(below);
    collected_below_ = below;
    return;
  }
  uint64_t version = collected_below_;
  for (; version < below && version - collected_below_ < kDeletionsPerCollectionMax; ++version) {
    unlinkat(directory_fd_, VersionName(version).c_str(), 0);  // ENOENT: another collector's
  }
  collected_below_ = version;
}

void VersionDirectory::CollectByScan(uint64_t below) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t age_max_s = options_.temporary_age_max.count();
  // Errors are ignored: collection is retried, and nothing depends on it but disk space.
  (void)ForEachEntry(directory_fd_, directory_, [&](const char* name) {
    const uint64_t version = ParseVersionName(name);
    if (version != 0) {
      if (version < below) unlinkat(directory_fd_, name, 0);
      return;
    }
    if (!std::string_view(name).starts_with(kTemporaryPrefix) || temporary_ == name) return;
    struct stat status {};
    if (fstatat(directory_fd_, name, &status, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(status.st_mode) && now.tv_sec - status.st_mtim.tv_sec > age_max_s) {
      unlinkat(directory_fd_, name, 0);
    }
  });
}

}  // namespace surge::coord::internal
