// GGUF against an implementation nobody here wrote: the gguf Python package (PyPI `gguf`,
// llama.cpp's gguf-py), driven by tests/weights/gguf_reference.py.
//   * a file written by the package's GGUFWriter (metadata of every type, tensors of every type we
//     support, quantized by its numpy quantizers where it has them) reads the same with our reader
//     as with the package's GGUFReader: keys, types, values, tensor names, types, extents, offsets,
//     and dequantized values (its dequantize, also for Q4_K/Q6_K) — bit for bit;
//   * our Q8_0/Q4_0 quantizers produce the package's bytes (both follow ggml's reference arithmetic),
//     and our F16/BF16 conversions its rounding;
//   * a file written by us (metadata, our Q8_0/Q4_0/Q4_K/Q6_K blocks, a Llama model in Q4_K_M) reads
//     the same with the package, and its dequantize of our blocks equals ours;
//   * our ggml type table agrees with its GGML_QUANT_SIZES.
// The interpreter: VRAMFIT_PYTHON (scripts/test sets it to the .venv's), else <source>/.venv. Without
// one the tests skip — except under CI=true, where a missing reference is a failure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"
#include "models/decoder_weights.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

std::string python() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("VRAMFIT_PYTHON")) candidates.push_back(p);
  candidates.push_back(std::string(VRAMFIT_SOURCE_DIR) + "/.venv/bin/python");
  for (const auto& c : candidates)
    if (std::system(("'" + c + "' -c 'import gguf, numpy' >/dev/null 2>&1").c_str()) == 0) return c;
  return "";
}

