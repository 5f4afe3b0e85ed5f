// json: the JSON codec of the API. A Writer that appends compact JSON to a string, and a Reader
// (over simdjson's DOM parser) whose accessors return a Status naming the field and what was
// expected, so that API decoders can answer bad_field with a message a person can act on.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace surge::json {

// Appends compact JSON. Commas and nesting are tracked; misuse (a value where a key is due, an
// unbalanced End, nesting deeper than 64, a second top-level value, a NaN or infinite Double) is a
// programming error and asserts. Strings are escaped per RFC 8259 (the quote, the backslash and
// control characters; those without a short escape as \u00XX); bytes that are not valid UTF-8 are
// replaced by U+FFFD (one per maximal invalid subsequence). Integers are written exactly; doubles
// in the shortest form that reads back to the same value.
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
  // Appends `json`, which must be one complete, valid JSON value (not checked), as a value.
  void Raw(std::string_view json);

  // True once one complete top-level value has been written (every container closed).
  bool complete() const { return complete_; }

  // Shorthands for a key followed by a value.
  void Field(std::string_view key, std::string_view value) { Key(key), String(value); }
  void Field(std::string_view key, const char* value) { Key(key), String(value); }
  void Field(std::string_view key, int64_t value) { Key(key), Int(value); }
  void Field(std::string_view key, int value) { Key(key), Int(value); }
  void Field(std::string_view key, bool value) { Key(key), Bool(value); }

 private:
  void BeforeValue();
  void AfterValue();
  void AppendEscaped(std::string_view text);
  bool InObject() const { return depth_ > 0 && ((object_bits_ >> (depth_ - 1)) & 1) != 0; }
  static constexpr int kDepthMax = 64;
  std::string* out_;
  // One bit per open container (bit depth-1 is the innermost): it already holds an element.
  uint64_t has_element_bits_ = 0;
  // One bit per open container: it is an object (else an array).
  uint64_t object_bits_ = 0;
  int depth_ = 0;
  bool key_pending_ = false;
  bool complete_ = false;
};

class Value;

// Parses one JSON text. bad_json (with the parser's reason) if it is not valid JSON (including
// invalid UTF-8), or nests deeper than 64 levels, or is larger than 1 MiB. A Document keeps its
// parser's buffers between Parse calls, so reusing one (e.g. one per thread) parses without
// allocating. Not thread-safe.
class Document {
 public:
  Document();
  ~Document();
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  static constexpr size_t kTextBytesMax = 1 << 20;
  static constexpr size_t kDepthMax = 64;

  // Parses `text` (copied into a padded buffer; the caller's text need not outlive the call).
  // Invalidates every Value of the previous parse.
  Status Parse(std::string_view text);
  // The root of the last successful Parse (asserts there was one). Its path is empty; messages
  // about the root itself call it "body".
  Value root() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A view of a value inside a Document, valid while the Document lives and is not re-parsed.
// `path` is the name used in messages ("items[2].quantity"). Every failing accessor returns
// bad_field with a message that starts with the path and says what was expected, e.g.
// "items[2].quantity: expected an integer between 1 and 1000000". A default-constructed Value
// refers to nothing: its is_* are false and its other accessors assert.
class Value {
 public:
  Value() = default;

  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool is_integer() const;  // a JSON integer that fits int64 (no fraction, no exponent)
  bool is_null() const;

  // Object access: not_found-free; a missing field is bad_field "<path> is required".
  Result<Value> Field(std::string_view key) const;
  bool Has(std::string_view key) const;
  // bad_field naming the first key of this object not in `allowed` (a typo caught early), or a
  // key that appears twice (at most 64 allowed keys). Also bad_field if this is not an object.
  Status OnlyFields(std::initializer_list<std::string_view> allowed) const;

  // Array access. At is linear in `index` (simdjson's DOM); callers bound the array size.
  Result<size_t> ArraySize() const;
  Result<Value> At(size_t index) const;

  // Scalars, each checking the type (and range) and naming the path on failure.
  Result<std::string_view> String() const;  // valid UTF-8 (the parser checked it), unescaped
  Result<std::string_view> Id() const;      // API.md id: 1-64 chars of [A-Za-z0-9_.:-]
  // An exact integer in [minimum, maximum]: 1.5, 1e3, 1.0 and integers beyond int64 are refused.
  Result<int64_t> Int(int64_t minimum, int64_t maximum) const;
  Result<double> Number() const;  // any JSON number

  std::string path() const;

 private:
  friend class Document;
  // Holds a copy of a simdjson::dom::element (a pointer into the Document's tape and an index;
  // trivially copyable, checked in json.cc), kept opaque so simdjson stays a private dependency.
  static constexpr size_t kElementBytes = 16;
  // The path is kept in the Document (`paths`, reset by each Parse) and referred to by offset,
  // so that walking a body allocates nothing: a std::string per Value was a third of decoding.
  Value(const void* element, std::string* paths, uint32_t path_begin, uint32_t path_size);
  // A child of this value: its path is this one's followed by `key` (".key", or "key" at the
  // root) or by "[index]".
  Value Child(const void* element, std::string_view key) const;
  Value Child(const void* element, size_t index) const;
  std::string_view PathView() const;
  std::string DescribePath() const;  // path(), or "body" for the root
  alignas(8) unsigned char element_[kElementBytes] = {};
  bool valid_ = false;
  std::string* paths_ = nullptr;
  uint32_t path_begin_ = 0;
  uint32_t path_size_ = 0;
};

}  // namespace surge::json
