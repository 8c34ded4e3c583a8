// GGUF reader/writer/quantizers without Python: a header whose bytes are written here by hand,
// blocks dequantized by hand from the spec's layouts, writer round trips with every value type,
// quantization error bounds, the Q4_K_M mix and its size for Llama-2-7B, the RoPE row order (checked
// by running both RoPE conventions), the llama mapping, and hostile files — each an InvalidInput
// naming the file, the field and the byte offset, never a crash. gguf_python_test.cpp checks the
// same code against the gguf Python package.
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"

namespace vramfit {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put(Bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& b, std::string_view s) {
  put(b, s.size(), 8);
  b.insert(b.end(), s.begin(), s.end());
}
void put_f32(Bytes& b, float f) { put(b, std::bit_cast<std::uint32_t>(f), 4); }

std::vector<float> randn(std::size_t n, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * normal01(7, stream, i);
  return v;
}

std::string temp_path(const std::string& stem) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() /
          (std::string("vramfit_") + info->name() + "_" + stem + "_" + std::to_string(::getpid()) + ".gguf"))
      .string();
}

void expect_invalid(const Bytes& b, std::initializer_list<std::string> fragments) {
  try {
    (void)GgufFile::from_bytes(b, "hostile.gguf");
    ADD_FAILURE() << "accepted a hostile file; expected: " << *fragments.begin();
  } catch (const InvalidInput& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("hostile.gguf"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

// A file built byte by byte from the spec: 2 key/values, 1 F32 tensor [2, 3] (ne = {3, 2}).
Bytes hand_built(std::uint32_t version = 3) {
  Bytes b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  put(b, version, 4);
  put(b, 1, 8);  // tensors
  put(b, 2, 8);  // kvs
  put_str(b, "general.architecture");
  put(b, 8, 4);
  put_str(b, "llama");
  put_str(b, "x.list");
  put(b, 9, 4);
  put(b, 5, 4);  // i32
  put(b, 3, 8);
  for (std::int32_t v : {-1, 0, 7}) put(b, static_cast<std::uint32_t>(v), 4);
  put_str(b, "w");
  put(b, 2, 4);
  put(b, 3, 8);
  put(b, 2, 8);
  put(b, 0, 4);  // F32
  put(b, 0, 8);  // offset
  while (b.size() % 32) b.push_back(0);
  for (float f : {1.f, 2.f, 3.f, -4.f, 5.5f, 6.f}) put_f32(b, f);
  return b;
}

TEST(Gguf, HandBuiltFile) {
  for (std::uint32_t version : {2u, 3u}) {
    const Bytes bytes = hand_built(version);
    const GgufFile f = GgufFile::from_bytes(bytes, "hand.gguf");
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.alignment(), 32u);
    ASSERT_EQ(f.metadata().size(), 2u);
    EXPECT_EQ(*f.find("general.architecture")->as_string(), "llama");
    const GgufValue* list = f.find("x.list");
    ASSERT_NE(list, nullptr);
    EXPECT_EQ(list->element_type(), GgufValueType::Int32);
    ASSERT_EQ(list->size(), 3u);
    EXPECT_EQ(*list->at(0).as_int(), -1);
    EXPECT_EQ(*list->at(2).as_int(), 7);
    EXPECT_EQ(list->to_string(), "[-1, 0, 7]");
    ASSERT_EQ(f.tensors().size(), 1u);
    const GgufTensorInfo& t = f.tensors()[0];
    EXPECT_EQ(t.name, "w");
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.nbytes, 24u);
    EXPECT_EQ(t.file_offset, f.data_offset());
    EXPECT_EQ(f.data_offset() % 32, 0u);
    const Tensor w = f.read_f32("w");
    EXPECT_EQ(w.data, (std::vector<float>{1.f, 2.f, 3.f, -4.f, 5.5f, 6.f}));
    EXPECT_EQ(f.find("nope"), nullptr);
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
  }
}

// ---- blocks by hand ----

TEST(GgufBlocks, Q8_0ByHand) {
  Bytes b;
  put(b, float_to_half_bits(0.5f), 2);
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(j - 16)));
  const auto y = gguf_dequantize(GgmlType::Q8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[static_cast<std::size_t>(j)], 0.5f * static_cast<float>(j - 16));
}

TEST(GgufBlocks, Q4_0ByHandLowNibblesFirstHalf) {
  Bytes b;
  put(b, float_to_half_bits(2.0f), 2);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<std::uint8_t>((j & 15) | ((15 - j) << 4)));
  const auto y = gguf_dequantize(GgmlType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[static_cast<std::size_t>(j)], 2.0f * static_cast<float>(j - 8)) << j;
    EXPECT_EQ(y[static_cast<std::size_t>(j + 16)], 2.0f * static_cast<float>(15 - j - 8)) << j;
  }
}

TEST(GgufBlocks, Q4_KByHandScalePacking) {
  // Sub-block s gets scale 10+s (s<4) / 40+s (s≥4, needing the high bits) and min 3+s / 50+s.
  int sc[8], mn[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = s < 4 ? 10 + s : 40 + s;
    mn[s] = s < 4 ? 3 + s : 50 + s;
  }
  Bytes b;
  put(b, float_to_half_bits(0.25f), 2);
  put(b, float_to_half_bits(0.125f), 2);
  std::uint8_t scales[12];
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<std::uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (std::uint8_t s : scales) b.push_back(s);
  for (int i = 0; i < 128; ++i) b.push_back(static_cast<std::uint8_t>((i % 16) | (((i * 7) % 16) << 4)));
  const auto y = gguf_dequantize(GgmlType::Q4_K, b, 256);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int i = 32 * c + l;
      const int s0 = 2 * c, s1 = 2 * c + 1;
      EXPECT_FLOAT_EQ(y[static_cast<std::size_t>(64 * c + l)], 0.25f * static_cast<float>(sc[s0]) * static_cast<float>(i % 16) - 0.125f * static_cast<float>(mn[s0]));
      EXPECT_FLOAT_EQ(y[static_cast<std::size_t>(64 * c + 32 + l)],
                      0.25f * static_cast<float>(sc[s1]) * static_cast<float>((i * 7) % 16) - 0.125f * static_cast<float>(mn[s1]));
    }
}

