#include "common/mem_env.h"

#include <algorithm>
#include <functional>
#include <unordered_set>
#include <utility>

namespace surge {
namespace {

constexpr std::array<std::string_view, kFaultOpCount> kFaultOpNames = {
    "open",           "append",          "sync", "read", "rename", "remove", "truncate",
    "sync directory", "create directory"};

// Collapses repeated slashes and drops a trailing one, so that "/a//b/" and "/a/b" are one key.
std::string Normalize(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  // "." and "./x" name the current directory, whose key is "".
  while (out.starts_with("./")) out.erase(0, 2);
  if (out == ".") out.clear();
  return out;
}

bool IsRoot(const std::string& dir) { return dir.empty() || dir == "/"; }

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status IoError(std::string_view what, std::string_view path) {
  std::string message(what);
  message += " ";
  message += path;
  return Status(Code::kIoError, std::move(message));
}

}  // namespace

struct MemEnv::Inode {
  // What reads see.
  std::string data;
  // Unless has_durable_image, the durable content is data[0, durable_size): the rest was appended
  // since the last sync.
  uint64_t durable_size = 0;
  // Set when the file was emptied and not synced since: the durable content is durable_image.
  bool has_durable_image = false;
  std::string durable_image;

  void MakeDurable() {
    has_durable_image = false;
    durable_image.clear();
    durable_image.shrink_to_fit();
    durable_size = data.size();
  }
  std::string DurableBytes() const {
    return has_durable_image ? durable_image : data.substr(0, durable_size);
  }
};

class MemEnv::File final : public WritableFile {
 public:
  File(MemEnv* env, std::string path, std::shared_ptr<Inode> inode, uint64_t generation)
      : env_(env), path_(std::move(path)), inode_(std::move(inode)), generation_(generation) {}

  Status Append(std::string_view data) override {
    const std::lock_guard<std::mutex> lock(env_->mutex_);
    SURGE_RETURN_IF_ERROR(CheckUsableLocked());
    SURGE_RETURN_IF_ERROR(env_->CountAndMaybeFail(FaultOp::kAppend, path_));
    inode_->data.append(data.data(), data.size());
    return Status::Ok();
  }

  Status Sync() override {
    const std::lock_guard<std::mutex> lock(env_->mutex_);
    SURGE_RETURN_IF_ERROR(CheckUsableLocked());
    SURGE_RETURN_IF_ERROR(env_->CountAndMaybeFail(FaultOp::kSync, path_));
    inode_->MakeDurable();
    return Status::Ok();
  }

  Status Close() override {
    const std::lock_guard<std::mutex> lock(env_->mutex_);
    closed_ = true;
    return Status::Ok();
  }

  uint64_t size() const override {
    const std::lock_guard<std::mutex> lock(env_->mutex_);
    return inode_->data.size();
  }

 private:
  Status CheckUsableLocked() const {
    if (closed_) return IoError("file already closed:", path_);
    if (generation_ != env_->generation_) return IoError("file handle lost in a crash:", path_);
    return Status::Ok();
  }

  MemEnv* env_;
  std::string path_;
  std::shared_ptr<Inode> inode_;
  uint64_t generation_;
  bool closed_ = false;
};

MemEnv::MemEnv(uint64_t seed)
    : wall_now_(std::chrono::milliseconds(kMemEnvWallStartMs)), random_state_(seed) {}

MemEnv::~MemEnv() = default;

Status MemEnv::CountAndMaybeFail(FaultOp op, std::string_view path) {
  const auto index = static_cast<size_t>(op);
  SURGE_ASSERT(index < kFaultOpCount);
  const uint64_t count = ++operation_counts_[index];
  const Fault& fault = faults_[index];
  if (fault.fail_at == 0) return Status::Ok();
  if (count == fault.fail_at || (fault.sticky && count > fault.fail_at)) {
    std::string what = "injected fault: ";
    what += kFaultOpNames[index];
    return IoError(what, path);
  }
  return Status::Ok();
}

bool MemEnv::DirExistsLocked(const std::string& dir) const {
  return IsRoot(dir) || dirs_.count(dir) != 0;
}

Status MemEnv::NeedParentLocked(const std::string& path) const {
  const std::string parent = ParentOf(path);
  if (!DirExistsLocked(parent)) return IoError("no such directory:", parent);
  return Status::Ok();
}

Result<std::unique_ptr<WritableFile>> MemEnv::OpenWritable(const std::string& raw_path,
                                                           bool truncate) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kOpenWritable, path));
  SURGE_RETURN_IF_ERROR(NeedParentLocked(path));
  if (dirs_.count(path) != 0 || IsRoot(path)) return IoError("is a directory:", path);
  std::shared_ptr<Inode>& slot = files_[path];
  if (slot == nullptr) {
    slot = std::make_shared<Inode>();
  } else if (truncate && !slot->data.empty()) {
    Inode& inode = *slot;
    if (!inode.has_durable_image) {
      inode.durable_image = inode.data.substr(0, inode.durable_size);
      inode.has_durable_image = true;
    }
    inode.data.clear();
  }
  return std::unique_ptr<WritableFile>(new File(this, path, slot, generation_));
}

