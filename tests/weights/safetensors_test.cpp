// safetensors reader/writer: a hand-built fixture (bytes written here, no Python), round trips,
// fp16/bf16 conversion, and hostile files — each must be an InvalidInput naming the file, the tensor
// and the byte offset, never a crash. The mutation loop at the end is a small in-process fuzzer.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

using Bytes = std::vector<std::uint8_t>;

// u64 little-endian header length, the header text, then the data area.
Bytes st_bytes(const std::string& header, const Bytes& data) {
  Bytes b;
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>((n >> (8 * i)) & 0xff));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void put_f32(Bytes& b, float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>((u >> (8 * i)) & 0xff));
}
void put_u16(Bytes& b, std::uint16_t u) {
  b.push_back(static_cast<std::uint8_t>(u & 0xff));
  b.push_back(static_cast<std::uint8_t>(u >> 8));
}

Tensor random_tensor(Shape s, std::uint64_t stream) {
  Tensor t(std::move(s));
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = 3.0f * normal01(11, stream, i);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         (a.data.empty() || std::memcmp(a.ptr(), b.ptr(), a.data.size() * sizeof(float)) == 0);
}

std::string temp_path(const std::string& stem) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() /
          (std::string("vramfit_") + info->name() + "_" + stem + "_" + std::to_string(::getpid())))
      .string();
}

// Expect InvalidInput whose message contains every fragment.
void expect_invalid(const Bytes& b, std::initializer_list<std::string> fragments) {
  try {
    (void)SafetensorsFile::from_bytes(b, "hostile.safetensors");
    ADD_FAILURE() << "accepted a hostile file; expected fragments: " << *fragments.begin();
  } catch (const InvalidInput& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("hostile.safetensors"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

// A tiny file with three dtypes and metadata, every byte written by hand.
Bytes fixture() {
  const std::string header =
      R"({"__metadata__":{"format":"pt","note":"hand-built"},)"
      R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"F16","shape":[5],"data_offsets":[24,34]},)"
      R"("c":{"dtype":"BF16","shape":[],"data_offsets":[34,36]},)"
      R"("d":{"dtype":"I64","shape":[1],"data_offsets":[36,44]},)"
      R"("e":{"dtype":"F32","shape":[0,7],"data_offsets":[44,44]}})";
  Bytes data;
  for (float f : {1.5f, -2.25f, 0.1f, 1e-30f, -0.0f, 65504.0f}) put_f32(data, f);
  // fp16: 1.0, -2.0, 1/3 (0x3555 = 0.333251953125), smallest subnormal 2^-24, +inf
  for (std::uint16_t h : {std::uint16_t{0x3c00}, std::uint16_t{0xc000}, std::uint16_t{0x3555}, std::uint16_t{0x0001},
                          std::uint16_t{0x7c00}})
    put_u16(data, h);
  put_u16(data, 0x4049);  // bf16 3.140625
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? 42 : 0);
  return st_bytes(header, data);
}