TEST(GgufBlocks, Q6_KByHand) {
  // q(e) = e % 64 for every element, scales[s] = s − 8, d = 0.5: x(e) = 0.5·(s−8)·(e%64 − 32).
  std::vector<int> q(256);
  for (int e = 0; e < 256; ++e) q[static_cast<std::size_t>(e)] = e % 64;
  Bytes b(210, 0);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * h;
      auto Q = [&](int k) { return q[static_cast<std::size_t>(base + l + 32 * k)]; };
      b[static_cast<std::size_t>(64 * h + l)] = static_cast<std::uint8_t>((Q(0) & 15) | ((Q(2) & 15) << 4));
      b[static_cast<std::size_t>(64 * h + l + 32)] = static_cast<std::uint8_t>((Q(1) & 15) | ((Q(3) & 15) << 4));
      b[static_cast<std::size_t>(128 + 32 * h + l)] =
          static_cast<std::uint8_t>((Q(0) >> 4) | ((Q(1) >> 4) << 2) | ((Q(2) >> 4) << 4) | ((Q(3) >> 4) << 6));
    }
  for (int s = 0; s < 16; ++s) b[static_cast<std::size_t>(192 + s)] = static_cast<std::uint8_t>(static_cast<std::int8_t>(s - 8));
  const std::uint16_t d = float_to_half_bits(0.5f);
  b[208] = static_cast<std::uint8_t>(d & 0xff);
  b[209] = static_cast<std::uint8_t>(d >> 8);
  const auto y = gguf_dequantize(GgmlType::Q6_K, b, 256);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[static_cast<std::size_t>(e)], 0.5f * static_cast<float>(e / 16 - 8) * static_cast<float>(e % 64 - 32)) << e;
}

// ---- quantizers ----

double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  return relative_l2(a, ref);
}

TEST(GgufQuant, RoundTripErrorByType) {
  // Gaussian rows with an outlier per 1000 (real weights have them), 11 rows of 512.
  auto x = randn(11 * 512, 1);
  for (std::size_t i = 0; i < x.size(); i += 997) x[i] *= 8.0f;
  struct Case {
    GgmlType t;
    double max_rel;
  };
  // Expected relative L2 error for 4.5-bit (Q4_0), 4.5-bit with mins (Q4_K), 6.6-bit (Q6_K) and
  // 8.5-bit (Q8_0) codes on Gaussian data: ~0.1, ~0.08, ~0.02, ~0.005; bounds with margin.
  std::map<GgmlType, double> err;
  for (Case c : {Case{GgmlType::F32, 0.0}, Case{GgmlType::F16, 1e-3}, Case{GgmlType::BF16, 5e-3}, Case{GgmlType::Q8_0, 0.01},
                 Case{GgmlType::Q6_K, 0.04}, Case{GgmlType::Q4_K, 0.12}, Case{GgmlType::Q4_0, 0.15}}) {
    const auto q = gguf_quantize(c.t, x);
    EXPECT_EQ(q.size(), ggml_nbytes(c.t, std::vector<std::uint64_t>{512, 11}));
    const auto y = gguf_dequantize(c.t, q, x.size());
    const double e = rel_err(y, x);
    err[c.t] = e;
    EXPECT_LE(e, c.max_rel) << to_string(c.t);
    std::printf("  %-5s relative L2 error %.5f (bound %.3f)\n", std::string(to_string(c.t)).c_str(), e, c.max_rel);
  }
  EXPECT_LT(err[GgmlType::Q4_K], err[GgmlType::Q4_0]);
  EXPECT_LT(err[GgmlType::Q6_K], err[GgmlType::Q4_K]);
  EXPECT_LT(err[GgmlType::Q8_0], err[GgmlType::Q6_K]);
}

TEST(GgufQuant, Q8_0ErrorIsAtMostHalfAStep) {
  const auto x = randn(32 * 40, 2, 3.0f);
  const auto q = gguf_quantize(GgmlType::Q8_0, x);
  const auto y = gguf_dequantize(GgmlType::Q8_0, q, x.size());
  for (std::size_t b = 0; b < 40; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + static_cast<std::size_t>(j)]));
    const float d = round_to_half(amax / 127.0f);
    for (int j = 0; j < 32; ++j) {
      const auto i = b * 32 + static_cast<std::size_t>(j);
      // half a step, plus the fp16 rounding of d times |q| ≤ 127
      EXPECT_LE(std::fabs(y[i] - x[i]), 0.5f * d + 127.0f * std::fabs(d - amax / 127.0f) + 1e-6f);
    }
  }
}

TEST(GgufQuant, EdgeBlocks) {
  // Zeros, constants, a single spike, negative-only, tiny values: every type reproduces the zeros and
  // stays finite; Q4_K / Q6_K get the constants and spike nearly right.
  std::vector<float> x(256 * 5, 0.0f);
  for (int i = 256; i < 512; ++i) x[static_cast<std::size_t>(i)] = -0.75f;
  x[600] = 40.0f;
  for (int i = 768; i < 1024; ++i) x[static_cast<std::size_t>(i)] = -0.01f * static_cast<float>(i % 7) - 1.0f;
  for (int i = 1024; i < 1280; ++i) x[static_cast<std::size_t>(i)] = 1e-6f * static_cast<float>(i % 5);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    const auto y = gguf_dequantize(t, gguf_quantize(t, x), x.size());
    for (int i = 0; i < 256; ++i) EXPECT_EQ(y[static_cast<std::size_t>(i)], 0.0f) << to_string(t) << " " << i;
    EXPECT_TRUE(all_finite(y)) << to_string(t);
    EXPECT_NEAR(y[600], 40.0f, 40.0f * 0.02f) << to_string(t);
    for (int i = 256; i < 512; ++i) EXPECT_NEAR(y[static_cast<std::size_t>(i)], -0.75f, 0.75f * 0.02f) << to_string(t);
  }
}