Result<std::string> MemEnv::ReadFile(const std::string& path) {
  return ReadAt(path, 0, UINT64_MAX);
}

Result<std::string> MemEnv::ReadAt(const std::string& raw_path, uint64_t offset, uint64_t length) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kRead, path));
  const auto found = files_.find(path);
  if (found == files_.end()) return IoError("no such file:", path);
  const std::string& data = found->second->data;
  if (offset >= data.size()) return std::string();
  return data.substr(offset, std::min<uint64_t>(length, data.size() - offset));
}

Result<uint64_t> MemEnv::FileSize(const std::string& raw_path) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = files_.find(path);
  if (found == files_.end()) return IoError("no such file:", path);
  return static_cast<uint64_t>(found->second->data.size());
}

bool MemEnv::FileExists(const std::string& raw_path) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  return files_.count(path) != 0 || DirExistsLocked(path);
}

Result<std::vector<std::string>> MemEnv::ListDir(const std::string& raw_dir) {
  const std::string dir = Normalize(raw_dir);
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!DirExistsLocked(dir)) return IoError("no such directory:", dir);
  std::vector<std::string> names;
  for (const auto& [path, inode] : files_) {
    if (ParentOf(path) == dir) names.push_back(BaseName(path));
  }
  for (const std::string& path : dirs_) {
    if (ParentOf(path) == dir) names.push_back(BaseName(path));
  }
  return names;
}

Status MemEnv::CreateDir(const std::string& raw_dir) {
  const std::string dir = Normalize(raw_dir);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kCreateDir, dir));
  // Every prefix ending before a '/', then the whole path.
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string partial = dir.substr(0, slash);
    if (!IsRoot(partial)) {
      if (files_.count(partial) != 0) return IoError("not a directory:", partial);
      dirs_.insert(partial);
    }
    if (slash == std::string::npos) break;
  }
  return Status::Ok();
}

Status MemEnv::RemoveFile(const std::string& raw_path) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kRemove, path));
  if (files_.erase(path) == 0) return IoError("no such file:", path);
  return Status::Ok();
}

Status MemEnv::RenameFile(const std::string& raw_from, const std::string& raw_to) {
  const std::string from = Normalize(raw_from);
  const std::string to = Normalize(raw_to);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kRename, from));
  const auto found = files_.find(from);
  if (found == files_.end()) return IoError("no such file:", from);
  SURGE_RETURN_IF_ERROR(NeedParentLocked(to));
  if (DirExistsLocked(to)) return IoError("is a directory:", to);
  if (from == to) return Status::Ok();
  std::shared_ptr<Inode> inode = found->second;
  files_.erase(found);
  files_[to] = std::move(inode);
  return Status::Ok();
}

Status MemEnv::TruncateFile(const std::string& raw_path, uint64_t size) {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kTruncate, path));
  const auto found = files_.find(path);
  if (found == files_.end()) return IoError("no such file:", path);
  Inode& inode = *found->second;
  inode.data.resize(size, '\0');
  inode.MakeDurable();
  return Status::Ok();
}

Status MemEnv::SyncDir(const std::string& raw_dir) {
  const std::string dir = Normalize(raw_dir);
  const std::lock_guard<std::mutex> lock(mutex_);
  SURGE_RETURN_IF_ERROR(CountAndMaybeFail(FaultOp::kSyncDir, dir));
  if (!DirExistsLocked(dir)) return IoError("no such directory:", dir);
  for (auto it = durable_files_.begin(); it != durable_files_.end();) {
    const bool gone = ParentOf(it->first) == dir && files_.count(it->first) == 0;
    it = gone ? durable_files_.erase(it) : std::next(it);
  }
  for (const auto& [path, inode] : files_) {
    if (ParentOf(path) == dir) durable_files_[path] = inode;
  }
  for (auto it = durable_dirs_.begin(); it != durable_dirs_.end();) {
    const bool gone = ParentOf(*it) == dir && dirs_.count(*it) == 0;
    it = gone ? durable_dirs_.erase(it) : std::next(it);
  }
  for (const std::string& path : dirs_) {
    if (ParentOf(path) == dir) durable_dirs_.insert(path);
  }
  return Status::Ok();
}

void MemEnv::RevertInodeLocked(const std::string& path, Inode& inode, const CrashOptions& options) {
  if (inode.has_durable_image) {
    inode.data = std::move(inode.durable_image);
  } else {
    const uint64_t unsynced = inode.data.size() - inode.durable_size;
    uint64_t keep = 0;
    if (unsynced > 0 && options.keep_unsynced_bytes) {
      keep = std::min(options.keep_unsynced_bytes(path, unsynced), unsynced);
    } else if (unsynced > 0 && options.tear_at_random) {
      keep = RandomLocked() % (unsynced + 1);
    }
    inode.data.resize(inode.durable_size + keep);
  }
  inode.MakeDurable();
}

