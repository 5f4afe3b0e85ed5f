// The leave-last-out evaluation of the recommendation models (docs/BRAIN.md).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "brain/eval_internal.h"
#include "common/assert.h"

namespace surge::brain {
namespace internal {

Stage MakeStage(const SequenceData& data, size_t users, size_t holdout) {
  const size_t count = data.sequences.size();
  Stage stage;
  stage.evaluated.resize(users == 0 ? count : std::min(users, count));
  for (size_t u = 0; u < stage.evaluated.size(); ++u) stage.evaluated[u] = static_cast<uint32_t>(u);
  stage.histories.resize(count);
  stage.excluded.resize(count);
  stage.targets.resize(count);
  for (size_t u = 0; u < count; ++u) {
    const auto& sequence = data.sequences[u];
    SURGE_ASSERT(sequence.size() > holdout);
    const size_t target = sequence.size() - holdout;
    stage.histories[u].assign(sequence.begin(), sequence.begin() + static_cast<ptrdiff_t>(target));
    stage.targets[u] = sequence[target];
    std::vector<uint32_t>& excluded = stage.excluded[u];
    excluded = stage.histories[u];
    std::sort(excluded.begin(), excluded.end());
    excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
    // The target is never excluded, even if the user had it before.
    const auto it = std::lower_bound(excluded.begin(), excluded.end(), stage.targets[u]);
    if (it != excluded.end() && *it == stage.targets[u]) excluded.erase(it);
  }
  return stage;
}

std::vector<RankMetrics> EvaluateUsers(
    const Stage& stage, std::span<const uint32_t> users, uint32_t items, int threads,
    size_t configurations,
    const std::function<void(Workspace*, size_t user, std::span<size_t> ranks)>& score) {
  (void)stage;
  const size_t workers = static_cast<size_t>(std::max(1, threads));
  std::vector<std::vector<MetricSum>> sums(workers, std::vector<MetricSum>(configurations));
  std::vector<Workspace> workspaces;
  for (size_t t = 0; t < workers; ++t) workspaces.emplace_back(items);
  ParallelFor(users.size(), threads, 64, [&](size_t thread, size_t begin, size_t end) {
    std::vector<size_t> ranks(configurations);
    for (size_t i = begin; i < end; ++i) {
      score(&workspaces[thread], users[i], ranks);
      for (size_t c = 0; c < configurations; ++c) sums[thread][c].Add(ranks[c]);
    }
  });
  std::vector<RankMetrics> metrics(configurations);
  for (size_t c = 0; c < configurations; ++c) {
    MetricSum total;
    for (size_t t = 0; t < workers; ++t) total.Merge(sums[t][c]);
    metrics[c] = total.Get();
  }
  return metrics;
}

size_t RankedRank(const Models& models, const Stage& stage, size_t user, Workspace* workspace) {
  const auto ranked = RankForUser(models, stage.View(user), workspace);
  const uint32_t target = stage.targets[user];
  float target_score = 0;
  bool found = false;
  for (const auto& [item, score] : ranked) {
    if (item == target) {
      target_score = score;
      found = true;
    }
  }
  if (!found) return kCutoff;
  size_t rank = 0;
  for (const auto& [item, score] : ranked) {
    if (item != target && score >= target_score && ++rank >= kCutoff) return kCutoff;
  }
  return rank;
}

}  // namespace internal

namespace {

using internal::CappedRank;
using internal::kPopularityTieBreak;
using internal::ModelOptions;
using internal::Models;
using internal::Stage;
using internal::Workspace;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char text[256];
  std::snprintf(text, sizeof text, format, a, b, c, d);
  return text;
}

// The rank of the target by the exact inner product of the user's vector with every item.
size_t ExactEmbeddingRank(const Models& models, const Stage& stage, size_t user,
                          const Workspace& workspace) {
  const auto dim = static_cast<size_t>(models.embedding_dim);
  const uint32_t target = stage.targets[user];
  auto score = [&](uint32_t item) {
    float dot = 0;
    if (!workspace.user_vector.empty()) {
      const float* row = &models.embeddings[item * dim];
      for (size_t d = 0; d < dim; ++d) dot += row[d] * workspace.user_vector[d];
    }
    return dot + kPopularityTieBreak * models.popularity.score[item];
  };
  const float target_score = score(target);
  size_t rank = 0;
  for (uint32_t item = 0; item < models.items; ++item) {
    if (item == target || internal::Contains(stage.excluded[user], item)) continue;
    if (score(item) >= target_score && ++rank >= internal::kCutoff) return internal::kCutoff;
  }
  return rank;
}

// The report's rows, in order.
enum Row : size_t {
  kPopular,
  kMarkovReference,
  kMarkov,
  kKnn,
  kEmbeddingExact,
  kEmbeddingAnn,
  kBlend,
  kRanked,
  kRows
};

// The reference's Markov model: transitions to the next item only, from the last 3 items, each
// counting half as much as the one after it (its popularity and transitions only).
Models ReferenceMarkov(const Stage& stage, uint32_t items) {
  Models reference;
  reference.items = items;
  reference.options.transition_span = 1;
  reference.options.markov_window = 3;
  reference.options.markov_decay = 0.5;
  reference.popularity = internal::BuildPopularity(stage.histories, items);
  internal::BuildTransitions(stage.histories, &reference);
  return reference;
}

// Every row's metrics on `stage` (the ranked row only if the models have a ranker).
std::vector<RankMetrics> EvaluateRows(const Models& models, const Models& reference,
                                      const Stage& stage) {
  const ModelOptions& options = models.options;
  return internal::EvaluateUsers(
      stage, stage.evaluated, models.items, options.threads, kRows,
      [&](Workspace* workspace, size_t user, std::span<size_t> ranks) {
        const auto& pop = models.popularity.score;
        Retrieve(models, stage.View(user), workspace);
        const auto with_tie_break = [&](const std::vector<float>& scores) {
          return [&](uint32_t item) { return scores[item] + kPopularityTieBreak * pop[item]; };
        };
        const auto rank = [&](auto score, float base) {
          return CappedRank(models, *workspace, stage.excluded[user], stage.targets[user], score,
                            base);
        };
        ranks[kPopular] = rank([&](uint32_t item) { return pop[item]; }, 1.0f);
        ranks[kMarkov] = rank(with_tie_break(workspace->markov), kPopularityTieBreak);
        ranks[kKnn] = rank(with_tie_break(workspace->knn), kPopularityTieBreak);
        ranks[kEmbeddingAnn] = rank(with_tie_break(workspace->embedding), kPopularityTieBreak);
        ranks[kEmbeddingExact] = ExactEmbeddingRank(models, stage, user, *workspace);
        ranks[kBlend] = rank([&](uint32_t item) { return workspace->blend[item]; },
                             static_cast<float>(options.blend_popularity));
        workspace->Clear();
        internal::RetrieveTransitions(reference, stage.View(user), workspace);
        ranks[kMarkovReference] =
            CappedRank(reference, *workspace, stage.excluded[user], stage.targets[user],
                       with_tie_break(workspace->markov), kPopularityTieBreak);
        ranks[kRanked] = models.ranker != nullptr
                             ? internal::RankedRank(models, stage, user, workspace)
                             : internal::kCutoff;
      });
}

std::vector<internal::RankerExample> Examples(const Stage& stage, std::span<const uint32_t> users) {
  std::vector<internal::RankerExample> examples;
  examples.reserve(users.size());
  for (const uint32_t user : users) examples.push_back({stage.View(user), stage.targets[user]});
  return examples;
}

struct RankerChoice {
  trees::TrainOptions options;
  size_t candidates = 0;
  RankMetrics holdout;
};

// Trains rankers on 4/5 of the validation users and keeps the configuration that ranks the
// other fifth best.
Result<RankerChoice> TuneRanker(Models* models, const Stage& stage, std::string* log) {
  std::vector<uint32_t> train, holdout;
  for (const uint32_t u : stage.evaluated) (u % 5 == 4 ? holdout : train).push_back(u);
  const auto examples = Examples(stage, train);
  RankerChoice best;
  best.holdout.ndcg = -1;
  struct Config {
    const char* objective;
    int depth, rounds;
    double rate;
    size_t candidates;
  };
  for (const Config config :
       {Config{"rank:pairwise", 6, 100, 0.1, 100}, Config{"rank:pairwise", 6, 100, 0.1, 200},
        Config{"rank:ndcg", 6, 100, 0.1, 100}, Config{"rank:pairwise", 8, 200, 0.05, 100}}) {
    models->options.ranker.objective = config.objective;
    models->options.ranker.max_depth = config.depth;
    models->options.ranker.rounds = config.rounds;
    models->options.ranker.learning_rate = config.rate;
    models->options.ranker_candidates = config.candidates;
    SURGE_ASSIGN_OR_RETURN(trees::Forest forest, internal::TrainRanker(*models, examples));
    models->ranker = std::make_shared<const trees::Forest>(std::move(forest));
    const RankMetrics metrics =
        internal::EvaluateUsers(stage, holdout, models->items, models->options.threads, 1,
                                [&](Workspace* workspace, size_t user, std::span<size_t> ranks) {
                                  ranks[0] = internal::RankedRank(*models, stage, user, workspace);
                                })[0];
    *log += std::string("ranker ") + config.objective +
            Format(" depth %.0f, %.0f trees, rate %.2f, %.0f candidates: ", config.depth,
                   config.rounds, config.rate, static_cast<double>(config.candidates)) +
            Format("held-out NDCG@10 %.4f\n", metrics.ndcg);
    if (metrics.ndcg > best.holdout.ndcg)
      best = {models->options.ranker, config.candidates, metrics};
  }
  models->options.ranker = best.options;
  models->options.ranker_candidates = best.candidates;
  models->ranker.reset();
  return best;
}

// The models that serve the test split, timed: the models of the validation split, the ranker
// trained on its targets, and the models of the test split.
struct Retrained {
  Models validation, test;
  double seconds = 0;
};

Result<Retrained> Retrain(const Stage& validation, const Stage& test, uint32_t items,
                          const ModelOptions& options, bool with_ranker,
                          const std::function<void(std::string_view)>& say) {
  const auto start = std::chrono::steady_clock::now();
  Retrained retrained;
  retrained.validation = BuildModels(validation.histories, items, options);
  say(Format("models of the validation split built in %.1f s", Seconds(start)));
  // The test split's models are built on a second thread while the ranker learns.
  std::thread build([&] { retrained.test = BuildModels(test.histories, items, options); });
  Result<trees::Forest> forest = Status(Code::kInvalidArgument, "no ranker asked for");
  if (with_ranker) {
    forest =
        internal::TrainRanker(retrained.validation, Examples(validation, validation.evaluated));
  }
  build.join();
  if (with_ranker) {
    if (!forest.ok()) return forest.status();
    retrained.test.ranker = std::make_shared<const trees::Forest>(std::move(forest).value());
    say(Format("ranker trained at %.1f s", Seconds(start)));
  }
  retrained.seconds = Seconds(start);
  return retrained;
}

std::vector<ModelResult> Results(const std::vector<RankMetrics>& on_validation,
                                 const std::vector<RankMetrics>& on_test, bool with_ranker,
                                 const RankMetrics& ranker_holdout) {
  const char* names[kRows][2] = {
      {"popularity", "items by purchases in the training data"},
      {"Markov, last 3 items",
       "the reference's setup: next-item transitions from the last 3 items (weights 1, 1/2, 1/4), "
       "popularity for ties"},
      {"Markov",
       "transitions to the next items (skips count less) from the last items, decayed, popularity "
       "for ties"},
      {"item kNN", "co-occurrence cosine with popularity damping over the history"},
      {"embeddings, exact", "PPMI eigen-embeddings, user = decayed sum, all items scored"},
      {"embeddings, HNSW", "the same through the hnswlib index (top 100)"},
      {"blend", "weighted sum of the retrievers and popularity"},
      {"ranked", "gradient-boosted trees over the blend's candidates"}};
  std::vector<ModelResult> results;
  for (size_t row = 0; row < kRows; ++row) {
    if (row == kRanked && !with_ranker) continue;
    ModelResult result{names[row][0], names[row][1], on_validation[row], on_test[row]};
    // The ranker learned from the validation targets: its validation figure is the held-out
    // fifth of the tuning (NaN when not tuned).
    if (row == kRanked) result.validation = ranker_holdout;
    results.push_back(std::move(result));
  }
  return results;
}

Status CheckSequences(const SequenceData& data) {
  if (data.sequences.empty()) return Status(Code::kInvalidArgument, "no users to evaluate");
  for (size_t u = 0; u < data.sequences.size(); ++u) {
    if (data.sequences[u].size() < 3) {
      return Status(Code::kInvalidArgument, "user " + data.user_ids[u] +
                                                " has fewer than 3 items (leave-last-out needs "
                                                "a validation and a test item and some history)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<RecommendationEvalReport> EvaluateRecommendations(const SequenceData& data,
                                                         const RecommendationEvalOptions& options) {
  SURGE_RETURN_IF_ERROR(CheckSequences(data));
  const auto say = [&](std::string_view line) {
    if (options.progress) options.progress(line);
  };
  const auto items = static_cast<uint32_t>(data.item_ids.size());
  const Stage validation = internal::MakeStage(data, options.users, 2);
  const Stage test = internal::MakeStage(data, options.users, 1);
  RecommendationEvalReport report;
  report.users = test.evaluated.size();
  report.items = items;
  report.interactions = data.interactions();

  ModelOptions model_options;
  model_options.threads = options.threads;
  auto start = std::chrono::steady_clock::now();
  RankMetrics ranker_holdout{std::nan(""), std::nan(""), 0};
  if (options.tune) {
    model_options = internal::TuneRetrievers(validation, items, model_options, options.progress,
                                             &report.chosen);
    if (options.ranker) {
      say("tuning the ranker");
      Models models = BuildModels(validation.histories, items, model_options);
      SURGE_ASSIGN_OR_RETURN(RankerChoice choice, TuneRanker(&models, validation, &report.chosen));
      model_options = models.options;
      ranker_holdout = choice.holdout;
    }
  }
  report.tune_seconds = Seconds(start);

  say("retraining");
  SURGE_ASSIGN_OR_RETURN(Retrained models,
                         Retrain(validation, test, items, model_options, options.ranker, say));
  report.retrain_seconds = models.seconds;

  say("evaluating");
  start = std::chrono::steady_clock::now();
  const std::vector<RankMetrics> on_validation =
      EvaluateRows(models.validation, ReferenceMarkov(validation, items), validation);
  const std::vector<RankMetrics> on_test =
      EvaluateRows(models.test, ReferenceMarkov(test, items), test);
  report.eval_seconds = Seconds(start);
  report.models = Results(on_validation, on_test, options.ranker, ranker_holdout);
  return report;
}

}  // namespace surge::brain
