#include "common/mem_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace surge {
namespace {

// Opens, appends and optionally syncs in one go; fails the test on any error.
void Write(MemEnv& env, const std::string& path, std::string_view data, bool sync,
           bool truncate = false) {
  auto file = env.OpenWritable(path, truncate);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->Append(data).ok());
  if (sync) {
    ASSERT_TRUE((*file)->Sync().ok());
  }
  ASSERT_TRUE((*file)->Close().ok());
}

std::string Read(MemEnv& env, const std::string& path) {
  auto data = env.ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? *data : std::string("<missing>");
}

std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

TEST(MemEnvTest, ReadsWhatWasWrittenAndListsDirectories) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/data/a").ok());
  Write(env, "/data/a/x", "hello ", false);
  Write(env, "/data/a/x", "world", false);
  EXPECT_EQ(Read(env, "/data/a/x"), "hello world");
  EXPECT_EQ(*env.ReadAt("/data/a/x", 6, 100), "world");
  EXPECT_EQ(*env.ReadAt("/data/a/x", 50, 1), "");
  EXPECT_EQ(*env.FileSize("/data/a/x"), 11u);
  EXPECT_TRUE(env.FileExists("/data/a/x"));
  EXPECT_TRUE(env.FileExists("/data/a"));
  EXPECT_FALSE(env.FileExists("/data/a/y"));
  EXPECT_EQ(Sorted(*env.ListDir("/data")), std::vector<std::string>{"a"});
  EXPECT_EQ(Sorted(*env.ListDir("/data/a/")), std::vector<std::string>{"x"});
  EXPECT_EQ(env.OpenWritable("/nowhere/x", false).status().code(), Code::kIoError);
  EXPECT_EQ(env.ReadFile("/data/a/y").status().code(), Code::kIoError);
  EXPECT_EQ(env.ListDir("/nowhere").status().code(), Code::kIoError);
}

TEST(MemEnvTest, CrashKeepsSyncedDataAndDropsTheRest) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/d").ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  auto file = std::move(env.OpenWritable("/d/f", false).value());
  ASSERT_TRUE(env.SyncDir("/d").ok());
  ASSERT_TRUE(file->Append("durable").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Append("-lost").ok());
  EXPECT_EQ(file->size(), 12u);
  EXPECT_EQ(*env.DurableContent("/d/f"), "durable");

  env.Crash();
  EXPECT_EQ(Read(env, "/d/f"), "durable");
  // The handle belonged to the process that died.
  EXPECT_EQ(file->Append("x").code(), Code::kIoError);
  EXPECT_EQ(file->Sync().code(), Code::kIoError);
}

TEST(MemEnvTest, CrashCanTearTheUnsyncedTailAtAnyByte) {
  for (uint64_t keep = 0; keep <= 6; ++keep) {
    MemEnv env;
    Write(env, "f", "abc", true);
    ASSERT_TRUE(env.SyncDir("").ok());
    Write(env, "f", "defghi", false);
    CrashOptions options;
    options.keep_unsynced_bytes = [keep](const std::string& path, uint64_t unsynced) {
      EXPECT_EQ(path, "f");
      EXPECT_EQ(unsynced, 6u);
      return keep;
    };
    env.Crash(options);
    EXPECT_EQ(Read(env, "f"), std::string("abcdefghi").substr(0, 3 + keep));
  }
  // More than the unsynced bytes is clamped.
  MemEnv env;
  Write(env, "f", "abc", false);
  ASSERT_TRUE(env.SyncDir(".").ok());
  CrashOptions options;
  options.keep_unsynced_bytes = [](const std::string&, uint64_t) { return 1000; };
  env.Crash(options);
  EXPECT_EQ(Read(env, "f"), "abc");
}

