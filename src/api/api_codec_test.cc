// Decoder and encoder tests of the API: every field of every body missing, of the wrong type, out
// of range; unknown and duplicate fields; bad JSON; path ids; exact decoding of valid bodies; and
// the exact JSON of every encoder.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "api/api.h"
#include "json/json.h"

namespace surge::api {
namespace {

struct FieldSpec {
  std::string key;
  std::string valid;                 // raw JSON
  std::vector<std::string> invalid;  // raw JSON values that must be refused
};

struct DecoderSpec {
  std::string name;
  std::function<Status(std::string_view body)> decode;
  std::vector<FieldSpec> fields;
};

// Builds {"k":v,...} from the fields, leaving out `skip` and replacing `replace`'s value.
std::string Body(const std::vector<FieldSpec>& fields, std::string_view skip = {},
                 std::string_view replace = {}, std::string_view value = {}) {
  std::string body = "{";
  for (const FieldSpec& field : fields) {
    if (field.key == skip) continue;
    if (body.size() > 1) body += ",";
    body += "\"" + field.key + "\":" + (field.key == replace ? std::string(value) : field.valid);
  }
  return body + "}";
}

template <typename T>
std::function<Status(std::string_view)> Wrap(Result<T> (*decode)(std::string_view,
                                                                 std::string_view),
                                             std::string id) {
  return [decode, id](std::string_view body) { return decode(id, body).status(); };
}

const std::vector<std::string> kBadIds = {
    "\"\"", "\"a b\"", "\"a/b\"", "1", "null", "\"" + std::string(65, 'x') + "\"", "[]", "{}"};
const std::vector<std::string> kBadNames = {"1",  "null", "true",
                                            "[]", "{}",   "\"" + std::string(257, 'n') + "\""};

std::vector<std::string> BadInts(int64_t minimum, int64_t maximum) {
  return {std::to_string(minimum - 1),
          std::to_string(maximum) + "1",  // beyond the maximum (and beyond int64 for some)
          "1.5",
          "1e3",
          "1.0",
          "9223372036854775808",
          "18446744073709551615",
          "\"5\"",
          "null",
          "true",
          "[]"};
}

std::vector<DecoderSpec> Specs() {
  using trade::kPriceCentsMax, trade::kStockMax, trade::kTimeMsMax, trade::kReserveTtlMsMax;
  return {
      {"PutMerchant", Wrap(DecodePutMerchant, "m1"), {{"name", "\"Acme\"", kBadNames}}},
      {"PutProduct",
       Wrap(DecodePutProduct, "sku-1"),
       {{"merchant", "\"m1\"", kBadIds},
        {"name", "\"Phone\"", kBadNames},
        {"category", "\"phones\"", kBadNames},
        {"price_cents", "100", BadInts(0, kPriceCentsMax)}}},
      {"PutUser", Wrap(DecodePutUser, "u1"), {{"region", "\"north\"", kBadNames}}},
      {"PutInventory", Wrap(DecodePutInventory, "sku-1"), {{"stock", "5", BadInts(0, kStockMax)}}},
      {"PutCampaign",
       Wrap(DecodePutCampaign, "c1"),
       {{"sku", "\"sku-1\"", kBadIds},
        {"stock", "10", BadInts(0, kStockMax)},
        {"price_cents", "50", BadInts(0, kPriceCentsMax)},
        {"starts_at", "1000", BadInts(0, kTimeMsMax)},
        {"ends_at", "2000", BadInts(0, kTimeMsMax)},
        {"per_user_limit", "2", BadInts(1, kStockMax)},
        {"reserve_ttl_ms", "60000", BadInts(1, kReserveTtlMsMax)}}},
      {"PlaceOrder",
       [](std::string_view body) { return DecodePlaceOrder(body).status(); },
       {{"request_id", "\"r1\"", kBadIds},
        {"user", "\"u1\"", kBadIds},
        {"items",
         R"([{"sku":"a","quantity":1}])",
         {"[]", "{}", "null", "\"a\"", "[1]", "[[]]", "[{}]", R"([{"sku":"a"}])",
          R"([{"quantity":1}])", R"([{"sku":"a","quantity":0}])"}}}},
  };
}

TEST(DecodeTest, ValidBodiesDecode) {
  for (const DecoderSpec& spec : Specs()) {
    const Status status = spec.decode(Body(spec.fields));
    EXPECT_TRUE(status.ok()) << spec.name << ": " << status.ToString();
  }
}

TEST(DecodeTest, EveryMissingFieldIsNamed) {
  for (const DecoderSpec& spec : Specs()) {
    for (const FieldSpec& field : spec.fields) {
      const Status status = spec.decode(Body(spec.fields, field.key));
      EXPECT_EQ(status.code(), Code::kBadField) << spec.name << " without " << field.key;
      EXPECT_EQ(status.message(), field.key + " is required") << spec.name;
    }
  }
}

TEST(DecodeTest, EveryWrongValueIsNamed) {
  for (const DecoderSpec& spec : Specs()) {
    for (const FieldSpec& field : spec.fields) {
      for (const std::string& value : field.invalid) {
        const std::string body = Body(spec.fields, {}, field.key, value);
        const Status status = spec.decode(body);
        EXPECT_EQ(status.code(), Code::kBadField) << spec.name << ": " << body;
        EXPECT_EQ(status.message().rfind(field.key, 0), 0u)
            << spec.name << ": " << body << " -> " << status.message();
        const bool says_what = status.message().find(": expected") != std::string::npos ||
                               status.message().find(" is required") != std::string::npos;
        EXPECT_TRUE(says_what) << spec.name << ": " << body << " -> " << status.message();
      }
    }
  }
}

TEST(DecodeTest, UnknownAndDuplicateFieldsAreRefused) {
  for (const DecoderSpec& spec : Specs()) {
    std::string body = Body(spec.fields);
    body.insert(1, "\"bogus\":1,");
    Status status = spec.decode(body);
    EXPECT_EQ(status.code(), Code::kBadField) << spec.name;
    EXPECT_EQ(
        status.message().rfind("bogus: unknown field; expected one of " + spec.fields[0].key, 0),
        0u)
        << status.message();

    body = Body(spec.fields);
    body.insert(1, "\"" + spec.fields[0].key + "\":" + spec.fields[0].valid + ",");
    status = spec.decode(body);
    EXPECT_EQ(status.code(), Code::kBadField) << spec.name;
    EXPECT_EQ(status.message(), spec.fields[0].key + ": duplicate field");
  }
}

TEST(DecodeTest, BadJsonIsBadJsonAndNonObjectsAreBadField) {
  for (const DecoderSpec& spec : Specs()) {
    for (const std::string_view text :
         {"", " ", "{", "{\"a\":}", "{\"a\":1,}", "nul", "\xff", "{\"a\":\"\xc3\"}", "[1,2"}) {
      const Status status = spec.decode(text);
      EXPECT_EQ(status.code(), Code::kBadJson) << spec.name << ": " << text;
      EXPECT_EQ(status.message().rfind("invalid JSON: ", 0), 0u) << status.message();
    }
    for (const std::string_view text : {"[]", "null", "1", "\"x\"", "true"}) {
      const Status status = spec.decode(text);
      EXPECT_EQ(status.code(), Code::kBadField) << spec.name << ": " << text;
      EXPECT_EQ(status.message(), "body: expected an object");
    }
    const std::string deep = std::string(70, '[') + std::string(70, ']');
    EXPECT_EQ(spec.decode(deep).code(), Code::kBadJson);
    // Integers beyond even uint64 are refused by the parser itself, before any field is read.
    EXPECT_EQ(spec.decode(R"({"n":-9223372036854775809})").code(), Code::kBadJson);
    EXPECT_EQ(spec.decode(R"({"n":18446744073709551616})").code(), Code::kBadJson);
  }
}

TEST(DecodeTest, PathIdsAreChecked) {
  for (const std::string_view id : {"", "a b", "a/b", "%41", "\xc3\xa9"}) {
    EXPECT_EQ(DecodePutMerchant(id, R"({"name":"x"})").status().message(),
              "id (in the path): expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]");
    EXPECT_EQ(DecodePutProduct(id, "{}").status().code(), Code::kBadField);
    EXPECT_EQ(DecodePutUser(id, "{}").status().code(), Code::kBadField);
    EXPECT_EQ(DecodePutInventory(id, "{}").status().message().rfind("sku (in the path)", 0), 0u);
    EXPECT_EQ(DecodePutCampaign(id, "{}").status().code(), Code::kBadField);
  }
  EXPECT_TRUE(DecodePutMerchant(std::string(64, 'a'), R"({"name":"x"})").ok());
  EXPECT_FALSE(DecodePutMerchant(std::string(65, 'a'), R"({"name":"x"})").ok());
}

TEST(DecodeTest, DecodesExactly) {
  auto merchant = DecodePutMerchant("m1", R"({"name":"Ac\"me \u00e9"})");
  ASSERT_TRUE(merchant.ok());
  EXPECT_EQ(*merchant, (trade::PutMerchant{"m1", "Ac\"me \xc3\xa9"}));

