#include "json/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace surge::json {
namespace {

std::string WriteString(std::string_view text) {
  std::string out;
  Writer writer(&out);
  writer.String(text);
  return out;
}

// ---- Writer --------------------------------------------------------------------------------

TEST(WriterTest, WritesCompactNestedValues) {
  std::string out;
  Writer writer(&out);
  writer.BeginObject();
  writer.Field("a", int64_t{1});
  writer.Key("b");
  writer.BeginArray();
  writer.Int(-2);
  writer.String("x");
  writer.Bool(true);
  writer.Bool(false);
  writer.Null();
  writer.BeginObject();
  writer.EndObject();
  writer.BeginArray();
  writer.EndArray();
  writer.EndArray();
  writer.Field("c", "d");
  writer.Key("e");
  writer.Raw("[1,2]");
  writer.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[-2,"x",true,false,null,{},[]],"c":"d","e":[1,2]})");
  EXPECT_TRUE(writer.complete());
}

TEST(WriterTest, AppendsToExistingText) {
  std::string out = "prefix ";
  Writer writer(&out);
  writer.BeginArray();
  writer.EndArray();
  EXPECT_EQ(out, "prefix []");
}

TEST(WriterTest, IntegersAreExact) {
  std::string out;
  Writer writer(&out);
  writer.BeginArray();
  writer.Int(INT64_MAX);
  writer.Int(INT64_MIN);
  writer.Int(0);
  writer.Int(9007199254740993);  // not representable as a double
  writer.EndArray();
  EXPECT_EQ(out, "[9223372036854775807,-9223372036854775808,0,9007199254740993]");
}

TEST(WriterTest, DoublesRoundTrip) {
  for (const double value : {0.1, -2.5, 1e300, 5e-324, 123456789.125, 0.0}) {
    std::string out;
    Writer writer(&out);
    writer.Double(value);
    Document document;
    ASSERT_TRUE(document.Parse(out).ok()) << out;
    auto number = document.root().Number();
    ASSERT_TRUE(number.ok());
    EXPECT_EQ(*number, value) << out;
  }
}

