// safetensors reader and writer. Format: huggingface/safetensors README ("Format") and the Rust
// reference (safetensors/src/tensor.rs, `SafeTensors::read_metadata`, `Metadata::validate`), whose
// checks we follow: header length ≤ 100 MB, header is a JSON object, offsets inside the byte buffer,
// the buffer "entirely indexed and without holes" (it prevents polyglot files), no duplicate keys.
#include "weights/safetensors.h"

#include "core/atomic_file.h"


#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/input_file.h"
#include "core/half.h"

namespace vramfit {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; a big-endian host would need byte swaps");

namespace {

using json = nlohmann::json;

// The Rust reference's MAX_HEADER_SIZE: a header this large is hostile, not a model.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeSize {
  std::string_view name;
  std::uint64_t bytes;
};
// The spec's Dtype enum (byte-sized and wider types; sub-byte F4/F6 are not accepted).
constexpr DtypeSize kDtypes[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
    {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},  {"F32", 4},     {"I64", 8},   {"U64", 8},
    {"F64", 8}};

std::uint64_t dtype_bytes(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return d.bytes;
  return 0;
}

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) {
    if (!s.empty()) s += ' ';
    s += d.name;
  }
  return s;
}

// A value for an error message. Containers are named, not dumped: dump() recurses, and a hostile
// header can nest arrays deeply enough to exhaust the stack.
std::string short_dump(const json& j) {
  if (j.is_structured()) return j.is_array() ? fmt::format("an array of {}", j.size()) : "an object";
  std::string s = j.dump(-1, ' ', true, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

// Either an mmap of a file or an owned buffer (from_bytes).
struct SafetensorsFile::Mapping {
  const std::uint8_t* data = nullptr;
  std::uint64_t size = 0;
  MappedInput file;  // set when the bytes are a mapped file
  std::vector<std::uint8_t> owned;

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  f.map_ = std::make_unique<Mapping>();
  f.map_->file = MappedInput::map(path, "safetensors file");
  const auto size = f.map_->file.size();
  if (size < 8)
    throw InvalidInput(fmt::format("{}: file is {} bytes, shorter than the 8-byte header length that "
                                   "starts a safetensors file",
                                   path, size));
  f.map_->data = f.map_->file.data();
  f.map_->size = size;
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<std::uint8_t> bytes, std::string label) {
  SafetensorsFile f;
  f.path_ = std::move(label);
  f.map_ = std::make_unique<Mapping>();
  f.map_->owned = std::move(bytes);
  f.map_->data = f.map_->owned.data();
  f.map_->size = f.map_->owned.size();
  if (f.map_->size < 8)
    throw InvalidInput(fmt::format("{}: buffer is {} bytes, shorter than the 8-byte header length that "
                                   "starts a safetensors file",
                                   f.path_, f.map_->size));
  f.parse();
  return f;
}

void SafetensorsFile::parse() {
  const std::uint8_t* d = map_->data;
  const std::uint64_t size = map_->size;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | d[i];  // little-endian u64 (spec)
  if (n > kMaxHeaderBytes)
    throw InvalidInput(fmt::format("{}: header length {} at byte 0 exceeds the 100 MB limit of the "
                                   "safetensors reference reader",
                                   path_, n));
  if (n > size - 8)
    throw InvalidInput(fmt::format("{}: header length {} at byte 0 runs past the end of the file "
                                   "({} bytes, so at most {} bytes of header)",
                                   path_, n, size, size - 8));
  const std::uint64_t data_start = 8 + n;
  const std::uint64_t data_size = size - data_start;
  const char* hb = reinterpret_cast<const char*>(d + 8);
  if (n == 0 || hb[0] != '{')
    throw InvalidInput(fmt::format("{}: header at byte 8 must be a JSON object starting with '{{'", path_));

  // Duplicate top-level keys are disallowed by the spec, but a JSON object silently keeps the last,
  // so they are counted while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (depth == 1 && ev == json::parse_event_t::key && parsed.is_string()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(hb, hb + n, cb);
  } catch (const json::parse_error& e) {
    throw InvalidInput(fmt::format("{}: header JSON is malformed near byte {}: {}", path_,
                                   8 + (e.byte > 0 ? e.byte - 1 : 0), e.what()));
  } catch (const json::exception& e) {
    // Not only syntax: a number too large for any JSON number type (out_of_range.406; found by
    // fuzz/safetensors_fuzz) or invalid UTF-8 escapes are the file's fault too.
    throw InvalidInput(fmt::format("{}: header JSON at byte 8 is invalid: {}", path_, e.what()));
  }
  if (!header.is_object())
    throw InvalidInput(fmt::format("{}: header at byte 8 must be a JSON object, got {}", path_, header.type_name()));
  if (!duplicate.empty())
    throw InvalidInput(fmt::format("{}: header has the key \"{}\" twice (the spec disallows duplicates)",
                                   path_, duplicate));

  entries_.clear();
  metadata_.clear();
  for (const auto& item : header.items()) {
    // Named, not a structured binding: the lambda below captures the name, which clang < 16 cannot
    // do with a binding (the fuzz build uses clang).
    const std::string& name = item.key();
    const json& v = item.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        throw InvalidInput(fmt::format("{}: __metadata__ must be an object of strings, got {}", path_, v.type_name()));
      for (const auto& [k, mv] : v.items()) {
        if (!mv.is_string())
          throw InvalidInput(fmt::format("{}: __metadata__[\"{}\"] must be a string, got {} ({})", path_, k,
                                         mv.type_name(), short_dump(mv)));
        metadata_.emplace(k, mv.get<std::string>());
      }
      continue;
    }
    const auto bad = [&](const std::string& what) {
      return InvalidInput(fmt::format("{}: tensor \"{}\": {}", path_, name, what));
    };
    if (!v.is_object()) throw bad(fmt::format("entry must be an object, got {}", v.type_name()));
    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw bad("\"dtype\" must be a string");
    const std::string dtype = dt->get<std::string>();
    const std::uint64_t esize = dtype_bytes(dtype);
    if (esize == 0) throw bad(fmt::format("unknown dtype \"{}\" (known: {})", dtype, known_dtypes()));

    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw bad("\"shape\" must be an array of non-negative integers");
    std::vector<std::int64_t> dims;
    std::uint64_t numel = 1;
    bool overflow = false, has_zero = false;
    for (std::size_t i = 0; i < sh->size(); ++i) {
      const json& x = (*sh)[i];
      if (!x.is_number_unsigned())  // negatives parse as signed, fractions and huge values as float
        throw bad(fmt::format("shape[{}] = {} must be a non-negative integer", i, short_dump(x)));
      const auto dim = x.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw bad(fmt::format("shape[{}] = {} is too large", i, dim));
      dims.push_back(static_cast<std::int64_t>(dim));
      if (dim == 0) has_zero = true;
      else if (numel > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
      numel *= dim;
    }
    Shape shape(std::move(dims));
    // A zero extent makes the tensor empty whatever the other extents, so only then is the product
    // exempt from the overflow check.
    if (!has_zero && (overflow || numel > std::numeric_limits<std::uint64_t>::max() / esize))
      throw bad(fmt::format("shape {} × {} bytes overflows 64 bits", shape.to_string(), esize));
    const std::uint64_t nbytes = numel * esize;

    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw bad(fmt::format("\"data_offsets\" must be [begin, end] of non-negative integers, got {}",
                            off == v.end() ? std::string("nothing") : short_dump(*off)));
    const auto b = (*off)[0].get<std::uint64_t>();
    const auto e = (*off)[1].get<std::uint64_t>();
    if (b > e) throw bad(fmt::format("data_offsets [{}, {}]: begin is after end", b, e));
    if (e > data_size)
      throw bad(fmt::format("data_offsets [{}, {}] end at file byte {} past the end of the file ({} bytes; "
                            "data area is {} bytes from byte {})",
                            b, e, data_start + e, size, data_size, data_start));
    if (e - b != nbytes)
      throw bad(fmt::format("dtype {} shape {} needs {} bytes but data_offsets [{}, {}] span {} (at file byte {})",
                            dtype, shape.to_string(), nbytes, b, e, e - b, data_start + b));
    entries_.push_back(SafetensorsEntry{name, dtype, std::move(shape), data_start + b, data_start + e});
  }

  // Tensors must tile the data area exactly: no overlap, no hole, nothing after the last one.
  std::vector<const SafetensorsEntry*> by_offset;
  by_offset.reserve(entries_.size());
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t pos = data_start;
  const SafetensorsEntry* prev = nullptr;
  for (const auto* e : by_offset) {
    if (e->begin < pos)
      throw InvalidInput(fmt::format("{}: tensor \"{}\" (file bytes {}..{}) overlaps tensor \"{}\" (file bytes "
                                     "{}..{})",
                                     path_, e->name, e->begin, e->end, prev->name, prev->begin, prev->end));
    if (e->begin > pos)
      throw InvalidInput(fmt::format("{}: {} unused bytes at file byte {} before tensor \"{}\" (the spec "
                                     "requires the data area to be fully indexed, without holes)",
                                     path_, e->begin - pos, pos, e->name));
    pos = e->end;
    prev = e;
  }
  if (pos != size)
    throw InvalidInput(fmt::format("{}: {} bytes after the last tensor, from file byte {} (the spec requires "
                                   "the data area to be fully indexed)",
                                   path_, size - pos, pos));
  // Entries by name (the JSON object's order), so find() can bisect.
  VRAMFIT_CHECK(std::is_sorted(entries_.begin(), entries_.end(),
                               [](const auto& a, const auto& b) { return a.name < b.name; }),
                "safetensors entries sorted by name");
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const SafetensorsEntry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

std::span<const std::uint8_t> SafetensorsFile::raw(const SafetensorsEntry& e) const {
  VRAMFIT_CHECK(map_ && e.begin <= e.end && e.end <= map_->size, "entry inside this file");
  return {map_->data + e.begin, static_cast<std::size_t>(e.end - e.begin)};
}

Tensor SafetensorsFile::read_f32(std::string_view name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw InvalidInput(fmt::format("{}: no tensor named \"{}\"", path_, name));
  const auto bytes = raw(*e);
  Tensor t(e->shape);
  float* out = t.ptr();
  const std::size_t n = t.data.size();
  if (e->dtype == "F32") {
    if (n) std::memcpy(out, bytes.data(), n * sizeof(float));  // memcpy: offsets need not be aligned; n = 0: no null pointers
  } else if (e->dtype == "F16" || e->dtype == "BF16") {
    const bool f16 = e->dtype == "F16";
    for (std::size_t i = 0; i < n; ++i) {
      const auto h = static_cast<std::uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
      out[i] = f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
    }
  } else {
    throw Unsupported(fmt::format("{}: tensor \"{}\" has dtype {}; only F32, F16 and BF16 can be read as fp32",
                                  path_, name, e->dtype));
  }
  return t;
}

void write_safetensors_f32(const std::string& path, const std::map<std::string, Tensor, std::less<>>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw InvalidInput(fmt::format("{}: cannot write a tensor named \"{}\"", path, name));
    for (auto dim : t.shape.dims())
      if (dim < 0) throw InvalidInput(fmt::format("{}: tensor \"{}\" has a negative extent in {}", path, name,
                                                  t.shape.to_string()));
    if (static_cast<std::int64_t>(t.data.size()) != t.numel())
      throw InvalidInput(fmt::format("{}: tensor \"{}\" has shape {} ({} elements) but {} values", path, name,
                                     t.shape.to_string(), t.numel(), t.data.size()));
    const std::uint64_t nbytes = t.data.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape.dims()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error& e) {
    throw InvalidInput(fmt::format("{}: a tensor name or metadata string is not valid UTF-8: {}", path, e.what()));
  }
  // Pad with spaces so the data area starts 8-byte aligned (the spec allows trailing whitespace).
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');

  std::vector<std::uint8_t> bytes(8 + text.size() + offset);
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i, n >>= 8) bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n & 0xffu);
  std::memcpy(bytes.data() + 8, text.data(), text.size());
  std::size_t at = 8 + text.size();
  for (const auto& [name, t] : tensors) {
    if (!t.data.empty()) std::memcpy(bytes.data() + at, t.ptr(), t.data.size() * sizeof(float));  // no null source for an empty tensor
    at += t.data.size() * sizeof(float);
  }
  write_file_atomic(path, bytes);
}

}  // namespace vramfit
