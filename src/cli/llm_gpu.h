// cli/llm_gpu.h — the GPU half of `vramfit llm`: is there a GPU, what is the budget there, and the
// measurements of one quantization (runtime/llm_session.h): prefill and decode tokens/s, the max
// context and batch confirmed by running them and one step up (which must fail with out-of-memory).
// In a build without CUDA, probe_gpu says so and measure_llm is never called.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "models/decoder_weights.h"
#include "weights/gguf.h"
#include "predict/llm_fit.h"
#include "report/llm_report.h"

namespace vramfit::cli {

struct GpuContext {
  bool available = false;
  std::string why_not;      // when not available
  std::string device;       // summary line
  int index = 0;
  std::optional<std::uint64_t> vram_limit;
  std::uint64_t reserve = 0;
  std::uint64_t budget_bytes = 0;
  std::uint64_t overhead_bytes = 0;  // this process's CUDA context and library handles, measured at probe time
  std::string budget_note;
};

GpuContext probe_gpu(int device, std::optional<std::uint64_t> vram_limit, std::uint64_t reserve);

// Weights: the checkpoint, else the GGUF file's tensors, else seeded random ones.
LlmMeasured measure_llm(const GpuContext& gpu, const DecoderConfig& c, const LlmQuantRow& row, const LlmFitOptions& fo,
                        const DecoderCheckpoint* ckpt, std::uint64_t seed, const GgufLlamaModel* gguf = nullptr);

}  // namespace vramfit::cli