TEST(Safetensors, HandBuiltFixture) {
  const Bytes bytes = fixture();
  const std::uint64_t header_len = bytes.size() - 8 - 44;
  const SafetensorsFile f = SafetensorsFile::from_bytes(bytes, "fixture");
  EXPECT_EQ(f.path(), "fixture");
  ASSERT_EQ(f.entries().size(), 5u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "hand-built");

  const SafetensorsEntry* a = f.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, "F32");
  EXPECT_EQ(a->shape, (Shape{2, 3}));
  EXPECT_EQ(a->begin, 8 + header_len);
  EXPECT_EQ(a->end, 8 + header_len + 24);
  EXPECT_EQ(f.find("zzz"), nullptr);
  EXPECT_EQ(f.find(""), nullptr);

  const Tensor ta = f.read_f32("a");
  EXPECT_EQ(ta.shape, (Shape{2, 3}));
  const std::vector<float> want_a{1.5f, -2.25f, 0.1f, 1e-30f, -0.0f, 65504.0f};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(std::bit_cast<std::uint32_t>(ta.data[i]), std::bit_cast<std::uint32_t>(want_a[i]));

  const Tensor tb = f.read_f32("b");
  ASSERT_EQ(tb.data.size(), 5u);
  EXPECT_EQ(tb.data[0], 1.0f);
  EXPECT_EQ(tb.data[1], -2.0f);
  EXPECT_EQ(tb.data[2], 0.333251953125f);
  EXPECT_EQ(tb.data[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(tb.data[4]) && tb.data[4] > 0);

  const Tensor tc = f.read_f32("c");
  EXPECT_EQ(tc.shape.rank(), 0u);
  ASSERT_EQ(tc.data.size(), 1u);
  EXPECT_EQ(tc.data[0], 3.140625f);

  EXPECT_EQ(f.raw(*f.find("d")).size(), 8u);
  EXPECT_EQ(f.raw(*f.find("d"))[0], 42);
  EXPECT_THROW((void)f.read_f32("d"), Unsupported);
  try {
    (void)f.read_f32("d");
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("\"d\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("I64"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.read_f32("e").data.size(), 0u);
  EXPECT_THROW((void)f.read_f32("missing"), InvalidInput);
}

TEST(Safetensors, EntriesAreSortedAndFindable) {
  std::map<std::string, Tensor, std::less<>> m;
  for (int i = 0; i < 19; ++i)
    m.emplace("layer" + std::to_string(19 - i) + ".weight", random_tensor(Shape{i + 1}, static_cast<std::uint64_t>(i)));
  const std::string path = temp_path("sorted");
  write_safetensors_f32(path, m);
  const SafetensorsFile f = SafetensorsFile::open(path);
  ASSERT_EQ(f.entries().size(), 19u);
  for (const auto& [name, t] : m) {
    ASSERT_NE(f.find(name), nullptr) << name;
    EXPECT_TRUE(same_bits(f.read_f32(name), t)) << name;
  }
  std::filesystem::remove(path);
}

TEST(Safetensors, RoundTripOddShapesAndMetadata) {
  std::map<std::string, Tensor, std::less<>> m;
  m.emplace("conv.weight", random_tensor(Shape{7, 3, 3, 3}, 1));
  m.emplace("fc.bias", random_tensor(Shape{197}, 2));
  m.emplace("pos", random_tensor(Shape{1, 19, 7}, 3));
  m.emplace("scalar", random_tensor(Shape{}, 4));
  m.emplace("empty", Tensor(Shape{0, 19}));
  m.emplace("ünïcode.name", random_tensor(Shape{7}, 5));
  const std::map<std::string, std::string> meta{{"format", "vramfit-golden"}, {"version", "1"}, {"note", "λ"}};
  const std::string path = temp_path("rt");
  write_safetensors_f32(path, m, meta);

  // Header length is a multiple of 8 when added to its own 8 bytes, padded with spaces.
  std::ifstream in(path, std::ios::binary);
  Bytes raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | raw[static_cast<std::size_t>(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(raw[8], '{');

  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.metadata(), meta);
  ASSERT_EQ(f.entries().size(), m.size());
  for (const auto& [name, t] : m) {
    const SafetensorsEntry* e = f.find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->dtype, "F32");
    EXPECT_EQ(e->begin % 4, 0u) << "F32 data stays 4-byte aligned after the padded header";
    EXPECT_TRUE(same_bits(f.read_f32(name), t)) << name;
  }
  // The same bytes through from_bytes give the same view.
  const SafetensorsFile g = SafetensorsFile::from_bytes(raw, "copy");
  EXPECT_TRUE(same_bits(g.read_f32("fc.bias"), m.at("fc.bias")));
  std::filesystem::remove(path);
}

TEST(Safetensors, MovedFileKeepsItsMapping) {
  std::map<std::string, Tensor, std::less<>> m{{"w", random_tensor(Shape{19, 7}, 9)}};
  const std::string path = temp_path("move");
  write_safetensors_f32(path, m);
  SafetensorsFile a = SafetensorsFile::open(path);
  SafetensorsFile b = std::move(a);
  EXPECT_TRUE(same_bits(b.read_f32("w"), m.at("w")));
  std::filesystem::remove(path);
}

TEST(Safetensors, F16AndBF16ConvertLikeCoreHalf) {
  constexpr std::size_t n = 197;
  std::string header = R"({"h":{"dtype":"F16","shape":[197],"data_offsets":[0,394]},)"
                       R"("k":{"dtype":"BF16","shape":[197],"data_offsets":[394,788]}})";
  Bytes data;
  std::vector<float> want_h, want_b;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = 100.0f * normal01(3, 1, i);
    const std::uint16_t h = float_to_half_bits(x);
    put_u16(data, h);
    want_h.push_back(half_bits_to_float(h));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float x = 1e20f * normal01(3, 2, i);
    const std::uint16_t h = float_to_bf16_bits(x);
    put_u16(data, h);
    want_b.push_back(bf16_bits_to_float(h));
  }
  const SafetensorsFile f = SafetensorsFile::from_bytes(st_bytes(header, data), "halves");
  const Tensor h = f.read_f32("h"), k = f.read_f32("k");
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(h.data[i], want_h[i]) << i;
    ASSERT_EQ(k.data[i], want_b[i]) << i;
    // bf16 keeps fp32's exponent range: 1e20 survives, within bf16's 8-bit mantissa.
    EXPECT_NEAR(k.data[i], 1e20f * normal01(3, 2, i), std::fabs(1e20f * normal01(3, 2, i)) / 128.0f);
  }
}

