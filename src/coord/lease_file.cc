#include "coord/lease_file.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include "common/coding.h"
#include "coord/coord.h"
#include "coord/internal.h"

namespace surge::coord::internal {
namespace {

constexpr std::string_view kHeader = "surge-leases 1";
constexpr std::string_view kChecksumPrefix = "crc32c ";

Status Corrupt(size_t line, const std::string& what) {
  return Status(Code::kCorruption, "line " + std::to_string(line) + ": " + what);
}

// Quotes at most 40 bytes of `text` for a message, escaping what is not printable.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, 40)) {
    if (c >= ' ' && c <= '~' && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
      out += escaped;
    }
  }
  if (text.size() > 40) out += "...";
  return out + "\"";
}

// Splits on single spaces; false if a field is empty (two spaces, or one at either end).
bool SplitFields(std::string_view line, std::vector<std::string_view>* fields) {
  fields->clear();
  for (;;) {
    const size_t space = line.find(' ');
    fields->push_back(line.substr(0, space));
    if (fields->back().empty()) return false;
    if (space == std::string_view::npos) return true;
    line.remove_prefix(space + 1);
  }
}

// A canonical decimal: digits only, no leading zero (except "0" itself), at most `maximum`.
bool ParseDecimal(std::string_view text, uint64_t maximum, uint64_t* value) {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && *value <= maximum;
}

Status ParseEntry(size_t line_number, const std::vector<std::string_view>& fields,
                  LeaseEntry* entry) {
  if (fields.size() != 6) {
    return Corrupt(line_number,
                   "expected \"lease <name> <epoch> <expiry> <owner> <address>\", got " +
                       std::to_string(fields.size()) + " fields");
  }
  if (!IsValidName(fields[1])) return Corrupt(line_number, "bad lease name " + Quote(fields[1]));
  uint64_t expiry = 0;
  if (!ParseDecimal(fields[2], std::numeric_limits<uint64_t>::max(), &entry->epoch) ||
      entry->epoch == 0) {
    return Corrupt(line_number, "epoch " + Quote(fields[2]) + " is not a decimal number >= 1");
  }
  if (!ParseDecimal(fields[3], std::numeric_limits<int64_t>::max(), &expiry)) {
    return Corrupt(line_number, "expiry " + Quote(fields[3]) + " is not a decimal number");
  }
  if (!IsValidToken(fields[4], kOwnerBytesMax)) {
    return Corrupt(line_number, "bad owner " + Quote(fields[4]));
  }
  if (!IsValidToken(fields[5], kAddressBytesMax)) {
    return Corrupt(line_number, "bad address " + Quote(fields[5]));
  }
  entry->name = fields[1];
  entry->expiry_ns = static_cast<int64_t>(expiry);
  entry->owner = fields[4];
  entry->address = fields[5];
  return Status::Ok();
}

// The next line of `text` (without its newline); false at the end. A last line without a newline
// is returned with *terminated false.
bool NextLine(std::string_view* text, std::string_view* line, bool* terminated) {
  if (text->empty()) return false;
  const size_t newline = text->find('\n');
  *terminated = newline != std::string_view::npos;
  *line = text->substr(0, newline);
  text->remove_prefix(*terminated ? newline + 1 : text->size());
  return true;
}

}  // namespace

LeaseEntry* LeaseTable::Find(std::string_view name) {
  const auto it =
      std::lower_bound(entries.begin(), entries.end(), name,
                       [](const LeaseEntry& e, std::string_view n) { return e.name < n; });
  return it != entries.end() && it->name == name ? &*it : nullptr;
}

LeaseEntry& LeaseTable::FindOrInsert(std::string_view name) {
  const auto it =
      std::lower_bound(entries.begin(), entries.end(), name,
                       [](const LeaseEntry& e, std::string_view n) { return e.name < n; });
  if (it != entries.end() && it->name == name) return *it;
  LeaseEntry entry;
  entry.name = name;
  return *entries.insert(it, std::move(entry));
}

bool IsValidBootId(std::string_view boot_id) {
  if (boot_id.empty() || boot_id.size() > kBootIdBytesMax) return false;
  return std::all_of(boot_id.begin(), boot_id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
  });
}

bool IsValidTable(const LeaseTable& table) {
  if (!IsValidBootId(table.boot_id) || table.entries.size() > kEntriesMax) return false;
  for (size_t i = 0; i < table.entries.size(); ++i) {
    const LeaseEntry& entry = table.entries[i];
    if (!IsValidName(entry.name) || entry.epoch == 0 || entry.expiry_ns < 0 ||
        !IsValidToken(entry.owner, kOwnerBytesMax) ||
        !IsValidToken(entry.address, kAddressBytesMax)) {
      return false;
    }
    if (i > 0 && !(table.entries[i - 1].name < entry.name)) return false;
  }
  return true;
}

