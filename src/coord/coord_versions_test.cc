// The store of the embedded coordinator (versions.h): publishing is a compare-and-swap, readers
// follow other writers (from a recent hint or by a scan), superseded versions go after
// keep_superseded while the head stays, a writer stalled past keep_superseded cannot pass a
// deleted name it linked again for a won race, temporaries of killed writers go, and concurrent
// writers never lose an update.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coord/versions.h"

namespace surge::coord::internal {
namespace {

using std::chrono::milliseconds;
using Outcome = VersionDirectory::Outcome;
using Snapshot = VersionDirectory::Snapshot;

class VersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/surge-versions-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    directory_ = root_ + "/leases";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  std::unique_ptr<VersionDirectory> MustOpen(milliseconds keep = milliseconds(5000)) {
    VersionDirectoryOptions options;
    options.keep_superseded = keep;
    Result<std::unique_ptr<VersionDirectory>> opened = VersionDirectory::Open(directory_, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  static Snapshot MustRead(VersionDirectory& versions) {
    Result<Snapshot> snapshot = versions.ReadNewest(1 << 20);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    return snapshot.ok() ? *snapshot : Snapshot();
  }

  // Publishes `text` on top of whatever is newest, retrying when another writer was first.
  static uint64_t MustAppend(VersionDirectory& versions, const std::string& line) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const Snapshot base = MustRead(versions);
      Result<Outcome> outcome = versions.Publish(base, base.text + line, false);
      EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
      if (!outcome.ok()) return 0;
      if (*outcome == Outcome::kPublished) return base.version + 1;
    }
    ADD_FAILURE() << "outrun 1000 times";
    return 0;
  }

