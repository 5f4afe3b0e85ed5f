// Topology's lookups and renderings, and ParseAddress. Parsing the file is in parse.cc.
#include "topology/topology.h"

#include <charconv>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "json/json.h"

namespace surge::topology {
namespace {

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool IsIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// A DNS name or an IPv4 address: labels of [A-Za-z0-9-] separated by single dots, none starting
// or ending with '-', at most 253 characters.
Status CheckHostName(std::string_view host) {
  constexpr size_t kHostLengthMax = 253;
  if (host.empty()) return Status(Code::kInvalidArgument, "the host is empty");
  if (host.size() > kHostLengthMax) {
    return Status(Code::kInvalidArgument,
                  "the host is longer than " + std::to_string(kHostLengthMax) + " characters");
  }
  for (const char c : host) {
    if (!IsHostNameChar(c)) {
      return Status(Code::kInvalidArgument,
                    "the host may hold only letters, digits, '-' and '.' (IPv6 goes in brackets)");
    }
  }
  size_t label_start = 0;
  while (label_start <= host.size()) {
    size_t label_end = host.find('.', label_start);
    if (label_end == std::string_view::npos) label_end = host.size();
    const std::string_view label = host.substr(label_start, label_end - label_start);
    if (label.empty() || label.front() == '-' || label.back() == '-') {
      return Status(Code::kInvalidArgument,
                    "the host has an empty label or one that starts or "
                    "ends with '-'");
    }
    label_start = label_end + 1;
  }
  return Status::Ok();
}

Result<uint16_t> ParsePort(std::string_view text) {
  uint32_t port = 0;
  bool digits_only = !text.empty() && text.size() <= 5;
  for (const char c : text) digits_only = digits_only && c >= '0' && c <= '9';
  if (digits_only) {
    // At most 5 digits: the value always fits, so only the range is left to check.
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), port);
    digits_only = parsed.ec == std::errc();
  }
  if (!digits_only || port < 1 || port > 65535) {
    return Status(Code::kInvalidArgument, "the port must be a number from 1 to 65535");
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string Address::ToString() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

Result<Address> ParseAddress(std::string_view text) {
  Address address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status(Code::kInvalidArgument, "expected [IPV6]:PORT");
    }
    const std::string_view host = text.substr(1, close - 1);
    bool valid = host.find(':') != std::string_view::npos && host.size() <= 45;
    for (const char c : host) valid = valid && IsIpv6Char(c);
    if (!valid) return Status(Code::kInvalidArgument, "the IPv6 address in brackets is malformed");
    address.host = std::string(host);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status(Code::kInvalidArgument, "expected HOST:PORT");
    }
    SURGE_RETURN_IF_ERROR(CheckHostName(text.substr(0, colon)));
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  SURGE_ASSIGN_OR_RETURN(address.port, ParsePort(port_text));
  return address;
}

std::string SliceRange::ToString() const {
  if (first == last) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

uint32_t Topology::SliceOf(std::string_view user_id) const {
  return static_cast<uint32_t>(StableHash64(user_id) % slice_count_);
}

const Center& Topology::CenterOfSlice(uint32_t slice) const {
  SURGE_ASSERT(slice < slice_count_);
  return centers_[center_index_of_slice_[slice]];
}

const Center* Topology::Find(std::string_view center_id) const {
  for (const Center& center : centers_) {
    if (center.id == center_id) return &center;
  }
  return nullptr;
}

void Topology::WriteJson(
    json::Writer* writer,
    const std::function<void(const Center&, json::Writer*)>& more_center_fields) const {
  writer->BeginObject();
  writer->Field("slices", static_cast<int64_t>(slice_count_));
  writer->Field("master", master_id());
  if (gateway_address_.has_value()) writer->Field("gateway", gateway_address_->ToString());
  writer->Key("centers");
  writer->BeginArray();
  for (const Center& center : centers_) {
    writer->BeginObject();
    writer->Field("id", center.id);
    writer->Field("address", center.address.ToString());
    if (center.bus_address.has_value()) writer->Field("bus", center.bus_address->ToString());
    writer->Field("role", center.is_master ? "master" : "sub");
    writer->Key("slices");
    writer->BeginArray();
    for (const SliceRange& range : center.slices) writer->String(range.ToString());
    writer->EndArray();
    if (more_center_fields) more_center_fields(center, writer);
    writer->EndObject();
  }
  writer->EndArray();
  writer->EndObject();
}

std::string Topology::ToJson() const {
  std::string out;
  json::Writer writer(&out);
  WriteJson(&writer);
  SURGE_ASSERT(writer.complete());
  return out;
}

// Ids and hosts are restricted to characters that need no escaping in a TOML basic string, so
// quoting them is enough.
std::string Topology::ToToml() const {
  std::string out;
  out += "slices = " + std::to_string(slice_count_) + "\n";
  out += "master = \"" + master_id() + "\"\n";
  if (gateway_address_.has_value()) {
    out += "\n[gateway]\naddress = \"" + gateway_address_->ToString() + "\"\n";
  }
  for (const Center& center : centers_) {
    out += "\n[[center]]\nid = \"" + center.id + "\"\naddress = \"" + center.address.ToString() +
           "\"\n";
    if (center.bus_address.has_value()) {
      out += "bus = \"" + center.bus_address->ToString() + "\"\n";
    }
    out += "slices = [";
    for (size_t i = 0; i < center.slices.size(); ++i) {
      out += (i == 0 ? "\"" : ", \"") + center.slices[i].ToString() + "\"";
    }
    out += "]\n";
  }
  return out;
}

}  // namespace surge::topology
