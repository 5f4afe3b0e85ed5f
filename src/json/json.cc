#include "json/json.h"

#include <emmintrin.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "common/assert.h"
#include "common/ids.h"

namespace surge::json {
namespace {

// ---- Writer helpers ------------------------------------------------------------------------

// The length of the valid UTF-8 sequence starting at `bytes` (2 to 4), or 0 if it is invalid;
// then `*invalid_length` is the length of its maximal invalid subpart (at least 1), which is
// replaced by one U+FFFD (Unicode's "maximal subpart" practice).
size_t Utf8SequenceLength(const unsigned char* bytes, size_t available, size_t* invalid_length) {
  const unsigned char lead = bytes[0];
  size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // beyond U+10FFFF
  } else {
    *invalid_length = 1;
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    const unsigned char minimum = i == 1 ? second_min : 0x80;
    const unsigned char maximum = i == 1 ? second_max : 0xBF;
    if (i >= available || bytes[i] < minimum || bytes[i] > maximum) {
      *invalid_length = i;
      return 0;
    }
  }
  return length;
}

constexpr char kHexDigits[] = "0123456789abcdef";

// Appends the escape of one ASCII byte that may not appear raw in a JSON string.
// True if none of the 16 bytes needs escaping or UTF-8 validation: each is at least 0x20, below
// 0x80, and neither '"' nor '\\'. (A signed compare makes bytes >= 0x80 negative, so one "less
// than 0x20" catches both ends.)
bool IsPlain16(const unsigned char* bytes) {
  const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i special = _mm_or_si128(_mm_cmplt_epi8(chunk, _mm_set1_epi8(0x20)),
                                       _mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(special) == 0;
}

void AppendEscapedByte(std::string* out, unsigned char c) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    default:
      break;
  }
  const char escape[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
  out->append(escape, sizeof escape);
}

// ---- Reader helpers ------------------------------------------------------------------------

using simdjson::dom::element;
using simdjson::dom::element_type;

static_assert(std::is_trivially_copyable_v<element>);

element Load(const unsigned char* storage) {
  element value;
  std::memcpy(static_cast<void*>(&value), storage, sizeof value);
  return value;
}

std::string ChildPath(std::string_view parent, std::string_view key) {
  std::string path;
  path.reserve(parent.size() + 1 + key.size());
  path.append(parent);
  if (!parent.empty()) path.push_back('.');
  path.append(key);
  return path;
}

Status BadField(std::string message) { return Status(Code::kBadField, std::move(message)); }

// "an integer between 1 and 10", or a one-sided form when a bound is the type's limit.
std::string IntegerExpectation(int64_t minimum, int64_t maximum) {
  if (minimum == INT64_MIN && maximum == INT64_MAX) return "an integer";
  if (maximum == INT64_MAX) return "an integer of at least " + std::to_string(minimum);
  if (minimum == INT64_MIN) return "an integer of at most " + std::to_string(maximum);
  return "an integer between " + std::to_string(minimum) + " and " + std::to_string(maximum);
}

// Keys from the input may be long; messages quote at most this many bytes of them.
constexpr size_t kKeyInMessageMax = 64;

}  // namespace

// ---- Writer --------------------------------------------------------------------------------

void Writer::BeforeValue() {
  SURGE_ASSERT_MSG(!complete_, "json::Writer: a second top-level value");
  if (depth_ == 0) return;
  if (InObject()) {
    SURGE_ASSERT_MSG(key_pending_, "json::Writer: a value where a key is due");
    key_pending_ = false;
    return;
  }
  const uint64_t bit = 1ULL << (depth_ - 1);
  if ((has_element_bits_ & bit) != 0) out_->push_back(',');
  has_element_bits_ |= bit;
}

void Writer::AfterValue() {
  if (depth_ == 0) complete_ = true;
}

void Writer::BeginObject() {
  BeforeValue();
  SURGE_ASSERT_MSG(depth_ < kDepthMax, "json::Writer: nesting deeper than 64");
  out_->push_back('{');
  const uint64_t bit = 1ULL << depth_;
  object_bits_ |= bit;
  has_element_bits_ &= ~bit;
  ++depth_;
}

