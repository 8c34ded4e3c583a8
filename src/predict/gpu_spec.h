// predict/gpu_spec.h — the GPU specification database (data/gpus.toml) and its lookup.
//
// In: a TOML file with one [[gpu]] table per card (the file's header documents every field and its
// unit; every entry carries a `source`). Out: GpuSpec values — VRAM, memory bandwidth, SMs, compute
// capability, dense peak rates per precision — and a lookup by name or alias that ignores case,
// "NVIDIA", "GeForce", spaces, hyphens and underscores ("geforce rtx-3070ti" finds "RTX 3070 Ti").
// An unknown name is an InvalidInput that lists the closest names (edit distance).
//
// Used by `vramfit plan --gpu/--system` (memory budget = VRAM − the default context overhead of the
// card's architecture) and by predict/latency.h (roofline rates).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace vramfit {

struct GpuSpec {
  std::string name;
  std::vector<std::string> aliases;
  std::string architecture;         // turing | ampere | ada | hopper | blackwell
  int compute_capability = 0;       // major*10 + minor (86 for "8.6"), as core/dtype.h
  std::uint64_t vram_bytes = 0;
  double memory_bandwidth_gbs = 0;  // 10^9 bytes/s
  int sms = 0;
  double fp32_tflops = 0;           // non-tensor fp32
  double fp16_tflops = 0;           // tensor, fp32 accumulate
  std::optional<double> fp16_fp16acc_tflops;
  std::optional<double> bf16_tflops;  // absent: no bf16 (before sm_80)
  double int8_tops = 0;
  std::optional<double> fp8_tflops;   // fp32 accumulate; absent: no fp8
  std::optional<double> fp8_fp16acc_tflops;
  std::string source;
  std::string note;
};

// "RTX 3070 Ti (sm_86)" — how reports name a card.
std::string describe(const GpuSpec& g);
// "8.6" from 86.
std::string compute_capability_string(int cc);

// Default CUDA context + cuDNN/cuBLASLt handle overhead of a card of this architecture, used when no
// profile of the card exists: what `plan --gpu` subtracts from the card's VRAM to get the budget.
// (Named apart from runtime/session.h's ContextOverhead, which is measured on the card at hand.)
struct ContextAllowance {
  std::uint64_t bytes = 0;
  std::string source;  // "measured on …" or "assumed: …"
};
ContextAllowance default_context_overhead(std::string_view architecture);

// Why precision p cannot run on g ("bf16 needs sm_80; RTX 2080 is sm_75"), or nullopt if it can.
// Uses core/dtype.h min_compute_capability and the presence of the card's rate for p.
std::optional<std::string> precision_unsupported_reason(const GpuSpec& g, Precision p);

// Lookup key: lower case without "nvidia", "geforce", spaces, hyphens, underscores.
std::string normalize_gpu_name(std::string_view name);

struct GpuDatabase {
  std::string path;  // where it was read from (for error messages)
  std::vector<GpuSpec> gpus;

  // By name or alias (normalize_gpu_name on both sides); unknown → InvalidInput naming the file
  // and listing up to 5 closest names.
  const GpuSpec& find(std::string_view name) const;
  const GpuSpec* try_find(std::string_view name) const;
  // Up to n names closest to `name` by edit distance on the normalized keys (aliases count).
  std::vector<std::string> closest(std::string_view name, std::size_t n = 5) const;
};

// Parses the database; a broken file, a missing/mistyped field or a duplicate name → InvalidInput
// naming the file, the line, the entry and the field. An unreadable file → IoError.
GpuDatabase load_gpu_database(const std::filesystem::path& file);

}  // namespace vramfit
