#include "journal/journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/coding.h"
#include "common/log.h"
#include "common/mem_env.h"
#include "journal/record.h"

namespace surge::journal {
namespace {

constexpr char kDir[] = "/data/journal";

// Every Open logs a line; the hundreds of Opens here would drown the test output in them.
const bool kQuietLogs = [] {
  SetLogLevel(LogLevel::kWarning);
  return true;
}();

// The payload of record `sequence`: deterministic, of varying length, so any record can be
// checked anywhere without keeping a copy.
std::string Payload(uint64_t sequence) {
  std::string payload = "order-" + std::to_string(sequence) + "-";
  payload.append((sequence * 37) % 64, static_cast<char>('a' + sequence % 26));
  return payload;
}

uint64_t FrameBytes(uint64_t sequence) { return kRecordHeaderBytes + Payload(sequence).size(); }

// Byte offset of record `sequence` in a segment whose first record is `first`.
uint64_t OffsetOf(uint64_t first, uint64_t sequence) {
  uint64_t offset = 0;
  for (uint64_t s = first; s < sequence; ++s) offset += FrameBytes(s);
  return offset;
}

std::string SegmentPath(uint64_t first) { return JoinPath(kDir, SegmentName(first)); }
std::string SnapshotPath(uint64_t sequence) { return JoinPath(kDir, SnapshotName(sequence)); }

// A stand-in for the trade state: a count and a running hash of every (sequence, payload) applied.
struct State {
  uint64_t count = 0;
  uint64_t hash = 0;

  void Apply(uint64_t sequence, std::string_view payload) {
    hash = StableHash64(payload, hash ^ (sequence * 0x9e3779b97f4a7c15ULL));
    ++count;
  }
  std::string Encode() const {
    std::string out;
    Encoder encoder(&out);
    encoder.Fixed64(count);
    encoder.Fixed64(hash);
    return out;
  }
  bool Decode(std::string_view bytes) {
    Decoder decoder(bytes);
    return decoder.Fixed64(&count) && decoder.Fixed64(&hash) && decoder.done();
  }
  bool operator==(const State&) const = default;
};

State ReferenceState(uint64_t last) {
  State state;
  for (uint64_t sequence = 1; sequence <= last; ++sequence)
    state.Apply(sequence, Payload(sequence));
  return state;
}

// What one Open handed to its handlers, and the journal it returned.
struct Opened {
  std::unique_ptr<Journal> journal;
  RecoveryStats stats;
  uint64_t snapshot_sequence = 0;
  std::vector<uint64_t> sequences;  // replayed records, in order
  State state;                      // the snapshot's state with every replayed record applied
};

Result<Opened> OpenJournal(Env& env, const Options& options) {
  Opened opened;
  RecoveryHandler handler;
  handler.on_snapshot = [&opened](uint64_t sequence, std::string_view snapshot) {
    if (!opened.state.Decode(snapshot)) return Status(Code::kInternal, "bad test snapshot");
    opened.snapshot_sequence = sequence;
    return Status::Ok();
  };
  handler.on_record = [&opened](uint64_t sequence, std::string_view payload) {
    if (payload != Payload(sequence)) return Status(Code::kInternal, "payload differs");
    opened.sequences.push_back(sequence);
    opened.state.Apply(sequence, payload);
    return Status::Ok();
  };
  SURGE_ASSIGN_OR_RETURN(opened.journal, Journal::Open(env, options, handler, &opened.stats));
  return opened;
}

Options DefaultOptions() {
  Options options;
  options.dir = kDir;
  return options;
}

Options SmallSegments(uint64_t segment_bytes_max = 1024) {
  Options options = DefaultOptions();
  options.segment_bytes_max = segment_bytes_max;
  return options;
}

// Appends records `from`..`to`, committing every `batch` records and at the end.
void AppendRange(Journal& journal, uint64_t from, uint64_t to, uint64_t batch) {
  for (uint64_t sequence = from; sequence <= to; ++sequence) {
    ASSERT_EQ(journal.Append(Payload(sequence)), sequence);
    if ((sequence - from + 1) % batch == 0 || sequence == to) {
      ASSERT_TRUE(journal.Commit().ok());
      ASSERT_EQ(journal.durable_sequence(), sequence);
    }
  }
}

std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> sequences;
  for (uint64_t sequence = from; sequence <= to; ++sequence) sequences.push_back(sequence);
  return sequences;
}

size_t CountFiles(Env& env, std::string_view prefix) {
  auto names = env.ListDir(kDir);
  EXPECT_TRUE(names.ok());
  return std::count_if(names->begin(), names->end(),
                       [prefix](const std::string& name) { return name.starts_with(prefix); });
}

CrashOptions KeepUnsynced(uint64_t bytes) {
  CrashOptions options;
  options.keep_unsynced_bytes = [bytes](const std::string&, uint64_t) { return bytes; };
  return options;
}

std::vector<uint64_t> ReadAll(Journal& journal, uint64_t from, size_t limit = SIZE_MAX) {
  std::vector<uint64_t> sequences;
  const Status status = journal.ReadFrom(from, [&](uint64_t sequence, std::string_view payload) {
    EXPECT_EQ(payload, Payload(sequence));
    sequences.push_back(sequence);
    return sequences.size() < limit;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return sequences;
}

TEST(JournalTest, FreshDirectoryOpensEmpty) {
  MemEnv env;
  auto opened = OpenJournal(env, DefaultOptions());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->journal->last_sequence(), 0u);
  EXPECT_EQ(opened->journal->durable_sequence(), 0u);
  EXPECT_EQ(opened->stats.last_sequence, 0u);
  EXPECT_TRUE(opened->journal->Commit().ok()) << "an empty commit is fine";
  EXPECT_EQ(env.OperationCount(FaultOp::kSync), 0u) << "and costs no sync";
  // The directory was created durably.
  env.Crash();
  EXPECT_TRUE(env.FileExists(kDir));
}

TEST(JournalTest, RoundTripAcrossSegmentsAndReopens) {
  MemEnv env;
  {
    auto opened = OpenJournal(env, SmallSegments());
    ASSERT_TRUE(opened.ok());
    AppendRange(*opened->journal, 1, 500, 7);
  }
  EXPECT_GT(CountFiles(env, "segment-"), 10u);
  env.Crash();  // everything was committed: a crash loses nothing

  auto reopened = OpenJournal(env, SmallSegments());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(reopened->sequences, Range(1, 500));
  EXPECT_EQ(reopened->stats.records_replayed, 500u);
  EXPECT_EQ(reopened->stats.torn_bytes_dropped, 0u);
  EXPECT_EQ(reopened->stats.last_sequence, 500u);
  EXPECT_EQ(reopened->journal->durable_sequence(), 500u);

  AppendRange(*reopened->journal, 501, 620, 13);
  reopened->journal.reset();
  env.Crash();
  auto again = OpenJournal(env, SmallSegments());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->sequences, Range(1, 620));
  EXPECT_EQ(again->state, ReferenceState(620));
}

TEST(JournalTest, UncommittedRecordsAreNotDurable) {
  MemEnv env;
  {
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_TRUE(opened.ok());
    AppendRange(*opened->journal, 1, 10, 10);
    opened->journal->Append(Payload(11));
    EXPECT_EQ(opened->journal->last_sequence(), 11u);
    EXPECT_EQ(opened->journal->durable_sequence(), 10u);
  }
  env.Crash();
  auto reopened = OpenJournal(env, DefaultOptions());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->sequences, Range(1, 10));
}