void Writer::EndObject() {
  SURGE_ASSERT_MSG(InObject(), "json::Writer: EndObject without an open object");
  SURGE_ASSERT_MSG(!key_pending_, "json::Writer: EndObject after a key without a value");
  out_->push_back('}');
  --depth_;
  AfterValue();
}

void Writer::BeginArray() {
  BeforeValue();
  SURGE_ASSERT_MSG(depth_ < kDepthMax, "json::Writer: nesting deeper than 64");
  out_->push_back('[');
  const uint64_t bit = 1ULL << depth_;
  object_bits_ &= ~bit;
  has_element_bits_ &= ~bit;
  ++depth_;
}

void Writer::EndArray() {
  SURGE_ASSERT_MSG(depth_ > 0 && !InObject(), "json::Writer: EndArray without an open array");
  out_->push_back(']');
  --depth_;
  AfterValue();
}

void Writer::Key(std::string_view key) {
  SURGE_ASSERT_MSG(InObject(), "json::Writer: a key outside an object");
  SURGE_ASSERT_MSG(!key_pending_, "json::Writer: a key where a value is due");
  const uint64_t bit = 1ULL << (depth_ - 1);
  if ((has_element_bits_ & bit) != 0) out_->push_back(',');
  has_element_bits_ |= bit;
  AppendEscaped(key);
  out_->push_back(':');
  key_pending_ = true;
}

void Writer::String(std::string_view value) {
  BeforeValue();
  AppendEscaped(value);
  AfterValue();
}

void Writer::Int(int64_t value) {
  BeforeValue();
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  SURGE_ASSERT(result.ec == std::errc());
  out_->append(digits, result.ptr);
  AfterValue();
}

void Writer::Double(double value) {
  SURGE_ASSERT_MSG(std::isfinite(value), "json::Writer: JSON has no NaN or infinity");
  BeforeValue();
  char digits[32];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  SURGE_ASSERT(result.ec == std::errc());
  out_->append(digits, result.ptr);
  AfterValue();
}

void Writer::Bool(bool value) {
  BeforeValue();
  out_->append(value ? "true" : "false");
  AfterValue();
}

void Writer::Null() {
  BeforeValue();
  out_->append("null");
  AfterValue();
}

void Writer::Raw(std::string_view json) {
  SURGE_ASSERT(!json.empty());
  BeforeValue();
  out_->append(json);
  AfterValue();
}

void Writer::AppendEscaped(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  out_->reserve(out_->size() + size + 2);
  out_->push_back('"');
  size_t clean_from = 0;  // start of the run of bytes that are copied as they are
  size_t i = 0;
  bool tail_checked = false;
  while (i < size) {
    // Skip 16 plain bytes at a time: strings in responses are ids and names, almost always plain
    // ASCII, and a byte-by-byte scan was the writer's top cost.
    const size_t left = size - i;
    if (left >= 16 && IsPlain16(bytes + i)) {
      i += 16;
      continue;
    }
    if (left < 16 && !tail_checked) {
      // The short rest (or a short string: most ids), padded with spaces to one chunk.
      tail_checked = true;
      unsigned char padded[16];
      std::memset(padded, ' ', sizeof padded);
      std::memcpy(padded, bytes + i, left);
      if (IsPlain16(padded)) {
        i = size;
        break;
      }
    }
    const unsigned char c = bytes[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t invalid_length = 0;
      const size_t length = Utf8SequenceLength(bytes + i, size - i, &invalid_length);
      if (length != 0) {
        i += length;
        continue;
      }
      out_->append(text.data() + clean_from, i - clean_from);
      out_->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      i += invalid_length;
    } else {
      out_->append(text.data() + clean_from, i - clean_from);
      AppendEscapedByte(out_, c);
      ++i;
    }
    clean_from = i;
  }
  out_->append(text.data() + clean_from, size - clean_from);
  out_->push_back('"');
}

// ---- Document ------------------------------------------------------------------------------

struct Document::Impl {
  simdjson::dom::parser parser{kTextBytesMax};
  bool allocated = false;
  // The input, copied with SIMDJSON_PADDING readable bytes after it.
  std::unique_ptr<char[]> buffer;
  size_t buffer_capacity = 0;
  element root;
  bool parsed = false;
  // The paths of the Values of this parse, back to back (see Value).
  std::string paths;
};

Document::Document() : impl_(std::make_unique<Impl>()) {}
Document::~Document() = default;

