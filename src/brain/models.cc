// Popularity, transitions (Markov) and item kNN: built from purchase sequences by gathering,
// item by item, the items that follow or accompany it into a dense accumulator.
#include "brain/models.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "common/assert.h"

namespace surge::brain::internal {

float SparseRows::Get(uint32_t row, uint32_t column) const {
  const auto row_columns = Columns(row);
  const auto it = std::lower_bound(row_columns.begin(), row_columns.end(), column);
  if (it == row_columns.end() || *it != column) return 0;
  return values[offsets[row] + static_cast<uint64_t>(it - row_columns.begin())];
}

bool Contains(std::span<const uint32_t> sorted, uint32_t item) {
  return std::binary_search(sorted.begin(), sorted.end(), item);
}

namespace {

// Where each item occurs: (sequence, position) pairs, grouped by item.
struct Occurrences {
  std::vector<uint64_t> offsets;  // items + 1
  std::vector<std::pair<uint32_t, uint32_t>> at;
};

Occurrences IndexOccurrences(std::span<const std::vector<uint32_t>> sequences, uint32_t items) {
  Occurrences index;
  index.offsets.assign(static_cast<size_t>(items) + 1, 0);
  for (const auto& sequence : sequences) {
    for (const uint32_t item : sequence) {
      SURGE_ASSERT(item < items);
      ++index.offsets[item + 1];
    }
  }
  std::partial_sum(index.offsets.begin(), index.offsets.end(), index.offsets.begin());
  index.at.resize(index.offsets.back());
  std::vector<uint64_t> next(index.offsets.begin(), index.offsets.end() - 1);
  for (size_t s = 0; s < sequences.size(); ++s) {
    for (size_t p = 0; p < sequences[s].size(); ++p) {
      index.at[next[sequences[s][p]]++] = {static_cast<uint32_t>(s), static_cast<uint32_t>(p)};
    }
  }
  return index;
}

// A dense accumulator over items that remembers which entries it touched.
struct Accumulator {
  explicit Accumulator(uint32_t items) : value(items, 0.0f), flag(items, 0) {}
  void Add(uint32_t item, float amount) {
    if (!flag[item]) {
      flag[item] = 1;
      touched.push_back(item);
    }
    value[item] += amount;
  }
  // Appends the touched entries (sorted by item) whose value passes `keep` to `rows`, and
  // clears.
  template <typename Transform>
  void Flush(SparseRows* rows, Transform transform) {
    std::sort(touched.begin(), touched.end());
    for (const uint32_t item : touched) {
      const float result = transform(item, value[item]);
      if (result > 0) {
        rows->columns.push_back(item);
        rows->values.push_back(result);
      }
      value[item] = 0;
      flag[item] = 0;
    }
    touched.clear();
    rows->offsets.push_back(rows->columns.size());
  }
  std::vector<float> value;
  std::vector<uint8_t> flag;
  std::vector<uint32_t> touched;
};

}  // namespace

Popularity BuildPopularity(std::span<const std::vector<uint32_t>> sequences, uint32_t items) {
  Popularity popularity;
  popularity.count.assign(items, 0.0f);
  for (const auto& sequence : sequences) {
    for (const uint32_t item : sequence) popularity.count[item] += 1;
  }
  const float max_count =
      items == 0 ? 0.0f : *std::max_element(popularity.count.begin(), popularity.count.end());
  popularity.score.resize(items);
  for (uint32_t i = 0; i < items; ++i) {
    popularity.score[i] =
        max_count > 0 ? std::log1p(popularity.count[i]) / std::log1p(max_count) : 0.0f;
  }
  popularity.by_rank.resize(items);
  std::iota(popularity.by_rank.begin(), popularity.by_rank.end(), 0u);
  std::stable_sort(
      popularity.by_rank.begin(), popularity.by_rank.end(),
      [&](uint32_t a, uint32_t b) { return popularity.count[a] > popularity.count[b]; });
  popularity.rank.resize(items);
  for (uint32_t r = 0; r < items; ++r) popularity.rank[popularity.by_rank[r]] = r;
  return popularity;
}

namespace {

// The transposed transitions, each row cut to its kPredecessors largest values.
SparseRows TransposeBest(const SparseRows& rows, uint32_t items) {
  std::vector<uint64_t> count(static_cast<size_t>(items) + 1, 0);
  for (const uint32_t column : rows.columns) ++count[column + 1];
  std::partial_sum(count.begin(), count.end(), count.begin());
  std::vector<std::pair<float, uint32_t>> entries(rows.columns.size());
  std::vector<uint64_t> next(count.begin(), count.end() - 1);
  for (uint32_t row = 0; row < rows.rows(); ++row) {
    const auto columns = rows.Columns(row);
    const auto values = rows.Values(row);
    for (size_t k = 0; k < columns.size(); ++k) entries[next[columns[k]]++] = {values[k], row};
  }
  SparseRows transposed;
  transposed.offsets.reserve(static_cast<size_t>(items) + 1);
  for (uint32_t column = 0; column < items; ++column) {
    const auto begin = entries.begin() + static_cast<ptrdiff_t>(count[column]);
    auto end = entries.begin() + static_cast<ptrdiff_t>(count[column + 1]);
    if (static_cast<size_t>(end - begin) > kPredecessors) {
      const auto cut = begin + static_cast<ptrdiff_t>(kPredecessors);
      std::nth_element(begin, cut, end, [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      end = cut;
    }
    std::sort(begin, end, [](const auto& a, const auto& b) { return a.second < b.second; });
    for (auto it = begin; it != end; ++it) {
      transposed.columns.push_back(it->second);
      transposed.values.push_back(it->first);
    }
    transposed.offsets.push_back(transposed.columns.size());
  }
  return transposed;
}

}  // namespace

void BuildTransitions(std::span<const std::vector<uint32_t>> sequences, Models* models) {
  const ModelOptions& options = models->options;
  const Occurrences occurrences = IndexOccurrences(sequences, models->items);
  Accumulator accumulator(models->items);
  models->transitions = SparseRows();
  models->transition_out.assign(models->items, 0.0f);
  models->transition_in.assign(models->items, 0.0f);
  std::vector<float> counts;
  for (uint32_t item = 0; item < models->items; ++item) {
    for (uint64_t o = occurrences.offsets[item]; o < occurrences.offsets[item + 1]; ++o) {
      const auto& sequence = sequences[occurrences.at[o].first];
      const size_t position = occurrences.at[o].second;
      float weight = 1.0f;
      for (int d = 1; d <= options.transition_span && position + d < sequence.size(); ++d) {
        accumulator.Add(sequence[position + static_cast<size_t>(d)], weight);
        weight *= static_cast<float>(options.transition_skip);
      }
    }
    float total = 0;
    for (const uint32_t next : accumulator.touched) total += accumulator.value[next];
    models->transition_out[item] = total;
    // Beyond transition_keep followers, those above the threshold stay, and of those tied at
    // it the lowest indices (Flush visits them in index order).
    float threshold = 0;
    size_t ties_allowed = accumulator.touched.size();
    if (accumulator.touched.size() > options.transition_keep && options.transition_keep > 0) {
      counts.clear();
      for (const uint32_t next : accumulator.touched) counts.push_back(accumulator.value[next]);
      const auto cut = counts.begin() + static_cast<ptrdiff_t>(options.transition_keep - 1);
      std::nth_element(counts.begin(), cut, counts.end(), std::greater<>());
      threshold = *cut;
      ties_allowed = static_cast<size_t>(
          std::count(counts.begin(), cut + 1, threshold));  // among the kept, those tied
    }
    accumulator.Flush(&models->transitions, [&](uint32_t next, float count) -> float {
      models->transition_in[next] += count;
      if (count < threshold) return 0.0f;
      if (count == threshold) {
        if (ties_allowed == 0) return 0.0f;
        --ties_allowed;
      }
      return count / total;
    });
  }
  models->predecessors = TransposeBest(models->transitions, models->items);
}

void BuildNeighbours(std::span<const std::vector<uint32_t>> sequences, Models* models) {
  const ModelOptions& options = models->options;
  const Occurrences occurrences = IndexOccurrences(sequences, models->items);
  const std::vector<float>& count = models->popularity.count;
  Accumulator accumulator(models->items);
  models->neighbours = SparseRows();
  std::vector<std::pair<float, uint32_t>> best;
  const auto alpha = static_cast<float>(options.knn_alpha);
  for (uint32_t item = 0; item < models->items; ++item) {
    for (uint64_t o = occurrences.offsets[item]; o < occurrences.offsets[item + 1]; ++o) {
      for (const uint32_t other : sequences[occurrences.at[o].first]) {
        if (other != item) accumulator.Add(other, 1.0f);
      }
    }
    // sim = c / (n_i^(1-alpha) n_j^alpha); keep the knn_neighbours largest.
    best.clear();
    for (const uint32_t other : accumulator.touched) {
      const float sim = accumulator.value[other] /
                        (std::pow(count[item], 1.0f - alpha) * std::pow(count[other], alpha));
      best.emplace_back(sim, other);
    }
    const size_t keep = std::min(best.size(), static_cast<size_t>(options.knn_neighbours));
    std::partial_sort(best.begin(), best.begin() + static_cast<ptrdiff_t>(keep), best.end(),
                      [](const auto& a, const auto& b) {
                        return a.first > b.first || (a.first == b.first && a.second < b.second);
                      });
    float threshold = keep == 0 ? 0.0f : best[keep - 1].first;
    size_t ties_allowed = 0;
    for (size_t i = 0; i < keep; ++i) ties_allowed += best[i].first == threshold ? 1 : 0;
    accumulator.Flush(&models->neighbours, [&](uint32_t other, float) -> float {
      const float sim = accumulator.value[other] /
                        (std::pow(count[item], 1.0f - alpha) * std::pow(count[other], alpha));
      if (sim > threshold) return sim;
      // Exactly `keep` neighbours: of those tied at the threshold, the lowest indices.
      if (sim == threshold && ties_allowed > 0) {
        --ties_allowed;
        return sim;
      }
      return 0.0f;
    });
  }
}

Models BuildModels(std::span<const std::vector<uint32_t>> sequences, uint32_t items,
                   const ModelOptions& options) {
  Models models;
  models.items = items;
  models.options = options;
  models.popularity = BuildPopularity(sequences, items);
  BuildTransitions(sequences, &models);
  BuildNeighbours(sequences, &models);
  BuildEmbeddings(sequences, &models);
  return models;
}

}  // namespace surge::brain::internal
