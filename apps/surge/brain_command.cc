#include "brain_command.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "brain/brain.h"
#include "brainsvc/brainsvc.h"
#include "bus/bus.h"
#include "common/env.h"
#include "common/log.h"
#include "flags.h"
#include "http/http.h"
#include "serve.h"
#include "topology/topology.h"

namespace surge::cli {
namespace {

constexpr const char* kBrainUsage =
    "Usage: surge brain eval [flags]\n"
    "       surge brain train [flags]\n"
    "       surge brain serve --data DIR [--topology FILE] [--listen HOST:PORT] [flags]\n"
    "\n"
    "serve: the brain inside the platform (docs/API.md, Brain): POST /v1/events, GET\n"
    "/v1/recommendations, /v1/forecast, /v1/audience. Events are kept in a durable log in\n"
    "DIR/events, replayed at start; with --topology it follows every center's order events and\n"
    "the master's products on the data bus (embedded, or --bus nats://HOST:PORT), resuming\n"
    "after what it applied. Retrains every --train-every-s seconds (and after\n"
    "--train-after-events new events). Prints \"surge brain listening on HOST:PORT\" once it\n"
    "serves; SIGTERM or SIGINT stops it.\n"
    "\n"
    "eval: the evaluation of docs/BRAIN.md. Amazon Beauty purchase sequences, leave-last-out\n"
    "(each user's last item is the target, ranked against all items with the user's history\n"
    "excluded; HR@10 and NDCG@10), every model from popularity to the tree-ranked final, with\n"
    "hyper-parameters chosen on the second-to-last items; and UCI Online Retail daily units and\n"
    "orders over the last 28 days, each forecast from the days before it (WAPE), blends chosen on\n"
    "the 28 days before. Prints the report (markdown) and, with --doc, writes it between the\n"
    "markers '<!-- brain-eval:begin -->' and '<!-- brain-eval:end -->' of that file.\n"
    "\n"
    "train: feeds Amazon Beauty through the online brain as purchase events (one a day per\n"
    "user), retrains every model and the ranker, prints how long it took, and recommends for a\n"
    "few users with reasons.\n"
    "\n"
    "Flags:\n"
    "  --beauty FILE    Beauty.txt (default ../shared/data/amazon-beauty/Beauty.txt)\n"
    "  --retail FILE    OnlineRetail.csv (default\n"
    "                   ../shared/data/online-retail-invoices/OnlineRetail.csv)\n"
    "  --users N        eval: the first N users only (default 0 = all)\n"
    "  --threads N      eval: worker threads (default 2)\n"
    "  --doc FILE       eval: write the report into FILE (e.g. docs/BRAIN.md)\n"
    "  --no-tune        eval: skip the search on validation, use the built-in choices\n"
    "  --only PART      eval: 'recommendations' or 'forecasts' alone (not with --doc)\n"
    "  --data DIR              serve: the event log's directory (required)\n"
    "  --topology FILE         serve: the deployment whose order events to follow\n"
    "  --bus URL               serve: nats://HOST:PORT (default: the embedded bus)\n"
    "  --listen HOST:PORT      serve: address (default 127.0.0.1:18800)\n"
    "  --threads N             serve: HTTP event loops, 0 = one per core (default 0)\n"
    "  --train-every-s N       serve: retrain period, 0 = never on a timer (default 60)\n"
    "  --train-after-events N  serve: also retrain after N new events, 0 = off (default 0)\n"
    "  --synthetic-items N     serve, benchmarks: a catalogue of N items i0.. (not logged)\n"
    "  --synthetic-events N    serve, benchmarks: N purchases by users su0.. over them\n"
    "  --demand-target H:P     serve: where to PUT each SKU's forecast demand per center, which\n"
    "                          sizes the centers' quotas of new campaigns (default: the\n"
    "                          topology's gateway; 'off' for none)\n"
    "  --demand-every-s N      serve: how often (default 10)\n"
    "  --demand-days N         serve: the days ahead forecast (default 7)\n";

constexpr const char* kBeginMarker = "<!-- brain-eval:begin -->";
constexpr const char* kEndMarker = "<!-- brain-eval:end -->";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "surge brain: %s\n\n%s", message.c_str(), kBrainUsage);
  return 2;
}

int Fail(const Status& status) {
  std::fprintf(stderr, "surge brain: %s\n", status.ToString().c_str());
  return 1;
}

Result<brain::SequenceData> LoadBeauty(const std::string& path) {
  SURGE_ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadFile(path));
  auto data = brain::ParseSequences(text);
  if (!data.ok()) return data.status().Annotate(path);
  return data;
}

Result<brain::DailyDemand> LoadRetail(const std::string& path) {
  SURGE_ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadFile(path));
  auto invoices = brain::ParseInvoices(text);
  if (!invoices.ok()) return invoices.status().Annotate(path);
  return brain::AggregateDaily(*invoices);
}