Status Document::Parse(std::string_view text) {
  Impl& impl = *impl_;
  impl.parsed = false;
  impl.paths.clear();
  if (text.size() > kTextBytesMax) {
    return Status(Code::kBadJson, "invalid JSON: the text is larger than 1 MiB (" +
                                      std::to_string(text.size()) + " bytes)");
  }
  if (!impl.allocated) {
    // Sets the depth limit; the capacity grows as needed up to kTextBytesMax and keeps it.
    if (impl.parser.allocate(std::max<size_t>(text.size(), 4096), kDepthMax) != simdjson::SUCCESS) {
      return Status(Code::kInternal, "json: out of memory allocating the parser");
    }
    impl.allocated = true;
  }
  const size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
  if (impl.buffer_capacity < needed) {
    impl.buffer_capacity = std::max(needed, 2 * impl.buffer_capacity);
    impl.buffer = std::make_unique<char[]>(impl.buffer_capacity);
  }
  if (!text.empty()) std::memcpy(impl.buffer.get(), text.data(), text.size());
  std::memset(impl.buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  auto result = impl.parser.parse(impl.buffer.get(), text.size(), /*realloc_if_needed=*/false);
  if (result.error() != simdjson::SUCCESS) {
    if (result.error() == simdjson::DEPTH_ERROR) {
      return Status(Code::kBadJson, "invalid JSON: nested deeper than 64 levels");
    }
    if (result.error() == simdjson::NUMBER_ERROR) {
      // simdjson refuses these before any field is read, so the field cannot be named here.
      return Status(Code::kBadJson,
                    "invalid JSON: a number is malformed or out of range (integers must lie "
                    "between -9223372036854775808 and 18446744073709551615)");
    }
    return Status(Code::kBadJson,
                  std::string("invalid JSON: ") + simdjson::error_message(result.error()));
  }
  impl.root = result.value_unsafe();
  impl.parsed = true;
  return Status::Ok();
}

Value Document::root() const {
  SURGE_ASSERT_MSG(impl_->parsed, "json::Document::root without a successful Parse");
  return Value(&impl_->root, &impl_->paths, 0, 0);
}

// ---- Value ---------------------------------------------------------------------------------

Value::Value(const void* element_storage, std::string* paths, uint32_t path_begin,
             uint32_t path_size)
    : valid_(true), paths_(paths), path_begin_(path_begin), path_size_(path_size) {
  static_assert(sizeof(element) == kElementBytes);
  static_assert(alignof(element) <= 8);
  std::memcpy(element_, element_storage, kElementBytes);
}

std::string_view Value::PathView() const {
  if (path_size_ == 0) return {};
  return std::string_view(*paths_).substr(path_begin_, path_size_);
}

std::string Value::path() const { return std::string(PathView()); }

std::string Value::DescribePath() const { return path_size_ == 0 ? std::string("body") : path(); }

Value Value::Child(const void* element_storage, std::string_view key) const {
  std::string& paths = *paths_;
  const size_t begin = paths.size();
  // Reserved first, so that the parent's path (in the same string) stays put while it is copied.
  paths.reserve(begin + path_size_ + 1 + key.size());
  paths.append(paths.data() + path_begin_, path_size_);
  if (path_size_ != 0) paths.push_back('.');
  paths.append(key);
  SURGE_ASSERT(paths.size() <= UINT32_MAX);
  return Value(element_storage, paths_, static_cast<uint32_t>(begin),
               static_cast<uint32_t>(paths.size() - begin));
}

Value Value::Child(const void* element_storage, size_t index) const {
  std::string& paths = *paths_;
  const size_t begin = paths.size();
  char digits[24];
  const auto printed = std::to_chars(digits, digits + sizeof digits, index);
  const auto digit_count = static_cast<size_t>(printed.ptr - digits);
  paths.reserve(begin + path_size_ + 2 + digit_count);
  paths.append(paths.data() + path_begin_, path_size_);
  paths.push_back('[');
  paths.append(digits, digit_count);
  paths.push_back(']');
  SURGE_ASSERT(paths.size() <= UINT32_MAX);
  return Value(element_storage, paths_, static_cast<uint32_t>(begin),
               static_cast<uint32_t>(paths.size() - begin));
}

bool Value::is_object() const { return valid_ && Load(element_).is_object(); }
bool Value::is_array() const { return valid_ && Load(element_).is_array(); }
bool Value::is_string() const { return valid_ && Load(element_).is_string(); }
bool Value::is_null() const { return valid_ && Load(element_).is_null(); }
bool Value::is_integer() const { return valid_ && Load(element_).type() == element_type::INT64; }

Result<Value> Value::Field(std::string_view key) const {
  SURGE_ASSERT(valid_);
  simdjson::dom::object object;
  if (Load(element_).get_object().get(object) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected an object");
  }
  element child;
  if (object.at_key(key).get(child) != simdjson::SUCCESS) {
    return BadField(ChildPath(PathView(), key) + " is required");
  }
  return Child(&child, key);
}

bool Value::Has(std::string_view key) const {
  SURGE_ASSERT(valid_);
  simdjson::dom::object object;
  if (Load(element_).get_object().get(object) != simdjson::SUCCESS) return false;
  element child;
  return object.at_key(key).get(child) == simdjson::SUCCESS;
}

Status Value::OnlyFields(std::initializer_list<std::string_view> allowed) const {
  SURGE_ASSERT(valid_);
  SURGE_ASSERT(allowed.size() <= 64);
  simdjson::dom::object object;
  if (Load(element_).get_object().get(object) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected an object");
  }
  uint64_t seen_bits = 0;
  for (const auto field : object) {
    size_t index = 0;
    for (const std::string_view name : allowed) {
      if (name == field.key) break;
      ++index;
    }
    const std::string_view key = field.key.substr(0, kKeyInMessageMax);
    if (index == allowed.size()) {
      std::string message = ChildPath(PathView(), key) + ": unknown field; expected ";
      if (allowed.size() == 0) message += "no fields";
      if (allowed.size() != 0) message += "one of ";
      size_t written = 0;
      for (const std::string_view name : allowed) {
        if (written++ > 0) message += ", ";
        message += name;
      }
      return BadField(std::move(message));
    }
    if ((seen_bits >> index & 1) != 0) {
      return BadField(ChildPath(PathView(), key) + ": duplicate field");
    }
    seen_bits |= 1ULL << index;
  }
  return Status::Ok();
}

Result<size_t> Value::ArraySize() const {
  SURGE_ASSERT(valid_);
  simdjson::dom::array array;
  if (Load(element_).get_array().get(array) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected an array");
  }
  return array.size();
}

Result<Value> Value::At(size_t index) const {
  SURGE_ASSERT(valid_);
  simdjson::dom::array array;
  if (Load(element_).get_array().get(array) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected an array");
  }
  element child;
  if (array.at(index).get(child) != simdjson::SUCCESS) {
    return BadField(std::string(PathView()) + "[" + std::to_string(index) + "] is required");
  }
  return Child(&child, index);
}

Result<std::string_view> Value::String() const {
  SURGE_ASSERT(valid_);
  std::string_view text;
  if (Load(element_).get_string().get(text) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected a string");
  }
  return text;
}

Result<std::string_view> Value::Id() const {
  SURGE_ASSERT(valid_);
  std::string_view text;
  if (Load(element_).get_string().get(text) != simdjson::SUCCESS || !IsValidId(text)) {
    return BadField(DescribePath() + ": expected an id of 1 to 64 characters from [A-Za-z0-9_.:-]");
  }
  return text;
}

Result<int64_t> Value::Int(int64_t minimum, int64_t maximum) const {
  SURGE_ASSERT(valid_);
  SURGE_ASSERT(minimum <= maximum);
  const element value = Load(element_);
  // Only the INT64 type is exact and in range: UINT64 is beyond int64, DOUBLE has a fraction or
  // an exponent (1.0 and 1e3 included: the API speaks integers, and so must its clients).
  if (value.type() == element_type::INT64) {
    const int64_t number = value.get_int64().value_unsafe();
    if (number >= minimum && number <= maximum) return number;
  }
  return BadField(DescribePath() + ": expected " + IntegerExpectation(minimum, maximum));
}

Result<double> Value::Number() const {
  SURGE_ASSERT(valid_);
  double number = 0;
  if (Load(element_).get_double().get(number) != simdjson::SUCCESS) {
    return BadField(DescribePath() + ": expected a number");
  }
  return number;
}

}  // namespace surge::json
