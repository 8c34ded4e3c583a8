// GGUF reader: metadata values and the bounds-checked parser (weights/gguf.h has the format; the
// type table is in gguf_types.cpp). Spec: ggml-org/ggml docs/gguf.md. The checks follow the spec's rules and what a
// hostile file could do to a reader: every count is bounded by the bytes left (a count of 2^60
// items needs at least that many bytes), every string ends inside the file, nesting is bounded so
// recursion cannot exhaust the stack, and products of extents are checked before they overflow.
#include "weights/gguf.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/input_file.h"
#include "weights/gguf_quant.h"

namespace vramfit {

static_assert(std::endian::native == std::endian::little,
              "GGUF files are read little-endian; a big-endian host would need byte swaps");

// ---------------------------------------------------------------------------------------------
// Values.
std::string_view to_string(GgufValueType t) {
  static constexpr std::string_view names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32",
                                               "f32", "bool",   "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < std::size(names) ? names[i] : std::string_view("unknown");
}

namespace {

// Bytes of one scalar of this type; 0 for string/array/unknown.
std::uint64_t scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UInt8: case GgufValueType::Int8: case GgufValueType::Bool: return 1;
    case GgufValueType::UInt16: case GgufValueType::Int16: return 2;
    case GgufValueType::UInt32: case GgufValueType::Int32: case GgufValueType::Float32: return 4;
    case GgufValueType::UInt64: case GgufValueType::Int64: case GgufValueType::Float64: return 8;
    default: return 0;
  }
}
bool known_value_type(std::uint32_t t) { return t <= 12; }

std::uint64_t load_le(const std::uint8_t* p, std::uint64_t n) {
  std::uint64_t v = 0;
  for (std::uint64_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// Arrays of arrays deeper than this are refused: recursion depth is bounded, whatever the file.
constexpr int kMaxArrayDepth = 16;
// The spec's limits: tensor names ≤ 64 bytes (GGML_MAX_NAME), keys ≤ 65535 bytes, ≤ 4 dims.
constexpr std::uint64_t kMaxTensorName = 64;
constexpr std::uint64_t kMaxKey = 65535;
constexpr std::uint32_t kMaxDims = 4;

}  // namespace

#define VRAMFIT_GGUF_SCALAR(fn, T, VT)                                                      \
  GgufValue GgufValue::fn(T v) {                                                            \
    GgufValue r;                                                                            \
    r.type_ = GgufValueType::VT;                                                            \
    std::uint64_t bits = 0;                                                                 \
    std::memcpy(&bits, &v, sizeof(T));                                                      \
    r.bits_ = bits;                                                                         \
    return r;                                                                               \
  }
VRAMFIT_GGUF_SCALAR(u8, std::uint8_t, UInt8)
VRAMFIT_GGUF_SCALAR(i8, std::int8_t, Int8)
VRAMFIT_GGUF_SCALAR(u16, std::uint16_t, UInt16)
VRAMFIT_GGUF_SCALAR(i16, std::int16_t, Int16)
VRAMFIT_GGUF_SCALAR(u32, std::uint32_t, UInt32)
VRAMFIT_GGUF_SCALAR(i32, std::int32_t, Int32)
VRAMFIT_GGUF_SCALAR(u64, std::uint64_t, UInt64)
VRAMFIT_GGUF_SCALAR(i64, std::int64_t, Int64)
VRAMFIT_GGUF_SCALAR(f32, float, Float32)
VRAMFIT_GGUF_SCALAR(f64, double, Float64)
#undef VRAMFIT_GGUF_SCALAR

GgufValue GgufValue::boolean(bool v) {
  GgufValue r;
  r.type_ = GgufValueType::Bool;
  r.bits_ = v ? 1 : 0;
  return r;
}
GgufValue GgufValue::string(std::string v) {
  GgufValue r;
  r.type_ = GgufValueType::String;
  r.str_ = std::move(v);
  return r;
}

GgufValue GgufValue::array(GgufValueType elem, const std::vector<GgufValue>& items) {
  GgufValue r;
  r.type_ = GgufValueType::Array;
  r.elem_ = elem;
  r.count_ = items.size();
  const std::uint64_t sb = scalar_bytes(elem);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].type() != elem)
      throw InvalidInput(fmt::format("GGUF array of {}: item {} is a {}", vramfit::to_string(elem), i, vramfit::to_string(items[i].type())));
    if (elem == GgufValueType::String) r.strings_.push_back(items[i].str_);
    else if (elem == GgufValueType::Array) r.arrays_.push_back(items[i]);
    else
      for (std::uint64_t b = 0; b < sb; ++b) r.raw_.push_back(static_cast<std::uint8_t>(items[i].bits_ >> (8 * b)));
  }
  return r;
}
GgufValue GgufValue::string_array(std::vector<std::string> items) {
  GgufValue r;
  r.type_ = GgufValueType::Array;
  r.elem_ = GgufValueType::String;
  r.count_ = items.size();
  r.strings_ = std::move(items);
  return r;
}
GgufValue GgufValue::f32_array(std::span<const float> items) {
  GgufValue r;
  r.type_ = GgufValueType::Array;
  r.elem_ = GgufValueType::Float32;
  r.count_ = items.size();
  r.raw_.resize(items.size() * 4);
  if (!items.empty()) std::memcpy(r.raw_.data(), items.data(), r.raw_.size());
  return r;
}
GgufValue GgufValue::i32_array(std::span<const std::int32_t> items) {
  GgufValue r;
  r.type_ = GgufValueType::Array;
  r.elem_ = GgufValueType::Int32;
  r.count_ = items.size();
  r.raw_.resize(items.size() * 4);
  if (!items.empty()) std::memcpy(r.raw_.data(), items.data(), r.raw_.size());
  return r;
}

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufValueType::UInt8: case GgufValueType::Int8: case GgufValueType::UInt16: case GgufValueType::Int16:
    case GgufValueType::UInt32: case GgufValueType::Int32: case GgufValueType::UInt64: case GgufValueType::Int64:
      return true;
    default: return false;
  }
}
bool GgufValue::is_float() const { return type_ == GgufValueType::Float32 || type_ == GgufValueType::Float64; }