TEST(GgufQuant, ErrorsNameTheType) {
  std::vector<float> x(33, 1.0f);
  EXPECT_THROW((void)gguf_quantize(GgmlType::Q8_0, x), InvalidInput);
  try {
    (void)gguf_quantize(GgmlType::Q5_K, std::vector<float>(256));
    ADD_FAILURE();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("Q5_K"), std::string::npos);
  }
  std::vector<float> out(32);
  EXPECT_THROW(gguf_dequantize(GgmlType::Q8_0, Bytes(33), out), InvalidInput);
}

// ---- writer round trip ----

GgufWriter rich_writer(std::uint64_t alignment) {
  GgufWriter w(alignment);
  w.add("t.u8", GgufValue::u8(250));
  w.add("t.i8", GgufValue::i8(-100));
  w.add("t.u16", GgufValue::u16(65000));
  w.add("t.i16", GgufValue::i16(-30000));
  w.add("t.u32", GgufValue::u32(4000000000u));
  w.add("t.i32", GgufValue::i32(-2000000000));
  w.add("t.u64", GgufValue::u64(18000000000000000000ull));
  w.add("t.i64", GgufValue::i64(-9000000000000000000ll));
  w.add("t.f32", GgufValue::f32(3.25f));
  w.add("t.f64", GgufValue::f64(-1e300));
  w.add("t.bool", GgufValue::boolean(true));
  w.add("t.str", GgufValue::string("héllo, GGUF"));
  w.add("t.empty", GgufValue::string(""));
  w.add("t.strs", GgufValue::string_array({"a", "", "ccc"}));
  const std::vector<float> fs{1.5f, -2.f};
  w.add("t.f32s", GgufValue::f32_array(fs));
  w.add("t.bools", GgufValue::array(GgufValueType::Bool, {GgufValue::boolean(false), GgufValue::boolean(true)}));
  w.add("t.nested", GgufValue::array(GgufValueType::Array,
                                     {GgufValue::array(GgufValueType::UInt16, {GgufValue::u16(1), GgufValue::u16(2)}),
                                      GgufValue::string_array({"x"}),
                                      GgufValue::array(GgufValueType::Int64, {})}));
  w.add("t.emptyarr", GgufValue::array(GgufValueType::Float64, {}));
  const auto x = randn(3 * 256, 3);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K})
    w.add_tensor(std::string("w.") + std::string(to_string(t)), t, {256, 3}, gguf_quantize(t, x));
  w.add_tensor("w.vec", GgmlType::F32, {5}, gguf_quantize(GgmlType::F32, std::vector<float>{1, 2, 3, 4, 5}));
  w.add_tensor("w.4d", GgmlType::F16, {2, 3, 1, 2}, gguf_quantize(GgmlType::F16, randn(12, 4)));
  w.add_tensor("w.empty", GgmlType::F32, {0, 4}, {});
  return w;
}

TEST(Gguf, WriterRoundTripEveryValueTypeAndTensorType) {
  for (std::uint64_t alignment : {32u, 64u, 8u}) {
    const Bytes bytes = rich_writer(alignment).to_bytes();
    const GgufFile f = GgufFile::from_bytes(bytes, "rt.gguf");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(*f.find("t.u8")->as_int(), 250);
    EXPECT_EQ(*f.find("t.i8")->as_int(), -100);
    EXPECT_EQ(*f.find("t.u16")->as_int(), 65000);
    EXPECT_EQ(*f.find("t.i16")->as_int(), -30000);
    EXPECT_EQ(*f.find("t.u32")->as_int(), 4000000000ll);
    EXPECT_EQ(*f.find("t.i32")->as_int(), -2000000000);
    EXPECT_FALSE(f.find("t.u64")->as_int().has_value());
    EXPECT_EQ(*f.find("t.u64")->as_uint(), 18000000000000000000ull);
    EXPECT_EQ(*f.find("t.i64")->as_int(), -9000000000000000000ll);
    EXPECT_EQ(*f.find("t.f32")->as_float(), 3.25);
    EXPECT_EQ(*f.find("t.f64")->as_float(), -1e300);
    EXPECT_EQ(*f.find("t.bool")->as_bool(), true);
    EXPECT_EQ(*f.find("t.str")->as_string(), "héllo, GGUF");
    EXPECT_EQ(*f.find("t.empty")->as_string(), "");
    EXPECT_EQ(f.find("t.strs")->strings(), (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(*f.find("t.f32s")->at(1).as_float(), -2.0);
    EXPECT_EQ(f.find("t.bools")->to_string(), "[false, true]");
    const GgufValue* n = f.find("t.nested");
    ASSERT_EQ(n->size(), 3u);
    EXPECT_EQ(n->at(0).to_string(), "[1, 2]");
    EXPECT_EQ(n->at(1).to_string(), "[\"x\"]");
    EXPECT_EQ(n->at(2).element_type(), GgufValueType::Int64);
    EXPECT_EQ(n->at(2).size(), 0u);
    EXPECT_EQ(f.find("t.emptyarr")->size(), 0u);
    EXPECT_EQ(f.tensors().size(), 10u);
    const auto x = randn(3 * 256, 3);
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
      const auto* ti = f.find_tensor(std::string("w.") + std::string(to_string(t)));
      ASSERT_NE(ti, nullptr);
      EXPECT_EQ(ti->type, t);
      EXPECT_EQ(ti->shape(), (Shape{3, 256}));
      EXPECT_EQ(ti->file_offset % alignment, 0u);
      const auto q = gguf_quantize(t, x);
      const auto got = f.bytes(*ti);
      EXPECT_TRUE(std::equal(got.begin(), got.end(), q.begin(), q.end())) << to_string(t);
      EXPECT_EQ(f.read_f32(ti->name).data, gguf_dequantize(t, q, x.size()));
    }
    EXPECT_EQ(f.find_tensor("w.4d")->shape(), (Shape{2, 1, 3, 2}));
    EXPECT_EQ(f.find_tensor("w.empty")->nbytes, 0u);
    EXPECT_EQ(f.read_f32("w.vec").data, (std::vector<float>{1, 2, 3, 4, 5}));
  }
}

TEST(Gguf, OpenMapsAFileAndReportsMissingFiles) {
  const std::string path = temp_path("rt");
  rich_writer(32).write(path);
  {
    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.path(), path);
    EXPECT_EQ(f.file_size(), std::filesystem::file_size(path));
    EXPECT_EQ(f.tensors().size(), 10u);
    GgufFile moved = std::move(f);
    EXPECT_EQ(moved.read_f32("w.vec").data.size(), 5u);
  }
  std::filesystem::remove(path);
  EXPECT_THROW((void)GgufFile::open(path), InvalidInput);
}

