// The search of the retrievers' hyper-parameters on the validation split: one retriever at a
// time over a small grid (each judged alone by NDCG@10), then the weights of their blend.
#include <cstdio>

#include "brain/eval_internal.h"

namespace surge::brain::internal {
namespace {

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0,
                   double e = 0) {
  char text[256];
  std::snprintf(text, sizeof text, format, a, b, c, d, e);
  return text;
}

// NDCG@10 of one retriever alone (plus the popularity tie-break) on the validation users.
template <typename RetrieveOne, typename Member>
RankMetrics SingleRetriever(const Models& models, const Stage& stage, RetrieveOne retrieve,
                            Member member) {
  return EvaluateUsers(stage, stage.evaluated, models.items, models.options.threads, 1,
                       [&](Workspace* workspace, size_t user, std::span<size_t> ranks) {
                         workspace->Clear();
                         retrieve(models, stage.View(user), workspace);
                         const auto& scores = workspace->*member;
                         ranks[0] = CappedRank(
                             models, *workspace, stage.excluded[user], stage.targets[user],
                             [&](uint32_t item) {
                               return scores[item] +
                                      kPopularityTieBreak * models.popularity.score[item];
                             },
                             kPopularityTieBreak);
                       })[0];
}

void TuneTransitions(const Stage& stage, const std::vector<std::vector<uint32_t>>& sequences,
                     Models* models, std::string* log) {
  double best = -1;
  ModelOptions chosen = models->options;
  for (const int span : {1, 2, 3, 4, 6}) {
    models->options.transition_span = span;
    BuildTransitions(sequences, models);
    for (const int window : {1, 2, 3, 4, 6, 8, 12, 20}) {
      for (const double decay : {0.15, 0.3, 0.5, 0.7, 1.0}) {
        if (window == 1 && decay != 1.0) continue;
        models->options.markov_window = window;
        models->options.markov_decay = decay;
        const RankMetrics metrics =
            SingleRetriever(*models, stage, RetrieveTransitions, &Workspace::markov);
        if (metrics.ndcg > best) {
          best = metrics.ndcg;
          chosen = models->options;
        }
      }
    }
  }
  models->options = chosen;
  BuildTransitions(sequences, models);
  *log += Format(
      "transitions: span %.0f (skip weight %.2f), last %.0f items, decay %.2f "
      "(validation NDCG@10 %.4f)\n",
      chosen.transition_span, chosen.transition_skip, chosen.markov_window, chosen.markov_decay,
      best);
}

void TuneNeighbours(const Stage& stage, const std::vector<std::vector<uint32_t>>& sequences,
                    Models* models, std::string* log) {
  double best = -1;
  ModelOptions chosen = models->options;
  for (const double alpha : {0.3, 0.4, 0.5, 0.6}) {
    models->options.knn_alpha = alpha;
    BuildNeighbours(sequences, models);
    for (const double decay : {1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2}) {
      models->options.knn_decay = decay;
      const RankMetrics metrics =
          SingleRetriever(*models, stage, RetrieveNeighbours, &Workspace::knn);
      if (metrics.ndcg > best) {
        best = metrics.ndcg;
        chosen = models->options;
      }
    }
  }
  models->options = chosen;
  BuildNeighbours(sequences, models);
  *log += Format("item kNN: alpha %.2f, history decay %.2f (validation NDCG@10 %.4f)\n",
                 chosen.knn_alpha, chosen.knn_decay, best);
}

void TuneEmbeddings(const Stage& stage, const std::vector<std::vector<uint32_t>>& sequences,
                    Models* models, std::string* log) {
  double best = -1;
  ModelOptions chosen = models->options;
  for (const int window : {2, 4, 8}) {
    models->options.embedding_window = window;
    BuildEmbeddings(sequences, models);
    for (const int history : {1, 2, 4}) {
      for (const double decay : {0.5, 0.8}) {
        if (history == 1 && decay != 0.5) continue;
        models->options.embedding_history = history;
        models->options.embedding_decay = decay;
        const RankMetrics metrics =
            SingleRetriever(*models, stage, RetrieveEmbedding, &Workspace::embedding);
        if (metrics.ndcg > best) {
          best = metrics.ndcg;
          chosen = models->options;
        }
      }
    }
  }
  models->options = chosen;
  BuildEmbeddings(sequences, models);
  *log += Format(
      "embeddings: %.0f dimensions, window %.0f, last %.0f items, decay %.2f "
      "(validation NDCG@10 %.4f)\n",
      chosen.embedding_dim, chosen.embedding_window, chosen.embedding_history,
      chosen.embedding_decay, best);
}

void TuneBlend(const Stage& stage, Models* models, std::string* log) {
  struct Weights {
    float knn, embedding, popularity;
  };
  std::vector<Weights> grid;
  for (const float knn : {0.0f, 0.01f, 0.03f, 0.1f, 0.3f}) {
    for (const float embedding : {0.0f, 0.03f, 0.1f, 0.3f}) {
      for (const float popularity : {0.01f, 0.03f, 0.1f, 0.3f}) {
        grid.push_back({knn, embedding, popularity});
      }
    }
  }
  const Models& m = *models;
  const std::vector<RankMetrics> metrics = EvaluateUsers(
      stage, stage.evaluated, m.items, m.options.threads, grid.size(),
      [&](Workspace* workspace, size_t user, std::span<size_t> ranks) {
        Retrieve(m, stage.View(user), workspace);
        const float knn_scale = workspace->knn_max > 0 ? 1.0f / workspace->knn_max : 0.0f;
        for (size_t g = 0; g < grid.size(); ++g) {
          const Weights w = grid[g];
          ranks[g] = CappedRank(
              m, *workspace, stage.excluded[user], stage.targets[user],
              [&](uint32_t item) {
                return workspace->markov[item] + w.knn * knn_scale * workspace->knn[item] +
                       w.embedding * workspace->embedding[item] +
                       w.popularity * m.popularity.score[item];
              },
              w.popularity);
        }
      });
  size_t best = 0;
  for (size_t g = 1; g < grid.size(); ++g) {
    if (metrics[g].ndcg > metrics[best].ndcg) best = g;
  }
  models->options.blend_markov = 1.0;
  models->options.blend_knn = grid[best].knn;
  models->options.blend_embedding = grid[best].embedding;
  models->options.blend_popularity = grid[best].popularity;
  *log += Format(
      "blend: markov 1, knn %.2f, embedding %.2f, popularity %.3f (validation "
      "NDCG@10 %.4f)\n",
      grid[best].knn, grid[best].embedding, grid[best].popularity, metrics[best].ndcg);
}

}  // namespace

ModelOptions TuneRetrievers(const Stage& validation, uint32_t items, const ModelOptions& start,
                            const std::function<void(std::string_view)>& progress,
                            std::string* log) {
  const auto say = [&](std::string_view line) {
    if (progress) progress(line);
  };
  Models models = BuildModels(validation.histories, items, start);
  say("tuning transitions");
  TuneTransitions(validation, validation.histories, &models, log);
  say("tuning item kNN");
  TuneNeighbours(validation, validation.histories, &models, log);
  say("tuning embeddings");
  TuneEmbeddings(validation, validation.histories, &models, log);
  say("tuning the blend");
  TuneBlend(validation, &models, log);
  return models.options;
}

}  // namespace surge::brain::internal
