#include "topology/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/mem_env.h"
#include "json/json.h"

namespace surge::topology {
namespace {

using ::testing::HasSubstr;

// The three-center deployment of the issue; line numbers matter to the tests below.
constexpr std::string_view kGood = R"(slices = 64
master = "m"

[gateway]
address = "127.0.0.1:8080"

[[center]]
id = "m"
address = "127.0.0.1:18601"
slices = ["0-9", "10-20"]

[[center]]
id = "s1"
address = "127.0.0.1:18602"
slices = ["21-41", 42]

[[center]]
id = "s2"
address = "localhost:18603"
slices = ["43", "44-63"]
)";

Topology ParseOk(std::string_view text) {
  Result<Topology> topology = Parse(text, "good.toml");
  EXPECT_TRUE(topology.ok()) << topology.status().ToString();
  SURGE_ASSERT(topology.ok());
  return std::move(topology).value();
}

TEST(Topology, ParsesAGoodFile) {
  const Topology topology = ParseOk(kGood);
  EXPECT_EQ(topology.slice_count(), 64u);
  EXPECT_EQ(topology.master_id(), "m");
  ASSERT_TRUE(topology.gateway_address().has_value());
  EXPECT_EQ(topology.gateway_address()->ToString(), "127.0.0.1:8080");
  ASSERT_EQ(topology.centers().size(), 3u);

  const Center& m = topology.centers()[0];
  EXPECT_EQ(m.id, "m");
  EXPECT_EQ(m.address.host, "127.0.0.1");
  EXPECT_EQ(m.address.port, 18601);
  EXPECT_TRUE(m.is_master);
  // Adjacent ranges of the file are merged.
  EXPECT_EQ(m.slices, (std::vector<SliceRange>{{0, 20}}));

  const Center& s1 = topology.centers()[1];
  EXPECT_EQ(s1.id, "s1");
  EXPECT_FALSE(s1.is_master);
  EXPECT_EQ(s1.slices, (std::vector<SliceRange>{{21, 42}}));

  const Center& s2 = topology.centers()[2];
  EXPECT_EQ(s2.address.ToString(), "localhost:18603");
  EXPECT_EQ(s2.slices, (std::vector<SliceRange>{{43, 63}}));

  EXPECT_EQ(&topology.master(), &m);
  EXPECT_EQ(topology.Find("s1"), &s1);
  EXPECT_EQ(topology.Find("s3"), nullptr);
  EXPECT_TRUE(topology.IsMaster("m"));
  EXPECT_FALSE(topology.IsMaster("s1"));
  EXPECT_FALSE(topology.IsMaster("nope"));
  EXPECT_EQ(topology.CenterOfSlice(0).id, "m");
  EXPECT_EQ(topology.CenterOfSlice(20).id, "m");
  EXPECT_EQ(topology.CenterOfSlice(21).id, "s1");
  EXPECT_EQ(topology.CenterOfSlice(42).id, "s1");
  EXPECT_EQ(topology.CenterOfSlice(43).id, "s2");
  EXPECT_EQ(topology.CenterOfSlice(63).id, "s2");
}

TEST(Topology, SlicesMayInterleaveAndACenterMayHaveNone) {
  const Topology topology = ParseOk(R"(slices = 6
master = "m"
[[center]]
id = "m"
address = "[::1]:1"
slices = []
[[center]]
id = "a"
address = "10.0.0.1:2"
slices = [0, "2", "4-4"]
[[center]]
id = "b"
address = "10.0.0.2:2"
slices = ["5", 3, "1"]
)");
  EXPECT_TRUE(topology.master().slices.empty());
  EXPECT_EQ(topology.master().address.host, "::1");
  EXPECT_EQ(topology.master().address.ToString(), "[::1]:1");
  EXPECT_FALSE(topology.gateway_address().has_value());
  EXPECT_EQ(topology.centers()[1].slices, (std::vector<SliceRange>{{0, 0}, {2, 2}, {4, 4}}));
  EXPECT_EQ(topology.centers()[2].slices, (std::vector<SliceRange>{{1, 1}, {3, 3}, {5, 5}}));
  const std::vector<std::string> homes = {"a", "b", "a", "b", "a", "b"};
  for (uint32_t slice = 0; slice < 6; ++slice) {
    EXPECT_EQ(topology.CenterOfSlice(slice).id, homes[slice]) << slice;
  }
}

TEST(Topology, RoundTripsThroughCanonicalToml) {
  const Topology topology = ParseOk(kGood);
  const std::string canonical = topology.ToToml();
  EXPECT_EQ(canonical, R"(slices = 64
master = "m"

[gateway]
address = "127.0.0.1:8080"

[[center]]
id = "m"
address = "127.0.0.1:18601"
slices = ["0-20"]

[[center]]
id = "s1"
address = "127.0.0.1:18602"
slices = ["21-42"]

[[center]]
id = "s2"
address = "localhost:18603"
slices = ["43-63"]
)");
  const Topology again = ParseOk(canonical);
  EXPECT_EQ(again, topology);
  EXPECT_EQ(again.ToToml(), canonical);

  const Topology scattered = ParseOk(R"(slices = 5
master = "b"
[[center]]
id = "a"
address = "[fe80::1]:9"
slices = [0, 2, "3-4"]
[[center]]
id = "b"
address = "B.example:10"
slices = [1]
)");
  EXPECT_EQ(ParseOk(scattered.ToToml()), scattered);
}

TEST(Topology, RendersJsonForGetTopology) {
  const Topology topology = ParseOk(kGood);
  EXPECT_EQ(topology.ToJson(),
            R"({"slices":64,"master":"m","gateway":"127.0.0.1:8080","centers":[)"
            R"({"id":"m","address":"127.0.0.1:18601","role":"master","slices":["0-20"]},)"
            R"({"id":"s1","address":"127.0.0.1:18602","role":"sub","slices":["21-42"]},)"
            R"({"id":"s2","address":"localhost:18603","role":"sub","slices":["43-63"]}]})");

  // A server adds what only it knows inside each center's object.
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Key("topology");
  topology.WriteJson(&writer, [](const Center& center, json::Writer* center_writer) {
    center_writer->Field("epoch", static_cast<int64_t>(center.id.size()));
  });
  writer.EndObject();
  ASSERT_TRUE(writer.complete());
  EXPECT_THAT(out, HasSubstr(R"("role":"master","slices":["0-20"],"epoch":1})"));
  EXPECT_THAT(out, HasSubstr(R"("role":"sub","slices":["43-63"],"epoch":2}]}})"));

  const Topology single = ParseOk(R"(slices = 3
master = "solo"
[[center]]
id = "solo"
address = "h:1"
slices = [0, 2, 1]
)");
  EXPECT_EQ(single.ToJson(), R"({"slices":3,"master":"solo","centers":[)"
                             R"({"id":"solo","address":"h:1","role":"master","slices":["0-2"]}]})");
}

TEST(Topology, ExampleFileLoadsThroughTheRealEnv) {
  Result<Topology> topology = Load(*Env::Default(), SURGE_TOPOLOGY_EXAMPLE);
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  EXPECT_EQ(topology->slice_count(), 64u);
  EXPECT_EQ(topology->master_id(), "m");
  ASSERT_EQ(topology->centers().size(), 3u);
  EXPECT_EQ(topology->centers()[1].id, "s1");
  EXPECT_EQ(topology->centers()[2].id, "s2");
  EXPECT_EQ(topology->centers()[0].address.ToString(), "127.0.0.1:18601");
  EXPECT_EQ(topology->centers()[1].address.ToString(), "127.0.0.1:18602");
  EXPECT_EQ(topology->centers()[2].address.ToString(), "127.0.0.1:18603");
  EXPECT_EQ(topology->gateway_address()->ToString(), "127.0.0.1:8080");
  EXPECT_EQ(topology->centers()[0].slices, (std::vector<SliceRange>{{0, 20}}));
}

TEST(Topology, LoadReadsThroughTheInjectedEnv) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/etc").ok());
  {
    Result<std::unique_ptr<WritableFile>> file = env.OpenWritable("/etc/topo.toml", true);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(kGood).ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  Result<Topology> topology = Load(env, "/etc/topo.toml");
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  EXPECT_EQ(*topology, ParseOk(kGood));

  Result<Topology> missing = Load(env, "/etc/missing.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/etc/missing.toml"));

