// For tests of the JetStream bus: a real nats-server with JetStream, on loopback, on a free port,
// with its store in a temporary directory; stopped (and the directory removed) at the end. No
// mock: the tests exercise the server the bus runs against in production.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "common/program.h"
#include "common/status.h"

namespace surge::bus::testing {

class NatsServer {
 public:
  NatsServer() = default;
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  ~NatsServer() {
    Stop(SIGTERM);
    if (!store_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(store_, ignored);
    }
  }

  // Where nats-server is: on PATH, or in the sbin directories Debian installs it to (not on
  // every user's PATH). Empty if missing.
  static std::string FindBinary() { return FindProgram("nats-server"); }

  // Starts a fresh server on a free port with an empty store.
  Status Start() {
    binary_ = FindBinary();
    if (binary_.empty()) {
      return Status(Code::kUnavailable,
                    "nats-server is not installed (the JetStream bus tests need it): run "
                    "scripts/bootstrap.sh");
    }
    char pattern[] = "/tmp/surge-nats-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return Status(Code::kIoError, "mkdtemp failed");
    store_ = pattern;
    port_ = FreePort();
    if (port_ == 0) return Status(Code::kIoError, "no free port on 127.0.0.1");
    return Restart();
  }

  // Starts the server again on the same port and store (after Stop).
  Status Restart() {
    const std::string port = std::to_string(port_);
    const std::string log = store_ + "/server.log";
    std::vector<std::string> args = {binary_, "-js", "-a", "127.0.0.1", "-p", port, "-sd", store_};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = fork();
    if (pid_ < 0) return Status(Code::kIoError, "fork failed");
    if (pid_ == 0) {
      if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (log_fd >= 0) close(log_fd);
    // Wait until it accepts connections and its JetStream answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    Status last(Code::kUnavailable, "nats-server did not start (see " + log + ")");
    while (std::chrono::steady_clock::now() < deadline) {
      int exit_status = 0;
      if (waitpid(pid_, &exit_status, WNOHANG) == pid_) {
        pid_ = 0;
        return Status(Code::kUnavailable, "nats-server exited at once (see " + log + ")");
      }
      if (Accepts()) {
        auto bus = NewJetStreamBus(url());
        if (bus.ok()) return Status::Ok();
        last = bus.status();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return last;
  }

  // Stops the server (SIGKILL: as if it crashed; SIGTERM: a clean shutdown) and waits for it.
  void Stop(int signal_number) {
    if (pid_ <= 0) return;
    kill(pid_, signal_number);
    int exit_status = 0;
    waitpid(pid_, &exit_status, 0);
    pid_ = 0;
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }

 private:
  static int FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = ntohs(address.sin_port);
    }
    close(fd);
    return port;
  }

  bool Accepts() const {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    return ok;
  }

  std::string binary_;
  std::string store_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace surge::bus::testing
