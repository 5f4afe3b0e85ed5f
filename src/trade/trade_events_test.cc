// Order events: which transitions record one and what it holds, CampaignDeltas, and the journal
// record of events (round trips, truncations, damage, and telling it apart from a command).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"
#include "trade/trade_events_testing.h"

namespace surge::trade {
namespace {

// A shop with a phone on sale (2 units per user, reservations held 100 ms, open [1000, 5000)) and
// regular stock of a case; `record` turns events on.
std::unique_ptr<Trade> Shop(bool record) {
  Options options{"o."};
  options.record_events = record;
  auto trade = Trade::Create(options);
  for (const Body& body : std::vector<Body>{
           PutMerchant{"acme", "Acme"},
           PutProduct{"phone", "acme", "Phone", "phones", 1000},
           PutProduct{"case", "acme", "Case", "cases", 50},
           PutInventory{"case", 100},
           PutCampaign{"sale", "phone", 10, 600, 1000, 5000, 2, 100},
           PutUser{"alice", "north"},
           PutUser{"bob", "south"},
       }) {
    SURGE_ASSERT(trade->Apply(Command{1000, body}).status.ok());
  }
  return trade;
}

std::vector<OrderEvent> Take(Trade& trade) {
  std::vector<OrderEvent> events;
  trade.TakeEvents(&events);
  return events;
}

std::string Encode(uint64_t through, const std::vector<OrderEvent>& events) {
  std::string bytes;
  EncodeEvents(through, events, &bytes);
  return bytes;
}

std::vector<OrderEvent> Slice(const std::vector<OrderEvent>& events, size_t begin, size_t count) {
  return {events.begin() + begin, events.begin() + begin + count};
}

TEST(OrderEventsTest, EveryTransitionRecordsTheOrderAsItIsAfterIt) {
  auto trade = Shop(true);
  const auto apply = [&](int64_t now_ms, Body body) {
    const Reply reply = trade->Apply(Command{now_ms, std::move(body)});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
  };
  EXPECT_TRUE(Take(*trade).empty());  // master data records nothing
  apply(1000, PlaceOrder{"r1", "alice", {{"phone", 1}, {"case", 2}}});
  apply(1010, PayOrder{"o.1"});
  apply(1020, PlaceOrder{"r2", "bob", {{"phone", 1}}});
  apply(1030, CancelOrder{"o.2"});
  apply(1040, PlaceOrder{"r3", "bob", {{"phone", 2}}});
  apply(1150, Tick{});  // o.3 expired at 1140
  apply(1200, PlaceOrder{"r4", "alice", {{"phone", 1}}});
  apply(1300, PutUser{"carol", "east"});  // any command expires what is due: o.4
  // Neither retries nor idempotent repeats are transitions.
  apply(1300, PlaceOrder{"r1", "alice", {{"phone", 1}, {"case", 2}}});
  apply(1300, PayOrder{"o.1"});
  apply(1300, CancelOrder{"o.2"});

  const std::vector<OrderEvent> events = Take(*trade);
  const std::vector<std::pair<OrderEventType, int64_t>> expected = {
      {OrderEventType::kCreated, 1000}, {OrderEventType::kPaid, 1010},
      {OrderEventType::kCreated, 1020}, {OrderEventType::kCancelled, 1030},
      {OrderEventType::kCreated, 1040}, {OrderEventType::kExpired, 1150},
      {OrderEventType::kCreated, 1200}, {OrderEventType::kExpired, 1300}};
  ASSERT_EQ(events.size(), expected.size());
  const std::vector<std::string> order_ids = {"o.1", "o.1", "o.2", "o.2",
                                              "o.3", "o.3", "o.4", "o.4"};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].number, i + 1);
    EXPECT_EQ(events[i].type, expected[i].first) << i;
    EXPECT_EQ(events[i].at_ms, expected[i].second) << i;
    EXPECT_EQ(events[i].order.order_id, order_ids[i]) << i;
  }
  // The last event of each order shows it as it is now.
  EXPECT_EQ(events[1].order, *trade->GetOrder("o.1", 1300));
  EXPECT_EQ(events[3].order, *trade->GetOrder("o.2", 1300));
  EXPECT_EQ(events[5].order, *trade->GetOrder("o.3", 1300));
  EXPECT_EQ(events[7].order.status, OrderStatus::kExpired);
  EXPECT_EQ(events[0].order.status, OrderStatus::kReserved);
  EXPECT_EQ(events[0].order.items.size(), 2u);
  EXPECT_TRUE(Take(*trade).empty());  // taken
}

