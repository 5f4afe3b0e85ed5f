// The embedded coordinator beyond the shared contract: processes (not just threads) exclude each
// other, a holder killed with -9 keeps its lease until it expires, a writer killed at any moment
// leaves a sound file, a damaged file is corruption and is left as it was, and leases do not
// survive a reboot while epochs do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "coord/coord.h"
#include "coord/coord_testing.h"
#include "coord/embedded.h"
#include "coord/lease_file.h"

namespace surge::coord {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using ::testing::HasSubstr;

constexpr milliseconds kTtl{300};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

int64_t ToNs(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

class EmbeddedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-coord-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    path_ = directory_ + "/leases";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  // The newest version of the lease table (embedded.h).
  std::string Newest() {
    Result<std::string> file = internal::NewestLeaseFile(path_);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? *file : path_ + "/missing";
  }

  std::unique_ptr<Coordinator> MustOpen() {
    Result<std::unique_ptr<Coordinator>> opened = OpenEmbedded(path_);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Forks a child that runs `body` (with a fresh coordinator) and exits 0 if it raised no
  // failure. Call before this process starts any thread.
  template <typename Body>
  pid_t Fork(Body body) {
    const pid_t pid = fork();
    if (pid == 0) {
      Result<std::unique_ptr<Coordinator>> opened = OpenEmbedded(path_);
      if (!opened.ok()) _exit(2);
      body(**opened);
      _exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    return pid;
  }

  static int Wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string directory_;
  std::string path_;
};

TEST_F(EmbeddedTest, SteadyClockIsTheSystemWideMonotonicClock) {
  // valid_until (steady_clock) and the file's expiries (CLOCK_MONOTONIC) must be one clock.
  timespec now{};
  const Clock::time_point before = Clock::now();
  clock_gettime(CLOCK_MONOTONIC, &now);
  const Clock::time_point after = Clock::now();
  const int64_t monotonic_ns = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  EXPECT_LE(ToNs(before), monotonic_ns);
  EXPECT_GE(ToNs(after), monotonic_ns);
}

TEST_F(EmbeddedTest, ProcessesNeverOverlap) {
  constexpr int kProcesses = 3;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const std::string owner = "process" + std::to_string(i);
    const std::string record = directory_ + "/" + owner + ".tenures";
    children.push_back(Fork([&](Coordinator& coordinator) {
      testing::ContendOptions options;
      options.ttl = milliseconds(200);
      options.duration = milliseconds(1500);
      options.seed = static_cast<uint32_t>(100 + i);
      std::ofstream out(record);
      for (const testing::Tenure& tenure : testing::Contend(coordinator, owner, options)) {
        out << tenure.epoch << " " << ToNs(tenure.begin) << " " << ToNs(tenure.end) << "\n";
      }
    }));
  }
  for (const pid_t child : children) EXPECT_EQ(Wait(child), 0);

  std::vector<testing::Tenure> all;
  for (int i = 0; i < kProcesses; ++i) {
    const std::string owner = "process" + std::to_string(i);
    std::ifstream in(directory_ + "/" + owner + ".tenures");
    testing::Tenure tenure;
    int64_t begin_ns = 0;
    int64_t end_ns = 0;
    while (in >> tenure.epoch >> begin_ns >> end_ns) {
      tenure.begin = Clock::time_point(std::chrono::nanoseconds(begin_ns));
      tenure.end = Clock::time_point(std::chrono::nanoseconds(end_ns));
      tenure.owner = owner;
      all.push_back(tenure);
    }
  }
  testing::ExpectExclusive(all);
  EXPECT_GE(all.size(), 6u);
  EXPECT_EQ(testing::CountByOwner(all).size(), size_t{kProcesses});
}

TEST_F(EmbeddedTest, AHolderKilledWithMinus9KeepsItsLeaseUntilItExpires) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = Fork([&](Coordinator& coordinator) {
    Result<Lease> lease = coordinator.Acquire("c1", "doomed", "doomed:7000", kTtl);
    const int64_t valid_until = lease.ok() ? ToNs(lease->valid_until) : 0;
    (void)!write(pipe_fds[1], &valid_until, sizeof(valid_until));
    pause();
  });
  int64_t valid_until_ns = 0;
  ASSERT_EQ(read(pipe_fds[0], &valid_until_ns, sizeof(valid_until_ns)),
            static_cast<ssize_t>(sizeof(valid_until_ns)));
  ASSERT_GT(valid_until_ns, 0);
  kill(child, SIGKILL);
  EXPECT_EQ(Wait(child), 128 + SIGKILL);
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  std::unique_ptr<Coordinator> standby = MustOpen();
  int refusals = 0;
  for (;;) {
    Result<Lease> lease = standby->Acquire("c1", "standby", "standby:7000", kTtl);
    if (lease.ok()) {
      EXPECT_GE(ToNs(Clock::now()), valid_until_ns);
      EXPECT_EQ(lease->epoch, 2u);
      break;
    }
    ASSERT_THAT(lease.status().message(), HasSubstr("held by doomed"));
    ++refusals;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_GT(refusals, 0);
}

TEST_F(EmbeddedTest, AWriterKilledAtAnyMomentLeavesASoundFile) {
  uint64_t highest = 0;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  for (int round = 0; round < 12; ++round) {
    const pid_t child = Fork([&](Coordinator& coordinator) {
      for (int i = 0;; ++i) {
        Result<Lease> lease =
            coordinator.Acquire("c" + std::to_string(i % 4), "writer", "writer:1", milliseconds(1));
        if (lease.ok()) (void)coordinator.Renew(*lease);
        if (i == 1) (void)!write(pipe_fds[1], "w", 1);  // two acquisitions done
      }
    });
    char started = 0;
    ASSERT_EQ(read(pipe_fds[0], &started, 1), 1);
    std::this_thread::sleep_for(milliseconds(7 * round % 23));
    kill(child, SIGKILL);
    EXPECT_EQ(Wait(child), 128 + SIGKILL);
    // Whatever the moment, the newest version is whole, and the epochs only grew.
    Result<internal::LeaseTable> table = internal::DecodeLeaseTable(ReadAll(Newest()));
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    uint64_t sum = 0;
    for (const internal::LeaseEntry& entry : table->entries) sum += entry.epoch;
    EXPECT_GE(sum, highest);
    highest = sum;
  }
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  // The last writer's last lease (1 ms) may not have run out yet: let it.
  std::this_thread::sleep_for(milliseconds(5));
  std::unique_ptr<Coordinator> coordinator = MustOpen();
  Result<Lease> lease = coordinator->Acquire("c0", "after", "after:1", kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_GT(highest, 24u) << "the writers barely wrote: the test showed nothing";
}

// What a child holding a lease shares with the test (in memory mapped before the fork).
struct ChildState {
  std::atomic<uint64_t> epoch{0};
  // The last valid_until the child got: it acts as the owner only before it.
  std::atomic<int64_t> valid_until_ns{0};
  std::atomic<int64_t> renewals{0};
  // Its publishes that linked a deleted name and could not count (versions.h).
  std::atomic<int64_t> unconfirmed{0};
};

struct FreezeStats {
  int freezes = 0;
  int mid_write = 0;  // frozen between creating its temporary and publishing it
  int64_t unconfirmed = 0;
  Clock::duration slowest_read{0};
  Clock::duration slowest_refusal{0};
};

class FrozenHolderTest : public EmbeddedTest {
 protected:
  void SetUp() override {
    EmbeddedTest::SetUp();
    Result<std::string> boot_id = internal::ReadBootId();
    ASSERT_TRUE(boot_id.ok());
    boot_id_ = *boot_id;
    void* memory = mmap(nullptr, sizeof(ChildState), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(memory, MAP_FAILED);
    child_ = new (memory) ChildState();
  }
  void TearDown() override {
    munmap(child_, sizeof(ChildState));
    EmbeddedTest::TearDown();
  }

  Result<std::unique_ptr<Coordinator>> Open(internal::VersionDirectoryOptions options) {
    return internal::OpenEmbeddedWithOptions(path_, boot_id_, options);
  }

  // A child that takes lease c1 and renews it in a tight loop until a Renew fails; it exits 0
  // if that failure is wrong_state. With `side_lease`, between renewals it also takes and
  // releases lease c2 (which nobody else wants).
  pid_t StartHolder(internal::VersionDirectoryOptions options, bool side_lease) {
    child_->epoch = 0;
    child_->renewals = 0;
    const pid_t pid = fork();
    if (pid != 0) return pid;
    Result<std::unique_ptr<Coordinator>> opened = Open(options);
    if (!opened.ok()) _exit(2);
    Result<Lease> lease = Status(Code::kUnavailable, "not yet");
    for (int i = 0; i < 5000 && !lease.ok(); ++i) {
      lease = (*opened)->Acquire("c1", "child", "child:1", kChildTtl);
      if (!lease.ok() && lease.status().code() != Code::kUnavailable) _exit(3);
      if (!lease.ok()) std::this_thread::sleep_for(milliseconds(1));
    }
    if (!lease.ok()) _exit(4);
    child_->valid_until_ns = ToNs(lease->valid_until);
    child_->epoch = lease->epoch;
    for (;;) {
      const Status renewed = (*opened)->Renew(*lease);
      if (!renewed.ok()) {
        child_->unconfirmed = internal::UnconfirmedPublishes();
        _exit(renewed.code() == Code::kWrongState ? 0 : 5);
      }
      child_->valid_until_ns = ToNs(lease->valid_until);
      ++child_->renewals;
      if (!side_lease) continue;
      // Woken after keep_superseded, a write may have an unknown outcome: Acquire then answers
      // io_error, or unavailable if it finds its own earlier c2 (coord.h). The child goes on,
      // and its next Renew of c1 must fail with wrong_state. Any other answer is a failure.
      Result<Lease> side = (*opened)->Acquire("c2", "child", "child:1", milliseconds(60'000));
      if (!side.ok()) {
        const Code code = side.status().code();
        if (code == Code::kIoError || code == Code::kUnavailable) continue;
        _exit(6);
      }
      const Status released = (*opened)->Release(*side);
      if (!released.ok() && released.code() != Code::kIoError) _exit(6);
    }
  }

  // True if the child has a temporary in the lease directory: it is between creating its next
  // version and publishing it.
  bool MidWrite(pid_t pid) const {
    const std::string prefix = "tmp." + std::to_string(pid) + ".";
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      if (entry.path().filename().string().starts_with(prefix)) return true;
    }
    return false;
  }

  // One round: the child holding c1 is stopped at a random moment; meanwhile the test reads
  // and takes the lease without ever waiting for the child, renews it `churn` times (with
  // pauses, so that superseded versions go), and wakes the child, whose Renew must fail.
  // False if the child was not running when stopped (its Renew was too slow: try again).
  bool Round(Coordinator& coordinator, internal::VersionDirectoryOptions options, int churn,
             std::mt19937& random, FreezeStats* stats);
  // While the child is stopped: Read, and Acquire until it is granted, never wait for it.
  Result<Lease> TakeOver(Coordinator& coordinator, pid_t pid, uint64_t child_epoch,
                         FreezeStats* stats);
  // Wakes the child: its Renew fails with wrong_state, it never held the lease after
  // `acquired_ns` (when ours began), nor wrote over our version.
  void WakeAndCheck(Coordinator& coordinator, pid_t pid, const Result<Lease>& lease,
                    int64_t acquired_ns, FreezeStats* stats);
  void Rounds(internal::VersionDirectoryOptions options, int rounds, int churn, uint32_t seed,
              FreezeStats* stats);

  // Runs `call` on a thread of its own; if it has not returned after a few seconds, it is
  // blocked by the stopped child: that is recorded, and the child is killed to free it.
  template <typename T>
  static T Unblocked(pid_t pid, std::function<T()> call) {
    std::packaged_task<T()> task(std::move(call));
    std::future<T> future = task.get_future();
    std::thread thread(std::move(task));
    if (future.wait_for(std::chrono::seconds(3)) == std::future_status::timeout) {
      ADD_FAILURE() << "a call was blocked by the stopped child";
      kill(pid, SIGKILL);
    }
    thread.join();
    return future.get();
  }

  static constexpr milliseconds kChildTtl{100};
  static constexpr milliseconds kBound{100};
  std::string boot_id_;
  ChildState* child_ = nullptr;
};

bool FrozenHolderTest::Round(Coordinator& coordinator, internal::VersionDirectoryOptions options,
                             int churn, std::mt19937& random, FreezeStats* stats) {
  const pid_t pid = StartHolder(options, churn > 0);
  const Clock::time_point give_up = Clock::now() + milliseconds(5000);
  while (child_->epoch == 0 && Clock::now() < give_up) std::this_thread::sleep_for(milliseconds(1));
  const uint64_t child_epoch = child_->epoch;
  EXPECT_NE(child_epoch, 0u) << "the child did not get the lease";
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 20'000));
  kill(pid, SIGSTOP);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  if (!WIFSTOPPED(status)) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    return false;
  }
  ++stats->freezes;
  stats->mid_write += MidWrite(pid);
  Result<Lease> lease = TakeOver(coordinator, pid, child_epoch, stats);
  const int64_t acquired_ns = ToNs(Clock::now());
  if (lease.ok()) {
    for (int i = 0; i < churn; ++i) {
      EXPECT_TRUE(coordinator.Renew(*lease).ok());
      std::this_thread::sleep_for(options.keep_superseded / 2);
    }
  }
  WakeAndCheck(coordinator, pid, lease, acquired_ns, stats);
  return true;
}

Result<Lease> FrozenHolderTest::TakeOver(Coordinator& coordinator, pid_t pid, uint64_t child_epoch,
                                         FreezeStats* stats) {
  // Read: at once, whatever the child was doing.
  Clock::time_point begin = Clock::now();
  Result<std::optional<Holder>> holder =
      Unblocked<Result<std::optional<Holder>>>(pid, [&] { return coordinator.Read("c1"); });
  stats->slowest_read = std::max(stats->slowest_read, Clock::now() - begin);
  EXPECT_LT(Clock::now() - begin, kBound);
  EXPECT_TRUE(holder.ok()) << holder.status().ToString();
  if (holder.ok() && holder->has_value()) {
    EXPECT_EQ((*holder)->epoch, child_epoch);
  }
  // Acquire: refused at once while the child's lease runs, granted after with a higher epoch.
  const Clock::time_point give_up = Clock::now() + milliseconds(5000);
  Result<Lease> lease = Status(Code::kUnavailable, "not yet");
  for (;;) {
    begin = Clock::now();
    lease = Unblocked<Result<Lease>>(
        pid, [&] { return coordinator.Acquire("c1", "parent", "parent:1", milliseconds(60'000)); });
    if (lease.ok() || lease.status().code() != Code::kUnavailable) break;
    stats->slowest_refusal = std::max(stats->slowest_refusal, Clock::now() - begin);
    EXPECT_LT(Clock::now() - begin, kBound);
    if (Clock::now() > give_up) break;
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_TRUE(lease.ok()) << lease.status().ToString();
  if (lease.ok()) {
    EXPECT_GT(lease->epoch, child_epoch);
  }
  return lease;
}

void FrozenHolderTest::WakeAndCheck(Coordinator& coordinator, pid_t pid, const Result<Lease>& lease,
                                    int64_t acquired_ns, FreezeStats* stats) {
  kill(pid, SIGCONT);
  int status = 0;
  const Clock::time_point deadline = Clock::now() + milliseconds(5000);
  while (waitpid(pid, &status, WNOHANG) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  if (Clock::now() >= deadline) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_LE(child_->valid_until_ns.load(), acquired_ns);
  stats->unconfirmed += child_->unconfirmed;
  if (!lease.ok()) return;
  Result<internal::LeaseTable> table = internal::DecodeLeaseTable(ReadAll(Newest()));
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  const internal::LeaseEntry* entry = table.ok() ? table->Find("c1") : nullptr;
  EXPECT_NE(entry, nullptr);
  if (entry != nullptr) {
    EXPECT_EQ(entry->epoch, lease->epoch);
    EXPECT_EQ(entry->owner, "parent");
  }
  Result<std::optional<Holder>> holder = coordinator.Read("c1");
  EXPECT_TRUE(holder.ok() && holder->has_value() && (*holder)->epoch == lease->epoch);
  Lease renewed = *lease;
  EXPECT_TRUE(coordinator.Renew(renewed).ok());
  EXPECT_TRUE(coordinator.Release(renewed).ok());
}

void FrozenHolderTest::Rounds(internal::VersionDirectoryOptions options, int rounds, int churn,
                              uint32_t seed, FreezeStats* stats) {
  Result<std::unique_ptr<Coordinator>> coordinator = Open(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
  std::mt19937 random(seed);
  for (int attempt = 0; attempt < 2 * rounds && stats->freezes < rounds && !HasFailure();
       ++attempt) {
    Round(**coordinator, options, churn, random, stats);
  }
  EXPECT_EQ(stats->freezes, rounds);
  EXPECT_GT(stats->mid_write, 0) << "no stop fell in the middle of a write";
  std::printf(
      "%d stops (%d in the middle of a write, %lld links of a deleted name refused); slowest "
      "read %lld us, slowest refused acquire %lld us\n",
      stats->freezes, stats->mid_write, static_cast<long long>(stats->unconfirmed),
      static_cast<long long>(ToNs(Clock::time_point(stats->slowest_read)) / 1000),
      static_cast<long long>(ToNs(Clock::time_point(stats->slowest_refusal)) / 1000));
}

TEST_F(FrozenHolderTest, AHolderStoppedAtAnyMomentDelaysNobodyAndLosesWhenWoken) {
  FreezeStats stats;
  Rounds(internal::VersionDirectoryOptions(), 30, 0, 42, &stats);
}

// The same with superseded versions going within 50 ms, the test writing on after it took the
// lease, and the child also taking and releasing another lease: the name the stopped child was
// about to publish is often deleted before it wakes, so its link succeeds on a free name, which
// must still not count as a write.
TEST_F(FrozenHolderTest, AHolderStoppedPastKeepSupersededCannotPassARecreatedNameForAWrite) {
  internal::VersionDirectoryOptions options;
  options.keep_superseded = milliseconds(50);
  FreezeStats stats;
  Rounds(options, 20, 6, 7, &stats);
  EXPECT_GT(stats.unconfirmed, 0)
      << "no woken child linked a deleted name: the test showed nothing";
}

TEST_F(EmbeddedTest, ADamagedFileIsCorruptionAndIsLeftAsItWas) {
  std::unique_ptr<Coordinator> coordinator = MustOpen();
  Result<Lease> lease = coordinator->Acquire("c1", "primary", "primary:7000", milliseconds(60'000));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  const std::string file = Newest();
  const std::string sound = ReadAll(file);
  EXPECT_THAT(sound, HasSubstr("\nlease c1 1 "));
  EXPECT_THAT(sound, HasSubstr(" primary primary:7000\n"));

  std::string flipped = sound;
  flipped[sound.find("primary:7000")] ^= 0x20;
  const std::vector<std::pair<std::string, std::string>> damages = {
      {flipped, "checksum mismatch"},
      {sound.substr(0, sound.size() - 5), "no newline"},
      {sound.substr(0, sound.find("crc32c")), "crc32c"},
      {sound + "lease c2 1 0 x y\n", "crc32c"},
      {"", "empty"},
      {std::string(100, '\0'), "no newline"},
  };
  for (const auto& [damaged, expected] : damages) {
    WriteAll(file, damaged);
    Result<std::unique_ptr<Coordinator>> reopened = OpenEmbedded(path_);
    EXPECT_EQ(reopened.status().code(), Code::kCorruption);
    EXPECT_THAT(reopened.status().message(), HasSubstr(path_));
    EXPECT_THAT(reopened.status().message(), HasSubstr(expected));
    EXPECT_EQ(coordinator->Acquire("c2", "o", "a", kTtl).status().code(), Code::kCorruption);
    Lease copy = *lease;
    EXPECT_EQ(coordinator->Renew(copy).code(), Code::kCorruption);
    EXPECT_EQ(copy.valid_until, lease->valid_until);
    EXPECT_EQ(coordinator->Release(*lease).code(), Code::kCorruption);
    EXPECT_EQ(coordinator->Read("c1").status().code(), Code::kCorruption);
    EXPECT_EQ(ReadAll(file), damaged) << "a damaged file was changed";
    EXPECT_EQ(Newest(), file) << "a version was written over a damaged one";
  }
  // Repaired, it works again, with the lease as it was.
  WriteAll(file, sound);
  EXPECT_TRUE(coordinator->Renew(*lease).ok());
  Result<std::optional<Holder>> holder = coordinator->Read("c1");
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->epoch, lease->epoch);
}

TEST_F(EmbeddedTest, LeasesDoNotSurviveARebootButEpochsDo) {
  const std::string before = "1111-aaaa";
  const std::string after = "2222-bbbb";
  Result<std::unique_ptr<Coordinator>> first = internal::OpenEmbeddedWithBootId(path_, before);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<Lease> lease = (*first)->Acquire("c1", "primary", "primary:7000", milliseconds(3'600'000));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ((*first)->Acquire("c1", "standby", "s:1", kTtl).status().code(), Code::kUnavailable);

  Result<std::unique_ptr<Coordinator>> rebooted = internal::OpenEmbeddedWithBootId(path_, after);
  ASSERT_TRUE(rebooted.ok()) << rebooted.status().ToString();
  Result<std::optional<Holder>> holder = (*rebooted)->Read("c1");
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value()) << "a lease from before the reboot still counts";
  Result<Lease> taken = (*rebooted)->Acquire("c1", "standby", "standby:7000", kTtl);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->epoch, lease->epoch + 1);
  EXPECT_THAT(ReadAll(Newest()), HasSubstr("\nboot " + after + "\n"));
}

TEST_F(EmbeddedTest, OpenCreatesTheDirectoryAndAFirstVersion) {
  path_ = directory_ + "/a/b/leases";
  std::unique_ptr<Coordinator> coordinator = MustOpen();
  ASSERT_NE(coordinator, nullptr);
  Result<internal::LeaseTable> table = internal::DecodeLeaseTable(ReadAll(Newest()));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_TRUE(table->entries.empty());
  Result<std::string> boot_id = internal::ReadBootId();
  ASSERT_TRUE(boot_id.ok());
  EXPECT_EQ(table->boot_id, *boot_id);

  // A file where the directory should be: io_error, not corruption.
  WriteAll(directory_ + "/file", "surge-leases 1\n");
  EXPECT_EQ(OpenEmbedded(directory_ + "/file").status().code(), Code::kIoError);
  EXPECT_THAT(OpenEmbedded(directory_ + "/file").status().message(), HasSubstr("not a directory"));
  EXPECT_EQ(OpenEmbedded("").status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Open("file:" + directory_ + "/spec/leases").ok());
}

}  // namespace
}  // namespace surge::coord