  auto product = DecodePutProduct(
      "s.1", R"({"price_cents":100000000000,"category":"","name":"P","merchant":"m:1"})");
  ASSERT_TRUE(product.ok()) << product.status().ToString();
  EXPECT_EQ(*product, (trade::PutProduct{"s.1", "m:1", "P", "", trade::kPriceCentsMax}));

  auto user = DecodePutUser("u_1", R"( { "region" : "north" } )");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, (trade::PutUser{"u_1", "north"}));

  auto inventory = DecodePutInventory("sku", R"({"stock":0})");
  ASSERT_TRUE(inventory.ok());
  EXPECT_EQ(*inventory, (trade::PutInventory{"sku", 0}));

  auto campaign = DecodePutCampaign(
      "c-1", R"({"sku":"s","stock":1000000000000,"price_cents":0,"starts_at":0,)"
             R"("ends_at":253402300799999,"per_user_limit":1,"reserve_ttl_ms":2592000000})");
  ASSERT_TRUE(campaign.ok()) << campaign.status().ToString();
  EXPECT_EQ(*campaign, (trade::PutCampaign{"c-1", "s", trade::kStockMax, 0, 0, trade::kTimeMsMax, 1,
                                           trade::kReserveTtlMsMax}));

  auto order = DecodePlaceOrder(
      R"({"items":[{"quantity":1000000,"sku":"a"},{"sku":"b","quantity":1}],"user":"u","request_id":"r"})");
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(*order, (trade::PlaceOrder{"r", "u", {{"a", trade::kQuantityMax}, {"b", 1}}}));
}

