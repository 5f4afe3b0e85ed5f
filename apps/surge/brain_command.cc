#include "brain_command.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "brain/brain.h"
#include "common/env.h"
#include "flags.h"

namespace surge::cli {
namespace {

constexpr const char* kBrainUsage =
    "Usage: surge brain eval [flags]\n"
    "       surge brain train [flags]\n"
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
    "  --only PART      eval: 'recommendations' or 'forecasts' alone (not with --doc)\n";

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

}  // namespace

int RunBrainCommand(int argc, char** argv) {
  if (argc < 3) return UsageError("expected 'eval' or 'train'");
  const std::string_view action = argv[2];
  if (action == "--help" || action == "-h") {
    std::fputs(kBrainUsage, stdout);
    return 0;
  }
  if (action != "eval" && action != "train") {
    return UsageError("unknown action '" + std::string(action) + "': expected eval or train");
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
