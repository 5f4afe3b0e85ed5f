#include "http/wire.h"

#include <charconv>
#include <cstdio>

#include "common/assert.h"

namespace surge::http {
namespace detail {
namespace {

void AppendNumber(std::string* out, int64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out->append(digits, static_cast<size_t>(result.ptr - digits));
}

// Length of the valid UTF-8 sequence at the start of `text`, or 0 if it is not one (overlong
// forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xc0) == 0x80; };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
    if (lead == 0xed && byte(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xf0 && byte(1) < 0x90) return 0;   // overlong
    if (lead == 0xf4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void AppendResponse(std::string* out, const Response& response, bool head,
                    ConnectionHeader connection, std::string_view date) {
  SURGE_ASSERT(response.status >= 100 && response.status <= 999);
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  out->append("HTTP/1.1 ");
  AppendNumber(out, response.status);
  out->push_back(' ');
  out->append(ReasonPhrase(response.status));
  if (!bodiless) {
    out->append("\r\nContent-Type: ");
    out->append(response.content_type);
    out->append("\r\nContent-Length: ");
    AppendNumber(out, static_cast<int64_t>(response.body.size()));
  }
  out->append("\r\nDate: ");
  out->append(date);
  if (response.retry_after_s >= 0) {
    out->append("\r\nRetry-After: ");
    AppendNumber(out, response.retry_after_s);
  }
  if (connection == ConnectionHeader::kClose) out->append("\r\nConnection: close");
  if (connection == ConnectionHeader::kKeepAlive) out->append("\r\nConnection: keep-alive");
  out->append("\r\n\r\n");
  if (!bodiless && !head) out->append(response.body);
}

void AppendJsonString(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text.substr(i));
      if (length == 0) {
        out->append("\xef\xbf\xbd");  // U+FFFD for a byte that is not valid UTF-8
        ++i;
      } else {
        out->append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string_view DateCache::Get(std::time_t now_s) {
  if (now_s != second_) {
    second_ = now_s;
    std::tm parts{};
    gmtime_r(&now_s, &parts);
    length_ = std::strftime(text_, sizeof(text_), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  }
  return std::string_view(text_, length_);
}

}  // namespace detail

Response ErrorResponse(const Status& status) {
  SURGE_ASSERT(!status.ok());
  Response response;
  response.status = CodeHttpStatus(status.code());
  response.body.reserve(48 + status.message().size());
  response.body.append(R"({"error":{"code":)");
  detail::AppendJsonString(&response.body, CodeName(status.code()));
  response.body.append(R"(,"message":)");
  detail::AppendJsonString(&response.body, status.message());
  response.body.append("}}");
  // API.md: overloaded comes with Retry-After; callers that know better overwrite it.
  if (status.code() == Code::kOverloaded) response.retry_after_s = 1;
  return response;
}

}  // namespace surge::http
