// The coordinator's contract (coord.h), run against both implementations: exclusive, a second
// owner only after expiry and with a higher epoch, renew extends and fails once lost, release
// frees at once, Read shows the holder, epochs survive reopening, valid_until is conservative.
// The etcd runs use one three-member cluster (etcd_testing.h) for the whole suite.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "coord/coord.h"
#include "coord/coord_testing.h"
#include "coord/etcd_testing.h"

namespace surge::coord {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using ::testing::HasSubstr;

constexpr milliseconds kLongTtl{10'000};

// Opens coordinators on one store, fresh for each test.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual Result<std::unique_ptr<Coordinator>> Open() = 0;
  // The TTL the tests ask for.
  virtual milliseconds ttl() const = 0;
  // How long after valid_until another owner can surely take an abandoned lease: the margin,
  // and for etcd the up to 0.5 s it takes to revoke an expired lease; plus scheduling noise.
  virtual milliseconds takeover_slack() const = 0;
  // How long the contention tests run.
  virtual milliseconds contention() const = 0;
  // Of every four tenures in the contention tests, how many end by Release (the others wait for
  // expiry, which costs etcd's contenders more than a second each).
  virtual int releases_of_four() const = 0;
};

class EmbeddedHarness final : public Harness {
 public:
  EmbeddedHarness() {
    char pattern[] = "/tmp/surge-coord-XXXXXX";
    SURGE_ASSERT(mkdtemp(pattern) != nullptr);
    directory_ = pattern;
  }
  ~EmbeddedHarness() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  Result<std::unique_ptr<Coordinator>> Open() override {
    return OpenEmbedded(directory_ + "/leases");
  }
  milliseconds ttl() const override { return milliseconds(300); }
  milliseconds takeover_slack() const override { return milliseconds(500); }
  milliseconds contention() const override { return milliseconds(1500); }
  int releases_of_four() const override { return 3; }

 private:
  std::string directory_;
};

// One cluster for the suite; each test gets its own key prefix, so nothing carries over.
testing::EtcdCluster* shared_cluster = nullptr;

class EtcdHarness final : public Harness {
 public:
  EtcdHarness() {
    static int tests = 0;
    prefix_ = "contract/" + std::to_string(++tests) + "/";
  }
  Result<std::unique_ptr<Coordinator>> Open() override {
    EtcdOptions options;
    options.key_prefix = prefix_;
    return OpenEtcd(shared_cluster->endpoints(), options);
  }
  milliseconds ttl() const override { return milliseconds(1000); }
  milliseconds takeover_slack() const override { return milliseconds(2000); }
  milliseconds contention() const override { return milliseconds(3000); }
  int releases_of_four() const override { return 4; }

 private:
  std::string prefix_;
};

class CoordinatorContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() {
    delete shared_cluster;
    shared_cluster = nullptr;
  }

  void SetUp() override {
    if (GetParam() == "etcd") {
      if (shared_cluster == nullptr) {
        shared_cluster = new testing::EtcdCluster();
        const Status started = shared_cluster->Start(3);
        ASSERT_TRUE(started.ok()) << started.ToString();
      }
      harness_ = std::make_unique<EtcdHarness>();
    } else {
      harness_ = std::make_unique<EmbeddedHarness>();
    }
    a_ = OpenOne();
    b_ = OpenOne();
  }