// The last record is written but its sync fails; the crash keeps its first `cut` bytes.
class TornTailTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TornTailTest, EveryCutOfTheLastRecordIsDroppedAndAppendingContinues) {
  const Options options = SmallSegments(GetParam());
  constexpr uint64_t kDurable = 20;
  const uint64_t frame_bytes = FrameBytes(kDurable + 1);
  for (uint64_t cut = 0; cut <= frame_bytes; ++cut) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " bytes");
    MemEnv env;
    {
      auto opened = OpenJournal(env, options);
      ASSERT_TRUE(opened.ok());
      AppendRange(*opened->journal, 1, kDurable, 3);
      env.FailNth(FaultOp::kSync, 1);
      opened->journal->Append(Payload(kDurable + 1));
      ASSERT_EQ(opened->journal->Commit().code(), Code::kIoError);
    }
    env.Crash(KeepUnsynced(cut));

    auto reopened = OpenJournal(env, options);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    const bool whole = cut == frame_bytes;
    const uint64_t last = whole ? kDurable + 1 : kDurable;
    EXPECT_EQ(reopened->sequences, Range(1, last));
    EXPECT_EQ(reopened->stats.torn_bytes_dropped, whole ? 0 : cut);
    EXPECT_EQ(reopened->journal->durable_sequence(), last);

    // Appending continues right after the cut and survives another crash.
    AppendRange(*reopened->journal, last + 1, last + 2, 1);
    reopened->journal.reset();
    env.Crash();
    auto again = OpenJournal(env, options);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->sequences, Range(1, last + 2));
    EXPECT_EQ(again->stats.torn_bytes_dropped, 0u);
  }
}

// A large segment holds everything; a 1-byte limit puts the torn record alone in a new segment.
INSTANTIATE_TEST_SUITE_P(SegmentSizes, TornTailTest, ::testing::Values(64ULL << 20, 1));

TEST(JournalTest, TornBatchKeepsOnlyWholeRecordsOfIt) {
  constexpr uint64_t kDurable = 5;
  const uint64_t batch_bytes = FrameBytes(6) + FrameBytes(7) + FrameBytes(8);
  for (uint64_t cut = 0; cut <= batch_bytes; ++cut) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " bytes");
    MemEnv env;
    {
      auto opened = OpenJournal(env, DefaultOptions());
      ASSERT_TRUE(opened.ok());
      AppendRange(*opened->journal, 1, kDurable, 5);
      env.FailNth(FaultOp::kSync, 1);
      for (uint64_t sequence = 6; sequence <= 8; ++sequence) {
        opened->journal->Append(Payload(sequence));
      }
      ASSERT_FALSE(opened->journal->Commit().ok());
    }
    env.Crash(KeepUnsynced(cut));
    auto reopened = OpenJournal(env, DefaultOptions());
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    uint64_t whole = kDurable;
    uint64_t whole_bytes = 0;
    while (whole < 8 && whole_bytes + FrameBytes(whole + 1) <= cut)
      whole_bytes += FrameBytes(++whole);
    EXPECT_EQ(reopened->sequences, Range(1, whole));
    EXPECT_EQ(reopened->stats.torn_bytes_dropped, cut - whole_bytes);
  }
}

