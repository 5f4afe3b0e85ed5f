// Unit tests of the multi-center rules of trade.h ("Centers and quotas") and of origins. The
// fixture is a deployment of three centers in topology order m (the master), s1, s2, seen from the
// master and from s1: merchant "acme", a phone and a TV, users alice and bob, and a flash sale
// "sale" on the phone: 10 units at 600 (split 4, 3, 3), open during [1000, 2000), 2 per user,
// reservations held 100 ms. Master data is applied at the master and then at s1 as the master's
// stream delivers it (origin m/1/<sequence>).
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"

namespace surge::trade {
namespace {

const std::vector<std::string> kCenters = {"m", "s1", "s2"};

Options CenterOptions(const std::string& center) {
  Options options;
  options.order_id_prefix = "o." + center + ".";
  options.center = center;
  options.master = "m";
  options.centers = kCenters;
  return options;
}

StockCounts Counts(int64_t stock, int64_t available, int64_t reserved, int64_t sold) {
  return StockCounts{stock, available, reserved, sold};
}

PutCampaign Sale(int64_t stock) {
  return PutCampaign{"sale", "phone", stock, 600, 1000, 2000, 2, 100};
}

class CentersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Master(PutMerchant{"acme", "Acme"});
    Master(PutProduct{"phone", "acme", "Phone", "phones", 1000});
    Master(PutProduct{"tv", "acme", "TV", "screens", 5000});
    Master(PutUser{"alice", "north"});
    Master(PutUser{"bob", "south"});
    Master(Sale(10));
  }

  // At the master (its own command), then at s1 from the master's stream; both must agree.
  Reply Master(Body body) {
    const Reply reply = AtMaster(body);
    const Reply echoed = AtSub(std::move(body), Origin{"m", 1, ++master_sequence_});
    EXPECT_EQ(echoed.status.code(), reply.status.code()) << echoed.status.ToString();
    return reply;
  }
  Reply AtMaster(Body body, std::optional<Origin> origin = std::nullopt) {
    return master_->Apply(Command{now_ms_, std::move(body), std::move(origin)});
  }
  Reply AtSub(Body body, std::optional<Origin> origin = std::nullopt) {
    return sub_->Apply(Command{now_ms_, std::move(body), std::move(origin)});
  }
  // What s1 journaled as its record `sequence` (kind quota), applied at the master and then
  // echoed back to s1 by the master's stream.
  void SubToMasterAndBack(const Body& body, uint64_t sequence) {
    const Reply at_master = AtMaster(body, Origin{"s1", 3, sequence});
    EXPECT_TRUE(at_master.status.ok()) << at_master.status.ToString();
    const Reply echoed = AtSub(body, Origin{"m", 1, ++master_sequence_});
    EXPECT_EQ(echoed.status.code(), at_master.status.code()) << echoed.status.ToString();
  }

  CampaignView MasterSale() const { return *master_->GetCampaign("sale"); }
  CampaignView SubSale() const { return *sub_->GetCampaign("sale"); }
  std::vector<int64_t> MasterQuotas() const {
    std::vector<int64_t> quotas;
    for (const CenterQuotaView& center : MasterSale().centers) quotas.push_back(center.quota);
    return quotas;
  }
  void ExpectInvariants() const {
    EXPECT_TRUE(master_->CheckInvariants().ok()) << master_->CheckInvariants().ToString();
    EXPECT_TRUE(sub_->CheckInvariants().ok()) << sub_->CheckInvariants().ToString();
  }

  std::unique_ptr<Trade> master_ = Trade::Create(CenterOptions("m"));
  std::unique_ptr<Trade> sub_ = Trade::Create(CenterOptions("s1"));
  uint64_t master_sequence_ = 0;
  int64_t now_ms_ = 1000;
};

// ---- The allocation table and the even split -------------------------------------------------

TEST_F(CentersTest, NewCampaignSplitsItsStockEvenlyRemainderToTheFirstCenters) {
  const CampaignView master = MasterSale();
  EXPECT_EQ(master.counts, Counts(4, 4, 0, 0));
  EXPECT_EQ(master.campaign_stock, 10);
  EXPECT_EQ(master.unallocated, 0);
  EXPECT_EQ(master.requested, 0);
  const std::vector<CenterQuotaView> expected = {
      {"m", 4, 4, 0, 0}, {"s1", 3, 3, 0, 0}, {"s2", 3, 3, 0, 0}};
  EXPECT_EQ(master.centers, expected);

  const CampaignView sub = SubSale();
  EXPECT_EQ(sub.counts, Counts(3, 3, 0, 0));
  EXPECT_EQ(sub.campaign_stock, 10);
  EXPECT_EQ(sub.unallocated, 0);
  EXPECT_TRUE(sub.centers.empty());  // only the master has the global view
  ExpectInvariants();
}

// ---- The split by expected demand (PutDemand) -----------------------------------------------

PutCampaign TvSale(int64_t stock) {
  return PutCampaign{"tvsale", "tv", stock, 4000, 1000, 2000, 2, 100};
}