// Replaces what lies between the markers of `path` by `section`.
Status WriteSection(const std::string& path, const std::string& section) {
  Env* env = Env::Default();
  SURGE_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  const size_t begin = text.find(kBeginMarker);
  const size_t end = text.find(kEndMarker);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    return Status(Code::kInvalidArgument, path + " lacks the markers " + kBeginMarker + " and " +
                                              kEndMarker + " (in this order)");
  }
  const size_t from = begin + std::string_view(kBeginMarker).size();
  text = text.substr(0, from) + "\n" + section + text.substr(end);
  const std::string temporary = path + ".tmp";
  SURGE_ASSIGN_OR_RETURN(auto file, env->OpenWritable(temporary, /*truncate=*/true));
  SURGE_RETURN_IF_ERROR(file->Append(text));
  SURGE_RETURN_IF_ERROR(file->Sync());
  SURGE_RETURN_IF_ERROR(file->Close());
  return env->RenameFile(temporary, path);
}

int RunEval(const Flags& flags, int threads) {
  auto users = flags.GetInt("users", 0, 0, 100'000'000);
  if (!users.ok()) return UsageError(users.status().message());
  const std::string only = flags.Get("only", "");
  if (only != "" && only != "recommendations" && only != "forecasts") {
    return UsageError("--only expects recommendations or forecasts, got '" + only + "'");
  }
  if (!only.empty() && flags.Has("doc")) return UsageError("--only cannot go with --doc");
  auto beauty = LoadBeauty(flags.Get("beauty", "../shared/data/amazon-beauty/Beauty.txt"));
  if (!beauty.ok()) return Fail(beauty.status());
  auto demand =
      LoadRetail(flags.Get("retail", "../shared/data/online-retail-invoices/OnlineRetail.csv"));
  if (!demand.ok()) return Fail(demand.status());

  brain::RecommendationEvalOptions options;
  options.users = static_cast<size_t>(*users);
  options.threads = threads;
  options.tune = !flags.Has("no-tune");
  const auto start = std::chrono::steady_clock::now();
  options.progress = [start](std::string_view line) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "[%6.1f s] %.*s\n", seconds, static_cast<int>(line.size()), line.data());
  };
  brain::RecommendationEvalReport recommendations;
  if (only != "forecasts") {
    auto evaluated = brain::EvaluateRecommendations(*beauty, options);
    if (!evaluated.ok()) return Fail(evaluated.status());
    recommendations = std::move(evaluated).value();
  }
  brain::ForecastEvalReport forecasts;
  if (only != "recommendations") {
    auto evaluated = brain::EvaluateForecasts(*demand);
    if (!evaluated.ok()) return Fail(evaluated.status());
    forecasts = std::move(evaluated).value();
  }
  const std::string report = brain::ReportMarkdown(recommendations, forecasts);
  std::fputs(report.c_str(), stdout);
  if (only != "forecasts") {
    std::printf("\nfull retrain on Beauty: %.1f s (bar: 60 s)\n", recommendations.retrain_seconds);
  }
  if (flags.Has("doc")) {
    const Status written = WriteSection(flags.Get("doc", ""), report);
    if (!written.ok()) return Fail(written);
  }
  return 0;
}

int RunTrain(const Flags& flags, int threads) {
  (void)threads;
  auto beauty = LoadBeauty(flags.Get("beauty", "../shared/data/amazon-beauty/Beauty.txt"));
  if (!beauty.ok()) return Fail(beauty.status());
  brain::Brain brain;
  auto start = std::chrono::steady_clock::now();
  constexpr int64_t kDayMs = 86'400'000;
  for (size_t u = 0; u < beauty->sequences.size(); ++u) {
    const auto& sequence = beauty->sequences[u];
    for (size_t p = 0; p < sequence.size(); ++p) {
      const Status status =
          brain.Observe({"u" + beauty->user_ids[u], "i" + beauty->item_ids[sequence[p]],
                         brain::EventKind::kPurchase, static_cast<int64_t>(p) * kDayMs, 1});
      if (!status.ok()) return Fail(status);
    }
  }
  const double observe_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("observed %zu purchase events in %.2f s\n", brain.event_count(), observe_seconds);
  auto trained = brain.Train();
  if (!trained.ok()) return Fail(trained.status());
  std::printf("full retrain: %zu users, %zu items, ranker %s, %.1f s (bar: 60 s)\n", trained->users,
              trained->items, trained->ranker ? "trained" : "not trained", trained->seconds);
  for (const char* user : {"u1", "u2", "u3"}) {
    auto list = brain.Recommend(user, 5, 0);
    if (!list.ok()) return Fail(list.status());
    std::printf("%s:", user);
    for (const auto& r : *list) std::printf("  %s (%s)", r.item.c_str(), r.reason.c_str());
    std::printf("\n");
  }
  return 0;
}