TEST(Gguf, UnsupportedTypeIsReadButNotDequantized) {
  GgufWriter w;
  w.add_tensor("blk.0.ffn_up.weight", GgmlType::Q5_K, {256, 2}, Bytes(2 * 176, 0));
  const GgufFile f = GgufFile::from_bytes(w.to_bytes(), "q5k.gguf");
  EXPECT_EQ(f.tensors()[0].type, GgmlType::Q5_K);
  try {
    (void)f.read_f32("blk.0.ffn_up.weight");
    ADD_FAILURE();
  } catch (const Unsupported& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Q5_K"), std::string::npos) << m;
    EXPECT_NE(m.find("blk.0.ffn_up.weight"), std::string::npos) << m;
  }
}

TEST(Gguf, WriterRejectsBadInput) {
  GgufWriter w;
  w.add("a", GgufValue::u8(1));
  EXPECT_THROW(w.add("a", GgufValue::u8(2)), InvalidInput);
  EXPECT_THROW(w.add_tensor("t", GgmlType::Q8_0, {31}, Bytes(34)), InvalidInput);
  EXPECT_THROW(w.add_tensor("t", GgmlType::Q8_0, {32}, Bytes(33)), InvalidInput);
  EXPECT_THROW(w.add_tensor(std::string(65, 'x'), GgmlType::F32, {1}, Bytes(4)), InvalidInput);
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 1}, Bytes(4)), InvalidInput);
  w.add_tensor("t", GgmlType::F32, {1}, Bytes(4));
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {1}, Bytes(4)), InvalidInput);
  EXPECT_THROW(GgufWriter(48), InvalidInput);
  EXPECT_THROW((void)GgufValue::array(GgufValueType::UInt8, {GgufValue::i8(1)}), InvalidInput);
}

// ---- hostile files ----

