#include "up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/env.h"
#include "coord/coord.h"
#include "demo.h"
#include "example_topology.h"
#include "flags.h"
#include "http/http.h"
#include "serve.h"
#include "topology/topology.h"

namespace surge::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr const char* kUpUsage =
    "Usage: surge up [--data DIR] [--topology FILE] [--bus URL] [--standby] [--brain HOST:PORT]\n"
    "\n"
    "Runs a whole deployment on this machine: every center of the topology as a process of its\n"
    "own ('surge center --topology FILE --id ID --data DIR/ID') and a gateway in front of them\n"
    "('surge gateway --topology FILE', on the topology's gateway address). Without --topology it\n"
    "runs DIR/topology.toml, writing the default there first if there is none: a master center m\n"
    "and sub-centers s1 and s2 on 127.0.0.1:18601-18603 (data bus on 18701-18703) and the\n"
    "gateway on 127.0.0.1:8080 (src/topology/example.toml). Each child's stderr goes to\n"
    "DIR/ID.log (the gateway's to DIR/gateway.log).\n"
    "\n"
    "The brain runs beside them ('surge brain serve', data in DIR/brain, log DIR/brain.log): it\n"
    "follows every center's orders on the data bus, and the gateway forwards the brain's paths\n"
    "(/v1/events, /v1/recommendations, /v1/forecast, /v1/audience) to it.\n"
    "\n"
    "On its first start it loads a demo catalogue through the gateway, as a client's PUTs would:\n"
    "merchant 'demo', ten products in four categories with regular stock, users u1..u100, and\n"
    "the flash sale 'flash1' on phone-x1 (20 units, at most 2 per user), live for 24 hours. A\n"
    "restart keeps everything as it was (nothing is reset or created twice). Then it prints curl\n"
    "lines to try, and \"surge up: ready at URL\".\n"
    "\n"
    "A child that exits after running for 2 s or more is restarted at once (a center whose\n"
    "primary was killed acknowledges nothing until that node is back as its standby); one that\n"
    "exits sooner waits 0.5 s, doubling up to 10 s while it keeps exiting that fast. SIGINT\n"
    "(Ctrl-C) or SIGTERM stops the gateway,\n"
    "then the centers (SIGTERM, SIGKILL after 10 s), and exits 0.\n"
    "\n"
    "Flags:\n"
    "  --data DIR         the centers' data, the logs and the default topology (default ./data)\n"
    "  --topology FILE    the deployment's topology (TOML, see src/topology/example.toml)\n"
    "  --bus URL          the data bus of every center: nats://HOST:PORT for NATS JetStream;\n"
    "                     default: the embedded bus (each center serves its journal on its\n"
    "                     topology `bus` address)\n"
    "  --standby          run every center as a primary/standby pair (hot standby): nodes\n"
    "                     ID-a (first primary, on the topology address) and ID-b (its HTTP port\n"
    "                     + 200), shipping on the HTTP port + 400 and + 500, data in DIR/ID-a\n"
    "                     and DIR/ID-b, leases in DIR/leases (the embedded coordinator); the\n"
    "                     gateway follows the primaries through the leases. Kill a primary\n"
    "                     with -9 and its standby takes over; the supervisor restarts the\n"
    "                     killed node, which comes back as the standby.\n"
    "  --brain HOST:PORT  where the brain listens (default 127.0.0.1:18800)\n";

constexpr nanoseconds kBackoffInitial = milliseconds(500);
constexpr nanoseconds kBackoffMax = std::chrono::seconds(10);
// A child that ran this long before it exited was healthy (killed, not crash-looping): it is
// restarted at once and the backoff starts over. With hot standbys this matters: the new primary
// of a center whose primary was killed acknowledges nothing until the killed node is back as its
// standby, so every moment of pause is a moment of outage.
constexpr nanoseconds kHealthyAfter = std::chrono::seconds(2);
// How long a child stopped with SIGTERM may take before it gets SIGKILL.
constexpr nanoseconds kStopGrace = std::chrono::seconds(10);
// A center recovers its whole journal before it listens: allow a large one.
constexpr nanoseconds kReadyTimeout = std::chrono::seconds(120);
// How often the supervisor looks at its children when no signal wakes it.
constexpr milliseconds kPollInterval{50};