TEST(JournalTest, FlippedBitInTheMiddleFailsOpenNamingFileAndOffset) {
  struct Damage {
    uint64_t offset_in_record;
    uint8_t mask;
    const char* what;
  };
  const Damage damages[] = {
      {kRecordHeaderBytes + 3, 0x10, "checksum"},  // a payload byte
      {0, 0x01, "checksum"},                       // the checksum itself
      {4, 0x01, ""},                               // the length: the frame no longer lines up
      {7, 0x40, "length"},                         // the length, now beyond record_bytes_max
      {8, 0x02, "checksum"},                       // the sequence
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(std::string("byte ") + std::to_string(damage.offset_in_record));
    MemEnv env;
    {
      auto opened = OpenJournal(env, DefaultOptions());
      ASSERT_TRUE(opened.ok());
      AppendRange(*opened->journal, 1, 30, 4);
    }
    const uint64_t record_offset = OffsetOf(1, 10);
    ASSERT_TRUE(
        env.FlipBit(SegmentPath(1), record_offset + damage.offset_in_record, damage.mask).ok());

    auto reopened = OpenJournal(env, DefaultOptions());
    ASSERT_FALSE(reopened.ok());
    const Status& status = reopened.status();
    EXPECT_EQ(status.code(), Code::kCorruption);
    EXPECT_NE(status.message().find(SegmentPath(1)), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("offset " + std::to_string(record_offset)), std::string::npos)
        << status.message();
    EXPECT_NE(status.message().find(damage.what), std::string::npos) << status.message();
  }
}

TEST(JournalTest, DamageInAnEarlierSegmentIsCorruptionEvenAtItsEnd) {
  MemEnv env;
  {
    auto opened = OpenJournal(env, SmallSegments(200));
    ASSERT_TRUE(opened.ok());
    AppendRange(*opened->journal, 1, 40, 1);
  }
  ASSERT_GT(CountFiles(env, "segment-"), 2u);
  // The last byte of the first segment: its last record looks torn, but later segments exist.
  const uint64_t size = *env.FileSize(SegmentPath(1));
  ASSERT_TRUE(env.FlipBit(SegmentPath(1), size - 1).ok());
  auto reopened = OpenJournal(env, SmallSegments(200));
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kCorruption);
  EXPECT_NE(reopened.status().message().find(SegmentPath(1)), std::string::npos);
}

TEST(JournalTest, CrashesAtRandomPointsNeverLoseSyncedRecords) {
  Options options = SmallSegments(600);
  options.snapshot_every_records = 40;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    MemEnv env(seed);
    uint64_t acknowledged = 0;
    uint64_t appended = 0;
    {
      auto opened = OpenJournal(env, options);
      ASSERT_TRUE(opened.ok());
      Journal& journal = *opened->journal;
      // One sync (of a segment or a snapshot) or one directory sync fails somewhere in the run.
      const FaultOp op = seed % 3 == 0 ? FaultOp::kSyncDir : FaultOp::kSync;
      env.FailNth(op, 1 + env.Random() % 50);
      State live;
      while (appended < 400) {
        const uint64_t batch = 1 + env.Random() % 8;
        for (uint64_t i = 0; i < batch; ++i) {
          ++appended;
          ASSERT_EQ(journal.Append(Payload(appended)), appended);
          live.Apply(appended, Payload(appended));
        }
        if (!journal.Commit().ok()) break;
        acknowledged = journal.durable_sequence();
        if (journal.SnapshotDue() && !journal.WriteSnapshot(acknowledged, live.Encode()).ok())
          break;
      }
      if (appended < 400) {
        EXPECT_FALSE(journal.status().ok()) << "stopped early only on an error";
      }
    }
    env.ClearFaults();
    CrashOptions crash;
    crash.tear_at_random = true;
    env.Crash(crash);

    auto reopened = OpenJournal(env, options);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    const uint64_t last = reopened->stats.last_sequence;
    EXPECT_GE(last, acknowledged) << "an acknowledged record was lost";
    EXPECT_LE(last, appended);
    EXPECT_EQ(reopened->state, ReferenceState(last)) << "snapshot + tail differs from the records";
    // And the recovered journal takes new records.
    AppendRange(*reopened->journal, last + 1, last + 3, 2);
  }
}

TEST(JournalTest, SnapshotPlusTailEqualsStraightReplay) {
  Options with_snapshots = SmallSegments(2048);
  with_snapshots.snapshot_every_records = 100;
  Options without = SmallSegments(2048);
  without.dir = "/data/straight";
  MemEnv env;
  {
    auto opened = OpenJournal(env, with_snapshots);
    auto straight = OpenJournal(env, without);
    ASSERT_TRUE(opened.ok() && straight.ok());
    Journal& journal = *opened->journal;
    State live;
    int snapshots = 0;
    for (uint64_t sequence = 1; sequence <= 1000; ++sequence) {
      journal.Append(Payload(sequence));
      straight->journal->Append(Payload(sequence));
      live.Apply(sequence, Payload(sequence));
      if (sequence % 7 != 0) continue;
      ASSERT_TRUE(journal.Commit().ok());
      ASSERT_TRUE(straight->journal->Commit().ok());
      if (journal.SnapshotDue()) {
        ASSERT_TRUE(journal.WriteSnapshot(journal.durable_sequence(), live.Encode()).ok());
        EXPECT_FALSE(journal.SnapshotDue());
        ++snapshots;
      }
    }
    ASSERT_TRUE(journal.Commit().ok());
    ASSERT_TRUE(straight->journal->Commit().ok());
    EXPECT_GE(snapshots, 9);
  }
  env.Crash();
  // Only the two newest snapshots remain, and the segments the older one covers are gone.
  EXPECT_EQ(CountFiles(env, "snapshot-"), 2u);
  EXPECT_FALSE(env.FileExists(SegmentPath(1)));

  auto recovered = OpenJournal(env, with_snapshots);
  auto straight = OpenJournal(env, without);
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_TRUE(straight.ok()) << straight.status().ToString();
  EXPECT_GT(recovered->snapshot_sequence, 900u);
  EXPECT_EQ(recovered->stats.snapshot_sequence, recovered->snapshot_sequence);
  EXPECT_EQ(recovered->stats.records_replayed, 1000 - recovered->snapshot_sequence);
  EXPECT_EQ(recovered->sequences.front(), recovered->snapshot_sequence + 1);
  EXPECT_EQ(straight->stats.records_replayed, 1000u);
  EXPECT_EQ(recovered->state, straight->state);
  EXPECT_EQ(recovered->state, ReferenceState(1000));
}