TEST_F(CentersTest, DemandSplitsANewCampaignInProportionLargestRemaindersFirst) {
  const Reply put = Master(PutDemand{"tv", {{"s2", 2}, {"m", 1}, {"s1", 5}}});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  const std::vector<CenterDemand> demand = {{"m", 1}, {"s1", 5}, {"s2", 2}};  // topology order
  EXPECT_EQ(std::get<ProductView>(put.value).demand, demand);
  EXPECT_EQ(sub_->GetProduct("tv")->demand, demand);
  ASSERT_TRUE(Master(TvSale(11)).status.ok());
  // 11 x 1/8, 5/8, 2/8 = 1.375, 6.875, 2.75: 1, 6, 2, and the two units left go to the largest
  // remainders, s1 and s2.
  const CampaignView view = *master_->GetCampaign("tvsale");
  std::vector<int64_t> quotas;
  for (const CenterQuotaView& center : view.centers) quotas.push_back(center.quota);
  EXPECT_EQ(quotas, (std::vector<int64_t>{1, 7, 3}));
  EXPECT_EQ(sub_->GetCampaign("tvsale")->counts, Counts(7, 7, 0, 0));
  // A raised stock is split the same way: 8 more units, exactly 1, 5, 2.
  ASSERT_TRUE(Master(TvSale(19)).status.ok());
  EXPECT_EQ(sub_->GetCampaign("tvsale")->counts, Counts(12, 12, 0, 0));
  EXPECT_EQ(master_->GetCampaign("tvsale")->counts, Counts(2, 2, 0, 0));
  ExpectInvariants();
}

TEST_F(CentersTest, DemandOfZeroEverywhereSplitsEvenly) {
  ASSERT_TRUE(Master(PutDemand{"tv", {{"m", 0}, {"s1", 0}}}).status.ok());
  ASSERT_TRUE(Master(TvSale(11)).status.ok());
  EXPECT_EQ(master_->GetCampaign("tvsale")->counts, Counts(4, 4, 0, 0));
  EXPECT_EQ(sub_->GetCampaign("tvsale")->counts, Counts(4, 4, 0, 0));
  ExpectInvariants();
}

TEST_F(CentersTest, DemandRefusesUnknownProductsAndCentersAndChangesNothing) {
  EXPECT_EQ(Master(PutDemand{"radio", {{"m", 1}}}).status.code(), Code::kNotFound);
  const Reply unknown = Master(PutDemand{"tv", {{"m", 1}, {"x9", 3}}});
  EXPECT_EQ(unknown.status.code(), Code::kBadField);
  EXPECT_NE(unknown.status.message().find("x9"), std::string::npos) << unknown.status.ToString();
  EXPECT_EQ(Master(PutDemand{"tv", {{"m", 1}, {"m", 2}}}).status.code(), Code::kBadField);
  EXPECT_TRUE(master_->GetProduct("tv")->demand.empty());
  // A single center has no centers to weigh.
  auto single = Trade::Create(Options{"o."});
  ASSERT_TRUE(single->Apply(Command{1000, PutMerchant{"acme", "Acme"}}).status.ok());
  ASSERT_TRUE(
      single->Apply(Command{1000, PutProduct{"tv", "acme", "TV", "screens", 1}}).status.ok());
  EXPECT_EQ(single->Apply(Command{1000, PutDemand{"tv", {{"m", 1}}}}).status.code(),
            Code::kBadField);
  ExpectInvariants();
}

TEST_F(CentersTest, DemandIsPartOfTheSnapshotAndTheStateHash) {
  const uint64_t before = master_->StateHash();
  ASSERT_TRUE(Master(PutDemand{"tv", {{"s1", 4}}}).status.ok());
  EXPECT_NE(master_->StateHash(), before);
  auto restored = Trade::Create(CenterOptions("m"));
  ASSERT_TRUE(restored->Restore(master_->Snapshot()).ok());
  EXPECT_EQ(restored->GetProduct("tv")->demand,
            (std::vector<CenterDemand>{{"m", 0}, {"s1", 4}, {"s2", 0}}));
  EXPECT_EQ(restored->StateHash(), master_->StateHash());
}

TEST_F(CentersTest, SingleCenterViewShowsTheWholeStockAndNoTable) {
  auto single = Trade::Create(Options{"o."});
  for (const Body& body :
       std::vector<Body>{PutMerchant{"acme", "Acme"},
                         PutProduct{"phone", "acme", "Phone", "phones", 1}, Sale(10)}) {
    ASSERT_TRUE(single->Apply(Command{1000, body}).status.ok());
  }
  const CampaignView view = *single->GetCampaign("sale");
  EXPECT_EQ(view.counts, Counts(10, 10, 0, 0));
  EXPECT_EQ(view.campaign_stock, 10);
  EXPECT_EQ(view.unallocated, 0);
  EXPECT_TRUE(view.centers.empty());
  EXPECT_TRUE(single->QuotaCommands(1000).empty());
}

