#include "predict/gpu_spec.h"

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

template <class F>
std::string invalid_input_message(F&& f) {
  try {
    f();
  } catch (const InvalidInput& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidInput, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InvalidInput, nothing thrown";
  return {};
}

TEST(GpuDatabase, EveryEntryHasEveryRequiredFieldAndASource) {
  ASSERT_GE(db().gpus.size(), 35u);
  for (const auto& g : db().gpus) {
    SCOPED_TRACE(g.name);
    EXPECT_FALSE(g.name.empty());
    EXPECT_FALSE(g.architecture.empty());
    EXPECT_GE(g.compute_capability, 75);
    EXPECT_GE(g.vram_bytes, 8ull << 30);
    EXPECT_GT(g.memory_bandwidth_gbs, 200.0);
    EXPECT_GT(g.sms, 20);
    EXPECT_GT(g.fp32_tflops, 5.0);
    // Tensor fp16 is never slower than plain fp32 on these cards, and int8 at least the fp16 rate.
    EXPECT_GE(g.fp16_tflops, g.fp32_tflops);
    EXPECT_GE(g.int8_tops, g.fp16_tflops);
    EXPECT_EQ(g.bf16_tflops.has_value(), g.compute_capability >= 80);
    EXPECT_EQ(g.fp8_tflops.has_value(), g.compute_capability >= 89);
    if (g.fp16_fp16acc_tflops) {
      EXPECT_GE(*g.fp16_fp16acc_tflops, g.fp16_tflops);
    }
    EXPECT_GE(g.source.size(), 10u) << "every entry cites its document";
    if (g.name.find("Laptop") != std::string::npos) {
      EXPECT_NE(g.note.find("power limit"), std::string::npos) << "laptop figures depend on the OEM's TGP";
    }
  }
}

TEST(GpuDatabase, HoldsTheCardsTheTeamAsksAbout) {
  for (const char* name :
       {"RTX 3060", "RTX 3060 Ti", "RTX 3070", "RTX 3070 Ti", "RTX 3080", "RTX 3080 Ti", "RTX 3090", "RTX 3090 Ti",
        "RTX 3070 Laptop", "RTX 3080 Laptop", "RTX 4060", "RTX 4060 Ti", "RTX 4070", "RTX 4070 Ti", "RTX 4070 Ti Super",
        "RTX 4080", "RTX 4080 Super", "RTX 4090", "RTX 4060 Laptop", "RTX 4070 Laptop", "RTX 4080 Laptop",
        "RTX 4090 Laptop", "RTX 5070", "RTX 5070 Ti", "RTX 5080", "RTX 5090", "RTX 5090 Laptop", "A10", "L4", "T4",
        "A100 40GB", "A100 80GB", "H100 SXM", "H100 PCIe", "H200"})
    EXPECT_NE(db().try_find(name), nullptr) << name;
}

TEST(GpuDatabase, SpotChecksAgainstTheCitedDocuments) {
  // GA102 whitepaper, RTX 3090 column: 35.6 fp32, 71 fp16 tensor (fp32 acc), 142 with fp16 acc, 936 GB/s.
  const GpuSpec& g3090 = db().find("RTX 3090");
  EXPECT_DOUBLE_EQ(g3090.fp32_tflops, 35.6);
  EXPECT_DOUBLE_EQ(g3090.fp16_tflops, 71.0);
  EXPECT_DOUBLE_EQ(*g3090.fp16_fp16acc_tflops, 142.0);
  EXPECT_EQ(g3090.vram_bytes, 24ull << 30);
  EXPECT_EQ(g3090.compute_capability, 86);
  // Ada whitepaper, RTX 4090: 82.6 fp32, 165.2 fp16 (fp32 acc), 660.6 int8.
  const GpuSpec& g4090 = db().find("RTX 4090");
  EXPECT_DOUBLE_EQ(g4090.fp16_tflops, 165.2);
  EXPECT_DOUBLE_EQ(g4090.int8_tops, 660.6);
  // H200 datasheet: 1979 TFLOPS fp16 with sparsity → 989.5 dense; 4.8 TB/s.
  const GpuSpec& h200 = db().find("H200");
  EXPECT_DOUBLE_EQ(h200.fp16_tflops, 989.5);
  EXPECT_DOUBLE_EQ(h200.memory_bandwidth_gbs, 4800.0);
  EXPECT_EQ(h200.compute_capability, 90);
  EXPECT_EQ(db().find("RTX 5070 Ti").compute_capability, 120);
  EXPECT_EQ(db().find("RTX 4080 Laptop").vram_bytes, 12ull << 30);
}

TEST(GpuDatabase, LookupIgnoresCaseVendorWordsSpacesAndHyphens) {
  EXPECT_EQ(db().find("GeForce RTX 3070 Ti").name, "RTX 3070 Ti");
  EXPECT_EQ(db().find("nvidia geforce rtx-3070ti").name, "RTX 3070 Ti");
  EXPECT_EQ(db().find("rtx_3070_TI").name, "RTX 3070 Ti");
  EXPECT_EQ(db().find("NVIDIA H200").name, "H200");
  EXPECT_EQ(db().find("h100").name, "H100 SXM");
  EXPECT_EQ(db().find("GeForce RTX 4080 Laptop GPU").name, "RTX 4080 Laptop");
  EXPECT_EQ(db().find("RTX 4080").name, "RTX 4080") << "the desktop card is not the laptop part";
  EXPECT_EQ(normalize_gpu_name("NVIDIA GeForce RTX 4070 Ti SUPER"), "rtx4070tisuper");
}

TEST(GpuDatabase, UnknownNameListsCloseMatches) {
  const std::string m = invalid_input_message([] { (void)db().find("RTX 3070 Tii"); });
  EXPECT_NE(m.find("RTX 3070 Tii"), std::string::npos) << m;
  EXPECT_NE(m.find("'RTX 3070 Ti'"), std::string::npos) << m;
  EXPECT_NE(m.find("gpus.toml"), std::string::npos) << m;
  const auto near = db().closest("RTX 4090 Laptp");
  ASSERT_EQ(near.size(), 5u);
  EXPECT_EQ(near.front(), "RTX 4090 Laptop");
}

TEST(GpuDatabase, PrecisionGatesFollowComputeCapability) {
  EXPECT_TRUE(precision_unsupported_reason(db().find("T4"), Precision::bf16).has_value());
  EXPECT_NE(precision_unsupported_reason(db().find("T4"), Precision::bf16)->find("sm_80"), std::string::npos);
  EXPECT_TRUE(precision_unsupported_reason(db().find("RTX 3070 Ti"), Precision::fp8).has_value());
  EXPECT_FALSE(precision_unsupported_reason(db().find("RTX 3070 Ti"), Precision::bf16).has_value());
  EXPECT_FALSE(precision_unsupported_reason(db().find("RTX 4060"), Precision::fp8).has_value());
}

TEST(GpuDatabase, ContextOverheadDefaultsAreStatedAndTheH200OneIsMeasured) {
  const auto h = default_context_overhead("hopper");
  EXPECT_EQ(h.bytes, 573374464u);  // bench/results/2026-11-28-h200/vramfit-run.json context_and_handles
  EXPECT_NE(h.source.find("measured"), std::string::npos);
  for (const char* a : {"turing", "ampere", "ada", "blackwell", "something-new"}) {
    const auto c = default_context_overhead(a);
    EXPECT_GE(c.bytes, 300ull << 20) << a;
    EXPECT_LE(c.bytes, 600ull << 20) << a;
    EXPECT_NE(c.source.find("assumed"), std::string::npos) << a;
  }
}

TEST(GpuDatabaseErrors, BrokenTomlNamesFileAndLine) {
  TempDir t;
  const auto p = t.write("broken.toml", test::valid_gpu_entry() + "sms = = 4\n");
  const std::string m = invalid_input_message([&] { (void)load_gpu_database(p); });
  EXPECT_NE(m.find(p.string() + ":14"), std::string::npos) << m;
  EXPECT_NE(m.find("not valid TOML"), std::string::npos) << m;
}

TEST(GpuDatabaseErrors, BadEntriesNameTheEntryAndField) {
  TempDir t;
  struct Case { std::string text, expect; };
  const std::string good = test::valid_gpu_entry();
  auto without = [&](const std::string& line) {
    std::string s = good;
    s.erase(s.find(line), line.size());
    return s;
  };
  auto replaced = [&](const std::string& line, const std::string& by) {
    std::string s = good;
    s.replace(s.find(line), line.size(), by);
    return s;
  };
  const Case cases[] = {
      {without("source = \"test\"\n"), "missing field 'source'"},
      {without("sms = 46\n"), "missing field 'sms'"},
      {without("bf16_tflops = 40.6\n"), "missing field 'bf16_tflops'"},
      {replaced("vram = \"8GiB\"", "vram = \"8GB?\""), "field 'vram'"},
      {replaced("compute_capability = \"8.6\"", "compute_capability = 86"), "field 'compute_capability'"},
      {replaced("fp16_tflops = 40.6", "fp16_tflops = -1.0"), "field 'fp16_tflops' must be > 0"},
      {replaced("int8_tops = 162.6", "int8_tops = \"fast\""), "field 'int8_tops' must be a number"},
      {good + "fp8_tflops = 10.0\n", "field 'fp8_tflops' given but sm_86 has no fp8"},
      {good + "fp16_tflop = 10.0\n", "unknown field 'fp16_tflop'"},
      {good + "\n" + test::valid_gpu_entry("TC-1"), "already belongs to 'Test Card'"},
      {"title = \"no gpus\"\n", "expected [[gpu]] tables"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const auto p = t.write("case" + std::to_string(i++) + ".toml", c.text);
    const std::string m = invalid_input_message([&] { (void)load_gpu_database(p); });
    EXPECT_NE(m.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << m;
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  }
  EXPECT_THROW((void)load_gpu_database(t.path() / "missing.toml"), InvalidInput);
}

}  // namespace
}  // namespace vramfit