// Snapshots at 100 and 200 (the older one kept), records up to 250.
void WriteTwoSnapshots(MemEnv& env, const Options& options) {
  auto opened = OpenJournal(env, options);
  ASSERT_TRUE(opened.ok());
  AppendRange(*opened->journal, 1, 100, 10);
  ASSERT_TRUE(opened->journal->WriteSnapshot(100, ReferenceState(100).Encode()).ok());
  AppendRange(*opened->journal, 101, 200, 10);
  ASSERT_TRUE(opened->journal->WriteSnapshot(200, ReferenceState(200).Encode()).ok());
  AppendRange(*opened->journal, 201, 250, 10);
}

// A standby's tail its primary never had: recovery keeps records up to keep_through, drops the
// rest (in the middle of a segment, whole segments, a snapshot beyond it), and appending goes on
// from there with new records in the dropped sequences.
TEST(JournalTest, KeepThroughDropsTheTailForGood) {
  MemEnv env;
  WriteTwoSnapshots(env, SmallSegments());
  {
    Options keep = SmallSegments();
    keep.keep_through = 170;
    auto opened = OpenJournal(env, keep);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->snapshot_sequence, 100u) << "the snapshot at 200 is beyond 170";
    EXPECT_EQ(opened->sequences, Range(101, 170));
    EXPECT_EQ(opened->state, ReferenceState(170));
    EXPECT_EQ(opened->journal->last_sequence(), 170u);
    EXPECT_GT(opened->stats.bytes_beyond_keep_dropped, 0u);
    EXPECT_FALSE(env.FileExists(SnapshotPath(200)));
    AppendRange(*opened->journal, 171, 190, 4);
  }
  env.Crash();
  auto reopened = OpenJournal(env, SmallSegments());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(reopened->journal->last_sequence(), 190u);
  EXPECT_EQ(reopened->state, ReferenceState(190));
  EXPECT_EQ(reopened->stats.bytes_beyond_keep_dropped, 0u);

  // Keeping everything there is, or more, drops nothing.
  reopened->journal.reset();
  Options beyond = SmallSegments();
  beyond.keep_through = 190;
  auto same = OpenJournal(env, beyond);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->journal->last_sequence(), 190u);
  EXPECT_EQ(same->stats.bytes_beyond_keep_dropped, 0u);
}

TEST(JournalTest, DamagedNewestSnapshotFallsBackToThePreviousOne) {
  const Options options = SmallSegments(512);
  MemEnv env;
  WriteTwoSnapshots(env, options);
  ASSERT_TRUE(env.FileExists(SnapshotPath(100)));
  ASSERT_FALSE(env.FileExists(SegmentPath(1))) << "segments covered by snapshot 100 are gone";
  ASSERT_TRUE(env.FlipBit(SnapshotPath(200), kSnapshotHeaderBytes + 3).ok());

  ::testing::internal::CaptureStderr();
  auto reopened = OpenJournal(env, options);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_NE(log.find(SnapshotPath(200) + " is damaged"), std::string::npos) << log;
  EXPECT_NE(log.find("falling back"), std::string::npos) << log;
  EXPECT_EQ(reopened->stats.snapshot_sequence, 100u);
  EXPECT_EQ(reopened->sequences, Range(101, 250));
  EXPECT_EQ(reopened->state, ReferenceState(250));

  // The next snapshot keeps the verified one (100) as its fallback and removes the damaged one.
  AppendRange(*reopened->journal, 251, 260, 10);
  ASSERT_TRUE(reopened->journal->WriteSnapshot(260, ReferenceState(260).Encode()).ok());
  EXPECT_TRUE(env.FileExists(SnapshotPath(100)));
  EXPECT_FALSE(env.FileExists(SnapshotPath(200)));
}

TEST(JournalTest, DamagedSnapshotsLeavingAGapAreCorruption) {
  const Options options = SmallSegments(512);
  MemEnv env;
  WriteTwoSnapshots(env, options);
  ASSERT_TRUE(env.FlipBit(SnapshotPath(200), 0).ok());   // the magic number
  ASSERT_TRUE(env.FlipBit(SnapshotPath(100), 20).ok());  // the sequence field

  auto reopened = OpenJournal(env, options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kCorruption);
  const std::string& message = reopened.status().message();
  EXPECT_NE(message.find(SnapshotPath(200)), std::string::npos) << message;
  EXPECT_NE(message.find(SnapshotPath(100)), std::string::npos) << message;
}

TEST(JournalTest, IoErrorOnSyncPoisonsTheJournal) {
  MemEnv env;
  auto opened = OpenJournal(env, DefaultOptions());
  ASSERT_TRUE(opened.ok());
  Journal& journal = *opened->journal;
  AppendRange(journal, 1, 5, 5);
  env.FailNth(FaultOp::kSync, 1);
  journal.Append(Payload(6));
  const Status failed = journal.Commit();
  EXPECT_EQ(failed.code(), Code::kIoError);
  EXPECT_EQ(journal.durable_sequence(), 5u);
  EXPECT_EQ(journal.status().code(), Code::kIoError);

  // The next sync would succeed, but the journal stays unusable.
  journal.Append(Payload(7));
  EXPECT_EQ(journal.Commit().code(), Code::kIoError);
  EXPECT_EQ(journal.durable_sequence(), 5u);
  EXPECT_EQ(journal.WriteSnapshot(5, "state").code(), Code::kIoError);
  EXPECT_EQ(journal.ReadFrom(1, [](uint64_t, std::string_view) { return true; }).code(),
            Code::kIoError);
  EXPECT_FALSE(journal.SnapshotDue());
}