TEST(MemEnvTest, NewFileWithoutDirectorySyncVanishes) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/d").ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  Write(env, "/d/synced-file-only", "data", true);
  Write(env, "/d/both", "data", true);
  ASSERT_TRUE(env.SyncDir("/d").ok());
  Write(env, "/d/late", "data", true);  // created after the directory sync
  env.Crash();
  EXPECT_FALSE(env.FileExists("/d/late"));
  EXPECT_TRUE(env.FileExists("/d/both"));
  EXPECT_TRUE(env.FileExists("/d/synced-file-only"));
  EXPECT_EQ(Sorted(*env.ListDir("/d")), (std::vector<std::string>{"both", "synced-file-only"}));
}

TEST(MemEnvTest, DirectoryCreationNeedsTheParentSynced) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/a/b").ok());
  Write(env, "/a/b/f", "x", true);
  ASSERT_TRUE(env.SyncDir("/a/b").ok());
  ASSERT_TRUE(env.SyncDir("/a").ok());
  // "/a" itself was never made durable in "/": everything beneath it goes.
  env.Crash();
  EXPECT_FALSE(env.FileExists("/a"));
  EXPECT_FALSE(env.FileExists("/a/b/f"));

  ASSERT_TRUE(env.CreateDir("/a/b").ok());
  Write(env, "/a/b/f", "x", true);
  ASSERT_TRUE(env.SyncDir("/a/b").ok());
  ASSERT_TRUE(env.SyncDir("/a").ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  env.Crash();
  EXPECT_EQ(Read(env, "/a/b/f"), "x");
}