TEST(Safetensors, OpenErrors) {
  EXPECT_THROW((void)SafetensorsFile::open("/nonexistent/dir/x.safetensors"), InvalidInput);
  EXPECT_THROW((void)SafetensorsFile::open(std::filesystem::temp_directory_path().string()), InvalidInput);
  const std::string path = temp_path("short");
  {
    std::ofstream out(path, std::ios::binary);
    out << "abc";
  }
  try {
    (void)SafetensorsFile::open(path);
    ADD_FAILURE() << "3-byte file accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
  }
  EXPECT_THROW((void)SafetensorsFile::open(path), InvalidInput);  // empty file
  std::filesystem::remove(path);
}

TEST(Safetensors, HostileHeaders) {
  const std::string ok_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const Bytes eight(8, 1);

  expect_invalid(Bytes{1, 2, 3}, {"8-byte header"});
  {  // header length far past the end (and past 100 MB)
    Bytes b = st_bytes("{}", {});
    b[5] = 0x10;
    expect_invalid(b, {"header length", "100 MB"});
  }
  {  // header length one past the end
    Bytes b = st_bytes("{" + ok_a + "}", eight);
    const std::uint64_t n = b.size() - 8 + 1;
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((n >> (8 * i)) & 0xff);
    expect_invalid(b, {"header length", "past the end", std::to_string(b.size())});
  }
  expect_invalid(st_bytes("", {}), {"JSON object"});
  expect_invalid(st_bytes("[1,2]", {}), {"JSON object"});
  expect_invalid(st_bytes("{\"a\":", {}), {"malformed"});
  expect_invalid(st_bytes("{\"a\":{\"dtype\":\"F32\",,}}", {}), {"malformed", "byte"});
  expect_invalid(st_bytes("{\"a\":1}", {}), {"\"a\"", "object"});
  expect_invalid(st_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", eight), {"\"a\"", "dtype"});
  expect_invalid(st_bytes(R"({"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", eight), {"\"a\"", "dtype"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "F33", "BF16"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", eight), {"\"a\"", "shape"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "shape[0]", "-2", "non-negative"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "shape[0]"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[1,"2"],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "shape[1]"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight), {"\"a\"", "shape"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", eight), {"\"a\"", "data_offsets"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight), {"\"a\"", "data_offsets"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", eight), {"\"a\"", "data_offsets"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight), {"\"a\"", "begin is after end"});
  // Offsets past the end of the file: the message names the tensor and the absolute byte.
  {
    const std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    expect_invalid(st_bytes(h, eight), {"\"a\"", "past the end", std::to_string(8 + h.size() + 16)});
  }
  // dtype × shape disagrees with the byte range.
  expect_invalid(st_bytes(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "needs 4 bytes", "span 8"});
  // numel × size overflows 64 bits.
  expect_invalid(
      st_bytes(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
      {"\"a\"", "overflows"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", eight),
                 {"\"a\"", "too large"});
  // Overlapping tensors, named both.
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          eight),
                 {"\"a\"", "\"b\"", "overlaps"});
  // A hole and trailing bytes break "entirely indexed".
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), {"unused bytes", "\"a\""});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight), {"after the last tensor"});
  // Metadata must map strings to strings.
  expect_invalid(st_bytes("{\"__metadata__\":{\"version\":1}," + ok_a + "}", eight), {"__metadata__", "version", "string"});
  expect_invalid(st_bytes("{\"__metadata__\":[\"x\"]," + ok_a + "}", eight), {"__metadata__"});
  expect_invalid(st_bytes("{\"__metadata__\":{\"a\":null}," + ok_a + "}", eight), {"__metadata__"});
  // Deep nesting must not exhaust the stack (parsing or destroying the JSON).
  expect_invalid(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":" + std::string(200000, '[') + std::string(200000, ']') +
                              ",\"data_offsets\":[0,8]}}",
                          eight),
                 {"\"a\"", "shape[0]"});
  expect_invalid(st_bytes("{\"a\":" + std::string(200000, '['), eight), {"malformed"});
  // Duplicate keys (a JSON object would silently keep the last).
  expect_invalid(st_bytes("{" + ok_a + "," + ok_a + "}", eight), {"\"a\"", "twice"});
}

