// Max batch: prediction confirmed, or the exponential + binary fallback; the steps of one model ×
// precision, with the "run a worker at batch b" seam faked as a card of a known capacity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/bytes.h"
#include "core/error.h"
#include "profile/matrix.h"

using namespace vramfit;
using namespace vramfit::profile;

namespace {

// A card on which every batch ≤ capacity fits.
ProbeFn card(std::int64_t capacity, std::vector<std::int64_t>* tried = nullptr) {
  return [=](std::int64_t b) {
    if (tried) tried->push_back(b);
    return Probe{b, b <= capacity ? Outcome::ok : Outcome::oom, b <= capacity ? "" : "out of memory"};
  };
}

}  // namespace

TEST(MaxBatch, CorrectPredictionIsConfirmedWithTwoProbes) {
  std::vector<std::int64_t> tried;
  const auto r = confirm_max(137, 4096, card(137, &tried));
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_EQ(r.found, 137);
  EXPECT_TRUE(r.prediction_confirmed);
  EXPECT_FALSE(r.capped);
  EXPECT_EQ(tried, (std::vector<std::int64_t>{137, 138}));
}

TEST(MaxBatch, PredictionTooHighIsSearchedDownAndRecorded) {
  const auto r = confirm_max(500, 4096, card(37));
  EXPECT_EQ(r.found, 37);
  EXPECT_EQ(r.predicted, 500);
  EXPECT_FALSE(r.prediction_confirmed);
}

TEST(MaxBatch, NearMissCostsFewProbes) {
  // The planner is exact by design: when it is off, it is off by a little; the search starts there.
  std::vector<std::int64_t> tried;
  const auto r = confirm_max(2887, 4096, card(2885, &tried));
  EXPECT_EQ(r.found, 2885);
  EXPECT_EQ(tried, (std::vector<std::int64_t>{2887, 2886, 2884, 2885}));
  tried.clear();
  const auto s = confirm_max(2887, 4096, card(2889, &tried));
  EXPECT_EQ(s.found, 2889);
  EXPECT_EQ(tried, (std::vector<std::int64_t>{2887, 2888, 2890, 2889}));
}

TEST(MaxBatch, PredictionTooLowIsSearchedUp) {
  const auto r = confirm_max(10, 4096, card(1000));
  EXPECT_EQ(r.found, 1000);
  EXPECT_FALSE(r.prediction_confirmed);
}

TEST(MaxBatch, NothingFitsConfirmedByBatchOne) {
  std::vector<std::int64_t> tried;
  const auto r = confirm_max(0, 4096, card(0, &tried));
  EXPECT_EQ(r.found, 0);
  EXPECT_TRUE(r.prediction_confirmed);
  EXPECT_EQ(tried, (std::vector<std::int64_t>{1}));
}

TEST(MaxBatch, CeilingCapsAndIsMarked) {
  std::vector<std::int64_t> tried;
  const auto r = confirm_max(4096, 4096, card(100000, &tried));
  EXPECT_EQ(r.found, 4096);
  EXPECT_TRUE(r.capped);
  EXPECT_TRUE(r.prediction_confirmed);
  EXPECT_EQ(tried, (std::vector<std::int64_t>{4096}));
  const auto s = confirm_max(100, 4096, card(100000));
  EXPECT_EQ(s.found, 4096);
  EXPECT_TRUE(s.capped);
  EXPECT_FALSE(s.prediction_confirmed);
}

TEST(MaxBatch, EveryPredictionAndCapacityFindsTheTruthInFewProbes) {
  const std::int64_t ceiling = 96;
  for (std::int64_t capacity = 0; capacity <= 130; capacity += 1)
    for (std::int64_t predicted = 0; predicted <= 130; predicted += 3) {
      std::vector<std::int64_t> tried;
      const auto r = confirm_max(predicted, ceiling, card(capacity, &tried));
      const std::int64_t truth = std::min(capacity, ceiling);
      ASSERT_EQ(r.found, truth) << "capacity " << capacity << " predicted " << predicted;
      EXPECT_EQ(r.prediction_confirmed, std::min(predicted, ceiling) == truth) << capacity << " " << predicted;
      EXPECT_EQ(r.probes.size(), tried.size());
      EXPECT_LE(tried.size(), 2u + 2u * static_cast<std::size_t>(std::ceil(std::log2(ceiling))) + 2u) << capacity << " " << predicted;
      for (std::int64_t b : tried) EXPECT_TRUE(b >= 1 && b <= ceiling) << b;
    }
}

TEST(MaxBatch, UnsupportedOrErrorEndsTheSearch) {
  const auto u = confirm_max(64, 4096, [](std::int64_t b) { return Probe{b, Outcome::unsupported, "bf16 needs sm_80"}; });
  EXPECT_EQ(u.outcome, Outcome::unsupported);
  EXPECT_NE(u.reason.find("bf16 needs sm_80"), std::string::npos);
  EXPECT_EQ(u.probes.size(), 1u);
  const auto e = confirm_max(64, 4096, [](std::int64_t b) {
    return b == 64 ? Probe{b, Outcome::oom, "x"} : Probe{b, Outcome::error, "worker crashed: signal 11"};
  });
  EXPECT_EQ(e.outcome, Outcome::error);
  EXPECT_EQ(e.probes.size(), 2u);
}