// The numbering is part of the state: a restored state goes on where the snapshot stopped.
TEST(OrderEventsTest, NumbersGoOnAfterRestore) {
  auto trade = Shop(true);
  ASSERT_TRUE(trade->Apply(Command{1000, PlaceOrder{"r1", "alice", {{"phone", 1}}}}).status.ok());
  ASSERT_TRUE(trade->Apply(Command{1000, PayOrder{"o.1"}}).status.ok());
  auto restored = Shop(true);
  ASSERT_TRUE(restored->Restore(trade->Snapshot()).ok());
  EXPECT_TRUE(Take(*restored).empty());
  ASSERT_TRUE(restored->Apply(Command{1000, PlaceOrder{"r2", "bob", {{"phone", 1}}}}).status.ok());
  const std::vector<OrderEvent> events = Take(*restored);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].number, 3u);

  // The same orders, without their events recorded: another state.
  auto unrecorded = Shop(false);
  ASSERT_TRUE(
      unrecorded->Apply(Command{1000, PlaceOrder{"r1", "alice", {{"phone", 1}}}}).status.ok());
  ASSERT_TRUE(unrecorded->Apply(Command{1000, PayOrder{"o.1"}}).status.ok());
  EXPECT_NE(unrecorded->StateHash(), trade->StateHash());
}

TEST(OrderEventsTest, NothingIsRecordedWhenOff) {
  auto trade = Shop(false);
  ASSERT_TRUE(trade->Apply(Command{1000, PlaceOrder{"r1", "alice", {{"phone", 1}}}}).status.ok());
  ASSERT_TRUE(trade->Apply(Command{1000, PayOrder{"o.1"}}).status.ok());
  EXPECT_TRUE(Take(*trade).empty());
}

TEST(OrderEventsTest, TakeEventsAppendsAndRestoreDropsWhatWasPending) {
  auto trade = Shop(true);
  ASSERT_TRUE(trade->Apply(Command{1000, PlaceOrder{"r1", "alice", {{"phone", 1}}}}).status.ok());
  std::vector<OrderEvent> events(1);
  trade->TakeEvents(&events);
  EXPECT_EQ(events.size(), 2u);
  ASSERT_TRUE(trade->Apply(Command{1000, PayOrder{"o.1"}}).status.ok());
  ASSERT_TRUE(trade->Restore(Shop(false)->Snapshot()).ok());
  EXPECT_TRUE(Take(*trade).empty());
}

// What the center journals: the pending events encoded straight from the state are the bytes of
// EncodeEvents of the same events taken, in any slice; dropping forgets a prefix.
TEST(OrderEventsTest, EncodingPendingEventsIsEncodingTheTakenEvents) {
  auto trade = Shop(true);
  ASSERT_TRUE(
      trade->Apply(Command{1000, PutCampaign{"case-sale", "case", 5, 40, 1000, 5000, 3, 100}})
          .status.ok());
  ASSERT_TRUE(
      trade->Apply(Command{1000, PutUser{"a-user-with-a-rather-long-id", "west"}}).status.ok());
  for (const Command& command : std::vector<Command>{
           {1000, PlaceOrder{"r1", "alice", {{"phone", 2}, {"case", 1}}}},
           {1000,
            PlaceOrder{
                "a-request-id-longer-than-sso", "a-user-with-a-rather-long-id", {{"case", 2}}}},
           {1010, PayOrder{"o.1"}},
           {1020, PlaceOrder{"r3", "bob", {{"phone", 1}}}},
           {1030, CancelOrder{"o.2"}},
           {1040, PlaceOrder{"r4", "bob", {{"case", 1}}}},
           {1200, Tick{}},  // o.3 and o.4 expire
       }) {
    ASSERT_TRUE(trade->Apply(command).status.ok());
  }
  ASSERT_EQ(trade->PendingEventCount(), 8u);
  EXPECT_EQ(trade->events_recorded(), 8u);
  std::vector<std::string> slices;
  for (const auto& [begin, count] :
       std::vector<std::pair<size_t, size_t>>{{0, 8}, {0, 0}, {0, 1}, {2, 5}, {7, 1}, {8, 0}}) {
    std::string bytes = "kept";  // appended to
    trade->EncodePendingEvents(77, begin, count, &bytes);
    ASSERT_EQ(bytes.substr(0, 4), "kept");
    slices.push_back(bytes.substr(4));
  }
  EXPECT_EQ(trade->PendingEventCount(), 8u);  // encoding leaves them pending
  std::vector<OrderEvent> taken;
  trade->TakeEvents(&taken);
  ASSERT_EQ(taken.size(), 8u);
  EXPECT_EQ(trade->PendingEventCount(), 0u);
  EXPECT_EQ(slices[0], Encode(77, taken));
  EXPECT_EQ(slices[1], Encode(77, {}));
  EXPECT_EQ(slices[2], Encode(77, Slice(taken, 0, 1)));
  EXPECT_EQ(slices[3], Encode(77, Slice(taken, 2, 5)));
  EXPECT_EQ(slices[4], Encode(77, Slice(taken, 7, 1)));
  EXPECT_EQ(slices[5], Encode(77, {}));
  const auto decoded = DecodeEvents(slices[0]);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->events, taken);
  const auto summary = DecodeEventsSummary(slices[3]);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(*summary, (EventsSummary{77, 3, 5, CampaignDeltas(Slice(taken, 2, 5))}));
  EXPECT_EQ(CampaignDeltas(taken).size(), 2u);  // both campaigns moved
}

