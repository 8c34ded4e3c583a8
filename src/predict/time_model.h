// predict/time_model.h — time on a card not at hand, from measurements on a card that was: the
// cross-card time model (issue 16). Always an *estimate*; the calibration file says where it came from.
//
// In: measurements of one profiled card (a Calibration: vision latencies per model × precision × batch,
// LLM decode/prefill tokens/s, GEMV kernel timings per shape) and the GpuSpec of the target card.
// Out: milliseconds per inference, tokens/s, and a sentence saying which fitted terms were used.
//
// The model, per kernel of the engine's deployable graph (graph/cost.h gives FLOPs F and bytes B):
//   t_kernel = max(F / (peak · c), B / (bandwidth · b))
// and per inference (or per decoded token)
//   t = τ + Σ t_kernel
// where peak and bandwidth are the target card's datasheet figures (data/gpus.toml), and
//   c  the achieved fraction of the matrix peak   (how well the engine's kernels use the tensor cores /
//      FMA units: a property of the kernels and the shapes, fitted per model × precision),
//   b  the achieved fraction of the memory bandwidth (the same, for the bytes),
//   τ  the fixed cost: kernel launches in the replayed CUDA graph, the small-kernel ramp-up and tail,
//      synchronisation — time that does not shrink with a faster card's rates.
//
// What transfers to another card: c, b and τ (they describe vramfit's engine, not the card). What
// does not: the peaks, the bandwidth and which term of the max dominates — a node that is compute-bound
// on an H100 can be bandwidth-bound on a 3070 Ti, whose ratio of FLOPs to bytes differs. τ is kept
// in milliseconds because launch and sync costs are set by the driver and the host more than by the
// card; on a card with much lower clocks it is optimistic. SM count enters only through the peaks.
//
// Fitting (least squares of log(predicted / measured), Nelder–Mead over logit c, logit b, log τ):
//   - per model × precision with ≥ 2 measured batches: its own c, b, τ;
//   - per math class (fp32 on FMA units / everything on tensor cores) over all rows of the class:
//     c, b and a fixed cost per kernel (τ = kernels · f) — used for a model or precision the card did
//     not measure;
//   - LLM decode, per precision: t_token = τ_p + streamed weight bytes / (bandwidth · b_w)
//                                          + batch · context · KV bytes per token / (bandwidth · b_kv),
//     b_w from the GEMV kernel timings per shape (time = f + bytes / (bandwidth · b_w), a line over
//     shapes of different sizes; 0.9 when the calibration has none), b_kv from the decode speed at two
//     contexts, τ_p the rest of the measured step;
//   - LLM prefill: compute-bound, t = FLOPs / (peak · c_p), c_p per precision from the measured prefill.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "graph/decoder.h"
#include "models/registry.h"
#include "predict/gpu_spec.h"

namespace vramfit {

struct VisionSample {
  std::string model;  // zoo id
  Precision precision = Precision::fp32;
  std::int64_t batch = 1;
  double measured_ms = 0;
};

struct LlmSample {
  std::string model;  // zoo id of a decoder
  Precision precision = Precision::fp16;
  std::int64_t context = 512;         // where decode_tokens_per_s was measured (batch 1)
  double decode_tokens_per_s = 0;
  std::int64_t max_context = 0;       // 0: no second point
  double decode_tokens_per_s_max_context = 0;
  std::int64_t prefill_tokens = 0;
  double prefill_tokens_per_s = 0;
};

// One GEMV kernel timed alone (gpu-check's GGUF throughput lines): bytes of the weight read, microseconds.
struct GemvSample {
  std::string type;  // "q8_0", "q4_0", …
  double bytes = 0, us = 0;
};

struct VisionFit {
  double compute = 0.5, bandwidth = 0.5;  // c, b
  double fixed_ms = 0;                    // τ per inference (per-model fit) or per kernel (per-class fit)
  bool per_kernel = false;                // fixed_ms is per kernel (the per-class fallback)
  std::size_t points = 0;
  std::int64_t min_batch = 0, max_batch = 0;
  double median_error = 0;  // in-sample |pred − meas| / meas
};

struct LlmFit {
  double gemv_bandwidth = 0.9;  // b_w
  double kv_bandwidth = 0.5;    // b_kv
  double fixed_ms = 0;          // τ_p per decode step
  double prefill_compute = 0;   // c_p; 0: no prefill measured
  std::size_t points = 0;
};

struct TimeModel {
  GpuSpec card;  // the card the samples were measured on
  std::map<std::pair<std::string, Precision>, VisionFit> per_model;
  std::map<bool, VisionFit> per_class;  // key: tensor cores (every precision but fp32)
  std::map<Precision, LlmFit> llm;
  double gemv_bandwidth = 0.9;
  std::string gemv_source;  // how b_w was found
};

// Throws InvalidInput when there is nothing to fit (no sample at all).
TimeModel fit_time_model(const GpuSpec& card, const std::vector<VisionSample>& vision, const std::vector<LlmSample>& llm,
                         const std::vector<GemvSample>& gemv);

struct TimeEstimate {
  double ms = 0;
  std::string source;  // which fit: "resnet50 fp16: 0.41 of peak, 0.33 of bandwidth, 0.21 ms fixed, 7 batches on H100 SXM"
};

// nullopt when the model has neither a fit for (model, precision) nor for its math class.
// Unsupported when the target card cannot run p.
std::optional<TimeEstimate> vision_time(const TimeModel& tm, const ModelInfo& m, Precision p, std::int64_t batch,
                                        const GpuSpec& target);

struct LlmSpeedEstimate {
  double decode_tokens_per_s = 0;  // all sequences together (batch · per-sequence rate)
  double prefill_tokens_per_s = 0;  // 0 when the calibration measured no prefill for p
  std::string source;
};
// Decode at `context` tokens of KV per sequence and `batch` sequences: the step is
//   τ_p + max(streamed weights / (bandwidth · b_w), 2 · MACs per token · batch / (peak · c_p)) + KV reads,
// so a large batch turns compute-bound. A precision the calibration did not measure takes the medians
// of the measured ones (said in the source). nullopt when the calibration has no LLM measurement.
std::optional<LlmSpeedEstimate> llm_speed(const TimeModel& tm, const DecoderConfig& c, Precision p, std::int64_t context,
                                          std::int64_t batch, const GpuSpec& target);

// The bytes one decode step streams: every weight but the embedding table (one row of it is read).
std::uint64_t llm_streamed_weight_bytes(const DecoderConfig& c, Precision p);
// FLOPs of a prefill of `tokens` tokens at batch 1: 2 · MACs per token · tokens plus the attention
// scores and the weighted sum (causal: ~tokens² / 2 per head).
double llm_prefill_flops(const DecoderConfig& c, std::int64_t tokens);

// Minimise f over x (Nelder–Mead, a simplex of n + 1 points; `step` is the initial edge). Returns the
// best point; used by the fits above and kept here so that tests can check it on known functions.
std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x,
                                double step = 0.5, int iterations = 600);

}  // namespace vramfit
