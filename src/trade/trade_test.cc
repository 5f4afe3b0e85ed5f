// Unit tests of the trade rules, one rule per test. The fixture sets up a small shop: merchant
// "acme", a phone (price 1000) with regular stock 10, a watch (price 500) with no stock record,
// users "alice" and "bob", and a flash sale "sale" on the phone: 5 units at 600, open during
// [1000, 2000), 2 per user, reservations held 100 ms.
#include "trade/trade.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "trade/trade_state.h"

namespace surge::trade {
namespace {

class TradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Ok(PutMerchant{"acme", "Acme"});
    Ok(PutProduct{"phone", "acme", "Phone", "phones", 1000});
    Ok(PutProduct{"watch", "acme", "Watch", "watches", 500});
    Ok(PutInventory{"phone", 10});
    Ok(PutUser{"alice", "north"});
    Ok(PutUser{"bob", "south"});
    Ok(Sale());
    now_ms_ = 1000;  // the sale is open
  }

  static PutCampaign Sale() {
    return PutCampaign{"sale",
                       "phone",
                       /*stock=*/5,
                       /*price_cents=*/600,
                       /*starts_at_ms=*/1000,
                       /*ends_at_ms=*/2000,
                       /*per_user_limit=*/2,
                       /*reserve_ttl_ms=*/100};
  }

  Reply Do(Body body) { return trade_->Apply(Command{now_ms_, std::move(body)}); }
  Reply Ok(Body body) {
    Reply reply = Do(std::move(body));
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return reply;
  }
  Code CodeOf(Body body) { return Do(std::move(body)).status.code(); }

  static PlaceOrder Order(std::string request_id, std::string user, std::vector<OrderItem> items) {
    return PlaceOrder{std::move(request_id), std::move(user), std::move(items)};
  }
  // Places an order and returns it; fails the test if it is refused.
  OrderView Place(std::string request_id, std::string user, std::vector<OrderItem> items) {
    const Reply reply = Do(Order(std::move(request_id), std::move(user), std::move(items)));
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    if (!reply.status.ok()) return OrderView{};
    return std::get<OrderView>(reply.value);
  }

  StockCounts SaleCounts() const { return trade_->GetCampaign("sale")->counts; }
  StockCounts PhoneCounts() const { return trade_->GetInventory("phone")->counts; }

  void ExpectInvariants() const { EXPECT_TRUE(trade_->CheckInvariants().ok()); }

  std::unique_ptr<Trade> trade_ = Trade::Create(Options{"o.c1."});
  int64_t now_ms_ = 0;
};

StockCounts Counts(int64_t stock, int64_t available, int64_t reserved, int64_t sold) {
  return StockCounts{stock, available, reserved, sold};
}

// ---- Master data ---------------------------------------------------------------------------

TEST_F(TradeTest, PutRepliesWithTheStoredObjectAndGetReadsItBack) {
  const Reply reply = Ok(PutProduct{"tv", "acme", "TV", "screens", 30000});
  const ProductView expected{"tv", "acme", "TV", "screens", 30000};
  EXPECT_EQ(std::get<ProductView>(reply.value), expected);
  EXPECT_EQ(*trade_->GetProduct("tv"), expected);
  EXPECT_EQ(trade_->GetUser("bob")->region, "south");
  EXPECT_EQ(trade_->GetMerchant("acme")->name, "Acme");
  EXPECT_EQ(trade_->GetCampaign("sale")->counts, Counts(5, 5, 0, 0));
  EXPECT_EQ(PhoneCounts(), Counts(10, 10, 0, 0));
}

TEST_F(TradeTest, PutReplacesAnExistingObject) {
  Ok(PutUser{"alice", "west"});
  Ok(PutProduct{"phone", "acme", "Phone 2", "phones", 1200});
  EXPECT_EQ(trade_->GetUser("alice")->region, "west");
  EXPECT_EQ(trade_->GetProduct("phone")->price_cents, 1200);
}

TEST_F(TradeTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(trade_->GetMerchant("nobody").status().code(), Code::kNotFound);
  EXPECT_EQ(trade_->GetProduct("nothing").status().code(), Code::kNotFound);
  EXPECT_EQ(trade_->GetUser("carol").status().code(), Code::kNotFound);
  EXPECT_EQ(trade_->GetCampaign("none").status().code(), Code::kNotFound);
  EXPECT_EQ(trade_->GetInventory("watch").status().code(), Code::kNotFound);  // no stock record
  EXPECT_EQ(trade_->GetOrder("o.c1.1", now_ms_).status().code(), Code::kNotFound);
  EXPECT_EQ(trade_->GetUserOrders("carol", now_ms_).status().code(), Code::kNotFound);
}

TEST_F(TradeTest, ProductNeedsAnExistingMerchant) {
  const Reply reply = Do(PutProduct{"tv", "globex", "TV", "screens", 100});
  EXPECT_EQ(reply.status.code(), Code::kNotFound);
  EXPECT_NE(reply.status.message().find("globex"), std::string::npos);
  EXPECT_EQ(trade_->GetProduct("tv").status().code(), Code::kNotFound);
}

TEST_F(TradeTest, InventoryAndCampaignsNeedAnExistingProduct) {
  EXPECT_EQ(CodeOf(PutInventory{"tv", 3}), Code::kNotFound);
  PutCampaign campaign = Sale();
  campaign.id = "tv-sale";
  campaign.sku = "tv";
  EXPECT_EQ(CodeOf(campaign), Code::kNotFound);
  EXPECT_EQ(trade_->GetCampaign("tv-sale").status().code(), Code::kNotFound);
}

