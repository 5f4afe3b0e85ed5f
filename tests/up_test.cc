// `surge up` as a person runs it, on ports of its own: three centers and a gateway start as
// processes of their own and serve; the demo reaches the master through the gateway; a center
// killed with -9 is restarted by the supervisor; SIGTERM stops the gateway first, then every
// center, leaves no process behind, and exits 0.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "drill/drill.h"
#include "http/http.h"
#include "json/json.h"

namespace surge {
namespace {

using std::chrono::milliseconds;

// Ports that were free a moment ago: all bound at once (so they differ), then released for the
// deployment to take. The topology needs fixed addresses, so port 0 cannot be used directly.
std::vector<uint16_t> FreePorts(int count) {
  std::vector<int> sockets;
  std::vector<uint16_t> ports;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot bind a free port: " << std::strerror(errno);
      return {};
    }
    sockets.push_back(fd);
    ports.push_back(ntohs(address.sin_port));
  }
  for (const int fd : sockets) ::close(fd);
  return ports;
}

// What the deployment's processes are, as `surge up` announced them.
struct Announced {
  std::map<std::string, pid_t> pids;  // "center m", "gateway"
  std::map<std::string, std::string> addresses;
};

// Reads one "surge up: NAME listening on HOST:PORT, pid N, log FILE" line into `announced`.
void ReadAnnouncement(drill::Process& up, Announced* announced) {
  auto line = up.WaitForLine(" listening on ", milliseconds(30'000));
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  const std::string prefix = "surge up: ";
  const size_t name_end = line->find(" listening on ");
  const size_t address_begin = name_end + std::string(" listening on ").size();
  const size_t pid_begin = line->find(", pid ");
  ASSERT_EQ(line->rfind(prefix, 0), 0u) << *line;
  ASSERT_NE(pid_begin, std::string::npos) << *line;
  const std::string name = line->substr(prefix.size(), name_end - prefix.size());
  announced->addresses[name] = line->substr(address_begin, pid_begin - address_begin);
  announced->pids[name] = static_cast<pid_t>(std::stol(line->substr(pid_begin + 6)));
}

bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

class UpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-up-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    const std::vector<uint16_t> ports = FreePorts(8);
    ASSERT_EQ(ports.size(), 8u);
    brain_address_ = "127.0.0.1:" + std::to_string(ports[7]);
    const auto address = [&](size_t i) { return "127.0.0.1:" + std::to_string(ports[i]); };
    gateway_port_ = ports[6];
    std::ofstream topology(root_ + "/topology.toml");
    topology << "slices = 64\nmaster = \"m\"\n[gateway]\naddress = \"" << address(6) << "\"\n";
    const char* ids[] = {"m", "s1", "s2"};
    const char* slices[] = {"0-20", "21-42", "43-63"};
    for (size_t i = 0; i < 3; ++i) {
      topology << "[[center]]\nid = \"" << ids[i] << "\"\naddress = \"" << address(i)
               << "\"\nbus = \"" << address(3 + i) << "\"\nslices = [\"" << slices[i] << "\"]\n";
      center_addresses_[std::string("center ") + ids[i]] = address(i);
    }
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  std::string root_;
  uint16_t gateway_port_ = 0;
  std::string brain_address_;
  std::map<std::string, std::string> center_addresses_;
};

// A GET straight to a center (not through the gateway).
Result<http::ClientResponse> GetAt(const std::string& address, const std::string& target) {
  const size_t colon = address.rfind(':');
  http::Client client(address.substr(0, colon),
                      static_cast<uint16_t>(std::stoi(address.substr(colon + 1))),
                      milliseconds(5'000));
  return client.Do("GET", target);
}

TEST_F(UpTest, StartsSupervisesAndStopsAWholeDeployment) {
  auto started = drill::Process::Start({SURGE_BINARY, "up", "--data", root_ + "/data", "--topology",
                                        root_ + "/topology.toml", "--brain", brain_address_},
                                       root_ + "/up.stderr");
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  drill::Process& up = **started;
  // The centers start together (in any order), then the brain, then the gateway.
  Announced announced;
  for (int i = 0; i < 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(ReadAnnouncement(up, &announced)) << "see " << root_;
  }
  for (const auto& [name, address] : center_addresses_) {
    EXPECT_EQ(announced.addresses[name], address) << name;
  }
  EXPECT_EQ(announced.addresses["gateway"], "127.0.0.1:" + std::to_string(gateway_port_));
  EXPECT_EQ(announced.addresses["brain"], brain_address_);
  auto ready = up.WaitForLine("surge up: ready at ", milliseconds(30'000));
  ASSERT_TRUE(ready.ok()) << ready.status().ToString() << "; see " << root_;

  // The gateway answers the topology it was given.
  http::Client gateway("127.0.0.1", gateway_port_, milliseconds(5'000));
  auto topology = gateway.Do("GET", "/v1/topology");
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  EXPECT_EQ(topology->status, 200);
  json::Document document;
  ASSERT_TRUE(document.Parse(topology->body).ok()) << topology->body;
  auto centers = document.root().Field("centers");
  ASSERT_TRUE(centers.ok());
  EXPECT_EQ(*centers->ArraySize(), 3u);
  for (const auto& [name, address] : center_addresses_) {
    EXPECT_NE(topology->body.find("\"" + address + "\""), std::string::npos) << topology->body;
  }

  // The demo went through the gateway to the master; so does a new merchant.
  const std::string& master = center_addresses_["center m"];
  auto campaign = GetAt(master, "/v1/campaigns/flash1");
  ASSERT_TRUE(campaign.ok());
  EXPECT_EQ(campaign->status, 200) << campaign->body;
  auto put = gateway.Do("PUT", "/v1/merchants/up-test", R"({"name":"Up Test"})");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->status, 200) << put->body;
  auto merchant = GetAt(master, "/v1/merchants/up-test");
  ASSERT_TRUE(merchant.ok());
  EXPECT_EQ(merchant->status, 200);
  EXPECT_NE(merchant->body.find("Up Test"), std::string::npos) << merchant->body;

  // kill -9 of a sub-center: the supervisor starts a new one, which serves again.
  const pid_t killed = announced.pids["center s1"];
  ASSERT_GT(killed, 0);
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(ReadAnnouncement(up, &announced)) << "see " << root_;
  const double restart_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::printf("center s1 served again %.2f s after kill -9\n", restart_s);
  // A center's start on a busy machine (it ran for more than 2 s: restarted at once).
  EXPECT_LT(restart_s, 8.0);
  EXPECT_NE(announced.pids["center s1"], killed);
  EXPECT_TRUE(Gone(killed)) << "the killed center was not reaped";
  auto health = GetAt(center_addresses_["center s1"], "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("\"s1\""), std::string::npos) << health->body;

  // SIGTERM: the gateway stops first, then the centers; nothing is left running.
  ASSERT_TRUE(up.Signal(SIGTERM).ok());
  for (int i = 0; i < 4; ++i) {
    auto stopped = up.WaitForLine(") stopped (", milliseconds(15'000));
    ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
    if (i == 0) {
      EXPECT_NE(stopped->find("gateway"), std::string::npos) << *stopped;
    }
    EXPECT_NE(stopped->find("(exit status 0)"), std::string::npos) << *stopped;
  }
  auto exit_status = up.Wait(milliseconds(25'000));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status().ToString();
  EXPECT_EQ(*exit_status, 0);
  for (const auto& [name, pid] : announced.pids) {
    EXPECT_TRUE(Gone(pid)) << name << " (pid " << pid << ") is still running";
  }
  for (const char* log : {"m.log", "s1.log", "s2.log", "gateway.log"}) {
    EXPECT_TRUE(std::filesystem::exists(root_ + "/data/" + log)) << log;
  }
}

}  // namespace
}  // namespace surge
