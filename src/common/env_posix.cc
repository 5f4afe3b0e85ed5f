// The real Env over POSIX files and clocks.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>

#include "common/env.h"

namespace surge {
namespace {

Status IoError(std::string_view what, const std::string& path, int error_number) {
  std::string message(what);
  message += " ";
  message += path;
  message += ": ";
  message += std::strerror(error_number);
  return Status(Code::kIoError, std::move(message));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    SURGE_ASSERT(fd_ >= 0);
    while (!data.empty()) {
      const ssize_t written = ::write(fd_, data.data(), data.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        return IoError("writing", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(written));
      size_ += static_cast<uint64_t>(written);
    }
    return Status::Ok();
  }

  Status Sync() override {
    SURGE_ASSERT(fd_ >= 0);
    if (::fdatasync(fd_) != 0) return IoError("syncing", path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    const int result = ::close(fd_);
    fd_ = -1;
    if (result != 0) return IoError("closing", path_, errno);
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing the descriptor releases the flock

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     bool truncate) override {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (truncate) flags |= O_TRUNC;
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return IoError("opening", path, errno);
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const int error_number = errno;
      ::close(fd);
      return IoError("inspecting", path, error_number);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(info.st_size)));
  }

  Result<std::string> ReadFile(const std::string& path) override {
    SURGE_ASSIGN_OR_RETURN(const uint64_t size, FileSize(path));
    return ReadAt(path, 0, size);
  }

  Result<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t length) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("opening", path, errno);
    std::string data(length, '\0');
    uint64_t done = 0;
    while (done < length) {
      const ssize_t got =
          ::pread(fd, data.data() + done, length - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        const int error_number = errno;
        ::close(fd);
        return IoError("reading", path, error_number);
      }
      if (got == 0) break;
      done += static_cast<uint64_t>(got);
    }
    ::close(fd);
    data.resize(done);
    return data;
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return IoError("inspecting", path, errno);
    return static_cast<uint64_t>(info.st_size);
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) return IoError("listing", dir, errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(handle)) {
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(handle);
    return names;
  }

  Status CreateDir(const std::string& dir) override {
    std::string partial;
    size_t position = 0;
    while (position != std::string::npos) {
      position = dir.find('/', position + 1);
      partial = dir.substr(0, position);
      if (partial.empty()) continue;
      if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return IoError("creating directory", partial, errno);
      }
    }
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return IoError("removing", path, errno);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return IoError("renaming", from, errno);
    return Status::Ok();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return IoError("opening", path, errno);
    Status status;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      status = IoError("truncating", path, errno);
    } else if (::fdatasync(fd) != 0) {
      status = IoError("syncing", path, errno);
    }
    ::close(fd);
    return status;
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoError("opening directory", dir, errno);
    Status status;
    if (::fsync(fd) != 0) status = IoError("syncing directory", dir, errno);
    ::close(fd);
    return status;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("opening lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error_number = errno;
      ::close(fd);
      if (error_number == EWOULDBLOCK) {
        return Status(Code::kUnavailable,
                      path + " is locked by another process (is another surge running on it?)");
      }
      return IoError("locking", path, error_number);
    }
    // The holder's pid, for a person who wonders who has it.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) {
      [[maybe_unused]] const ssize_t written = ::write(fd, pid.data(), pid.size());
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }

  std::chrono::nanoseconds MonotonicNow() override {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
  }

  int64_t WallNowMs() override {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  }

  uint64_t Random() override {
    const std::lock_guard<std::mutex> lock(random_mutex_);
    return random_();
  }

 private:
  std::mutex random_mutex_;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

}  // namespace surge
