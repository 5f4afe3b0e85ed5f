#include "common/net.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace surge {
namespace {

using Clock = std::chrono::steady_clock;

std::string HostPort(const std::string& host, uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Waits for a non-blocking connect on `fd` to finish by `deadline`; returns its errno (0: done).
int AwaitConnect(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd entry{fd, POLLOUT, 0};
    const int ready = poll(&entry, 1, static_cast<int>(std::max<int64_t>(0, left)));
    if (ready == 0) return ETIMEDOUT;
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
  }
}

// Connects a new non-blocking socket to `address`; returns it, or -1 with the errno in *error.
int ConnectOne(const SocketAddress& address, Clock::time_point deadline, int* error) {
  const int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return -1;
  }
  *error = connect(fd, address.get(), address.length) == 0 ? 0 : errno;
  if (*error == EINPROGRESS) *error = AwaitConnect(fd, deadline);
  if (*error == 0) return fd;
  close(fd);
  return -1;
}

}  // namespace

Result<std::vector<SocketAddress>> ResolveTcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status(Code::kIoError, "resolving " + HostPort(host, port) + ": " +
                                      (rc != 0 ? gai_strerror(rc) : "no address"));
  }
  std::vector<SocketAddress> addresses;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    SocketAddress address;
    SURGE_ASSERT(a->ai_addrlen <= sizeof(address.storage));
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    addresses.push_back(address);
  }
  freeaddrinfo(found);
  return addresses;
}

Result<int> ConnectTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  SURGE_ASSIGN_OR_RETURN(const std::vector<SocketAddress> addresses, ResolveTcp(host, port));
  int error = 0;
  for (const SocketAddress& address : addresses) {
    const int fd = ConnectOne(address, deadline, &error);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  return Status(Code::kIoError,
                "connecting to " + HostPort(host, port) + ": " + std::strerror(error));
}

Result<Listening> ListenTcp(const std::string& host, uint16_t port, int backlog) {
  SURGE_ASSIGN_OR_RETURN(const std::vector<SocketAddress> addresses, ResolveTcp(host, port));
  const SocketAddress& address = addresses.front();
  const auto fail = [&](int fd, const char* what) {
    const int error = errno;
    if (fd >= 0) close(fd);
    return Status(Code::kIoError, "listening on " + HostPort(host, port) + ": " + what + ": " +
                                      std::strerror(error));
  };
  const int fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fd, "socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, address.get(), address.length) != 0) return fail(fd, "bind");
  if (listen(fd, backlog) != 0) return fail(fd, "listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return fail(fd, "getsockname");
  }
  const uint16_t bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Listening{fd, bound_port};
}

}  // namespace surge
