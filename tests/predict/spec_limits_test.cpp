// GPU spec fields at the edge (systems.toml's inline [system.gpu_spec], the same reader as gpus.toml):
// non-finite, zero, negative or absurd values are InvalidInput naming the file and the field, never
// "inf GB/s" in a plan or an internal stoi error.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/error.h"
#include "predict/gpu_spec.h"
#include "predict/systems.h"
#include "test_files.h"

namespace vramfit {
namespace {

using test::TempDir;

std::string spec(const std::map<std::string, std::string>& over) {
  std::map<std::string, std::string> f{
      {"name", "\"Card\""}, {"architecture", "\"ampere\""}, {"compute_capability", "\"8.6\""}, {"vram", "\"8GiB\""},
      {"memory_bandwidth_gbs", "608.0"}, {"sms", "48"}, {"fp32_tflops", "21.7"}, {"fp16_tflops", "43.5"},
      {"bf16_tflops", "43.5"}, {"int8_tops", "174.0"}, {"source", "\"test\""}};
  for (const auto& [k, v] : over) f[k] = v;
  std::string s = "[[system]]\nid = \"box\"\nprimary_use = \"x\"\n[system.gpu_spec]\n";
  for (const auto& [k, v] : f) s += k + " = " + v + "\n";
  return s;
}

TEST(SpecLimits, BadFieldsNameFileAndField) {
  const GpuDatabase db = load_gpu_database(test::gpus_toml());
  TempDir t;
  const std::pair<const char*, const char*> cases[] = {
      {"memory_bandwidth_gbs", "inf"}, {"memory_bandwidth_gbs", "nan"}, {"memory_bandwidth_gbs", "-608.0"},
      {"memory_bandwidth_gbs", "1e300"}, {"fp32_tflops", "0.0"}, {"fp16_tflops", "inf"}, {"int8_tops", "-1"},
      {"bf16_tflops", "nan"}, {"sms", "-48"}, {"sms", "0"}, {"sms", "48.5"}, {"sms", "9223372036854775807"},
      {"compute_capability", "\"99999999999.5\""}, {"compute_capability", "\"8.66\""}, {"compute_capability", "\"-8.6\""},
      {"vram", "\"99999999999999TiB\""}, {"vram", "0"}, {"vram", "-1"}, {"vram", "\"\""}, {"vram", "9223372036854775807"}};
  int i = 0;
  for (const auto& [field, value] : cases) {
    std::string name = std::to_string(i++);  // (not "s" + …: GCC 12 warns falsely, -Wrestrict)
    name += ".toml";
    const auto p = t.write(name, spec({{field, value}}));
    try {
      (void)load_systems(p, db);
      ADD_FAILURE() << field << " = " << value << " accepted";
    } catch (const InvalidInput& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(p.string()), std::string::npos) << m;
      EXPECT_NE(m.find(field), std::string::npos) << field << " = " << value << ": " << m;
    }
  }
  // Integers where a rate is expected are fine: 608 GB/s.
  const SystemsFile ok = load_systems(t.write("ok.toml", spec({{"memory_bandwidth_gbs", "608"}})), db);
  EXPECT_DOUBLE_EQ(ok.systems.at(0).gpu.memory_bandwidth_gbs, 608.0);
}

}  // namespace
}  // namespace vramfit