TEST(WriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(WriteString("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(WriteString("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(WriteString(std::string_view("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(WriteString(""), R"("")");
}

TEST(WriterTest, KeepsValidUtf8) {
  // 2-, 3- and 4-byte sequences, including the edges of each range.
  const std::string text =
      "\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF "
      "\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF 中文 ü";
  EXPECT_EQ(WriteString(text), "\"" + text + "\"");
}

TEST(WriterTest, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string kFffd = "\xEF\xBF\xBD";
  struct Case {
    std::string input;
    std::string expected;
  };
  const Case cases[] = {
      {"\x80", kFffd},  // lone continuation byte
      {"a\xC0\xAF"
       "b",
       "a" + kFffd + kFffd + "b"},              // overlong 2-byte lead, then continuation
      {"\xC2", kFffd},                          // truncated at the end
      {"\xC2x", kFffd + "x"},                   // truncated before ASCII
      {"\xE0\x80\x80", kFffd + kFffd + kFffd},  // overlong 3-byte
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},  // a UTF-16 surrogate
      {"\xE2\x82", kFffd},                      // maximal subpart of a 3-byte sequence
      {"\xF0\x9F\x98", kFffd},                  // maximal subpart of a 4-byte sequence
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // beyond U+10FFFF
      {"\xF5\xFF\xFE", kFffd + kFffd + kFffd},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(WriteString(c.input), "\"" + c.expected + "\"") << "input bytes: " << c.input.size();
  }
}

// The writer skips plain text 16 bytes at a time (and a short rest as one padded chunk): a byte
// that needs escaping must be found at every position, in strings of every length around the
// chunk size.
TEST(WriterTest, EscapesASpecialByteAtEveryPositionAndLength) {
  struct Special {
    std::string bytes;
    std::string escaped;
  };
  const Special specials[] = {{"\"", "\\\""},
                              {"\\", "\\\\"},
                              {"\n", "\\n"},
                              {std::string(1, '\x01'), "\\u0001"},
                              {"\x80", "\xEF\xBF\xBD"},
                              {"\xC3\xA9", "\xC3\xA9"},
                              {"\x7f", "\x7f"}};
  for (const Special& special : specials) {
    for (size_t length = 0; length <= 40; ++length) {
      for (size_t at = 0; at <= length; ++at) {
        const std::string before(at, 'a');
        const std::string after(length - at, 'b');
        EXPECT_EQ(WriteString(before + special.bytes + after),
                  "\"" + before + special.escaped + after + "\"")
            << "special byte at " << at << " of " << length + special.bytes.size();
      }
    }
  }
  for (size_t length = 0; length <= 40; ++length) {
    EXPECT_EQ(WriteString(std::string(length, 'x')), "\"" + std::string(length, 'x') + "\"");
  }
}

TEST(WriterTest, OutputOfRandomBytesAlwaysParses) {
  std::mt19937_64 random(7);
  Document document;
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 40, '\0');
    for (char& c : text) c = static_cast<char>(random());
    std::string out;
    Writer writer(&out);
    writer.BeginObject();
    writer.Field(text, text);
    writer.EndObject();
    ASSERT_TRUE(document.Parse(out).ok()) << out;
  }
}

TEST(WriterTest, StringRoundTripsThroughTheReader) {
  const std::string text =
      std::string("tab\there, quote \" slash \\ nul ") + '\0' + " end \xE2\x82\xAC";
  std::string out;
  Writer writer(&out);
  writer.BeginObject();
  writer.Field("k", text);
  writer.EndObject();
  Document document;
  ASSERT_TRUE(document.Parse(out).ok());
  auto field = document.root().Field("k");
  ASSERT_TRUE(field.ok());
  auto value = field->String();
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, text);
}

using WriterDeathTest = ::testing::Test;

TEST(WriterDeathTest, MisuseAsserts) {
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.BeginObject();
        writer.Int(1);  // a value where a key is due
      },
      "key is due");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.BeginArray();
        writer.EndObject();
      },
      "EndObject");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.EndArray();
      },
      "EndArray");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.BeginArray();
        writer.Key("k");
      },
      "outside an object");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.BeginObject();
        writer.Key("k");
        writer.EndObject();
      },
      "without a value");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.Int(1);
        writer.Int(2);
      },
      "second top-level");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        writer.Double(std::numeric_limits<double>::quiet_NaN());
      },
      "NaN");
  EXPECT_DEATH(
      {
        std::string out;
        Writer writer(&out);
        for (int i = 0; i < 65; ++i) writer.BeginArray();
      },
      "deeper than 64");
}

TEST(WriterTest, SixtyFourLevelsAreAllowed) {
  std::string out;
  Writer writer(&out);
  for (int i = 0; i < 64; ++i) writer.BeginArray();
  for (int i = 0; i < 64; ++i) writer.EndArray();
  EXPECT_TRUE(writer.complete());
  Document document;
  EXPECT_TRUE(document.Parse(out).ok());
}

// ---- Document ------------------------------------------------------------------------------

Status ParseStatus(std::string_view text) {
  Document document;
  return document.Parse(text);
}

TEST(DocumentTest, RejectsInvalidJsonWithTheParsersReason) {
  for (const std::string_view text :
       {"", "   ", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "nul", "01", "\"unterminated",
        "{\"a\":1}x", "\"\\ud800\"", "\"\xff\"", "{'a':1}", "[1 2]"}) {
    const Status status = ParseStatus(text);
    EXPECT_EQ(status.code(), Code::kBadJson) << text;
    EXPECT_EQ(status.message().rfind("invalid JSON: ", 0), 0u) << status.message();
    EXPECT_GT(status.message().size(), std::string_view("invalid JSON: ").size());
  }
}