TEST(OrderEventsTest, DropEventsThroughForgetsAPrefix) {
  auto trade = Shop(true);
  ASSERT_TRUE(trade->Apply(Command{1000, PlaceOrder{"r1", "alice", {{"phone", 1}}}}).status.ok());
  ASSERT_TRUE(trade->Apply(Command{1000, PayOrder{"o.1"}}).status.ok());
  ASSERT_TRUE(trade->Apply(Command{1000, PlaceOrder{"r2", "bob", {{"phone", 1}}}}).status.ok());
  trade->DropEventsThrough(0);
  EXPECT_EQ(trade->PendingEventCount(), 3u);
  trade->DropEventsThrough(2);
  ASSERT_EQ(trade->PendingEventCount(), 1u);
  std::vector<OrderEvent> rest = Take(*trade);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].number, 3u);
  EXPECT_EQ(rest[0].order.order_id, "o.2");
  ASSERT_TRUE(trade->Apply(Command{1000, CancelOrder{"o.2"}}).status.ok());
  trade->DropEventsThrough(trade->events_recorded());
  EXPECT_EQ(trade->PendingEventCount(), 0u);
  trade->DropEventsThrough(UINT64_MAX);  // nothing left: nothing happens
  EXPECT_TRUE(Take(*trade).empty());
  EXPECT_EQ(trade->events_recorded(), 4u);
}

TEST(OrderEventsTest, TypeNames) {
  EXPECT_EQ(OrderEventTypeName(OrderEventType::kCreated), "created");
  EXPECT_EQ(OrderEventTypeName(OrderEventType::kPaid), "paid");
  EXPECT_EQ(OrderEventTypeName(OrderEventType::kCancelled), "cancelled");
  EXPECT_EQ(OrderEventTypeName(OrderEventType::kExpired), "expired");
}

// ---- CampaignDeltas ---------------------------------------------------------------------------

OrderEvent Event(OrderEventType type, std::vector<OrderItemView> items) {
  OrderEvent event;
  event.type = type;
  for (OrderItemView& item : items) event.order.items.push_back(std::move(item));
  return event;
}

TEST(CampaignDeltasTest, SumsEachCampaignInOrderOfFirstAppearance) {
  const std::vector<OrderEvent> events = {
      Event(OrderEventType::kCreated, {{"phone", 2, 600, "sale"}, {"case", 1, 50, ""}}),
      Event(OrderEventType::kCreated, {{"tv", 1, 900, "tv-sale"}}),
      Event(OrderEventType::kPaid, {{"phone", 2, 600, "sale"}, {"case", 1, 50, ""}}),
      Event(OrderEventType::kCreated, {{"watch", 3, 10, "w-sale"}}),
      Event(OrderEventType::kCancelled, {{"tv", 1, 900, "tv-sale"}}),  // tv-sale: nets to 0
      Event(OrderEventType::kCreated, {{"phone", 1, 600, "sale"}}),
      Event(OrderEventType::kExpired, {{"watch", 1, 10, "w-sale"}}),
  };
  const std::vector<CampaignDelta> expected = {{"sale", 1, 2}, {"w-sale", 2, 0}};
  EXPECT_EQ(CampaignDeltas(events), expected);
  EXPECT_TRUE(CampaignDeltas({}).empty());
}