TEST_F(TradeTest, MalformedMasterDataIsBadFieldNamingTheField) {
  struct Case {
    Body body;
    std::string field;
  };
  PutCampaign backwards = Sale();
  backwards.ends_at_ms = backwards.starts_at_ms;
  PutCampaign no_limit = Sale();
  no_limit.per_user_limit = 0;
  PutCampaign forever = Sale();
  forever.reserve_ttl_ms = kReserveTtlMsMax + 1;
  PutCampaign negative = Sale();
  negative.stock = -1;
  PutCampaign pricey = Sale();
  pricey.price_cents = kPriceCentsMax + 1;
  const std::vector<Case> cases = {
      {PutMerchant{"bad id", "x"}, "id"},
      {PutMerchant{"m", std::string(kNameLengthMax + 1, 'x')}, "name"},
      {PutProduct{"tv", "acme", "TV", "screens", -5}, "price_cents"},
      {PutUser{std::string(65, 'u'), "north"}, "id"},
      {PutInventory{"phone", kStockMax + 1}, "stock"},
      {backwards, "ends_at"},
      {no_limit, "per_user_limit"},
      {forever, "reserve_ttl_ms"},
      {negative, "stock"},
      {pricey, "price_cents"},
  };
  Ok(Tick{});
  const std::string before = trade_->Snapshot();
  for (const Case& c : cases) {
    const Reply reply = Do(c.body);
    EXPECT_EQ(reply.status.code(), Code::kBadField) << c.field;
    EXPECT_EQ(reply.status.message().rfind(c.field, 0), 0u) << reply.status.message();
  }
  EXPECT_EQ(trade_->Snapshot(), before);  // nothing changed
}

TEST_F(TradeTest, CampaignWindowsOfOneSkuMayNotOverlap) {
  PutCampaign later = Sale();
  later.id = "later";
  later.starts_at_ms = 1999;
  later.ends_at_ms = 3000;
  const Reply reply = Do(later);
  EXPECT_EQ(reply.status.code(), Code::kBadField);
  EXPECT_NE(reply.status.message().find("sale"), std::string::npos);

  later.starts_at_ms = 2000;  // windows are half-open: [1000, 2000) and [2000, 3000) touch
  Ok(later);
  Ok(Sale());  // updating a campaign does not overlap with itself
  later.id = "other-sku";
  later.sku = "watch";
  later.starts_at_ms = 1500;
  Ok(later);  // another SKU may overlap
}

TEST_F(TradeTest, CampaignMayNotMoveToAnotherSkuWhileItHoldsUnits) {
  const OrderView order = Place("r1", "alice", {{"phone", 1}});
  PutCampaign moved = Sale();
  moved.sku = "watch";
  EXPECT_EQ(CodeOf(moved), Code::kBadField);
  Ok(CancelOrder{order.order_id});
  Ok(moved);
  EXPECT_EQ(trade_->GetCampaign("sale")->sku, "watch");
  EXPECT_EQ(trade_->ActiveCampaignCounts("phone", now_ms_), std::nullopt);
  EXPECT_EQ(trade_->ActiveCampaignCounts("watch", now_ms_)->stock, 5);
}

TEST_F(TradeTest, StockMayNotGoBelowReservedPlusSold) {
  Ok(PayOrder{Place("r1", "alice", {{"phone", 2}}).order_id});
  Place("r2", "bob", {{"phone", 1}});
  PutCampaign smaller = Sale();
  smaller.stock = 2;
  EXPECT_EQ(CodeOf(smaller), Code::kBadField);
  smaller.stock = 3;
  EXPECT_EQ(std::get<CampaignView>(Ok(smaller).value).counts, Counts(3, 0, 1, 2));

  now_ms_ = 2000;  // the sale is over: regular stock
  Place("r3", "alice", {{"phone", 4}});
  EXPECT_EQ(CodeOf(PutInventory{"phone", 3}), Code::kBadField);
  EXPECT_EQ(std::get<InventoryView>(Ok(PutInventory{"phone", 4}).value).counts, Counts(4, 0, 4, 0));
}

TEST_F(TradeTest, PerUserLimitMayNotGoBelowWhatAUserHolds) {
  Place("r1", "alice", {{"phone", 2}});
  PutCampaign stricter = Sale();
  stricter.per_user_limit = 1;
  EXPECT_EQ(CodeOf(stricter), Code::kBadField);
  stricter.per_user_limit = 3;
  Ok(stricter);
}

// ---- Placing orders --------------------------------------------------------------------------

TEST_F(TradeTest, ActiveCampaignSellsAtItsPriceFromItsStock) {
  const OrderView order = Place("r1", "alice", {{"phone", 2}});
  EXPECT_EQ(order.order_id, "o.c1.1");
  EXPECT_EQ(order.request_id, "r1");
  EXPECT_EQ(order.user, "alice");
  EXPECT_EQ(order.status, OrderStatus::kReserved);
  EXPECT_EQ(order.total_cents, 1200);
  EXPECT_EQ(order.created_at_ms, 1000);
  EXPECT_EQ(order.expires_at_ms, 1100);
  ASSERT_EQ(order.items.size(), 1u);
  EXPECT_EQ(order.items[0], (OrderItemView{"phone", 2, 600, "sale"}));
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 2, 0));
  EXPECT_EQ(PhoneCounts(), Counts(10, 10, 0, 0));  // regular stock untouched
  EXPECT_EQ(*trade_->GetOrder("o.c1.1", now_ms_), order);
  ExpectInvariants();
}

