// surge: the one command-line program.
//   surge center ...   one center serving the HTTP API from its data directory
//   surge up ...       what `make run` starts: a master, two sub-centers and a gateway, with a
//                      demo catalogue and a live sale, supervised
//   surge load ...     the open-loop load generator
//   surge gateway ...  the stateless front of a deployment of several centers
//   surge brain ...    the brain's evaluation on public data and its full retrain
// Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 when the center or its server cannot
// start, 2 for bad usage.
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "brain_command.h"
#include "common/env.h"
#include "common/ids.h"
#include "common/log.h"
#include "flags.h"
#include "gateway_command.h"
#include "load_command.h"
#include "serve.h"
#include "topology/topology.h"
#include "up.h"

namespace surge::cli {
namespace {

constexpr const char* kUsage =
    "surge: a flash-sale order platform (no acknowledged order lost, no unit oversold).\n"
    "\n"
    "Usage: surge <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  center   run one center: recover its journal, serve the HTTP API (docs/API.md)\n"
    "  up       run a whole deployment (centers and gateway) with a demo catalogue and a live\n"
    "           flash sale, supervised (what `make run` starts)\n"
    "  load     drive a center with an open-loop load (steady, flash or ramp) and verify it\n"
    "  gateway  route the API of a deployment of several centers to the right one\n"
    "  brain    evaluate the recommendation and forecast models on public data (eval), or\n"
    "           time a full retrain (train)\n"
    "\n"
    "Run 'surge <command> --help' for the flags of a command.\n";

constexpr const char* kCenterUsage =
    "Usage: surge center --data DIR --listen HOST:PORT [flags]\n"
    "       surge center --topology FILE --id ID --data DIR [flags]\n"
    "\n"
    "Runs one center: opens DIR (creating it if missing) and recovers its state from the newest\n"
    "snapshot and the journal, then serves the HTTP API of docs/API.md on HOST:PORT. Writes are\n"
    "acknowledged only once durable (group commit with fdatasync). Prints\n"
    "\"surge center <id> listening on HOST:PORT\" on stdout once it accepts connections (port 0\n"
    "picks a free port, and the line shows it). SIGTERM or SIGINT stops it cleanly: the server\n"
    "closes, queued requests are answered and synced, and it exits 0.\n"
    "\n"
    "With --topology, the center is center ID of a deployment of several (a TOML file, see\n"
    "src/topology/example.toml): it listens on its address from the file unless --listen says\n"
    "otherwise, serves GET /v1/topology, and answers 421 wrong_center, naming the right center,\n"
    "for what belongs to another: master-data writes (at the master only), a user's orders (at\n"
    "the user's home center only) and an order made by another center.\n"
    "\n"
    "Flags:\n"
    "  --data DIR             data directory (journal and snapshots); required\n"
    "  --listen HOST:PORT     address to serve on; required without --topology\n"
    "                         (e.g. 127.0.0.1:8080)\n"
    "  --topology FILE        the deployment's topology (TOML); this center is --id in it\n"
    "  --bus URL              with --topology: the data bus. nats://HOST:PORT for NATS\n"
    "                         JetStream; default: the embedded bus (each center serves its\n"
    "                         journal on its topology `bus` address)\n"
    "  --id ID                center id, 1-32 characters of [A-Za-z0-9_.:-]; order ids are\n"
    "                         o.<id>.<n> (default c1)\n"
    "  --threads N            HTTP event-loop threads, 0 = one per core (default 0)\n"
    "  --batch-max N          commands per journal batch at most (default 4096)\n"
    "  --batch-wait-us N      how long a batch waits for more commands after its first, in\n"
    "                         microseconds (default 200)\n"
    "  --queue N              intake queue capacity; beyond it requests get 503 overloaded\n"
    "                         (default 65536)\n"
    "  --max-queue-delay-ms N admit to the queue only what the writer drains in N ms (its\n"
    "                         drain rate is measured); the rest gets 503 overloaded at once.\n"
    "                         0: bounded by --queue only (default 50)\n"
    "  --expected-orders N    size the state for N orders up front (about 150 bytes each), so\n"
    "                         that the sale itself pays no table growth (default 0: on demand)\n"
    "\n"
    "A node of a primary/standby pair (hot standby; both nodes run with the same --id and\n"
    "--coord, each with its own --data, --listen, --node and --ship). The node holding the\n"
    "center's lease is the primary: it ships every batch to the standby before acknowledging,\n"
    "and serves HTTP. The other follows it and takes over when the lease runs out. A standby\n"
    "prints \"surge center <id> standby <node>\", then the listening line once it is primary.\n"
    "A node that steps down (it lost its lease) exits 75: start it again as a standby.\n"
    "  --coord SPEC           the coordinator: file:<path> (one machine) or\n"
    "                         etcd:<host:port>[,<host:port>...]\n"
    "  --node NAME            this node's name, unique per center (e.g. c1-a)\n"
    "  --ship HOST:PORT       where this node accepts its standby once primary\n"
    "  --lease-ms N           the lease's time to live (default 500; etcd rounds up to whole\n"
    "                         seconds, at least 2)\n"
    "  --initial-primary      may take the lease before ever being in sync with a primary:\n"
    "                         give it to one node of a new pair only\n";

int UsageError(const char* command, const std::string& message, const char* usage) {
  std::fprintf(stderr, "surge %s: %s\n\n%s", command, message.c_str(), usage);
  return 2;
}

// Fills the center and server options common to both commands.
Status ApplyCommonFlags(const Flags& flags, std::string_view default_data,
                        std::string_view default_listen, ServeOptions* options) {
  options->center.data_dir = flags.Get("data", default_data);
  if (options->center.data_dir.empty()) {
    return Status(Code::kInvalidArgument, "--data DIR is required");
  }
  if (default_listen.empty() && !flags.Has("listen")) {
    return Status(Code::kInvalidArgument, "--listen HOST:PORT is required");
  }
  SURGE_ASSIGN_OR_RETURN(ListenAddress listen,
                         ParseListenAddress(flags.Get("listen", default_listen)));
  options->http.host = listen.host;
  options->http.port = listen.port;
  return Status::Ok();
}

// --coord, --node, --ship, --lease-ms, --initial-primary: a node of a primary/standby pair.
Status ApplyHaFlags(const Flags& flags, ServeOptions* options) {
  const bool any = flags.Has("coord") || flags.Has("node") || flags.Has("ship") ||
                   flags.Has("lease-ms") || flags.Has("initial-primary");
  if (!any) return Status::Ok();
  if (!flags.Has("coord") || !flags.Has("node") || !flags.Has("ship")) {
    return Status(Code::kInvalidArgument,
                  "a node of a primary/standby pair needs --coord, --node and --ship");
  }
  HaOptions ha;
  ha.coord = flags.Get("coord", "");
  ha.node = flags.Get("node", "");
  if (!IsValidId(ha.node) || ha.node.size() > 64) {
    return Status(Code::kInvalidArgument,
                  "--node expects 1 to 64 characters of [A-Za-z0-9_.:-], got '" + ha.node + "'");
  }
  SURGE_ASSIGN_OR_RETURN(const ListenAddress ship, ParseListenAddress(flags.Get("ship", "")));
  if (ship.port == 0) return Status(Code::kInvalidArgument, "--ship needs a port other than 0");
  ha.ship_host = ship.host;
  ha.ship_port = ship.port;
  SURGE_ASSIGN_OR_RETURN(const int64_t lease_ms, flags.GetInt("lease-ms", 500, 50, 60'000));
  ha.lease_ttl = std::chrono::milliseconds(lease_ms);
  ha.initial_primary = flags.Has("initial-primary");
  options->ha = std::move(ha);
  return Status::Ok();
}

int RunCenter(int argc, char** argv) {
  auto parsed = Flags::Parse(
      argc, argv, 2,
      {"data", "listen", "id", "topology", "bus", "threads", "batch-max", "batch-wait-us", "queue",
       "max-queue-delay-ms", "expected-orders", "coord", "node", "ship", "lease-ms"},
      {"initial-primary"});
  if (!parsed.ok()) return UsageError("center", parsed.status().message(), kCenterUsage);
  const Flags& flags = *parsed;
  if (flags.help()) {
    std::fputs(kCenterUsage, stdout);
    return 0;
  }
  ServeOptions options;
  options.center.center_id = flags.Get("id", "c1");
  if (!IsValidId(options.center.center_id) || options.center.center_id.size() > 32) {
    return UsageError("center",
                      "--id expects 1 to 32 characters of [A-Za-z0-9_.:-], got '" +
                          options.center.center_id + "'",
                      kCenterUsage);
  }
  std::string default_listen;
  if (flags.Has("topology")) {
    auto loaded = topology::Load(*Env::Default(), flags.Get("topology", ""));
    if (!loaded.ok()) return UsageError("center", loaded.status().message(), kCenterUsage);
    const topology::Center* self = loaded->Find(options.center.center_id);
    if (self == nullptr) {
      std::string known;
      for (const topology::Center& center : loaded->centers()) {
        known += (known.empty() ? "" : ", ") + center.id;
      }
      return UsageError("center",
                        "center '" + options.center.center_id + "' is not in " +
                            flags.Get("topology", "") + " (its centers: " + known + ")",
                        kCenterUsage);
    }
    default_listen = self->address.ToString();
    options.topology = std::move(loaded).value();
    options.bus_url = flags.Get("bus", "");
  } else if (flags.Has("bus")) {
    return UsageError("center", "--bus needs --topology", kCenterUsage);
  }
  Status status = ApplyCommonFlags(flags, "", default_listen, &options);
  if (!status.ok()) return UsageError("center", status.message(), kCenterUsage);
  const auto threads = flags.GetInt("threads", 0, 0, 1024);
  const auto batch_max = flags.GetInt("batch-max", 4096, 1, 1'000'000);
  const auto batch_wait = flags.GetInt("batch-wait-us", 200, 0, 10'000'000);
  const auto queue = flags.GetInt("queue", 65'536, 1, 100'000'000);
  const auto queue_delay = flags.GetInt("max-queue-delay-ms", 50, 0, 3'600'000);
  const auto expected_orders = flags.GetInt("expected-orders", 0, 0, 1'000'000'000);
  for (const Status* check : {&threads.status(), &batch_max.status(), &batch_wait.status(),
                              &queue.status(), &queue_delay.status(), &expected_orders.status()}) {
    if (!check->ok()) return UsageError("center", check->message(), kCenterUsage);
  }
  options.http.threads = static_cast<int>(*threads);
  options.center.batch_records_max = static_cast<size_t>(*batch_max);
  options.center.batch_wait = std::chrono::microseconds(*batch_wait);
  options.center.intake_capacity = static_cast<size_t>(*queue);
  options.center.max_queue_delay = std::chrono::milliseconds(*queue_delay);
  options.center.expected_orders = static_cast<size_t>(*expected_orders);
  status = ApplyHaFlags(flags, &options);
  if (!status.ok()) return UsageError("center", status.message(), kCenterUsage);
  return Serve(options);
}

}  // namespace
}  // namespace surge::cli

int main(int argc, char** argv) {
  using namespace surge::cli;  // NOLINT(google-build-using-namespace)
  // Before any thread exists, so that all of them inherit the mask (see Serve).
  BlockStopSignals();
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "center") return RunCenter(argc, argv);
  if (command == "up") return RunUpCommand(argc, argv);
  if (command == "load") return RunLoadCommand(argc, argv);
  if (command == "gateway") return RunGatewayCommand(argc, argv);
  if (command == "brain") return RunBrainCommand(argc, argv);
  std::fprintf(stderr, "surge: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
