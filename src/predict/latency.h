// predict/latency.h — a roofline latency estimate for a card not at hand; always an *estimate*.
//
// In: a zoo model, a precision, a batch, a GpuSpec (predict/gpu_spec.h) and optionally a calibration
// profile (a `vramfit run -o json` file measured on some GPU of the database). Out: milliseconds.
//
// Model: for each node of the deployable graph (the same passes as the engine and the memory plan),
//   t_node = max(flops / peak_rate(precision), bytes / memory_bandwidth)     (graph/cost.h node_cost)
// summed over nodes (kernels run one after another), then divided by an efficiency:
//   estimate = Σ t_node / efficiency.
// Peak rates are the database's dense figures: fp32 → non-tensor fp32 (vramfit's fp32 keeps TF32
// off), fp16/bf16 → tensor with fp32 accumulate (what the engine asks cuBLASLt/cuDNN for; GeForce runs
// it at half the fp16-accumulate rate), fp8 → fp8 with fp32 accumulate, int8 → int8 TOPS, weight-only
// and GGUF types → fp16 (their matrix products run in fp16).
//
// Efficiency: kDefaultEfficiency without a profile. With one, each ok row gives
//   efficiency = roofline-at-100% on the profiled card / measured median
// and the estimate uses, in order: the row of the same model, precision and batch; else the same model
// and precision at the nearest batch (log scale); else the geometric mean over the model's rows; else
// the geometric mean over all rows. Which one was used is part of the result's label.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "models/registry.h"
#include "predict/gpu_spec.h"
#include "predict/memory.h"

namespace vramfit {

// Without a profile, half of the roofline: the H200 measurement (bench/results/2026-11-28-h200)
// gives 0.29 for resnet50 fp16 b256 (roofline 2.63 ms vs 9.12 ms measured) and 0.49 for vit-b16 fp16
// b256 (11.30 vs 23.76 ms); large batches of tuned libraries typically reach 0.3–0.7 of peak.
constexpr double kDefaultEfficiency = 0.5;

// Peak rate in FLOP/s (or OP/s) for the precision's matrix products on g. Throws Unsupported when g
// cannot run p (precision_unsupported_reason).
double peak_rate(const GpuSpec& g, Precision p);

struct Roofline {
  double ms = 0;          // Σ max(compute, memory) over nodes, at 100% efficiency
  double compute_ms = 0;  // Σ flops / rate (for the record: which bound dominates)
  double memory_ms = 0;   // Σ bytes / bandwidth
  std::uint64_t flops = 0;
  std::uint64_t bytes = 0;
  std::size_t nodes = 0;
};

// Throws Unsupported when the engine or the card cannot run p.
Roofline roofline(const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& g);

struct CalibrationPoint {
  std::string model;
  Precision precision = Precision::fp32;
  std::int64_t batch = 1;
  double measured_ms = 0;
  double roofline_ms = 0;
  double efficiency = 0;  // roofline_ms / measured_ms
};

struct Calibration {
  std::string profile_path;
  std::string device;  // the profile's "device" text
  GpuSpec gpu;         // the database entry it matched
  std::vector<CalibrationPoint> points;
  std::vector<std::string> skipped;  // rows not used, with why
  double geomean_efficiency = 0;
};

// Reads a `vramfit run -o json` profile (report/run_report.cpp schema: "device", rows with model,
// precision, batch, status, latency_ms.median). The device is matched to the database by its name
// (the text before " ("). A broken file, a device not in the database, or no usable row →
// InvalidInput naming the file and the field.
Calibration load_calibration(const std::filesystem::path& profile, const GpuDatabase& db);

struct Efficiency {
  double value = kDefaultEfficiency;
  std::string source;  // "default 0.5" / "calibrated: resnet50 fp16 b256 on H200 (file)"
};
Efficiency efficiency_for(const Calibration* c, const std::string& model, Precision p, std::int64_t batch);

struct LatencyEstimate {
  double ms = 0;
  Roofline roofline;
  Efficiency efficiency;
  std::string label = "estimate";  // never "measured"
};

LatencyEstimate estimate_latency(const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& g,
                                 const Calibration* calibration = nullptr);

// One model × precision on a card: the largest batch under `budget` (predict/memory.h: exact for the
// engine) and the latency estimate at batch 1 and at that batch.
struct GpuFit {
  std::string model;
  Precision precision = Precision::fp32;
  std::string status = "ok";  // ok | unsupported | does not fit
  std::string reason;
  BudgetFit fit;  // meaningful when status is ok or "does not fit"
  std::optional<LatencyEstimate> latency_batch1, latency_max_batch;
};

GpuFit fit_on_gpu(const ModelInfo& m, Precision p, const GpuSpec& g, std::uint64_t budget,
                  const Calibration* calibration = nullptr, std::int64_t ceiling = 1 << 20,
                  std::uint64_t workspace = kDefaultWorkspaceBytes);

}  // namespace vramfit