nanoseconds Now() { return Env::Default()->MonotonicNow(); }

double Seconds(nanoseconds duration) { return std::chrono::duration<double>(duration).count(); }

// A line on stdout, where the person who ran `surge up` (or a test) reads what happens.
void Say(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Say(const char* format, ...) {
  std::fputs("surge up: ", stdout);
  va_list arguments;
  va_start(arguments, format);
  std::vfprintf(stdout, format, arguments);
  va_end(arguments);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "surge up: %s\n\n%s", message.c_str(), kUpUsage);
  return 2;
}

Status Errno(const std::string& what) {
  return Status(Code::kIoError, what + ": " + std::strerror(errno));
}

// ---- Children ------------------------------------------------------------------------------

// One child process of the deployment: a center or the gateway.
struct Child {
  std::string name;               // "center m", "gateway": for messages
  std::vector<std::string> argv;  // argv[0] is this program's path, for ps
  std::string log_path;           // its stderr, and its stdout past the ready line
  std::string ready_needle;       // the stdout line saying that it serves
  pid_t pid = -1;                 // -1: not running
  int stdout_fd = -1;
  std::string pending;     // stdout read but not yet a whole line
  std::string ready_line;  // empty until it is ready
  nanoseconds started_at{0};
  nanoseconds restart_at{0};  // while not running after an exit
  nanoseconds backoff = kBackoffInitial;
};

void AppendToLog(const Child& child, const std::string& line) {
  const int fd = ::open(child.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string text = line + "\n";
  [[maybe_unused]] const ssize_t written = ::write(fd, text.data(), text.size());
  ::close(fd);
}

// Starts the child in a process group of its own, so that a terminal's Ctrl-C reaches only the
// supervisor, which then stops the children in order; and with SIGTERM as its parent-death
// signal, so that a supervisor killed with -9 leaves no child behind holding a port or a data
// directory. It runs /proc/self/exe: the very binary of the supervisor, even if a rebuild has
// replaced the file since.
Status Spawn(Child& child) {
  std::string command = "starting:";
  for (const std::string& argument : child.argv) command += " " + argument;
  AppendToLog(child, "==== surge up: " + command);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe");
  const int log_fd =
      ::open(child.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Errno("opening " + child.log_path);
  }
  std::vector<char*> arguments;
  for (const std::string& argument : child.argv) {
    arguments.push_back(const_cast<char*>(argument.c_str()));
  }
  arguments.push_back(nullptr);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. The child sets up its own signal mask.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the supervisor died before prctl
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv("/proc/self/exe", arguments.data());
    ::_exit(127);
  }
  Status forked = pid < 0 ? Errno("fork") : Status::Ok();
  ::close(pipe_fds[1]);
  ::close(log_fd);
  if (!forked.ok()) {
    ::close(pipe_fds[0]);
    return forked;
  }
  ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  child.pid = pid;
  child.stdout_fd = pipe_fds[0];
  child.pending.clear();
  child.ready_line.clear();
  child.started_at = Now();
  return Status::Ok();
}

// "listening on 127.0.0.1:18601, pid 1234, log data/m.log": tests read the pid from this line.
void AnnounceReady(const Child& child) {
  const std::string address = child.ready_line.substr(child.ready_line.rfind(' ') + 1);
  Say("%s listening on %s, pid %d, log %s", child.name.c_str(), address.c_str(),
      static_cast<int>(child.pid), child.log_path.c_str());
}

