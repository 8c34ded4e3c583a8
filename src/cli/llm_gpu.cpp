// The GPU half of `vramfit llm` (llm_gpu.h).
#include "cli/llm_gpu.h"

#include "core/error.h"

#ifdef VRAMFIT_HAVE_CUDA
#include "cli/llm_gpu_cuda.inc"
#else
namespace vramfit::cli {

GpuContext probe_gpu(int, std::optional<std::uint64_t>, std::uint64_t) {
  GpuContext g;
  g.why_not = "this vramfit was built without the CUDA backend (VRAMFIT_CUDA=OFF)";
  return g;
}

LlmMeasured measure_llm(const GpuContext&, const DecoderConfig&, const LlmQuantRow&, const LlmFitOptions&,
                        const DecoderCheckpoint*, std::uint64_t, const GgufLlamaModel*) {
  throw InternalError("measure_llm without the CUDA backend");
}

nlohmann::json llm_worker_measure(const nlohmann::json&) {
  throw Unsupported("this vramfit was built without the CUDA backend (VRAMFIT_CUDA=OFF): a profile worker cannot measure");
}

}  // namespace vramfit::cli
#endif
