// Private to src/brain: the recommendation models (retrievers, embeddings, ranker), the
// per-thread workspace that retrieval fills, and the one function that turns a user's state
// and a candidate list into ranker features (shared by training and serving, so they cannot
// drift apart).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "brain/ann.h"
#include "common/status.h"
#include "trees/trees.h"

namespace surge::brain::internal {

// Sparse rows (CSR), each row sorted by column.
struct SparseRows {
  std::vector<uint64_t> offsets{0};  // rows + 1 entries
  std::vector<uint32_t> columns;
  std::vector<float> values;

  size_t rows() const { return offsets.size() - 1; }
  std::span<const uint32_t> Columns(uint32_t row) const {
    return {columns.data() + offsets[row], columns.data() + offsets[row + 1]};
  }
  std::span<const float> Values(uint32_t row) const {
    return {values.data() + offsets[row], values.data() + offsets[row + 1]};
  }
  // The value at (row, column), 0 if absent.
  float Get(uint32_t row, uint32_t column) const;
};

struct Popularity {
  std::vector<float> count;       // purchases of each item in the training data
  std::vector<float> score;       // log1p(count) / log1p(max count), in [0, 1]
  std::vector<uint32_t> rank;     // 0 = the most popular
  std::vector<uint32_t> by_rank;  // items, most popular first (ties: lower index first)
};

// Hyper-parameters of the models. The defaults are what validation chose on Amazon Beauty
// (docs/BRAIN.md); EvaluateRecommendations searches around them.
struct ModelOptions {
  // Transitions (a Markov chain over the last items): item i is followed by the items up to
  // `transition_span` positions later, the one d positions later counting transition_skip^(d-1).
  int transition_span = 6;
  double transition_skip = 0.5;
  // Each item keeps its `transition_keep` most likely followers (probabilities stay those of
  // all followers): a request reads markov_window rows, which must not grow with the catalogue
  // (a best seller of a million-item shop is followed by a hundred thousand items, nearly all
  // of them once). On Amazon Beauty 3 of 12,101 items have more.
  size_t transition_keep = 1000;
  // Scoring: the last `markov_window` items of the user, the p-th from the end weighted
  // markov_decay^(p-1).
  int markov_window = 8;
  double markov_decay = 0.3;

  // Item kNN: co-occurrence within users, sim(i, j) = c(i, j) / (n_i^(1-alpha) n_j^alpha);
  // alpha > 0.5 damps popular neighbours. Each item keeps its `knn_neighbours` best.
  double knn_alpha = 0.3;
  int knn_neighbours = 100;
  // Scoring: a history item `age` positions from the end weighs knn_decay^age.
  double knn_decay = 0.5;

  // Embeddings: truncated eigen-decomposition of the PPMI of co-occurrences within
  // `embedding_window` positions (weight 1/distance); the user vector is the sum of the last
  // `embedding_history` items' vectors, the p-th from the end weighted embedding_decay^(p-1).
  int embedding_dim = 64;
  int embedding_window = 4;
  int embedding_history = 2;
  double embedding_decay = 0.5;
  size_t ann_neighbours = 100;  // items the HNSW index returns per user
  size_t ann_min_count = 2;     // items seen fewer times are not in the index

  // Blend of the retrievers' scores (markov raw, knn divided by the user's largest, embedding
  // cosine clipped at 0, popularity score) that picks the candidates.
  double blend_markov = 1.0;
  double blend_knn = 0.01;
  double blend_embedding = 0.1;
  double blend_popularity = 0.1;
  size_t popular_candidates = 50;  // the most popular items are always candidates

  // Ranker: the `ranker_candidates` best of the blend are scored by the trees.
  size_t ranker_candidates = 100;
  size_t ranker_negatives = 50;  // negatives sampled per training user
  trees::TrainOptions ranker = [] {
    trees::TrainOptions defaults;
    defaults.objective = "rank:pairwise";
    defaults.rounds = 100;
    defaults.max_depth = 6;
    defaults.learning_rate = 0.1;
    defaults.threads = 1;
    return defaults;
  }();