  std::unique_ptr<Coordinator> OpenOne() {
    Result<std::unique_ptr<Coordinator>> opened = harness_->Open();
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // With the short TTL of the harness, or with kLongTtl where expiry is not what is tested (so
  // that a stall of this loaded machine cannot expire the lease in the middle of the test).
  Lease MustAcquire(Coordinator& coordinator, const std::string& name, const std::string& owner,
                    std::optional<milliseconds> lease_ttl = std::nullopt) {
    Result<Lease> lease =
        coordinator.Acquire(name, owner, owner + ":7000", lease_ttl.value_or(ttl()));
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    return lease.ok() ? *lease : Lease{};
  }

  // Tries to acquire every 20 ms until it succeeds or `timeout` passes. Every refusal must be
  // unavailable naming `holder`. *returned: when the successful Acquire returned.
  Result<Lease> AcquireWhenFree(Coordinator& coordinator, const std::string& name,
                                const std::string& owner, const std::string& holder,
                                milliseconds timeout, Clock::time_point* returned, int* refusals) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      Result<Lease> lease = coordinator.Acquire(name, owner, owner + ":7000", ttl());
      *returned = Clock::now();
      if (lease.ok() || *returned > deadline) return lease;
      EXPECT_EQ(lease.status().code(), Code::kUnavailable) << lease.status().ToString();
      EXPECT_THAT(lease.status().message(), HasSubstr("held by " + holder));
      ++*refusals;
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  milliseconds ttl() const { return harness_->ttl(); }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Coordinator> a_;
  std::unique_ptr<Coordinator> b_;
};

TEST_P(CoordinatorContractTest, AcquireGivesAConservativeLeaseAndReadShowsItsHolder) {
  const Clock::time_point before = Clock::now();
  const Lease lease = MustAcquire(*a_, "c1", "primary", kLongTtl);
  const Clock::time_point after = Clock::now();
  EXPECT_EQ(lease.name, "c1");
  EXPECT_EQ(lease.owner, "primary");
  EXPECT_EQ(lease.address, "primary:7000");
  EXPECT_GE(lease.epoch, 1u);
  EXPECT_GE(lease.ttl, kLongTtl);
  // Counted from no earlier than the request, less the margin: ValidUntil(sent, ttl).
  EXPECT_GE(lease.valid_until, ValidUntil(before, lease.ttl));
  EXPECT_LE(lease.valid_until, ValidUntil(after, lease.ttl));
  EXPECT_LT(lease.valid_until, after + lease.ttl);

  for (Coordinator* reader : {a_.get(), b_.get()}) {
    Result<std::optional<Holder>> holder = reader->Read("c1");
    ASSERT_TRUE(holder.ok()) << holder.status().ToString();
    ASSERT_TRUE(holder->has_value());
    EXPECT_EQ((*holder)->owner, "primary");
    EXPECT_EQ((*holder)->address, "primary:7000");
    EXPECT_EQ((*holder)->epoch, lease.epoch);
  }
  Result<std::optional<Holder>> other = b_->Read("c2");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->has_value());
  // Another name is independent.
  const Lease c2 = MustAcquire(*b_, "c2", "other", kLongTtl);
  EXPECT_GE(c2.epoch, 1u);
}

TEST_P(CoordinatorContractTest, ASecondOwnerGetsTheLeaseOnlyAfterItExpiresWithAHigherEpoch) {
  const Lease first = MustAcquire(*a_, "c1", "primary");
  Clock::time_point returned;
  int refusals = 0;
  Result<Lease> second = AcquireWhenFree(*b_, "c1", "standby", "primary",
                                         ttl() + harness_->takeover_slack(), &returned, &refusals);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(refusals, 0);
  // valid_until is conservative: nobody else got the lease before it.
  EXPECT_GE(returned, first.valid_until);
  EXPECT_GT(second->epoch, first.epoch);
  Result<std::optional<Holder>> holder = a_->Read("c1");
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->owner, "standby");
  EXPECT_EQ((*holder)->epoch, second->epoch);
}

TEST_P(CoordinatorContractTest, TheSameOwnerCannotTakeItsUnexpiredLeaseAgain) {
  const Lease first = MustAcquire(*a_, "c1", "primary", kLongTtl);
  Result<Lease> again = b_->Acquire("c1", "primary", "primary:7000", ttl());
  EXPECT_EQ(again.status().code(), Code::kUnavailable) << again.status().ToString();
  EXPECT_THAT(again.status().message(), HasSubstr("epoch " + std::to_string(first.epoch)));
}