TEST(CampaignDeltasTest, OfARealTradeMatchItsCounts) {
  auto trade = Shop(true);
  for (const Command& command : std::vector<Command>{
           {1000, PlaceOrder{"r1", "alice", {{"phone", 2}, {"case", 1}}}},
           {1000, PlaceOrder{"r2", "bob", {{"phone", 1}}}},
           {1010, PayOrder{"o.1"}},
           {1200, Tick{}},  // o.2 expires
       }) {
    ASSERT_TRUE(trade->Apply(command).status.ok());
  }
  const std::vector<OrderEvent> events = Take(*trade);
  const std::vector<CampaignDelta> deltas = CampaignDeltas(events);
  ASSERT_EQ(deltas.size(), 1u);
  const StockCounts counts = trade->GetCampaign("sale")->counts;
  EXPECT_EQ(deltas[0], (CampaignDelta{"sale", counts.reserved, counts.sold}));
  EXPECT_EQ(counts.sold, 2);
}

// ---- The events record ------------------------------------------------------------------------

std::vector<OrderEvent> SomeEvents() {
  auto trade = Shop(true);
  for (const Command& command : std::vector<Command>{
           {1000, PlaceOrder{"r1", "alice", {{"phone", 2}, {"case", 1}}}},
           {1000, PlaceOrder{"r2", "bob", {{"phone", 1}}}},
           {1010, PayOrder{"o.1"}},
           {1020, PlaceOrder{"r3", "bob", {{"case", 3}}}},
           {1030, CancelOrder{"o.3"}},
           {1200, Tick{}},
       }) {
    SURGE_ASSERT(trade->Apply(command).status.ok());
  }
  return Take(*trade);
}

TEST(EventsRecordTest, RoundTrips) {
  const std::vector<OrderEvent> events = SomeEvents();
  ASSERT_EQ(events.size(), 6u);
  for (const auto& [through, list] : std::vector<std::pair<uint64_t, std::vector<OrderEvent>>>{
           {42, events}, {0, {}}, {UINT64_MAX, {events[0]}}}) {
    const std::string bytes = Encode(through, list);
    EXPECT_TRUE(IsEventsRecord(bytes));
    const auto decoded = DecodeEvents(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, (EventsRecord{through, list}));
  }
}

TEST(EventsRecordTest, IsToldApartFromEveryCommand) {
  const std::string events = Encode(1, SomeEvents());
  EXPECT_EQ(DecodeCommand(events).status().code(), Code::kCorruption);
  for (const Command& command : std::vector<Command>{
           {0, Tick{}},
           {1, PlaceOrder{"r", "u", {{"s", 1}}}},
           {2, CenterOrders{"c1", {{"sale", -1, 1}}}, Origin{"c1", 2, 9}},
           {3, RequestQuota{"sale", "c1", 1}, Origin{"m", 1, 1}},
       }) {
    std::string bytes;
    EncodeCommand(command, &bytes);
    EXPECT_FALSE(IsEventsRecord(bytes));
    EXPECT_EQ(DecodeEvents(bytes).status().code(), Code::kCorruption);
  }
  EXPECT_FALSE(IsEventsRecord(""));
}

std::string RawRecord(const std::vector<OrderEvent>& events, uint64_t through = 1);

// Both formats: the one written now and the one journals written before hold.
std::vector<std::string> BothFormats() {
  return {Encode(7, SomeEvents()), RawRecord(SomeEvents(), 7)};
}

TEST(EventsRecordTest, EveryTruncationAndTrailingBytesFail) {
  for (const std::string& bytes : BothFormats()) {
    for (size_t size = 0; size < bytes.size(); ++size) {
      EXPECT_EQ(DecodeEvents(std::string_view(bytes).substr(0, size)).status().code(),
                Code::kCorruption)
          << size;
    }
    EXPECT_EQ(DecodeEvents(bytes + '\0').status().code(), Code::kCorruption);
  }
}