TEST(JournalTest, IoErrorWhileStartingASegmentPoisons) {
  MemEnv env;
  auto opened = OpenJournal(env, SmallSegments(1));
  ASSERT_TRUE(opened.ok());
  AppendRange(*opened->journal, 1, 3, 1);
  env.FailNth(FaultOp::kSyncDir, 1);
  opened->journal->Append(Payload(4));
  EXPECT_EQ(opened->journal->Commit().code(), Code::kIoError);
  EXPECT_FALSE(opened->journal->status().ok());
}

// Writes a segment file holding records with the given sequences, bypassing the journal.
void WriteRawSegment(MemEnv& env, uint64_t first, const std::vector<uint64_t>& sequences) {
  std::string bytes;
  for (const uint64_t sequence : sequences) EncodeRecord(sequence, Payload(sequence), &bytes);
  ASSERT_TRUE(env.CreateDir(kDir).ok());
  auto file = env.OpenWritable(SegmentPath(first), true);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append(bytes).ok());
  ASSERT_TRUE((*file)->Sync().ok());
}

TEST(JournalTest, SequenceGapOrRepeatInASegmentIsCorruption) {
  const std::vector<std::vector<uint64_t>> cases = {{1, 2, 4, 5}, {1, 2, 2, 3}, {1, 2, 4}};
  for (const auto& sequences : cases) {
    MemEnv env;
    WriteRawSegment(env, 1, sequences);
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_FALSE(opened.ok());
    const std::string& message = opened.status().message();
    EXPECT_EQ(opened.status().code(), Code::kCorruption);
    EXPECT_NE(message.find(SegmentPath(1)), std::string::npos) << message;
    const uint64_t offset = FrameBytes(1) + FrameBytes(2);
    EXPECT_NE(message.find("offset " + std::to_string(offset)), std::string::npos) << message;
    EXPECT_NE(message.find("3 was expected"), std::string::npos) << message;
  }
}

TEST(JournalTest, SegmentsThatDoNotChainAreCorruption) {
  {
    MemEnv env;  // records 4 missing between the segments
    WriteRawSegment(env, 1, {1, 2, 3});
    WriteRawSegment(env, 5, {5, 6});
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::kCorruption);
    EXPECT_NE(opened.status().message().find(SegmentPath(5)), std::string::npos);
  }
  {
    MemEnv env;  // the first segment is missing
    WriteRawSegment(env, 4, {4, 5});
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::kCorruption);
  }
  {
    MemEnv env;  // a segment whose name disagrees with its first record
    WriteRawSegment(env, 1, {1, 2, 3});
    WriteRawSegment(env, 4, {3, 4});
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::kCorruption);
  }
}

TEST(JournalTest, ReadFromVisitsDurableRecordsOnly) {
  MemEnv env;
  auto opened = OpenJournal(env, SmallSegments(700));
  ASSERT_TRUE(opened.ok());
  Journal& journal = *opened->journal;
  AppendRange(journal, 1, 300, 10);
  journal.Append(Payload(301));  // not committed: not visible

  EXPECT_EQ(ReadAll(journal, 0), Range(1, 300));
  EXPECT_EQ(ReadAll(journal, 1), Range(1, 300));
  EXPECT_EQ(ReadAll(journal, 150), Range(150, 300));
  EXPECT_EQ(ReadAll(journal, 150, 5), Range(150, 154));
  EXPECT_EQ(ReadAll(journal, 300), Range(300, 300));
  EXPECT_TRUE(ReadAll(journal, 301).empty());
  ASSERT_TRUE(journal.Commit().ok());
  EXPECT_EQ(ReadAll(journal, 299), Range(299, 301));
}