TEST_F(TradeTest, OutsideTheWindowRegularStockSellsAtTheProductPrice) {
  for (const int64_t at : {999, 2000}) {  // just before the start; the end is exclusive
    now_ms_ = at;
    const OrderView order = Place("r" + std::to_string(at), "alice", {{"phone", 1}});
    EXPECT_EQ(order.items[0], (OrderItemView{"phone", 1, 1000, ""})) << at;
    EXPECT_EQ(order.expires_at_ms, at + kDefaultReserveTtlMs);
  }
  EXPECT_EQ(PhoneCounts(), Counts(10, 8, 2, 0));
  EXPECT_EQ(SaleCounts(), Counts(5, 5, 0, 0));
}

TEST_F(TradeTest, WithoutStockRecordAnInactiveCampaignIsNotActiveAndNoCampaignIsSoldOut) {
  Reply reply = Do(Order("r1", "alice", {{"watch", 1}}));
  EXPECT_EQ(reply.status.code(), Code::kSoldOut);
  EXPECT_NE(reply.status.message().find("watch"), std::string::npos);

  PutCampaign watch_sale = Sale();
  watch_sale.id = "watch-sale";
  watch_sale.sku = "watch";
  watch_sale.starts_at_ms = 5000;
  watch_sale.ends_at_ms = 6000;
  Ok(watch_sale);
  reply = Do(Order("r2", "alice", {{"watch", 1}}));
  EXPECT_EQ(reply.status.code(), Code::kCampaignNotActive);
  EXPECT_NE(reply.status.message().find("watch"), std::string::npos);
  EXPECT_EQ(CodeOf(Order("r3", "alice", {{"watch", 1}})), Code::kCampaignNotActive);
  now_ms_ = 5000;
  EXPECT_EQ(Place("r4", "alice", {{"watch", 1}}).items[0].campaign, "watch-sale");
}

TEST_F(TradeTest, UnknownUserOrProductIsNotFound) {
  Reply reply = Do(Order("r1", "carol", {{"phone", 1}}));
  EXPECT_EQ(reply.status.code(), Code::kNotFound);
  EXPECT_NE(reply.status.message().find("carol"), std::string::npos);
  reply = Do(Order("r2", "alice", {{"phone", 1}, {"tv", 1}}));
  EXPECT_EQ(reply.status.code(), Code::kNotFound);
  EXPECT_NE(reply.status.message().find("tv"), std::string::npos);
  EXPECT_EQ(SaleCounts(), Counts(5, 5, 0, 0));
}

TEST_F(TradeTest, NotEnoughStockIsSoldOutNamingTheCampaign) {
  const Reply reply = Do(Order("r1", "alice", {{"phone", 6}}));
  EXPECT_EQ(reply.status.code(), Code::kSoldOut);
  EXPECT_NE(reply.status.message().find("campaign sale"), std::string::npos);
  Place("r2", "alice", {{"phone", 2}});
  Place("r3", "bob", {{"phone", 2}});
  Ok(PutUser{"carol", "east"});
  Place("r5", "carol", {{"phone", 1}});
  EXPECT_EQ(CodeOf(Order("r6", "carol", {{"phone", 1}})), Code::kSoldOut);
  EXPECT_EQ(SaleCounts(), Counts(5, 0, 5, 0));
  ExpectInvariants();
}

TEST_F(TradeTest, ItemsAreReservedAllOrNothing) {
  Ok(PutInventory{"watch", 1});
  const Reply reply = Do(Order("r1", "alice", {{"phone", 1}, {"watch", 2}}));
  EXPECT_EQ(reply.status.code(), Code::kSoldOut);
  EXPECT_NE(reply.status.message().find("watch"), std::string::npos);
  EXPECT_EQ(SaleCounts(), Counts(5, 5, 0, 0));
  EXPECT_EQ(trade_->GetInventory("watch")->counts, Counts(1, 1, 0, 0));
  EXPECT_EQ(trade_->order_count(), 0u);

  const OrderView order = Place("r2", "alice", {{"phone", 1}, {"watch", 1}});
  EXPECT_EQ(order.total_cents, 600 + 500);
  EXPECT_EQ(order.items[1], (OrderItemView{"watch", 1, 500, ""}));
  EXPECT_EQ(order.expires_at_ms, now_ms_ + 100);  // the campaign's TTL, not the default
  EXPECT_EQ(trade_->GetInventory("watch")->counts, Counts(1, 0, 1, 0));
}

TEST_F(TradeTest, ExpiryUsesTheShortestTtlOfTheOrdersCampaigns) {
  PutCampaign watch_sale = Sale();
  watch_sale.id = "watch-sale";
  watch_sale.sku = "watch";
  watch_sale.reserve_ttl_ms = 40;
  Ok(watch_sale);
  EXPECT_EQ(Place("r1", "alice", {{"phone", 1}, {"watch", 1}}).expires_at_ms, now_ms_ + 40);
  EXPECT_EQ(trade_->NextExpiryMs(), now_ms_ + 40);
}

TEST_F(TradeTest, PerUserLimitCountsReservedAndPaidUnits) {
  Ok(PayOrder{Place("r1", "alice", {{"phone", 1}}).order_id});
  const OrderView second = Place("r2", "alice", {{"phone", 1}});
  const Reply refused = Do(Order("r3", "alice", {{"phone", 1}}));
  EXPECT_EQ(refused.status.code(), Code::kLimitExceeded);
  EXPECT_NE(refused.status.message().find("campaign sale"), std::string::npos);
  Place("r4", "bob", {{"phone", 2}});  // the limit is per user
  Ok(CancelOrder{second.order_id});    // cancelling frees the user's units
  Place("r5", "alice", {{"phone", 1}});
  EXPECT_EQ(CodeOf(Order("r6", "alice", {{"phone", 1}})), Code::kLimitExceeded);
  ExpectInvariants();
}