class GgufPython : public ::testing::Test {
 protected:
  void SetUp() override {
    py_ = python();
    if (py_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci && std::string(ci) == "true") FAIL() << "CI=true but no Python with the gguf package (set VRAMFIT_PYTHON)";
      GTEST_SKIP() << "no Python with the gguf package (set VRAMFIT_PYTHON or run scripts/deps); the C++-only GGUF tests still ran";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (std::string("vramfit_gguf_py_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void run_script(const std::string& args) {
    const std::string script = std::string(VRAMFIT_SOURCE_DIR) + "/tests/weights/gguf_reference.py";
    const std::string cmd = "'" + py_ + "' '" + script + "' " + args;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  json load_dump() const {
    std::ifstream in(dir_ / "dump.json");
    return json::parse(in);
  }
  std::vector<float> load_f32(const std::string& name) const {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
  }
  std::string py_;
  fs::path dir_;
};

// Our value as GGUFReader presents it: its type chain ([ARRAY, …, leaf]) and its contents, nested
// arrays flattened (GGUFReader.contents() flattens them).
json types_of(const GgufValue& v) {
  json t = json::array({static_cast<int>(v.type())});
  if (v.is_array()) {
    if (v.element_type() == GgufValueType::Array && !v.arrays().empty()) {
      for (const auto& x : types_of(v.arrays()[0])) t.push_back(x);
    } else {
      t.push_back(static_cast<int>(v.element_type()));
    }
  }
  return t;
}

void flatten(const GgufValue& v, json& out) {
  for (std::uint64_t i = 0; i < v.size(); ++i) {
    const GgufValue x = v.at(i);
    if (x.is_array()) flatten(x, out);
    else if (x.as_string()) out.push_back(*x.as_string());
    else if (x.as_bool()) out.push_back(*x.as_bool());
    else if (x.is_float()) out.push_back(*x.as_float());
    else if (x.type() == GgufValueType::UInt64) out.push_back(*x.as_uint());
    else out.push_back(*x.as_int());
  }
}

json contents_of(const GgufValue& v) {
  if (v.is_array()) {
    json a = json::array();
    flatten(v, a);
    return a;
  }
  if (v.as_string()) return *v.as_string();
  if (v.as_bool()) return *v.as_bool();
  if (v.is_float()) return *v.as_float();
  if (v.type() == GgufValueType::UInt64) return *v.as_uint();
  return *v.as_int();
}

// Our reader's view of a file against the package's dump of it: metadata, tensor infos and the
// dequantized values of every supported tensor, exactly.
void expect_same_as_package(const GgufFile& f, const json& d, const fs::path& dir, int& compared_values) {
  EXPECT_EQ(f.alignment(), d["alignment"].get<std::uint64_t>());
  EXPECT_EQ(f.data_offset(), d["data_offset"].get<std::uint64_t>());
  const auto& meta = d["metadata"];
  ASSERT_EQ(f.metadata().size(), meta.size());
  for (std::size_t i = 0; i < meta.size(); ++i) {
    const GgufKeyValue& kv = f.metadata()[i];
    SCOPED_TRACE(kv.key);
    EXPECT_EQ(kv.key, meta[i]["key"].get<std::string>());
    EXPECT_EQ(types_of(kv.value), meta[i]["types"]);
    EXPECT_EQ(contents_of(kv.value), meta[i]["value"]);
    EXPECT_EQ(kv.file_offset, meta[i]["offset"].get<std::uint64_t>());
  }
  const auto& ts = d["tensors"];
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, ts[i]["name"].get<std::string>());
    EXPECT_EQ(static_cast<std::uint32_t>(t.type), ts[i]["type"].get<std::uint32_t>());
    EXPECT_EQ(t.ne, ts[i]["ne"].get<std::vector<std::uint64_t>>());
    EXPECT_EQ(t.file_offset, ts[i]["offset"].get<std::uint64_t>());
    EXPECT_EQ(t.nbytes, ts[i]["n_bytes"].get<std::uint64_t>());
    if (!ggml_type_supported(t.type)) {
      EXPECT_THROW((void)f.read_f32(t.name), Unsupported);
      continue;
    }
    ASSERT_TRUE(ts[i].contains("values"));
    std::ifstream in(dir / ts[i]["values"].get<std::string>(), std::ios::binary);
    std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> want(b.size() / 4);
    std::memcpy(want.data(), b.data(), want.size() * 4);
    const Tensor got = f.read_f32(t.name);
    ASSERT_EQ(got.data.size(), want.size());
    std::size_t differ = 0;
    for (std::size_t k = 0; k < want.size(); ++k)
      if (std::memcmp(&got.data[k], &want[k], 4) != 0) ++differ;
    EXPECT_EQ(differ, 0u) << to_string(t.type) << ": " << differ << " of " << want.size() << " values differ";
    compared_values += static_cast<int>(want.size());
  }
}

TEST_F(GgufPython, PackageFileReadsTheSame) {
  run_script("write '" + dir_.string() + "'");
  const GgufFile f = GgufFile::open((dir_ / "pkg.gguf").string());
  int n = 0;
  expect_same_as_package(f, load_dump(), dir_, n);
  EXPECT_GT(n, 3000);
  // And the llama keys the package's writer helpers produced map onto our config.
  const GgufLlamaConfig c = gguf_llama_config(f);
  EXPECT_EQ(c.block_count, 2);
  EXPECT_EQ(c.embedding_length, 256);
  EXPECT_EQ(c.feed_forward_length, 512);
  EXPECT_EQ(c.head_count, 4);
  EXPECT_EQ(c.head_count_kv, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.context_length, 4096);
  EXPECT_EQ(c.rope_dimension_count, 64);
  EXPECT_EQ(c.vocab_size, 40);  // from tokenizer.ggml.tokens
  EXPECT_EQ(c.rope_freq_base, 500000.0);
  EXPECT_NEAR(c.rms_norm_eps, 1e-5, 1e-12);
}

TEST_F(GgufPython, OurQuantizersMatchThePackageBitForBit) {
  run_script("write '" + dir_.string() + "'");
  const GgufFile f = GgufFile::open((dir_ / "pkg.gguf").string());
  for (const char* name : {"w.f16", "w.bf16", "w.q8_0", "w.q4_0"}) {
    const GgufTensorInfo* t = f.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    const std::vector<float> src = load_f32(std::string("src_") + name + ".f32");
    ASSERT_EQ(src.size(), t->numel()) << name;
    const Bytes ours = gguf_quantize(t->type, src);
    const auto theirs = f.bytes(*t);
    ASSERT_EQ(ours.size(), theirs.size()) << name;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) differ += ours[i] != theirs[i];
    EXPECT_EQ(differ, 0u) << name << ": " << differ << " of " << ours.size() << " bytes differ";
  }
}

