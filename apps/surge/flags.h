// Command-line flags of the surge subcommands: "--name value" or "--name=value", each flag at
// most once, only the flags a subcommand declares. Errors are invalid_argument with a message
// that names the flag, for the caller to print before exiting with status 2.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::cli {

class Flags {
 public:
  // Parses argv[first..argc). `known` are the flag names without "--" that take a value;
  // `switches` those that take none (Has tells whether they were given). "--help" and "-h" are
  // always accepted and set help().
  static Result<Flags> Parse(int argc, char** argv, int first,
                             std::initializer_list<std::string_view> known,
                             std::initializer_list<std::string_view> switches = {});

  bool help() const { return help_; }
  bool Has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The value of `name`, or `fallback` if absent.
  std::string Get(std::string_view name, std::string_view fallback) const;
  // An integer within [minimum, maximum], or `fallback` if absent.
  Result<int64_t> GetInt(std::string_view name, int64_t fallback, int64_t minimum,
                         int64_t maximum) const;

 private:
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

// HOST:PORT ("127.0.0.1:8080", "[::1]:0", "localhost:80"); the port may be 0 (any).
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace surge::cli
