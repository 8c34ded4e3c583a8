// runtime/budget.h — the one budget rule: how many bytes a session may take on this card.
//
// A process holds device memory before any session: the CUDA context, then one cuDNN + one cuBLASLt
// handle pair per stream (ContextOverhead, measured on the card by measure_context_overhead in
// runtime/session.h). What is left for weights + activations + workspace (the arena) is
//   on an emulated card (--vram-limit L):  L − context − handles − reserve
//   on the card itself:                   free memory now − handles − reserve
// (the context already exists when free memory is read; the handles do not yet), less one handle
// pair per extra stream, never below zero. Every session (vision and LLM), the profile's device
// worker and `vramfit llm` compute it here, so that a plan made under one budget is checked under
// the same one. Header-only and free of CUDA: the planner's tests check it on the CPU.
#pragma once

#include <cstdint>
#include <optional>

namespace vramfit {

struct ContextOverhead {
  std::uint64_t context_bytes = 0;  // used memory after the context exists, before the handles
  std::uint64_t handles_bytes = 0;  // what creating a cuDNN + a cuBLASLt handle added
  std::uint64_t total() const { return context_bytes + handles_bytes; }
};

inline std::uint64_t memory_budget(const ContextOverhead& oh, std::optional<std::uint64_t> vram_limit, std::uint64_t reserve,
                                   std::uint64_t free_now, std::uint64_t extra_handle_sets = 0) {
  const auto less = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : std::uint64_t{0}; };
  const std::uint64_t base = vram_limit ? less(less(*vram_limit, oh.total()), reserve) : less(less(free_now, oh.handles_bytes), reserve);
  // extra_handle_sets × handles_bytes, saturating (a count this large has no budget anyway).
  const std::uint64_t extra =
      oh.handles_bytes != 0 && extra_handle_sets > UINT64_MAX / oh.handles_bytes ? UINT64_MAX : extra_handle_sets * oh.handles_bytes;
  return less(base, extra);
}

}  // namespace vramfit