TEST_F(TradeTest, MalformedOrdersAreBadFieldNamingTheField) {
  struct Case {
    PlaceOrder order;
    std::string field;
  };
  std::vector<OrderItem> too_many;
  for (size_t i = 0; i <= kItemsMax; ++i) too_many.push_back({"sku" + std::to_string(i), 1});
  const std::vector<Case> cases = {
      {Order("r1", "alice", {}), "items"},
      {Order("r1", "alice", too_many), "items"},
      {Order("r1", "alice", {{"phone", 0}}), "items[0].quantity"},
      {Order("r1", "alice", {{"watch", 1}, {"phone", kQuantityMax + 1}}), "items[1].quantity"},
      {Order("r1", "alice", {{"phone", 1}, {"watch", 1}, {"phone", 2}}), "items[2].sku"},
      {Order("r1", "alice", {{"ph one", 1}}), "items[0].sku"},
      {Order("", "alice", {{"phone", 1}}), "request_id"},
      {Order("r1", "al/ice", {{"phone", 1}}), "user"},
  };
  for (const Case& c : cases) {
    const Reply reply = Do(c.order);
    EXPECT_EQ(reply.status.code(), Code::kBadField) << c.field;
    EXPECT_EQ(reply.status.message().rfind(c.field + " ", 0), 0u) << reply.status.message();
  }
  EXPECT_EQ(trade_->order_count(), 0u);
}

TEST_F(TradeTest, OrderIdsArePrefixAndCounter) {
  Ok(PutInventory{"watch", 5});
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(Place("r" + std::to_string(i), "bob", {{"watch", 1}}).order_id,
              "o.c1." + std::to_string(i));
  }
  EXPECT_EQ(trade_->order_count(), 5u);
  for (const std::string id : {"o.c1.0", "o.c1.05", "o.c1.6", "o.c2.1", "c1.1", "o.c1."}) {
    EXPECT_EQ(CodeOf(PayOrder{id}), Code::kNotFound) << id;
  }
}

TEST_F(TradeTest, UserOrdersAreListedOldestFirst) {
  Place("r1", "alice", {{"phone", 1}});
  Place("r2", "bob", {{"phone", 1}});
  Place("r3", "alice", {{"phone", 1}});
  const auto orders = trade_->GetUserOrders("alice", now_ms_);
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].order_id, "o.c1.1");
  EXPECT_EQ((*orders)[1].order_id, "o.c1.3");
  EXPECT_TRUE(trade_->GetUserOrders("bob", now_ms_).ok());
}

// ---- Paying, cancelling, expiring ----------------------------------------------------------

TEST_F(TradeTest, PayMovesReservedUnitsToSoldAndIsIdempotent) {
  const OrderView order = Place("r1", "alice", {{"phone", 2}});
  Reply reply = Ok(PayOrder{order.order_id});
  EXPECT_EQ(std::get<OrderView>(reply.value).status, OrderStatus::kPaid);
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 0, 2));
  reply = Ok(PayOrder{order.order_id});
  EXPECT_EQ(std::get<OrderView>(reply.value).status, OrderStatus::kPaid);
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 0, 2));
  EXPECT_EQ(CodeOf(CancelOrder{order.order_id}), Code::kWrongState);
  now_ms_ = 5000;  // long past expires_at: paid orders never expire
  EXPECT_EQ(trade_->GetOrder(order.order_id, now_ms_)->status, OrderStatus::kPaid);
  ExpectInvariants();
}

TEST_F(TradeTest, CancelReturnsStockAndIsIdempotent) {
  const OrderView order = Place("r1", "alice", {{"phone", 2}});
  Ok(CancelOrder{order.order_id});
  EXPECT_EQ(SaleCounts(), Counts(5, 5, 0, 0));
  const Reply again = Ok(CancelOrder{order.order_id});
  EXPECT_EQ(std::get<OrderView>(again.value).status, OrderStatus::kCancelled);
  const Reply pay = Do(PayOrder{order.order_id});
  EXPECT_EQ(pay.status.code(), Code::kWrongState);
  EXPECT_NE(pay.status.message().find("cancelled"), std::string::npos);
  EXPECT_EQ(trade_->NextExpiryMs(), std::nullopt);
}

TEST_F(TradeTest, ReservationsExpireAtExpiresAtAndReturnTheirStock) {
  const OrderView order = Place("r1", "alice", {{"phone", 2}});
  EXPECT_EQ(trade_->NextExpiryMs(), 1100);
  now_ms_ = 1099;
  Ok(Tick{});
  EXPECT_EQ(trade_->GetOrder(order.order_id, now_ms_)->status, OrderStatus::kReserved);
  // Due but not yet applied: reads show it as expired already.
  EXPECT_EQ(trade_->GetOrder(order.order_id, 1100)->status, OrderStatus::kExpired);
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 2, 0));

  now_ms_ = 1100;
  const Reply pay = Do(PayOrder{order.order_id});  // expiry comes first
  EXPECT_EQ(pay.status.code(), Code::kWrongState);
  EXPECT_NE(pay.status.message().find("expired"), std::string::npos);
  EXPECT_EQ(SaleCounts(), Counts(5, 5, 0, 0));
  EXPECT_EQ(CodeOf(CancelOrder{order.order_id}), Code::kWrongState);
  EXPECT_EQ(trade_->NextExpiryMs(), std::nullopt);
  Place("r2", "alice", {{"phone", 2}});  // the user's units came back too
  ExpectInvariants();
}