TEST(DecodeTest, DemandListsCentersOnceEachWithUnitsInRange) {
  auto demand = DecodePutDemand(
      "tv", R"({"centers":[{"center":"s1","units":5},{"units":1000000000000,"center":"m"}]})");
  ASSERT_TRUE(demand.ok()) << demand.status().ToString();
  EXPECT_EQ(*demand, (trade::PutDemand{"tv", {{"s1", 5}, {"m", trade::kStockMax}}}));
  const struct {
    const char* body;
    const char* message;
  } bad[] = {
      {R"({"centers":[]})", "centers: expected an array of 1 to 256 entries"},
      {R"({"centers":[{"center":"m","units":1},{"center":"m","units":2}]})",
       "centers[1].center: m is already in centers[0]"},
      {R"({"centers":[{"center":"m","units":-1}]})", nullptr},
      {R"({"centers":[{"center":"m","units":1000000000001}]})", nullptr},
      {R"({"centers":[{"center":"m"}]})", nullptr},
      {R"({"centers":[{"center":"m","units":1,"extra":2}]})", nullptr},
      {R"({"centers":[{"center":"a-center-id-longer-than-32-chars-x","units":1}]})", nullptr},
      {R"({"centers":{"m":1}})", nullptr},
      {R"({"centers":[{"center":"m","units":1}],"other":1})", nullptr},
      {R"({"centers":[{"center":"m","units":1}])", nullptr},
  };
  for (const auto& each : bad) {
    auto decoded = DecodePutDemand("tv", each.body);
    ASSERT_FALSE(decoded.ok()) << each.body;
    EXPECT_TRUE(decoded.status().code() == Code::kBadField ||
                decoded.status().code() == Code::kBadJson)
        << each.body << ": " << decoded.status().ToString();
    if (each.message != nullptr) {
      EXPECT_EQ(decoded.status().message(), each.message);
    }
  }
  EXPECT_EQ(DecodePutDemand("bad sku", R"({"centers":[{"center":"m","units":1}]})").status().code(),
            Code::kBadField);
}