TEST(GgufHostile, HeaderFields) {
  Bytes b = hand_built();
  expect_invalid(Bytes{}, {"magic", "byte 0"});
  expect_invalid(Bytes{'G', 'G'}, {"magic", "byte 0", "truncated"});
  Bytes m = b;
  m[0] = 'X';
  expect_invalid(m, {"magic at byte 0", "XGUF"});
  for (std::uint32_t v : {1u, 4u, 0xffffffffu}) {
    Bytes bad = b;
    for (int i = 0; i < 4; ++i) bad[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(v >> (8 * i));
    expect_invalid(bad, {"version at byte 4", std::to_string(v)});
  }
  Bytes be = b;
  be[4] = 0, be[7] = 3;
  expect_invalid(be, {"version at byte 4", "big-endian"});
  Bytes tc = b;
  tc[15] = 0x10;  // tensor_count 2^60 + 1
  expect_invalid(tc, {"tensor_count at byte 8", "cannot fit"});
  Bytes kc = b;
  kc[20] = 0x01;  // metadata_kv_count 2^32 + 2
  expect_invalid(kc, {"metadata_kv_count at byte 16"});
  expect_invalid(Bytes(b.begin(), b.begin() + 12), {"tensor_count at byte 8", "truncated"});
}

TEST(GgufHostile, MetadataFields) {
  const Bytes b = hand_built();
  // key 0's length at byte 24 → huge
  Bytes k = b;
  k[31] = 0x7f;
  expect_invalid(k, {"metadata key 0", "byte 24"});
  // value type of key 0 (at 24 + 8 + 20 = 52) → 13
  Bytes t = b;
  t[52] = 13;
  expect_invalid(t, {"metadata \"general.architecture\" type at byte 52", "unknown value type 13"});
  // the string value's length (at 56) → past the end
  Bytes s = b;
  s[56] = 0xff, s[57] = 0xff;
  expect_invalid(s, {"metadata \"general.architecture\"", "byte 56", "past the end"});
  // array count of x.list: key at 69 (8+6 bytes), type 83, elem 87, count 91
  Bytes a = b;
  a[98] = 0x20;
  expect_invalid(a, {"metadata \"x.list\" count at byte 91", "need at least"});
  Bytes e = b;
  e[87] = 77;
  expect_invalid(e, {"metadata \"x.list\" element type at byte 87", "unknown value type 77"});
  // truncated inside the array items
  expect_invalid(Bytes(b.begin(), b.begin() + 103), {"metadata \"x.list\" count at byte 91", "need at least"});
  // truncated inside the tensor infos
  expect_invalid(Bytes(b.begin(), b.begin() + 115), {"tensor 0 name", "byte 111"});
  // a duplicate key
  Bytes dup2;
  dup2.insert(dup2.end(), {'G', 'G', 'U', 'F'});
  put(dup2, 3, 4);
  put(dup2, 0, 8);
  put(dup2, 2, 8);
  for (int i = 0; i < 2; ++i) {
    put_str(dup2, "k");
    put(dup2, 0, 4);
    dup2.push_back(1);
  }
  expect_invalid(dup2, {"metadata \"k\"", "duplicate key", "byte 38", "first at byte 24"});
  // a bool that is neither 0 nor 1
  Bytes bl;
  bl.insert(bl.end(), {'G', 'G', 'U', 'F'});
  put(bl, 3, 4);
  put(bl, 0, 8);
  put(bl, 1, 8);
  put_str(bl, "b");
  put(bl, 7, 4);
  bl.push_back(2);
  expect_invalid(bl, {"metadata \"b\" at byte 37", "bool value 2"});
}

Bytes one_kv_file(const std::function<void(Bytes&)>& value) {
  Bytes b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  put(b, 3, 4);
  put(b, 0, 8);
  put(b, 1, 8);
  put_str(b, "general.alignment");
  value(b);
  return b;
}

TEST(GgufHostile, AlignmentAndNesting) {
  expect_invalid(one_kv_file([](Bytes& b) { put(b, 4, 4); put(b, 48, 4); }), {"general.alignment", "power of two"});
  expect_invalid(one_kv_file([](Bytes& b) { put(b, 4, 4); put(b, 0, 4); }), {"general.alignment", "power of two"});
  expect_invalid(one_kv_file([](Bytes& b) { put(b, 10, 4); put(b, 32, 8); }), {"general.alignment", "u32"});
  // arrays nested 100 deep: refused at depth 16, not a stack overflow
  expect_invalid(one_kv_file([](Bytes& b) {
                   put(b, 9, 4);
                   for (int i = 0; i < 100; ++i) {
                     put(b, 9, 4);
                     put(b, 1, 8);
                   }
                   put(b, 0, 4);
                   put(b, 0, 8);
                 }),
                 {"nested more than 16 deep"});
}

// A file with one tensor whose info fields the callback writes (name "t").
Bytes one_tensor_file(std::uint32_t n_dims, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset,
                      std::size_t data_bytes) {
  Bytes b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  put(b, 3, 4);
  put(b, 1, 8);
  put(b, 0, 8);
  put_str(b, "t");
  put(b, n_dims, 4);
  for (auto d : ne) put(b, d, 8);
  put(b, type, 4);
  put(b, offset, 8);
  while (b.size() % 32) b.push_back(0);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(GgufHostile, TensorInfoFields) {
  // name at 24: len 8 + 1; n_dims at 33; ne[0] at 37
  expect_invalid(one_tensor_file(5, {1, 1, 1, 1, 1}, 0, 0, 4), {"tensor 0 (\"t\") n_dims at byte 33", "5 dimensions"});
  expect_invalid(one_tensor_file(0, {}, 0, 0, 4), {"n_dims at byte 33", "0 dimensions"});
  expect_invalid(one_tensor_file(2, {1ull << 62, 1ull << 62}, 0, 0, 4), {"ne[1] at byte 45", "overflows"});
  expect_invalid(one_tensor_file(1, {1ull << 63}, 0, 0, 4), {"ne[0] at byte 37", "exceeds INT64_MAX"});
  expect_invalid(one_tensor_file(1, {4}, 99, 0, 16), {"type at byte 45", "unknown ggml type 99"});
  expect_invalid(one_tensor_file(1, {4}, 31, 0, 16), {"unknown ggml type 31"});
  expect_invalid(one_tensor_file(1, {31}, 8, 0, 34), {"ne[0] at byte 37", "not a multiple of the Q8_0 block size 32"});
  expect_invalid(one_tensor_file(1, {4}, 0, 16, 64), {"offset at byte 49", "not a multiple of the alignment 32"});
  expect_invalid(one_tensor_file(1, {4}, 0, 0, 15), {"tensor \"t\" data at byte 24", "past the end"});
  expect_invalid(one_tensor_file(1, {4}, 0, 1ull << 63, 16), {"past the end"});
  expect_invalid(one_tensor_file(1, {1ull << 40}, 0, 0, 16), {"past the end"});
  expect_invalid(one_tensor_file(2, {1ull << 31, 1ull << 30}, 28, 0, 16), {"ne at byte 37", "more than 2^64 bytes"});
  // a name longer than the spec's 64 bytes
  Bytes b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  put(b, 3, 4);
  put(b, 1, 8);
  put(b, 0, 8);
  put_str(b, std::string(65, 'n'));
  b.resize(b.size() + 64, 0);
  expect_invalid(b, {"tensor 0 name at byte 24", "limit of 64"});
}

TEST(GgufHostile, OverlappingAndDuplicateTensors) {
  Bytes b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  put(b, 3, 4);
  put(b, 2, 8);
  put(b, 0, 8);
  for (const char* name : {"a", "b"}) {
    put_str(b, name);
    put(b, 1, 4);
    put(b, 16, 8);
    put(b, 0, 4);
    put(b, name[0] == 'a' ? 0 : 32, 8);  // a: bytes 0..64, b: 32..96
  }
  while (b.size() % 32) b.push_back(0);
  b.resize(b.size() + 96, 0);
  expect_invalid(b, {"tensor \"b\" offset", "overlap tensor \"a\""});
  Bytes d = b;
  // rename b → a: a duplicate name (the second info starts at 24 + 33 = 57; its name byte at 65)
  d[65] = 'a';
  expect_invalid(d, {"tensor \"a\"", "duplicate tensor name", "byte 57"});
}

// Random mutations of valid files: every outcome is a parsed file or an InvalidInput — no other
// exception, no crash (run under the debug preset's sanitizers to catch reads out of bounds).
TEST(GgufHostile, MutatedFilesNeverCrash) {
  std::vector<Bytes> seeds = {hand_built(), rich_writer(32).to_bytes()};
  std::mt19937_64 rng(1234);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes b = seeds[static_cast<std::size_t>(iter) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: b.resize(at + 1); break;
        default: b[at] = static_cast<std::uint8_t>(std::vector<int>{0, 1, 0xff, 0x7f, 0x80}[rng() % 5]);
      }
    }
    try {
      const GgufFile f = GgufFile::from_bytes(b, "mutant.gguf");
      for (const auto& t : f.tensors()) {
        if (ggml_type_supported(t.type)) (void)f.read_f32(t.name);
      }
      for (const auto& kv : f.metadata()) (void)kv.value.to_string();
      ++parsed;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("mutant.gguf"), std::string::npos);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(parsed, 10);
}

// ---- the llama architecture ----

GgufLlamaConfig tiny_config() {
  GgufLlamaConfig c;
  c.architecture = "llama";
  c.name = "tiny";
  c.block_count = 3;
  c.embedding_length = 64;
  c.feed_forward_length = 96;
  c.head_count = 4;
  c.head_count_kv = 2;
  c.head_dim = 16;
  c.context_length = 128;
  c.rope_dimension_count = 16;
  c.vocab_size = 40;
  c.rope_freq_base = 500000.0;
  c.rms_norm_eps = 1e-5;
  return c;
}

TensorMap random_hf_weights(const GgufLlamaConfig& c) {
  TensorMap m;
  std::uint64_t stream = 100;
  for (const auto& t : gguf_llama_tensor_shapes(c)) {
    Shape s(std::vector<std::int64_t>(t.ne.rbegin(), t.ne.rend()));
    Tensor x(s);
    x.data = randn(x.data.size(), stream++, 0.5f);
    m.emplace(*gguf_to_hf_name(t.name), std::move(x));
  }
  return m;
}

TEST(GgufLlama, NamesBothWays) {
  const std::pair<std::string, std::string> pairs[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
      {"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},
      {"blk.12.attn_k.bias", "model.layers.12.self_attn.k_proj.bias"},
      {"blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"},
      {"blk.31.attn_output.weight", "model.layers.31.self_attn.o_proj.weight"},
      {"blk.1.ffn_gate.weight", "model.layers.1.mlp.gate_proj.weight"},
      {"blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight"},
      {"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"},
      {"blk.7.attn_norm.weight", "model.layers.7.input_layernorm.weight"},
      {"blk.7.ffn_norm.weight", "model.layers.7.post_attention_layernorm.weight"},
  };
  for (const auto& [g, h] : pairs) {
    EXPECT_EQ(gguf_to_hf_name(g), h);
    EXPECT_EQ(hf_to_gguf_name(h), g);
  }
  for (const char* bad : {"blk.x.attn_q.weight", "blk..attn_q.weight", "blk.01.attn_q.weight", "blk.1.attn_qq.weight",
                          "rope_freqs.weight", "blk.1.attn_q", ""})
    EXPECT_FALSE(gguf_to_hf_name(bad).has_value()) << bad;
  EXPECT_FALSE(hf_to_gguf_name("model.layers.1.self_attn.rotary_emb.inv_freq").has_value());
}

TEST(GgufLlama, RopeRowOrderMatchesBothRopeConventions) {
  // head_dim 4: GGUF rows (h, 0..3) hold HF rows (h, 0, 2, 1, 3).
  EXPECT_EQ(hf_row_of_gguf_row(0, 2, 4), 0);
  EXPECT_EQ(hf_row_of_gguf_row(1, 2, 4), 2);
  EXPECT_EQ(hf_row_of_gguf_row(2, 2, 4), 1);
  EXPECT_EQ(hf_row_of_gguf_row(7, 2, 4), 7);
  // The claim behind the permutation: ggml's adjacent-pair RoPE on the GGUF-ordered projection
  // equals HF's rotate_half RoPE on the HF-ordered one, up to that row order.
  const std::int64_t heads = 3, hd = 8, K = 5, rows = heads * hd;
  const auto W = randn(static_cast<std::size_t>(rows * K), 9);
  const auto x = randn(static_cast<std::size_t>(K), 10);
  std::vector<float> Wg(W.size());
  hf_rope_rows_to_gguf({reinterpret_cast<const std::uint8_t*>(W.data()), W.size() * 4},
                       {reinterpret_cast<std::uint8_t*>(Wg.data()), Wg.size() * 4}, rows, heads);
  auto matvec = [&](const std::vector<float>& M) {
    std::vector<double> y(static_cast<std::size_t>(rows), 0.0);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t k = 0; k < K; ++k) y[static_cast<std::size_t>(r)] += M[static_cast<std::size_t>(r * K + k)] * x[static_cast<std::size_t>(k)];
    return y;
  };
  auto qh = matvec(W), qg = matvec(Wg);
  const double pos = 7.0;
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t i = 0; i < hd / 2; ++i) {
      const double th = pos * std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
      auto rot = [&](std::vector<double>& q, std::int64_t a, std::int64_t b) {
        const double u = q[static_cast<std::size_t>(a)], v = q[static_cast<std::size_t>(b)];
        q[static_cast<std::size_t>(a)] = u * std::cos(th) - v * std::sin(th);
        q[static_cast<std::size_t>(b)] = u * std::sin(th) + v * std::cos(th);
      };
      rot(qh, h * hd + i, h * hd + i + hd / 2);  // rotate_half pairs
      rot(qg, h * hd + 2 * i, h * hd + 2 * i + 1);  // adjacent pairs
    }
  for (std::int64_t r = 0; r < rows; ++r)
    EXPECT_NEAR(qg[static_cast<std::size_t>(r)], qh[static_cast<std::size_t>(hf_row_of_gguf_row(r, heads, hd))], 1e-9);
  // and the byte permutations are inverses
  std::vector<float> back(W.size());
  gguf_rope_rows_to_hf({reinterpret_cast<const std::uint8_t*>(Wg.data()), Wg.size() * 4},
                       {reinterpret_cast<std::uint8_t*>(back.data()), back.size() * 4}, rows, heads);
  EXPECT_EQ(back, W);
  EXPECT_THROW(gguf_rope_rows_to_hf({reinterpret_cast<const std::uint8_t*>(W.data()), 12}, {reinterpret_cast<std::uint8_t*>(back.data()), 12}, 3, 2),
               InvalidInput);
}