// Any damage either fails to decode or decodes into events a Trade could have recorded (which
// then encode to the same bytes).
TEST(EventsRecordTest, DamagedBytesFailOrDecodeToSomethingValid) {
  for (const std::string& bytes : BothFormats()) {
    size_t failed = 0;
    for (size_t at = 0; at < bytes.size(); ++at) {
      for (const uint8_t flip : {0x01, 0x02, 0x10, 0x80}) {
        std::string damaged = bytes;
        damaged[at] = static_cast<char>(damaged[at] ^ flip);
        const auto decoded = DecodeEvents(damaged);
        if (!decoded.ok()) {
          EXPECT_EQ(decoded.status().code(), Code::kCorruption);
          ++failed;
          continue;
        }
        std::string again;
        EncodeEvents(decoded->through, decoded->events, &again);
        EXPECT_EQ(DecodeEvents(again)->events, decoded->events);
        // What the master reads of it is what its events say.
        const auto summary = DecodeEventsSummary(damaged);
        ASSERT_TRUE(summary.ok());
        EXPECT_EQ(summary->deltas, CampaignDeltas(decoded->events));
      }
    }
    EXPECT_GT(failed, bytes.size());  // most damage is caught
  }
}

// Format 1, which the centers wrote before format 2 (journals hold it: it is still read).
std::string RawRecord(const std::vector<OrderEvent>& events, uint64_t through) {
  return testing::FormatOneRecord(through, events);
}

// Format 2 written field by field, with whatever deltas it is given.
std::string RawRecordV2(uint64_t through, const std::vector<OrderEvent>& events,
                        const std::vector<CampaignDelta>& deltas) {
  std::string bytes;
  Encoder e(&bytes);
  e.U8(0xE5);
  e.U8(2);
  e.Varint(through);
  e.Varint(events.empty() ? 0 : events[0].number);
  e.Varint(events.size());
  e.Varint(deltas.size());
  for (const CampaignDelta& delta : deltas) {
    e.String(delta.campaign);
    e.SignedVarint(delta.reserved);
    e.SignedVarint(delta.sold);
  }
  for (const OrderEvent& event : events) {
    const OrderView& order = event.order;
    e.U8(static_cast<uint8_t>(event.type));
    e.Varint(static_cast<uint64_t>(event.at_ms));
    for (const std::string* id : {&order.order_id, &order.request_id, &order.user}) e.String(*id);
    e.Varint(static_cast<uint64_t>(order.total_cents));
    e.Varint(static_cast<uint64_t>(event.at_ms - order.created_at_ms));
    e.Varint(static_cast<uint64_t>(order.expires_at_ms - order.created_at_ms));
    testing::WriteOrderItems(e, order.items);
  }
  return bytes;
}

TEST(EventsRecordTest, TheWriterWritesFormat2AndFormat1IsStillRead) {
  const std::vector<OrderEvent> events = SomeEvents();
  const std::vector<CampaignDelta> deltas = CampaignDeltas(events);
  ASSERT_FALSE(deltas.empty());
  EXPECT_EQ(Encode(42, events), RawRecordV2(42, events, deltas));  // the writer is sound
  EXPECT_EQ(Encode(0, {}), RawRecordV2(0, {}, {}));
  // A journal written before holds format 1: it reads as the same events and summary.
  for (const std::string& bytes : {RawRecord(events, 42), Encode(42, events)}) {
    const auto decoded = DecodeEvents(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, (EventsRecord{42, events}));
    const auto summary = DecodeEventsSummary(bytes);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(*summary, (EventsSummary{42, events[0].number, events.size(), deltas}));
  }
  // Format 2 is shorter: no number per event, no status, times relative to the event's.
  EXPECT_LT(Encode(42, events).size(), RawRecord(events, 42).size());
  const auto empty = DecodeEventsSummary(RawRecord({}, 5));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, (EventsSummary{5, 0, 0, {}}));
}

// The master reads only a record's deltas: a record whose deltas are not its events' is refused
// by every reader of its events. The summary itself reads the header and deltas alone.
TEST(EventsRecordTest, DeltasThatAreNotTheEventsFailToDecode) {
  const std::vector<OrderEvent> events = SomeEvents();
  std::vector<CampaignDelta> deltas = CampaignDeltas(events);
  ASSERT_EQ(deltas.size(), 1u);
  std::vector<std::vector<CampaignDelta>> wrong(5, deltas);
  wrong[0][0].reserved += 1;
  wrong[1][0].sold -= 1;
  wrong[2][0].campaign = "other";
  wrong[3].push_back(CampaignDelta{"other", 1, 0});
  wrong[4].clear();
  for (const std::vector<CampaignDelta>& bad : wrong) {
    const std::string bytes = RawRecordV2(1, events, bad);
    EXPECT_EQ(DecodeEvents(bytes).status().code(), Code::kCorruption);
    const auto summary = DecodeEventsSummary(bytes);
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->deltas, bad);
  }
  // Deltas that change nothing, or name no valid campaign, are not read either.
  for (const CampaignDelta& bad :
       {CampaignDelta{"sale", 0, 0}, CampaignDelta{"", 1, 0}, CampaignDelta{"not an id", 1, 0}}) {
    const std::string bytes = RawRecordV2(1, events, {bad});
    EXPECT_EQ(DecodeEvents(bytes).status().code(), Code::kCorruption);
    EXPECT_EQ(DecodeEventsSummary(bytes).status().code(), Code::kCorruption);
  }
  // Every truncation inside the header and deltas fails the summary too.
  const std::string bytes = Encode(7, events);
  const size_t header = RawRecordV2(7, {}, deltas).size() - 1;  // less the first number's byte
  for (size_t size = 0; size < header; ++size) {
    EXPECT_EQ(DecodeEventsSummary(std::string_view(bytes).substr(0, size)).status().code(),
              Code::kCorruption)
        << size;
  }
}

