// NumPy .npy reader/writer (numpy.lib.format). NumPy reads the header with ast.literal_eval, so any
// Python literal spelling is valid; we parse the subset a dict of strings, booleans, integers and
// tuples needs, which covers every writer we know (numpy, cnpy, npyz), and reject the rest clearly.
#include "weights/npy.h"

#include "core/atomic_file.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/input_file.h"
#include "core/half.h"

namespace vramfit {

static_assert(std::endian::native == std::endian::little, "npy '<' data is read without byte swaps");

namespace {

constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kAlign = 64;  // numpy.lib.format.ARRAY_ALIGN: data starts on a 64-byte boundary

// A Python literal from the header: just enough kinds for the header dict.
struct Literal {
  enum class Kind { Str, Bool, Int, None, Tuple, List, Dict } kind = Kind::None;
  std::string str;
  bool boolean = false;
  std::int64_t integer = 0;
  std::vector<Literal> items;                          // Tuple, List
  std::vector<std::pair<std::string, Literal>> dict;  // Dict (string keys only)
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& label, std::size_t base)
      : s_(text), label_(label), base_(base) {}

  Literal parse_top() {
    Literal v = value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidInput(fmt::format("{}: npy header at byte {}: {} (header: {})", label_, base_ + i_, what,
                                   preview()));
  }
  std::string preview() const {
    std::string p(s_.substr(0, 120));
    for (char& c : p)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return p + (s_.size() > 120 ? "..." : "");
  }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    skip_ws();
    if (s_.substr(i_, w.size()) != w) return false;
    const std::size_t after = i_ + w.size();
    if (after < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[after])) || s_[after] == '_')) return false;
    i_ = after;
    return true;
  }

  Literal value(int depth) {
    if (depth > 8) fail("literal nested too deeply");
    skip_ws();
    if (i_ >= s_.size()) fail("header ends where a value was expected");
    Literal v;
    const char c = s_[i_];
    if (c == '\'' || c == '"') {
      v.kind = Literal::Kind::Str;
      v.str = string_lit();
    } else if (word("True")) {
      v.kind = Literal::Kind::Bool;
      v.boolean = true;
    } else if (word("False")) {
      v.kind = Literal::Kind::Bool;
    } else if (word("None")) {
      v.kind = Literal::Kind::None;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Literal::Kind::Int;
      v.integer = integer();
    } else if (c == '(' || c == '[') {
      ++i_;
      const char close = c == '(' ? ')' : ']';
      v.kind = c == '(' ? Literal::Kind::Tuple : Literal::Kind::List;
      bool comma = false;
      while (!eat(close)) {
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          if (!eat(close)) fail(fmt::format("expected ',' or '{}' in a sequence", close));
          break;
        }
        comma = true;
      }
      // In Python "(5)" is the integer 5, not a tuple: only a comma makes a one-element tuple.
      if (c == '(' && v.items.size() == 1 && !comma) return std::move(v.items.front());
    } else if (c == '{') {
      ++i_;
      v.kind = Literal::Kind::Dict;
      while (!eat('}')) {
        skip_ws();
        if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("dict keys must be strings");
        std::string key = string_lit();
        for (const auto& [k, unused] : v.dict)
          if (k == key) fail(fmt::format("key '{}' appears twice", key));
        if (!eat(':')) fail(fmt::format("expected ':' after key '{}'", key));
        v.dict.emplace_back(std::move(key), value(depth + 1));
        if (!eat(',')) {
          if (!eat('}')) fail("expected ',' or '}' in the dict");
          break;
        }
      }
    } else {
      fail(fmt::format("unexpected character '{}'", c));
    }
    return v;
  }

  std::string string_lit() {
    const char q = s_[i_++];
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail("escape sequences in header strings are not supported");
      out.push_back(s_[i_++]);
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }

  std::int64_t integer() {
    bool neg = false;
    if (s_[i_] == '-') {
      neg = true;
      ++i_;
    }
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') fail("expected digits");
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(s_[i_] - '0');
      if (v > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - digit) / 10)
        fail("integer too large");
      v = v * 10 + digit;
      ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long, as old files hold
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) fail("expected an integer");
    return neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
  }

  std::string_view s_;
  const std::string& label_;
  std::size_t base_;
  std::size_t i_ = 0;
};

