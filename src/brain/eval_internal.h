// Private to src/brain: the pieces of the leave-last-out evaluation, shared by the search of
// hyper-parameters on validation and the final report.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "brain/brain.h"
#include "brain/models.h"
#include "brain/parallel.h"

namespace surge::brain::internal {

inline constexpr size_t kCutoff = 10;  // HR@10, NDCG@10
// Weight of the popularity score added to a single retriever's scores, so that items it does
// not score (and its ties) fall in popularity order ("Markov with popularity").
inline constexpr float kPopularityTieBreak = 1e-4f;

// One evaluation split: per user, the history before the target (what the models learn from),
// the same sorted (the items excluded from the ranking), and the target; and which users are
// evaluated.
struct Stage {
  std::vector<std::vector<uint32_t>> histories;
  std::vector<std::vector<uint32_t>> excluded;
  std::vector<uint32_t> targets;
  std::vector<uint32_t> evaluated;  // ascending
  UserView View(size_t user) const { return {histories[user], excluded[user]}; }
};

// Every user of `data` with their `holdout`-th item from the end as the target (1 = the last,
// 2 = the second-to-last) and everything before it as history; the first `users` users (0 =
// all) are evaluated. Requires every sequence to have more than `holdout` items.
Stage MakeStage(const SequenceData& data, size_t users, size_t holdout);

// Sums of HitAtK and NdcgAtK at kCutoff.
struct MetricSum {
  double hit = 0, ndcg = 0;
  size_t users = 0;
  void Add(size_t rank) {
    hit += HitAtK(rank, kCutoff);
    ndcg += NdcgAtK(rank, kCutoff);
    ++users;
  }
  void Merge(const MetricSum& other) {
    hit += other.hit;
    ndcg += other.ndcg;
    users += other.users;
  }
  RankMetrics Get() const {
    return users == 0 ? RankMetrics{}
                      : RankMetrics{hit / static_cast<double>(users),
                                    ndcg / static_cast<double>(users), users};
  }
};

// The rank of `target` among all items not excluded, capped at kCutoff, counting against the
// target every item whose score is >= its own. Touched items score touched_score(item), the
// others base_weight * popularity score.
template <typename TouchedScore>
size_t CappedRank(const Models& models, const Workspace& workspace,
                  std::span<const uint32_t> excluded, uint32_t target, TouchedScore touched_score,
                  float base_weight) {
  const std::vector<float>& popularity = models.popularity.score;
  const float target_score =
      workspace.touched_flag[target] ? touched_score(target) : base_weight * popularity[target];
  size_t rank = 0;
  for (const uint32_t item : workspace.touched) {
    if (item == target || touched_score(item) < target_score || Contains(excluded, item)) continue;
    if (++rank >= kCutoff) return kCutoff;
  }
  for (const uint32_t item : models.popularity.by_rank) {
    if (base_weight * popularity[item] < target_score) break;
    if (workspace.touched_flag[item] || item == target || Contains(excluded, item)) continue;
    if (++rank >= kCutoff) return kCutoff;
  }
  return rank;
}

// Runs score(workspace, user, ranks) for every user of `stage` on `threads` threads; score
// writes one capped rank per configuration into `ranks` (configurations values). Returns the
// metrics of each configuration.
std::vector<RankMetrics> EvaluateUsers(
    const Stage& stage, std::span<const uint32_t> users, uint32_t items, int threads,
    size_t configurations,
    const std::function<void(Workspace*, size_t user, std::span<size_t> ranks)>& score);

// The ranked list's rank of the target (RankForUser), capped; kCutoff when the target is not
// among the candidates.
size_t RankedRank(const Models& models, const Stage& stage, size_t user, Workspace* workspace);

// The hyper-parameters of the retrievers and their blend, searched on `validation` with models
// built from its histories, starting from `start`. Appends what it tried and chose to `log`.
ModelOptions TuneRetrievers(const Stage& validation, uint32_t items, const ModelOptions& start,
                            const std::function<void(std::string_view)>& progress,
                            std::string* log);

}  // namespace surge::brain::internal