// Reads 40 records from every 53rd sequence of 900 records of about 3 KB.
void ExpectReadsFromAnywhere(Journal& journal, const std::string& filler) {
  for (uint64_t from = 1; from <= 900; from += 53) {
    uint64_t expected = from;
    const Status status = journal.ReadFrom(from, [&](uint64_t sequence, std::string_view payload) {
      EXPECT_EQ(sequence, expected);
      EXPECT_EQ(payload, filler + std::to_string(sequence));
      ++expected;
      return expected < from + 40;
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(expected, std::min<uint64_t>(from + 40, 901));
  }
}

TEST(JournalTest, ReadFromStartsAnywhereInLargeSegments) {
  MemEnv env;
  Options options = DefaultOptions();
  options.segment_bytes_max = 1 << 20;
  const std::string filler(3000, 'x');
  // Once as written and once as recovered: both build the index that ReadFrom starts from.
  {
    auto written = Journal::Open(env, options, {});
    ASSERT_TRUE(written.ok());
    for (uint64_t sequence = 1; sequence <= 900; ++sequence) {
      (*written)->Append(filler + std::to_string(sequence));
      if (sequence % 3 == 0) {
        ASSERT_TRUE((*written)->Commit().ok());
      }
    }
    ExpectReadsFromAnywhere(**written, filler);
  }
  EXPECT_GE(CountFiles(env, "segment-"), 2u);
  auto recovered = Journal::Open(env, options, {});
  ASSERT_TRUE(recovered.ok());
  ExpectReadsFromAnywhere(**recovered, filler);
}

TEST(JournalTest, ReadFromReportsDamageWithoutPoisoning) {
  MemEnv env;
  auto opened = OpenJournal(env, SmallSegments(300));
  ASSERT_TRUE(opened.ok());
  Journal& journal = *opened->journal;
  AppendRange(journal, 1, 40, 4);
  ASSERT_TRUE(env.FlipBit(SegmentPath(1), OffsetOf(1, 2) + kRecordHeaderBytes).ok());
  std::vector<uint64_t> visited;
  const Status status = journal.ReadFrom(1, [&](uint64_t sequence, std::string_view) {
    visited.push_back(sequence);
    return true;
  });
  EXPECT_EQ(status.code(), Code::kCorruption);
  EXPECT_NE(status.message().find(SegmentPath(1) + " at offset " + std::to_string(OffsetOf(1, 2))),
            std::string::npos)
      << status.message();
  EXPECT_EQ(visited, Range(1, 1));
  // Writing is unaffected.
  EXPECT_TRUE(journal.status().ok());
  AppendRange(journal, 41, 42, 2);
}

TEST(JournalTest, ReadFromBeforeTheOldestSegmentIsNotFound) {
  const Options options = SmallSegments(512);
  MemEnv env;
  WriteTwoSnapshots(env, options);
  auto reopened = OpenJournal(env, options);
  ASSERT_TRUE(reopened.ok());
  const Status status = reopened->journal->ReadFrom(1, [](uint64_t, std::string_view) {
    ADD_FAILURE() << "nothing should be visited";
    return true;
  });
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_EQ(ReadAll(*reopened->journal, 120), Range(120, 250));
}

std::vector<uint64_t> ReadDurableAll(Env& env, uint64_t from, uint64_t through, Status* status,
                                     size_t limit = SIZE_MAX) {
  std::vector<uint64_t> sequences;
  *status = ReadDurable(env, kDir, from, through, Options().record_bytes_max,
                        [&](uint64_t sequence, std::string_view payload) {
                          EXPECT_EQ(payload, Payload(sequence));
                          sequences.push_back(sequence);
                          return sequences.size() < limit;
                        });
  return sequences;
}

TEST(JournalTest, ReadDurableReadsAnyRangeAcrossSegments) {
  MemEnv env;
  auto opened = OpenJournal(env, SmallSegments(700));
  ASSERT_TRUE(opened.ok());
  AppendRange(*opened->journal, 1, 300, 10);
  ASSERT_GT(CountFiles(env, "segment-"), 5u);
  opened->journal->Append(Payload(301));  // appended, not durable: never read
  Status status;
  EXPECT_EQ(ReadDurableAll(env, 0, 300, &status), Range(1, 300));
  EXPECT_TRUE(status.ok()) << status.ToString();
  for (uint64_t from = 1; from <= 300; from += 37) {
    EXPECT_EQ(ReadDurableAll(env, from, std::min<uint64_t>(from + 50, 300), &status),
              Range(from, std::min<uint64_t>(from + 50, 300)));
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  EXPECT_EQ(ReadDurableAll(env, 100, 300, &status, 3), Range(100, 102));
  EXPECT_TRUE(ReadDurableAll(env, 200, 199, &status).empty());
  EXPECT_TRUE(status.ok());
  // Beyond what is on disk: not_found, after what there is.
  EXPECT_EQ(ReadDurableAll(env, 290, 400, &status), Range(290, 300));
  EXPECT_EQ(status.code(), Code::kNotFound) << status.ToString();
}

TEST(JournalTest, ReadDurableBeforeTheOldestSegmentOrOnDamage) {
  const Options options = SmallSegments(512);
  MemEnv env;
  WriteTwoSnapshots(env, options);
  Status status;
  EXPECT_TRUE(ReadDurableAll(env, 1, 250, &status).empty());
  EXPECT_EQ(status.code(), Code::kNotFound) << status.ToString();
  EXPECT_EQ(ReadDurableAll(env, 120, 250, &status), Range(120, 250));
  EXPECT_TRUE(status.ok()) << status.ToString();

  MemEnv damaged;
  auto opened = OpenJournal(damaged, SmallSegments(300));
  ASSERT_TRUE(opened.ok());
  AppendRange(*opened->journal, 1, 40, 4);
  ASSERT_TRUE(damaged.FlipBit(SegmentPath(1), OffsetOf(1, 2) + kRecordHeaderBytes).ok());
  EXPECT_EQ(ReadDurableAll(damaged, 1, 40, &status), Range(1, 1));
  EXPECT_EQ(status.code(), Code::kCorruption);
  EXPECT_NE(status.message().find(SegmentPath(1)), std::string::npos) << status.message();
}

// The bus reads what the center made durable while the center's writer keeps appending.
TEST(JournalTest, ReadDurableFromAnotherThreadWhileTheOwnerAppends) {
  MemEnv env;
  auto opened = OpenJournal(env, SmallSegments(2048));
  ASSERT_TRUE(opened.ok());
  Journal& journal = *opened->journal;
  std::atomic<uint64_t> durable{0};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t sequence = 1; sequence <= 3000; ++sequence) {
      journal.Append(Payload(sequence));
      if (sequence % 7 == 0 || sequence == 3000) {
        ASSERT_TRUE(journal.Commit().ok());
        durable.store(sequence);
      }
    }
    done = true;
  });
  uint64_t next = 1;
  while (next <= 3000) {
    const uint64_t through = durable.load();
    if (through < next) {
      if (done.load() && durable.load() < next) break;
      std::this_thread::yield();
      continue;
    }
    Status status;
    const std::vector<uint64_t> got = ReadDurableAll(env, next, through, &status);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_EQ(got, Range(next, through));
    next = through + 1;
  }
  writer.join();
  EXPECT_EQ(next, 3001u);
}

