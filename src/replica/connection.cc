#include "replica/connection.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace surge::replica {
namespace {

using SteadyClock = std::chrono::steady_clock;

int RemainingMs(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits until `fd` is ready for `events` or the deadline passes (false).
bool WaitFor(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = poll(&entry, 1, RemainingMs(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return true;  // let the next call report the error
  }
}

}  // namespace

Connection::Connection(int fd) : fd_(fd) {
  const int flags = fcntl(fd_, F_GETFL, 0);
  if (flags >= 0) (void)fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

Connection::~Connection() { close(fd_); }

void Connection::Shutdown() { (void)shutdown(fd_, SHUT_RDWR); }

Status Connection::Send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd_, POLLOUT, deadline)) {
        return Status(Code::kIoError, "sending to the peer timed out");
      }
      continue;
    }
    return Status(Code::kIoError, std::string("sending to the peer: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Result<wire::Frame> Connection::Receive(std::chrono::milliseconds timeout, bool* timed_out) {
  if (timed_out != nullptr) *timed_out = false;
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;
  // Frames already returned are dropped only now: their views were valid until this call.
  buffer_.erase(0, consumed_);
  consumed_ = 0;
  for (;;) {
    wire::Frame frame;
    SURGE_ASSIGN_OR_RETURN(const size_t taken, wire::DecodeFrame(buffer_, &frame));
    if (taken > 0) {
      consumed_ = taken;
      return frame;
    }
    char chunk[64 * 1024];
    const ssize_t got = recv(fd_, chunk, sizeof(chunk), 0);
    if (got > 0) {
      buffer_.append(chunk, static_cast<size_t>(got));
      continue;
    }
    if (got == 0) return Status(Code::kIoError, "the peer closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status(Code::kIoError,
                    std::string("receiving from the peer: ") + std::strerror(errno));
    }
    if (!WaitFor(fd_, POLLIN, deadline)) {
      if (timed_out != nullptr) *timed_out = true;
      return Status(Code::kIoError, "the peer sent nothing in time");
    }
  }
}

}  // namespace surge::replica