// Reads what the child printed so far, without blocking: its ready line is announced, every other
// line goes to its log, so that nothing it says is lost and its pipe never fills up.
void DrainOutput(Child& child) {
  while (child.stdout_fd >= 0) {
    char chunk[4096];
    const ssize_t got = ::read(child.stdout_fd, chunk, sizeof(chunk));
    if (got > 0) {
      child.pending.append(chunk, static_cast<size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) break;
    ::close(child.stdout_fd);  // end of file (it exited), or an error: nothing more to read
    child.stdout_fd = -1;
  }
  size_t newline;
  while ((newline = child.pending.find('\n')) != std::string::npos) {
    std::string line = child.pending.substr(0, newline);
    child.pending.erase(0, newline + 1);
    if (child.ready_line.empty() && line.find(child.ready_needle) != std::string::npos) {
      child.ready_line = std::move(line);
      AnnounceReady(child);
    } else {
      AppendToLog(child, line);
    }
  }
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + ", " +
           strsignal(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

// Whether the child has exited (reaping it). If so, it is marked not running, and `how` says how
// it ended.
bool Reaped(Child& child, std::string* how, int options = WNOHANG) {
  if (child.pid < 0) return false;
  int status = 0;
  if (::waitpid(child.pid, &status, options) != child.pid) return false;
  DrainOutput(child);  // its last words
  if (child.stdout_fd >= 0) ::close(child.stdout_fd);
  child.stdout_fd = -1;
  child.pid = -1;
  *how = DescribeExit(status);
  return true;
}

// ---- Supervision ---------------------------------------------------------------------------

// SIGCHLD is blocked like the stop signals so that sigtimedwait can wait for it: a child's exit
// wakes the supervisor at once.
void BlockChildSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

// Waits up to `timeout` for SIGINT or SIGTERM (returned) or SIGCHLD (0, as after the timeout).
int WaitForEvent(milliseconds timeout, bool stop_signals = true) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  if (stop_signals) {
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
  }
  const timespec wait{0, static_cast<long>(std::chrono::nanoseconds(timeout).count())};
  const int received = ::sigtimedwait(&signals, nullptr, &wait);
  return received == SIGINT || received == SIGTERM ? received : 0;
}

// `exited`: the child ran and exited (else: it could not even be started).
void ScheduleRestart(Child& child, nanoseconds now, bool exited) {
  if (exited && now - child.started_at >= kHealthyAfter) {
    child.backoff = kBackoffInitial;
    child.restart_at = now;
    return;
  }
  child.restart_at = now + child.backoff;
  child.backoff = std::min(child.backoff * 2, kBackoffMax);
}

// One look at a child while the deployment runs: notices an exit, restarts when its pause is over.
void Tend(Child& child) {
  const nanoseconds now = Now();
  if (child.pid >= 0) {
    DrainOutput(child);
    const pid_t pid = child.pid;
    std::string how;
    if (!Reaped(child, &how)) return;
    ScheduleRestart(child, now, /*exited=*/true);
    Say("%s (pid %d) exited unexpectedly (%s): restarting it in %.1f s; its log: %s",
        child.name.c_str(), static_cast<int>(pid), how.c_str(), Seconds(child.restart_at - now),
        child.log_path.c_str());
    return;
  }
  if (now < child.restart_at) return;
  const Status started = Spawn(child);
  if (started.ok()) {
    Say("restarted %s as pid %d", child.name.c_str(), static_cast<int>(child.pid));
    return;
  }
  ScheduleRestart(child, now, /*exited=*/false);
  Say("cannot restart %s: %s; trying again in %.1f s", child.name.c_str(),
      started.ToString().c_str(), Seconds(child.restart_at - now));
}

// Starts every child of `group` and waits until all are ready, without restarting any: at the
// first start a child that exits is misconfigured, and its log says why. Returns the stop signal
// if one arrives first, else 0.
Result<int> StartGroup(const std::vector<Child*>& group) {
  for (Child* child : group) {
    SURGE_RETURN_IF_ERROR(Spawn(*child).Annotate("starting " + child->name));
  }
  const nanoseconds deadline = Now() + kReadyTimeout;
  for (;;) {
    bool all_ready = true;
    for (Child* child : group) {
      DrainOutput(*child);
      std::string how;
      if (Reaped(*child, &how)) {
        return Status(Code::kUnavailable, child->name + " exited before it was ready (" + how +
                                              "); see " + child->log_path);
      }
      if (!child->ready_line.empty()) continue;
      all_ready = false;
      if (Now() >= deadline) {
        return Status(Code::kUnavailable,
                      child->name + " was not ready within " +
                          std::to_string(static_cast<int>(Seconds(kReadyTimeout))) + " s; see " +
                          child->log_path);
      }
    }
    if (all_ready) return 0;
    const int received = WaitForEvent(kPollInterval);
    if (received != 0) return received;
  }
}

// Stops the running children of `group` together: SIGTERM, then SIGKILL for those still running
// after kStopGrace.
void StopGroup(const std::vector<Child*>& group) {
  for (Child* child : group) {
    if (child->pid >= 0) ::kill(child->pid, SIGTERM);
  }
  const nanoseconds deadline = Now() + kStopGrace;
  for (;;) {
    bool running = false;
    for (Child* child : group) {
      const pid_t pid = child->pid;
      std::string how;
      if (Reaped(*child, &how)) {
        Say("%s (pid %d) stopped (%s)", child->name.c_str(), static_cast<int>(pid), how.c_str());
      }
      running = running || child->pid >= 0;
    }
    if (!running || Now() >= deadline) break;
    // Only SIGCHLD: a second Ctrl-C while stopping changes nothing.
    WaitForEvent(kPollInterval, /*stop_signals=*/false);
  }
  for (Child* child : group) {
    if (child->pid < 0) continue;
    const pid_t pid = child->pid;
    ::kill(pid, SIGKILL);
    std::string how;
    if (Reaped(*child, &how, /*options=*/0)) {
      Say("%s (pid %d) did not stop within %.0f s: killed", child->name.c_str(),
          static_cast<int>(pid), Seconds(kStopGrace));
    }
  }
}

// ---- The deployment ------------------------------------------------------------------------

struct Deployment {
  topology::Topology topology;
  std::vector<Child> centers;
  Child brain;
  Child gateway;
  std::string coord;  // --standby: the coordinator spec of the pairs

  std::vector<Child*> Centers() {
    std::vector<Child*> group;
    for (Child& center : centers) group.push_back(&center);
    return group;
  }
};

// The gateway first, so that clients get a refused connection rather than half a deployment.
void StopAll(Deployment& deployment) {
  Say("stopping the gateway, then the brain and the centers");
  StopGroup({&deployment.gateway});
  StopGroup({&deployment.brain});
  StopGroup(deployment.Centers());
  Say("stopped");
}

std::string OwnPath() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : "surge";
}

// The topology file to run: FILE of --topology, else DATA/topology.toml, written from the default
// first if it is missing (an existing one is the deployment's own and is never overwritten).
Result<std::string> PrepareTopologyFile(const Flags& flags, const std::string& data_dir) {
  if (flags.Has("topology")) return flags.Get("topology", "");
  Env& env = *Env::Default();
  const std::string path = JoinPath(data_dir, "topology.toml");
  if (env.FileExists(path)) return path;
  // Written aside and renamed, so that a crash never leaves a half file that would then be kept.
  const std::string temporary = path + ".tmp";
  SURGE_ASSIGN_OR_RETURN(auto file, env.OpenWritable(temporary, /*truncate=*/true));
  SURGE_RETURN_IF_ERROR(file->Append(DefaultTopologyToml()));
  SURGE_RETURN_IF_ERROR(file->Sync());
  SURGE_RETURN_IF_ERROR(file->Close());
  SURGE_RETURN_IF_ERROR(env.RenameFile(temporary, path));
  SURGE_RETURN_IF_ERROR(env.SyncDir(data_dir));
  Say("wrote the default topology to %s", path.c_str());
  return path;
}

// The two nodes of each center (--standby): see kUpUsage for their names, ports and data.
void DescribePairs(Deployment& deployment, const std::string& topology_path,
                   const std::string& data_dir, const std::string& bus_url) {
  const std::string self = OwnPath();
  const std::string coord = "file:" + JoinPath(data_dir, "leases");
  for (const topology::Center& center : deployment.topology.centers()) {
    for (const char* node : {"a", "b"}) {
      const bool first = node[0] == 'a';
      const std::string name = center.id + "-" + node;
      const auto port = [&](int offset) {
        return topology::Address{center.address.host,
                                 static_cast<uint16_t>(center.address.port + offset)}
            .ToString();
      };
      Child child;
      child.name = "center " + center.id + " node " + name;
      child.argv = {self,         "center",
                    "--topology", topology_path,
                    "--id",       center.id,
                    "--data",     JoinPath(data_dir, name),
                    "--listen",   port(first ? 0 : 200),
                    "--coord",    coord,
                    "--node",     name,
                    "--ship",     port(first ? 400 : 500)};
      if (first) child.argv.push_back("--initial-primary");
      if (!bus_url.empty()) child.argv.insert(child.argv.end(), {"--bus", bus_url});
      child.log_path = JoinPath(data_dir, name + ".log");
      // Either node may be the primary after a restart: a node is up once it runs, as a standby
      // first; Run then waits for every center to have a primary.
      child.ready_needle = "surge center " + center.id + " standby " + name;
      deployment.centers.push_back(std::move(child));
    }
  }
  Child& gateway = deployment.gateway;
  gateway.name = "gateway";
  gateway.argv = {self, "gateway", "--topology", topology_path, "--coord", coord};
  gateway.log_path = JoinPath(data_dir, "gateway.log");
  gateway.ready_needle = "surge gateway listening on ";
  deployment.coord = coord;
}

void DescribeChildren(Deployment& deployment, const std::string& topology_path,
                      const std::string& data_dir, const std::string& bus_url) {
  const std::string self = OwnPath();
  for (const topology::Center& center : deployment.topology.centers()) {
    Child child;
    child.name = "center " + center.id;
    child.argv = {self,   "center",  "--topology", topology_path,
                  "--id", center.id, "--data",     JoinPath(data_dir, center.id)};
    if (!bus_url.empty()) child.argv.insert(child.argv.end(), {"--bus", bus_url});
    child.log_path = JoinPath(data_dir, center.id + ".log");
    child.ready_needle = "surge center " + center.id + " listening on ";
    deployment.centers.push_back(std::move(child));
  }
  Child& gateway = deployment.gateway;
  gateway.name = "gateway";
  gateway.argv = {self, "gateway", "--topology", topology_path};
  gateway.log_path = JoinPath(data_dir, "gateway.log");
  gateway.ready_needle = "surge gateway listening on ";
}

// The brain: follows the topology's centers on the bus; the gateway forwards its paths to it.
void DescribeBrain(Deployment& deployment, const std::string& topology_path,
                   const std::string& data_dir, const std::string& bus_url,
                   const std::string& brain_address) {
  Child& brain = deployment.brain;
  brain.name = "brain";
  brain.argv = {OwnPath(),
                "brain",
                "serve",
                "--topology",
                topology_path,
                "--data",
                JoinPath(data_dir, "brain"),
                "--listen",
                brain_address};
  if (!bus_url.empty()) brain.argv.insert(brain.argv.end(), {"--bus", bus_url});
  brain.log_path = JoinPath(data_dir, "brain.log");
  brain.ready_needle = "surge brain listening on ";
  deployment.gateway.argv.insert(deployment.gateway.argv.end(), {"--brain", brain_address});
}

// --standby: waits until every center's lease has a holder (its primary serves).
Status AwaitPrimaries(Deployment& deployment) {
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<coord::Coordinator> coordinator,
                         coord::Open(deployment.coord));
  const nanoseconds deadline = Now() + kReadyTimeout;
  for (const topology::Center& center : deployment.topology.centers()) {
    for (;;) {
      for (Child& child : deployment.centers) DrainOutput(child);
      Result<std::optional<coord::Holder>> holder = coordinator->Read(center.id);
      if (holder.ok() && holder->has_value()) break;
      if (Now() > deadline) {
        return Status(Code::kUnavailable, "center " + center.id + " has no primary");
      }
      if (WaitForEvent(kPollInterval) != 0) return Status(Code::kUnavailable, "stopped");
    }
  }
  return Status::Ok();
}