TEST(GgufLlama, WriteThenReadConfigAndTensors) {
  const GgufLlamaConfig c = tiny_config();
  const TensorMap w = random_hf_weights(c);
  for (GgufRecipe r : {GgufRecipe::F16, GgufRecipe::Q8_0, GgufRecipe::Q4_0, GgufRecipe::Q4_K_M}) {
    const std::string path = temp_path(std::string(to_string(r)));
    write_llama_gguf(path, c, w, r);
    const GgufFile f = GgufFile::open(path);
    const GgufLlamaModel m = gguf_llama_model(f);
    EXPECT_EQ(m.config.architecture, "llama");
    EXPECT_EQ(m.config.name, "tiny");
    EXPECT_EQ(m.config.block_count, 3);
    EXPECT_EQ(m.config.embedding_length, 64);
    EXPECT_EQ(m.config.feed_forward_length, 96);
    EXPECT_EQ(m.config.head_count, 4);
    EXPECT_EQ(m.config.head_count_kv, 2);
    EXPECT_EQ(m.config.head_dim, 16);
    EXPECT_EQ(m.config.context_length, 128);
    EXPECT_EQ(m.config.vocab_size, 40);
    EXPECT_EQ(m.config.rope_freq_base, 500000.0);
    EXPECT_NEAR(m.config.rms_norm_eps, 1e-5, 1e-12);
    EXPECT_FALSE(m.config.tied_embeddings);
    EXPECT_EQ(m.config.file_type, gguf_recipe_file_type(r));
    EXPECT_EQ(m.tensors.size(), 2 + 3 * 9 + 1u);
    // Each tensor: type per recipe (rows of 64/96 are not multiples of 256, so Q4_K falls back to
    // Q8_0 here — the 256-row case is the size test's), HF shape, and values back in HF row order.
    for (const auto& t : m.tensors) {
      const Tensor& orig = w.at(t.hf_name);
      EXPECT_EQ(t.shape, orig.shape) << t.hf_name;
      std::vector<std::uint8_t> hf_bytes(t.bytes.begin(), t.bytes.end());
      if (t.rope_rows_permuted) gguf_rope_rows_to_hf(t.bytes, hf_bytes, t.shape[0], t.rope_heads);
      const auto y = gguf_dequantize(t.type, hf_bytes, static_cast<std::uint64_t>(orig.numel()));
      const double tol = t.type == GgmlType::F32 ? 0 : t.type == GgmlType::F16 ? 1e-3 : t.type == GgmlType::Q8_0 ? 0.01 : 0.15;
      EXPECT_LE(relative_l2(y, orig.data), tol) << t.hf_name << " " << to_string(t.type);
    }
    EXPECT_EQ(m.find("lm_head.weight")->type, r == GgufRecipe::F16 ? GgmlType::F16 : GgmlType::Q8_0);
    EXPECT_EQ(m.find("model.norm.weight")->type, GgmlType::F32);
    EXPECT_TRUE(m.find("model.layers.1.self_attn.k_proj.weight")->rope_rows_permuted);
    EXPECT_EQ(m.find("model.layers.1.self_attn.k_proj.weight")->rope_heads, 2);
    EXPECT_FALSE(m.find("model.layers.1.self_attn.v_proj.weight")->rope_rows_permuted);
    std::filesystem::remove(path);
  }
}