TEST(DocumentTest, RejectsDeepNesting) {
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseStatus(ok).ok());
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  const Status status = ParseStatus(deep);
  EXPECT_EQ(status.code(), Code::kBadJson);
  EXPECT_NE(status.message().find("64"), std::string::npos) << status.message();
  const std::string very_deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(ParseStatus(very_deep).code(), Code::kBadJson);
  std::string deep_objects;
  for (int i = 0; i < 100; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(100, '}');
  EXPECT_EQ(ParseStatus(deep_objects).code(), Code::kBadJson);
}

TEST(DocumentTest, RejectsTextsOverOneMebibyte) {
  std::string big = "[" + std::string(Document::kTextBytesMax, ' ') + "]";
  const Status status = ParseStatus(big);
  EXPECT_EQ(status.code(), Code::kBadJson);
  EXPECT_NE(status.message().find("1 MiB"), std::string::npos);
  std::string fits = "[" + std::string(Document::kTextBytesMax - 2, ' ') + "]";
  EXPECT_TRUE(ParseStatus(fits).ok());
}

TEST(DocumentTest, ReusesOneDocumentAcrossSizes) {
  Document document;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(document.Parse("{\"a\":1}").ok());
    std::string large = "[";
    for (int i = 0; i < 20000; ++i) large += std::to_string(i) + ",";
    large += "0]";
    ASSERT_TRUE(document.Parse(large).ok());
    auto size = document.root().ArraySize();
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(*size, 20001u);
    EXPECT_FALSE(document.Parse("[").ok());
    ASSERT_TRUE(document.Parse("7").ok());
    EXPECT_EQ(*document.root().Int(0, 10), 7);
  }
}

TEST(DocumentTest, InputNeedNotOutliveParse) {
  Document document;
  {
    std::string text = R"({"name":"kept"})";
    ASSERT_TRUE(document.Parse(text).ok());
    text.assign(text.size(), 'x');
  }
  EXPECT_EQ(*document.root().Field("name")->String(), "kept");
}

// ---- Value ---------------------------------------------------------------------------------

class ValueTest : public ::testing::Test {
 protected:
  Value Parse(std::string_view text) {
    const Status status = document_.Parse(text);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return document_.root();
  }
  Document document_;
};

TEST_F(ValueTest, TypePredicates) {
  const Value root =
      Parse(R"({"o":{},"a":[],"s":"x","i":3,"d":1.5,"n":null,"b":true,"u":9223372036854775808})");
  EXPECT_TRUE(root.is_object());
  EXPECT_TRUE(root.Field("o")->is_object());
  EXPECT_TRUE(root.Field("a")->is_array());
  EXPECT_TRUE(root.Field("s")->is_string());
  EXPECT_TRUE(root.Field("i")->is_integer());
  EXPECT_FALSE(root.Field("d")->is_integer());
  EXPECT_FALSE(root.Field("u")->is_integer());
  EXPECT_TRUE(root.Field("n")->is_null());
  EXPECT_FALSE(root.Field("b")->is_null());
  EXPECT_FALSE(Value().is_object());
  EXPECT_FALSE(Value().is_null());
}

TEST_F(ValueTest, ReadsNestedValuesWithPaths) {
  const Value root = Parse(R"({"items":[{"sku":"a","quantity":1},{"sku":"b","quantity":22}]})");
  auto items = root.Field("items");
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->path(), "items");
  ASSERT_EQ(*items->ArraySize(), 2u);
  auto second = items->At(1);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->path(), "items[1]");
  auto quantity = second->Field("quantity");
  ASSERT_TRUE(quantity.ok());
  EXPECT_EQ(quantity->path(), "items[1].quantity");
  EXPECT_EQ(*quantity->Int(1, 100), 22);
  EXPECT_EQ(*second->Field("sku")->Id(), "b");
  EXPECT_TRUE(root.Has("items"));
  EXPECT_FALSE(root.Has("nothing"));
  EXPECT_FALSE(items->Has("items"));  // not an object
}

