// Private to src/brain: a parallel loop over [0, n) in chunks handed out dynamically.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace surge::brain::internal {

// Calls work(thread, begin, end) on chunks of at most `chunk` indices until [0, n) is covered,
// from `threads` threads (the caller's being one of them). `thread` is in [0, threads).
template <typename Work>
void ParallelFor(size_t n, int threads, size_t chunk, Work work) {
  const size_t workers = static_cast<size_t>(std::max(1, threads));
  std::atomic<size_t> next{0};
  auto run = [&](size_t thread) {
    while (true) {
      const size_t begin = next.fetch_add(chunk);
      if (begin >= n) return;
      work(thread, begin, std::min(n, begin + chunk));
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < workers; ++t) helpers.emplace_back(run, t);
  run(0);
  for (auto& helper : helpers) helper.join();
}

}  // namespace surge::brain::internal
