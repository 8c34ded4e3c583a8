// measure/measure_none.cpp — measure/measure.h and measure/llm.h in a build without CUDA
// (VRAMFIT_CUDA=OFF): no GPU can be used, and every measurement says why instead of pretending.
#include "core/error.h"
#include "measure/llm.h"
#include "measure/measure.h"

namespace vramfit::measure {

namespace {
constexpr const char* kNotBuilt = "this vramfit was built without the CUDA backend (VRAMFIT_CUDA=OFF)";
[[noreturn]] void not_built(const char* what) { throw Unsupported(std::string(kNotBuilt) + ": " + what); }
}  // namespace

std::string why_no_gpu() { return kNotBuilt; }
int gpu_count() { return 0; }
std::string device_summary(int) { not_built("no device to describe"); }
std::string software_summary() { not_built("no CUDA libraries loaded"); }
RunResult run_configuration(const SessionConfig&, const RunOptions&) { not_built("`run` needs it; `vramfit plan` works without a GPU"); }
nlohmann::json devices_json() { not_built("no devices to list"); }

struct Worker::Impl {};
Worker::Worker() = default;
Worker::~Worker() = default;
nlohmann::json Worker::answer(const nlohmann::json&) { not_built("a profile worker cannot measure"); }

GpuBudget probe_gpu(int, std::optional<std::uint64_t>, std::uint64_t) {
  GpuBudget g;
  g.why_not = kNotBuilt;
  return g;
}

LlmMeasured measure_llm(const GpuBudget&, const DecoderConfig&, const LlmQuantRow&, const LlmFitOptions&, const DecoderCheckpoint*,
                        std::uint64_t, const GgufLlamaModel*) {
  not_built("`llm` measures on a GPU");
}

}  // namespace vramfit::measure
