// The cross-card time model (predict/time_model.h): the optimiser on known functions, and fits that
// recover known engine behaviour from synthetic measurements made by the model itself on one card, then
// predict another card as the true model would. (How far the model is from real engines on real cards
// is scripts/cross-card's measurement, recorded in bench/results/, not a unit test's.)
#include "predict/time_model.h"

#include <cmath>
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/decoder_plan.h"
#include "predict/latency.h"
#include "test_files.h"

namespace vramfit {
namespace {

const GpuDatabase& db() {
  static const GpuDatabase d = load_gpu_database(test::gpus_toml());
  return d;
}

TEST(TimeModel, NelderMeadFindsTheMinimumOfKnownFunctions) {
  const auto bowl = [](const std::vector<double>& x) { return (x[0] - 3) * (x[0] - 3) + 10 * (x[1] + 1) * (x[1] + 1); };
  const auto x = nelder_mead(bowl, {0, 0}, 1.0, 500);
  EXPECT_NEAR(x[0], 3, 1e-3);
  EXPECT_NEAR(x[1], -1, 1e-3);
  // Rosenbrock's valley, restarted as the fits do.
  const auto rosen = [](const std::vector<double>& v) { return 100 * std::pow(v[1] - v[0] * v[0], 2) + std::pow(1 - v[0], 2); };
  std::vector<double> r{-1.2, 1};
  for (int i = 0; i < 4; ++i) r = nelder_mead(rosen, r, 0.5, 2000);
  EXPECT_NEAR(r[0], 1, 1e-2);
  EXPECT_NEAR(r[1], 1, 2e-2);
}

// A model whose per-model fit is known: the measurements a card "makes" are its predictions.
TimeModel truth(const GpuSpec& card) {
  TimeModel t;
  t.card = card;
  VisionFit f;
  f.compute = 0.45;
  f.bandwidth = 0.3;
  f.fixed_ms = 0.8;
  t.per_model[{"resnet50", Precision::fp16}] = f;
  f.compute = 0.6;
  f.bandwidth = 0.5;
  f.fixed_ms = 0.2;
  t.per_model[{"vit-b16", Precision::fp16}] = f;
  VisionFit cls;
  cls.per_kernel = true;
  cls.fixed_ms = 0.004;
  t.per_class[true] = cls;
  return t;
}

TEST(TimeModel, AFitOnOneCardRecoversTheEngineAndPredictsAnother) {
  const GpuSpec& h200 = db().find("H200");
  const GpuSpec& ti = db().find("RTX 3070 Ti");
  const TimeModel t = truth(h200);
  std::vector<VisionSample> samples;
  for (const char* model : {"resnet50", "vit-b16"})
    for (std::int64_t b : {1, 8, 32, 64, 256}) {
      const auto e = vision_time(t, find_model(model), Precision::fp16, b, h200);
      ASSERT_TRUE(e);
      samples.push_back({model, Precision::fp16, b, e->ms});
    }
  const TimeModel fitted = fit_time_model(h200, samples, {}, {});
  ASSERT_EQ(fitted.per_model.size(), 2u);
  for (const auto& [key, f] : fitted.per_model) EXPECT_LT(f.median_error, 0.01) << key.first;
  for (const char* model : {"resnet50", "vit-b16"})
    for (std::int64_t b : {1, 16, 128}) {
      const double want = vision_time(t, find_model(model), Precision::fp16, b, ti)->ms;
      const double got = vision_time(fitted, find_model(model), Precision::fp16, b, ti)->ms;
      EXPECT_NEAR(got / want, 1.0, 0.03) << model << " b" << b << ": " << got << " vs " << want;
    }
  // A model the calibration never measured falls back to the per-class fit, and says so.
  const auto yolo = vision_time(fitted, find_model("yolo11n-pose"), Precision::fp16, 8, ti);
  ASSERT_TRUE(yolo);
  EXPECT_NE(yolo->source.find("no yolo11n-pose fp16 measured there"), std::string::npos) << yolo->source;
  // A precision the model was not measured at borrows from the model's own fit at another precision.
  const auto r32 = vision_time(fitted, find_model("resnet50"), Precision::fp32, 8, ti);
  ASSERT_TRUE(r32);
  EXPECT_NE(r32->source.find("borrowed from its fp16 fit"), std::string::npos) << r32->source;
  // The card's gate comes first: the 3070 Ti has no fp8.
  EXPECT_THROW((void)vision_time(fitted, find_model("resnet50"), Precision::fp8, 8, ti), Unsupported);
}

TEST(TimeModel, LlmDecodeIsFixedCostPlusBytesOverBandwidth) {
  const GpuSpec& h100 = db().find("H100 SXM");
  const GpuSpec& ti = db().find("RTX 3070 Ti");
  const DecoderConfig c = find_model("llama-7b").decoder();
  // Synthetic kernels: every GEMV type streams at 0.92 of the bandwidth after a 4 µs ramp.
  std::vector<GemvSample> gemv;
  for (const char* type : {"q8_0", "q4_0"})
    for (double mb : {18.0, 48.0, 139.0}) gemv.push_back({type, mb * 1e6, 4.0 + mb * 1e6 / (h100.memory_bandwidth_gbs * 1e9 * 0.92) * 1e6});
  // A true step: 0.9 ms fixed + weights at 0.92 + KV at 0.6.
  auto step = [&](const GpuSpec& g, Precision p, std::int64_t ctx) {
    const double bw = g.memory_bandwidth_gbs * 1e9;
    return 0.9e-3 + static_cast<double>(llm_streamed_weight_bytes(c, p)) / (bw * 0.92) +
           static_cast<double>(ctx) * static_cast<double>(llm_kv_bytes_per_token(c)) / (bw * 0.6);
  };
  std::vector<LlmSample> llm;
  for (Precision p : {Precision::int8, Precision::int4}) {
    LlmSample s;
    s.model = "llama-7b";
    s.precision = p;
    s.context = 512;
    s.decode_tokens_per_s = 1 / step(h100, p, 512);
    s.max_context = 4096;
    s.decode_tokens_per_s_max_context = 1 / step(h100, p, 4096);
    s.prefill_tokens = 511;
    s.prefill_tokens_per_s = 511 / (llm_prefill_flops(c, 511) / (989.5e12 * 0.3));
    llm.push_back(s);
  }
  const TimeModel tm = fit_time_model(h100, {}, llm, gemv);
  EXPECT_NEAR(tm.gemv_bandwidth, 0.92, 1e-3) << tm.gemv_source;
  const LlmFit& f = tm.llm.at(Precision::int8);
  EXPECT_NEAR(f.kv_bandwidth, 0.6, 1e-3);
  EXPECT_NEAR(f.fixed_ms, 0.9, 1e-3);
  EXPECT_NEAR(f.prefill_compute, 0.3, 1e-3);
  // On the 3070 Ti the true step again (the fixed cost is kept in ms: what transfers).
  const auto e = llm_speed(tm, c, Precision::int4, 512, 1, ti);
  ASSERT_TRUE(e);
  EXPECT_NEAR(e->decode_tokens_per_s * step(ti, Precision::int4, 512), 1.0, 1e-3);
  EXPECT_NEAR(e->prefill_tokens_per_s / (511 / (llm_prefill_flops(c, 511) / (ti.fp16_tflops * 1e12 * 0.3))), 1.0, 0.01);
  // fp16 was not measured: the medians of the measured precisions, said in the source.
  const auto f16 = llm_speed(tm, c, Precision::fp16, 512, 1, ti);
  ASSERT_TRUE(f16);
  EXPECT_NE(f16->source.find("no fp16 measured there"), std::string::npos) << f16->source;
  EXPECT_LT(f16->decode_tokens_per_s, e->decode_tokens_per_s);  // twice the bytes of int8, four times int4's
  // A large batch reads the weights once but turns compute-bound: tokens/s grow less than the batch.
  const auto b64 = llm_speed(tm, c, Precision::int4, 512, 64, ti);
  EXPECT_GT(b64->decode_tokens_per_s, e->decode_tokens_per_s);
  EXPECT_LT(b64->decode_tokens_per_s, 64 * e->decode_tokens_per_s);
}

TEST(TimeModel, StreamedBytesAreTheWeightsLessTheEmbeddingTable) {
  const DecoderConfig c = find_model("llama-7b").decoder();
  std::uint64_t all = 0;
  (void)plan_llm_weights(c, Precision::fp16, &all);
  const std::uint64_t streamed = llm_streamed_weight_bytes(c, Precision::fp16);
  const std::uint64_t table = static_cast<std::uint64_t>(c.vocab_size * c.hidden_size) * 2;  // untied: read one row per token
  EXPECT_LT(streamed, all);
  EXPECT_NEAR(static_cast<double>(all - streamed), static_cast<double>(table), 0.01 * static_cast<double>(table));
  // llama-7b at fp16: the GEMVs of bench_llm_kernels read 13.21 GB per token (bench/results/…/llm-kernels-bench.txt).
  EXPECT_NEAR(static_cast<double>(streamed) / 1e9, 13.21, 0.1);
}

TEST(TimeModel, NothingToFitIsAnError) { EXPECT_THROW((void)fit_time_model(db().find("H200"), {}, {}, {}), InvalidInput); }

}  // namespace
}  // namespace vramfit
