#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drill/drill.h"

namespace surge::drill {
namespace {

Status Errno(std::string_view what) {
  return Status(Code::kIoError, std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                const std::string& stderr_path) {
  SURGE_ASSERT(!argv.empty());
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe");
  int stderr_fd = -1;
  if (!stderr_path.empty()) {
    stderr_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (stderr_fd < 0) return Errno("opening " + stderr_path);
  }
  std::vector<char*> arguments;
  arguments.reserve(argv.size() + 1);
  for (const std::string& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    if (stderr_fd >= 0) ::dup2(stderr_fd, STDERR_FILENO);
    ::execv(arguments[0], arguments.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (stderr_fd >= 0) ::close(stderr_fd);
  return std::unique_ptr<Process>(new Process(pid, pipe_fds[0]));
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::close(stdout_fd_);
}

Result<std::string> Process::WaitForLine(std::string_view needle,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t newline;
    while ((newline = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status(Code::kUnavailable, "no line containing '" + std::string(needle) + "' in time");
    }
    pollfd poll_fd{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return Errno("poll");
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t got = ::read(stdout_fd_, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Status(Code::kUnavailable, "process closed its output");
    pending_.append(chunk, static_cast<size_t>(got));
  }
}

Status Process::Signal(int signal_number) {
  if (reaped_) return Status(Code::kInvalidArgument, "process already exited");
  if (::kill(pid_, signal_number) != 0) return Errno("kill");
  return Status::Ok();
}

Result<int> Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return WEXITSTATUS(status);
    }
    if (done < 0) return Errno("waitpid");
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kUnavailable, "process did not exit in time");
    }
    ::usleep(2000);
  }
}

bool Process::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) reaped_ = true;
  return !reaped_;
}

}  // namespace surge::drill