TEST(Safetensors, WriteRejectsInconsistentTensors) {
  std::map<std::string, Tensor, std::less<>> m;
  m.emplace("bad", Tensor(Shape{7}, std::vector<float>(6, 1.0f)));
  EXPECT_THROW(write_safetensors_f32(temp_path("bad"), m), InvalidInput);
  std::map<std::string, Tensor, std::less<>> meta_name;
  meta_name.emplace("__metadata__", random_tensor(Shape{1}, 1));
  EXPECT_THROW(write_safetensors_f32(temp_path("meta"), meta_name), InvalidInput);
  EXPECT_THROW(write_safetensors_f32("/nonexistent/dir/x.safetensors", {}), InvalidInput);  // refused: no such folder
}

// Every truncation of a valid file and thousands of random byte edits must either parse into a
// self-consistent file or fail with InvalidInput — never another error type, never a crash.
TEST(Safetensors, TruncationsAndMutationsNeverCrash) {
  const Bytes good = fixture();
  for (std::size_t len = 0; len < good.size(); ++len) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_THROW((void)SafetensorsFile::from_bytes(cut, "cut"), InvalidInput) << "length " << len;
  }
  int parsed = 0, rejected = 0;
  for (std::uint64_t trial = 0; trial < 3000; ++trial) {
    Bytes b = good;
    const int edits = 1 + static_cast<int>(uniform01(5, trial, 0) * 3);
    for (int k = 0; k < edits; ++k) {
      const auto pos = static_cast<std::size_t>(uniform01(5, trial, 1 + 2 * k) * static_cast<float>(b.size()));
      b[std::min(pos, b.size() - 1)] = static_cast<std::uint8_t>(uniform01(5, trial, 2 + 2 * k) * 256.0f);
    }
    try {
      const SafetensorsFile f = SafetensorsFile::from_bytes(b, "mutant");
      ++parsed;
      for (const auto& e : f.entries()) {
        EXPECT_LE(e.end, b.size());
        if (e.dtype == "F32" || e.dtype == "F16" || e.dtype == "BF16") {
          EXPECT_EQ(f.read_f32(e.name).data.size(), static_cast<std::size_t>(e.shape.numel()));
        }
      }
    } catch (const InvalidInput&) {
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 0);    // edits to data bytes keep the file valid
  EXPECT_GT(rejected, 0);  // edits to the header break it
}

// Found by fuzz/safetensors_fuzz: a JSON number too large for any number type threw nlohmann's
// out_of_range (not a parse_error) past the reader; and an empty F32 tensor memcpy'd from a null
// pointer (undefined behaviour under UBSan).
TEST(Safetensors, FuzzRegressions) {
  expect_invalid(st_bytes(R"({"__metadata__":{"x":1e999999999999999999999}})", {}), {"header JSON", "byte 8"});
  expect_invalid(st_bytes(R"({"a":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,0]}})", {}),
                 {"shape[0]"});
  const SafetensorsFile f = SafetensorsFile::from_bytes(st_bytes(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", {}), "empty");
  EXPECT_TRUE(f.read_f32("e").data.empty());
}

}  // namespace
}  // namespace vramfit