TEST_F(CentersTest, RaisedStockIsSplitEvenlyToo) {
  ASSERT_TRUE(Master(Sale(15)).status.ok());  // +5: 2, 2, 1
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{6, 5, 4}));
  EXPECT_EQ(SubSale().counts.stock, 5);
  ASSERT_TRUE(Master(Sale(16)).status.ok());  // +1: to the first center
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{7, 5, 4}));
  EXPECT_EQ(MasterSale().counts, Counts(7, 7, 0, 0));
  EXPECT_EQ(SubSale().counts.stock, 5);
  EXPECT_EQ(SubSale().campaign_stock, 16);
  ExpectInvariants();
}

TEST_F(CentersTest, LoweredStockComesFromTheUnallocatedUnitsOnly) {
  const Reply refused = Master(Sale(9));
  EXPECT_EQ(refused.status.code(), Code::kBadField);
  EXPECT_NE(refused.status.message().find("unallocated"), std::string::npos);
  EXPECT_EQ(MasterSale().campaign_stock, 10);

  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 2}).status.ok());
  EXPECT_EQ(MasterSale().unallocated, 2);
  EXPECT_EQ(SubSale().unallocated, 2);  // the sub's table follows the master's stream
  ASSERT_TRUE(Master(Sale(8)).status.ok());
  EXPECT_EQ(MasterSale().campaign_stock, 8);
  EXPECT_EQ(MasterSale().unallocated, 0);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(SubSale().campaign_stock, 8);
  EXPECT_EQ(SubSale().unallocated, 0);
  ExpectInvariants();
}

TEST_F(CentersTest, SkuMayNotChangeNorTheLimitGoDown) {
  PutCampaign moved = Sale(10);
  moved.sku = "tv";  // no unit is held anywhere that this center knows of: still refused
  const Reply refused = Master(moved);
  EXPECT_EQ(refused.status.code(), Code::kBadField);
  EXPECT_EQ(refused.status.message().substr(0, 3), "sku");
  PutCampaign tighter = Sale(10);
  tighter.per_user_limit = 1;
  const Reply too_tight = Master(tighter);
  EXPECT_EQ(too_tight.status.code(), Code::kBadField);
  EXPECT_EQ(too_tight.status.message().substr(0, 14), "per_user_limit");

  PutCampaign looser = Sale(10);
  looser.per_user_limit = 5;
  looser.price_cents = 550;
  looser.ends_at_ms = 3000;
  ASSERT_TRUE(Master(looser).status.ok());
  EXPECT_EQ(SubSale().per_user_limit, 5);
  EXPECT_EQ(SubSale().price_cents, 550);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{4, 3, 3}));  // the same stock moves nothing
}

TEST_F(CentersTest, RegularStockIsSplitEvenlyAndMayOnlyGrow) {
  ASSERT_TRUE(Master(PutInventory{"tv", 10}).status.ok());
  EXPECT_EQ(master_->GetInventory("tv")->counts, Counts(4, 4, 0, 0));
  EXPECT_EQ(sub_->GetInventory("tv")->counts, Counts(3, 3, 0, 0));
  ASSERT_TRUE(Master(PutInventory{"tv", 12}).status.ok());  // +2: 1, 1, 0
  EXPECT_EQ(master_->GetInventory("tv")->counts.stock, 5);
  EXPECT_EQ(sub_->GetInventory("tv")->counts.stock, 4);
  ASSERT_TRUE(Master(PutInventory{"tv", 12}).status.ok());  // unchanged: fine
  EXPECT_EQ(master_->GetInventory("tv")->counts.stock, 5);
  const Reply lowered = Master(PutInventory{"tv", 11});
  EXPECT_EQ(lowered.status.code(), Code::kBadField);
  EXPECT_EQ(master_->GetInventory("tv")->counts.stock, 5);
  ExpectInvariants();
}

// ---- Requests and returns ---------------------------------------------------------------------

