// The ranker: gradient-boosted trees over ComputeFeatures' rows of each user's candidates.
#include <algorithm>
#include <numeric>
#include <random>

#include "brain/models.h"
#include "brain/parallel.h"
#include "common/assert.h"

namespace surge::brain::internal {

std::vector<std::pair<uint32_t, float>> RankForUser(const Models& models, const UserView& user,
                                                    Workspace* workspace) {
  Retrieve(models, user, workspace);
  const std::vector<uint32_t> candidates =
      TopCandidates(user, *workspace, models.options.ranker_candidates);
  std::vector<float> scores(candidates.size());
  if (models.ranker != nullptr && !candidates.empty()) {
    thread_local std::vector<float> rows;
    rows.resize(candidates.size() * kFeatureCount);
    ComputeFeatures(models, user, *workspace, candidates, rows);
    models.ranker->Predict(rows, kFeatureCount, scores, /*threads=*/1);
  } else {
    for (size_t c = 0; c < candidates.size(); ++c) scores[c] = workspace->blend[candidates[c]];
  }
  std::vector<uint32_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  std::vector<std::pair<uint32_t, float>> ranked;
  ranked.reserve(order.size());
  for (const uint32_t c : order) ranked.emplace_back(candidates[c], scores[c]);
  return ranked;
}

namespace {

// The rows of one example: the target first, then the sampled negatives.
struct Group {
  std::vector<float> rows;
  uint32_t size = 0;
};

Group MakeGroup(const Models& models, const RankerExample& example, size_t index,
                Workspace* workspace) {
  Group group;
  Retrieve(models, example.user, workspace);
  std::vector<uint32_t> candidates =
      TopCandidates(example.user, *workspace, models.options.ranker_candidates);
  const auto target = std::find(candidates.begin(), candidates.end(), example.target);
  if (target == candidates.end()) return group;
  // Features are computed over the whole candidate list (ranks depend on it), then sampled.
  std::vector<float> rows(candidates.size() * kFeatureCount);
  ComputeFeatures(models, example.user, *workspace, candidates, rows);
  const auto target_index = static_cast<size_t>(target - candidates.begin());
  std::vector<size_t> negatives;
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (c != target_index) negatives.push_back(c);
  }
  std::mt19937_64 random(models.options.seed * 0x9E3779B97F4A7C15ull + index);
  std::shuffle(negatives.begin(), negatives.end(), random);
  negatives.resize(std::min(negatives.size(), models.options.ranker_negatives));
  negatives.insert(negatives.begin(), target_index);
  for (const size_t c : negatives) {
    group.rows.insert(group.rows.end(), rows.begin() + static_cast<ptrdiff_t>(c * kFeatureCount),
                      rows.begin() + static_cast<ptrdiff_t>((c + 1) * kFeatureCount));
  }
  group.size = static_cast<uint32_t>(negatives.size());
  return group;
}

}  // namespace

Result<trees::Forest> TrainRanker(const Models& models, std::span<const RankerExample> examples) {
  std::vector<Group> groups(examples.size());
  const int threads = models.options.threads;
  std::vector<Workspace> workspaces;
  for (int t = 0; t < std::max(1, threads); ++t) workspaces.emplace_back(models.items);
  ParallelFor(examples.size(), threads, 64, [&](size_t thread, size_t begin, size_t end) {
    for (size_t e = begin; e < end; ++e) {
      groups[e] = MakeGroup(models, examples[e], e, &workspaces[thread]);
    }
  });
  std::vector<float> features, labels;
  std::vector<uint32_t> sizes;
  for (const Group& group : groups) {
    if (group.size < 2) continue;  // no target among the candidates, or nothing to compare
    features.insert(features.end(), group.rows.begin(), group.rows.end());
    labels.push_back(1.0f);
    labels.insert(labels.end(), group.size - 1, 0.0f);
    sizes.push_back(group.size);
  }
  if (sizes.empty()) {
    return Status(Code::kInvalidArgument,
                  "ranker: no training user has the next item among its candidates");
  }
  trees::Dataset data;
  data.rows = labels.size();
  data.columns = kFeatureCount;
  data.features = features;
  data.labels = labels;
  data.group_sizes = sizes;
  return trees::Forest::Train(data, models.options.ranker);
}

}  // namespace surge::brain::internal
