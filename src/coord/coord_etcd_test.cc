// The etcd coordinator against a real three-member cluster losing members: a follower, the
// leader (an election), a majority (then it must say io_error, never that the lease is lost),
// and the whole cluster restarting (epochs keep growing). Plus endpoint parsing and Open's specs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "coord/coord.h"
#include "coord/etcd_testing.h"

namespace surge::coord {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kTtl{1000};

long long ElapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

class EtcdFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status started = cluster_.Start(3);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // A coordinator whose first endpoint is member `first`, so that it is the one in the way.
  std::unique_ptr<Coordinator> OpenStartingAt(size_t first, EtcdOptions options = {}) {
    std::vector<std::string> endpoints;
    for (size_t i = 0; i < cluster_.size(); ++i) {
      endpoints.push_back(cluster_.endpoint((first + i) % cluster_.size()));
    }
    Result<std::unique_ptr<Coordinator>> opened = OpenEtcd(endpoints, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  size_t MustFindLeader() {
    Result<size_t> leader = cluster_.Leader();
    EXPECT_TRUE(leader.ok()) << leader.status().ToString();
    return leader.ok() ? *leader : 0;
  }

  // After losing a member: the lease is renewed, exclusive, readable; new leases are granted.
  void ExpectStillServing(Coordinator& holder, Lease& lease, Coordinator& other) {
    for (int i = 0; i < 3; ++i) {
      const Status renewed = holder.Renew(lease);
      ASSERT_TRUE(renewed.ok()) << renewed.ToString();
    }
    Result<Lease> refused = other.Acquire("c1", "standby", "standby:7000", kTtl);
    EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
    Result<std::optional<Holder>> read = other.Read("c1");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ASSERT_TRUE(read->has_value());
    EXPECT_EQ((*read)->epoch, lease.epoch);
    Result<Lease> fresh = other.Acquire("c2", "other", "other:7000", kTtl);
    ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    EXPECT_GT(fresh->epoch, lease.epoch);
    EXPECT_TRUE(other.Release(*fresh).ok());
  }

  testing::EtcdCluster cluster_;
};

TEST_F(EtcdFaultTest, AKilledFollowerCostsNothing) {
  const size_t leader = MustFindLeader();
  const size_t follower = (leader + 1) % cluster_.size();
  std::unique_ptr<Coordinator> holder = OpenStartingAt(follower);
  std::unique_ptr<Coordinator> other = OpenStartingAt(follower);
  Result<Lease> lease = holder->Acquire("c1", "primary", "primary:7000", kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();

  cluster_.Kill(follower);
  const Clock::time_point killed = Clock::now();
  const Status renewed = holder->Renew(*lease);
  ASSERT_TRUE(renewed.ok()) << renewed.ToString();
  std::cout << "first renew after killing a follower: " << ElapsedMs(killed) << " ms\n";
  EXPECT_LT(Clock::now(), lease->valid_until);
  ExpectStillServing(*holder, *lease, *other);
}

TEST_F(EtcdFaultTest, AKilledLeaderCostsAnElectionAtMost) {
  const size_t leader = MustFindLeader();
  std::unique_ptr<Coordinator> holder = OpenStartingAt(leader);
  std::unique_ptr<Coordinator> other = OpenStartingAt(leader);
  // 2 s, etcd's minimum with its default election timeout (1 s), leaves room for a slow election
  // on a loaded machine; this cluster's elections take 250 to 500 ms.
  Result<Lease> lease = holder->Acquire("c1", "primary", "primary:7000", 2 * kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  const Lease before = *lease;

  cluster_.Kill(leader);
  const Clock::time_point killed = Clock::now();
  const Status renewed = holder->Renew(*lease);
  ASSERT_TRUE(renewed.ok()) << renewed.ToString();
  std::cout << "first renew after killing the leader: " << ElapsedMs(killed) << " ms\n";
  // The holder never had to stop: the renewal came before its lease ran out.
  EXPECT_LT(Clock::now(), before.valid_until);
  EXPECT_EQ(lease->epoch, before.epoch);
  ASSERT_TRUE(cluster_.WaitForLeader(milliseconds(5000)).ok());
  EXPECT_NE(MustFindLeader(), leader);
  ExpectStillServing(*holder, *lease, *other);
}

TEST_F(EtcdFaultTest, WithoutAMajorityRenewSaysIoErrorNotLost) {
  EtcdOptions options;
  options.request_timeout = milliseconds(300);
  options.operation_timeout = milliseconds(600);
  std::unique_ptr<Coordinator> holder = OpenStartingAt(0, options);
  Result<Lease> lease = holder->Acquire("c1", "primary", "primary:7000", kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  const Lease before = *lease;

  cluster_.Kill(1);
  cluster_.Kill(2);
  const Clock::time_point killed = Clock::now();
  const Status renewed = holder->Renew(*lease);
  EXPECT_EQ(renewed.code(), Code::kIoError) << renewed.ToString();
  EXPECT_LT(ElapsedMs(killed), 2000);
  EXPECT_EQ(lease->valid_until, before.valid_until);  // unchanged: the holder stops on time
  Result<Lease> refused = holder->Acquire("c2", "other", "other:7000", kTtl);
  EXPECT_EQ(refused.status().code(), Code::kIoError) << refused.status().ToString();

  // Back to a majority: the coordinator works again without being reopened.
  ASSERT_TRUE(cluster_.Restart(1).ok());
  ASSERT_TRUE(cluster_.WaitForLeader(milliseconds(10'000)).ok());
  Result<Lease> fresh = holder->Acquire("c2", "other", "other:7000", kTtl);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_GT(fresh->epoch, before.epoch);
}

TEST_F(EtcdFaultTest, EpochsKeepGrowingAcrossAClusterRestart) {
  std::unique_ptr<Coordinator> coordinator = OpenStartingAt(0);
  Result<Lease> lease = coordinator->Acquire("c1", "primary", "primary:7000", kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(coordinator->Release(*lease).ok());

  for (size_t i = 0; i < cluster_.size(); ++i) cluster_.Kill(i, SIGTERM);
  for (size_t i = 0; i < cluster_.size(); ++i) ASSERT_TRUE(cluster_.Restart(i).ok());
  ASSERT_TRUE(cluster_.WaitForLeader(milliseconds(10'000)).ok());

  Result<Lease> again = coordinator->Acquire("c1", "standby", "standby:7000", kTtl);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GT(again->epoch, lease->epoch);
}

TEST(EtcdCoordinatorTest, AnUnreachableClusterIsIoErrorWithinTheOperationTimeout) {
  EtcdOptions options;
  options.request_timeout = milliseconds(200);
  options.operation_timeout = milliseconds(300);
  // Port 1 on loopback: nothing listens there, connections are refused at once.
  Result<std::unique_ptr<Coordinator>> coordinator =
      OpenEtcd({"127.0.0.1:1", "http://127.0.0.1:1"}, options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
  const Clock::time_point start = Clock::now();
  Result<Lease> lease = (*coordinator)->Acquire("c1", "primary", "primary:7000", kTtl);
  EXPECT_EQ(lease.status().code(), Code::kIoError);
  EXPECT_THAT(lease.status().message(), ::testing::HasSubstr("no endpoint answered"));
  EXPECT_LT(ElapsedMs(start), 1000);
  EXPECT_EQ((*coordinator)->Read("c1").status().code(), Code::kIoError);
}

TEST(EtcdCoordinatorTest, EndpointsAndSpecsAreChecked) {
  EXPECT_EQ(OpenEtcd({}).status().code(), Code::kInvalidArgument);
  for (const char* bad : {"", "nohost", "host:", ":2379", "host:99999", "host:0", "host:12x"}) {
    EXPECT_EQ(OpenEtcd({bad}).status().code(), Code::kInvalidArgument) << bad;
  }
  for (const char* good : {"127.0.0.1:2379", "http://127.0.0.1:2379", "[::1]:2379", "etcd:2379"}) {
    EXPECT_TRUE(OpenEtcd({good}).ok()) << good;
  }
  EXPECT_TRUE(Open("etcd:127.0.0.1:2379,127.0.0.1:2380").ok());
  EXPECT_EQ(Open("etcd:127.0.0.1:2379,").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Open("etcd:").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Open("file:").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Open("zookeeper:127.0.0.1:2181").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace surge::coord