TEST(DecodeTest, NamesMayBeEmptyAndUpTo256Bytes) {
  EXPECT_TRUE(DecodePutMerchant("m", R"({"name":""})").ok());
  const std::string name(256, 'n');
  EXPECT_TRUE(DecodePutMerchant("m", "{\"name\":\"" + name + "\"}").ok());
  const auto too_long = DecodePutMerchant("m", "{\"name\":\"" + name + "n\"}");
  EXPECT_EQ(too_long.status().message(), "name: expected a string of at most 256 bytes");
}

TEST(DecodeTest, CampaignWindowMustBeNonEmpty) {
  const std::string base =
      R"({"sku":"s","stock":1,"price_cents":1,"per_user_limit":1,"reserve_ttl_ms":1,)";
  auto equal = DecodePutCampaign("c", base + R"("starts_at":5,"ends_at":5})");
  EXPECT_EQ(equal.status().code(), Code::kBadField);
  EXPECT_EQ(equal.status().message(), "ends_at: expected a time after starts_at (5)");
  EXPECT_FALSE(DecodePutCampaign("c", base + R"("starts_at":6,"ends_at":5})").ok());
  EXPECT_TRUE(DecodePutCampaign("c", base + R"("starts_at":5,"ends_at":6})").ok());
}

TEST(DecodeTest, OrderItemsAreCheckedOneByOne) {
  struct Case {
    std::string items;
    std::string message;
  };
  const std::string too_many = [] {
    std::string list = "[";
    for (int i = 0; i < 65; ++i)
      list += std::string(i ? "," : "") + R"({"sku":"s)" + std::to_string(i) + R"(","quantity":1})";
    return list + "]";
  }();
  const Case cases[] = {
      {"[]", "items: expected an array of 1 to 64 items"},
      {too_many, "items: expected an array of 1 to 64 items"},
      {"{}", "items: expected an array"},
      {R"([{"sku":"a","quantity":1},5])", "items[1]: expected an object"},
      {R"([{"sku":"a","quantity":1},{"quantity":1}])", "items[1].sku is required"},
      {R"([{"sku":"a","quantity":1},{"sku":"b"}])", "items[1].quantity is required"},
      {R"([{"sku":"a","quantity":1000001}])",
       "items[0].quantity: expected an integer between 1 and 1000000"},
      {R"([{"sku":"a","quantity":2.0}])",
       "items[0].quantity: expected an integer between 1 and 1000000"},
      {R"([{"sku":"a b","quantity":1}])",
       "items[0].sku: expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]"},
      {R"([{"sku":"a","quantity":1,"price":1}])",
       "items[0].price: unknown field; expected one of sku, quantity"},
      {R"([{"sku":"a","quantity":1},{"sku":"b","quantity":1},{"sku":"a","quantity":2}])",
       "items[2].sku: a is already in items[0]; put the whole quantity of a SKU in one item"},
  };
  for (const Case& c : cases) {
    const auto order = DecodePlaceOrder(R"({"request_id":"r","user":"u","items":)" + c.items + "}");
    EXPECT_EQ(order.status().code(), Code::kBadField) << c.items;
    EXPECT_EQ(order.status().message(), c.message);
  }
  std::string sixty_four = "[";
  for (int i = 0; i < 64; ++i) {
    sixty_four +=
        std::string(i ? "," : "") + R"({"sku":"s)" + std::to_string(i) + R"(","quantity":1})";
  }
  sixty_four += "]";
  const auto order =
      DecodePlaceOrder(R"({"request_id":"r","user":"u","items":)" + sixty_four + "}");
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(order->items.size(), 64u);
  EXPECT_EQ(order->items[63].sku, "s63");
}