TEST_F(GgufPython, PackageReadsOurFileTheSame) {
  GgufWriter w(64);
  w.add("general.architecture", GgufValue::string("test"));
  w.add("t.u8", GgufValue::u8(7));
  w.add("t.i16", GgufValue::i16(-12345));
  w.add("t.u64", GgufValue::u64(1ull << 63));
  w.add("t.i64", GgufValue::i64(-5));
  w.add("t.f32", GgufValue::f32(-0.3f));
  w.add("t.f64", GgufValue::f64(2.5e-200));
  w.add("t.bool", GgufValue::boolean(false));
  w.add("t.str", GgufValue::string("tëst"));
  w.add("t.strs", GgufValue::string_array({"x", "yy", ""}));
  w.add("t.u16s", GgufValue::array(GgufValueType::UInt16, {GgufValue::u16(3), GgufValue::u16(65535)}));
  w.add("t.nested", GgufValue::array(GgufValueType::Array,
                                     {GgufValue::array(GgufValueType::Int8, {GgufValue::i8(-1), GgufValue::i8(2)}),
                                      GgufValue::array(GgufValueType::Int8, {GgufValue::i8(3)})}));
  // Blocks from our quantizers at an awkward shape: 7 rows of 768 (3 super-blocks).
  std::vector<float> x(7 * 768);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.7f * normal01(5, 1, i) + (i % 97 == 0 ? 4.0f : 0.0f);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K})
    w.add_tensor(std::string("q.") + std::string(to_string(t)), t, {768, 7}, gguf_quantize(t, x));
  const std::string path = (dir_ / "ours.gguf").string();
  w.write(path);
  run_script("dump '" + path + "' '" + dir_.string() + "'");
  const GgufFile f = GgufFile::open(path);
  int n = 0;
  expect_same_as_package(f, load_dump(), dir_, n);
  EXPECT_EQ(n, 7 * 7 * 768);
}

TEST_F(GgufPython, PackageReadsOurLlamaQ4_K_M) {
  GgufLlamaConfig c;
  c.architecture = "llama";
  c.name = "tiny-q4km";
  c.block_count = 2;
  c.embedding_length = 256;
  c.feed_forward_length = 512;
  c.head_count = 4;
  c.head_count_kv = 2;
  c.head_dim = 64;
  c.context_length = 256;
  c.vocab_size = 48;
  c.rms_norm_eps = 1e-6;
  TensorMap w;
  std::uint64_t stream = 1;
  for (const auto& t : gguf_llama_tensor_shapes(c)) {
    Tensor x(Shape(std::vector<std::int64_t>(t.ne.rbegin(), t.ne.rend())));
    for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = 0.1f * normal01(3, stream, i);
    ++stream;
    w.emplace(*gguf_to_hf_name(t.name), std::move(x));
  }
  const std::string path = (dir_ / "llama.gguf").string();
  write_llama_gguf(path, c, w, GgufRecipe::Q4_K_M);
  run_script("dump '" + path + "' '" + dir_.string() + "'");
  const GgufFile f = GgufFile::open(path);
  int n = 0;
  expect_same_as_package(f, load_dump(), dir_, n);
  const GgufSizeReport r = gguf_model_size(f);
  // output, plus attn_v and ffn_down of layer 1 only: use_more_bits(i, 2) is i ≥ 7·2/8 = 1.
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::Q6_K), 1u + 2u);
  EXPECT_EQ(r.tensors_by_type.at(GgmlType::Q4_K), 1u + 2u * 7u - 2u);
}