// With a partial up-front split the rest is unallocated at every center alike, and a sub-center
// that runs low asks for it.
TEST(CentersUpFrontTest, OnlyTheUpFrontShareIsSplitAndTheRestIsGrantedOnRequest) {
  std::unique_ptr<Trade> master;
  std::unique_ptr<Trade> sub;
  for (auto* trade : {&master, &sub}) {
    Options options = CenterOptions(trade == &master ? "m" : "s1");
    options.up_front_percent = 50;
    *trade = Trade::Create(options);
  }
  uint64_t sequence = 0;
  for (const Body& body : std::vector<Body>{PutMerchant{"acme", "Acme"},
                                            PutProduct{"phone", "acme", "Phone", "phones", 1000},
                                            PutUser{"alice", "north"}, Sale(21)}) {
    ASSERT_TRUE(master->Apply(Command{1000, body}).status.ok());
    ASSERT_TRUE(sub->Apply(Command{1000, body, Origin{"m", 1, ++sequence}}).status.ok());
  }
  // 50 % of 21 is 10 (rounded down): 4, 3, 3 up front, 11 unallocated.
  EXPECT_EQ(master->GetCampaign("sale")->counts, Counts(4, 4, 0, 0));
  EXPECT_EQ(master->GetCampaign("sale")->unallocated, 11);
  EXPECT_EQ(sub->GetCampaign("sale")->counts, Counts(3, 3, 0, 0));
  EXPECT_EQ(sub->GetCampaign("sale")->unallocated, 11);
  // s1 sells down to its low-water mark (a tenth of 3 rounds to 0: sold out) and asks.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        sub->Apply(Command{1000, PlaceOrder{"r" + std::to_string(i), "alice", {{"phone", 1}}}})
            .status.ok());
  }
  ASSERT_TRUE(sub->Apply(Command{1000, PlaceOrder{"r2", "u-none", {{"phone", 1}}}}).status.code() ==
              Code::kNotFound);
  std::vector<Body> asks = sub->QuotaCommands(1000);
  EXPECT_TRUE(asks.empty()) << "1 of 3 left is above a tenth";
  ASSERT_TRUE(
      sub->Apply(Command{1000, PutUser{"bob", "s"}, Origin{"m", 1, ++sequence}}).status.ok());
  ASSERT_TRUE(sub->Apply(Command{1000, PlaceOrder{"r3", "bob", {{"phone", 1}}}}).status.ok());
  asks = sub->QuotaCommands(1000);
  ASSERT_EQ(asks.size(), 1u);
  const auto& ask = std::get<RequestQuota>(asks[0]);
  EXPECT_EQ(ask.center, "s1");
  EXPECT_EQ(ask.units, 11 / 3);  // max(1, unallocated / centers)
  ASSERT_TRUE(sub->Apply(Command{1000, asks[0]}).status.ok());
  EXPECT_TRUE(sub->QuotaCommands(1000).empty()) << "one request outstanding at a time";
  // The master grants it; its record comes back to s1, which can sell again.
  ASSERT_TRUE(master->Apply(Command{1000, asks[0], Origin{"s1", 3, 7}}).status.ok());
  ASSERT_TRUE(sub->Apply(Command{1000, asks[0], Origin{"m", 1, ++sequence}}).status.ok());
  EXPECT_EQ(sub->GetCampaign("sale")->counts, Counts(6, 3, 3, 0));
  EXPECT_EQ(sub->GetCampaign("sale")->requested, 0);
  EXPECT_EQ(master->GetCampaign("sale")->unallocated, 8);
  EXPECT_EQ(master->GetCampaign("sale")->centers[1].quota, 6);
  EXPECT_TRUE(master->CheckInvariants().ok());
  EXPECT_TRUE(sub->CheckInvariants().ok());
}

TEST_F(CentersTest, AtTheMasterARequestIsTheGrantOfWhatIsUnallocated) {
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 3}).status.ok());  // unallocated: 3
  const Reply granted = Master(RequestQuota{"sale", "s1", 5});
  ASSERT_TRUE(granted.status.ok());
  EXPECT_EQ(std::get<CampaignView>(granted.value).unallocated, 0);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{1, 6, 3}));  // min(5, 3) to s1
  EXPECT_EQ(MasterSale().counts.stock, 1);          // the master's own quota did not move
  EXPECT_EQ(SubSale().counts, Counts(6, 6, 0, 0));  // s1 got it through the master's stream
  EXPECT_EQ(SubSale().unallocated, 0);

  // Nothing left to grant: ok, nothing moves.
  ASSERT_TRUE(Master(RequestQuota{"sale", "m", 1}).status.ok());
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{1, 6, 3}));
  ExpectInvariants();
}

TEST_F(CentersTest, AtASubARequestIsOutstandingUntilTheMastersGrantComesBack) {
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 2}).status.ok());  // unallocated: 2
  const Reply asked = AtSub(RequestQuota{"sale", "s1", 4});
  ASSERT_TRUE(asked.status.ok());
  EXPECT_EQ(SubSale().requested, 4);
  EXPECT_EQ(SubSale().counts.stock, 3);  // nothing granted yet
  EXPECT_EQ(SubSale().unallocated, 2);
  EXPECT_EQ(AtSub(RequestQuota{"sale", "s2", 4}).status.code(), Code::kBadField);  // not itself

  SubToMasterAndBack(RequestQuota{"sale", "s1", 4}, 1);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{2, 5, 3}));
  EXPECT_EQ(SubSale().counts, Counts(5, 5, 0, 0));
  EXPECT_EQ(SubSale().requested, 0);
  EXPECT_EQ(SubSale().unallocated, 0);
  ExpectInvariants();

  // The master's stream delivering the grant again changes nothing.
  const uint64_t hash = sub_->StateHash();
  const Reply again = AtSub(RequestQuota{"sale", "s1", 4}, Origin{"m", 1, master_sequence_});
  EXPECT_TRUE(again.status.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(sub_->StateHash(), hash);
}