std::optional<std::int64_t> GgufValue::as_int() const {
  switch (type_) {
    case GgufValueType::UInt8: case GgufValueType::UInt16: case GgufValueType::UInt32: return static_cast<std::int64_t>(bits_);
    case GgufValueType::Int8: return static_cast<std::int8_t>(bits_);
    case GgufValueType::Int16: return static_cast<std::int16_t>(bits_);
    case GgufValueType::Int32: return static_cast<std::int32_t>(bits_);
    case GgufValueType::Int64: return static_cast<std::int64_t>(bits_);
    case GgufValueType::UInt64:
      if (bits_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return static_cast<std::int64_t>(bits_);
    default: return std::nullopt;
  }
}
std::optional<std::uint64_t> GgufValue::as_uint() const {
  if (type_ == GgufValueType::UInt64) return bits_;
  const auto v = as_int();
  if (!v || *v < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}
std::optional<double> GgufValue::as_float() const {
  if (type_ == GgufValueType::Float32) return std::bit_cast<float>(static_cast<std::uint32_t>(bits_));
  if (type_ == GgufValueType::Float64) return std::bit_cast<double>(bits_);
  if (type_ == GgufValueType::UInt64) return static_cast<double>(bits_);
  if (const auto v = as_int()) return static_cast<double>(*v);
  return std::nullopt;
}
std::optional<bool> GgufValue::as_bool() const {
  if (type_ != GgufValueType::Bool) return std::nullopt;
  return bits_ != 0;
}
const std::string* GgufValue::as_string() const { return type_ == GgufValueType::String ? &str_ : nullptr; }

std::uint64_t GgufValue::size() const { return type_ == GgufValueType::Array ? count_ : 0; }

GgufValue GgufValue::at(std::uint64_t i) const {
  if (type_ != GgufValueType::Array) throw InvalidInput(fmt::format("GGUF value of type {} is not an array", vramfit::to_string(type_)));
  if (i >= count_) throw InvalidInput(fmt::format("GGUF array index {} out of range (size {})", i, count_));
  if (elem_ == GgufValueType::String) return string(strings_[static_cast<std::size_t>(i)]);
  if (elem_ == GgufValueType::Array) return arrays_[static_cast<std::size_t>(i)];
  const std::uint64_t sb = scalar_bytes(elem_);
  GgufValue r;
  r.type_ = elem_;
  r.bits_ = load_le(raw_.data() + i * sb, sb);
  return r;
}

std::string GgufValue::to_string() const {
  switch (type_) {
    case GgufValueType::String: return fmt::format("\"{}\"", str_);
    case GgufValueType::Bool: return bits_ ? "true" : "false";
    case GgufValueType::Float32: case GgufValueType::Float64: return fmt::format("{}", *as_float());
    case GgufValueType::UInt64: return fmt::format("{}", bits_);
    case GgufValueType::Array: {
      std::string s = "[";
      for (std::uint64_t i = 0; i < count_ && i < 8; ++i) s += (i ? ", " : "") + at(i).to_string();
      if (count_ > 8) s += fmt::format(", … ({} items)", count_);
      return s + "]";
    }
    default: return fmt::format("{}", *as_int());
  }
}

std::uint64_t GgufValue::encoded_bytes() const {
  if (type_ == GgufValueType::String) return 8 + str_.size();
  if (type_ != GgufValueType::Array) return scalar_bytes(type_);
  std::uint64_t n = 4 + 8 + raw_.size();
  for (const auto& s : strings_) n += 8 + s.size();
  for (const auto& a : arrays_) n += a.encoded_bytes();
  return n;
}

namespace {
void put_le(std::vector<std::uint8_t>& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_le(out, s.size(), 8);
  out.insert(out.end(), s.begin(), s.end());
}
}  // namespace

void GgufValue::encode(std::vector<std::uint8_t>& out) const {
  if (type_ == GgufValueType::String) return put_string(out, str_);
  if (type_ != GgufValueType::Array) return put_le(out, bits_, static_cast<int>(scalar_bytes(type_)));
  put_le(out, static_cast<std::uint32_t>(elem_), 4);
  put_le(out, count_, 8);
  out.insert(out.end(), raw_.begin(), raw_.end());
  for (const auto& s : strings_) put_string(out, s);
  for (const auto& a : arrays_) a.encode(out);
}

// ---------------------------------------------------------------------------------------------
// Tensor info helpers.
std::uint64_t GgufTensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto d : ne) n *= d;  // checked against overflow at parse time
  return n;
}
std::uint64_t GgufTensorInfo::rows() const { return ne.empty() || ne[0] == 0 ? 0 : numel() / ne[0]; }
Shape GgufTensorInfo::shape() const {
  std::vector<std::int64_t> d(ne.rbegin(), ne.rend());
  return Shape(std::move(d));
}