TEST(MemEnvTest, RenameAndRemoveAreDurableOnlyAfterDirectorySync) {
  MemEnv env;
  Write(env, "/old", "payload", true);
  ASSERT_TRUE(env.SyncDir("/").ok());
  ASSERT_TRUE(env.RenameFile("/old", "/new").ok());
  EXPECT_FALSE(env.FileExists("/old"));
  EXPECT_EQ(Read(env, "/new"), "payload");
  env.Crash();
  EXPECT_TRUE(env.FileExists("/old"));
  EXPECT_FALSE(env.FileExists("/new"));

  ASSERT_TRUE(env.RenameFile("/old", "/new").ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  env.Crash();
  EXPECT_FALSE(env.FileExists("/old"));
  EXPECT_EQ(Read(env, "/new"), "payload");

  ASSERT_TRUE(env.RemoveFile("/new").ok());
  EXPECT_FALSE(env.FileExists("/new"));
  env.Crash();
  EXPECT_EQ(Read(env, "/new"), "payload");
  ASSERT_TRUE(env.RemoveFile("/new").ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  env.Crash();
  EXPECT_FALSE(env.FileExists("/new"));
}

TEST(MemEnvTest, RenameOverAnExistingFileIsAtomic) {
  MemEnv env;
  Write(env, "/target", "old", true);
  Write(env, "/target.tmp", "new", true);
  ASSERT_TRUE(env.SyncDir("/").ok());
  ASSERT_TRUE(env.RenameFile("/target.tmp", "/target").ok());
  EXPECT_EQ(Read(env, "/target"), "new");
  env.Crash();
  EXPECT_EQ(Read(env, "/target"), "old");
  EXPECT_EQ(Read(env, "/target.tmp"), "new");
}

TEST(MemEnvTest, KeepingUnsyncedDirectoryChanges) {
  MemEnv env;
  Write(env, "/f", "abc", true);
  CrashOptions options;
  options.keep_unsynced_directory_changes = true;
  env.Crash(options);
  EXPECT_EQ(Read(env, "/f"), "abc");
}

TEST(MemEnvTest, TruncatingOpenRevertsToTheOldContentOnCrash) {
  MemEnv env;
  Write(env, "/f", "old content", true);
  ASSERT_TRUE(env.SyncDir("/").ok());
  Write(env, "/f", "new", false, /*truncate=*/true);
  EXPECT_EQ(Read(env, "/f"), "new");
  CrashOptions options;
  options.keep_unsynced_bytes = [](const std::string&, uint64_t) { return 2; };
  env.Crash(options);
  EXPECT_EQ(Read(env, "/f"), "old content");
}

TEST(MemEnvTest, TruncateFileIsDurable) {
  MemEnv env;
  Write(env, "/f", "0123456789", false);
  ASSERT_TRUE(env.SyncDir("/").ok());
  ASSERT_TRUE(env.TruncateFile("/f", 4).ok());
  env.Crash();
  EXPECT_EQ(Read(env, "/f"), "0123");
}

TEST(MemEnvTest, FailNthInjectsOneOrStickyFaults) {
  MemEnv env;
  auto file = std::move(env.OpenWritable("/f", false).value());
  env.FailNth(FaultOp::kSync, 2);
  EXPECT_TRUE(file->Sync().ok());
  const Status failed = file->Sync();
  EXPECT_EQ(failed.code(), Code::kIoError);
  EXPECT_NE(failed.message().find("/f"), std::string::npos) << failed.message();
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_EQ(env.OperationCount(FaultOp::kSync), 3u);

  env.FailNth(FaultOp::kAppend, 1, /*sticky=*/true);
  EXPECT_FALSE(file->Append("a").ok());
  EXPECT_FALSE(file->Append("b").ok());
  EXPECT_EQ(file->size(), 0u) << "a failed append writes nothing";
  env.ClearFaults();
  EXPECT_TRUE(file->Append("c").ok());

  env.FailNth(FaultOp::kRename, 1);
  EXPECT_FALSE(env.RenameFile("/f", "/g").ok());
  EXPECT_TRUE(env.FileExists("/f"));
  EXPECT_TRUE(env.RenameFile("/f", "/g").ok());
}

TEST(MemEnvTest, FlipBitDamagesDurableBytes) {
  MemEnv env;
  Write(env, "/f", "abc", true);
  ASSERT_TRUE(env.SyncDir("/").ok());
  ASSERT_TRUE(env.FlipBit("/f", 1, 0x20).ok());
  EXPECT_EQ(Read(env, "/f"), "aBc");
  env.Crash();
  EXPECT_EQ(Read(env, "/f"), "aBc");
  EXPECT_FALSE(env.FlipBit("/f", 3).ok());
  EXPECT_FALSE(env.FlipBit("/missing", 0).ok());
}

TEST(MemEnvTest, ClocksMoveOnlyWhenTold) {
  MemEnv env;
  EXPECT_EQ(env.MonotonicNow().count(), 0);
  EXPECT_EQ(env.WallNowMs(), kMemEnvWallStartMs);
  env.AdvanceBy(std::chrono::microseconds(1500));
  EXPECT_EQ(env.MonotonicNow(), std::chrono::microseconds(1500));
  EXPECT_EQ(env.WallNowMs(), kMemEnvWallStartMs + 1);
  env.SetWallNowMs(42);
  env.SetMonotonicNow(std::chrono::seconds(7));
  EXPECT_EQ(env.WallNowMs(), 42);
  EXPECT_EQ(env.MonotonicNow(), std::chrono::seconds(7));
}

TEST(MemEnvTest, RandomIsFixedByTheSeed) {
  MemEnv a(7), b(7), c(8);
  std::vector<uint64_t> from_a, from_b, from_c;
  for (int i = 0; i < 16; ++i) {
    from_a.push_back(a.Random());
    from_b.push_back(b.Random());
    from_c.push_back(c.Random());
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
  EXPECT_NE(from_a[0], from_a[1]);
}

TEST(MemEnvTest, RandomTearsAreReproducible) {
  auto run = [](uint64_t seed) {
    MemEnv env(seed);
    Write(env, "/f", std::string(1000, 'x'), false);
    EXPECT_TRUE(env.SyncDir("/").ok());
    CrashOptions options;
    options.tear_at_random = true;
    env.Crash(options);
    return *env.FileSize("/f");
  };
  std::vector<uint64_t> sizes;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    sizes.push_back(run(seed));
    EXPECT_EQ(sizes.back(), run(seed));
    EXPECT_LE(sizes.back(), 1000u);
  }
  EXPECT_GT(std::set<uint64_t>(sizes.begin(), sizes.end()).size(), 1u);
}

}  // namespace
}  // namespace surge