TEST(GgufLlama, ConfigErrorsNameTheKey) {
  GgufWriter w;
  w.add("general.architecture", GgufValue::string("llama"));
  w.add("llama.block_count", GgufValue::u32(2));
  try {
    (void)gguf_llama_config(GgufFile::from_bytes(w.to_bytes(), "cfg.gguf"));
    ADD_FAILURE();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.gguf: metadata \"llama.embedding_length\" is missing"), std::string::npos) << e.what();
  }
  GgufWriter w2;
  w2.add("general.architecture", GgufValue::string("llama"));
  w2.add("llama.block_count", GgufValue::string("two"));
  try {
    (void)gguf_llama_config(GgufFile::from_bytes(w2.to_bytes(), "cfg.gguf"));
    ADD_FAILURE();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("\"llama.block_count\" must be a positive integer, got \"two\""), std::string::npos) << e.what();
  }
  GgufWriter w3;
  w3.add("general.architecture", GgufValue::string("gpt2"));
  EXPECT_THROW((void)gguf_llama_config(GgufFile::from_bytes(w3.to_bytes(), "cfg.gguf")), Unsupported);
}

TEST(GgufLlama, MissingOrMisshapenTensorIsNamed) {
  GgufLlamaConfig c = tiny_config();
  c.block_count = 1;
  TensorMap w = random_hf_weights(c);
  const std::string path = temp_path("bad");
  write_llama_gguf(path, c, w, GgufRecipe::F16);
  // Lie about the hidden size in a copy of the metadata: every shape check then fails on token_embd.
  const GgufFile good = GgufFile::open(path);
  GgufWriter lie;
  for (const auto& kv : good.metadata())
    lie.add(kv.key, kv.key == "llama.embedding_length" ? GgufValue::u32(32) : kv.value);
  for (const auto& t : good.tensors()) {
    const auto b = good.bytes(t);
    lie.add_tensor(t.name, t.type, t.ne, Bytes(b.begin(), b.end()));
  }
  try {
    (void)gguf_llama_model(GgufFile::from_bytes(lie.to_bytes(), "lie.gguf"));
    ADD_FAILURE();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("tensor \"token_embd.weight\" has shape [40, 64] but the config needs [40, 32]"),
              std::string::npos) << e.what();
  }
  w.erase("model.layers.0.mlp.up_proj.weight");
  EXPECT_THROW(write_llama_gguf(path, c, w, GgufRecipe::F16), InvalidInput);
  std::filesystem::remove(path);
}