TEST(DecodeTest, EmptyBodiesForPayAndCancel) {
  EXPECT_TRUE(CheckEmptyBody("").ok());
  EXPECT_TRUE(CheckEmptyBody(" \r\n").ok());
  EXPECT_TRUE(CheckEmptyBody("{}").ok());
  EXPECT_EQ(CheckEmptyBody("{").code(), Code::kBadJson);
  EXPECT_EQ(CheckEmptyBody(R"({"a":1})").code(), Code::kBadField);
  EXPECT_EQ(CheckEmptyBody("[]").code(), Code::kBadField);
}

// ---- Encoders ------------------------------------------------------------------------------

trade::OrderView SampleOrder() {
  trade::OrderView order;
  order.order_id = "o.c1.7";
  order.request_id = "r-1";
  order.user = "u1";
  order.status = trade::OrderStatus::kReserved;
  order.total_cents = 2 * 49900 + 1500;
  order.created_at_ms = 1700000000000;
  order.expires_at_ms = 1700000600000;
  order.items = {{"flash", 2, 49900, "c1"}, {"reg", 1, 1500, ""}};
  return order;
}

TEST(EncodeTest, Order) {
  EXPECT_EQ(EncodeOrder(SampleOrder()),
            R"({"order_id":"o.c1.7","request_id":"r-1","user":"u1","status":"reserved",)"
            R"("total_cents":101300,"expires_at":1700000600000,"items":[)"
            R"({"sku":"flash","quantity":2,"price_cents":49900,"campaign":"c1"},)"
            R"({"sku":"reg","quantity":1,"price_cents":1500}]})");
}

TEST(EncodeTest, OrderStatusesAndOrdersList) {
  trade::OrderView order = SampleOrder();
  order.items.resize(1);
  std::vector<trade::OrderView> orders;
  for (const auto status :
       {trade::OrderStatus::kPaid, trade::OrderStatus::kCancelled, trade::OrderStatus::kExpired}) {
    order.status = status;
    orders.push_back(order);
  }
  const std::string one = R"("total_cents":101300,"expires_at":1700000600000,"items":[)"
                          R"({"sku":"flash","quantity":2,"price_cents":49900,"campaign":"c1"}]})";
  const std::string prefix = R"({"order_id":"o.c1.7","request_id":"r-1","user":"u1","status":)";
  EXPECT_EQ(EncodeOrders(orders), "{\"orders\":[" + prefix + "\"paid\"," + one + "," + prefix +
                                      "\"cancelled\"," + one + "," + prefix + "\"expired\"," + one +
                                      "]}");
  EXPECT_EQ(EncodeOrders({}), R"({"orders":[]})");
}