  {
    Result<std::unique_ptr<WritableFile>> file = env.OpenWritable("/etc/bad.toml", true);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("slices = 64\nmaster = \"m\"\nbogus = 1\n").ok());
  }
  Result<Topology> bad = Load(env, "/etc/bad.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("/etc/bad.toml: line 3: unknown key \"bogus\""));
}

// SliceOf is the routing rule of a deployment: these values were computed once (and by an
// independent reimplementation of StableHash64), so that any change of the hash or the formula
// fails here instead of silently moving users to other centers.
TEST(Topology, SliceOfIsPinned) {
  const Topology topology = ParseOk(kGood);
  const std::map<std::string, uint32_t> pinned = {
      {"u1", 31},          {"u2", 48}, {"alice", 28},     {"bob", 44},
      {"user-000042", 48}, {"", 27},   {"shopper:7", 60},
  };
  for (const auto& [user, slice] : pinned) {
    EXPECT_EQ(topology.SliceOf(user), slice) << user;
  }
  EXPECT_EQ(topology.HomeOf("u1").id, "s1");
  EXPECT_EQ(topology.HomeOf("alice").id, "s1");
  EXPECT_EQ(topology.HomeOf("bob").id, "s2");
  EXPECT_EQ(topology.HomeOf("u2").id, "s2");

  std::string many = "slices = 65536\nmaster = \"m\"\n[[center]]\nid = \"m\"\n";
  many += "address = \"h:1\"\nslices = [\"0-65535\"]\n";
  const Topology wide = ParseOk(many);
  EXPECT_EQ(wide.SliceOf("u1"), 41375u);
  EXPECT_EQ(wide.SliceOf("alice"), 19036u);
  EXPECT_EQ(wide.SliceOf("shopper:7"), 41788u);
}

