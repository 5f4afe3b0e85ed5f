// Base64 (RFC 4648, standard alphabet, with padding), as etcd's JSON gateway carries keys and
// values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace surge::coord::internal {

std::string Base64Encode(std::string_view bytes);
// nullopt unless `text` is canonical base64: a multiple of 4 characters of the standard alphabet,
// '=' only as the last one or two, and unused bits zero.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace surge::coord::internal
