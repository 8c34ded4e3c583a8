// Checkpoint binding: exact values by name (F32 and F16 files), num_batches_tracked ignored, and one
// InvalidInput that lists every missing, misshapen, non-float and unexpected tensor.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "graph/graph.h"
#include "weights/binding.h"

namespace vramfit {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Named = std::map<std::string, Tensor, std::less<>>;

// conv(7, 3×3) → bn → relu → global pool → flatten → fc(5): seven parameters.
Graph tiny_graph() {
  Graph g("tiny");
  ValueId x = g.add_input("input", Shape{2, 3, 9, 9});
  Conv2dAttrs c;
  c.out_channels = 7;
  c.kernel_h = c.kernel_w = 3;
  c.pad_h = c.pad_w = 1;
  x = g.add_conv2d("conv1", x, c);
  x = g.add_batchnorm("bn1", x);
  x = g.add_unary("relu", OpKind::Relu, x);
  x = g.add_global_avg_pool("pool", x);
  x = g.add_flatten("flatten", x);
  g.mark_output(g.add_linear("fc", x, 5));
  return g;
}

Named random_checkpoint(const Graph& g) {
  Named m;
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    Tensor t(v.shape);
    for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = 0.5f + normal01(17, stream_id(v.name), i);
    m.emplace(v.name, std::move(t));
  }
  return m;
}

std::string temp_path(const std::string& stem) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() /
          (std::string("vramfit_bind_") + info->name() + "_" + stem + "_" + std::to_string(::getpid()) +
           ".safetensors"))
      .string();
}

SafetensorsFile write_and_open(const Named& m, const std::string& stem) {
  const std::string path = temp_path(stem);
  write_safetensors_f32(path, m);
  SafetensorsFile f = SafetensorsFile::open(path);
  std::filesystem::remove(path);  // the mapping outlives the name (POSIX)
  return f;
}

// A file of (name, dtype, shape, raw bytes), laid out back to back, for dtypes the writer lacks.
struct RawTensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  Bytes data;
};
SafetensorsFile raw_file(const std::vector<RawTensor>& ts, const std::string& label) {
  std::string header = "{";
  Bytes data;
  for (const auto& t : ts) {
    std::string shape;
    for (auto d : t.shape) {
      if (!shape.empty()) shape += ',';
      shape += std::to_string(d);
    }
    if (header.size() > 1) header += ',';
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(data.size() + t.data.size()) + "]}";
    data.insert(data.end(), t.data.begin(), t.data.end());
  }
  header += "}";
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>((header.size() >> (8 * i)) & 0xff));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return SafetensorsFile::from_bytes(std::move(b), label);
}

std::string bind_error(const Graph& g, const SafetensorsFile& f) {
  try {
    (void)bind_checkpoint(g, f);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  ADD_FAILURE() << "binding succeeded";
  return {};
}

TEST(BindCheckpoint, BindsEveryParameterExactly) {
  const Graph g = tiny_graph();
  Named m = random_checkpoint(g);
  ASSERT_EQ(m.size(), 7u);
  m.emplace("bn1.num_batches_tracked", Tensor(Shape{}, {3.0f}));  // torch's BN counter: ignored
  const SafetensorsFile f = write_and_open(m, "ok");
  const TensorMap w = bind_checkpoint(g, f);
  EXPECT_EQ(w.size(), 7u);
  EXPECT_EQ(w.count("bn1.num_batches_tracked"), 0u);
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    ASSERT_TRUE(w.count(v.name)) << v.name;
    EXPECT_EQ(w.at(v.name).shape, v.shape);
    EXPECT_EQ(w.at(v.name).data, m.at(v.name).data) << v.name;
  }
}