TEST(Topology, SliceOfSpreadsUsersEvenly) {
  const Topology topology = ParseOk(kGood);
  constexpr int kUsers = 100000;
  std::vector<int> users_per_slice(topology.slice_count(), 0);
  for (int i = 0; i < kUsers; ++i) {
    ++users_per_slice[topology.SliceOf("user-" + std::to_string(i))];
  }
  // 1562.5 expected per slice, standard deviation about 39.5: 10% is about 4 deviations.
  const double expected = static_cast<double>(kUsers) / topology.slice_count();
  for (uint32_t slice = 0; slice < topology.slice_count(); ++slice) {
    EXPECT_GT(users_per_slice[slice], expected * 0.9) << slice;
    EXPECT_LT(users_per_slice[slice], expected * 1.1) << slice;
  }
}

TEST(Topology, HomeOfAgreesWithTheSliceTable) {
  const Topology topology = ParseOk(kGood);
  std::map<std::string, int> users_per_center;
  for (int i = 0; i < 20000; ++i) {
    const std::string user = "shopper-" + std::to_string(i);
    const uint32_t slice = topology.SliceOf(user);
    EXPECT_EQ(slice, StableHash64(user) % 64);
    const Center& home = topology.HomeOf(user);
    EXPECT_EQ(&home, &topology.CenterOfSlice(slice));
    EXPECT_EQ(&topology.centers()[topology.HomeIndexOf(user)], &home);
    // The home's own list of ranges holds the slice, and no other center's does.
    for (const Center& center : topology.centers()) {
      bool holds = false;
      for (const SliceRange& range : center.slices) {
        holds = holds || (range.first <= slice && slice <= range.last);
      }
      EXPECT_EQ(holds, &center == &home) << user << " " << center.id;
    }
    ++users_per_center[home.id];
  }
  // 21, 22 and 21 slices of 64.
  EXPECT_NEAR(users_per_center["m"], 20000 * 21 / 64, 600);
  EXPECT_NEAR(users_per_center["s1"], 20000 * 22 / 64, 600);
  EXPECT_NEAR(users_per_center["s2"], 20000 * 21 / 64, 600);
}

