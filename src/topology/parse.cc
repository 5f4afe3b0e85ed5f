// Parse and Load: TOML text to a validated Topology. toml++ (Debian's shared library, built with
// exceptions) does the syntax; everything after that is ours, and every error names the line of
// the key or value at fault, taken from toml++'s source regions.
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "topology/topology.h"

namespace surge::topology {
namespace {

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// toml++ numbers lines from 1 and leaves 0 where it knows no position; the top of the file is
// the best place to point at then.
uint32_t LineOf(const toml::source_region& region) {
  return region.begin.line == 0 ? 1 : region.begin.line;
}

// Parses "first-last" or "n" (decimal digits only) into a range; false if malformed. Bounds are
// the caller's to check, so the numbers are kept wide enough not to overflow.
bool ParseRangeText(std::string_view text, uint64_t* first, uint64_t* last) {
  const auto parse_number = [](std::string_view digits, uint64_t* value) {
    if (digits.empty() || digits.size() > 9) return false;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;
    }
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), *value);
    return error == std::errc() && end == digits.data() + digits.size();
  };
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_number(text, first)) return false;
    *last = *first;
    return true;
  }
  return parse_number(text.substr(0, dash), first) && parse_number(text.substr(dash + 1), last);
}

}  // namespace

// Builds a Topology from a parsed TOML table, checking every rule of topology.h. Stops at the
// first error.
class Parser {
 public:
  explicit Parser(std::string_view source_name) : source_name_(source_name) {}

  Result<Topology> Run(const toml::table& root);

 private:
  static constexpr uint32_t kUnassigned = 0;

  Status Fail(uint32_t line, std::string_view message) const {
    return Status(Code::kInvalidArgument,
                  source_name_ + ": line " + std::to_string(line) + ": " + std::string(message));
  }
  Status Fail(const toml::source_region& region, std::string_view message) const {
    return Fail(LineOf(region), message);
  }

  Status CheckKeys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                   std::string_view where) const;
  Result<const toml::node*> Require(const toml::table& table, std::string_view key,
                                    std::string_view where) const;
  Result<std::string_view> RequireString(const toml::table& table, std::string_view key,
                                         std::string_view where) const;
  Result<Address> RequireAddress(const toml::table& table, std::string_view where,
                                 std::string_view key = "address") const;
  Status ParseSliceCount(const toml::table& root);
  Status ParseCenters(const toml::table& root);
  Status ParseCenter(const toml::table& table);
  Status AssignSlices(const toml::node& slices, size_t center_index);
  Status AssignRange(const toml::node& entry, uint64_t first, uint64_t last, size_t center_index);
  Status CheckAddressUnique(const Address& address, uint32_t line);
  Status ParseMaster(const toml::table& root);
  Status ParseGateway(const toml::table& root);
  Status CheckEverySliceAssigned() const;
  void BuildSliceTables();

  std::string source_name_;
  Topology topology_;
  uint32_t slice_count_line_ = 1;
  // Per center, the line of its [[center]] header.
  std::vector<uint32_t> center_lines_;
  // Per slice, the line of the entry that assigned it (kUnassigned if none yet); lines start at 1.
  std::vector<uint32_t> assigned_line_;
  // Addresses seen so far with their lines, host lower-cased so that case does not hide a clash.
  std::vector<std::pair<Address, uint32_t>> addresses_;
};

Result<Topology> Parser::Run(const toml::table& root) {
  SURGE_RETURN_IF_ERROR(
      CheckKeys(root, {"slices", "master", "gateway", "center"}, "the top level"));
  SURGE_RETURN_IF_ERROR(ParseSliceCount(root));
  SURGE_RETURN_IF_ERROR(ParseCenters(root));
  SURGE_RETURN_IF_ERROR(ParseMaster(root));
  SURGE_RETURN_IF_ERROR(ParseGateway(root));
  SURGE_RETURN_IF_ERROR(CheckEverySliceAssigned());
  BuildSliceTables();
  return std::move(topology_);
}

// Reports the unknown key that comes first in the file (toml++ iterates keys sorted by name).
Status Parser::CheckKeys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                         std::string_view where) const {
  const toml::key* unknown = nullptr;
  for (const auto& [key, node] : table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
    if (unknown == nullptr || LineOf(key.source()) < LineOf(unknown->source())) unknown = &key;
  }
  if (unknown == nullptr) return Status::Ok();
  std::string expected;
  for (const std::string_view name : allowed) {
    expected += expected.empty() ? "" : ", ";
    expected += name;
  }
  return Fail(unknown->source(), "unknown key " + Quote(unknown->str()) + " in " +
                                     std::string(where) + " (expected one of: " + expected + ")");
}

