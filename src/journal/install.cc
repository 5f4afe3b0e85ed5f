// Snapshots across journals: ReadNewestSnapshot (a primary seeding its standby) and
// InstallSnapshot (the standby taking it), with Open's completion of an interrupted install.
#include <algorithm>
#include <cinttypes>
#include <string>
#include <vector>

#include "common/log.h"
#include "journal/journal.h"
#include "journal/journal_impl.h"
#include "journal/record.h"

namespace surge::journal {
namespace {

// The sequence of a name "snapshot-<sequence>.snap<suffix>", if it is one.
bool ParseSnapshotNameWithSuffix(std::string_view name, std::string_view suffix,
                                 uint64_t* sequence) {
  if (!name.ends_with(suffix)) return false;
  return ParseSnapshotName(name.substr(0, name.size() - suffix.size()), sequence);
}

// True for every file a journal keeps: segments, snapshots, and snapshots being written.
bool IsJournalFile(std::string_view name) {
  uint64_t sequence = 0;
  return ParseSegmentName(name, &sequence) || ParseSnapshotName(name, &sequence) ||
         ParseSnapshotNameWithSuffix(name, kTemporarySuffix, &sequence);
}

std::string InstallName(uint64_t sequence) {
  return SnapshotName(sequence) + std::string(kInstallSuffix);
}

// Creates the (empty) segment that follows a snapshot at `sequence`, durably: recovery requires
// the segments to reach the newest snapshot, which is how it notices lost segments.
Status CreateEmptySegment(Env& env, const std::string& dir, uint64_t sequence) {
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                         env.OpenWritable(JoinPath(dir, SegmentName(sequence + 1)),
                                          /*truncate=*/true));
  SURGE_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace

Result<StoredSnapshot> ReadNewestSnapshot(Env& env, const std::string& dir) {
  SURGE_ASSIGN_OR_RETURN(const std::vector<std::string> names, env.ListDir(dir));
  std::vector<uint64_t> sequences;
  for (const std::string& name : names) {
    uint64_t sequence = 0;
    if (ParseSnapshotName(name, &sequence)) sequences.push_back(sequence);
  }
  std::sort(sequences.rbegin(), sequences.rend());
  std::string passed_over;
  for (const uint64_t listed : sequences) {
    const std::string path = JoinPath(dir, SnapshotName(listed));
    Result<std::string> file = env.ReadFile(path);
    if (!file.ok()) {
      passed_over += "; " + path + " could not be read (" + file.status().ToString() + ")";
      continue;
    }
    StoredSnapshot snapshot{listed, {}};
    std::string_view state;
    std::string reason;
    if (!DecodeNamedSnapshot(*file, listed, &state, &reason)) {
      passed_over += "; " + path + " is damaged (" + reason + ")";
      SURGE_LOG_WARNING("journal: snapshot %s is damaged (%s); trying an older one", path.c_str(),
                        reason.c_str());
      continue;
    }
    // The state is the file after its header: drop the header in place rather than copy.
    snapshot.state = std::move(file).value();
    snapshot.state.erase(0, kSnapshotHeaderBytes);
    return snapshot;
  }
  return Status(Code::kNotFound,
                "journal " + dir + " holds no snapshot that verifies" + passed_over);
}

Status InstallSnapshot(Env& env, const std::string& dir, uint64_t sequence,
                       std::string_view state) {
  if (sequence == 0 || sequence == UINT64_MAX) {
    return Status(Code::kInvalidArgument,
                  "cannot install a snapshot at sequence " + std::to_string(sequence));
  }
  SURGE_RETURN_IF_ERROR(CreateDirDurably(env, dir));
  // Durable under the pending name first: from then on the install is decided, and Open finishes
  // it if a crash stops what follows. Before that the old journal is untouched.
  SURGE_RETURN_IF_ERROR(WriteSnapshotFile(env, dir, sequence, state, InstallName(sequence)));
  return FinishPendingInstall(env, dir);
}

Status FinishPendingInstall(Env& env, const std::string& dir) {
  SURGE_ASSIGN_OR_RETURN(const std::vector<std::string> names, env.ListDir(dir));
  uint64_t pending = 0;  // the newest pending install wins; older ones were superseded
  for (const std::string& name : names) {
    uint64_t sequence = 0;
    if (ParseSnapshotNameWithSuffix(name, kInstallSuffix, &sequence)) {
      pending = std::max(pending, sequence);
    }
  }
  if (pending == 0) return Status::Ok();
  if (pending == UINT64_MAX) {
    return Status(Code::kCorruption,
                  "journal " + dir + " holds a snapshot to install at sequence " +
                      std::to_string(pending) + ", after which nothing can follow");
  }
  SURGE_LOG_INFO("journal %s: installing the snapshot at sequence %" PRIu64
                 " in place of every segment and snapshot",
                 dir.c_str(), pending);
  // Everything goes (the pending file stays until the end), then the empty segment after the
  // snapshot is made durable, then the snapshot takes its real name: a crash at any point leaves
  // the pending file, and the next Open starts over from here.
  for (const std::string& name : names) {
    uint64_t sequence = 0;
    const bool older_install =
        ParseSnapshotNameWithSuffix(name, kInstallSuffix, &sequence) && sequence != pending;
    if (IsJournalFile(name) || older_install) {
      SURGE_RETURN_IF_ERROR(env.RemoveFile(JoinPath(dir, name)));
    }
  }
  SURGE_RETURN_IF_ERROR(env.SyncDir(dir));
  SURGE_RETURN_IF_ERROR(CreateEmptySegment(env, dir, pending));
  SURGE_RETURN_IF_ERROR(env.SyncDir(dir));
  SURGE_RETURN_IF_ERROR(
      env.RenameFile(JoinPath(dir, InstallName(pending)), JoinPath(dir, SnapshotName(pending))));
  return env.SyncDir(dir);
}

}  // namespace surge::journal