// Found by fuzz/gguf_fuzz: a block_count of 2^31 made gguf_llama_model build a list of 2^31 · 9
// expected tensors before looking at the file.
TEST(GgufLlama, AbsurdBlockCountIsRefusedCheaply) {
  GgufWriter w;
  w.add("general.architecture", GgufValue::string("llama"));
  w.add("llama.block_count", GgufValue::u32(100000));  // the most core/checked.h's limits accept
  w.add("llama.embedding_length", GgufValue::u32(8));
  w.add("llama.feed_forward_length", GgufValue::u32(16));
  w.add("llama.attention.head_count", GgufValue::u32(2));
  w.add("llama.context_length", GgufValue::u32(16));
  w.add("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
  w.add("llama.vocab_size", GgufValue::u32(4));
  const GgufFile f = GgufFile::from_bytes(w.to_bytes(), "blocks.gguf");
  EXPECT_EQ(gguf_llama_config(f).block_count, 100000);
  try {
    (void)gguf_llama_model(f);
    ADD_FAILURE();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("\"llama.block_count\" is 100000 but the file has only 0 tensors"), std::string::npos)
        << e.what();
  }
  // Beyond the limit the metadata itself is refused, naming the key.
  GgufWriter big;
  big.add("general.architecture", GgufValue::string("llama"));
  big.add("llama.block_count", GgufValue::u32(1u << 31));
  try {
    (void)gguf_llama_config(GgufFile::from_bytes(big.to_bytes(), "big.gguf"));
    ADD_FAILURE();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("big.gguf: metadata \"llama.block_count\" is 2147483648, more than"), std::string::npos)
        << e.what();
  }
}

// ---- the Q4_K_M mix and model size ----

TEST(GgufSize, UseMoreBitsIsHalfTheLayersOfLlama7B) {
  std::vector<int> layers;
  for (int i = 0; i < 32; ++i)
    if (gguf_use_more_bits(i, 32)) layers.push_back(i);
  EXPECT_EQ(layers, (std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
}

TEST(GgufSize, Llama2_7B_Q4_K_M_Is3_80GiBAt4_84BitsPerWeight) {
  // Llama-2-7B: 32 layers, hidden 4096, FFN 11008, vocab 32000, 32 heads (no GQA), untied.
  GgufLlamaConfig c;
  c.architecture = "llama";
  c.block_count = 32;
  c.embedding_length = 4096;
  c.feed_forward_length = 11008;
  c.head_count = c.head_count_kv = 32;
  c.head_dim = 128;
  c.vocab_size = 32000;
  const auto shapes = gguf_llama_tensor_shapes(c);
  EXPECT_EQ(shapes.size(), 2 + 32 * 9 + 1u);
  const GgufSizeReport r = gguf_model_size(shapes, GgufRecipe::Q4_K_M, 32);
  EXPECT_EQ(r.parameters, 6738415616ull);  // Llama-2-7B's published parameter count
  // llama.cpp's llama-bench/quantize report Llama-2-7B Q4_K_M as 3.80 GiB, 4.84 BPW.
  std::printf("  Llama-2-7B Q4_K_M: %llu bytes = %.3f GiB, %.3f bits per weight\n",
              static_cast<unsigned long long>(r.bytes), r.gib(), r.bits_per_weight());
  EXPECT_NEAR(r.gib(), 3.80, 0.005);
  EXPECT_NEAR(r.bits_per_weight(), 4.84, 0.005);
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::Q6_K), 16u + 16u + 1u);  // attn_v, ffn_down in 16 layers; output
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::F32), 2u * 32u + 1u);
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::Q4_K), 1u + 32u * 7u - 32u);
  // and the other recipes, for the record: Q8_0 (output Q8_0) 6.67 GiB 8.50 BPW; Q4_0 (output Q6_K)
  // 3.56 GiB 4.54 BPW — llama.cpp's tables list 6.67 GiB and 3.56 GiB for these.
  const auto q8 = gguf_model_size(shapes, GgufRecipe::Q8_0, 32);
  const auto q4 = gguf_model_size(shapes, GgufRecipe::Q4_0, 32);
  const auto f16 = gguf_model_size(shapes, GgufRecipe::F16, 32);
  std::printf("  Q8_0 %.3f GiB %.3f BPW; Q4_0 %.3f GiB %.3f BPW; F16 %.3f GiB\n", q8.gib(), q8.bits_per_weight(), q4.gib(),
              q4.bits_per_weight(), f16.gib());
  EXPECT_NEAR(q8.gib(), 6.67, 0.01);
  EXPECT_NEAR(q4.gib(), 3.56, 0.01);
  EXPECT_NEAR(f16.gib(), 12.55, 0.01);
}

TEST(GgufSize, TiedModelQuantizesTheEmbeddingAsTheOutput) {
  GgufLlamaConfig c = tiny_config();
  c.embedding_length = 256;
  c.head_dim = 64;
  c.feed_forward_length = 512;
  c.tied_embeddings = true;
  const auto r = gguf_model_size(gguf_llama_tensor_shapes(c), GgufRecipe::Q4_K_M, c.block_count);
  // output absent; token_embd gets Q6_K; attn_v and ffn_down Q6_K in the use_more_bits layers
  // of 3 (0: 0 < 0? no; 3/8 = 0 → i ≥ 7·3/8 = 2 → layer 2; (i − 0) % 3 == 2 → layer 2)
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::Q6_K), 1u + 2u);
}

}  // namespace
}  // namespace vramfit