TEST(EncodeTest, CampaignAndInventory) {
  trade::CampaignView campaign{"c1", "flash", 49900, 1000, 2000, 2, 600000, {100, 90, 7, 3}};
  EXPECT_EQ(EncodeCampaign(campaign),
            R"({"id":"c1","sku":"flash","price_cents":49900,"starts_at":1000,"ends_at":2000,)"
            R"("per_user_limit":2,"reserve_ttl_ms":600000,"stock":100,"available":90,)"
            R"("reserved":7,"sold":3})");
  trade::InventoryView inventory{"reg", {1000000000000, 1, 2, 999999999997}};
  EXPECT_EQ(EncodeInventory(inventory),
            R"({"sku":"reg","stock":1000000000000,"available":1,"reserved":2,)"
            R"("sold":999999999997})");
}

TEST(EncodeTest, MasterData) {
  EXPECT_EQ(EncodeMerchant({"m1", "Acme \"Best\"\n"}), R"({"id":"m1","name":"Acme \"Best\"\n"})");
  EXPECT_EQ(
      EncodeProduct({"s1", "m1", "Phone", "phones", 99900}),
      R"({"sku":"s1","merchant":"m1","name":"Phone","category":"phones","price_cents":99900})");
  EXPECT_EQ(EncodeUser({"u1", "north"}), R"({"id":"u1","region":"north"})");
}

TEST(EncodeTest, EncodedBodiesDecodeBack) {
  // What the API writes, a client (or the API itself) must be able to read.
  const trade::PutProduct product{"s1", "m1", std::string("\x01\x7f\xe2\x82\xac", 5), "c", 7};
  const std::string body =
      EncodeProduct({product.sku, product.merchant, product.name, product.category, 7});
  json::Document document;
  ASSERT_TRUE(document.Parse(body).ok());
  const auto decoded = DecodePutProduct(
      "s1", R"({"merchant":"m1","name":)" +
                std::string(body.substr(body.find("\"name\":") + 7,
                                        body.find(",\"category\"") - body.find("\"name\":") - 7)) +
                R"(,"category":"c","price_cents":7})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, product);
}

TEST(EncodeTest, Replies) {
  trade::Reply created;
  created.value = SampleOrder();
  http::Response response = EncodeReply(created, 201);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, EncodeOrder(SampleOrder()));
  EXPECT_EQ(response.retry_after_s, -1);

  trade::Reply merchant;
  merchant.value = trade::MerchantView{"m1", "Acme"};
  response = EncodeReply(merchant, 200);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"id":"m1","name":"Acme"})");

  struct ErrorCase {
    Code code;
    int status;
    std::string name;
  };
  for (const ErrorCase& c : {ErrorCase{Code::kSoldOut, 409, "sold_out"},
                             ErrorCase{Code::kLimitExceeded, 409, "limit_exceeded"},
                             ErrorCase{Code::kWrongState, 409, "wrong_state"},
                             ErrorCase{Code::kRequestIdReused, 409, "request_id_reused"},
                             ErrorCase{Code::kNotFound, 404, "not_found"},
                             ErrorCase{Code::kCampaignNotActive, 422, "campaign_not_active"},
                             ErrorCase{Code::kBadField, 400, "bad_field"},
                             ErrorCase{Code::kUnavailable, 503, "unavailable"},
                             ErrorCase{Code::kOverloaded, 503, "overloaded"}}) {
    trade::Reply failed;
    failed.status = Status(c.code, "because \"reasons\"");
    response = EncodeReply(failed, 201);
    EXPECT_EQ(response.status, c.status) << c.name;
    json::Document document;
    ASSERT_TRUE(document.Parse(response.body).ok()) << response.body;
    EXPECT_EQ(*document.root().Field("error")->Field("code")->String(), c.name);
    EXPECT_EQ(*document.root().Field("error")->Field("message")->String(), "because \"reasons\"");
    EXPECT_EQ(response.retry_after_s, c.code == Code::kOverloaded ? 1 : -1) << c.name;
  }

  trade::Reply empty;  // ok without a value: a bug upstream, answered as internal
  response = EncodeReply(empty, 200);
  EXPECT_EQ(response.status, 500);
}

}  // namespace
}  // namespace surge::api