// ---------------------------------------------------------------------------------------------
// The parser: a cursor over [0, size) that names what it reads.
class GgufParser {
 public:
  GgufParser(const std::uint8_t* d, std::uint64_t size, const std::string& path) : d_(d), size_(size), path_(path) {}

  std::uint64_t pos() const { return pos_; }
  void seek(std::uint64_t p) { pos_ = p; }
  std::uint64_t left() const { return size_ - pos_; }

  [[noreturn]] void fail(std::uint64_t at, const std::string& field, const std::string& what) const {
    throw InvalidInput(fmt::format("{}: {} at byte {}: {}", path_, field, at, what));
  }
  void need(std::uint64_t n, const std::string& field) const {
    if (n > left())
      fail(pos_, field, fmt::format("needs {} bytes but the file ends after {} (file is {} bytes; truncated?)", n, left(), size_));
  }
  std::uint64_t uint(int n, const std::string& field) {
    need(static_cast<std::uint64_t>(n), field);
    const std::uint64_t v = load_le(d_ + pos_, static_cast<std::uint64_t>(n));
    pos_ += static_cast<std::uint64_t>(n);
    return v;
  }
  std::string string(const std::string& field, std::uint64_t max_len = std::numeric_limits<std::uint64_t>::max()) {
    const std::uint64_t at = pos_;
    const std::uint64_t n = uint(8, field + " length");
    if (n > max_len) fail(at, field, fmt::format("length {} exceeds the spec's limit of {} bytes", n, max_len));
    if (n > left())
      fail(at, field, fmt::format("string length {} runs past the end of the file ({} bytes left)", n, left()));
    std::string s(reinterpret_cast<const char*>(d_ + pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }

  // Smallest encoding of one value of type t (for bounding counts by the bytes left).
  static std::uint64_t min_bytes(GgufValueType t) {
    if (t == GgufValueType::String) return 8;
    if (t == GgufValueType::Array) return 12;
    return scalar_bytes(t);
  }

  GgufValueType value_type(const std::string& field) {
    const std::uint64_t at = pos_;
    const auto t = static_cast<std::uint32_t>(uint(4, field));
    if (!known_value_type(t)) fail(at, field, fmt::format("unknown value type {} (known: 0–12)", t));
    return static_cast<GgufValueType>(t);
  }

  GgufValue value(GgufValueType t, const std::string& field, int depth) {
    GgufValue v;
    v.type_ = t;
    if (t == GgufValueType::String) {
      v.str_ = string(field);
      return v;
    }
    if (t != GgufValueType::Array) {
      const std::uint64_t at = pos_;
      v.bits_ = uint(static_cast<int>(scalar_bytes(t)), field);
      if (t == GgufValueType::Bool && v.bits_ > 1) fail(at, field, fmt::format("bool value {} (the spec allows 0 or 1)", v.bits_));
      return v;
    }
    if (depth >= kMaxArrayDepth)
      fail(pos_, field, fmt::format("arrays nested more than {} deep", kMaxArrayDepth));
    v.elem_ = value_type(field + " element type");
    const std::uint64_t count_at = pos_;
    v.count_ = uint(8, field + " count");
    const std::uint64_t each = min_bytes(v.elem_);
    if (v.count_ > left() / each)
      fail(count_at, field + " count",
           fmt::format("{} items of {} need at least {} bytes each but only {} bytes are left", v.count_,
                       to_string(v.elem_), each, left()));
    if (v.elem_ == GgufValueType::String) {
      v.strings_.reserve(static_cast<std::size_t>(v.count_));
      for (std::uint64_t i = 0; i < v.count_; ++i) v.strings_.push_back(string(fmt::format("{}[{}]", field, i)));
    } else if (v.elem_ == GgufValueType::Array) {
      v.arrays_.reserve(static_cast<std::size_t>(v.count_));
      for (std::uint64_t i = 0; i < v.count_; ++i)
        v.arrays_.push_back(value(GgufValueType::Array, fmt::format("{}[{}]", field, i), depth + 1));
    } else {
      const std::uint64_t n = v.count_ * each;  // ≤ left(): checked above
      v.raw_.assign(d_ + pos_, d_ + pos_ + n);
      if (v.elem_ == GgufValueType::Bool)
        for (std::uint64_t i = 0; i < n; ++i)
          if (v.raw_[static_cast<std::size_t>(i)] > 1)
            fail(pos_ + i, fmt::format("{}[{}]", field, i), fmt::format("bool value {} (the spec allows 0 or 1)", v.raw_[static_cast<std::size_t>(i)]));
      pos_ += n;
    }
    return v;
  }

 private:
  const std::uint8_t* d_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
  const std::string& path_;
};

// ---------------------------------------------------------------------------------------------
// The file.
struct GgufFile::Mapping {
  const std::uint8_t* data = nullptr;
  std::uint64_t size = 0;
  MappedInput file;  // set when the bytes are a mapped file
  std::vector<std::uint8_t> owned;

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

std::uint64_t GgufFile::file_size() const { return map_ ? map_->size : 0; }

GgufFile GgufFile::open(const std::string& path) {
  GgufFile f;
  f.path_ = path;
  f.map_ = std::make_unique<Mapping>();
  f.map_->file = MappedInput::map(path, "GGUF file");
  if (f.map_->file.size() == 0)
    throw InvalidInput(fmt::format("{}: magic at byte 0: the file is empty (a GGUF file starts with \"GGUF\")", path));
  f.map_->data = f.map_->file.data();
  f.map_->size = f.map_->file.size();
  f.parse();
  return f;
}

GgufFile GgufFile::from_bytes(std::vector<std::uint8_t> bytes, std::string label) {
  GgufFile f;
  f.path_ = std::move(label);
  f.map_ = std::make_unique<Mapping>();
  f.map_->owned = std::move(bytes);
  f.map_->data = f.map_->owned.data();
  f.map_->size = f.map_->owned.size();
  f.parse();
  return f;
}

void GgufFile::parse() {
  GgufParser p(map_->data, map_->size, path_);

  // Header.
  p.need(4, "magic");
  if (std::memcmp(map_->data, "GGUF", 4) != 0) {
    std::string got;
    for (int i = 0; i < 4; ++i) {
      const auto c = map_->data[i];
      got += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
    }
    p.fail(0, "magic", fmt::format("\"{}\" is not \"GGUF\" (not a GGUF file)", got));
  }
  p.seek(4);
  version_ = static_cast<std::uint32_t>(p.uint(4, "version"));
  if (version_ != 2 && version_ != 3) {
    const std::uint32_t swapped = ((version_ & 0xffu) << 24) | ((version_ & 0xff00u) << 8) | ((version_ >> 8) & 0xff00u) | (version_ >> 24);
    if (swapped == 2 || swapped == 3)
      p.fail(4, "version", fmt::format("{} byte-swapped: a big-endian GGUF file, which this reader does not support", swapped));
    p.fail(4, "version", fmt::format("{} is not supported (versions 2 and 3 are; version 1 used 32-bit counts)", version_));
  }
  const std::uint64_t n_tensors_at = p.pos();
  const std::uint64_t n_tensors = p.uint(8, "tensor_count");
  const std::uint64_t n_kv_at = p.pos();
  const std::uint64_t n_kv = p.uint(8, "metadata_kv_count");
  // A key/value takes ≥ 13 bytes (key length, type, a 1-byte value), a tensor info ≥ 28 (name
  // length, n_dims, one extent... at least the 24 bytes of length, n_dims, type and offset).
  if (n_kv > p.left() / 13)
    p.fail(n_kv_at, "metadata_kv_count", fmt::format("{} key/values cannot fit in the {} bytes left", n_kv, p.left()));
  if (n_tensors > p.left() / 24)
    p.fail(n_tensors_at, "tensor_count", fmt::format("{} tensor infos cannot fit in the {} bytes left", n_tensors, p.left()));

  parse_metadata(p, n_kv);
  parse_tensor_infos(p, n_tensors);
  place_tensor_data(p);
}

// Key/values (no key twice) and general.alignment (a power of two, u32 as the spec requires).
void GgufFile::parse_metadata(GgufParser& p, std::uint64_t n_kv) {
  kv_.clear();
  kv_.reserve(static_cast<std::size_t>(n_kv));
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    GgufKeyValue kv;
    kv.file_offset = p.pos();
    kv.key = p.string(fmt::format("metadata key {}", i), kMaxKey);
    const std::string field = fmt::format("metadata \"{}\"", kv.key);
    const GgufValueType t = p.value_type(field + " type");
    kv.value = p.value(t, field, 0);
    kv_.push_back(std::move(kv));
  }
  kv_by_key_.resize(kv_.size());
  for (std::size_t i = 0; i < kv_.size(); ++i) kv_by_key_[i] = i;
  std::stable_sort(kv_by_key_.begin(), kv_by_key_.end(), [&](auto a, auto b) { return kv_[a].key < kv_[b].key; });
  for (std::size_t i = 1; i < kv_by_key_.size(); ++i)
    if (kv_[kv_by_key_[i]].key == kv_[kv_by_key_[i - 1]].key)
      p.fail(kv_[kv_by_key_[i]].file_offset, fmt::format("metadata \"{}\"", kv_[kv_by_key_[i]].key),
             fmt::format("duplicate key (first at byte {})", kv_[kv_by_key_[i - 1]].file_offset));


  alignment_ = 32;
  if (const GgufKeyValue* a = [&]() -> const GgufKeyValue* {
        for (const auto& kv : kv_)
          if (kv.key == "general.alignment") return &kv;
        return nullptr;
      }()) {
    if (a->value.type() != GgufValueType::UInt32)
      p.fail(a->file_offset, "metadata \"general.alignment\"",
             fmt::format("type {} (the spec requires u32)", to_string(a->value.type())));
    const std::uint64_t al = *a->value.as_uint();
    if (al == 0 || (al & (al - 1)) != 0)
      p.fail(a->file_offset, "metadata \"general.alignment\"", fmt::format("{} is not a power of two", al));
    alignment_ = al;
  }

}

// Tensor infos: name (no name twice), extents, ggml type (rows whole blocks), offset (aligned).
void GgufFile::parse_tensor_infos(GgufParser& p, std::uint64_t n_tensors) {
  tensors_.clear();
  tensors_.reserve(static_cast<std::size_t>(n_tensors));
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.info_offset = p.pos();
    t.name = p.string(fmt::format("tensor {} name", i), kMaxTensorName);
    const std::string field = fmt::format("tensor {} (\"{}\")", i, t.name);
    const std::uint64_t nd_at = p.pos();
    const auto n_dims = static_cast<std::uint32_t>(p.uint(4, field + " n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims)
      p.fail(nd_at, field + " n_dims", fmt::format("{} dimensions (1 to {} allowed)", n_dims, kMaxDims));
    std::uint64_t numel = 1;
    bool zero = false;
    for (std::uint32_t j = 0; j < n_dims; ++j) {
      const std::uint64_t at = p.pos();
      const std::uint64_t d = p.uint(8, fmt::format("{} ne[{}]", field, j));
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        p.fail(at, fmt::format("{} ne[{}]", field, j), fmt::format("extent {} exceeds INT64_MAX", d));
      if (d == 0) zero = true;
      else if (numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / d)
        p.fail(at, fmt::format("{} ne[{}]", field, j), "the element count overflows 63 bits");
      else numel *= d;
      t.ne.push_back(d);
    }
    (void)zero;
    const std::uint64_t type_at = p.pos();
    const auto type_id = static_cast<std::uint32_t>(p.uint(4, field + " type"));
    const GgmlTypeInfo* ti = ggml_type_info(type_id);
    if (!ti) p.fail(type_at, field + " type", fmt::format("unknown ggml type {}", type_id));
    t.type = ti->type;
    if (t.ne[0] % ti->block_elems != 0)
      p.fail(nd_at + 4, field + " ne[0]",
             fmt::format("row length {} is not a multiple of the {} block size {}", t.ne[0], ti->name, ti->block_elems));
    try {
      t.nbytes = ggml_nbytes(t.type, t.ne);
    } catch (const InvalidInput& e) {
      p.fail(nd_at + 4, field + " ne", e.what());
    }
    const std::uint64_t off_at = p.pos();
    t.offset = p.uint(8, field + " offset");
    if (t.offset % alignment_ != 0)
      p.fail(off_at, field + " offset", fmt::format("{} is not a multiple of the alignment {}", t.offset, alignment_));
    tensors_.push_back(std::move(t));
    (void)off_at;
  }
  tensors_by_name_.resize(tensors_.size());
  for (std::size_t i = 0; i < tensors_.size(); ++i) tensors_by_name_[i] = i;
  std::stable_sort(tensors_by_name_.begin(), tensors_by_name_.end(),
                   [&](auto a, auto b) { return tensors_[a].name < tensors_[b].name; });
  for (std::size_t i = 1; i < tensors_by_name_.size(); ++i)
    if (tensors_[tensors_by_name_[i]].name == tensors_[tensors_by_name_[i - 1]].name)
      p.fail(tensors_[tensors_by_name_[i]].info_offset, fmt::format("tensor \"{}\"", tensors_[tensors_by_name_[i]].name),
             fmt::format("duplicate tensor name (first at byte {})", tensors_[tensors_by_name_[i - 1]].info_offset));

}

// Each tensor's bytes inside the file, after the data section's start, and no two sharing bytes.
void GgufFile::place_tensor_data(GgufParser& p) {
  const std::uint64_t size = map_->size;
  // The data section starts at the next multiple of the alignment (alignment ≤ 2^32, pos < 2^64 − 2^32
  // for any real mapping, so this cannot wrap).
  const std::uint64_t end_of_infos = p.pos();
  data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
  for (auto& t : tensors_) {
    const std::string field = fmt::format("tensor \"{}\" data", t.name);
    if (t.nbytes == 0) {
      t.file_offset = std::min(data_offset_ + std::min(t.offset, size), size);
      continue;
    }
    if (data_offset_ > size || t.offset > size - data_offset_ || t.nbytes > size - data_offset_ - t.offset)
      p.fail(t.info_offset, field,
             fmt::format("offset {} + {} bytes ({} {}) from the data section at byte {} runs past the end of the file "
                         "({} bytes)",
                         t.offset, t.nbytes, to_string(t.type), t.shape().to_string(), data_offset_, size));
    t.file_offset = data_offset_ + t.offset;
  }
  // No two tensors may share bytes.
  std::vector<const GgufTensorInfo*> by_off;
  for (const auto& t : tensors_)
    if (t.nbytes > 0) by_off.push_back(&t);
  std::stable_sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->file_offset < b->file_offset; });
  for (std::size_t i = 1; i < by_off.size(); ++i) {
    const auto* prev = by_off[i - 1];
    const auto* cur = by_off[i];
    if (cur->file_offset < prev->file_offset + prev->nbytes)
      p.fail(cur->info_offset, fmt::format("tensor \"{}\" offset", cur->name),
             fmt::format("its bytes {}..{} overlap tensor \"{}\" (bytes {}..{})", cur->file_offset,
                         cur->file_offset + cur->nbytes, prev->name, prev->file_offset, prev->file_offset + prev->nbytes));
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = std::lower_bound(kv_by_key_.begin(), kv_by_key_.end(), key,
                                   [&](std::size_t i, std::string_view k) { return kv_[i].key < k; });
  return it != kv_by_key_.end() && kv_[*it].key == key ? &kv_[*it].value : nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = std::lower_bound(tensors_by_name_.begin(), tensors_by_name_.end(), name,
                                   [&](std::size_t i, std::string_view n) { return tensors_[i].name < n; });
  return it != tensors_by_name_.end() && tensors_[*it].name == name ? &tensors_[*it] : nullptr;
}

std::span<const std::uint8_t> GgufFile::bytes(const GgufTensorInfo& t) const {
  VRAMFIT_CHECK(map_ && t.file_offset <= map_->size && t.nbytes <= map_->size - t.file_offset, "tensor inside this file");
  return {map_->data + t.file_offset, static_cast<std::size_t>(t.nbytes)};
}

Tensor GgufFile::read_f32(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) throw InvalidInput(fmt::format("{}: no tensor named \"{}\"", path_, name));
  if (!ggml_type_supported(t->type))
    throw Unsupported(fmt::format("{}: tensor \"{}\" has type {}, which vramfit cannot dequantize (supported: F32, F16, "
                                  "BF16, Q8_0, Q4_0, Q4_K, Q6_K)",
                                  path_, name, to_string(t->type)));
  Tensor out(t->shape());
  gguf_dequantize(t->type, bytes(*t), out.span());
  return out;
}

}  // namespace vramfit