TEST(JournalTest, InvalidSnapshotRequestsDoNotPoison) {
  MemEnv env;
  auto opened = OpenJournal(env, DefaultOptions());
  ASSERT_TRUE(opened.ok());
  Journal& journal = *opened->journal;
  AppendRange(journal, 1, 10, 10);
  journal.Append(Payload(11));
  EXPECT_EQ(journal.WriteSnapshot(0, "s").code(), Code::kInvalidArgument);
  EXPECT_EQ(journal.WriteSnapshot(11, "s").code(), Code::kInvalidArgument) << "not durable yet";
  ASSERT_TRUE(journal.WriteSnapshot(8, ReferenceState(8).Encode()).ok());
  EXPECT_EQ(journal.WriteSnapshot(7, "s").code(), Code::kInvalidArgument) << "older";
  EXPECT_TRUE(journal.status().ok());
  EXPECT_TRUE(journal.Commit().ok());
}

TEST(JournalTest, HandlerErrorAbortsOpen) {
  MemEnv env;
  {
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_TRUE(opened.ok());
    AppendRange(*opened->journal, 1, 10, 10);
  }
  RecoveryHandler handler;
  handler.on_record = [](uint64_t sequence, std::string_view) {
    return sequence == 4 ? Status(Code::kInternal, "cannot apply 4") : Status::Ok();
  };
  auto opened = Journal::Open(env, DefaultOptions(), handler);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().message(), "cannot apply 4");
}

TEST(JournalTest, LeftoverSnapshotTemporaryIsRemovedAndStrangersIgnored) {
  MemEnv env;
  {
    auto opened = OpenJournal(env, DefaultOptions());
    ASSERT_TRUE(opened.ok());
    AppendRange(*opened->journal, 1, 10, 10);
    env.FailNth(FaultOp::kRename, 1);  // the snapshot is written but never renamed into place
    EXPECT_FALSE(opened->journal->WriteSnapshot(10, ReferenceState(10).Encode()).ok());
  }
  ASSERT_TRUE(env.FileExists(SnapshotPath(10) + ".tmp"));
  auto stranger = env.OpenWritable(JoinPath(kDir, "README"), false);
  ASSERT_TRUE(stranger.ok());
  auto reopened = OpenJournal(env, DefaultOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(reopened->stats.snapshot_sequence, 0u);
  EXPECT_EQ(reopened->sequences, Range(1, 10));
  EXPECT_FALSE(env.FileExists(SnapshotPath(10) + ".tmp"));
  EXPECT_TRUE(env.FileExists(JoinPath(kDir, "README")));
}

TEST(JournalTest, RejectsBadOptions) {
  MemEnv env;
  Options options = DefaultOptions();
  options.dir.clear();
  EXPECT_EQ(Journal::Open(env, options, {}).status().code(), Code::kInvalidArgument);
  options = DefaultOptions();
  options.record_bytes_max = 0;
  EXPECT_EQ(Journal::Open(env, options, {}).status().code(), Code::kInvalidArgument);
}

TEST(JournalRealDiskTest, BasicsOnTheRealFileSystem) {
  char pattern[] = "/tmp/surge-journal-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string root = pattern;
  Options options;
  options.dir = root + "/j";
  options.segment_bytes_max = 4096;
  Env& env = *Env::Default();
  {
    auto opened = OpenJournal(env, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    AppendRange(*opened->journal, 1, 300, 16);
    ASSERT_TRUE(opened->journal->WriteSnapshot(200, ReferenceState(200).Encode()).ok());
    opened->journal->Append(Payload(301));  // never committed
  }
  {
    auto opened = OpenJournal(env, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->stats.snapshot_sequence, 200u);
    EXPECT_EQ(opened->sequences, Range(201, 300));
    EXPECT_EQ(opened->state, ReferenceState(300));
    EXPECT_EQ(ReadAll(*opened->journal, 1), Range(1, 300));
    AppendRange(*opened->journal, 301, 310, 4);
  }
  // Cut the last segment in the middle of its last record: a torn tail on a real file.
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir)) {
    if (entry.path().filename().string().starts_with("segment-")) segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_FALSE(segments.empty());
  const uint64_t size = std::filesystem::file_size(segments.back());
  std::filesystem::resize_file(segments.back(), size - 3);
  {
    auto opened = OpenJournal(env, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->stats.last_sequence, 309u);
    EXPECT_EQ(opened->stats.torn_bytes_dropped, FrameBytes(310) - 3);
    EXPECT_EQ(std::filesystem::file_size(segments.back()), size - FrameBytes(310));
  }
  std::filesystem::remove_all(root);
}

// ---- Snapshots across journals: seeding a hot standby ---------------------------------------

// The newest snapshot, as another process reads it while the owner keeps writing; a damaged one
// is passed over for the previous one.
TEST(JournalTest, ReadNewestSnapshotFindsTheNewestThatVerifies) {
  MemEnv env;
  auto none = ReadNewestSnapshot(env, kDir);
  EXPECT_FALSE(none.ok()) << "no directory yet";
  WriteTwoSnapshots(env, SmallSegments());
  auto newest = ReadNewestSnapshot(env, kDir);
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ(newest->sequence, 200u);
  EXPECT_EQ(newest->state, ReferenceState(200).Encode());

  ASSERT_TRUE(env.FlipBit(SnapshotPath(200), kSnapshotHeaderBytes + 1).ok());
  auto previous = ReadNewestSnapshot(env, kDir);
  ASSERT_TRUE(previous.ok()) << previous.status().ToString();
  EXPECT_EQ(previous->sequence, 100u);
  EXPECT_EQ(previous->state, ReferenceState(100).Encode());

  ASSERT_TRUE(env.FlipBit(SnapshotPath(100), 0).ok());
  auto damaged = ReadNewestSnapshot(env, kDir);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), Code::kNotFound);
  EXPECT_NE(damaged.status().message().find(SnapshotPath(100) + " is damaged"), std::string::npos)
      << damaged.status().ToString();
}

