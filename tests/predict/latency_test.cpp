#include "predict/latency.h"

#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_files.h"

namespace vramfit {
namespace {

using test::TempDir;

const GpuDatabase& db() {
  static const GpuDatabase d = load_gpu_database(test::gpus_toml());
  return d;
}

// The measured median of one row of the H200 run (bench/results/2026-11-28-h200/vramfit-run.json).
double measured_h200_ms(const std::string& model, const std::string& precision, std::int64_t batch) {
  std::ifstream in(test::h200_run_json());
  const auto j = nlohmann::json::parse(in);
  for (const auto& r : j["rows"])
    if (r["model"] == model && r["precision"] == precision && r["batch"] == batch) return r["latency_ms"]["median"].get<double>();
  ADD_FAILURE() << "row not in the H200 run: " << model << " " << precision << " " << batch;
  return 0;
}

TEST(Latency, MonotoneInBatch) {
  for (const char* card : {"RTX 3070 Ti", "RTX 4080 Laptop", "H200"})
    for (const char* model : {"resnet50", "vit-b16"})
      for (Precision p : {Precision::fp32, Precision::fp16}) {
        double prev = 0;
        for (std::int64_t b : {1, 2, 3, 8, 17, 64, 256}) {
          const LatencyEstimate e = estimate_latency(find_model(model), p, b, db().find(card));
          EXPECT_GT(e.ms, prev) << card << " " << model << " " << to_string(p) << " b" << b;
          EXPECT_EQ(e.label, "estimate");
          prev = e.ms;
        }
      }
}

TEST(Latency, RooflineUsesThePrecisionsRateAndTheBandwidth) {
  const ModelInfo& m = find_model("resnet50");
  const GpuSpec& g = db().find("RTX 3090");
  const Roofline r32 = roofline(m, Precision::fp32, 64, g);
  const Roofline r16 = roofline(m, Precision::fp16, 64, g);
  EXPECT_EQ(r32.flops, r16.flops);
  // fp32 runs at 35.6 TFLOP/s, fp16 tensor (fp32 accumulate) at 71: half the compute time.
  EXPECT_NEAR(r16.compute_ms / r32.compute_ms, 35.6 / 71.0, 1e-9);
  EXPECT_LT(r16.bytes, r32.bytes);
  EXPECT_NEAR(r32.memory_ms, static_cast<double>(r32.bytes) / 936e9 * 1e3, 1e-9);
  EXPECT_GE(r32.ms, std::max(r32.compute_ms, r32.memory_ms));
  EXPECT_LE(r32.ms, r32.compute_ms + r32.memory_ms + 1e-12);
  // A faster card (same bandwidth class, more compute) is never slower.
  EXPECT_LT(roofline(m, Precision::fp16, 64, db().find("RTX 4090")).ms, r16.ms);
}

TEST(Latency, UnsupportedPrecisionThrowsAndFitSaysWhy) {
  EXPECT_THROW((void)roofline(find_model("resnet50"), Precision::bf16, 1, db().find("T4")), Unsupported);
  const GpuSpec& g = db().find("RTX 3070 Ti");
  const GpuFit f8 = fit_on_gpu(find_model("resnet50"), Precision::fp8, g, 7ull << 30);
  EXPECT_EQ(f8.status, Outcome::unsupported);
  EXPECT_NE(f8.reason.find("sm_89"), std::string::npos) << f8.reason;
  const GpuFit bf = fit_on_gpu(find_model("resnet50"), Precision::bf16, db().find("T4"), 15ull << 30);
  EXPECT_EQ(bf.status, Outcome::unsupported);
}

TEST(Latency, FitOnGpuAgreesWithThePlannerAndEstimatesBothEnds) {
  const ModelInfo& m = find_model("resnet50");
  const GpuSpec& g = db().find("RTX 3070 Ti");
  const std::uint64_t budget = g.vram_bytes - default_context_overhead(g.architecture).bytes;
  const GpuFit f = fit_on_gpu(m, Precision::fp16, g, budget);
  ASSERT_EQ(f.status, Outcome::ok) << f.reason;
  EXPECT_EQ(f.fit.max_batch, max_batch_under(m, Precision::fp16, budget).max_batch);
  EXPECT_GT(f.fit.max_batch, 1);
  EXPECT_LE(f.fit.at_max.total_bytes(), budget);
  ASSERT_TRUE(f.latency_batch1 && f.latency_max_batch);
  EXPECT_LT(f.latency_batch1->ms, f.latency_max_batch->ms);
  const GpuFit tiny = fit_on_gpu(find_model("vit-b16"), Precision::fp32, g, 64ull << 20);
  EXPECT_EQ(tiny.status, Outcome::oom);
  EXPECT_EQ(tiny.fit.max_batch, 0);
  EXPECT_FALSE(tiny.latency_batch1.has_value());
}

TEST(Latency, H200UncalibratedWithinAFactorOfThreeOfTheMeasurement) {
  const double measured = measured_h200_ms("resnet50", "fp16", 256);
  ASSERT_NEAR(measured, 9.12, 0.01);
  const LatencyEstimate e = estimate_latency(find_model("resnet50"), Precision::fp16, 256, db().find("H200"));
  const double ratio = e.ms / measured;
  std::printf("H200 resnet50 fp16 b256: estimate %.3f ms (roofline %.3f ms at efficiency %.2f), measured %.3f ms, ratio %.3f\n",
              e.ms, e.roofline.ms, e.efficiency.value, measured, ratio);
  EXPECT_GT(ratio, 1.0 / 3.0);
  EXPECT_LT(ratio, 3.0);
  EXPECT_DOUBLE_EQ(e.efficiency.value, kDefaultEfficiency);
}

TEST(Latency, CalibrationWithTheH200RunReproducesIt) {
  const Calibration c = load_calibration(test::h200_run_json(), db());
  EXPECT_EQ(c.gpu.name, "H200");
  EXPECT_EQ(c.points.size(), 24u);
  EXPECT_GT(c.geomean_efficiency, 0.0);
  for (const auto& pt : c.points) {
    EXPECT_GT(pt.efficiency, 0.0);
    EXPECT_LT(pt.efficiency, 1.0) << pt.model << " " << to_string(pt.precision) << " b" << pt.batch
                                  << ": measured faster than the roofline — a spec or cost error";
  }
  const double measured = measured_h200_ms("resnet50", "fp16", 256);
  const LatencyEstimate e = estimate_latency(find_model("resnet50"), Precision::fp16, 256, db().find("H200"), &c);
  std::printf("H200 resnet50 fp16 b256 calibrated: estimate %.3f ms, measured %.3f ms, ratio %.4f (efficiency %.3f)\n", e.ms,
              measured, e.ms / measured, e.efficiency.value);
  // On the profiled card a measured batch is the measurement.
  EXPECT_DOUBLE_EQ(e.ms, measured);
  EXPECT_NE(e.efficiency.source.find("measured on H200"), std::string::npos) << e.efficiency.source;
  // On another card: the time model fitted on the H200's four batches of resnet50 fp16.
  ASSERT_TRUE(c.model);
  const auto fit = c.model->per_model.find({"resnet50", Precision::fp16});
  ASSERT_NE(fit, c.model->per_model.end());
  EXPECT_EQ(fit->second.points, 4u);  // batches 1, 8, 64, 256
  const LatencyEstimate other = estimate_latency(find_model("resnet50"), Precision::fp16, 256, db().find("RTX 3070 Ti"), &c);
  const auto direct = vision_time(*c.model, find_model("resnet50"), Precision::fp16, 256, db().find("RTX 3070 Ti"));
  ASSERT_TRUE(direct);
  EXPECT_DOUBLE_EQ(other.ms, direct->ms);
  EXPECT_NE(other.efficiency.source.find("fitted over 4 batches (1–256) on H200"), std::string::npos) << other.efficiency.source;
  // A slower card is slower: the 3070 Ti has 1/14 of the H200's fp16 rate and 1/8 of its bandwidth.
  EXPECT_GT(other.ms, 3.0 * measured);
  // Batch 1 transfers as mostly fixed cost: on the 3070 Ti it is not the H200's 1.3 % efficiency
  // applied to a 10× smaller roofline rate.
  const LatencyEstimate b1 = estimate_latency(find_model("resnet50"), Precision::fp16, 1, db().find("RTX 3070 Ti"), &c);
  const double h200_b1 = measured_h200_ms("resnet50", "fp16", 1);
  EXPECT_LT(b1.ms, 3.0 * h200_b1) << b1.efficiency.source;
  // A batch not measured takes the nearest measured batch of the same model and precision (log scale).
  EXPECT_NE(efficiency_for(&c, "resnet50", Precision::fp16, 200).source.find("b256"), std::string::npos);
  EXPECT_NE(efficiency_for(&c, "resnet50", Precision::fp16, 2).source.find("b1 "), std::string::npos);
  // A precision not measured falls back to the model's geometric mean.
  EXPECT_NE(efficiency_for(&c, "resnet50", Precision::int8, 8).source.find("geometric mean of 12 rows of resnet50"),
            std::string::npos);
}

TEST(Latency, CalibrationSkipsTf32RowsAndRejectsUnknownDevices) {
  const Calibration tf32 = [] {
    TempDir t;  // only rows with fp32 measured with --tf32: nothing usable
    std::ifstream in(test::source_dir() / "bench" / "results" / "2026-11-28-h200" / "vramfit-tf32.json");
    const auto j = nlohmann::json::parse(in);
    auto mixed = j;
    mixed["rows"].push_back(nlohmann::json::parse(std::ifstream(test::h200_run_json()))["rows"][7]);  // resnet50 fp16 b256
    const auto p = t.write("mixed.json", mixed.dump());
    return load_calibration(p, db());
  }();
  EXPECT_EQ(tf32.points.size(), 1u);
  EXPECT_EQ(tf32.skipped.size(), 2u);
  for (const auto& s : tf32.skipped) EXPECT_NE(s.find("--tf32"), std::string::npos) << s;

  TempDir t;
  auto j = nlohmann::json::parse(std::ifstream(test::h200_run_json()));
  j["device"] = "NVIDIA B300 (sm_103)";
  const auto unknown = t.write("b300.json", j.dump());
  try {
    (void)load_calibration(unknown, db());
    ADD_FAILURE() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("field 'device'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(unknown.string()), std::string::npos) << e.what();
  }
  const auto broken = t.write("broken.json", "{\"device\": \"NVIDIA H200\", \"rows\": [");
  EXPECT_THROW((void)load_calibration(broken, db()), InvalidInput);
}

}  // namespace
}  // namespace vramfit

namespace vramfit {
namespace {

TEST(Latency, CalibrationRecordsTheMeasuredContextOfTheProfiledCard) {
  const Calibration c = load_calibration(test::h200_run_json(), db());
  ASSERT_TRUE(c.context_bytes.has_value());
  // vram_bytes.context_and_handles of the H200 rows: 546.8 MiB for resnet50 fp16 b256; the largest wins.
  EXPECT_GE(*c.context_bytes, 573374464u);
  EXPECT_LT(*c.context_bytes, 600ull << 20);
}

}  // namespace
}  // namespace vramfit