std::string EncodeLeaseTable(const LeaseTable& table) {
  SURGE_ASSERT(IsValidTable(table));
  std::string out;
  out.reserve(64 + table.entries.size() * 96);
  out.append(kHeader).append("\nboot ").append(table.boot_id).append("\n");
  for (const LeaseEntry& entry : table.entries) {
    out.append("lease ").append(entry.name).append(" ").append(std::to_string(entry.epoch));
    out.append(" ").append(std::to_string(entry.expiry_ns)).append(" ").append(entry.owner);
    out.append(" ").append(entry.address).append("\n");
  }
  char checksum[16];
  std::snprintf(checksum, sizeof(checksum), "%08x\n", Crc32c(out));
  out.append(kChecksumPrefix).append(checksum);
  return out;
}

Result<LeaseTable> DecodeLeaseTableBody(std::string_view body) {
  LeaseTable table;
  std::string_view line;
  bool terminated = false;
  size_t line_number = 0;
  std::vector<std::string_view> fields;
  while (NextLine(&body, &line, &terminated)) {
    ++line_number;
    if (!terminated) return Corrupt(line_number, "no newline at the end of the line");
    if (line_number == 1) {
      if (line != kHeader) {
        return Corrupt(1, "expected \"" + std::string(kHeader) + "\", got " + Quote(line));
      }
      continue;
    }
    if (!SplitFields(line, &fields)) {
      return Corrupt(line_number,
                     "empty field (fields are separated by exactly one space) in " + Quote(line));
    }
    if (line_number == 2) {
      if (fields.size() != 2 || fields[0] != "boot" || !IsValidBootId(fields[1])) {
        return Corrupt(2, "expected \"boot <boot id>\", got " + Quote(line));
      }
      table.boot_id = fields[1];
      continue;
    }
    if (fields[0] != "lease")
      return Corrupt(line_number, "expected a lease line, got " + Quote(line));
    if (table.entries.size() == kEntriesMax) {
      return Corrupt(line_number, "more than " + std::to_string(kEntriesMax) + " leases");
    }
    LeaseEntry entry;
    SURGE_RETURN_IF_ERROR(ParseEntry(line_number, fields, &entry));
    if (!table.entries.empty() && !(table.entries.back().name < entry.name)) {
      return Corrupt(line_number, "lease " + Quote(entry.name) +
                                      " is out of order or repeated (names must increase)");
    }
    table.entries.push_back(std::move(entry));
  }
  if (line_number < 2) return Corrupt(line_number + 1, "the file ends before its boot line");
  SURGE_ASSERT(IsValidTable(table));
  return table;
}

Result<LeaseTable> DecodeLeaseTable(std::string_view text) {
  if (text.empty()) return Status(Code::kCorruption, "the file is empty");
  if (text.size() > kFileBytesMax) {
    return Status(Code::kCorruption, "the file has " + std::to_string(text.size()) +
                                         " bytes, more than the " + std::to_string(kFileBytesMax) +
                                         " a lease file can have");
  }
  if (text.back() != '\n') {
    return Status(Code::kCorruption, "the last line has no newline (a torn write?)");
  }
  const size_t last_start = text.find_last_of('\n', text.size() - 2);
  const size_t checksum_start = last_start == std::string_view::npos ? 0 : last_start + 1;
  const std::string_view checksum_line =
      text.substr(checksum_start, text.size() - 1 - checksum_start);
  const std::string_view body = text.substr(0, checksum_start);
  uint32_t stored = 0;
  const std::string_view hex =
      checksum_line.substr(std::min(checksum_line.size(), kChecksumPrefix.size()));
  const bool lower_hex = hex.size() == 8 && std::all_of(hex.begin(), hex.end(), [](char c) {
                           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                         });
  if (!checksum_line.starts_with(kChecksumPrefix) || !lower_hex ||
      std::from_chars(hex.data(), hex.data() + hex.size(), stored, 16).ec != std::errc()) {
    return Status(Code::kCorruption,
                  "the last line is not \"crc32c <8 hex digits>\": " + Quote(checksum_line));
  }
  const uint32_t computed = Crc32c(body);
  if (computed != stored) {
    char message[96];
    std::snprintf(message, sizeof(message),
                  "checksum mismatch: the file says %08x, its bytes give %08x", stored, computed);
    return Status(Code::kCorruption, message);
  }
  return DecodeLeaseTableBody(body);
}

}  // namespace surge::coord::internal