// Loads the demo through the gateway and prints the guide; returns the gateway's URL.
Result<std::string> LoadAndPresentDemo(Deployment& deployment) {
  const std::string& line = deployment.gateway.ready_line;
  const std::string address = line.substr(line.rfind(' ') + 1);
  SURGE_ASSIGN_OR_RETURN(ListenAddress gateway, ParseListenAddress(address));
  http::Client client(gateway.host, gateway.port, std::chrono::seconds(10));
  const int64_t now_ms = Env::Default()->WallNowMs();
  SURGE_ASSIGN_OR_RETURN(DemoState demo, LoadDemo(client, now_ms));
  const std::string url = "http://" + address;
  PrintDemoGuide(url, deployment.topology, demo, now_ms);
  return url;
}

// Keeps every child running until SIGINT or SIGTERM arrives.
void Supervise(Deployment& deployment) {
  for (;;) {
    if (WaitForEvent(kPollInterval) != 0) return;
    for (Child& center : deployment.centers) Tend(center);
    Tend(deployment.brain);
    Tend(deployment.gateway);
  }
}

// Starts the centers, then the gateway (which needs no center to start, but the demo needs
// both), loads the demo and supervises until a stop signal.
int Run(Deployment& deployment) {
  Result<int> started = StartGroup(deployment.Centers());
  if (started.ok() && *started == 0) started = StartGroup({&deployment.brain});
  if (started.ok() && *started == 0) started = StartGroup({&deployment.gateway});
  if (started.ok() && *started != 0) {  // stopped while starting: a clean stop all the same
    StopAll(deployment);
    return 0;
  }
  if (started.ok() && !deployment.coord.empty()) {
    const Status primaries = AwaitPrimaries(deployment);
    if (!primaries.ok()) started = primaries;
  }
  const Result<std::string> url =
      started.ok() ? LoadAndPresentDemo(deployment) : Result<std::string>(started.status());
  if (!url.ok()) {
    Say("cannot start the deployment: %s", url.status().ToString().c_str());
    StopAll(deployment);
    return 1;
  }
  Say("ready at %s (Ctrl-C stops it)", url->c_str());
  Supervise(deployment);
  StopAll(deployment);
  return 0;
}

}  // namespace