// Event numbers near the top of their range: format 1 could hold them, format 2 must too.
TEST(EventsRecordTest, NumbersUpToTheLastOneRoundTrip) {
  std::vector<OrderEvent> events = SomeEvents();
  for (size_t i = 0; i < events.size(); ++i) events[i].number = UINT64_MAX - events.size() + 1 + i;
  const auto decoded = DecodeEvents(RawRecord(events));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto again = DecodeEvents(Encode(1, events));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->events, events);
  // A first number whose events would wrap past the last one is refused.
  std::vector<OrderEvent> wrapping = {events[0], events[1]};
  wrapping[0].number = UINT64_MAX;
  wrapping[1].number = 0;
  const std::string bytes = RawRecordV2(1, wrapping, CampaignDeltas(wrapping));
  EXPECT_EQ(DecodeEvents(bytes).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeEventsSummary(bytes).status().code(), Code::kCorruption);
}

TEST(EventsRecordTest, EventsNoTradeCouldRecordFailToDecode) {
  const OrderEvent good = SomeEvents()[0];  // created at 1000, expires at 1100, two items
  ASSERT_TRUE(DecodeEvents(RawRecord({good})).ok());
  std::vector<OrderEvent> bad(9, good);
  bad[0].order.status = OrderStatus::kPaid;  // created, but paid
  bad[1].order.total_cents += 1;
  bad[2].at_ms = 999;                      // before it was created
  bad[3].type = OrderEventType::kExpired;  // expired before it was due
  bad[3].order.status = OrderStatus::kExpired;
  bad[4].order.items[1].sku = bad[4].order.items[0].sku;  // a SKU twice
  bad[5].order.user = "not an id";
  bad[6].order.expires_at_ms = bad[6].order.created_at_ms;  // no TTL
  bad[7].order.items[0].quantity = 0;
  bad[8].number = 0;
  for (const OrderEvent& event : bad) {
    EXPECT_EQ(DecodeEvents(RawRecord({event})).status().code(), Code::kCorruption);
  }
  // The events of a record follow each other.
  const std::vector<OrderEvent> events = SomeEvents();
  ASSERT_TRUE(DecodeEvents(RawRecord({events[1], events[2]})).ok());
  EXPECT_EQ(DecodeEvents(RawRecord({events[1], events[3]})).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeEvents(RawRecord({events[2], events[1]})).status().code(), Code::kCorruption);
}

// Encode checks only the numbering (its events come from the state machine); a bad field that
// got through is refused by every reader.
TEST(EventsRecordDeathTest, EncodeRefusesBadNumberingAndDecodeEveryBadField) {
  OrderEvent event = SomeEvents()[0];
  event.order.total_cents = -1;
  std::string bytes;
  EncodeEvents(1, {&event, 1}, &bytes);
  EXPECT_EQ(DecodeEvents(bytes).status().code(), Code::kCorruption);
  const std::vector<OrderEvent> events = SomeEvents();
  EXPECT_DEATH(Encode(1, {events[0], events[2]}), "consecutively");
  OrderEvent unnumbered = events[0];
  unnumbered.number = 0;
  EXPECT_DEATH(EncodeEvents(1, {&unnumbered, 1}, &bytes), "numbered");
  OrderEvent paid_but_reserved = events[1];
  ASSERT_EQ(paid_but_reserved.type, OrderEventType::kCreated);
  paid_but_reserved.type = OrderEventType::kPaid;  // format 2 keeps no status apart from the type
  EXPECT_DEATH(EncodeEvents(1, {&paid_but_reserved, 1}, &bytes), "status");
}

}  // namespace
}  // namespace surge::trade
