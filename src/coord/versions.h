// A small file that processes update by compare-and-swap, without any lock: the embedded
// coordinator's store. No operation ever waits for another process, so a process frozen (SIGSTOP)
// or killed at any instant, even in the middle of a write, delays nobody.
//
// Layout: a directory holding immutable versions "v<20 decimal digits>", numbered from 1 in the
// order they were published (v00000000000000000001, ...; `ls` sorts them), and each writer's
// temporary "tmp.<pid>.<random>". The highest version is the current content.
//
// Compare-and-swap: a writer reads the newest version N, writes its new content to its
// temporary, syncs it, and link(2)s it as version N+1. link fails with EEXIST if N+1 exists:
// another writer published first, and this one re-reads and tries again. So a writer publishes
// only a successor of the content it read, and one that stalls between reading and linking (a
// SIGSTOP in the middle of a write) simply loses when it wakes up.
//
// Collection and the one subtlety it brings: superseded versions must be deleted, but a deleted
// name could be linked again by a writer that read its predecessor long ago (ABA), and that
// writer would take a lost race for a win. The rule that prevents it, followed by every process:
//   a version X is deleted only once `keep_superseded` has passed, on the CLOCK_MONOTONIC of the
//   machine, since an instant at which some version Y > X existed.
// Three consequences (T = keep_superseded; "head" = the highest version ever linked, which is
// never deleted since no higher version exists):
//   - A reader that knows h was the head at some instant at or after t finds the head by probing
//     h+1, h+2, ... until a name is missing, provided it finishes before t + T: every version
//     above h was linked after t and cannot be deleted before t + T, so the first missing name
//     was never linked, and the version before it is the head. This is a Read's usual path: one
//     open of the last version it knew and one failed open of the next.
//   - Without a recent head, a reader scans the directory: the head at the scan's start exists
//     throughout a scan shorter than T, so the highest name seen is a head at some instant of the
//     scan (readdir returns every entry that exists throughout).
//   - A writer that read head N with N+1 missing at instant p, and whose link of N+1 succeeds
//     before p + T, made a real compare-and-swap: had N+1 been linked after p and deleted since,
//     its deletion could not come before p + T. A writer that took longer (it was frozen) checks
//     afterwards whether its version is the head; if a higher version exists, it cannot tell
//     whether its link won the race or re-created a deleted name (kUnknown).
// No timeout is involved in exclusion or liveness: T only bounds how long superseded versions
// stay, and a process frozen for longer than T only has to check its write again.
//
// Durability: every version's content is synced before it is linked, so a crash leaves whole
// versions only. Publish syncs the directory if asked (the link itself then survives a power
// failure); before deleting superseded versions the collector syncs the directory, so the newer
// names are durable before the old ones go.
//
// One machine only: the rule above relies on one CLOCK_MONOTONIC shared by every process.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::coord::internal {

// CLOCK_MONOTONIC, in nanoseconds.
int64_t MonotonicNowNs();

// How many publishes of this process ended kUnknown so far (for tests: they show that a stall
// past keep_superseded really ended in a link of a deleted name).
int64_t UnconfirmedPublishes();

struct VersionDirectoryOptions {
  // T above. Every process using one directory must use the same value (or a longer one).
  std::chrono::milliseconds keep_superseded{5000};
  // Temporaries older than this (by their modification time) are deleted by the collector:
  // their writers were killed. Deleting one that is still in use only costs its writer a retry.
  std::chrono::seconds temporary_age_max{60};
};

class VersionDirectory {
 public:
  // A version as read.
  struct Snapshot {
    uint64_t version = 0;  // 0: there is no version yet (text is empty)
    std::string text;
    std::string file;  // its path, for messages
    // The version was the head at some instant at or after this (CLOCK_MONOTONIC ns).
    int64_t head_at_ns = 0;
  };

  enum class Outcome {
    kPublished,  // the text is the new head
    kLost,       // another writer published a successor of base first: read again and retry
    kUnknown,    // linked, but a newer version exists and this write may have lost: read again
  };

  // Opens `directory`, creating it (and its parents) if missing. io_error if it cannot be
  // created or opened, or is not a directory.
  static Result<std::unique_ptr<VersionDirectory>> Open(const std::string& directory,
                                                        VersionDirectoryOptions options);
  ~VersionDirectory();
  VersionDirectory(const VersionDirectory&) = delete;
  VersionDirectory& operator=(const VersionDirectory&) = delete;

  // The head and its content. io_error if the directory cannot be read, or if a version is
  // larger than `bytes_max` (the caller's format says what is too large: such a text is returned
  // cut to bytes_max + 1 bytes, for the caller to refuse).
  Result<Snapshot> ReadNewest(size_t bytes_max);

  // Publishes `text` as version base.version + 1 if no such version exists yet. With
  // `sync_directory` the new version survives a power failure once this returns kPublished.
  // io_error if a file cannot be written (nothing published) or the directory cannot be synced
  // (published, maybe not durable). Also deletes superseded versions now and then.
  Result<Outcome> Publish(const Snapshot& base, std::string_view text, bool sync_directory);

  const std::string& directory() const { return directory_; }
  // The path of a version ("<directory>/v00000000000000000007").
  std::string PathOf(uint64_t version) const;

 private:
  struct Hint {
    uint64_t version = 0;
    int64_t head_at_ns = 0;
  };
  struct Scanned {
    bool in_time = false;  // false: the scan took too long to be trusted
    Hint hint;
  };

  VersionDirectory(std::string directory, int directory_fd, VersionDirectoryOptions options);
  // The hint to start from, if recent enough to probe forward from.
  bool RecentHint(Hint* hint);
  void Learn(Hint hint, int64_t existed_at_ns);
  Result<Scanned> Scan();
  // Probes forward from `from`; false in *found if it took too long (or a version vanished).
  Status WalkForward(Hint from, size_t bytes_max, bool* found, Snapshot* snapshot);
  Status WriteTemporary(std::string_view text);
  Status SyncDirectory();
  // Deletes what the rule allows, at most every keep_superseded / 4.
  void Collect();
  void CollectByScan(uint64_t below);

  const std::string directory_;
  const int directory_fd_;
  const VersionDirectoryOptions options_;
  const int64_t keep_ns_;
  const std::string temporary_;

  std::mutex hint_mutex_;  // guards hint_ and seen_
  Hint hint_;
  bool has_hint_ = false;
  // (version, instant at which it existed), oldest first, at most one per keep_superseded / 8.
  std::deque<Hint> seen_;

  std::mutex publish_mutex_;  // one writer of the temporary at a time; guards the rest
  int64_t last_collect_ns_ = 0;
  uint64_t collected_below_ = 0;  // every version below this was deleted once (0: none known)
  int collections_ = 0;
};

}  // namespace surge::coord::internal