Result<const toml::node*> Parser::Require(const toml::table& table, std::string_view key,
                                          std::string_view where) const {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return Fail(table.source(), "missing key " + Quote(key) + " in " + std::string(where));
  }
  return node;
}

Result<std::string_view> Parser::RequireString(const toml::table& table, std::string_view key,
                                               std::string_view where) const {
  SURGE_ASSIGN_OR_RETURN(const toml::node* node, Require(table, key, where));
  const auto* value = node->as_string();
  if (value == nullptr) {
    return Fail(node->source(), Quote(key) + " in " + std::string(where) +
                                    " must be a string, not " + std::string(TypeName(*node)));
  }
  return std::string_view(value->get());
}

Result<Address> Parser::RequireAddress(const toml::table& table, std::string_view where,
                                       std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const std::string_view text, RequireString(table, key, where));
  Result<Address> address = ParseAddress(text);
  if (!address.ok()) {
    return Fail(table.get(key)->source(), "bad " + std::string(key) + " " + Quote(text) + " in " +
                                              std::string(where) + ": " +
                                              address.status().message());
  }
  return address;
}

Status Parser::ParseSliceCount(const toml::table& root) {
  SURGE_ASSIGN_OR_RETURN(const toml::node* node, Require(root, "slices", "the top level"));
  slice_count_line_ = LineOf(node->source());
  const auto* value = node->as_integer();
  if (value == nullptr) {
    return Fail(node->source(), "\"slices\" must be an integer (the number of user slices), not " +
                                    std::string(TypeName(*node)));
  }
  const int64_t count = value->get();
  if (count < 1 || count > kSliceCountMax) {
    return Fail(node->source(), "\"slices\" must be between 1 and " +
                                    std::to_string(kSliceCountMax) + ", not " +
                                    std::to_string(count));
  }
  topology_.slice_count_ = static_cast<uint32_t>(count);
  assigned_line_.assign(topology_.slice_count_, kUnassigned);
  topology_.center_index_of_slice_.assign(topology_.slice_count_, 0);
  return Status::Ok();
}

Status Parser::ParseCenters(const toml::table& root) {
  const toml::node* node = root.get("center");
  if (node == nullptr) {
    return Fail(root.source(), "no centers: add at least one [[center]] table");
  }
  const toml::array* centers = node->as_array();
  if (centers != nullptr && centers->empty()) {
    return Fail(node->source(), "no centers: add at least one [[center]] table");
  }
  if (centers == nullptr || !centers->is_array_of_tables()) {
    return Fail(node->source(), "\"center\" must be tables written as [[center]], not " +
                                    std::string(TypeName(*node)));
  }
  if (centers->size() > kCentersMax) {
    return Fail((*centers)[kCentersMax].source(),
                "too many centers (at most " + std::to_string(kCentersMax) + ")");
  }
  for (const toml::node& center : *centers) {
    SURGE_RETURN_IF_ERROR(ParseCenter(*center.as_table()));
  }
  return Status::Ok();
}

Status Parser::ParseCenter(const toml::table& table) {
  const uint32_t line = LineOf(table.source());
  SURGE_RETURN_IF_ERROR(CheckKeys(table, {"id", "address", "bus", "slices"}, "[[center]]"));
  SURGE_ASSIGN_OR_RETURN(const std::string_view id, RequireString(table, "id", "[[center]]"));
  const toml::source_region& id_region = table.get("id")->source();
  if (!IsValidId(id) || id.size() > kCenterIdLengthMax) {
    return Fail(id_region, "bad center id " + Quote(id) + ": expected 1 to " +
                               std::to_string(kCenterIdLengthMax) +
                               " characters from [A-Za-z0-9_.:-]");
  }
  for (size_t i = 0; i < topology_.centers_.size(); ++i) {
    if (topology_.centers_[i].id == id) {
      return Fail(id_region, "duplicate center id " + Quote(id) + " (first defined at line " +
                                 std::to_string(center_lines_[i]) + ")");
    }
  }
  const std::string where = "[[center]] " + Quote(id);
  SURGE_ASSIGN_OR_RETURN(Address address, RequireAddress(table, where));
  SURGE_RETURN_IF_ERROR(CheckAddressUnique(address, LineOf(table.get("address")->source())));
  std::optional<Address> bus_address;
  if (table.contains("bus")) {
    SURGE_ASSIGN_OR_RETURN(bus_address, RequireAddress(table, where, "bus"));
    SURGE_RETURN_IF_ERROR(CheckAddressUnique(*bus_address, LineOf(table.get("bus")->source())));
  }
  SURGE_ASSIGN_OR_RETURN(const toml::node* slices, Require(table, "slices", where));

  Center center;
  center.id = std::string(id);
  center.address = std::move(address);
  center.bus_address = std::move(bus_address);
  topology_.centers_.push_back(std::move(center));
  center_lines_.push_back(line);
  return AssignSlices(*slices, topology_.centers_.size() - 1);
}