TEST_F(ValueTest, EveryErrorNamesThePath) {
  const Value root =
      Parse(R"({"items":[{"sku":"a","quantity":1},{"sku":"b c","quantity":"2","n":1.5}],"s":"x"})");
  const Value item = *root.Field("items")->At(1);
  struct Case {
    Status status;
    std::string message;
  };
  const Case cases[] = {
      {root.Field("missing").status(), "missing is required"},
      {item.Field("price").status(), "items[1].price is required"},
      {item.Field("sku")->Id().status(),
       "items[1].sku: expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]"},
      {item.Field("quantity")->Int(1, 1000000).status(),
       "items[1].quantity: expected an integer between 1 and 1000000"},
      {item.Field("n")->Int(1, 1000000).status(),
       "items[1].n: expected an integer between 1 and 1000000"},
      {item.Field("n")->String().status(), "items[1].n: expected a string"},
      {item.Field("quantity")->Number().status(), "items[1].quantity: expected a number"},
      {item.Field("sku")->Field("x").status(), "items[1].sku: expected an object"},
      {item.ArraySize().status(), "items[1]: expected an array"},
      {root.Field("items")->At(2).status(), "items[2] is required"},
      {item.OnlyFields({"sku", "quantity"}),
       "items[1].n: unknown field; expected one of sku, quantity"},
      {root.Field("s")->OnlyFields({}), "s: expected an object"},
      {root.OnlyFields({"items"}), "s: unknown field; expected one of items"},
      {root.Field("s")->Int(INT64_MIN, INT64_MAX).status(), "s: expected an integer"},
      {root.Field("s")->Int(1, INT64_MAX).status(), "s: expected an integer of at least 1"},
      {root.Field("s")->Int(INT64_MIN, 5).status(), "s: expected an integer of at most 5"},
      {root.Int(0, 1).status(), "body: expected an integer between 0 and 1"},
      {root.String().status(), "body: expected a string"},
      {root.At(0).status(), "body: expected an array"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), Code::kBadField) << c.message;
    EXPECT_EQ(c.status.message(), c.message);
  }
}

TEST_F(ValueTest, IntegersMustBeExactAndInRange) {
  const Value root = Parse(
      R"({"a":1.5,"b":1e3,"c":1.0,"d":9223372036854775808,"e":18446744073709551615,"f":-0,)"
      R"("g":9223372036854775807,"h":-9223372036854775808,"i":0,"j":-1,"k":true,"l":null,"m":"5"})");
  for (const char* key : {"a", "b", "c", "d", "e", "k", "l", "m"}) {
    auto value = root.Field(key)->Int(INT64_MIN, INT64_MAX);
    EXPECT_EQ(value.status().code(), Code::kBadField) << key;
    EXPECT_EQ(value.status().message(), std::string(key) + ": expected an integer");
  }
  EXPECT_EQ(*root.Field("f")->Int(0, 0), 0);
  EXPECT_EQ(*root.Field("g")->Int(INT64_MIN, INT64_MAX), INT64_MAX);
  EXPECT_EQ(*root.Field("h")->Int(INT64_MIN, INT64_MAX), INT64_MIN);
  EXPECT_EQ(*root.Field("i")->Int(0, 1), 0);
  EXPECT_FALSE(root.Field("i")->Int(1, 2).ok());
  EXPECT_FALSE(root.Field("j")->Int(0, 2).ok());
  EXPECT_FALSE(root.Field("g")->Int(0, INT64_MAX - 1).ok());
  // Numbers outside even uint64 and doubles beyond range are rejected by the parser itself.
  Document document;
  EXPECT_EQ(document.Parse("18446744073709551616").code(), Code::kBadJson);
  EXPECT_EQ(document.Parse("-9223372036854775809").code(), Code::kBadJson);
  EXPECT_EQ(document.Parse("1e400").code(), Code::kBadJson);
  ASSERT_TRUE(document.Parse("123456789012345678901234567890.5").ok());
  EXPECT_FALSE(document.root().Int(INT64_MIN, INT64_MAX).ok());
}

