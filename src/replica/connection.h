// Private to replica: one TCP connection carrying wire frames, with timeouts.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"
#include "replica/wire.h"

namespace surge::replica {

class Connection {
 public:
  // Takes `fd` (a connected stream socket; made non-blocking here) and closes it when destroyed.
  explicit Connection(int fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all of `bytes` within `timeout`. io_error when the peer is gone or too slow.
  Status Send(std::string_view bytes, std::chrono::milliseconds timeout);
  // The next frame, within `timeout`; its views stay valid until the next Receive. io_error when
  // the peer closed or failed, or the time ran out (then *timed_out is set, if given); corruption
  // for a bad frame.
  Result<wire::Frame> Receive(std::chrono::milliseconds timeout, bool* timed_out = nullptr);
  // Ends both directions now (from any thread): a blocked Send or Receive returns.
  void Shutdown();
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ taken by frames already returned
};

}  // namespace surge::replica
