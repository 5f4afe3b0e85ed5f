// Candidate retrieval for one user: transitions from the last items, kNN over the history,
// nearest items to the user's embedding, the most popular items, and the blend of them all.
#include <algorithm>
#include <cmath>

#include "brain/models.h"
#include "common/assert.h"

namespace surge::brain::internal {

Workspace::Workspace(uint32_t items)
    : markov(items, 0.0f),
      knn(items, 0.0f),
      embedding(items, 0.0f),
      blend(items, 0.0f),
      touched_flag(items, 0) {}

void Workspace::Clear() {
  for (const uint32_t item : touched) {
    markov[item] = knn[item] = embedding[item] = blend[item] = 0.0f;
    touched_flag[item] = 0;
  }
  touched.clear();
  user_vector.clear();
  knn_max = 0;
}

void RetrieveTransitions(const Models& models, const UserView& user, Workspace* workspace) {
  const ModelOptions& options = models.options;
  float weight = 1.0f;
  const size_t window = std::min(user.items.size(), static_cast<size_t>(options.markov_window));
  for (size_t p = 0; p < window; ++p) {
    const uint32_t from = user.items[user.items.size() - 1 - p];
    const auto next = models.transitions.Columns(from);
    const auto probability = models.transitions.Values(from);
    for (size_t k = 0; k < next.size(); ++k) {
      workspace->Touch(next[k]);
      workspace->markov[next[k]] += weight * probability[k];
    }
    weight *= static_cast<float>(options.markov_decay);
  }
}

void RetrieveNeighbours(const Models& models, const UserView& user, Workspace* workspace) {
  float weight = 1.0f;
  for (size_t p = user.items.size(); p-- > 0;) {
    const uint32_t from = user.items[p];
    const auto other = models.neighbours.Columns(from);
    const auto sim = models.neighbours.Values(from);
    for (size_t k = 0; k < other.size(); ++k) {
      workspace->Touch(other[k]);
      workspace->knn[other[k]] += weight * sim[k];
    }
    weight *= static_cast<float>(models.options.knn_decay);
  }
  for (const uint32_t item : workspace->touched) {
    workspace->knn_max = std::max(workspace->knn_max, workspace->knn[item]);
  }
}

void RetrieveEmbedding(const Models& models, const UserView& user, Workspace* workspace) {
  const ModelOptions& options = models.options;
  const auto dim = static_cast<size_t>(models.embedding_dim);
  if (dim == 0 || models.ann == nullptr || user.items.empty()) return;
  workspace->user_vector.assign(dim, 0.0f);
  float weight = 1.0f;
  const size_t history =
      std::min(user.items.size(), static_cast<size_t>(options.embedding_history));
  for (size_t p = 0; p < history; ++p) {
    const float* vector = &models.embeddings[user.items[user.items.size() - 1 - p] * dim];
    for (size_t d = 0; d < dim; ++d) workspace->user_vector[d] += weight * vector[d];
    weight *= static_cast<float>(options.embedding_decay);
  }
  double norm = 0;
  for (const float x : workspace->user_vector) norm += static_cast<double>(x) * x;
  if (norm <= 0) {
    workspace->user_vector.clear();
    return;
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : workspace->user_vector) x *= scale;
  thread_local std::vector<std::pair<uint32_t, float>> found;
  models.ann->Search(workspace->user_vector, options.ann_neighbours, &found);
  for (const auto& [item, similarity] : found) {
    workspace->Touch(item);
    workspace->embedding[item] = std::max(similarity, 0.0f);
  }
}

void Retrieve(const Models& models, const UserView& user, Workspace* workspace) {
  SURGE_ASSERT(workspace->markov.size() == models.items);
  workspace->Clear();
  RetrieveTransitions(models, user, workspace);
  RetrieveNeighbours(models, user, workspace);
  RetrieveEmbedding(models, user, workspace);
  const ModelOptions& options = models.options;
  const size_t popular = std::min(options.popular_candidates, models.popularity.by_rank.size());
  for (size_t r = 0; r < popular; ++r) workspace->Touch(models.popularity.by_rank[r]);
  const float knn_scale = workspace->knn_max > 0 ? 1.0f / workspace->knn_max : 0.0f;
  for (const uint32_t item : workspace->touched) {
    workspace->blend[item] =
        static_cast<float>(options.blend_markov * workspace->markov[item] +
                           options.blend_knn * workspace->knn[item] * knn_scale +
                           options.blend_embedding * workspace->embedding[item] +
                           options.blend_popularity * models.popularity.score[item]);
  }
}

std::vector<uint32_t> TopCandidates(const UserView& user, const Workspace& workspace,
                                    size_t count) {
  std::vector<uint32_t> candidates;
  candidates.reserve(workspace.touched.size());
  for (const uint32_t item : workspace.touched) {
    if (!Contains(user.excluded, item)) candidates.push_back(item);
  }
  const auto better = [&](uint32_t a, uint32_t b) {
    return workspace.blend[a] > workspace.blend[b] ||
           (workspace.blend[a] == workspace.blend[b] && a < b);
  };
  // `better` is a strict total order (ties go by index), so selecting then sorting the best
  // gives the same list as a partial sort, in linear time rather than n log(count).
  const size_t keep = std::min(count, candidates.size());
  const auto cut = candidates.begin() + static_cast<ptrdiff_t>(keep);
  if (keep < candidates.size()) std::nth_element(candidates.begin(), cut, candidates.end(), better);
  candidates.resize(keep);
  std::sort(candidates.begin(), candidates.end(), better);
  return candidates;
}

}  // namespace surge::brain::internal