TEST_F(CentersTest, AReturnLowersTheQuotaAtOnceAndTheTableWhenTheMasterAppliedIt) {
  const Reply returned = AtSub(ReturnQuota{"sale", "s1", 2});
  ASSERT_TRUE(returned.status.ok());
  EXPECT_EQ(SubSale().counts, Counts(1, 1, 0, 0));
  EXPECT_EQ(SubSale().unallocated, 0);  // the table waits for the master
  EXPECT_EQ(AtSub(ReturnQuota{"sale", "s1", 2}).status.code(), Code::kBadField);  // 1 left
  EXPECT_EQ(AtSub(ReturnQuota{"sale", "s2", 1}).status.code(), Code::kBadField);  // not its own
  ExpectInvariants();

  SubToMasterAndBack(ReturnQuota{"sale", "s1", 2}, 1);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{4, 1, 3}));
  EXPECT_EQ(MasterSale().unallocated, 2);
  EXPECT_EQ(MasterSale().counts.stock, 4);
  EXPECT_EQ(SubSale().counts, Counts(1, 1, 0, 0));  // the echo changes the table only
  EXPECT_EQ(SubSale().unallocated, 2);
  ExpectInvariants();

  // A return that s1 never took may not come back: its quota must stay within its allocation.
  const Reply phantom = AtSub(ReturnQuota{"sale", "s1", 1}, Origin{"m", 1, ++master_sequence_});
  EXPECT_EQ(phantom.status.code(), Code::kBadField);
  EXPECT_EQ(sub_->AppliedThrough("m", 1), master_sequence_);  // an error is final too
  ExpectInvariants();
}

TEST_F(CentersTest, TheMastersOwnReturnMovesItsQuotaAndTheTableTogether) {
  EXPECT_EQ(AtMaster(ReturnQuota{"sale", "m", 5}).status.code(), Code::kBadField);  // 4 available
  ASSERT_TRUE(AtMaster(ReturnQuota{"sale", "m", 4}).status.ok());
  EXPECT_EQ(MasterSale().counts, Counts(0, 0, 0, 0));
  EXPECT_EQ(MasterSale().unallocated, 4);
  EXPECT_EQ(MasterQuotas(), (std::vector<int64_t>{0, 3, 3}));
  ExpectInvariants();
}

TEST_F(CentersTest, QuotaCommandsNameKnownCentersAndCampaigns) {
  EXPECT_EQ(AtMaster(RequestQuota{"sale", "s9", 1}).status.code(), Code::kBadField);
  EXPECT_EQ(AtMaster(RequestQuota{"nope", "s1", 1}).status.code(), Code::kNotFound);
  EXPECT_EQ(AtMaster(ReturnQuota{"sale", "s9", 1}, Origin{"s1", 3, 1}).status.code(),
            Code::kBadField);
  EXPECT_EQ(AtMaster(ReturnQuota{"nope", "s1", 1}, Origin{"s1", 3, 2}).status.code(),
            Code::kNotFound);
  EXPECT_EQ(AtMaster(RequestQuota{"sale", "s1", 0}).status.code(), Code::kBadField);
  EXPECT_EQ(AtMaster(RequestQuota{"sale", "s1", kStockMax + 1}).status.code(), Code::kBadField);

  // A single center has no centers to name.
  auto single = Trade::Create(Options{"o."});
  EXPECT_EQ(single->Apply(Command{1, RequestQuota{"sale", "m", 1}}).status.code(), Code::kBadField);
  EXPECT_EQ(single->Apply(Command{1, CenterOrders{"m", {}}}).status.code(), Code::kBadField);
}

// ---- What other centers reported --------------------------------------------------------------

TEST_F(CentersTest, CenterOrdersAddToWhatACenterReported) {
  ASSERT_TRUE(AtMaster(CenterOrders{"s1", {{"sale", 2, 0}}}, Origin{"s1", 2, 1}).status.ok());
  EXPECT_EQ(MasterSale().centers[1], (CenterQuotaView{"s1", 3, 1, 2, 0}));
  ASSERT_TRUE(AtMaster(CenterOrders{"s1", {{"sale", -1, 1}}}, Origin{"s1", 2, 2}).status.ok());
  EXPECT_EQ(MasterSale().centers[1], (CenterQuotaView{"s1", 3, 1, 1, 1}));
  EXPECT_EQ(MasterSale().counts, Counts(4, 4, 0, 0));  // the master's own units: untouched

  // The master's own breakdown is its own state.
  ASSERT_TRUE(AtMaster(PlaceOrder{"r1", "alice", {{"phone", 1}}}).status.ok());
  EXPECT_EQ(MasterSale().centers[0], (CenterQuotaView{"m", 4, 3, 1, 0}));
  ExpectInvariants();
}

TEST_F(CentersTest, CenterOrdersChangeNothingWhenAnyDeltaFails) {
  PutCampaign tv_sale{"tv-sale", "tv", 6, 100, 1000, 2000, 1, 100};
  ASSERT_TRUE(Master(tv_sale).status.ok());
  ASSERT_TRUE(AtMaster(CenterOrders{"s1", {{"sale", 1, 0}}}).status.ok());
  const uint64_t hash = master_->StateHash();
  const Reply negative = AtMaster(CenterOrders{"s1", {{"sale", 0, 1}, {"tv-sale", -1, 0}}});
  EXPECT_EQ(negative.status.code(), Code::kBadField);
  EXPECT_NE(negative.status.message().find("deltas[1]"), std::string::npos);
  EXPECT_EQ(AtMaster(CenterOrders{"s1", {{"sale", -2, 0}}}).status.code(), Code::kBadField);
  EXPECT_EQ(AtMaster(CenterOrders{"s1", {{"sale", 0, 1}, {"nope", 1, 0}}}).status.code(),
            Code::kNotFound);
  EXPECT_EQ(AtMaster(CenterOrders{"s7", {{"sale", 0, 1}}}).status.code(), Code::kBadField);
  EXPECT_EQ(AtMaster(CenterOrders{"s1", {{"sale", 0, 1}, {"sale", 0, 1}}}).status.code(),
            Code::kBadField);  // a campaign twice
  EXPECT_EQ(AtMaster(CenterOrders{"s1", {{"sale", kStockMax + 1, 0}}}).status.code(),
            Code::kBadField);
  EXPECT_EQ(master_->StateHash(), hash);
  EXPECT_EQ(MasterSale().centers[1], (CenterQuotaView{"s1", 3, 2, 1, 0}));
}