  // The directory's entries.
  std::set<std::string> Entries() const {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(directory_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

  std::string root_;
  std::string directory_;
};

TEST_F(VersionsTest, PublishingIsACompareAndSwap) {
  std::unique_ptr<VersionDirectory> first = MustOpen();
  std::unique_ptr<VersionDirectory> second = MustOpen();
  const Snapshot empty = MustRead(*first);
  EXPECT_EQ(empty.version, 0u);
  EXPECT_EQ(empty.text, "");

  // Both read version 0; only the first to publish wins.
  EXPECT_EQ(*first->Publish(empty, "one\n", true), Outcome::kPublished);
  EXPECT_EQ(*second->Publish(empty, "other\n", true), Outcome::kLost);
  const Snapshot one = MustRead(*second);
  EXPECT_EQ(one.version, 1u);
  EXPECT_EQ(one.text, "one\n");
  EXPECT_EQ(one.file, directory_ + "/v00000000000000000001");

  EXPECT_EQ(*second->Publish(one, "two\n", false), Outcome::kPublished);
  EXPECT_EQ(*first->Publish(one, "late\n", false), Outcome::kLost);
  EXPECT_EQ(MustRead(*first).text, "two\n");
  // No temporary stays behind, win or lose.
  EXPECT_EQ(Entries(), (std::set<std::string>{"v00000000000000000001", "v00000000000000000002"}));
}

TEST_F(VersionsTest, ReadersFollowOtherWritersFromAHintOrByAScan) {
  constexpr milliseconds kKeep{200};
  std::unique_ptr<VersionDirectory> reader = MustOpen(kKeep);
  std::unique_ptr<VersionDirectory> writer = MustOpen(kKeep);
  EXPECT_EQ(MustRead(*reader).version, 0u);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(MustAppend(*writer, std::to_string(i)), uint64_t(i));
  // A recent hint: probes forward from version 0.
  Snapshot newest = MustRead(*reader);
  EXPECT_EQ(newest.version, 5u);
  EXPECT_EQ(newest.text, "12345");
  // Files that are not versions are ignored.
  std::ofstream(directory_ + "/v123") << "not a version";
  std::ofstream(directory_ + "/v99999999999999999999x") << "not a version either";
  std::ofstream(directory_ + "/notes") << "an operator's";
  // A stale hint: scans.
  std::this_thread::sleep_for(kKeep);
  EXPECT_EQ(MustAppend(*writer, "6"), 6u);
  newest = MustRead(*reader);
  EXPECT_EQ(newest.version, 6u);
  EXPECT_EQ(newest.text, "123456");
  EXPECT_LE(newest.head_at_ns, MonotonicNowNs());
}

TEST_F(VersionsTest, SupersededVersionsGoAfterKeepSupersededAndTheHeadStays) {
  constexpr milliseconds kKeep{300};
  std::unique_ptr<VersionDirectory> versions = MustOpen(kKeep);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 20; ++i) MustAppend(*versions, "x");
  if (std::chrono::steady_clock::now() - start < kKeep) {
    EXPECT_EQ(Entries().size(), 20u) << "nothing may go before keep_superseded";
  }
  // Version 20 is seen superseded by 21, and keep_superseded later it goes with all before it.
  std::this_thread::sleep_for(kKeep * 3 / 2);
  MustAppend(*versions, "x");
  std::this_thread::sleep_for(kKeep * 3 / 2);
  MustAppend(*versions, "x");
  EXPECT_EQ(Entries(), (std::set<std::string>{"v00000000000000000020", "v00000000000000000021",
                                              "v00000000000000000022"}));
  // A coordinator starting now finds the head by a scan.
  std::unique_ptr<VersionDirectory> late = MustOpen(kKeep);
  const Snapshot newest = MustRead(*late);
  EXPECT_EQ(newest.version, 22u);
  EXPECT_EQ(newest.text, std::string(22, 'x'));
}

TEST_F(VersionsTest, AWriterStalledPastKeepSupersededCannotPassARecreatedNameForAWin) {
  constexpr milliseconds kKeep{40};
  std::unique_ptr<VersionDirectory> stalled = MustOpen(kKeep);
  std::unique_ptr<VersionDirectory> busy = MustOpen(kKeep);
  MustAppend(*busy, "a");
  const Snapshot base = MustRead(*stalled);  // version 1, then "stalls"
  ASSERT_EQ(base.version, 1u);
  // Meanwhile the busy writer goes on long enough for version 2 to be deleted.
  for (int i = 0; i < 12; ++i) {
    MustAppend(*busy, "b");
    std::this_thread::sleep_for(kKeep / 4);
  }
  ASSERT_FALSE(Entries().contains("v00000000000000000002")) << "version 2 should be gone";
  const Snapshot head = MustRead(*busy);
  // The stalled writer's link of version 2 succeeds (the name is free), but it cannot count as a
  // win: a higher version exists, and the head is untouched.
  EXPECT_EQ(*stalled->Publish(base, "stale", false), Outcome::kUnknown);
  EXPECT_EQ(MustRead(*busy).version, head.version);
  EXPECT_EQ(MustRead(*stalled).text, head.text);

  // Stalled just as long with nobody writing meanwhile: a real win, confirmed.
  const Snapshot quiet = MustRead(*stalled);
  std::this_thread::sleep_for(kKeep * 2);
  EXPECT_EQ(*stalled->Publish(quiet, "late but first", false), Outcome::kPublished);
  EXPECT_EQ(MustRead(*busy).text, "late but first");
}

TEST_F(VersionsTest, TemporariesOfKilledWritersGoAndOtherFilesStay) {
  constexpr milliseconds kKeep{40};
  std::unique_ptr<VersionDirectory> versions = MustOpen(kKeep);
  MustAppend(*versions, "a");
  const std::string orphan = directory_ + "/tmp.1.0123456789abcdef";
  const std::string fresh = directory_ + "/tmp.2.0123456789abcdef";
  std::ofstream(orphan) << "half a table";
  std::ofstream(fresh) << "being written";
  std::ofstream(directory_ + "/notes") << "an operator's";
  const timespec old_times[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, orphan.c_str(), old_times, 0), 0);
  for (int i = 0; i < 8; ++i) {
    MustAppend(*versions, "b");
    std::this_thread::sleep_for(kKeep / 2);
  }
  const std::set<std::string> left = Entries();
  EXPECT_FALSE(left.contains("tmp.1.0123456789abcdef"));
  EXPECT_TRUE(left.contains("tmp.2.0123456789abcdef"));
  EXPECT_TRUE(left.contains("notes"));
}

TEST_F(VersionsTest, ConcurrentWritersNeverLoseAnUpdate) {
  constexpr int kWriters = 4;
  constexpr int kAppends = 40;
  constexpr milliseconds kKeep{30};  // collections run while the writers race
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::unique_ptr<VersionDirectory> versions = MustOpen(kKeep);
      for (int i = 0; i < kAppends; ++i) MustAppend(*versions, std::to_string(w) + "\n");
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Snapshot newest = MustRead(*MustOpen(kKeep));
  EXPECT_EQ(newest.version, uint64_t{kWriters} * kAppends);
  for (int w = 0; w < kWriters; ++w) {
    const std::string line = std::to_string(w) + "\n";
    size_t count = 0;
    for (size_t at = newest.text.find(line); at != std::string::npos;
         at = newest.text.find(line, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, size_t{kAppends}) << "writer " << w;
  }
}

TEST_F(VersionsTest, AFileWhereTheDirectoryShouldBeIsIoError) {
  std::filesystem::create_directories(root_);
  std::ofstream(directory_) << "surge-leases 1\n";
  VersionDirectoryOptions options;
  EXPECT_EQ(VersionDirectory::Open(directory_, options).status().code(), Code::kIoError);
}

}  // namespace
}  // namespace surge::coord::internal
