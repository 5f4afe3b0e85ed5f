// Fuzzes the JSON reader and writer. The input is parsed as a document and walked through every
// accessor (none may crash; every failure must be bad_field with a message naming its path); then
// it is written as a string and as a key, and the result must parse and read back as the input
// (or, if the input is not valid UTF-8, as the input with U+FFFD replacements).
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "json/json.h"

namespace surge::json {
namespace {

void CheckFailure(const Status& status, const Value& value) {
  SURGE_ASSERT(status.code() == Code::kBadField);
  const std::string& path = value.path().empty() ? std::string("body") : value.path();
  SURGE_ASSERT(status.message().rfind(path, 0) == 0);
}

void Walk(const Value& value, int depth) {
  SURGE_ASSERT(depth <= static_cast<int>(Document::kDepthMax));
  const auto integer = value.Int(INT64_MIN, INT64_MAX);
  SURGE_ASSERT(integer.ok() == value.is_integer());
  if (!integer.ok()) CheckFailure(integer.status(), value);
  const auto text = value.String();
  SURGE_ASSERT(text.ok() == value.is_string());
  if (!text.ok()) CheckFailure(text.status(), value);
  const auto id = value.Id();
  if (!id.ok()) CheckFailure(id.status(), value);
  (void)value.Number();
  (void)value.is_null();
  const auto size = value.ArraySize();
  SURGE_ASSERT(size.ok() == value.is_array());
  if (size.ok()) {
    // At is linear in the index: walk a bounded prefix.
    for (size_t i = 0; i < *size && i < 16; ++i) {
      const auto child = value.At(i);
      SURGE_ASSERT(child.ok());
      Walk(*child, depth + 1);
    }
    SURGE_ASSERT(!value.At(*size).ok());
  }
  if (value.is_object()) {
    const Status only = value.OnlyFields({"a", "b", "items", "name"});
    if (!only.ok()) SURGE_ASSERT(only.code() == Code::kBadField);
    for (const std::string_view key : {"a", "b", "items", "name", ""}) {
      const auto child = value.Field(key);
      SURGE_ASSERT(child.ok() == value.Has(key));
      if (child.ok()) Walk(*child, depth + 1);
    }
  } else {
    SURGE_ASSERT(!value.Field("a").ok());
  }
}

// The bytes a reader gets back after `input` went through the writer.
std::string Sanitized(std::string_view input) {
  if (simdjson::validate_utf8(input.data(), input.size())) return std::string(input);
  return "";  // unknown: only checked to parse
}

void RoundTrip(std::string_view input) {
  std::string out;
  Writer writer(&out);
  writer.BeginObject();
  writer.Field(input, input);
  writer.EndObject();
  SURGE_ASSERT(writer.complete());
  Document document;
  SURGE_ASSERT(document.Parse(out).ok());
  const Status only = document.root().OnlyFields({});
  SURGE_ASSERT(!only.ok());
  const std::string expected = Sanitized(input);
  if (expected.empty() && !input.empty()) return;
  const auto field = document.root().Field(expected);
  SURGE_ASSERT(field.ok());
  const auto text = field->String();
  SURGE_ASSERT(text.ok() && *text == expected);
}

}  // namespace
}  // namespace surge::json

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  surge::json::Document document;
  const surge::Status status = document.Parse(input);
  if (status.ok()) {
    surge::json::Walk(document.root(), 1);
  } else {
    SURGE_ASSERT(status.code() == surge::Code::kBadJson);
  }
  if (size <= 4096) surge::json::RoundTrip(input);
  return 0;
}
