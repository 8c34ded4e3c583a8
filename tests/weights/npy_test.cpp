// NumPy .npy: round trips at odd shapes, hand-built files of every version, float16, Fortran order,
// the header spellings Python's literal_eval accepts, and bad files (each a clear InvalidInput or
// Unsupported, never a crash).
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "weights/npy.h"

namespace vramfit {
namespace {

using Bytes = std::vector<std::uint8_t>;

// magic, version, header length (2 bytes for 1.x, 4 otherwise), header text, data.
Bytes npy_bytes(int major, const std::string& header, const Bytes& data) {
  Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const int lb = major == 1 ? 2 : 4;
  for (int i = 0; i < lb; ++i) b.push_back(static_cast<std::uint8_t>((header.size() >> (8 * i)) & 0xff));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes f32_data(const std::vector<float>& v) {
  Bytes b(v.size() * 4);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Tensor random_tensor(Shape s, std::uint64_t stream) {
  Tensor t(std::move(s));
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = normal01(23, stream, i);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         (a.data.empty() || std::memcmp(a.ptr(), b.ptr(), a.data.size() * sizeof(float)) == 0);
}

template <class E>
void expect_error(const Bytes& b, std::initializer_list<std::string> fragments) {
  try {
    (void)parse_npy(b, "bad.npy");
    ADD_FAILURE() << "accepted a bad file; expected fragments: " << *fragments.begin();
  } catch (const E& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.npy"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(Npy, RoundTripOddShapes) {
  const std::vector<Shape> shapes{Shape{}, Shape{7}, Shape{19, 7}, Shape{2, 3, 197}, Shape{0, 5}, Shape{1, 1, 1, 1}};
  std::uint64_t stream = 0;
  for (const Shape& s : shapes) {
    const Tensor t = random_tensor(s, stream++);
    const Bytes b = encode_npy(t);
    // numpy's writer aligns the data to 64 bytes and ends the header with a newline.
    const std::size_t hlen = b[8] | (b[9] << 8);
    EXPECT_EQ(b[6], 1);
    EXPECT_EQ((10 + hlen) % 64, 0u) << s.to_string();
    EXPECT_EQ(b[10 + hlen - 1], '\n');
    EXPECT_EQ(b.size(), 10 + hlen + t.data.size() * 4);
    EXPECT_TRUE(same_bits(parse_npy(b, "mem"), t)) << s.to_string();
  }
}

TEST(Npy, WriteAndReadFile) {
  const Tensor t = random_tensor(Shape{2, 3, 19, 7}, 99);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vramfit_npy_" + std::to_string(::getpid()) + ".npy")).string();
  write_npy(path, t);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_TRUE(same_bits(read_npy(path), t));
  std::filesystem::remove(path);
  EXPECT_THROW((void)read_npy(path), InvalidInput);                  // a missing input is bad input
  EXPECT_THROW(write_npy("/nonexistent/dir/x.npy", t), InvalidInput);  // refused: the folder does not exist
}

TEST(Npy, HeaderTextIsWhatNumpyWrites) {
  const Bytes b = encode_npy(random_tensor(Shape{19}, 1));
  const std::string header(b.begin() + 10, b.begin() + 10 + (b[8] | (b[9] << 8)));
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (19,), }", 0), 0u) << header;
  const Bytes s = encode_npy(random_tensor(Shape{}, 1));
  EXPECT_NE(std::string(s.begin(), s.end()).find("'shape': (), }"), std::string::npos);
  const Bytes m = encode_npy(random_tensor(Shape{2, 7}, 1));
  EXPECT_NE(std::string(m.begin(), m.end()).find("'shape': (2, 7), }"), std::string::npos);
}

TEST(Npy, HandBuiltVersionsAndSpellings) {
  const std::vector<float> v{1.5f, -2.0f, 0.25f, 3.0f, -7.0f, 1e-3f};
  // Versions 1.0, 2.0 (4-byte length), 3.0 (UTF-8); double quotes, no trailing comma, no padding.
  for (int major : {1, 2, 3}) {
    const Tensor t = parse_npy(
        npy_bytes(major, "{\"descr\": \"<f4\", \"shape\": (2, 3), \"fortran_order\": False}\n", f32_data(v)), "v");
    EXPECT_EQ(t.shape, (Shape{2, 3})) << major;
    EXPECT_EQ(t.data, v) << major;
  }
  // Python 2 longs, as in files numpy wrote under Python 2.
  EXPECT_EQ(parse_npy(npy_bytes(1, "{'descr':'<f4','fortran_order':False,'shape':(6L,),}", f32_data(v)), "py2").shape,
            (Shape{6}));
}

TEST(Npy, Float16BecomesFp32) {
  // 1.0, -2.0, 1/3 rounded, 65504 (fp16 max), 2^-24, -0
  const std::vector<std::uint16_t> h{0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x8000, 0x4248};
  Bytes data;
  for (auto x : h) {
    data.push_back(static_cast<std::uint8_t>(x & 0xff));
    data.push_back(static_cast<std::uint8_t>(x >> 8));
  }
  const Tensor t = parse_npy(npy_bytes(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (7,), }", data), "h");
  ASSERT_EQ(t.data.size(), 7u);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(std::bit_cast<std::uint32_t>(t.data[i]),
                                                       std::bit_cast<std::uint32_t>(half_bits_to_float(h[i])));
  EXPECT_EQ(t.data[3], 65504.0f);
  EXPECT_EQ(t.data[6], 3.140625f);
}

TEST(Npy, FortranOrderIsTransposedToC) {
  // A 2×3×5 array whose C-order value is its flat index; stored column-major (first index fastest).
  const std::int64_t d0 = 2, d1 = 3, d2 = 5;
  std::vector<float> fortran(static_cast<std::size_t>(d0 * d1 * d2));
  for (std::int64_t i = 0; i < d0; ++i)
    for (std::int64_t j = 0; j < d1; ++j)
      for (std::int64_t k = 0; k < d2; ++k)
        fortran[static_cast<std::size_t>(i + d0 * (j + d1 * k))] = static_cast<float>((i * d1 + j) * d2 + k);
  const Tensor t =
      parse_npy(npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 5), }", f32_data(fortran)), "f");
  ASSERT_EQ(t.shape, (Shape{2, 3, 5}));
  for (std::size_t c = 0; c < t.data.size(); ++c) ASSERT_EQ(t.data[c], static_cast<float>(c)) << c;
}

TEST(Npy, BadFiles) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const Bytes two = f32_data({1.0f, 2.0f});
  expect_error<InvalidInput>(Bytes{'P', 'K', 3, 4, 5, 6, 7, 8, 9, 10, 11}, {"magic"});
  expect_error<InvalidInput>(Bytes{0x93, 'N', 'U'}, {"magic", "3 bytes"});
  {
    Bytes b = npy_bytes(1, ok, two);
    b[6] = 4;
    expect_error<InvalidInput>(b, {"version 4.0"});
  }
  {
    Bytes b = npy_bytes(1, ok, two);
    b[8] = 0xff;
    b[9] = 0x7f;
    expect_error<InvalidInput>(b, {"header length", "past the end"});
  }
  expect_error<Unsupported>(npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two), {"'>f4'"});
  expect_error<Unsupported>(npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", two),
                            {"'<f8'", "astype"});
  expect_error<Unsupported>(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", two),
                            {"structured"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'shape': (2,), }", two), {"fortran_order"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two),
                             {"'x'"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two),
                             {"shape"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", two),
                             {"shape", "tuple"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", two),
                             {"shape", "tuple"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", two),
                             {"fortran_order"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", two),
                             {"[3]", "8 bytes"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", two),
                             {"4 bytes", "8 bytes follow"});
  expect_error<InvalidInput>(
      npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", two),
      {"needs more data"});
  expect_error<InvalidInput>(
      npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", two),
      {"too large"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4, 'fortran_order': False}", two), {"byte"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'descr': '<f4'}", two), {"twice"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4'", two), {"header"});
  expect_error<InvalidInput>(npy_bytes(1, "('descr', '<f4')", two), {"dict"});
  expect_error<InvalidInput>(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", two),
                             {"after the header"});
  expect_error<InvalidInput>(npy_bytes(1, std::string(40, '(') + std::string(40, ')'), two), {"nested"});
}

TEST(Npy, TruncationsAndMutationsNeverCrash) {
  const Bytes good = encode_npy(random_tensor(Shape{3, 7}, 4));
  for (std::size_t len = 0; len < good.size(); ++len) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_THROW((void)parse_npy(cut, "cut"), InvalidInput) << "length " << len;
  }
  int parsed = 0, rejected = 0;
  for (std::uint64_t trial = 0; trial < 3000; ++trial) {
    Bytes b = good;
    // Edits aimed at the header half the time, where the parser does its work.
    const float span = trial % 2 ? 128.0f : static_cast<float>(b.size());
    for (int k = 0; k < 2; ++k) {
      const auto pos = static_cast<std::size_t>(uniform01(8, trial, 2 * k) * span);
      b[std::min(pos, b.size() - 1)] = static_cast<std::uint8_t>(uniform01(8, trial, 2 * k + 1) * 256.0f);
    }
    try {
      const Tensor t = parse_npy(b, "mutant");
      EXPECT_EQ(static_cast<std::int64_t>(t.data.size()), t.shape.numel());
      ++parsed;
    } catch (const InvalidInput&) {
      ++rejected;
    } catch (const Unsupported&) {
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}

TEST(Npy, EncodeRejectsInconsistentTensor) {
  EXPECT_THROW((void)encode_npy(Tensor(Shape{7}, std::vector<float>(5, 1.0f))), InvalidInput);
}

}  // namespace
}  // namespace vramfit