TEST(BindCheckpoint, F16CheckpointAndI64CounterAsTorchSavesThem) {
  const Graph g = tiny_graph();
  const Named m = random_checkpoint(g);
  std::vector<RawTensor> ts;
  for (const auto& [name, t] : m) {
    RawTensor r{name, "F16", t.shape.dims(), {}};
    for (float x : t.data) {
      const std::uint16_t h = float_to_half_bits(x);
      r.data.push_back(static_cast<std::uint8_t>(h & 0xff));
      r.data.push_back(static_cast<std::uint8_t>(h >> 8));
    }
    ts.push_back(std::move(r));
  }
  ts.push_back({"bn1.num_batches_tracked", "I64", {}, Bytes{7, 0, 0, 0, 0, 0, 0, 0}});
  const TensorMap w = bind_checkpoint(g, raw_file(ts, "f16.safetensors"));
  ASSERT_EQ(w.size(), 7u);
  for (const auto& [name, t] : m)
    for (std::size_t i = 0; i < t.data.size(); ++i) ASSERT_EQ(w.at(name).data[i], round_to_half(t.data[i])) << name;
}

TEST(BindCheckpoint, ListsEveryProblemInOneError) {
  const Graph g = tiny_graph();
  Named m = random_checkpoint(g);
  m.erase("bn1.running_var");                                   // missing
  m.at("fc.weight") = Tensor(Shape{7, 5}, m.at("fc.weight").data);  // transposed: same numel, wrong dims
  m.at("conv1.weight") = Tensor(Shape{7, 3, 5, 5}, std::vector<float>(7 * 3 * 25, 0.5f));  // wrong numel
  m.emplace("head.weight", Tensor(Shape{19}, std::vector<float>(19, 1.0f)));               // unexpected
  const std::string path = temp_path("bad");
  write_safetensors_f32(path, m);
  const SafetensorsFile f = SafetensorsFile::open(path);
  std::filesystem::remove(path);
  const std::string msg = bind_error(g, f);
  for (const std::string& frag :
       {path, std::string("\"tiny\""), std::string("1 missing"), std::string("2 misshapen"),
        std::string("1 unexpected"), std::string("bn1.running_var"), std::string("fc.weight: checkpoint has [7, 5]"),
        std::string("graph expects [5, 7]"), std::string("conv1.weight: checkpoint has [7, 3, 5, 5] (525 elements)"),
        std::string("head.weight [19]")})
    EXPECT_NE(msg.find(frag), std::string::npos) << "missing '" << frag << "' in:\n" << msg;
}

TEST(BindCheckpoint, NonFloatParameterIsAnError) {
  const Graph g = tiny_graph();
  const Named m = random_checkpoint(g);
  std::vector<RawTensor> ts;
  for (const auto& [name, t] : m) {
    if (name == "fc.bias") {
      ts.push_back({name, "I64", t.shape.dims(), Bytes(t.data.size() * 8, 1)});
      continue;
    }
    Bytes b(t.data.size() * 4);
    std::memcpy(b.data(), t.data.data(), b.size());
    ts.push_back({name, "F32", t.shape.dims(), std::move(b)});
  }
  const std::string msg = bind_error(g, raw_file(ts, "ints.safetensors"));
  EXPECT_NE(msg.find("fc.bias: dtype I64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ints.safetensors"), std::string::npos) << msg;
}

TEST(BindCheckpoint, AnotherModelsCheckpointListsTenAndCounts) {
  const Graph g = tiny_graph();
  Named other;
  for (int i = 0; i < 19; ++i)
    other.emplace("blocks." + std::to_string(i) + ".weight", Tensor(Shape{7}, std::vector<float>(7, 0.25f)));
  const SafetensorsFile f = write_and_open(other, "other");
  const std::string msg = bind_error(g, f);
  EXPECT_NE(msg.find("7 missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("19 unexpected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("and 16 more"), std::string::npos) << msg;  // 26 problems, 10 listed
  std::size_t lines = 0;
  for (char c : msg) lines += c == '\n';
  EXPECT_EQ(lines, 11u) << msg;
}

TEST(BindCheckpoint, EmptyGraphAndEmptyFileBindNothing) {
  Graph g("empty");
  g.mark_output(g.add_input("input", Shape{1, 7}));
  const SafetensorsFile f = write_and_open({}, "empty");
  EXPECT_TRUE(bind_checkpoint(g, f).empty());
}

}  // namespace
}  // namespace vramfit