  uint64_t seed = 1;
  int threads = 2;
};

struct Models {
  uint32_t items = 0;
  ModelOptions options;
  Popularity popularity;
  SparseRows transitions;             // row i: P(next = j | i), window-weighted
  std::vector<float> transition_out;  // row i's weighted count before normalising
  std::vector<float> transition_in;   // weighted count of transitions into j
  // Row j: the items i that lead to j, valued P(next = j | i), the kPredecessors largest
  // (Brain::Audience reads it: who bought i is likely to buy j next).
  SparseRows predecessors;
  SparseRows neighbours;          // row i: sim(i, j) of i's best neighbours
  std::vector<float> embeddings;  // items x embedding_dim, rows of unit length (or 0)
  int embedding_dim = 0;
  std::unique_ptr<AnnIndex> ann;                // over `embeddings`
  std::shared_ptr<const trees::Forest> ranker;  // null until a ranker is trained
  // Catalogue facts, empty when unknown for every item (Amazon Beauty has none):
  std::vector<int32_t> category;  // per item, -1 = unknown
  std::vector<float> price;       // per item, NaN = unknown
};

// Builds every model but the ranker from `sequences` (dense item indices < items, oldest first).
Models BuildModels(std::span<const std::vector<uint32_t>> sequences, uint32_t items,
                   const ModelOptions& options);

// The pieces of BuildModels, for tests and for the evaluation's ablations.
Popularity BuildPopularity(std::span<const std::vector<uint32_t>> sequences, uint32_t items);
// Also fills `predecessors` from the transitions.
void BuildTransitions(std::span<const std::vector<uint32_t>> sequences, Models* models);
inline constexpr size_t kPredecessors = 100;
void BuildNeighbours(std::span<const std::vector<uint32_t>> sequences, Models* models);
void BuildEmbeddings(std::span<const std::vector<uint32_t>> sequences, Models* models);

// What is known of a user when recommending.
struct UserView {
  std::span<const uint32_t> items;     // recent items, oldest first
  std::span<const uint32_t> excluded;  // sorted; never recommended (the user bought them)
};

// Per-thread scratch space of retrieval, sized to the catalogue once and cleared sparsely.
struct Workspace {
  explicit Workspace(uint32_t items);

  std::vector<float> markov, knn, embedding, blend;
  std::vector<uint8_t> touched_flag;
  std::vector<uint32_t> touched;  // items with any score
  std::vector<float> user_vector;
  float knn_max = 0;
  void Clear();
  void Touch(uint32_t item) {
    if (!touched_flag[item]) {
      touched_flag[item] = 1;
      touched.push_back(item);
    }
  }
};

// The retrievers one by one (Retrieve calls them all): each adds its scores to the workspace
// and touches the items it scores. RetrieveNeighbours also sets knn_max.
void RetrieveTransitions(const Models& models, const UserView& user, Workspace* workspace);
void RetrieveNeighbours(const Models& models, const UserView& user, Workspace* workspace);
void RetrieveEmbedding(const Models& models, const UserView& user, Workspace* workspace);

// Fills the workspace with each retriever's scores for `user` and the blend of them, for the
// touched items (every item with a score, plus the most popular).
void Retrieve(const Models& models, const UserView& user, Workspace* workspace);

// The `count` best touched items by blend that `user` did not buy, best first (ties: lower
// index first).
std::vector<uint32_t> TopCandidates(const UserView& user, const Workspace& workspace, size_t count);

// The ranker's features, one row of kFeatureCount per candidate, written to `rows`
// (candidates.size() * kFeatureCount values). The single definition of the features: training
// and serving both call it. Requires Retrieve(models, user, workspace) just before.
inline constexpr size_t kFeatureCount = 22;
void ComputeFeatures(const Models& models, const UserView& user, const Workspace& workspace,
                     std::span<const uint32_t> candidates, std::span<float> rows);
// Names of the features, for reports.
const char* FeatureName(size_t feature);

// The ranked list for `user`: Retrieve, the ranker_candidates best of the blend, each scored by
// the ranker from ComputeFeatures (or by the blend alone when the models have no ranker),
// best first (ties: blend order). Serving and evaluation both call it.
std::vector<std::pair<uint32_t, float>> RankForUser(const Models& models, const UserView& user,
                                                    Workspace* workspace);

// One training example of the ranker: what was known of the user, and the item bought next.
struct RankerExample {
  UserView user;
  uint32_t target = 0;
};

// Trains the ranker on `examples` with `models` (which must not have seen the targets):
// candidates as RankForUser makes them, label 1 for the target and 0 for up to
// ranker_negatives other candidates sampled at random; examples whose target is not among the
// candidates teach nothing and are left out. Errors: invalid_argument if no example's target
// is among its candidates; internal from the tree library.
Result<trees::Forest> TrainRanker(const Models& models, std::span<const RankerExample> examples);

// True if `item` is in the sorted span.
bool Contains(std::span<const uint32_t> sorted, uint32_t item);

}  // namespace surge::brain::internal