Status Parser::CheckAddressUnique(const Address& address, uint32_t line) {
  Address canonical = address;
  std::transform(canonical.host.begin(), canonical.host.end(), canonical.host.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  for (const auto& [seen, seen_line] : addresses_) {
    if (seen == canonical) {
      return Fail(line, "duplicate address " + Quote(address.ToString()) +
                            " (already used at line " + std::to_string(seen_line) + ")");
    }
  }
  addresses_.emplace_back(std::move(canonical), line);
  return Status::Ok();
}

Status Parser::AssignSlices(const toml::node& slices, size_t center_index) {
  const std::string& id = topology_.centers_[center_index].id;
  const toml::array* entries = slices.as_array();
  if (entries == nullptr) {
    return Fail(slices.source(), "\"slices\" of center " + Quote(id) +
                                     " must be an array such as [\"0-20\", 42], not " +
                                     std::string(TypeName(slices)));
  }
  for (const toml::node& entry : *entries) {
    uint64_t first = 0;
    uint64_t last = 0;
    if (const auto* number = entry.as_integer()) {
      if (number->get() < 0) {
        return Fail(entry.source(), "slice " + std::to_string(number->get()) + " of center " +
                                        Quote(id) + " is negative");
      }
      first = last = static_cast<uint64_t>(number->get());
    } else if (const auto* text = entry.as_string()) {
      if (!ParseRangeText(text->get(), &first, &last)) {
        return Fail(entry.source(), "bad slice range " + Quote(text->get()) + " of center " +
                                        Quote(id) + ": expected \"first-last\" or a single slice");
      }
    } else {
      return Fail(entry.source(), "slices of center " + Quote(id) +
                                      " must be strings such as \"0-20\" or integers, not " +
                                      std::string(TypeName(entry)));
    }
    SURGE_RETURN_IF_ERROR(AssignRange(entry, first, last, center_index));
  }
  return Status::Ok();
}

Status Parser::AssignRange(const toml::node& entry, uint64_t first, uint64_t last,
                           size_t center_index) {
  const std::string& id = topology_.centers_[center_index].id;
  const std::string range =
      first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
  if (first > last) {
    return Fail(entry.source(), "slice range " + Quote(range) + " of center " + Quote(id) +
                                    " is reversed (write it first-last)");
  }
  if (last >= topology_.slice_count_) {
    return Fail(entry.source(), "slice range " + Quote(range) + " of center " + Quote(id) +
                                    " is out of range: slices are 0-" +
                                    std::to_string(topology_.slice_count_ - 1) +
                                    " (\"slices = " + std::to_string(topology_.slice_count_) +
                                    "\" at line " + std::to_string(slice_count_line_) + ")");
  }
  // Each slice is written at most once before an overlap stops the parse, so the total work is
  // bounded by the slice count however many entries the file has.
  const uint32_t line = LineOf(entry.source());
  for (uint64_t slice = first; slice <= last; ++slice) {
    if (assigned_line_[slice] != kUnassigned &&
        topology_.center_index_of_slice_[slice] == center_index) {
      return Fail(line, "slice " + std::to_string(slice) + " of center " + Quote(id) +
                            " is listed twice (line " + std::to_string(assigned_line_[slice]) +
                            ")");
    }
    if (assigned_line_[slice] != kUnassigned) {
      const std::string& owner = topology_.centers_[topology_.center_index_of_slice_[slice]].id;
      return Fail(line, "slice " + std::to_string(slice) + " of center " + Quote(id) +
                            " is already assigned to center " + Quote(owner) + " (line " +
                            std::to_string(assigned_line_[slice]) + ")");
    }
    assigned_line_[slice] = line;
    topology_.center_index_of_slice_[slice] = static_cast<uint16_t>(center_index);
  }
  return Status::Ok();
}

Status Parser::ParseMaster(const toml::table& root) {
  SURGE_ASSIGN_OR_RETURN(const std::string_view master,
                         RequireString(root, "master", "the top level"));
  for (size_t i = 0; i < topology_.centers_.size(); ++i) {
    if (topology_.centers_[i].id == master) {
      topology_.master_index_ = i;
      topology_.centers_[i].is_master = true;
      return Status::Ok();
    }
  }
  std::string known;
  for (const Center& center : topology_.centers_) {
    known += known.empty() ? "" : ", ";
    known += Quote(center.id);
  }
  return Fail(root.get("master")->source(),
              "master " + Quote(master) + " is not one of the centers (" + known + ")");
}

Status Parser::ParseGateway(const toml::table& root) {
  const toml::node* node = root.get("gateway");
  if (node == nullptr) return Status::Ok();
  const toml::table* gateway = node->as_table();
  if (gateway == nullptr) {
    return Fail(node->source(),
                "\"gateway\" must be a [gateway] table, not " + std::string(TypeName(*node)));
  }
  SURGE_RETURN_IF_ERROR(CheckKeys(*gateway, {"address"}, "[gateway]"));
  SURGE_ASSIGN_OR_RETURN(Address address, RequireAddress(*gateway, "[gateway]"));
  SURGE_RETURN_IF_ERROR(CheckAddressUnique(address, LineOf(gateway->get("address")->source())));
  topology_.gateway_address_ = std::move(address);
  return Status::Ok();
}

// Names the first few unassigned ranges, so that a person can see what to add.
Status Parser::CheckEverySliceAssigned() const {
  constexpr size_t kRangesNamedMax = 4;
  std::vector<SliceRange> missing;
  size_t missing_ranges = 0;
  for (uint32_t slice = 0; slice < topology_.slice_count_; ++slice) {
    if (assigned_line_[slice] != kUnassigned) continue;
    if (slice > 0 && assigned_line_[slice - 1] == kUnassigned) {
      if (missing.size() == missing_ranges) missing.back().last = slice;
      continue;
    }
    ++missing_ranges;
    if (missing.size() < kRangesNamedMax) missing.push_back(SliceRange{slice, slice});
  }
  if (missing_ranges == 0) return Status::Ok();
  std::string named;
  for (const SliceRange& range : missing) {
    named += named.empty() ? "" : ", ";
    named += range.ToString();
  }
  if (missing_ranges > missing.size()) {
    named += " and " + std::to_string(missing_ranges - missing.size()) + " more ranges";
  }
  return Fail(slice_count_line_, "slices assigned to no center: " + named + " (every slice of 0-" +
                                     std::to_string(topology_.slice_count_ - 1) +
                                     " needs a home center)");
}

void Parser::BuildSliceTables() {
  for (uint32_t slice = 0; slice < topology_.slice_count_; ++slice) {
    std::vector<SliceRange>& ranges =
        topology_.centers_[topology_.center_index_of_slice_[slice]].slices;
    if (!ranges.empty() && ranges.back().last + 1 == slice) {
      ranges.back().last = slice;
    } else {
      ranges.push_back(SliceRange{slice, slice});
    }
  }
}

Result<Topology> Parse(std::string_view text, std::string_view source_name) {
  if (text.size() > kTextBytesMax) {
    return Status(Code::kInvalidArgument, std::string(source_name) + ": line 1: file is " +
                                              std::to_string(text.size()) + " bytes, more than " +
                                              std::to_string(kTextBytesMax));
  }
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    const toml::source_region& region = error.source();
    return Status(Code::kInvalidArgument,
                  std::string(source_name) + ": line " + std::to_string(LineOf(region)) +
                      ", column " + std::to_string(region.begin.column) +
                      ": TOML syntax error: " + std::string(error.description()));
  }
  return Parser(source_name).Run(root);
}

Result<Topology> Load(Env& env, const std::string& path) {
  Result<std::string> text = env.ReadFile(path);
  if (!text.ok()) return text.status().Annotate("reading topology file " + path);
  return Parse(*text, path);
}

}  // namespace surge::topology