std::string_view DefaultTopologyToml() { return kExampleTopologyToml; }

int RunUpCommand(int argc, char** argv) {
  auto parsed = Flags::Parse(argc, argv, 2, {"data", "topology", "bus", "brain"}, {"standby"});
  if (!parsed.ok()) return UsageError(parsed.status().message());
  const Flags& flags = *parsed;
  if (flags.help()) {
    std::fputs(kUpUsage, stdout);
    return 0;
  }
  const std::string data_dir = flags.Get("data", "./data");
  if (data_dir.empty()) return UsageError("--data DIR must not be empty");
  Status created = Env::Default()->CreateDir(data_dir);
  Result<std::string> topology_path =
      created.ok() ? PrepareTopologyFile(flags, data_dir) : Result<std::string>(created);
  if (!topology_path.ok()) {
    Say("cannot prepare %s: %s", data_dir.c_str(), topology_path.status().ToString().c_str());
    return 1;
  }
  auto loaded = topology::Load(*Env::Default(), *topology_path);
  if (!loaded.ok()) {
    if (flags.Has("topology")) return UsageError(loaded.status().message());
    Say("%s", loaded.status().ToString().c_str());
    return 1;
  }
  const std::string brain_address = flags.Get("brain", "127.0.0.1:18800");
  if (!topology::ParseAddress(brain_address).ok()) {
    return UsageError("--brain expects HOST:PORT, got '" + brain_address + "'");
  }
  Deployment deployment{std::move(loaded).value(), {}, {}, {}, {}};
  if (flags.Has("standby")) {
    DescribePairs(deployment, *topology_path, data_dir, flags.Get("bus", ""));
  } else {
    DescribeChildren(deployment, *topology_path, data_dir, flags.Get("bus", ""));
  }
  DescribeBrain(deployment, *topology_path, data_dir, flags.Get("bus", ""), brain_address);
  BlockChildSignal();
  Say("running %zu center processes, the brain and a gateway from %s; logs in %s",
      deployment.centers.size(), topology_path->c_str(), data_dir.c_str());
  return Run(deployment);
}

}  // namespace surge::cli