// Every segment and snapshot of the old journal goes; Open recovers exactly the snapshot, with no
// record, and appending follows on from it, across a crash and a later snapshot of its own.
TEST(JournalTest, AnInstalledSnapshotIsAllThatOpenRecovers) {
  MemEnv env;
  WriteTwoSnapshots(env, SmallSegments());
  ASSERT_GT(CountFiles(env, "segment-"), 1u);
  ASSERT_TRUE(InstallSnapshot(env, kDir, 500, ReferenceState(500).Encode()).ok());
  std::vector<std::string> names = *env.ListDir(kDir);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{SegmentName(501), SnapshotName(500)}))
      << "nothing of the old journal is left";
  {
    auto opened = OpenJournal(env, SmallSegments());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->snapshot_sequence, 500u);
    EXPECT_EQ(opened->stats.snapshot_sequence, 500u);
    EXPECT_TRUE(opened->sequences.empty());
    EXPECT_EQ(opened->state, ReferenceState(500));
    EXPECT_EQ(opened->journal->last_sequence(), 500u);
    EXPECT_EQ(opened->journal->durable_sequence(), 500u);
    EXPECT_EQ(
        opened->journal->ReadFrom(400, [](uint64_t, std::string_view) { return true; }).code(),
        Code::kNotFound);
    AppendRange(*opened->journal, 501, 560, 7);
    EXPECT_EQ(ReadAll(*opened->journal, 501), Range(501, 560));
  }
  env.Crash();
  Options options = SmallSegments();
  options.snapshot_every_records = 50;
  {
    auto reopened = OpenJournal(env, options);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    EXPECT_EQ(reopened->snapshot_sequence, 500u);
    EXPECT_EQ(reopened->sequences, Range(501, 560));
    EXPECT_EQ(reopened->state, ReferenceState(560));
    ASSERT_TRUE(reopened->journal->SnapshotDue());
    ASSERT_TRUE(reopened->journal->WriteSnapshot(560, ReferenceState(560).Encode()).ok());
    AppendRange(*reopened->journal, 561, 570, 3);
  }
  auto again = OpenJournal(env, options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->snapshot_sequence, 560u);
  EXPECT_EQ(again->state, ReferenceState(570));
  // Into a directory that does not exist yet (a standby on a new disk).
  ASSERT_TRUE(InstallSnapshot(env, "/fresh/disk/journal", 7, ReferenceState(7).Encode()).ok());
  Options fresh = DefaultOptions();
  fresh.dir = "/fresh/disk/journal";
  auto seeded = OpenJournal(env, fresh);
  ASSERT_TRUE(seeded.ok()) << seeded.status().ToString();
  EXPECT_EQ(seeded->state, ReferenceState(7));
  EXPECT_EQ(seeded->journal->Append(Payload(8)), 8u);
  EXPECT_EQ(InstallSnapshot(env, kDir, 0, "x").code(), Code::kInvalidArgument);
}

// A crash anywhere in InstallSnapshot leaves either the old journal or the installed snapshot,
// never a directory that Open refuses or a mix of both.
TEST(JournalTest, ACrashDuringInstallLeavesTheOldJournalOrTheNewSnapshot) {
  const FaultOp ops[] = {FaultOp::kOpenWritable, FaultOp::kSync, FaultOp::kRename, FaultOp::kRemove,
                         FaultOp::kSyncDir};
  int old_seen = 0;
  int new_seen = 0;
  for (const FaultOp op : ops) {
    for (uint64_t n = 1; n <= 12; ++n) {
      for (const bool keep_directory_changes : {false, true}) {
        SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)) + " n " + std::to_string(n) +
                     (keep_directory_changes ? " keeping directory changes" : ""));
        MemEnv env(n);
        WriteTwoSnapshots(env, SmallSegments());
        // The process dies at that operation: it and everything after it fail.
        env.FailNth(op, n, /*sticky=*/true);
        const Status installed = InstallSnapshot(env, kDir, 500, ReferenceState(500).Encode());
        env.ClearFaults();
        CrashOptions crash;
        crash.keep_unsynced_directory_changes = keep_directory_changes;
        env.Crash(crash);
        auto opened = OpenJournal(env, SmallSegments());
        ASSERT_TRUE(opened.ok()) << opened.status().ToString();
        if (opened->journal->last_sequence() == 500) {
          ++new_seen;
          EXPECT_EQ(opened->snapshot_sequence, 500u);
          EXPECT_TRUE(opened->sequences.empty());
          EXPECT_EQ(opened->state, ReferenceState(500));
          EXPECT_EQ(CountFiles(env, "segment-"), 1u);
          EXPECT_EQ(CountFiles(env, "snapshot-"), 1u);
        } else {
          ++old_seen;
          EXPECT_FALSE(installed.ok()) << "an install that returned ok was lost";
          EXPECT_EQ(opened->journal->last_sequence(), 250u);
          EXPECT_EQ(opened->state, ReferenceState(250));
        }
        AppendRange(*opened->journal, opened->journal->last_sequence() + 1,
                    opened->journal->last_sequence() + 5, 2);
      }
    }
  }
  EXPECT_GT(old_seen, 0);
  EXPECT_GT(new_seen, 0);
}

}  // namespace
}  // namespace surge::journal