TEST_F(ValueTest, NumberAcceptsEveryNumber) {
  const Value root = Parse(R"([1, -2.5, 1e3, 9223372036854775808])");
  EXPECT_EQ(*root.At(0)->Number(), 1.0);
  EXPECT_EQ(*root.At(1)->Number(), -2.5);
  EXPECT_EQ(*root.At(2)->Number(), 1000.0);
  EXPECT_EQ(*root.At(3)->Number(), 9223372036854775808.0);
}

TEST_F(ValueTest, IdsFollowApiRules) {
  const std::string long_id(64, 'a');
  const std::string too_long(65, 'a');
  const Value root = Parse("[\"a\", \"A-z_0.9:x\", \"" + long_id + "\", \"" + too_long +
                           "\", \"\", \"a b\", \"a/b\", \"\\u00e9\", 5]");
  EXPECT_TRUE(root.At(0)->Id().ok());
  EXPECT_TRUE(root.At(1)->Id().ok());
  EXPECT_TRUE(root.At(2)->Id().ok());
  for (size_t i = 3; i <= 8; ++i) {
    EXPECT_EQ(root.At(i)->Id().status().code(), Code::kBadField) << i;
  }
  EXPECT_EQ(root.At(3)->Id().status().message().rfind("[3]: expected an id", 0), 0u);
}

TEST_F(ValueTest, OnlyFieldsCatchesUnknownAndDuplicateKeys) {
  EXPECT_TRUE(Parse(R"({"a":1,"b":2})").OnlyFields({"a", "b", "c"}).ok());
  EXPECT_TRUE(Parse("{}").OnlyFields({}).ok());
  const Status unknown = Parse(R"({"a":1})").OnlyFields({});
  EXPECT_EQ(unknown.message(), "a: unknown field; expected no fields");
  const Status duplicate = Parse(R"({"a":1,"b":2,"a":3})").OnlyFields({"a", "b"});
  EXPECT_EQ(duplicate.code(), Code::kBadField);
  EXPECT_EQ(duplicate.message(), "a: duplicate field");
  // Keys are compared unescaped.
  EXPECT_TRUE(Parse(R"({"\u0061":1})").OnlyFields({"a"}).ok());
  // A long unknown key is shortened in the message.
  const std::string key(5000, 'k');
  const Status long_key = Parse("{\"" + key + "\":1}").OnlyFields({"a"});
  EXPECT_LT(long_key.message().size(), 200u);
}

TEST_F(ValueTest, FieldFindsEscapedKeysAndStringsAreUnescaped) {
  const Value root = Parse(R"({"n\u0061me":"caf\u00e9 \"x\""})");
  auto name = root.Field("name");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name->String(), "caf\xC3\xA9 \"x\"");
}

TEST_F(ValueTest, HugeArraysAndObjects) {
  std::string text = "{\"list\":[";
  for (int i = 0; i < 100000; ++i) text += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  text += "]}";
  const Value root = Parse(text);
  auto list = root.Field("list");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list->ArraySize(), 100000u);
  EXPECT_EQ(*list->At(99999)->String(), "99999");
  EXPECT_EQ(list->At(100000).status().message(), "list[100000] is required");
}

using ValueDeathTest = ValueTest;

TEST_F(ValueDeathTest, DefaultValueAccessorsAssert) {
  EXPECT_DEATH((void)Value().Field("a"), "valid_");
  EXPECT_DEATH((void)Value().Int(0, 1), "valid_");
  EXPECT_DEATH((void)Parse("1").Int(2, 1), "minimum <= maximum");
  EXPECT_DEATH(
      {
        Document document;
        (void)document.Parse("[");
        (void)document.root();
      },
      "successful Parse");
}

}  // namespace
}  // namespace surge::json

namespace surge::json {
namespace {

TEST(JsonReaderTest, AHugeIntegerIsRejectedWithAMessageThatSaysSo) {
  Document document;
  const Status status = document.Parse(R"({"quantity":99999999999999999999999})");
  EXPECT_EQ(status.code(), Code::kBadJson);
  EXPECT_NE(status.message().find("out of range"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace surge::json