TEST_P(CoordinatorContractTest, RenewExtendsTheLeaseAndKeepsOthersOut) {
  Lease lease = MustAcquire(*a_, "c1", "primary");
  const uint64_t epoch = lease.epoch;
  const Clock::time_point renew_until = Clock::now() + 2 * ttl();
  int renewals = 0;
  while (Clock::now() < renew_until) {
    std::this_thread::sleep_for(ttl() / 4);
    const Clock::time_point previous = lease.valid_until;
    const Clock::time_point before = Clock::now();
    const Status renewed = a_->Renew(lease);
    ASSERT_TRUE(renewed.ok()) << renewed.ToString();
    ++renewals;
    EXPECT_GT(lease.valid_until, previous);
    EXPECT_GE(lease.valid_until, ValidUntil(before, lease.ttl));
    EXPECT_LE(lease.valid_until, ValidUntil(Clock::now(), lease.ttl));
    EXPECT_EQ(lease.epoch, epoch);
    Result<Lease> refused = b_->Acquire("c1", "standby", "standby:7000", ttl());
    EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  }
  EXPECT_GE(renewals, 4);
  // The lease outlived its first TTL only through the renewals; once they stop, it runs out.
  Clock::time_point returned;
  int refusals = 0;
  Result<Lease> next = AcquireWhenFree(*b_, "c1", "standby", "primary",
                                       ttl() + harness_->takeover_slack(), &returned, &refusals);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GE(returned, lease.valid_until);
  EXPECT_GT(next->epoch, epoch);
}

TEST_P(CoordinatorContractTest, RenewFailsOnceTheLeaseIsLost) {
  Lease lease = MustAcquire(*a_, "c1", "primary");
  const Lease kept = lease;
  // Expired, and nobody took it: still lost, never revived. (etcd deletes the key once it has
  // revoked the expired lease, up to 0.5 s later.)
  std::this_thread::sleep_until(lease.valid_until + lease.ttl / 10);
  const Clock::time_point deadline = Clock::now() + harness_->takeover_slack();
  for (;;) {
    Result<std::optional<Holder>> holder = b_->Read("c1");
    ASSERT_TRUE(holder.ok()) << holder.status().ToString();
    if (!holder->has_value()) break;
    ASSERT_LT(Clock::now(), deadline) << "the expired lease is still held";
    std::this_thread::sleep_for(milliseconds(20));
  }
  Status renewed = a_->Renew(lease);
  EXPECT_EQ(renewed.code(), Code::kWrongState) << renewed.ToString();
  EXPECT_EQ(lease.valid_until, kept.valid_until);  // unchanged on failure

  // Taken by another: lost too, and Release of the old lease leaves the new holder alone.
  const Lease taken = MustAcquire(*b_, "c1", "standby");
  EXPECT_GT(taken.epoch, lease.epoch);
  renewed = a_->Renew(lease);
  EXPECT_EQ(renewed.code(), Code::kWrongState) << renewed.ToString();
  EXPECT_TRUE(a_->Release(lease).ok());
  Result<std::optional<Holder>> holder = a_->Read("c1");
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->owner, "standby");
  EXPECT_EQ((*holder)->epoch, taken.epoch);
  Lease still = taken;
  EXPECT_TRUE(b_->Renew(still).ok());
}

TEST_P(CoordinatorContractTest, ReleaseFreesTheLeaseAtOnce) {
  Lease first = MustAcquire(*a_, "c1", "primary", kLongTtl);
  ASSERT_TRUE(a_->Release(first).ok());
  Result<std::optional<Holder>> holder = b_->Read("c1");
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
  const Clock::time_point before = Clock::now();
  const Lease second = MustAcquire(*b_, "c1", "standby", kLongTtl);
  EXPECT_LT(Clock::now(), first.valid_until) << "the second Acquire had to wait";
  EXPECT_LT(Clock::now() - before, milliseconds(5000));
  EXPECT_GT(second.epoch, first.epoch);
  EXPECT_EQ(a_->Renew(first).code(), Code::kWrongState);
  EXPECT_TRUE(a_->Release(first).ok());  // twice: still ok, and the new holder keeps it
  holder = a_->Read("c1");
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->epoch, second.epoch);

  ASSERT_TRUE(b_->Release(second).ok());
  const Lease third = MustAcquire(*a_, "c1", "primary", kLongTtl);
  EXPECT_GT(third.epoch, second.epoch);
}

