// Resolving and connecting TCP endpoints: the one wrapper of getaddrinfo that the http client, the
// gateway and the embedded bus share.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace surge {

// One socket address as getaddrinfo gives it, for socket(family(), SOCK_STREAM, 0), connect and
// bind.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Resolves `host` (a name, or an IPv4 or IPv6 literal without brackets) and `port` to the
// addresses of a TCP endpoint, in getaddrinfo's order of preference; never an empty list. Port 0
// is passed through (to bind any free port). May block on DNS for a name; thread-safe.
// Errors: io_error "resolving HOST:PORT: <reason>" (an IPv6 host in brackets in the message).
Result<std::vector<SocketAddress>> ResolveTcp(const std::string& host, uint16_t port);

// Connects to `host`:`port`, trying each address ResolveTcp gives in turn until one connects,
// all within `timeout` (resolving included). Returns a non-blocking, close-on-exec socket with
// TCP_NODELAY set, which the caller owns and closes. Errors: ResolveTcp's, or io_error
// "connecting to HOST:PORT: <reason of the last address tried>" ("Connection timed out" when the
// time ran out).
Result<int> ConnectTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// Listens on `host`:`port` (port 0: any free one) with SO_REUSEADDR, on the first address
// ResolveTcp gives. Returns the close-on-exec listening socket, which the caller owns and closes,
// and the port it is bound to. Errors: ResolveTcp's, or io_error "listening on HOST:PORT:
// <reason>".
struct Listening {
  int fd = -1;
  uint16_t port = 0;
};
Result<Listening> ListenTcp(const std::string& host, uint16_t port, int backlog = 64);

}  // namespace surge