std::uint32_t read_le(const std::uint8_t* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string shape_repr(const Shape& s) {
  if (s.rank() == 0) return "()";
  std::string r = "(";
  for (std::size_t i = 0; i < s.rank(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.rank() == 1 ? ",)" : ")");
}

}  // namespace

Tensor parse_npy(std::span<const std::uint8_t> bytes, const std::string& label) {
  const std::size_t size = bytes.size();
  if (size < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    throw InvalidInput(fmt::format("{}: not a NumPy .npy file (expected the magic \"\\x93NUMPY\" at byte 0{})",
                                   label, size < 10 ? fmt::format("; file is only {} bytes", size) : ""));
  const int major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    throw InvalidInput(fmt::format("{}: npy format version {}.{} at byte 6 is not supported (1.0, 2.0, 3.0 are)",
                                   label, major, minor));
  const int len_bytes = major == 1 ? 2 : 4;
  const std::size_t header_start = 8 + static_cast<std::size_t>(len_bytes);
  if (size < header_start)
    throw InvalidInput(fmt::format("{}: file is {} bytes, truncated inside the header length at byte 8", label, size));
  const std::uint64_t header_len = read_le(bytes.data() + 8, len_bytes);
  if (header_len > size - header_start)
    throw InvalidInput(fmt::format("{}: header length {} at byte 8 runs past the end of the file ({} bytes)", label,
                                   header_len, size));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_start),
                              static_cast<std::size_t>(header_len));
  const Literal top = HeaderParser(text, label, header_start).parse_top();
  if (top.kind != Literal::Kind::Dict)
    throw InvalidInput(fmt::format("{}: npy header at byte {} must be a dict", label, header_start));

  const Literal* descr = nullptr;
  const Literal* fortran = nullptr;
  const Literal* shape_lit = nullptr;
  for (const auto& [k, v] : top.dict) {
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape_lit = &v;
    else
      throw InvalidInput(fmt::format("{}: npy header has the unexpected key '{}' (expected descr, fortran_order, "
                                     "shape)",
                                     label, k));
  }
  if (!descr || !fortran || !shape_lit)
    throw InvalidInput(fmt::format("{}: npy header lacks '{}' (expected descr, fortran_order, shape)", label,
                                   !descr ? "descr" : !fortran ? "fortran_order" : "shape"));
  if (descr->kind != Literal::Kind::Str)
    throw Unsupported(fmt::format("{}: structured npy arrays are not supported; save a plain float32 or float16 "
                                  "array",
                                  label));
  std::size_t esize = 0;
  if (descr->str == "<f4") esize = 4;
  else if (descr->str == "<f2") esize = 2;
  else
    throw Unsupported(fmt::format("{}: npy dtype '{}' is not supported; expected '<f4' (float32) or '<f2' "
                                  "(float16), e.g. np.save(path, x.astype('<f4'))",
                                  label, descr->str));
  if (fortran->kind != Literal::Kind::Bool)
    throw InvalidInput(fmt::format("{}: npy 'fortran_order' must be True or False", label));
  if (shape_lit->kind != Literal::Kind::Tuple)
    throw InvalidInput(fmt::format("{}: npy 'shape' must be a tuple of non-negative integers", label));

  std::vector<std::int64_t> dims;
  std::uint64_t numel = 1;
  bool overflow = false, has_zero = false;
  for (const auto& d : shape_lit->items) {
    if (d.kind != Literal::Kind::Int || d.integer < 0)
      throw InvalidInput(fmt::format("{}: npy 'shape' must be a tuple of non-negative integers", label));
    const auto u = static_cast<std::uint64_t>(d.integer);
    if (u == 0) has_zero = true;
    else if (numel > std::numeric_limits<std::uint64_t>::max() / u) overflow = true;
    numel *= u;
    dims.push_back(d.integer);
  }
  const Shape shape(std::move(dims));
  const std::size_t data_start = header_start + static_cast<std::size_t>(header_len);
  const std::uint64_t data_size = size - data_start;
  if (!has_zero && (overflow || numel > data_size / esize))
    throw InvalidInput(fmt::format("{}: shape {} of '{}' needs more data than the {} bytes after byte {} "
                                   "(file truncated?)",
                                   label, shape.to_string(), descr->str, data_size, data_start));
  if (numel * esize != data_size)
    throw InvalidInput(fmt::format("{}: shape {} of '{}' is {} bytes but {} bytes follow the header at byte {}",
                                   label, shape.to_string(), descr->str, numel * esize, data_size, data_start));

  const std::uint8_t* p = bytes.data() + data_start;
  std::vector<float> flat(static_cast<std::size_t>(numel));
  if (esize == 4) {
    if (!flat.empty()) std::memcpy(flat.data(), p, flat.size() * sizeof(float));  // an empty tensor has no data pointer
  } else {
    for (std::size_t i = 0; i < flat.size(); ++i)
      flat[i] = half_bits_to_float(static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  }
  if (!fortran->boolean || shape.rank() < 2 || numel == 0) return Tensor(shape, std::move(flat));

  // Fortran order: the first index varies fastest. Walk the C-order index and gather.
  Tensor t(shape);
  const std::size_t rank = shape.rank();
  std::vector<std::uint64_t> fstride(rank, 1);
  for (std::size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * static_cast<std::uint64_t>(shape[k - 1]);
  std::vector<std::int64_t> idx(rank, 0);
  for (std::size_t c = 0; c < t.data.size(); ++c) {
    std::uint64_t f = 0;
    for (std::size_t k = 0; k < rank; ++k) f += static_cast<std::uint64_t>(idx[k]) * fstride[k];
    t.data[c] = flat[static_cast<std::size_t>(f)];
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return t;
}

Tensor read_npy(const std::string& path) {
  // Mapped rather than read: the array is copied once, into the tensor.
  const MappedInput m = MappedInput::map(path, ".npy file");
  if (m.size() > kMaxNpyBytes)
    throw InvalidInput(fmt::format("{}: {} bytes is more than the {} GiB a .npy input may hold; is this the right file?", path,
                                   m.size(), kMaxNpyBytes >> 30));
  return parse_npy(std::span<const std::uint8_t>(m.data(), static_cast<std::size_t>(m.size())), path);
}

std::vector<std::uint8_t> encode_npy(const Tensor& t) {
  for (auto d : t.shape.dims())
    if (d < 0) throw InvalidInput(fmt::format("npy: cannot write shape {} with a negative extent", t.shape.to_string()));
  if (static_cast<std::int64_t>(t.data.size()) != t.numel())
    throw InvalidInput(fmt::format("npy: tensor of shape {} ({} elements) holds {} values", t.shape.to_string(),
                                   t.numel(), t.data.size()));
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_repr(t.shape) + ", }";
  // Version 1.0 has a 16-bit header length; beyond it numpy's writer switches to 2.0 (4 bytes).
  int len_bytes = 2;
  auto padded = [&](int lb) {
    const std::size_t prefix = 8 + static_cast<std::size_t>(lb);
    std::size_t total = prefix + header.size() + 1;  // + '\n'
    total = (total + kAlign - 1) / kAlign * kAlign;
    return total - prefix;
  };
  std::size_t hlen = padded(2);
  if (hlen > 0xffff) {
    len_bytes = 4;
    hlen = padded(4);
  }
  header.resize(hlen - 1, ' ');
  header.push_back('\n');

  std::vector<std::uint8_t> out(kMagic, kMagic + 6);
  out.push_back(len_bytes == 2 ? 1 : 2);
  out.push_back(0);
  for (int i = 0; i < len_bytes; ++i) out.push_back(static_cast<std::uint8_t>((hlen >> (8 * i)) & 0xff));
  out.insert(out.end(), header.begin(), header.end());
  const std::size_t start = out.size();
  out.resize(start + t.data.size() * sizeof(float));
  if (!t.data.empty()) std::memcpy(out.data() + start, t.ptr(), t.data.size() * sizeof(float));
  return out;
}

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, encode_npy(t)); }

}  // namespace vramfit