TEST(LatencyBatches, LadderUnderTheMaxThenTheMax) {
  EXPECT_EQ(latency_batches(300, false), (std::vector<std::int64_t>{1, 8, 32, 64, 128, 256, 300}));
  EXPECT_EQ(latency_batches(256, false), (std::vector<std::int64_t>{1, 8, 32, 64, 128, 256}));
  EXPECT_EQ(latency_batches(20, false), (std::vector<std::int64_t>{1, 8, 20}));
  EXPECT_EQ(latency_batches(1, false), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(latency_batches(0, false), (std::vector<std::int64_t>{}));
  EXPECT_EQ(latency_batches(300, true), (std::vector<std::int64_t>{1, 32, 300}));
}

namespace {

// A fake worker: a card whose real capacity is `capacity` (set per test), answers per kind.
struct FakeGpu {
  std::int64_t capacity = 0;
  std::vector<nlohmann::json> configs;
  WorkerFn fn() {
    return [this](const nlohmann::json& c) -> nlohmann::json {
      configs.push_back(c);
      const std::int64_t b = c.at("batch").get<std::int64_t>();
      if (b > capacity) return {{"status", "oom"}, {"reason", "fake: out of memory"}};
      if (c["kind"] == "fidelity") return {{"status", "ok"}, {"relative_l2", 1e-3}, {"top1_agreement", 1.0}};
      return {{"status", "ok"}, {"batch", b}, {"latency_ms", {{"median", 1.0}, {"trusted", true}}}, {"items_per_s", 1000.0 * static_cast<double>(b)},
              {"vram_bytes", {{"process_total", 1000 * b}}}};
    };
  }
};

}  // namespace

TEST(ModelPrecision, PlannerPredictionConfirmedThenLadderAndFidelity) {
  const auto& m = find_model("resnet50");
  MatrixOptions o;
  const std::uint64_t budget = 2 * GiB;
  const std::int64_t predicted = max_batch_under(m, Precision::fp16, budget, o.max_batch_ceiling, o.workspace).max_batch;
  ASSERT_GT(predicted, 256);
  FakeGpu gpu{predicted, {}};
  const auto r = profile_model_precision(m, Precision::fp16, o, budget, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_EQ(r.max_batch.found, predicted);
  EXPECT_TRUE(r.max_batch.prediction_confirmed);
  std::vector<std::int64_t> measured;
  for (const auto& x : r.measurements) measured.push_back(x["batch"]);
  EXPECT_EQ(measured, (std::vector<std::int64_t>{1, 8, 32, 64, 128, 256, predicted}));
  // The probe at the predicted maximum is the max-batch measurement: that session is set up once.
  int at_max = 0;
  for (const auto& c : gpu.configs)
    if (c["batch"] == predicted) {
      ++at_max;
      EXPECT_EQ(c["kind"], "measure");
    }
  EXPECT_EQ(at_max, 1);
  ASSERT_TRUE(r.fidelity);
  EXPECT_EQ((*r.fidelity)["batch"], 8);
  EXPECT_EQ((*r.fidelity)["reference"], "fp32");
  // Every configuration names its kind, model, precision and the options that change the answer.
  for (const auto& c : gpu.configs) {
    EXPECT_EQ(c["model"], "resnet50");
    EXPECT_EQ(c["precision"], "fp16");
    EXPECT_TRUE(c.contains("vram_limit") && c.contains("reserve") && c.contains("workspace"));
  }
}

TEST(ModelPrecision, OnTheRealCardMaximaAreDecidedInFreshWorkersOnAnEmulatedOneAllShare) {
  const auto& m = find_model("yolo11n-pose");
  const std::uint64_t budget = 2 * GiB;
  MatrixOptions real;
  real.quick = true;
  const std::int64_t predicted = max_batch_under(m, Precision::fp16, budget, real.max_batch_ceiling, real.workspace).max_batch;
  FakeGpu gpu{predicted, {}};
  profile_model_precision(m, Precision::fp16, real, budget, gpu.fn());
  int fresh = 0, shared = 0;
  for (const auto& c : gpu.configs) {
    const bool decides = c["kind"] == "probe" || (c["kind"] == "measure" && c["batch"] == predicted);
    EXPECT_EQ(c["process"], decides ? "fresh" : "shared") << c.dump();
    (c["process"] == "fresh" ? fresh : shared) += 1;
  }
  EXPECT_GE(fresh, 2 + 2);  // the max batch (at, above) and at least one streams maximum (at, above)
  EXPECT_GE(shared, 2);     // the ladder and fidelity

  MatrixOptions emulated = real;
  emulated.vram_limit = 8 * GiB;
  FakeGpu gpu2{predicted, {}};
  profile_model_precision(m, Precision::fp16, emulated, budget, gpu2.fn());
  for (const auto& c : gpu2.configs) EXPECT_EQ(c["process"], "shared") << c.dump();
}

TEST(ModelPrecision, DisagreementIsSearchedAndFp32HasNoFidelity) {
  const auto& m = find_model("vit-b16");
  MatrixOptions o;
  o.quick = true;
  const std::uint64_t budget = 1 * GiB;
  const std::int64_t predicted = max_batch_under(m, Precision::fp32, budget, o.max_batch_ceiling, o.workspace).max_batch;
  ASSERT_GT(predicted, 40);
  FakeGpu gpu{predicted - 5, {}};
  const auto r = profile_model_precision(m, Precision::fp32, o, budget, gpu.fn());
  EXPECT_EQ(r.max_batch.found, predicted - 5);
  EXPECT_EQ(r.max_batch.predicted, predicted);
  EXPECT_FALSE(r.max_batch.prediction_confirmed);
  EXPECT_FALSE(r.fidelity);
  EXPECT_EQ(r.measurements.back()["batch"], predicted - 5);
  EXPECT_EQ(r.measurements.front()["batch"], 1);
  for (const auto& c : gpu.configs)
    if (c["kind"] == "measure") {
      EXPECT_EQ(c["iterations"], 10);  // --quick
    }
}

TEST(ModelPrecision, NothingFitsIsOomWithoutMeasurements) {
  const auto& m = find_model("resnet50");
  FakeGpu gpu{0, {}};
  const auto r = profile_model_precision(m, Precision::fp16, MatrixOptions{}, 64 * MiB, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::oom);
  EXPECT_EQ(r.max_batch.found, 0);
  EXPECT_TRUE(r.measurements.empty());
  EXPECT_FALSE(r.reason.empty());
}

TEST(ModelPrecision, PoseModelsReportMaxStreamsPredictedThenConfirmed) {
  const auto& m = find_model("yolo11n-pose");
  MatrixOptions o;
  o.quick = true;
  o.handles_bytes = 12 * MiB;
  const std::uint64_t budget = 2 * GiB;
  // A fake card that holds exactly what the planner says: weights once, activations + workspace per stream.
  std::vector<nlohmann::json> configs;
  const WorkerFn fake = [&](const nlohmann::json& c) -> nlohmann::json {
    configs.push_back(c);
    const std::int64_t b = c.at("batch").get<std::int64_t>();
    const int n = c.value("streams", 1);
    const StreamsFit f = max_streams_under(m, Precision::fp16, b, budget, o.handles_bytes, 1 << 20, o.workspace);
    if (n > f.max_streams) return {{"status", "oom"}, {"reason", "fake: out of memory"}};
    if (c["kind"] == "fidelity") return {{"status", "ok"}, {"relative_l2", 1e-3}, {"top1_agreement", 1.0}};
    return {{"status", "ok"}, {"batch", b}};
  };
  const auto r = profile_model_precision(m, Precision::fp16, o, budget, fake);
  ASSERT_EQ(r.outcome, Outcome::ok);
  ASSERT_EQ(r.streams.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& s = r.streams[i];
    EXPECT_EQ(s["batch"], (std::vector<int>{1, 8, 32}[i]));
    EXPECT_TRUE(s["prediction_confirmed"].get<bool>()) << s.dump();
    const std::int64_t n = s["max_streams"];
    EXPECT_GT(n, 1);
    ASSERT_EQ(s["probes"].size(), 2u);
    EXPECT_EQ(s["probes"][0]["streams"], n);
    EXPECT_EQ(s["probes"][1]["streams"], n + 1);
    EXPECT_EQ(s["probes"][1]["status"], "oom");
  }
  // More streams at a larger batch never fit better.
  EXPECT_GE(r.streams[0]["max_streams"].get<std::int64_t>(), r.streams[2]["max_streams"].get<std::int64_t>());
  // Vision models have no streams section.
  EXPECT_TRUE(profile_model_precision(find_model("resnet50"), Precision::fp16, o, budget, fake).streams.empty());
}

TEST(MaxStreams, AffineInStreamsWithHandlesPerExtraStream) {
  const auto& m = find_model("yolo11n-pose");
  const std::uint64_t h = 12 * MiB;
  const StreamsFit f = max_streams_under(m, Precision::fp16, 8, 4 * GiB, h);
  ASSERT_GT(f.max_streams, 0);
  const std::uint64_t n = static_cast<std::uint64_t>(f.max_streams);
  EXPECT_LE(f.weights_bytes + n * f.per_stream_bytes + (n - 1) * h, 4 * GiB);
  if (!f.capped) {
    EXPECT_GT(f.weights_bytes + (n + 1) * f.per_stream_bytes + n * h, 4 * GiB);
  }
  EXPECT_EQ(max_streams_under(m, Precision::fp16, 8, f.weights_bytes, h).max_streams, 0);
  EXPECT_FALSE(max_streams_under(m, Precision::fp16, 8, f.weights_bytes, h).reason.empty());
}