TEST_F(CentersTest, AvailableIsNeverShownNegativeWhenReportsLagBehindTheTable) {
  ASSERT_TRUE(AtMaster(CenterOrders{"s2", {{"sale", 0, 3}}}).status.ok());
  ASSERT_TRUE(AtMaster(ReturnQuota{"sale", "s2", 2}, Origin{"s2", 3, 1}).status.ok());
  EXPECT_EQ(MasterSale().centers[2], (CenterQuotaView{"s2", 1, 0, 0, 3}));
  ExpectInvariants();
}

// ---- Origins ----------------------------------------------------------------------------------

TEST(OriginTest, EachOriginSequenceAppliesOnceAndErrorsAreFinal) {
  auto trade = Trade::Create(Options{"o."});
  const auto apply = [&](int64_t now_ms, Body body, Origin origin) {
    return trade->Apply(Command{now_ms, std::move(body), std::move(origin)});
  };
  EXPECT_EQ(trade->AppliedThrough("c2", 1), 0u);
  ASSERT_TRUE(apply(10, PutUser{"alice", "north"}, {"c2", 1, 5}).status.ok());
  EXPECT_EQ(trade->AppliedThrough("c2", 1), 5u);
  EXPECT_EQ(trade->AppliedThrough("c2", 2), 0u);

  const uint64_t hash = trade->StateHash();
  for (const uint64_t sequence : {5, 3, 1}) {
    const Reply again = apply(20, PutUser{"alice", "west"}, {"c2", 1, sequence});
    EXPECT_TRUE(again.status.ok());
    EXPECT_TRUE(again.replayed);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(again.value));
  }
  EXPECT_EQ(trade->GetUser("alice")->region, "north");
  EXPECT_EQ(trade->StateHash(), hash);
  EXPECT_EQ(trade->last_now_ms(), 10);  // not even the time moved

  // Another kind, or another center, is another stream.
  ASSERT_TRUE(apply(20, PutUser{"alice", "west"}, {"c2", 2, 1}).status.ok());
  ASSERT_TRUE(apply(20, PutUser{"alice", "east"}, {"c3", 1, 1}).status.ok());
  EXPECT_EQ(trade->GetUser("alice")->region, "east");

  // An error reply advances the position like a success.
  EXPECT_EQ(apply(30, PutProduct{"p", "nobody", "P", "c", 1}, {"c2", 1, 9}).status.code(),
            Code::kNotFound);
  EXPECT_EQ(apply(30, PutMerchant{"bad id", ""}, {"c2", 1, 10}).status.code(), Code::kBadField);
  EXPECT_EQ(trade->AppliedThrough("c2", 1), 10u);
  EXPECT_TRUE(trade->CheckInvariants().ok());
}

TEST(OriginTest, MalformedOriginsAreBadFieldAndMoveNoPosition) {
  auto trade = Trade::Create(Options{"o."});
  const std::vector<std::pair<Origin, std::string>> bad = {
      {{"", 1, 1}, "origin.center"},
      {{"bad center", 1, 1}, "origin.center"},
      {{std::string(33, 'c'), 1, 1}, "origin.center"},
      {{"c2", 0, 1}, "origin.kind"},
      {{"c2", 4, 1}, "origin.kind"},
      {{"c2", 1, 0}, "origin.sequence"},
  };
  for (const auto& [origin, field] : bad) {
    const Reply reply = trade->Apply(Command{1, PutUser{"alice", "north"}, origin});
    EXPECT_EQ(reply.status.code(), Code::kBadField);
    EXPECT_EQ(reply.status.message().substr(0, field.size()), field);
  }
  EXPECT_EQ(trade->GetUser("alice").status().code(), Code::kNotFound);
  EXPECT_EQ(trade->AppliedThrough("c2", 1), 0u);
  ASSERT_TRUE(
      trade->Apply(Command{1, PutUser{"a", ""}, Origin{std::string(32, 'c'), 3, 1}}).status.ok());
}

