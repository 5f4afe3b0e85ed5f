// json: the JSON codec of the API. A Writer that appends compact JSON to a string, and a Reader
// (over simdjson's DOM parser) whose accessors return a Status naming the field and what was
// expected, so that API decoders can answer bad_field with a message a person can act on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::json {

// Appends compact JSON. Commas and nesting are tracked; misuse (a value where a key is due, an
// unbalanced End) is a programming error and asserts. Strings are escaped per RFC 8259; bytes
// that are not valid UTF-8 are replaced by U+FFFD.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  void Double(double value);
  void Bool(bool value);
  void Null();

  // Shorthands for a key followed by a value.
  void Field(std::string_view key, std::string_view value) { Key(key), String(value); }
  void Field(std::string_view key, const char* value) { Key(key), String(value); }
  void Field(std::string_view key, int64_t value) { Key(key), Int(value); }
  void Field(std::string_view key, int value) { Key(key), Int(value); }
  void Field(std::string_view key, bool value) { Key(key), Bool(value); }

 private:
  void BeforeValue();
  std::string* out_;
  // One entry per open container: true if it already holds an element.
  uint64_t has_element_bits_ = 0;
  int depth_ = 0;
  bool key_pending_ = false;
};

class Value;

// Parses one JSON text. bad_json (with the parser's reason and position) if it is not valid
// JSON, or nests deeper than 64 levels, or is larger than 1 MiB.
class Document {
 public:
  Document();
  ~Document();
  Status Parse(std::string_view text);
  Value root() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A view of a value inside a Document, valid while the Document lives and is not re-parsed.
// `path` is the name used in messages ("items[2].quantity").
class Value {
 public:
  Value() = default;

  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool is_integer() const;
  bool is_null() const;

  // Object access: not_found-free; a missing field is bad_field "<path> is required".
  Result<Value> Field(std::string_view key) const;
  bool Has(std::string_view key) const;
  // bad_field naming the first key of this object not in `allowed` (a typo caught early).
  Status OnlyFields(std::initializer_list<std::string_view> allowed) const;

  // Array access.
  Result<size_t> ArraySize() const;
  Result<Value> At(size_t index) const;

  // Scalars, each checking the type (and range) and naming the path on failure.
  Result<std::string_view> String() const;
  Result<std::string_view> Id() const;  // API.md id: 1-64 chars of [A-Za-z0-9_.:-]
  Result<int64_t> Int(int64_t minimum, int64_t maximum) const;
  Result<double> Number() const;

  const std::string& path() const { return path_; }

 private:
  friend class Document;
  Value(const void* element, std::string path) : element_(element), path_(std::move(path)) {}
  // Points at simdjson's element storage (an opaque simdjson::dom::element copy is held by the
  // Document's arena); kept opaque so simdjson stays a private dependency.
  const void* element_ = nullptr;
  std::string path_;
};

}  // namespace surge::json