void MemEnv::Crash(const CrashOptions& options) {
  const std::lock_guard<std::mutex> lock(mutex_);
  locks_.clear();  // the crashed process's locks die with it
  if (options.keep_unsynced_directory_changes) {
    durable_files_ = files_;
    durable_dirs_ = dirs_;
  }
  // An entry survives only if its whole directory chain does. The set is ordered, so a directory
  // comes before everything beneath it.
  std::set<std::string> surviving_dirs;
  for (const std::string& dir : durable_dirs_) {
    const std::string parent = ParentOf(dir);
    if (IsRoot(parent) || surviving_dirs.count(parent) != 0) surviving_dirs.insert(dir);
  }
  std::map<std::string, std::shared_ptr<Inode>> surviving_files;
  std::unordered_set<const Inode*> reverted;
  for (auto& [path, inode] : durable_files_) {
    const std::string parent = ParentOf(path);
    if (!IsRoot(parent) && surviving_dirs.count(parent) == 0) continue;
    if (reverted.insert(inode.get()).second) RevertInodeLocked(path, *inode, options);
    surviving_files.emplace(path, inode);
  }
  durable_dirs_ = surviving_dirs;
  dirs_ = std::move(surviving_dirs);
  durable_files_ = surviving_files;
  files_ = std::move(surviving_files);
  ++generation_;
}

void MemEnv::FailNth(FaultOp op, uint64_t n, bool sticky) {
  SURGE_ASSERT(n >= 1);
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto index = static_cast<size_t>(op);
  SURGE_ASSERT(index < kFaultOpCount);
  faults_[index] = Fault{operation_counts_[index] + n, sticky};
}

void MemEnv::ClearFaults() {
  const std::lock_guard<std::mutex> lock(mutex_);
  faults_.fill(Fault{});
}

uint64_t MemEnv::OperationCount(FaultOp op) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto index = static_cast<size_t>(op);
  SURGE_ASSERT(index < kFaultOpCount);
  return operation_counts_[index];
}

Status MemEnv::FlipBit(const std::string& raw_path, uint64_t offset, uint8_t mask) {
  SURGE_ASSERT(mask != 0);
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = files_.find(path);
  if (found == files_.end()) return IoError("no such file:", path);
  Inode& inode = *found->second;
  if (offset >= inode.data.size()) return IoError("offset beyond the end of", path);
  inode.data[offset] = static_cast<char>(inode.data[offset] ^ mask);
  if (inode.has_durable_image && offset < inode.durable_image.size()) {
    inode.durable_image[offset] = static_cast<char>(inode.durable_image[offset] ^ mask);
  }
  return Status::Ok();
}

Result<std::string> MemEnv::DurableContent(const std::string& raw_path) const {
  const std::string path = Normalize(raw_path);
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = durable_files_.find(path);
  bool chain_durable = found != durable_files_.end();
  for (std::string dir = ParentOf(path); chain_durable && !IsRoot(dir); dir = ParentOf(dir)) {
    chain_durable = durable_dirs_.count(dir) != 0;
  }
  if (!chain_durable) return Status(Code::kNotFound, "no durable entry for " + path);
  return found->second->DurableBytes();
}

std::chrono::nanoseconds MemEnv::MonotonicNow() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return monotonic_now_;
}

int64_t MemEnv::WallNowMs() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall_now_).count();
}

uint64_t MemEnv::RandomLocked() {
  // splitmix64: tiny, fast, and the same sequence on every platform.
  random_state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t value = random_state_;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

namespace {

class MemFileLock final : public FileLock {
 public:
  MemFileLock(std::function<void()> release) : release_(std::move(release)) {}
  ~MemFileLock() override { release_(); }

 private:
  std::function<void()> release_;
};

}  // namespace

Result<std::unique_ptr<FileLock>> MemEnv::LockFile(const std::string& path) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (locks_.count(path) != 0) {
    return Status(Code::kUnavailable, path + " is locked by another process");
  }
  const uint64_t token = next_lock_token_++;
  locks_[path] = token;
  return std::unique_ptr<FileLock>(new MemFileLock([this, path, token] {
    const std::lock_guard<std::mutex> relock(mutex_);
    const auto it = locks_.find(path);
    // After a crash the path may be held by a newer holder: leave that one alone.
    if (it != locks_.end() && it->second == token) locks_.erase(it);
  }));
}

uint64_t MemEnv::Random() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return RandomLocked();
}

void MemEnv::SetMonotonicNow(std::chrono::nanoseconds now) {
  const std::lock_guard<std::mutex> lock(mutex_);
  monotonic_now_ = now;
}

void MemEnv::SetWallNowMs(int64_t now_ms) {
  const std::lock_guard<std::mutex> lock(mutex_);
  wall_now_ = std::chrono::milliseconds(now_ms);
}

void MemEnv::AdvanceBy(std::chrono::nanoseconds duration) {
  const std::lock_guard<std::mutex> lock(mutex_);
  monotonic_now_ += duration;
  wall_now_ += duration;
}

}  // namespace surge