Result<brainsvc::Options> ServeOptions(const Flags& flags) {
  brainsvc::Options options;
  options.data_dir = flags.Get("data", "");
  if (options.data_dir.empty()) return Status(Code::kInvalidArgument, "--data DIR is required");
  SURGE_ASSIGN_OR_RETURN(int64_t train_every_s, flags.GetInt("train-every-s", 60, 0, 86'400));
  SURGE_ASSIGN_OR_RETURN(int64_t train_after,
                         flags.GetInt("train-after-events", 0, 0, 1'000'000'000));
  SURGE_ASSIGN_OR_RETURN(int64_t items, flags.GetInt("synthetic-items", 0, 0, 100'000'000));
  SURGE_ASSIGN_OR_RETURN(int64_t events, flags.GetInt("synthetic-events", 0, 0, 1'000'000'000));
  options.train_interval = std::chrono::seconds(train_every_s);
  options.train_after_events = static_cast<uint64_t>(train_after);
  SURGE_ASSIGN_OR_RETURN(int64_t demand_every_s, flags.GetInt("demand-every-s", 10, 1, 86'400));
  SURGE_ASSIGN_OR_RETURN(int64_t demand_days, flags.GetInt("demand-days", 7, 1, 366));
  options.demand_interval = std::chrono::seconds(demand_every_s);
  options.demand_days = static_cast<int>(demand_days);
  options.synthetic_items = static_cast<size_t>(items);
  options.synthetic_events = static_cast<size_t>(events);
  if (events > 0 && items == 0) {
    return Status(Code::kInvalidArgument, "--synthetic-events needs --synthetic-items");
  }
  return options;
}

int RunServe(const Flags& flags) {
  Result<brainsvc::Options> options = ServeOptions(flags);
  if (!options.ok()) return UsageError(options.status().message());
  auto listen = ParseListenAddress(flags.Get("listen", "127.0.0.1:18800"));
  if (!listen.ok()) return UsageError(listen.status().message());
  auto threads = flags.GetInt("threads", 0, 0, 1024);
  if (!threads.ok()) return UsageError(threads.status().message());
  std::unique_ptr<bus::Bus> bus;
  if (flags.Has("topology")) {
    auto topology = topology::Load(*Env::Default(), flags.Get("topology", ""));
    if (!topology.ok()) return UsageError(topology.status().message());
    auto opened = OpenBus(*topology, flags.Get("bus", ""));
    if (!opened.ok()) return Fail(opened.status());
    bus = std::move(opened).value();
    options->bus = bus.get();
    for (const topology::Center& center : topology->centers()) {
      options->centers.push_back(center.id);
    }
    options->master = topology->master_id();
    // Demand goes to the master through the gateway, which follows the master's primary.
    const std::string target = flags.Get("demand-target", "");
    if (target.empty() && topology->gateway_address().has_value()) {
      options->demand_target = topology->gateway_address()->ToString();
    } else if (target != "off") {
      options->demand_target = target;
    }
  } else if (flags.Has("demand-target")) {
    return UsageError("--demand-target needs --topology (the centers to forecast for)");
  }
  auto service = brainsvc::Service::Open(*Env::Default(), *options);
  if (!service.ok()) return Fail(service.status());
  http::ServerOptions server_options;
  server_options.host = listen->host;
  server_options.port = listen->port;
  server_options.threads = static_cast<int>(*threads);
  auto server = http::Server::Start(server_options, **service);
  if (!server.ok()) return Fail(server.status());
  // Tests and `surge up` wait for this line on stdout and read the address from its end.
  std::printf("surge brain listening on %s:%u\n", UrlHost(listen->host).c_str(),
              static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  WaitForStopSignal();
  SURGE_LOG_INFO("brain: stopping");
  (*server)->Stop();
  (*service)->Stop();
  return 0;
}

}  // namespace

int RunBrainCommand(int argc, char** argv) {
  if (argc < 3) return UsageError("expected 'eval', 'train' or 'serve'");
  const std::string_view action = argv[2];
  if (action == "--help" || action == "-h") {
    std::fputs(kBrainUsage, stdout);
    return 0;
  }
  if (action == "serve") {
    auto parsed = Flags::Parse(
        argc, argv, 3,
        {"data", "topology", "bus", "listen", "threads", "train-every-s", "train-after-events",
         "synthetic-items", "synthetic-events", "demand-target", "demand-every-s", "demand-days"});
    if (!parsed.ok()) return UsageError(parsed.status().message());
    if (parsed->help()) {
      std::fputs(kBrainUsage, stdout);
      return 0;
    }
    return RunServe(*parsed);
  }
  if (action != "eval" && action != "train") {
    return UsageError("unknown action '" + std::string(action) +
                      "': expected eval, train or serve");
  }
  auto parsed = Flags::Parse(argc, argv, 3, {"beauty", "retail", "users", "threads", "doc", "only"},
                             {"no-tune"});
  if (!parsed.ok()) return UsageError(parsed.status().message());
  if (parsed->help()) {
    std::fputs(kBrainUsage, stdout);
    return 0;
  }
  auto threads = parsed->GetInt("threads", 2, 1, 64);
  if (!threads.ok()) return UsageError(threads.status().message());
  return action == "eval" ? RunEval(*parsed, static_cast<int>(*threads))
                          : RunTrain(*parsed, static_cast<int>(*threads));
}

}  // namespace surge::cli