TEST(Topology, CopiesAreIndependentValues) {
  std::optional<Topology> original(ParseOk(kGood));
  const Topology copy = *original;
  original.reset();
  EXPECT_EQ(copy.HomeOf("bob").id, "s2");
  EXPECT_EQ(copy.master_id(), "m");
}

TEST(Topology, ParseAddress) {
  struct Case {
    std::string_view text;
    std::string_view host;
    uint16_t port;
  };
  for (const Case& good :
       {Case{"127.0.0.1:18601", "127.0.0.1", 18601}, Case{"a-b.c:1", "a-b.c", 1},
        Case{"[::1]:65535", "::1", 65535}, Case{"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80}}) {
    Result<Address> address = ParseAddress(good.text);
    ASSERT_TRUE(address.ok()) << good.text << ": " << address.status().ToString();
    EXPECT_EQ(address->host, good.host);
    EXPECT_EQ(address->port, good.port);
    EXPECT_EQ(address->ToString(), good.text);
  }
  for (const std::string_view bad : {"",
                                     "127.0.0.1",
                                     "127.0.0.1:",
                                     "127.0.0.1:0",
                                     "127.0.0.1:65536",
                                     "127.0.0.1:123456",
                                     "127.0.0.1:http",
                                     "127.0.0.1:+80",
                                     "127.0.0.1: 80",
                                     ":80",
                                     "::1:80",
                                     "[::1]80",
                                     "[::1]:",
                                     "[]:80",
                                     "[1.2.3.4]:80",
                                     "[::1",
                                     "a..b:1",
                                     ".a:1",
                                     "a.:1",
                                     "-a:1",
                                     "a-:1",
                                     "a b:1",
                                     "a_b:1",
                                     "h\xc3\xa9:1"}) {
    Result<Address> address = ParseAddress(bad);
    EXPECT_FALSE(address.ok()) << bad;
    EXPECT_EQ(address.status().code(), Code::kInvalidArgument) << bad;
  }
}

// ---- Bad files: every one names the file and the line at fault --------------------------------

struct BadFile {
  std::string name;
  std::string text;
  int line;
  std::string says;  // a part of the message after "bad.toml: line N"
};

constexpr std::string_view kCenterM = "id = \"m\"\naddress = \"h:1\"\nslices = [\"0-3\"]";
constexpr std::string_view kCenterS1 = "id = \"s1\"\naddress = \"h:2\"\nslices = [\"4-7\"]";

// A good file of 8 slices whose two centers have the bodies `center_m` and `center_s1`. With the
// default bodies: "slices" is on line 1, "master" on 2, the [[center]] headers on 4 and 9, the
// first center's id, address and slices on 5, 6, 7 and the second's on 10, 11, 12.
std::string TwoCenters(std::string_view center_m = kCenterM,
                       std::string_view center_s1 = kCenterS1) {
  return "slices = 8\nmaster = \"m\"\n\n[[center]]\n" + std::string(center_m) + "\n\n[[center]]\n" +
         std::string(center_s1) + "\n";
}

std::vector<BadFile> BadFiles() {
  std::string too_many = "slices = 1\nmaster = \"c0\"\n";
  for (size_t i = 0; i <= kCentersMax; ++i) {
    too_many += "[[center]]\nid = \"c" + std::to_string(i) +
                "\"\naddress = \"h:" + std::to_string(i + 1) + "\"\nslices = [" +
                (i == 0 ? "0" : "") + "]\n";
  }
  return {
      // TOML syntax.
      {"syntax: unclosed header", "slices = 8\nmaster = \"m\"\n[[center]\nid = \"m\"\n", 3,
       "TOML syntax error"},
      {"syntax: unterminated array", "slices = 8\nmaster = \"m\"\n\nx = [1,\n", 4,
       "TOML syntax error"},
      {"syntax: duplicate key", "slices = 8\nslices = 9\n", 2, "TOML syntax error"},
      {"syntax: bad value", "slices = 8\nmaster = m\n", 2, "TOML syntax error"},
      // Unknown keys anywhere.
      {"unknown top-level key", "slices = 8\nmaster = \"m\"\nslice = 8\n", 3,
       "unknown key \"slice\" in the top level"},
      {"unknown key in a center", TwoCenters("id = \"m\"\nadress = \"h:1\"\nslices = [\"0-3\"]"), 6,
       "unknown key \"adress\" in [[center]] (expected one of: id, address, bus, slices)"},
      {"unknown key in the gateway", TwoCenters() + "[gateway]\naddress = \"h:3\"\nport = 1\n", 15,
       "unknown key \"port\" in [gateway]"},
      // Missing keys.
      {"missing slices", "master = \"m\"\n[[center]]\nid = \"m\"\n", 1, "missing key \"slices\""},
      {"missing master",
       "slices = 8\n[[center]]\nid = \"m\"\naddress = \"h:1\"\nslices = [\"0-7\"]\n", 1,
       "missing key \"master\""},
      {"missing centers", "slices = 8\nmaster = \"m\"\n", 1, "no centers"},
      {"empty centers", "slices = 8\nmaster = \"m\"\ncenter = []\n", 3, "no centers"},
      {"missing center id", TwoCenters("address = \"h:1\"\nslices = [\"0-3\"]"), 4,
       "missing key \"id\" in [[center]]"},
      {"missing address", TwoCenters(kCenterM, "id = \"s1\"\nslices = [\"4-7\"]"), 9,
       "missing key \"address\" in [[center]] \"s1\""},
      {"missing center slices", TwoCenters("id = \"m\"\naddress = \"h:1\""), 4,
       "missing key \"slices\" in [[center]] \"m\""},
      {"missing gateway address", TwoCenters() + "[gateway]\n", 13,
       "missing key \"address\" in [gateway]"},
      // Wrong types.
      {"slices is a string", "slices = \"8\"\n", 1, "\"slices\" must be an integer"},
      {"slices is a float", "master = \"m\"\nslices = 8.0\n", 2, "not a floating-point number"},
      {"master is an integer",
       "slices = 8\nmaster = 1\n[[center]]\nid = \"m\"\naddress = \"h:1\"\n"
       "slices = [\"0-7\"]\n",
       2, "\"master\" in the top level must be a string, not an integer"},
      {"center is a table", "slices = 8\nmaster = \"m\"\n[center]\nid = \"m\"\n", 3,
       "must be tables written as [[center]]"},
      {"center is an array of numbers", "slices = 8\nmaster = \"m\"\ncenter = [1, 2]\n", 3,
       "must be tables written as [[center]]"},
      {"id is an integer", TwoCenters("id = 7\naddress = \"h:1\"\nslices = [\"0-3\"]"), 5,
       "\"id\" in [[center]] must be a string, not an integer"},
      {"address is an integer", TwoCenters("id = \"m\"\naddress = 18601\nslices = [\"0-3\"]"), 6,
       "\"address\" in [[center]] \"m\" must be a string"},
      {"center slices is a string", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = \"0-3\""),
       7, "\"slices\" of center \"m\" must be an array"},
      {"slice entry is a float", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [0, 1.5]"), 7,
       "must be strings such as \"0-20\" or integers, not a floating-point number"},
      {"slice entry is a table",
       TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\n  \"0-2\",\n  {a = 1},\n]"), 9,
       "not a table"},
      // (Placed after the centers, gateway = ... would be a key of the last [[center]].)
      {"gateway is a string", "gateway = \"h:3\"\n" + TwoCenters(), 1,
       "\"gateway\" must be a [gateway] table, not a string"},
      // Center ids.
      {"invalid id", TwoCenters("id = \"m m\"\naddress = \"h:1\"\nslices = [\"0-3\"]"), 5,
       "bad center id \"m m\""},
      {"empty id", TwoCenters("id = \"\"\naddress = \"h:1\"\nslices = [\"0-3\"]"), 5,
       "bad center id \"\""},
      {"id longer than 32",
       TwoCenters("id = \"" + std::string(33, 'x') + "\"\naddress = \"h:1\"\nslices = [\"0-3\"]"),
       5, "expected 1 to 32 characters"},
      {"duplicate id", TwoCenters(kCenterM, "id = \"m\"\naddress = \"h:2\"\nslices = [\"4-7\"]"),
       10, "duplicate center id \"m\" (first defined at line 4)"},
      // Addresses.
      {"duplicate address",
       TwoCenters(kCenterM, "id = \"s1\"\naddress = \"H:1\"\nslices = [\"4-7\"]"), 11,
       "duplicate address \"H:1\" (already used at line 6)"},
      {"bus address of another center",
       TwoCenters(kCenterM, "id = \"s1\"\naddress = \"h:2\"\nbus = \"h:1\"\nslices = [\"4-7\"]"),
       12, "duplicate address \"h:1\" (already used at line 6)"},
      {"bus address not HOST:PORT",
       TwoCenters("id = \"m\"\naddress = \"h:1\"\nbus = \"h\"\nslices = [\"0-3\"]"), 7,
       "bad bus \"h\" in [[center]] \"m\": expected HOST:PORT"},
      {"bus not a string", TwoCenters("id = \"m\"\naddress = \"h:1\"\nbus = 7\nslices = [\"0-3\"]"),
       7, "\"bus\" in [[center]] \"m\" must be a string"},
      {"gateway address of a center", TwoCenters() + "[gateway]\naddress = \"h:2\"\n", 14,
       "duplicate address \"h:2\" (already used at line 11)"},
      {"address without port", TwoCenters("id = \"m\"\naddress = \"h\"\nslices = [\"0-3\"]"), 6,
       "bad address \"h\" in [[center]] \"m\": expected HOST:PORT"},
      {"port 0", TwoCenters("id = \"m\"\naddress = \"h:0\"\nslices = [\"0-3\"]"), 6,
       "the port must be a number from 1 to 65535"},
      {"port too large", TwoCenters("id = \"m\"\naddress = \"h:70000\"\nslices = [\"0-3\"]"), 6,
       "the port must be a number from 1 to 65535"},
      {"bad host", TwoCenters("id = \"m\"\naddress = \"a..b:1\"\nslices = [\"0-3\"]"), 6,
       "empty label"},
      {"bare IPv6", TwoCenters("id = \"m\"\naddress = \"::1:80\"\nslices = [\"0-3\"]"), 6,
       "IPv6 goes in brackets"},
      {"bad gateway address", TwoCenters() + "[gateway]\naddress = \"h:x\"\n", 14,
       "bad address \"h:x\" in [gateway]"},
      // Master.
      {"unknown master",
       "slices = 8\nmaster = \"boss\"\n[[center]]\nid = \"m\"\naddress = \"h:1\"\n"
       "slices = [\"0-7\"]\n",
       2, "master \"boss\" is not one of the centers (\"m\")"},
      // Slice ranges.
      {"range out of range",
       TwoCenters(kCenterM, "id = \"s1\"\naddress = \"h:2\"\nslices = [\"4-8\"]"), 12,
       "slice range \"4-8\" of center \"s1\" is out of range: slices are 0-7"},
      {"single slice out of range",
       TwoCenters(kCenterM, "id = \"s1\"\naddress = \"h:2\"\nslices = [\"4-7\", 8]"), 12,
       "slice range \"8\" of center \"s1\" is out of range"},
      {"huge slice", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-3\", 99999999999]"),
       7, "is out of range"},
      {"negative slice", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [-1, \"0-3\"]"), 7,
       "slice -1 of center \"m\" is negative"},
      {"reversed range", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"3-0\"]"), 7,
       "slice range \"3-0\" of center \"m\" is reversed"},
      {"open range", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-\"]"), 7,
       "bad slice range \"0-\" of center \"m\""},
      {"leading dash", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"-3\"]"), 7,
       "bad slice range \"-3\""},
      {"three parts", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-1-3\"]"), 7,
       "bad slice range \"0-1-3\""},
      {"letters", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"a-b\"]"), 7,
       "bad slice range \"a-b\""},
      {"spaces", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"0 - 3\"]"), 7,
       "bad slice range \"0 - 3\""},
      {"empty range", TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"\"]"), 7,
       "bad slice range \"\""},
      {"overlap between centers",
       TwoCenters(std::string_view("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-4\"]"),
                  "id = \"s1\"\naddress = \"h:2\"\nslices = [\n  \"5-7\",\n  \"4\",\n]"),
       14, "slice 4 of center \"s1\" is already assigned to center \"m\" (line 7)"},
      {"overlap within a center",
       TwoCenters("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-3\",\n  \"2-3\"]"), 8,
       "slice 2 of center \"m\" is listed twice (line 7)"},
      {"unassigned slices",
       TwoCenters(std::string_view("id = \"m\"\naddress = \"h:1\"\nslices = [\"0-1\"]"),
                  "id = \"s1\"\naddress = \"h:2\"\nslices = [3, \"5-6\"]"),
       1, "slices assigned to no center: 2, 4, 7 (every slice of 0-7 needs a home center)"},
      {"many unassigned slices",
       "master = \"m\"\nslices = 20\n[[center]]\nid = \"m\"\naddress = \"h:1\"\n"
       "slices = [0, 2, 4, 6, 8, 10]\n",
       2, "slices assigned to no center: 1, 3, 5, 7 and 2 more ranges"},
      // The slice count.
      {"zero slices", "slices = 0\n", 1, "\"slices\" must be between 1 and 65536, not 0"},
      {"negative slices", "\n\nslices = -4\n", 3, "must be between 1 and 65536, not -4"},
      {"too many slices", "slices = 65537\n", 1, "must be between 1 and 65536, not 65537"},
      {"too many centers", too_many, 1027, "too many centers (at most 256)"},
  };
}

