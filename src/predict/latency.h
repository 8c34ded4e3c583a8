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
// With a calibration (predict/calibration.h: what a profiled card measured; vramfit ships one in
// data/calibration/) the estimate is the cross-card time model's (predict/time_model.h): per kernel
// max(FLOPs / (peak · c), bytes / (bandwidth · b)) plus a fixed cost, with c, b and the fixed cost
// fitted on the profiled card. On the profiled card itself a measured batch is returned as measured.
// Without one: the roofline over kDefaultEfficiency. The result's efficiency.source says which.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"
#include "models/registry.h"
#include "predict/calibration.h"
#include "predict/gpu_spec.h"
#include "predict/memory.h"

namespace vramfit {

// Without a profile, half of the roofline. Measured on the H200 (bench/results/2026-11-28-h200/
// vramfit-run.json against this roofline): at batch 64 and 256 the 12 rows (resnet50, vit-b16 ×
// fp32/fp16/bf16) reach 0.38–0.66 of it (resnet50 fp16 b256: 3.715 ms roofline / 9.122 ms = 0.407;
// vit-b16 fp16 b256: 0.438). Small batches are launch- and latency-bound and reach far less (batch 1:
// 0.013–0.27), so an uncalibrated batch-1 estimate is optimistic; --calibrate fixes that per model.
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
  Outcome status = Outcome::ok;  // ok | unsupported | oom (printed "does not fit": fit_text)
  std::string reason;
  BudgetFit fit;  // meaningful when status is ok or oom
  std::optional<LatencyEstimate> latency_batch1, latency_max_batch;
};

GpuFit fit_on_gpu(const ModelInfo& m, Precision p, const GpuSpec& g, std::uint64_t budget,
                  const Calibration* calibration = nullptr, std::int64_t ceiling = 1 << 20,
                  std::uint64_t workspace = kDefaultWorkspaceBytes);

}  // namespace vramfit
