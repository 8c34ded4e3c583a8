#include "predict/systems.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "test_files.h"

namespace vramfit {
namespace {

using test::TempDir;

const GpuDatabase& db() {
  static const GpuDatabase d = load_gpu_database(test::gpus_toml());
  return d;
}

std::string load_error(const std::filesystem::path& p) {
  try {
    (void)load_systems(p, db());
  } catch (const InvalidInput& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InvalidInput from " << p;
  return {};
}

TEST(Systems, ExampleFileHasTheThreeMachines) {
  const SystemsFile f = load_systems(test::source_dir() / "data" / "systems.example.toml", db());
  ASSERT_EQ(f.systems.size(), 3u);
  const SystemSpec& desk = f.find("desk-5070ti");
  EXPECT_EQ(desk.gpu.name, "RTX 5070 Ti");
  EXPECT_EQ(desk.gpu.compute_capability, 120);
  EXPECT_EQ(desk.gpu.vram_bytes, 16ull << 30);
  EXPECT_TRUE(desk.gpu_from_database);
  const SystemSpec& laptop = f.find("laptop-4080");
  EXPECT_EQ(laptop.gpu.name, "RTX 4080 Laptop");
  EXPECT_EQ(laptop.gpu.compute_capability, 89);
  EXPECT_EQ(laptop.gpu.vram_bytes, 12ull << 30);
  EXPECT_TRUE(laptop.vram_overridden);
  const SystemSpec& small = f.find("desk-3070ti");
  EXPECT_FALSE(small.gpu_from_database);
  EXPECT_EQ(small.gpu.compute_capability, 86);
  EXPECT_EQ(small.gpu.vram_bytes, 8ull << 30);
  EXPECT_DOUBLE_EQ(small.gpu.memory_bandwidth_gbs, 608.0);
  for (const auto& s : f.systems) EXPECT_FALSE(s.primary_use.empty()) << s.id;
  EXPECT_THROW((void)f.find("desk-9999"), InvalidInput);
}

TEST(Systems, VramOverrideAndProfilePathResolveAgainstTheFile) {
  TempDir t;
  const auto p = t.write("ok.toml",
                         "[[system]]\nid = \"lap\"\ngpu = \"geforce rtx 3080 laptop gpu\"\nvram = \"16GiB\"\n"
                         "primary_use = \"dev\"\nprofile = \"profiles/lap.json\"\n");
  const SystemsFile f = load_systems(p, db());
  ASSERT_EQ(f.systems.size(), 1u);
  EXPECT_EQ(f.systems[0].gpu.name, "RTX 3080 Laptop");
  EXPECT_EQ(f.systems[0].gpu.vram_bytes, 16ull << 30);
  ASSERT_TRUE(f.systems[0].profile.has_value());
  EXPECT_EQ(*f.systems[0].profile, t.path() / "profiles" / "lap.json");
}

TEST(Systems, BadFilesNameFileSystemAndField) {
  TempDir t;
  struct Case { std::string name, text, expect; };
  const Case cases[] = {
      {"unknown_gpu", "[[system]]\nid = \"a\"\ngpu = \"RTX 9090\"\nprimary_use = \"x\"\n", "system 'a': field 'gpu': unknown GPU 'RTX 9090'"},
      {"missing_use", "[[system]]\nid = \"b\"\ngpu = \"RTX 3090\"\n", "system 'b': missing field 'primary_use'"},
      {"missing_gpu", "[[system]]\nid = \"c\"\nprimary_use = \"x\"\n", "system 'c': missing field 'gpu'"},
      {"missing_id", "[[system]]\ngpu = \"RTX 3090\"\nprimary_use = \"x\"\n", "missing field 'id'"},
      {"bad_size", "[[system]]\nid = \"d\"\ngpu = \"RTX 3090\"\nvram = \"12GB?\"\nprimary_use = \"x\"\n", "system 'd': field 'vram'"},
      {"both", "[[system]]\nid = \"e\"\ngpu = \"RTX 3090\"\nprimary_use = \"x\"\n[system.gpu_spec]\nname = \"x\"\n", "system 'e': give either 'gpu'"},
      {"inline_missing", "[[system]]\nid = \"f\"\nprimary_use = \"x\"\n[system.gpu_spec]\nname = \"Mine\"\narchitecture = \"ada\"\n",
       "system 'f': gpu_spec: gpu 'Mine': missing field 'compute_capability'"},
      {"typo", "[[system]]\nid = \"g\"\ngpu = \"RTX 3090\"\nprimary_usage = \"x\"\n", "system 'g': unknown field 'primary_usage'"},
      {"dup", "[[system]]\nid = \"h\"\ngpu = \"RTX 3090\"\nprimary_use = \"x\"\n[[system]]\nid = \"h\"\ngpu = \"T4\"\nprimary_use = \"y\"\n", "duplicate id 'h'"},
      {"broken", "[[system]]\nid = \"i\"\ngpu = \"RTX 3090\nprimary_use = \"x\"\n", "not valid TOML"},
      {"empty", "# nothing\n", "expected [[system]] tables"},
  };
  for (const auto& c : cases) {
    const auto p = t.write(c.name + ".toml", c.text);
    const std::string m = load_error(p);
    EXPECT_NE(m.find(c.expect), std::string::npos) << c.name << ": expected '" << c.expect << "' in: " << m;
    EXPECT_NE(m.find(p.string()), std::string::npos) << c.name << ": " << m;
  }
  // The line of the broken string is named.
  EXPECT_NE(load_error(t.path() / "broken.toml").find("broken.toml:3"), std::string::npos) << load_error(t.path() / "broken.toml");
  EXPECT_THROW((void)load_systems(t.path() / "absent.toml", db()), InvalidInput);
}

}  // namespace
}  // namespace vramfit