void ExpectBad(const BadFile& bad) {
  SCOPED_TRACE(bad.name + "\n" + bad.text);
  const Result<Topology> topology = Parse(bad.text, "bad.toml");
  ASSERT_FALSE(topology.ok());
  EXPECT_EQ(topology.status().code(), Code::kInvalidArgument);
  const std::string& message = topology.status().message();
  const std::string where = "bad.toml: line " + std::to_string(bad.line);
  EXPECT_THAT(message, testing::StartsWith(where));
  // "line 1" must not pass for "line 12": the number ends where the location does.
  EXPECT_TRUE(message.size() > where.size() &&
              (message[where.size()] == ':' || message[where.size()] == ','))
      << message;
  EXPECT_THAT(message, HasSubstr(bad.says));
}

TEST(Topology, ABusAddressIsOptionalAndRoundTrips) {
  const Topology topology = ParseOk(
      TwoCenters("id = \"m\"\naddress = \"h:1\"\nbus = \"h:11\"\nslices = [\"0-3\"]", kCenterS1));
  ASSERT_TRUE(topology.centers()[0].bus_address.has_value());
  EXPECT_EQ(topology.centers()[0].bus_address->ToString(), "h:11");
  EXPECT_FALSE(topology.centers()[1].bus_address.has_value());
  EXPECT_EQ(ParseOk(topology.ToToml()), topology);
  EXPECT_NE(topology.ToJson().find(R"("id":"m","address":"h:1","bus":"h:11")"), std::string::npos)
      << topology.ToJson();
}

TEST(TopologyBadFiles, EachNamesTheLine) {
  for (const BadFile& bad : BadFiles()) ExpectBad(bad);
}

TEST(TopologyBadFiles, TheCheckedFilesAreOtherwiseGood) {
  // The bad files above are built from TwoCenters(); make sure it is good on its own, so that each
  // case fails for its own reason.
  const Topology topology = ParseOk(TwoCenters());
  EXPECT_EQ(topology.centers().size(), 2u);
  EXPECT_EQ(ParseOk(TwoCenters() + "[gateway]\naddress = \"h:3\"\n").gateway_address()->port, 3);
}

TEST(TopologyBadFiles, ATooLargeFileIsRefusedUnparsed) {
  const std::string text = std::string(kTextBytesMax, '#') + "\n";
  const Result<Topology> topology = Parse(text, "big.toml");
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr("big.toml: line 1: file is"));
}

TEST(TopologyBadFiles, InvalidUtf8IsASyntaxError) {
  const Result<Topology> topology = Parse("slices = 8\nmaster = \"\xff\"\n", "bad.toml");
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr("bad.toml: line 2"));
}

}  // namespace
}  // namespace surge::topology