TEST_F(TradeTest, NextExpiryIsTheEarliestReservedOrder) {
  const OrderView first = Place("r1", "alice", {{"phone", 1}});
  now_ms_ = 1050;
  Place("r2", "bob", {{"phone", 1}});
  EXPECT_EQ(trade_->NextExpiryMs(), 1100);
  Ok(PayOrder{first.order_id});
  EXPECT_EQ(trade_->NextExpiryMs(), 1150);
  now_ms_ = 1150;
  Ok(Tick{});
  EXPECT_EQ(trade_->NextExpiryMs(), std::nullopt);
}

TEST_F(TradeTest, UnknownOrdersAreNotFound) {
  EXPECT_EQ(CodeOf(PayOrder{"o.c1.1"}), Code::kNotFound);
  EXPECT_EQ(CodeOf(CancelOrder{"o.c1.1"}), Code::kNotFound);
  EXPECT_EQ(CodeOf(PayOrder{"bad id!"}), Code::kBadField);
}

// ---- Idempotency ---------------------------------------------------------------------------

TEST_F(TradeTest, RetryWithTheSameBodyReturnsTheOriginalOrder) {
  const PlaceOrder request = Order("r1", "alice", {{"phone", 2}});
  const OrderView original = std::get<OrderView>(Ok(request).value);
  Ok(PayOrder{original.order_id});
  now_ms_ = 1500;
  const Reply retry = Ok(request);
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(std::get<OrderView>(retry.value), original);  // as created: reserved, same id
  EXPECT_EQ(trade_->order_count(), 1u);
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 0, 2));
}

TEST_F(TradeTest, RetryWithAnotherBodyIsRequestIdReusedAndNotRemembered) {
  const PlaceOrder request = Order("r1", "alice", {{"phone", 1}});
  Ok(request);
  for (const PlaceOrder& other :
       {Order("r1", "bob", {{"phone", 1}}), Order("r1", "alice", {{"phone", 2}}),
        Order("r1", "alice", {{"phone", 1}, {"watch", 1}})}) {
    const Reply reply = Do(other);
    EXPECT_EQ(reply.status.code(), Code::kRequestIdReused);
    EXPECT_FALSE(reply.replayed);
  }
  EXPECT_TRUE(Ok(request).replayed);  // the original is still what r1 means
  EXPECT_EQ(trade_->order_count(), 1u);
}

TEST_F(TradeTest, ErrorRepliesAreRememberedToo) {
  const PlaceOrder request = Order("r1", "alice", {{"phone", 6}});
  const Reply first = Do(request);
  EXPECT_EQ(first.status.code(), Code::kSoldOut);
  EXPECT_FALSE(first.replayed);
  EXPECT_TRUE(trade_->KnowsRequest("r1"));

  PutCampaign bigger = Sale();
  bigger.stock = 100;
  bigger.per_user_limit = 10;
  Ok(bigger);
  const Reply retry = Do(request);  // would succeed now, but r1 was answered already
  EXPECT_EQ(retry.status.code(), Code::kSoldOut);
  EXPECT_EQ(retry.status.message(), first.status.message());
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(Place("r2", "alice", {{"phone", 6}}).items[0].quantity, 6);

  const Reply unknown_user = Do(Order("r3", "carol", {{"phone", 1}}));
  Ok(PutUser{"carol", "east"});
  const Reply replayed = Do(Order("r3", "carol", {{"phone", 1}}));
  EXPECT_EQ(replayed.status.code(), Code::kNotFound);
  EXPECT_EQ(replayed.status.message(), unknown_user.status.message());
}

TEST_F(TradeTest, MalformedRequestsAreNotRemembered) {
  EXPECT_EQ(CodeOf(Order("r1", "alice", {{"phone", 0}})), Code::kBadField);
  EXPECT_FALSE(trade_->KnowsRequest("r1"));
  const Reply corrected = Ok(Order("r1", "alice", {{"phone", 1}}));
  EXPECT_FALSE(corrected.replayed);
}

TEST_F(TradeTest, ForEachRequestIdVisitsEveryRememberedRequest) {
  Place("r1", "alice", {{"phone", 1}});
  Do(Order("r2", "carol", {{"phone", 1}}));  // not_found: remembered
  Do(Order("r3", "alice", {{"phone", 0}}));  // bad_field: not remembered
  std::vector<std::string> seen;
  trade_->ForEachRequestId([&](std::string_view id) { seen.emplace_back(id); });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"r1", "r2"}));
}

// ---- Time and invariants -------------------------------------------------------------------

TEST_F(TradeTest, TimeMustNotGoBackwards) {
  Ok(Tick{});
  EXPECT_EQ(trade_->last_now_ms(), 1000);
  EXPECT_DEATH(trade_->Apply(Command{999, Tick{}}), "now_ms");
}

TEST_F(TradeTest, InvariantsHoldThroughAMixOfEverything) {
  Ok(PutInventory{"watch", 3});
  const OrderView a = Place("r1", "alice", {{"phone", 2}, {"watch", 1}});
  const OrderView b = Place("r2", "bob", {{"phone", 1}});
  Ok(PayOrder{a.order_id});
  Ok(CancelOrder{b.order_id});
  Place("r3", "bob", {{"watch", 2}});
  now_ms_ = 3000;
  Ok(Tick{});
  ExpectInvariants();
  EXPECT_EQ(SaleCounts(), Counts(5, 3, 0, 2));
  // r3 came from regular stock: it holds the default TTL of 15 minutes.
  EXPECT_EQ(trade_->GetInventory("watch")->counts, Counts(3, 0, 2, 1));
}

