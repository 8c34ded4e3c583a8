// measure/llm.h — the GPU half of `vramfit llm`: the budget on this GPU and the measurements of one
// quantization (runtime/llm_session.h): prefill and decode tokens/s, and the max context and batch
// the plan predicted, confirmed by running them and one step up (measure/confirm.h, which searches
// for the real maximum when the GPU disagrees). The profile's LLM rows (profile/llm_matrix.h) are
// measured by measure::Worker with the same timing code. No CUDA in this header; without CUDA,
// probe_gpu says why and measure_llm is never called.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "models/decoder_weights.h"
#include "predict/llm_fit.h"
#include "result/llm_measured.h"
#include "weights/gguf.h"

namespace vramfit::measure {

// The memory budget `vramfit llm` measures under on one GPU (runtime/budget.h's rule).
struct GpuBudget {
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

GpuBudget probe_gpu(int device, std::optional<std::uint64_t> vram_limit, std::uint64_t reserve);

// Weights: the checkpoint, else the GGUF file's tensors, else seeded random ones.
LlmMeasured measure_llm(const GpuBudget& gpu, const DecoderConfig& c, const LlmQuantRow& row, const LlmFitOptions& fo,
                        const DecoderCheckpoint* ckpt, std::uint64_t seed, const GgufLlamaModel* gguf = nullptr);

}  // namespace vramfit::measure
