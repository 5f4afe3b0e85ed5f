#include "flags.h"

#include <charconv>

namespace surge::cli {
namespace {

Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

bool ParseInt(std::string_view text, int64_t* value) {
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

}  // namespace

Result<Flags> Flags::Parse(int argc, char** argv, int first,
                           std::initializer_list<std::string_view> known,
                           std::initializer_list<std::string_view> switches) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      flags.help_ = true;
      continue;
    }
    if (argument.substr(0, 2) != "--" || argument.size() == 2) {
      return Invalid("unexpected argument '" + std::string(argument) + "'");
    }
    std::string_view name = argument.substr(2);
    std::string value;
    const size_t equals = name.find('=');
    if (equals != std::string_view::npos) {
      value = std::string(name.substr(equals + 1));
      name = name.substr(0, equals);
    }
    bool is_known = false;
    bool is_switch = false;
    for (const std::string_view candidate : known) is_known = is_known || candidate == name;
    for (const std::string_view candidate : switches) is_switch = is_switch || candidate == name;
    if (!is_known && !is_switch) return Invalid("unknown flag --" + std::string(name));
    if (is_switch && equals != std::string_view::npos) {
      return Invalid("flag --" + std::string(name) + " takes no value");
    }
    if (is_known && equals == std::string_view::npos) {
      if (i + 1 >= argc) return Invalid("flag --" + std::string(name) + " needs a value");
      value = argv[++i];
    }
    if (!flags.values_.emplace(std::string(name), std::move(value)).second) {
      return Invalid("flag --" + std::string(name) + " given twice");
    }
  }
  return flags;
}

std::string Flags::Get(std::string_view name, std::string_view fallback) const {
  const auto it = values_.find(std::string(name));
  return it == values_.end() ? std::string(fallback) : it->second;
}

Result<int64_t> Flags::GetInt(std::string_view name, int64_t fallback, int64_t minimum,
                              int64_t maximum) const {
  const auto it = values_.find(std::string(name));
  if (it == values_.end()) return fallback;
  int64_t value = 0;
  if (!ParseInt(it->second, &value) || value < minimum || value > maximum) {
    return Invalid("flag --" + std::string(name) + " expects an integer between " +
                   std::to_string(minimum) + " and " + std::to_string(maximum) + ", got '" +
                   it->second + "'");
  }
  return value;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const Status invalid =
      Invalid("--listen expects HOST:PORT (e.g. 127.0.0.1:8080), got '" + std::string(text) + "'");
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return invalid;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int64_t port = 0;
  if (host.empty() || !ParseInt(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return invalid;
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace surge::cli