TEST_F(GgufPython, TypeTableMatchesThePackage) {
  run_script("write '" + dir_.string() + "'");
  const json sizes = load_dump()["quant_sizes"];
  for (const auto& [id, bs] : sizes.items()) {
    const GgmlTypeInfo* ti = ggml_type_info(static_cast<std::uint32_t>(std::stoul(id)));
    ASSERT_NE(ti, nullptr) << "type id " << id << " is in the package but not in our table";
    if (ti->type == GgmlType::Q8_1) continue;  // see the type table's comment in gguf.cpp
    EXPECT_EQ(ti->block_elems, bs[0].get<std::uint32_t>()) << ti->name;
    EXPECT_EQ(ti->block_bytes, bs[1].get<std::uint32_t>()) << ti->name;
  }
  EXPECT_EQ(sizes.size(), all_ggml_types().size());
}

TEST_F(GgufPython, TruncatedPackageFileGetsAClearError) {
  run_script("write '" + dir_.string() + "'");
  const std::string path = (dir_ / "pkg.gguf").string();
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 100);  // cuts into the last tensor, w.q5_k
  try {
    (void)GgufFile::open(path);
    ADD_FAILURE() << "a truncated file was accepted";
  } catch (const InvalidInput& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("tensor \"w.q5_k\" data"), std::string::npos) << m;
    EXPECT_NE(m.find("past the end of the file"), std::string::npos) << m;
  }
}

TEST_F(GgufPython, LlamaFilesFromThePackageDequantizeAndUnpermuteLikeThePackage) {
  // tools/make_gguf_llama.py writes tiny Llama models with the package (q/k rows permuted as llama.cpp's
  // converter does) and, next to each, what the file holds in HF names and row order — dequantized
  // by the package, un-permuted by numpy. Ours (gguf_decoder_weights: our reader, dequantizer and
  // gguf_rope_rows_to_hf) must give the same values; the committed goldens must be these files.
  const std::string tool = std::string(VRAMFIT_SOURCE_DIR) + "/tools/make_gguf_llama.py";
  ASSERT_EQ(std::system(("'" + py_ + "' '" + tool + "' '" + dir_.string() + "' >/dev/null").c_str()), 0);
  for (const char* kind : {"q8_0", "q4_0", "q4_k_m"}) {
    const std::string stem = std::string("llama_tiny_") + kind;
    const GgufFile f = GgufFile::open((dir_ / (stem + ".gguf")).string());
    const TensorMap ours = gguf_decoder_weights(gguf_llama_model(f));
    const SafetensorsFile ref = SafetensorsFile::open((dir_ / (stem + ".hf.safetensors")).string());
    ASSERT_EQ(ref.entries().size(), ours.size()) << kind;
    for (const auto& e : ref.entries()) {
      const Tensor r = ref.read_f32(e.name);
      ASSERT_TRUE(ours.count(e.name)) << e.name;
      const Tensor& o = ours.at(e.name);
      ASSERT_EQ(o.shape, r.shape) << e.name;
      for (std::size_t i = 0; i < r.data.size(); ++i) ASSERT_EQ(o.data[i], r.data[i]) << kind << " " << e.name << " [" << i << "]";
    }
    // Byte for byte the committed golden (tests/golden, used by the GPU test and the CLI test).
    std::ifstream a(dir_ / (stem + ".gguf"), std::ios::binary), b(std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/" + stem + ".gguf",
                                                                   std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_TRUE(sa == sb) << stem << ".gguf differs from tests/golden (re-run tools/make_gguf_llama.py tests/golden)";
  }
}

}  // namespace
}  // namespace vramfit
