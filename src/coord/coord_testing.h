// For the coordinator's tests: contenders that take, renew, release or abandon one lease in a
// loop, each recording the time it held the lease, and the check that those times never overlap.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coord/coord.h"

namespace surge::coord::testing {

using Clock = std::chrono::steady_clock;

// One owner's time as the holder: from when its Acquire returned to when it stopped acting as
// the owner (when it called Release, or its lease's last valid_until).
struct Tenure {
  uint64_t epoch = 0;
  Clock::time_point begin;
  Clock::time_point end;
  std::string owner;
};

struct ContendOptions {
  std::string name = "contended";
  std::chrono::milliseconds ttl{300};
  std::chrono::milliseconds duration{1500};
  // Of every four tenures, how many end by Release (the others let the lease expire).
  int releases_of_four = 3;
  uint32_t seed = 1;
};

// Contends for the lease as `owner` until options.duration has passed; returns its tenures.
// Non-fatal failures are recorded with EXPECT (an Acquire error other than unavailable, a Renew
// error other than wrong_state).
inline std::vector<Tenure> Contend(Coordinator& coordinator, const std::string& owner,
                                   const ContendOptions& options) {
  std::mt19937 random(options.seed);
  std::vector<Tenure> tenures;
  const Clock::time_point deadline = Clock::now() + options.duration;
  while (Clock::now() < deadline) {
    Result<Lease> lease = coordinator.Acquire(options.name, owner, owner + ".address", options.ttl);
    if (!lease.ok()) {
      EXPECT_EQ(lease.status().code(), Code::kUnavailable) << lease.status().ToString();
      std::this_thread::sleep_for(options.ttl / 20 + std::chrono::milliseconds(random() % 5));
      continue;
    }
    Tenure tenure{lease->epoch, Clock::now(), {}, owner};
    bool lost = false;
    const int renewals = static_cast<int>(random() % 3);
    for (int i = 0; i < renewals && !lost; ++i) {
      std::this_thread::sleep_for(options.ttl / 4);
      Status renewed = coordinator.Renew(*lease);
      // Lost only if this thread stalled past its lease (a loaded machine): then the tenure
      // ended at the last valid_until, which is what is recorded.
      if (!renewed.ok()) {
        EXPECT_EQ(renewed.code(), Code::kWrongState) << renewed.ToString();
        lost = true;
      }
    }
    if (!lost && static_cast<int>(random() % 4) < options.releases_of_four) {
      tenure.end = std::min(Clock::now(), lease->valid_until);
      EXPECT_TRUE(coordinator.Release(*lease).ok());
    } else {
      tenure.end = lease->valid_until;
      std::this_thread::sleep_until(lease->valid_until);
    }
    tenures.push_back(tenure);
    // Give the others a chance: the one that just released would otherwise win every race.
    std::this_thread::sleep_for(options.ttl / 10 + std::chrono::milliseconds(random() % 10));
  }
  return tenures;
}

// Every epoch once, and in epoch order each tenure begins after the previous one ended.
inline void ExpectExclusive(std::vector<Tenure> tenures) {
  std::sort(tenures.begin(), tenures.end(),
            [](const Tenure& a, const Tenure& b) { return a.epoch < b.epoch; });
  for (size_t i = 1; i < tenures.size(); ++i) {
    const Tenure& previous = tenures[i - 1];
    const Tenure& next = tenures[i];
    EXPECT_LT(previous.epoch, next.epoch) << "epoch " << next.epoch << " given twice";
    EXPECT_LE(previous.end, next.begin)
        << "epoch " << next.epoch << " (" << next.owner << ") began "
        << std::chrono::duration_cast<std::chrono::microseconds>(previous.end - next.begin).count()
        << " us before epoch " << previous.epoch << " (" << previous.owner << ") ended";
  }
}

// How many tenures each owner had.
inline std::map<std::string, int> CountByOwner(const std::vector<Tenure>& tenures) {
  std::map<std::string, int> counts;
  for (const Tenure& tenure : tenures) ++counts[tenure.owner];
  return counts;
}

}  // namespace surge::coord::testing