TEST(OriginTest, OrdersWithAnOriginApplyOnceInApplyAndInApplyBatch) {
  std::vector<Command> commands = {
      {1, PutMerchant{"acme", "Acme"}},
      {1, PutProduct{"phone", "acme", "Phone", "phones", 100}},
      {1, PutInventory{"phone", 5}},
      {1, PutUser{"alice", "north"}},
      {2, PlaceOrder{"r1", "alice", {{"phone", 1}}}, Origin{"c2", 2, 1}},
      {2, PlaceOrder{"r2", "alice", {{"phone", 1}}}, Origin{"c2", 2, 1}},  // a repeat
      {3, PlaceOrder{"r3", "alice", {{"phone", 1}}}},
      {3, PlaceOrder{"r4", "alice", {{"phone", 1}}}, Origin{"c2", 2, 2}},
      {4, PayOrder{"o.1"}, Origin{"c2", 2, 2}},  // a repeat: not paid
  };
  auto one_by_one = Trade::Create(Options{"o."});
  std::vector<Reply> expected;
  for (const Command& command : commands) expected.push_back(one_by_one->Apply(command));
  EXPECT_EQ(one_by_one->order_count(), 3u);
  EXPECT_TRUE(expected[5].replayed);
  EXPECT_TRUE(expected[8].replayed);
  EXPECT_EQ(one_by_one->GetOrder("o.1", 4)->status, OrderStatus::kReserved);

  auto batched = Trade::Create(Options{"o."});
  batched->ApplyBatch(commands, [&](size_t index, Reply&& reply) {
    EXPECT_EQ(reply.status.ToString(), expected[index].status.ToString()) << index;
    EXPECT_EQ(reply.value, expected[index].value) << index;
    EXPECT_EQ(reply.replayed, expected[index].replayed) << index;
  });
  EXPECT_EQ(batched->StateHash(), one_by_one->StateHash());
}

TEST(OriginTest, AppliedPositionsArePartOfTheStateHash) {
  auto a = Trade::Create(Options{"o."});
  auto b = Trade::Create(Options{"o."});
  ASSERT_TRUE(a->Apply(Command{1, Tick{}}).status.ok());
  ASSERT_TRUE(b->Apply(Command{1, Tick{}, Origin{"c2", 1, 1}}).status.ok());
  EXPECT_NE(a->StateHash(), b->StateHash());
}

// ---- Snapshots --------------------------------------------------------------------------------

TEST_F(CentersTest, SnapshotsKeepTablesQuotasReportsRequestsAndPositions) {
  ASSERT_TRUE(Master(PutInventory{"tv", 10}).status.ok());
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 2}).status.ok());
  ASSERT_TRUE(AtSub(RequestQuota{"sale", "s1", 1}).status.ok());
  ASSERT_TRUE(AtSub(ReturnQuota{"sale", "s1", 1}).status.ok());
  ASSERT_TRUE(AtSub(CenterOrders{"s2", {{"sale", 1, 1}}}, Origin{"m", 1, 77}).status.ok());
  ASSERT_TRUE(AtMaster(CenterOrders{"s1", {{"sale", 2, 1}}}, Origin{"s1", 2, 4}).status.ok());
  ASSERT_TRUE(AtSub(PlaceOrder{"r1", "alice", {{"phone", 1}}}).status.ok());

  for (Trade* original : {master_.get(), sub_.get()}) {
    const bool is_master = original == master_.get();
    auto restored = Trade::Create(CenterOptions(is_master ? "m" : "s1"));
    ASSERT_TRUE(restored->Restore(original->Snapshot()).ok());
    EXPECT_EQ(restored->StateHash(), original->StateHash());
    EXPECT_EQ(restored->Snapshot(), original->Snapshot());
    EXPECT_EQ(*restored->GetCampaign("sale"), *original->GetCampaign("sale"));
    EXPECT_EQ(*restored->GetInventory("tv"), *original->GetInventory("tv"));
    EXPECT_EQ(restored->QuotaCommands(1000), original->QuotaCommands(1000));
    EXPECT_EQ(restored->AppliedThrough("m", 1), original->AppliedThrough("m", 1));
    EXPECT_EQ(restored->AppliedThrough("s1", 2), original->AppliedThrough("s1", 2));
  }
  EXPECT_EQ(sub_->AppliedThrough("m", 1), 77u);
  EXPECT_EQ(master_->AppliedThrough("s1", 2), 4u);
  EXPECT_EQ(SubSale().requested, 1);
}

TEST_F(CentersTest, RestoreRefusesASnapshotOfAnotherTopology) {
  Options fewer = CenterOptions("m");
  fewer.centers = {"m", "s1"};
  Options reordered = CenterOptions("m");
  reordered.centers = {"m", "s2", "s1"};
  Options single{"o.m."};
  for (const Options& options : {fewer, reordered, single}) {
    auto other = Trade::Create(options);
    const uint64_t hash = other->StateHash();
    const Status status = other->Restore(master_->Snapshot());
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
    EXPECT_NE(status.message().find("centers"), std::string::npos);
    EXPECT_EQ(other->StateHash(), hash);
  }
  auto single_center = Trade::Create(single);
  EXPECT_EQ(master_->Restore(single_center->Snapshot()).code(), Code::kInvalidArgument);
}

