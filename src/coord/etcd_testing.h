// For tests of the etcd coordinator: a real etcd cluster (three members by default) on loopback,
// on free ports, with its data in a temporary directory; killed (and the directory removed) at
// the end. No mock: the tests exercise the server the coordinator runs against in production.
//
// Elections are made fast (heartbeat 25 ms, election timeout 250 ms), which also lowers etcd's
// minimum lease TTL to 1 s (1.5 election timeouts, rounded up to whole seconds). Each member is
// killed with its test process (PR_SET_PDEATHSIG), so a crashed test leaves no etcd behind.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/program.h"
#include "common/status.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::coord::testing {

class EtcdCluster {
 public:
  EtcdCluster() = default;
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;
  ~EtcdCluster() {
    for (size_t i = 0; i < members_.size(); ++i) Kill(i, SIGKILL);
    if (!directory_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(directory_, ignored);
    }
  }

  // Where etcd is: on PATH, or where Debian installs it. Empty if missing.
  static std::string FindBinary() { return FindProgram("etcd"); }

  // Starts a fresh cluster of `count` members and waits until it has a leader.
  Status Start(size_t count = 3) {
    binary_ = FindBinary();
    if (binary_.empty()) {
      return Status(Code::kUnavailable,
                    "etcd is not installed (the etcd coordinator tests need it): run "
                    "scripts/bootstrap.sh");
    }
    char pattern[] = "/tmp/surge-etcd-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return Status(Code::kIoError, "mkdtemp failed");
    directory_ = pattern;
    members_.resize(count);
    const std::vector<int> ports = FreePorts(2 * count);
    if (ports.size() != 2 * count) return Status(Code::kIoError, "no free ports on 127.0.0.1");
    std::string cluster;
    for (size_t i = 0; i < count; ++i) {
      Member& member = members_[i];
      member.name = "m" + std::to_string(i);
      member.client_port = ports[2 * i];
      member.peer_port = ports[2 * i + 1];
      if (!cluster.empty()) cluster += ",";
      cluster += member.name + "=" + PeerUrl(member);
    }
    initial_cluster_ = cluster;
    for (size_t i = 0; i < count; ++i) SURGE_RETURN_IF_ERROR(Spawn(i));
    return WaitForLeader(std::chrono::seconds(30));
  }

  // Stops member `index` with `signal` (SIGKILL: a crash) and waits for it to exit.
  void Kill(size_t index, int signal = SIGKILL) {
    Member& member = members_[index];
    if (member.pid <= 0) return;
    kill(member.pid, signal);
    int exit_status = 0;
    waitpid(member.pid, &exit_status, 0);
    member.pid = 0;
  }

  // Starts member `index` again on its ports and data (after Kill). Does not wait for it.
  Status Restart(size_t index) { return Spawn(index); }

  // Waits until every running member names the same leader, itself running.
  Status WaitForLeader(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Status last(Code::kUnavailable, "no leader yet");
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t i = 0; i < members_.size(); ++i) {
        int exit_status = 0;
        if (members_[i].pid > 0 &&
            waitpid(members_[i].pid, &exit_status, WNOHANG) == members_[i].pid) {
          members_[i].pid = 0;
          return Status(Code::kUnavailable,
                        "etcd member " + members_[i].name + " exited (see " + LogPath(i) + ")");
        }
      }
      Result<size_t> leader = Leader();
      if (leader.ok()) return Status::Ok();
      last = leader.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status(Code::kUnavailable,
                  "etcd cluster in " + directory_ + " has no leader: " + last.message());
  }

  // The index of the leader, as every running member reports it (/v3/maintenance/status);
  // unavailable if they disagree or one does not answer.
  Result<size_t> Leader() {
    std::string leader_id;
    for (size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].pid <= 0) continue;
      http::Client client("127.0.0.1", static_cast<uint16_t>(members_[i].client_port),
                          std::chrono::milliseconds(500));
      Result<http::ClientResponse> response = client.Do("POST", "/v3/maintenance/status", "{}");
      if (!response.ok()) return response.status();
      if (response->status != 200) return Status(Code::kUnavailable, response->body);
      json::Document document;
      SURGE_RETURN_IF_ERROR(document.Parse(response->body));
      SURGE_ASSIGN_OR_RETURN(const json::Value header, document.root().Field("header"));
      SURGE_ASSIGN_OR_RETURN(const json::Value member_id, header.Field("member_id"));
      members_[i].id = std::string(*member_id.String());
      if (!document.root().Has("leader")) return Status(Code::kUnavailable, "no leader yet");
      SURGE_ASSIGN_OR_RETURN(const json::Value leader, document.root().Field("leader"));
      SURGE_ASSIGN_OR_RETURN(const std::string_view this_leader, leader.String());
      if (this_leader == "0") return Status(Code::kUnavailable, "no leader yet");
      if (!leader_id.empty() && leader_id != this_leader) {
        return Status(Code::kUnavailable, "members disagree on the leader");
      }
      leader_id = this_leader;
    }
    for (size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].pid > 0 && members_[i].id == leader_id) return i;
    }
    return Status(Code::kUnavailable, "the leader is not a running member");
  }

  size_t size() const { return members_.size(); }
  bool running(size_t index) const { return members_[index].pid > 0; }
  // "127.0.0.1:<client port>" of member `index`.
  std::string endpoint(size_t index) const {
    return "127.0.0.1:" + std::to_string(members_[index].client_port);
  }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> all;
    for (size_t i = 0; i < members_.size(); ++i) all.push_back(endpoint(i));
    return all;
  }
  const std::string& directory() const { return directory_; }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = 0;
    std::string id;  // etcd's member id, learned from its status
  };

  static std::string PeerUrl(const Member& member) {
    return "http://127.0.0.1:" + std::to_string(member.peer_port);
  }
  std::string LogPath(size_t index) const {
    return directory_ + "/" + members_[index].name + ".log";
  }

  Status Spawn(size_t index) {
    Member& member = members_[index];
    const std::string client_url = "http://127.0.0.1:" + std::to_string(member.client_port);
    std::vector<std::string> args = {binary_,
                                     "--name=" + member.name,
                                     "--data-dir=" + directory_ + "/" + member.name,
                                     "--listen-client-urls=" + client_url,
                                     "--advertise-client-urls=" + client_url,
                                     "--listen-peer-urls=" + PeerUrl(member),
                                     "--initial-advertise-peer-urls=" + PeerUrl(member),
                                     "--initial-cluster=" + initial_cluster_,
                                     "--initial-cluster-state=new",
                                     "--initial-cluster-token=" + directory_,
                                     "--heartbeat-interval=25",
                                     "--election-timeout=250",
                                     "--logger=zap",
                                     "--log-level=warn"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = LogPath(index);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const pid_t parent = getpid();
    member.pid = fork();
    if (member.pid < 0) {
      member.pid = 0;
      if (log_fd >= 0) close(log_fd);
      return Status(Code::kIoError, "fork failed");
    }
    if (member.pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (log_fd >= 0) close(log_fd);
    return Status::Ok();
  }

  // `count` distinct free ports: every socket stays bound until all are chosen.
  static std::vector<int> FreePorts(size_t count) {
    std::vector<int> fds;
    std::vector<int> ports;
    for (size_t i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      fds.push_back(fd);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof(address);
      if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
          getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        break;
      }
      ports.push_back(ntohs(address.sin_port));
    }
    for (const int fd : fds) close(fd);
    return ports;
  }

  std::string binary_;
  std::string directory_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace surge::coord::testing
