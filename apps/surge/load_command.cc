#include "load_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/ids.h"
#include "drill/drill.h"
#include "flags.h"

namespace surge::cli {
namespace {

constexpr const char* kLoadUsage =
    "Usage: surge load [--target HOST:PORT] [--profile steady|flash|ramp] [flags]\n"
    "\n"
    "Drives a center (or any HTTP server) with an open-loop load, the wrk2 model: requests are\n"
    "sent on a fixed schedule whatever the server does, and each latency is measured from when\n"
    "its request was due, so a stalled server cannot hide its stall. Each request is one order\n"
    "(POST /v1/orders, one unit of a random hot SKU, for a random user), or with --get a plain\n"
    "GET. Prints progress each second, then a table of outcomes (created, sold_out,\n"
    "limit_exceeded, overloaded, errors), latency percentiles (p50 p90 p99 p99.9 max) and a\n"
    "per-second series; afterwards it verifies against the server that no campaign sold more\n"
    "than its stock and that every order id received is readable.\n"
    "\n"
    "Profiles:\n"
    "  steady   --rate N per second for --duration-s\n"
    "  flash    --rate N, then --spike times that from --spike-start-s for --spike-length-s,\n"
    "           then back down, for --duration-s in all\n"
    "  ramp     from --rate, times --ramp-factor every --ramp-step-s, until a step's p99 exceeds\n"
    "           --ramp-p99-ms or more than 1% of its answers are errors or overloaded; reports "
    "the\n"
    "           maximum sustainable rate\n"
    "\n"
    "Flags:\n"
    "  --target HOST:PORT     server (default 127.0.0.1:8080)\n"
    "  --profile NAME         steady, flash or ramp (default steady)\n"
    "  --rate N               requests per second (default 1000)\n"
    "  --duration-s N         seconds (default 10)\n"
    "  --spike N              flash multiplier (default 20)\n"
    "  --spike-start-s N      (default 3)      --spike-length-s N   (default 3)\n"
    "  --ramp-factor-pct N    rate growth per ramp step in percent (default 25)\n"
    "  --ramp-step-s N        (default 2)      --ramp-p99-ms N      (default 20)\n"
    "  --connections N        keep-alive connections (default 256)\n"
    "  --threads N            client threads (default 2)\n"
    "  --pipeline N           requests in flight per connection at most (default 16)\n"
    "  --users N              users u0..u(N-1) (default 10000)\n"
    "  --skus A,B,...         hot SKUs (default hot-1,hot-2,hot-3)\n"
    "  --setup                first create merchant, products, one live campaign per SKU\n"
    "                         (camp-<sku>) and the users\n"
    "  --stock N              campaign stock with --setup (default 1000000)\n"
    "  --limit N              per-user limit with --setup (default 1000000)\n"
    "  --get PATH             send GET PATH instead of orders (e.g. against nginx); {user} in\n"
    "                         PATH becomes a random number below --users for each request\n"
    "  --no-verify            skip the verification after the run\n"
    "  --server-pid PID       sample this process's resident memory every second\n"
    "  --json FILE            write the report as JSON (- for stdout)\n"
    "  --svg FILE             write a plot of answered/s and p99 per second\n"
    "  --history FILE         write every order request and its answer, one JSON object a line\n"
    "                         (request_id, user, items, status, error, order_id, due_us and\n"
    "                         answered_us on CLOCK_MONOTONIC), for the checker\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "surge load: %s\n\n%s", message.c_str(), kLoadUsage);
  return 2;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

bool WriteFile(const std::string& path, const std::string& content) {
  if (path == "-") {
    std::fputs(content.c_str(), stdout);
    return true;
  }
  std::ofstream out(path, std::ios::binary);
  out << content;
  return static_cast<bool>(out);
}

}  // namespace

int RunLoadCommand(int argc, char** argv) {
  auto parsed = Flags::Parse(argc, argv, 2,
                             {"target",      "profile",       "rate",           "duration-s",
                              "spike",       "spike-start-s", "spike-length-s", "ramp-factor-pct",
                              "ramp-step-s", "ramp-p99-ms",   "connections",    "threads",
                              "pipeline",    "users",         "skus",           "stock",
                              "limit",       "get",           "server-pid",     "json",
                              "svg",         "history"},
                             {"setup", "no-verify"});
  if (!parsed.ok()) return UsageError(parsed.status().message());
  const Flags& flags = *parsed;
  if (flags.help()) {
    std::fputs(kLoadUsage, stdout);
    return 0;
  }
  drill::LoadOptions options;
  auto target = ParseListenAddress(flags.Get("target", "127.0.0.1:8080"));
  if (!target.ok()) return UsageError(target.status().message());
  options.host = target->host == "localhost" ? "127.0.0.1" : target->host;
  options.port = target->port;
  const std::string profile = flags.Get("profile", "steady");
  if (profile == "steady") {
    options.profile = drill::Profile::kSteady;
  } else if (profile == "flash") {
    options.profile = drill::Profile::kFlash;
  } else if (profile == "ramp") {
    options.profile = drill::Profile::kRamp;
  } else {
    return UsageError("--profile expects steady, flash or ramp, got '" + profile + "'");
  }
  struct IntFlag {
    const char* name;
    int64_t fallback, minimum, maximum;
    int64_t value = 0;
  };
  IntFlag numbers[] = {
      {"rate", 1000, 1, 10'000'000},
      {"duration-s", 10, 1, 86'400},
      {"spike", 20, 1, 1000},
      {"spike-start-s", 3, 0, 86'400},
      {"spike-length-s", 3, 0, 86'400},
      {"ramp-factor-pct", 25, 1, 1000},
      {"ramp-step-s", 2, 1, 3600},
      {"ramp-p99-ms", 20, 1, 600'000},
      {"connections", 256, 1, 60'000},
      {"threads", 2, 1, 64},
      {"pipeline", 16, 1, 4096},
      {"users", 10'000, 1, 100'000'000},
      {"stock", 1'000'000, 0, 1'000'000'000'000},
      {"limit", 1'000'000, 1, 1'000'000'000},
      {"server-pid", 0, 0, 1 << 30},
  };
  for (IntFlag& number : numbers) {
    auto value = flags.GetInt(number.name, number.fallback, number.minimum, number.maximum);
    if (!value.ok()) return UsageError(value.status().message());
    number.value = *value;
  }
  auto get = [&](std::string_view name) {
    for (const IntFlag& number : numbers) {
      if (name == number.name) return number.value;
    }
    return int64_t{0};
  };
  options.rate_per_s = static_cast<double>(get("rate"));
  options.duration = std::chrono::seconds(get("duration-s"));
  options.spike_multiplier = static_cast<double>(get("spike"));
  options.spike_start = std::chrono::seconds(get("spike-start-s"));
  options.spike_length = std::chrono::seconds(get("spike-length-s"));
  options.ramp_factor = 1.0 + static_cast<double>(get("ramp-factor-pct")) / 100.0;
  options.ramp_step = std::chrono::seconds(get("ramp-step-s"));
  options.ramp_p99_max = std::chrono::milliseconds(get("ramp-p99-ms"));
  options.connections = static_cast<int>(get("connections"));
  options.threads = static_cast<int>(get("threads"));
  options.pipeline_max = static_cast<int>(get("pipeline"));
  options.users_count = static_cast<int>(get("users"));
  options.skus = SplitCommas(flags.Get("skus", "hot-1,hot-2,hot-3"));
  for (const std::string& sku : options.skus) {
    if (!IsValidId(sku)) return UsageError("--skus: '" + sku + "' is not a valid id");
  }
  options.plain_get_target = flags.Get("get", "");
  if (!options.plain_get_target.empty() && options.plain_get_target[0] != '/') {
    return UsageError("--get expects a path starting with /");
  }
  options.verify = !flags.Has("no-verify");
  const std::string history_path = flags.Get("history", "");
  options.record_history = !history_path.empty();
  // Request ids must not collide with an earlier run against the same center.
  options.request_prefix =
      "load" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };

  if (flags.Has("setup")) {
    std::fprintf(stderr, "surge load: creating %zu campaigns and %d users...\n",
                 options.skus.size(), options.users_count);
    const Status status = drill::SetupCatalogue(options, get("stock"), get("limit"));
    if (!status.ok()) {
      std::fprintf(stderr, "surge load: setup failed: %s\n", status.ToString().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "surge load: %s profile against %s:%u, %d connections, %d threads\n",
               profile.c_str(), options.host.c_str(), options.port, options.connections,
               options.threads);
  auto report = drill::RunLoad(options, static_cast<int>(get("server-pid")));
  if (!report.ok()) {
    std::fprintf(stderr, "surge load: %s\n", report.status().ToString().c_str());
    return 1;
  }
  const std::string json_path = flags.Get("json", "");
  if (json_path != "-") std::fputs(report->Table().c_str(), stdout);
  if (!json_path.empty() && !WriteFile(json_path, report->Json())) {
    std::fprintf(stderr, "surge load: cannot write %s\n", json_path.c_str());
    return 1;
  }
  if (!history_path.empty() && !WriteFile(history_path, drill::EncodeHistory(report->history))) {
    std::fprintf(stderr, "surge load: cannot write %s\n", history_path.c_str());
    return 1;
  }
  const std::string svg_path = flags.Get("svg", "");
  if (!svg_path.empty() && !WriteFile(svg_path, report->Svg())) {
    std::fprintf(stderr, "surge load: cannot write %s\n", svg_path.c_str());
    return 1;
  }
  const bool verification_failed =
      options.verify && options.plain_get_target.empty() && !report->verified;
  return verification_failed ? 1 : 0;
}

}  // namespace surge::cli