// Damage behind a valid checksum either fails or yields a state that keeps every invariant.
TEST_F(CentersTest, DamagedSnapshotsFailOrKeepEveryInvariant) {
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 2}).status.ok());
  ASSERT_TRUE(AtMaster(CenterOrders{"s1", {{"sale", 2, 1}}}, Origin{"s1", 2, 4}).status.ok());
  ASSERT_TRUE(AtMaster(PlaceOrder{"r1", "alice", {{"phone", 1}}}).status.ok());
  const std::string snapshot = master_->Snapshot();
  size_t restored_count = 0;
  size_t failed = 0;
  for (size_t at = 4; at + 4 < snapshot.size(); ++at) {
    for (const uint8_t flip : {0x01, 0x04, 0x80}) {
      std::string damaged = snapshot;
      damaged[at] = static_cast<char>(damaged[at] ^ flip);
      const uint32_t crc = Crc32c(std::string_view(damaged).substr(0, damaged.size() - 4));
      std::memcpy(damaged.data() + damaged.size() - 4, &crc, 4);
      auto trade = Trade::Create(CenterOptions("m"));
      const Status status = trade->Restore(damaged);
      if (status.ok()) {
        ++restored_count;
        EXPECT_TRUE(trade->CheckInvariants().ok());
      } else {
        ++failed;
        EXPECT_TRUE(status.code() == Code::kCorruption || status.code() == Code::kInvalidArgument)
            << status.ToString();
      }
    }
  }
  // Names and regions take any bytes: much damage restores, but all the rest is caught.
  EXPECT_GT(restored_count, 0u);
  EXPECT_GT(failed, snapshot.size());
}

// ---- QuotaCommands ----------------------------------------------------------------------------

TEST_F(CentersTest, TheMasterAsksItselfWhenLowAndSomethingIsUnallocated) {
  EXPECT_TRUE(master_->QuotaCommands(1000).empty());
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 2}).status.ok());  // quota 2, unallocated 2
  ASSERT_TRUE(AtMaster(PlaceOrder{"r1", "alice", {{"phone", 1}}}).status.ok());
  EXPECT_TRUE(master_->QuotaCommands(1000).empty());  // available 1 > 2 / 10
  ASSERT_TRUE(AtMaster(PlaceOrder{"r2", "bob", {{"phone", 1}}}).status.ok());
  const std::vector<Body> expected = {RequestQuota{"sale", "m", 1}};  // max(1, 2 / 3)
  EXPECT_EQ(master_->QuotaCommands(1000), expected);
  EXPECT_TRUE(master_->QuotaCommands(999).empty());   // not active yet
  EXPECT_TRUE(master_->QuotaCommands(2000).empty());  // over: the master returns nothing
  ASSERT_TRUE(AtMaster(std::get<RequestQuota>(expected[0])).status.ok());
  EXPECT_EQ(MasterSale().counts, Counts(3, 1, 2, 0));
}

TEST_F(CentersTest, ASubAsksOnceAndReturnsWhatIsLeftWhenTheSaleIsOver) {
  ASSERT_TRUE(Master(ReturnQuota{"sale", "m", 4}).status.ok());   // unallocated 4
  PutCampaign other{"a-sale", "tv", 3, 100, 1000, 1500, 5, 100};  // split 1, 1, 1
  ASSERT_TRUE(Master(other).status.ok());
  ASSERT_TRUE(AtSub(PlaceOrder{"r1", "alice", {{"phone", 2}}}).status.ok());
  ASSERT_TRUE(AtSub(PlaceOrder{"r2", "bob", {{"phone", 1}, {"tv", 1}}}).status.ok());
  // Sorted by campaign id: a-sale is low too, but nothing of it is unallocated.
  std::vector<Body> expected = {RequestQuota{"sale", "s1", 1}};  // max(1, 4 / 3)
  EXPECT_EQ(sub_->QuotaCommands(1000), expected);
  ASSERT_TRUE(AtSub(expected[0]).status.ok());
  EXPECT_TRUE(sub_->QuotaCommands(1000).empty());  // outstanding

  now_ms_ = 1600;  // a-sale is over; r1 and r2 expired at 1100 when the next command came
  ASSERT_TRUE(AtSub(Tick{}).status.ok());
  expected = {ReturnQuota{"a-sale", "s1", 1}};
  EXPECT_EQ(sub_->QuotaCommands(1600), expected);
  expected = {ReturnQuota{"a-sale", "s1", 1}, ReturnQuota{"sale", "s1", 3}};
  EXPECT_EQ(sub_->QuotaCommands(2000), expected);
}

// ---- Options ----------------------------------------------------------------------------------

TEST(CentersDeathTest, OptionsMustDescribeOneTopology) {
  Options not_listed = CenterOptions("s3");
  EXPECT_DEATH(Trade::Create(not_listed), "center must be one of centers");
  Options master_not_listed = CenterOptions("s1");
  master_not_listed.master = "x";
  EXPECT_DEATH(Trade::Create(master_not_listed), "master must be one of centers");
  Options twice = CenterOptions("s1");
  twice.centers = {"m", "s1", "m"};
  EXPECT_DEATH(Trade::Create(twice), "twice");
  Options bad_id = CenterOptions("m");
  bad_id.centers = {"m", std::string(33, 's')};
  EXPECT_DEATH(Trade::Create(bad_id), "center ids");
}

}  // namespace
}  // namespace surge::trade