TEST_P(CoordinatorContractTest, EpochsSurviveReopening) {
  uint64_t highest = 0;
  for (int i = 0; i < 3; ++i) {
    const Lease lease = MustAcquire(*a_, "c1", "primary", kLongTtl);
    EXPECT_GT(lease.epoch, highest);
    highest = lease.epoch;
    ASSERT_TRUE(a_->Release(lease).ok());
  }
  a_.reset();
  b_.reset();
  std::unique_ptr<Coordinator> reopened = OpenOne();
  ASSERT_NE(reopened, nullptr);
  const Lease lease = MustAcquire(*reopened, "c1", "primary", kLongTtl);
  EXPECT_GT(lease.epoch, highest);
}

TEST_P(CoordinatorContractTest, BadArgumentsAreRefused) {
  for (const std::string& name :
       std::vector<std::string>{"", "has space", "slash/in/it", std::string(65, 'a'), "tab\t"}) {
    EXPECT_EQ(a_->Acquire(name, "o", "a", ttl()).status().code(), Code::kInvalidArgument) << name;
    EXPECT_EQ(a_->Read(name).status().code(), Code::kInvalidArgument) << name;
  }
  for (const std::string& token :
       std::vector<std::string>{"", "has space", std::string(257, 'x'), "new\nline"}) {
    EXPECT_EQ(a_->Acquire("c1", token, "a", ttl()).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(a_->Acquire("c1", "o", token, ttl()).status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(a_->Acquire("c1", "o", "a", milliseconds(0)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a_->Acquire("c1", "o", "a", milliseconds(3'600'001)).status().code(),
            Code::kInvalidArgument);
  // Nothing was taken by the refused calls.
  Result<std::optional<Holder>> holder = a_->Read("c1");
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
}

// Threads, each with its own coordinator: the store alone keeps them apart.
TEST_P(CoordinatorContractTest, ContendersOnSeparateCoordinatorsNeverOverlap) {
  constexpr int kThreads = 3;
  std::vector<std::unique_ptr<Coordinator>> coordinators;
  for (int i = 0; i < kThreads; ++i) coordinators.push_back(OpenOne());
  std::vector<std::vector<testing::Tenure>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      testing::ContendOptions options;
      options.ttl = ttl();
      options.duration = harness_->contention();
      options.releases_of_four = harness_->releases_of_four();
      options.seed = static_cast<uint32_t>(i + 1);
      results[i] = testing::Contend(*coordinators[i], "owner" + std::to_string(i), options);
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<testing::Tenure> all;
  for (const auto& one : results) all.insert(all.end(), one.begin(), one.end());
  testing::ExpectExclusive(all);
  EXPECT_GE(all.size(), 4u);
  EXPECT_GE(testing::CountByOwner(all).size(), 2u) << "one owner had the lease all the time";
  std::cout << all.size() << " tenures\n";
}

// Threads sharing one coordinator: it is thread-safe and still exclusive.
TEST_P(CoordinatorContractTest, ContendersSharingACoordinatorNeverOverlap) {
  constexpr int kThreads = 3;
  std::vector<std::vector<testing::Tenure>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      testing::ContendOptions options;
      options.ttl = ttl();
      options.duration = harness_->contention() / 2;
      options.releases_of_four = harness_->releases_of_four();
      options.seed = static_cast<uint32_t>(i + 11);
      results[i] = testing::Contend(*a_, "owner" + std::to_string(i), options);
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<testing::Tenure> all;
  for (const auto& one : results) all.insert(all.end(), one.begin(), one.end());
  testing::ExpectExclusive(all);
  EXPECT_GE(all.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Implementations, CoordinatorContractTest,
                         ::testing::Values("embedded", "etcd"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace surge::coord