TEST(TradeOrderIdTest, FormatsAndParsesTheCounter) {
  for (const uint64_t counter :
       {uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{99}, uint64_t{100}, uint64_t{101},
        uint64_t{12'345}, uint64_t{1'000'000}, uint64_t{9'223'372'036'854'775'807}}) {
    std::string id;
    internal::AppendOrderId("o.c1.", counter, &id);
    EXPECT_EQ(id, "o.c1." + std::to_string(counter));
    EXPECT_EQ(internal::ParseOrderCounter("o.c1.", id), counter);
  }
  for (const std::string_view id :
       {"o.c1.", "o.c1.0", "o.c1.007", "o.c1.1x", "o.c2.1", "o.c1.99999999999999999999", "x"}) {
    EXPECT_EQ(internal::ParseOrderCounter("o.c1.", id), 0u) << id;
  }
  EXPECT_EQ(internal::ParseOrderCounter("", "42"), 42u);
}

// Replies name each new order by its counter, across every carry (9 -> 10, 99 -> 100, ...), also
// with replies about older orders in between.
TEST(TradeOrderIdTest, RepliesNameEveryNewOrder) {
  auto trade = Trade::Create(Options{"o.c7."});
  trade->Apply(Command{1, PutMerchant{"m", "M"}});
  trade->Apply(Command{1, PutUser{"u", "r"}});
  trade->Apply(Command{1, PutProduct{"p", "m", "P", "c", 10}});
  trade->Apply(Command{1, PutInventory{"p", 1'000'000}});
  for (int i = 1; i <= 10'001; ++i) {
    const Reply reply =
        trade->Apply(Command{2, PlaceOrder{"r" + std::to_string(i), "u", {{"p", 1}}}});
    ASSERT_TRUE(reply.status.ok()) << i;
    ASSERT_EQ(std::get<OrderView>(reply.value).order_id, "o.c7." + std::to_string(i));
    if (i % 7 == 0) {
      const std::string older = "o.c7." + std::to_string(i / 2 + 1);
      ASSERT_EQ(trade->GetOrder(older, 2)->order_id, older);
      const Reply paid = trade->Apply(Command{2, PayOrder{older}});
      ASSERT_EQ(std::get<OrderView>(paid.value).order_id, older);
    }
  }
}

// Sizing only reserves memory: the same commands give the same replies and the same snapshot,
// also past the reserved size, and after a restore.
TEST(TradeSizingTest, ExpectedOrdersChangesNothingVisible) {
  auto plain = Trade::Create(Options{"o.c1."});
  auto sized = Trade::Create(Options{.order_id_prefix = "o.c1.", .expected_orders = 5'000});
  std::vector<Command> commands = {
      Command{1, PutMerchant{"m", "M"}}, Command{1, PutUser{"u1", "r"}},
      Command{1, PutUser{"u2", "r"}}, Command{1, PutProduct{"p", "m", "P", "c", 10}},
      Command{1, PutCampaign{"c", "p", 1'000'000, 5, 0, kTimeMsMax, 1'000'000, 60'000}}};
  for (int i = 0; i < 9'000; ++i) {  // past the 5'000 reserved, across several storage chunks
    commands.push_back(Command{
        2 + i / 100, PlaceOrder{"r" + std::to_string(i), i % 3 == 0 ? "u1" : "u2", {{"p", 1}}}});
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    const Reply a = plain->Apply(commands[i]);
    const Reply b = sized->Apply(commands[i]);
    ASSERT_EQ(a.status.ToString(), b.status.ToString()) << i;
    ASSERT_EQ(a.value, b.value) << i;
  }
  EXPECT_EQ(plain->Snapshot(), sized->Snapshot());
  auto restored = Trade::Create(Options{.order_id_prefix = "o.c1.", .expected_orders = 20'000});
  ASSERT_TRUE(restored->Restore(plain->Snapshot()).ok());
  const Command more{200, PlaceOrder{"more", "u1", {{"p", 2}}}};
  EXPECT_EQ(plain->Apply(more).value, restored->Apply(more).value);
  EXPECT_EQ(plain->Snapshot(), restored->Snapshot());
  EXPECT_TRUE(restored->CheckInvariants().ok());
}

// A user's record keeps kHoldingsInline holdings in free slots, found by one scan of the packed
// campaign ids (never of the units beside them); the rest spill to the state's table.
TEST(TradeHoldingsTest, InlineSlotsThenSpill) {
  internal::State state;
  state.users.resize(2);
  const uint32_t inline_count = static_cast<uint32_t>(internal::kHoldingsInline);
  for (uint32_t c = 0; c < inline_count + 5; ++c) {
    EXPECT_EQ(state.AddHeld(1, 100 + c, c + 1), c + 1);
  }
  EXPECT_EQ(state.users[1].spilled, 5u);
  EXPECT_EQ(state.users[0].Slot(internal::kNoIndex), 0u);  // user 0 has every slot free
  int64_t units = -1;
  for (uint32_t c = 0; c < inline_count + 5; ++c) {
    const uint32_t where = state.FindHolding(1, 100 + c, &units);
    EXPECT_EQ(where, c < inline_count ? c : internal::kHoldingSpilled) << c;
    EXPECT_EQ(units, c + 1);
    EXPECT_EQ(state.Held(0, 100 + c), 0);
  }
  // The units next to the ids must not be mistaken for one.
  state.users[1].units[0] = 7;
  EXPECT_EQ(state.FindHolding(1, 7, &units), internal::kHoldingAbsent);
  EXPECT_EQ(units, 0);
  // Emptying a slot frees it for the next new holding; spilled ones stay where they are.
  EXPECT_EQ(state.AddHeld(1, 103, -4), 0);
  EXPECT_EQ(state.FindHolding(1, 103, &units), internal::kHoldingAbsent);
  EXPECT_EQ(state.AddHeld(1, 500, 2), 2);
  EXPECT_EQ(state.FindHolding(1, 500, &units), 3u);
  EXPECT_EQ(state.AddHeld(1, 100 + inline_count, -int64_t{inline_count + 1}), 0);
  EXPECT_EQ(state.users[1].spilled, 4u);
  EXPECT_EQ(state.Held(1, 100 + inline_count), 0);
  size_t visited = 0;
  state.ForEachHolding([&](uint32_t user, uint32_t campaign, int64_t held) {
    EXPECT_EQ(user, 1u);
    EXPECT_EQ(held, state.Held(user, campaign));
    ++visited;
  });
  EXPECT_EQ(visited, internal::kHoldingsInline + 4);
  // A holding with more units than the record keeps moves to the table, and stays there.
  const int64_t big = internal::kInlineUnitsMax;
  EXPECT_EQ(state.AddHeld(0, 9, 5), 5);
  EXPECT_EQ(state.FindHolding(0, 9, &units), 0u);
  EXPECT_EQ(state.AddHeld(0, 9, big), big + 5);
  EXPECT_EQ(state.FindHolding(0, 9, &units), internal::kHoldingSpilled);
  EXPECT_EQ(units, big + 5);
  EXPECT_EQ(state.users[0].spilled, 1u);
  EXPECT_EQ(state.users[0].Slot(internal::kNoIndex), 0u);  // its slot is free again
  EXPECT_EQ(state.AddHeld(0, 9, -big), 5);
  EXPECT_EQ(state.FindHolding(0, 9, &units), internal::kHoldingSpilled);
  EXPECT_EQ(state.AddHeld(0, 9, -5), 0);
  EXPECT_EQ(state.users[0].spilled, 0u);
  EXPECT_EQ(state.AddHeld(0, 10, big + 1), big + 1);  // born too large
  EXPECT_EQ(state.FindHolding(0, 10, &units), internal::kHoldingSpilled);
}

// Through the API: a user may hold more units of a campaign than a record's inline slot counts
// (kInlineUnitsMax); the rules, the invariants and a snapshot round trip see the same holding.
TEST(TradeHoldingsTest, HugeHoldingsThroughTheApi) {
  auto trade = Trade::Create(Options{"o."});
  const auto ok = [&](int64_t now_ms, Body body) {
    const Reply reply = trade->Apply(Command{now_ms, std::move(body)});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return reply;
  };
  ok(1, PutMerchant{"m", "M"});
  ok(1, PutUser{"u", "r"});
  ok(1, PutProduct{"p", "m", "P", "c", 10});
  const int64_t limit = internal::kInlineUnitsMax + 3 * kQuantityMax;
  ok(1, PutCampaign{"c", "p", kStockMax, 5, 0, kTimeMsMax, limit, 60'000});
  const int64_t orders = limit / kQuantityMax;  // past the inline maximum
  for (int64_t i = 0; i < orders; ++i) {
    ok(2, PlaceOrder{"r" + std::to_string(i), "u", {{"p", kQuantityMax}}});
  }
  const int64_t held = orders * kQuantityMax;
  ASSERT_GT(held, internal::kInlineUnitsMax);
  EXPECT_EQ(
      trade->Apply(Command{2, PlaceOrder{"over", "u", {{"p", limit - held + 1}}}}).status.code(),
      Code::kLimitExceeded);
  ok(2, PlaceOrder{"exact", "u", {{"p", limit - held}}});
  ok(3, CancelOrder{"o.1"});
  ok(3, PlaceOrder{"again", "u", {{"p", kQuantityMax}}});
  EXPECT_TRUE(trade->CheckInvariants().ok()) << trade->CheckInvariants().ToString();
  auto restored = Trade::Create(Options{"o."});
  ASSERT_TRUE(restored->Restore(trade->Snapshot()).ok());
  EXPECT_EQ(restored->StateHash(), trade->StateHash());
  EXPECT_EQ(restored->Apply(Command{4, PlaceOrder{"one", "u", {{"p", 1}}}}).status.code(),
            Code::kLimitExceeded);
  // Cancelling brings the holding back under the inline maximum, out of the table's reach.
  for (int64_t i = 2; i <= orders; ++i) ok(5, CancelOrder{"o." + std::to_string(i)});
  EXPECT_TRUE(trade->CheckInvariants().ok()) << trade->CheckInvariants().ToString();
  ok(5, PlaceOrder{"after", "u", {{"p", kQuantityMax}}});
}

// HashId is part of the snapshot's meaning (fingerprints): its short-id loads must give the
// values of a plain zero-extended copy, and the table must find and store ids of every length.
TEST(TradeIdsTest, ShortIdLoadsHashAndCompareLikeACopy) {
  const auto reference_hash = [](std::string_view id) {
    constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
    const char* bytes = id.data();
    const size_t size = id.size();
    uint64_t hash = 0x2d358dccaa6c78a5ULL ^ size;
    if (size >= 8) {
      const char* last = bytes + size - 8;
      for (; bytes < last; bytes += 8) {
        hash = internal::FoldedMultiply(hash ^ internal::Load64(bytes), kMultiplier);
      }
      hash = internal::FoldedMultiply(hash ^ internal::Load64(last), kMultiplier);
    } else if (size > 0) {
      uint64_t word = 0;
      std::memcpy(&word, bytes, size);
      hash = internal::FoldedMultiply(hash ^ word, kMultiplier);
    }
    return internal::FoldedMultiply(hash, 0x8bb84b93962eacc9ULL);
  };
  std::mt19937_64 random(11);
  internal::IdTable table;
  std::vector<std::string> ids;
  for (int round = 0; round < 5'000; ++round) {
    std::string id(random() % 40, 'x');
    for (char& c : id) c = static_cast<char>(random() % 256);
    ASSERT_EQ(internal::HashId(id), reference_hash(id)) << id.size();
    if (!id.empty()) {
      uint64_t word = 0;
      std::memcpy(&word, id.data(), std::min<size_t>(id.size(), 8));
      if (id.size() < 8) {
        ASSERT_EQ(internal::LoadShort(id.data(), id.size()), word);
      }
    }
    bool added = false;
    const uint32_t index = table.Insert(id, &added);
    if (added) ids.push_back(id);
    ASSERT_EQ(table.id(index), id);
  }
  for (uint32_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(table.Find(ids[i]), i);
    std::string other = ids[i];
    if (!other.empty()) {
      other.back() = static_cast<char>(other.back() ^ 1);
      const uint32_t found = table.Find(other);
      ASSERT_TRUE(found == internal::kNoIndex || ids[found] == other);
    }
  }
  // The fingerprint, built on HashId, keeps its value (recorded in snapshots; the value of the
  // byte-copy implementation, which had no short-id loads).
  EXPECT_EQ(PlaceOrderFingerprint(PlaceOrder{"r", "u1", {{"s", 2}, {"sku-7", 1}}}),
            0xedc28267c92b6becULL);
}

// Users are found by the id kept in their record when it is short (up to 23 bytes), else by the
// id table's copy: ids on both sides of that length, and ids differing only in their last byte.
TEST(TradeUsersTest, ShortAndLongUserIds) {
  auto trade = Trade::Create(Options{"o."});
  trade->Apply(Command{1, PutMerchant{"m", "M"}});
  trade->Apply(Command{1, PutProduct{"p", "m", "P", "c", 10}});
  trade->Apply(Command{1, PutInventory{"p", 1'000}});
  std::vector<std::string> users;
  for (const size_t size : {size_t{1}, size_t{7}, size_t{8}, size_t{16}, size_t{17}, size_t{23},
                            size_t{24}, size_t{40}, size_t{64}}) {
    for (const char last : {'a', 'b'}) {
      std::string id(size, 'u');
      id.back() = last;
      users.push_back(id);
      trade->Apply(Command{1, PutUser{id, "r"}});
    }
  }
  int request = 0;
  const auto place = [&](const std::string& user) {
    return trade->Apply(Command{2, PlaceOrder{"r" + std::to_string(request++), user, {{"p", 1}}}});
  };
  for (const std::string& user : users) {
    const Reply reply = place(user);
    ASSERT_TRUE(reply.status.ok()) << user << " " << reply.status.ToString();
    EXPECT_EQ(std::get<OrderView>(reply.value).user, user);
    ASSERT_EQ(trade->GetUserOrders(user, 2)->size(), 1u) << user;
    std::string unknown = user;
    unknown.back() = 'c';
    EXPECT_EQ(place(unknown).status.code(), Code::kNotFound) << unknown;
  }
  EXPECT_TRUE(trade->CheckInvariants().ok()) << trade->CheckInvariants().ToString();
  auto restored = Trade::Create(Options{"o."});
  ASSERT_TRUE(restored->Restore(trade->Snapshot()).ok());
  EXPECT_TRUE(restored->CheckInvariants().ok());
  for (const std::string& user : users) {
    const Reply reply = restored->Apply(
        Command{3, PlaceOrder{"again" + std::to_string(request++), user, {{"p", 1}}}});
    ASSERT_TRUE(reply.status.ok()) << user;
    EXPECT_EQ(std::get<OrderView>(reply.value).user, user);
  }
}

// The vectorized id check agrees with the table one on every length and byte, valid or not.
TEST(TradeIdsTest, IsIdStringAgreesWithIsIdFast) {
  std::mt19937_64 random(7);
  const std::string valid = "azAZ09_.:-qQ5";
  for (int round = 0; round < 20'000; ++round) {
    std::string id(random() % 70, 'x');
    for (char& c : id) c = valid[random() % valid.size()];
    if (!id.empty() && random() % 2 == 0) {
      id[random() % id.size()] = static_cast<char>(random() % 256);  // often not an id byte
    }
    ASSERT_EQ(internal::IsIdString(id), internal::IsIdFast(id)) << id.size() << " " << id;
  }
  for (int c = 0; c < 256; ++c) {
    for (const size_t size : {size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{64}}) {
      for (const size_t at : {size_t{0}, size - 1, size / 2}) {
        std::string id(size, 'a');
        id[at] = static_cast<char>(c);
        ASSERT_EQ(internal::IsIdString(id), internal::IsIdFast(id)) << c << " " << size;
      }
    }
  }
  EXPECT_FALSE(internal::IsIdString(std::string(65, 'a')));
  EXPECT_TRUE(internal::IsIdString(std::string(64, 'a')));
  EXPECT_FALSE(internal::IsIdString(""));
}

TEST(TradeNamesTest, OrderStatusNames) {
  EXPECT_EQ(OrderStatusName(OrderStatus::kReserved), "reserved");
  EXPECT_EQ(OrderStatusName(OrderStatus::kPaid), "paid");
  EXPECT_EQ(OrderStatusName(OrderStatus::kCancelled), "cancelled");
  EXPECT_EQ(OrderStatusName(OrderStatus::kExpired), "expired");
}

}  // namespace
}  // namespace surge::trade
