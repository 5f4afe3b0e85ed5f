// Snapshots: restore gives back the same state (same hash, same answers to what comes next), the
// bytes depend only on the state, and damaged snapshots fail cleanly without touching the state.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"
#include "trade/trade_model_testing.h"

namespace surge::trade {
namespace {

const Options kOptions{"o.t."};  // the prefix testing::Generator uses

// A Trade after the generator's setup and `count` random commands: orders in every state,
// remembered errors, campaigns opened and closed.
class Scenario {
 public:
  explicit Scenario(uint64_t seed) : generator_(seed, kOptions.order_id_prefix) {}

  std::unique_ptr<Trade> Build(size_t count) {
    auto trade = Trade::Create(kOptions);
    for (const Command& command : generator_.Setup()) trade->Apply(command);
    for (size_t i = 0; i < count; ++i) trade->Apply(generator_.Next());
    return trade;
  }
  Command Next() { return generator_.Next(); }

 private:
  testing::Generator generator_;
};

std::string WithFixedChecksum(std::string snapshot) {
  const uint32_t crc = Crc32c(std::string_view(snapshot).substr(0, snapshot.size() - 4));
  std::memcpy(snapshot.data() + snapshot.size() - 4, &crc, 4);
  return snapshot;
}

TEST(TradeSnapshotTest, RestoreGivesTheSameHashAndTheSameFutureReplies) {
  Scenario scenario(7);
  const auto original = scenario.Build(3'000);
  ASSERT_GT(original->order_count(), 100u);
  const auto restored = Trade::Create(kOptions);
  ASSERT_TRUE(restored->Restore(original->Snapshot()).ok());
  EXPECT_EQ(restored->StateHash(), original->StateHash());
  EXPECT_EQ(restored->Snapshot(), original->Snapshot());
  EXPECT_EQ(restored->last_now_ms(), original->last_now_ms());
  EXPECT_EQ(restored->NextExpiryMs(), original->NextExpiryMs());

  for (int i = 0; i < 2'000; ++i) {
    const Command command = scenario.Next();
    const Reply expected = original->Apply(command);
    const Reply got = restored->Apply(command);
    ASSERT_EQ(got.status.ToString(), expected.status.ToString()) << testing::Describe(command);
    ASSERT_EQ(got.value, expected.value) << testing::Describe(command);
    ASSERT_EQ(got.replayed, expected.replayed);
  }
  EXPECT_EQ(restored->StateHash(), original->StateHash());
  EXPECT_TRUE(restored->CheckInvariants().ok());
}

TEST(TradeSnapshotTest, EmptyStateRoundTrips) {
  const auto empty = Trade::Create(kOptions);
  const auto restored = Trade::Create(kOptions);
  ASSERT_TRUE(restored->Restore(empty->Snapshot()).ok());
  EXPECT_EQ(restored->StateHash(), empty->StateHash());
}

TEST(TradeSnapshotTest, RestoreReplacesWhateverStateWasThere) {
  const auto source = Scenario(1).Build(500);
  const auto target = Scenario(2).Build(500);
  ASSERT_NE(target->StateHash(), source->StateHash());
  ASSERT_TRUE(target->Restore(source->Snapshot()).ok());
  EXPECT_EQ(target->StateHash(), source->StateHash());
}

TEST(TradeSnapshotTest, BytesDependOnTheStateNotOnTheOrderOfCreation) {
  const std::vector<Body> forward_order = {
      PutMerchant{"m1", "One"},
      PutMerchant{"m2", "Two"},
      PutUser{"adam", "south"},
      PutUser{"zoe", "north"},
      PutProduct{"s1", "m1", "A", "a", 100},
      PutProduct{"s2", "m2", "B", "b", 200},
      PutInventory{"s1", 5},
      PutInventory{"s2", 5},
  };
  const std::vector<Body> backward_order = {
      PutMerchant{"m2", "Two"},
      PutMerchant{"m1", "One"},
      PutUser{"zoe", "north"},
      PutUser{"adam", "south"},
      PutProduct{"s2", "m2", "B", "b", 200},
      PutProduct{"s1", "m1", "A", "a", 100},
      PutInventory{"s2", 5},
      PutInventory{"s1", 5},
  };
  const auto forward = Trade::Create(kOptions);
  const auto backward = Trade::Create(kOptions);
  for (const Body& body : forward_order) ASSERT_TRUE(forward->Apply(Command{1, body}).status.ok());
  for (const Body& body : backward_order) {
    ASSERT_TRUE(backward->Apply(Command{1, body}).status.ok());
  }
  for (Trade* trade : {forward.get(), backward.get()}) {
    ASSERT_TRUE(trade->Apply(Command{2, PlaceOrder{"r1", "zoe", {{"s1", 2}}}}).status.ok());
    ASSERT_TRUE(trade->Apply(Command{2, PlaceOrder{"r0", "adam", {{"s2", 1}}}}).status.ok());
  }
  EXPECT_EQ(forward->Snapshot(), backward->Snapshot());
  EXPECT_EQ(forward->StateHash(), backward->StateHash());

  backward->Apply(Command{4, PayOrder{"o.t.1"}});
  EXPECT_NE(forward->StateHash(), backward->StateHash());
}

TEST(TradeSnapshotTest, EveryTruncationFailsAndLeavesTheStateAlone) {
  const std::string snapshot = Scenario(3).Build(200)->Snapshot();
  const auto trade = Scenario(4).Build(100);
  const uint64_t before = trade->StateHash();
  for (size_t size = 0; size < snapshot.size(); ++size) {
    const Status status = trade->Restore(std::string_view(snapshot).substr(0, size));
    ASSERT_EQ(status.code(), Code::kCorruption) << size;
  }
  EXPECT_EQ(trade->StateHash(), before);
}

TEST(TradeSnapshotTest, EveryFlippedBitFailsAndLeavesTheStateAlone) {
  const std::string snapshot = Scenario(5).Build(200)->Snapshot();
  const auto trade = Scenario(6).Build(100);
  const uint64_t before = trade->StateHash();
  for (size_t bit = 0; bit < snapshot.size() * 8; ++bit) {
    std::string damaged = snapshot;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_EQ(trade->Restore(damaged).code(), Code::kCorruption) << bit;
  }
  EXPECT_EQ(trade->StateHash(), before);
}

// Damage that the checksum cannot see (a writer bug, or a crafted file): every field is checked
// on its own, so a restore either fails or yields a state that keeps every invariant.
TEST(TradeSnapshotTest, DamageBehindAValidChecksumNeverBreaksAnInvariant) {
  const std::string snapshot = Scenario(8).Build(150)->Snapshot();
  const auto trade = Trade::Create(kOptions);
  size_t refused = 0;
  for (size_t at = 0; at + 4 < snapshot.size(); ++at) {
    for (const uint8_t change : {0x01, 0x02, 0x80, 0xff}) {
      std::string damaged = snapshot;
      damaged[at] = static_cast<char>(damaged[at] ^ change);
      const Status status = trade->Restore(WithFixedChecksum(damaged));
      if (!status.ok()) {
        ASSERT_TRUE(status.code() == Code::kCorruption || status.code() == Code::kInvalidArgument)
            << status.ToString();
        ++refused;
        continue;
      }
      ASSERT_TRUE(trade->CheckInvariants().ok()) << at;
      // What was accepted is a state like any other: its own snapshot restores to itself. (Its
      // bytes may differ from the damaged ones: a varint can be written non-minimally.)
      const std::string canonical = trade->Snapshot();
      ASSERT_TRUE(trade->Restore(canonical).ok()) << at;
      ASSERT_EQ(trade->Snapshot(), canonical) << at;
    }
  }
  EXPECT_GT(refused, snapshot.size());  // most damage is caught
}

TEST(TradeSnapshotTest, RestoreRefusesASnapshotOfAnotherPrefix) {
  const auto other = Trade::Create(Options{"o.c9."});
  other->Apply(Command{1, PutMerchant{"m1", "One"}});
  const auto trade = Scenario(9).Build(50);
  const uint64_t before = trade->StateHash();
  const Status status = trade->Restore(other->Snapshot());
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_NE(status.message().find("o.c9."), std::string::npos);
  EXPECT_EQ(trade->StateHash(), before);
}

// Version 1 had neither the centers (a single center has none), nor the count of events recorded
// and the applied positions (here none either): such a snapshot restores to the same state.
TEST(TradeSnapshotTest, ReadsSingleCenterSnapshotsOfVersionOne) {
  Scenario scenario(3);
  const auto original = scenario.Build(500);
  const std::string current = original->Snapshot();
  const size_t centers_at = 4 + 1 + 1 + kOptions.order_id_prefix.size();  // magic, version, prefix
  ASSERT_EQ(current[centers_at], 0);
  size_t events_at = centers_at + 1;
  while ((static_cast<uint8_t>(current[events_at]) & 0x80) != 0) ++events_at;  // last_now_ms
  ++events_at;
  ASSERT_EQ(current.substr(events_at, 2), std::string(2, '\0'));  // events, applied positions
  std::string old = current;
  old.erase(events_at, 2);
  old.erase(centers_at, 1);
  old[4] = 1;
  const auto restored = Trade::Create(kOptions);
  ASSERT_TRUE(restored->Restore(WithFixedChecksum(old)).ok());
  EXPECT_EQ(restored->Snapshot(), current);
}

TEST(TradeSnapshotTest, UnknownFormatVersionFails) {
  std::string snapshot = Trade::Create(kOptions)->Snapshot();
  snapshot[4] = 4;  // after the 4-byte magic
  const Status status = Trade::Create(kOptions)->Restore(WithFixedChecksum(snapshot));
  EXPECT_EQ(status.code(), Code::kCorruption);
  EXPECT_NE(status.message().find("version"), std::string::npos);
}

}  // namespace
}  // namespace surge::trade
