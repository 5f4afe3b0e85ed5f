#include "gateway/response_parser.h"

#include <cstdint>

namespace surge::gateway {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// field-value characters: visible ASCII, space, tab, and obs-text (bytes >= 0x80).
bool IsValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Digits only, at most 18 of them (no overflow); false otherwise.
bool ParseDigits(std::string_view text, uint64_t* value) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t result = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = result;
  return true;
}

// True if the comma-separated token list holds `token` (lower case), ignoring case.
bool ListHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (EqualsIgnoreCase(TrimWhitespace(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// "HTTP/1.1 200 OK": sets *status, *http10.
bool ParseStatusLine(std::string_view line, int* status, bool* http10, std::string* error) {
  // The fixed part is "HTTP/1.x NNN " (13 bytes); the reason phrase after it may be empty.
  if (line.size() < 13 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ' || line[12] != ' ') {
    *error = "malformed status line";
    return false;
  }
  uint64_t code = 0;
  if (!ParseDigits(line.substr(9, 3), &code) || code < 100 || code > 599) {
    *error = "malformed status code";
    return false;
  }
  for (const char c : line.substr(13)) {
    if (!IsValueChar(c)) {
      *error = "control character in the status line";
      return false;
    }
  }
  *status = static_cast<int>(code);
  *http10 = line[7] == '0';
  return true;
}

}  // namespace

void ResponseParser::Reset() {
  scanned_bytes_ = 0;
  head_bytes_ = 0;
  body_bytes_ = 0;
  seen_content_length_ = false;
  keep_alive_ = false;
  content_type_offset_ = 0;
  content_type_bytes_ = 0;
  head_ = ParsedResponse();
}

ResponseParser::State ResponseParser::Parse(std::string_view data, ParsedResponse* response,
                                            std::string* error) {
  if (head_bytes_ == 0) {
    // Resume the search a few bytes back: the terminator may straddle two reads.
    const size_t from = scanned_bytes_ >= 3 ? scanned_bytes_ - 3 : 0;
    const size_t end = data.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      if (data.size() > head_bytes_max_) {
        *error = "response head larger than " + std::to_string(head_bytes_max_) + " bytes";
        return State::kError;
      }
      scanned_bytes_ = data.size();
      return State::kNeedMore;
    }
    if (end + 4 > head_bytes_max_) {
      *error = "response head larger than " + std::to_string(head_bytes_max_) + " bytes";
      return State::kError;
    }
    if (!ParseHead(data.substr(0, end + 2), error)) return State::kError;
    head_bytes_ = end + 4;
  }
  if (data.size() < head_bytes_ + body_bytes_) return State::kNeedMore;
  *response = head_;
  response->content_type = data.substr(content_type_offset_, content_type_bytes_);
  response->body = data.substr(head_bytes_, body_bytes_);
  response->size_bytes = head_bytes_ + body_bytes_;
  return State::kDone;
}

// `head` is every line of the head, each with its CRLF, without the empty line that ends it.
bool ResponseParser::ParseHead(std::string_view head, std::string* error) {
  const char* const start = head.data();
  size_t line_end = head.find(kCrlf);
  bool http10 = false;
  if (!ParseStatusLine(head.substr(0, line_end), &head_.status, &http10, error)) return false;
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    line_end = head.find(kCrlf);
    if (!ParseHeader(head.substr(0, line_end), static_cast<size_t>(head.data() - start), error)) {
      return false;
    }
    head.remove_prefix(line_end + 2);
  }
  // HTTP/1.0 closes after the response unless it says otherwise.
  if (http10 && !keep_alive_) head_.close = true;
  if (head_.status < 200) {
    *error = "unexpected informational status " + std::to_string(head_.status);
    return false;
  }
  if (head_.status == 204 || head_.status == 304) {
    body_bytes_ = 0;
  } else if (!seen_content_length_) {
    *error = "response without Content-Length";
    return false;
  }
  return true;
}

// `line_offset`: where the line starts in the response, to find Content-Type again later.
bool ResponseParser::ParseHeader(std::string_view line, size_t line_offset, std::string* error) {
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) {
    *error = line.empty() || line[0] == ' ' || line[0] == '\t' ? "folded or empty header line"
                                                               : "header line without a colon";
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  for (const char c : name) {
    if (!IsTokenChar(c)) {
      *error = "malformed header name";
      return false;
    }
  }
  const std::string_view raw_value = line.substr(colon + 1);
  for (const char c : raw_value) {
    if (!IsValueChar(c)) {
      *error = "control character in a header value";
      return false;
    }
  }
  const std::string_view value = TrimWhitespace(raw_value);
  if (EqualsIgnoreCase(name, "content-length")) {
    uint64_t length = 0;
    if (seen_content_length_ || !ParseDigits(value, &length)) {
      *error = "repeated or malformed Content-Length";
      return false;
    }
    if (length > body_bytes_max_) {
      *error = "response body of " + std::to_string(length) + " bytes, more than the " +
               std::to_string(body_bytes_max_) + " allowed";
      return false;
    }
    seen_content_length_ = true;
    body_bytes_ = static_cast<size_t>(length);
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    *error = "Transfer-Encoding in a response (not supported)";
    return false;
  } else if (EqualsIgnoreCase(name, "content-type")) {
    content_type_offset_ = line_offset + static_cast<size_t>(value.data() - line.data());
    content_type_bytes_ = value.size();
  } else if (EqualsIgnoreCase(name, "retry-after")) {
    uint64_t seconds = 0;
    // An HTTP-date is legal but not relayed: centers send seconds.
    if (ParseDigits(value, &seconds)) {
      head_.retry_after_s = seconds > 86'400 ? 86'400 : static_cast<int>(seconds);
    }
  } else if (EqualsIgnoreCase(name, "connection")) {
    if (ListHasToken(value, "close")) head_.close = true;
    if (ListHasToken(value, "keep-alive")) keep_alive_ = true;
  }
  return true;
}

}  // namespace surge::gateway
