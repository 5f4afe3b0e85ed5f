// ResolveTcp and ConnectTcp against loopback listeners bound to port 0. The failing names are
// ones getaddrinfo refuses without asking a DNS server, so the tests do not depend on a network.
#include "common/net.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace surge {
namespace {

using std::chrono::milliseconds;

uint16_t PortOf(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

// A listening socket on 127.0.0.1 and a free port, closed by the destructor.
class Listener {
 public:
  explicit Listener(int backlog = 16) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, backlog), 0);
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = PortOf(bound);
  }
  ~Listener() { close(fd_); }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(ResolveTcp, Ipv4Literal) {
  const Result<std::vector<SocketAddress>> addresses = ResolveTcp("127.0.0.1", 8080);
  ASSERT_TRUE(addresses.ok()) << addresses.status().ToString();
  ASSERT_EQ(addresses->size(), 1u);
  const SocketAddress& address = addresses->front();
  EXPECT_EQ(address.family(), AF_INET);
  EXPECT_EQ(address.length, sizeof(sockaddr_in));
  EXPECT_EQ(PortOf(address.storage), 8080);
  EXPECT_EQ(ntohl(reinterpret_cast<const sockaddr_in*>(address.get())->sin_addr.s_addr),
            INADDR_LOOPBACK);
}

TEST(ResolveTcp, Ipv6LiteralAndPortZero) {
  const Result<std::vector<SocketAddress>> addresses = ResolveTcp("::1", 0);
  ASSERT_TRUE(addresses.ok()) << addresses.status().ToString();
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_EQ(addresses->front().family(), AF_INET6);
  EXPECT_EQ(addresses->front().length, sizeof(sockaddr_in6));
  EXPECT_EQ(PortOf(addresses->front().storage), 0);
}

TEST(ResolveTcp, LocalhostByName) {
  const Result<std::vector<SocketAddress>> addresses = ResolveTcp("localhost", 9);
  ASSERT_TRUE(addresses.ok()) << addresses.status().ToString();
  ASSERT_FALSE(addresses->empty());
  for (const SocketAddress& address : *addresses) EXPECT_EQ(PortOf(address.storage), 9);
}

TEST(ResolveTcp, ErrorsNameTheHost) {
  Result<std::vector<SocketAddress>> addresses = ResolveTcp("bad host", 80);
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().code(), Code::kIoError);
  EXPECT_EQ(addresses.status().message().rfind("resolving bad host:80: ", 0), 0u)
      << addresses.status().message();

  // The host is passed as it is: brackets are the caller's to strip.
  addresses = ResolveTcp("[::1]", 80);
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().message().rfind("resolving [[::1]]:80: ", 0), 0u)
      << addresses.status().message();
}

TEST(ConnectTcp, ConnectsANonBlockingNoDelaySocket) {
  Listener listener;
  const Result<int> fd = ConnectTcp("127.0.0.1", listener.port(), milliseconds(2000));
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_NE(fcntl(*fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(*fd, F_GETFD) & FD_CLOEXEC, 0);
  int no_delay = 0;
  socklen_t length = sizeof(no_delay);
  ASSERT_EQ(getsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, &length), 0);
  EXPECT_NE(no_delay, 0);

  // The connection is real: what one side writes the other reads.
  const int accepted = accept(listener.fd(), nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(write(accepted, "hi", 2), 2);
  char buffer[2] = {};
  ssize_t n = -1;
  for (int i = 0; i < 200 && n != 2; ++i) {
    n = read(*fd, buffer, sizeof(buffer));
    if (n != 2) usleep(5000);
  }
  EXPECT_EQ(n, 2);
  EXPECT_EQ(std::string(buffer, 2), "hi");
  close(accepted);
  close(*fd);
}

TEST(ConnectTcp, ByName) {
  Listener listener;  // 127.0.0.1 only: "localhost" may resolve to ::1 first, which is refused
  const Result<int> fd = ConnectTcp("localhost", listener.port(), milliseconds(2000));
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  close(*fd);
}

TEST(ConnectTcp, RefusedNamesTheAddress) {
  uint16_t port = 0;
  {
    Listener closed;
    port = closed.port();
  }
  const Result<int> fd = ConnectTcp("127.0.0.1", port, milliseconds(2000));
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), Code::kIoError);
  EXPECT_EQ(fd.status().message(),
            "connecting to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

// A listener whose accept queue is full drops new SYNs, so the connect cannot finish in time.
TEST(ConnectTcp, TimesOut) {
  Listener listener(/*backlog=*/0);
  std::vector<int> queued;
  Result<int> fd = ConnectTcp("127.0.0.1", listener.port(), milliseconds(300));
  for (int i = 0; i < 4 && fd.ok(); ++i) {
    queued.push_back(*fd);
    fd = ConnectTcp("127.0.0.1", listener.port(), milliseconds(300));
  }
  for (const int queued_fd : queued) close(queued_fd);
  ASSERT_FALSE(fd.ok()) << "the accept queue never filled";
  EXPECT_EQ(fd.status().message(), "connecting to 127.0.0.1:" + std::to_string(listener.port()) +
                                       ": Connection timed out");
}

TEST(ConnectTcp, ResolveErrorsPassThrough) {
  const Result<int> fd = ConnectTcp("bad host", 80, milliseconds(2000));
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().message().rfind("resolving bad host:80: ", 0), 0u);
}

}  // namespace
}  // namespace surge
