// measure/llm_cuda.cpp — `vramfit llm`'s measurements (measure/llm.h) and the profile worker's LLM
// configurations, on runtime/llm_session.h.
//
// The worker's {"kind": "llm", "measure": "speed" | "fit", "model", "precision", "context", "batch",
// "vram_limit", "reserve", "device", "seed", "prefill_chunk", "workspace", "decode_steps",
// "prefill_tokens" (speed)}: set up a session (random weights on the GPU), then
//   speed: time a prefill of prefill_tokens, then decode_steps decode steps after a prompt that leaves
//          room for them (one session, weights generated once);
//   fit:   decode_steps > 0: decode timed after a prompt that fills the cache to its end;
//          0: a probe — one prefill chunk and one decode step.
// It answers {"status": "ok", prefill_tokens[_per_s], prefill_ms, decode_tokens_per_s,
// decode_ms_per_step, decode_steps, decode_context, vram_bytes {weights, kv_cache, activations, scratch,
// arena, context_and_handles, process_total}, device_used_bytes, budget_bytes, process_vram_bytes,
// process_vram_source, setup_s {total}}. Typed errors propagate (profile/worker.h turns OutOfMemory
// into "oom").
#include "measure/llm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/nvml.h"
#include "core/bytes.h"
#include "core/outcome.h"
#include "measure/confirm.h"
#include "measure/internal_cuda.h"
#include "measure/requests.h"
#include "models/registry.h"
#include "runtime/budget.h"
#include "runtime/llm_session.h"
#include "runtime/session.h"

namespace vramfit::measure {

namespace {

struct WeightsSource {
  const DecoderCheckpoint* ckpt = nullptr;
  const GgufLlamaModel* gguf = nullptr;
};

LlmSessionConfig session_config(const GpuBudget& gpu, const DecoderConfig& c, Precision p, std::int64_t context,
                                std::int64_t batch, const LlmFitOptions& fo, const WeightsSource& ws, std::uint64_t seed) {
  LlmSessionConfig s;
  s.model = c;
  s.precision = p;
  s.context = context;
  s.batch = batch;
  s.plan = fo.plan;
  s.vram_limit = gpu.vram_limit;
  s.reserve = gpu.reserve;
  s.budget = gpu.budget_bytes;  // the budget the plan's maxima were found under
  s.seed = seed;
  s.device = gpu.index;
  s.checkpoint = ws.ckpt;
  s.gguf = ws.gguf;
  return s;
}

// --- shared by `vramfit llm` (measure_llm) and `profile --worker` (llm_worker_measure) -------------

// The whole arena is allocated at set-up (the fit is decided there); this runs both passes once so
// that every kernel has run in it: one prefill chunk (at most context − 1 tokens, leaving a position
// to decode) and one decode step.
void run_probe_pass(LlmSession& s, std::int64_t context, std::int64_t batch) {
  s.reset();
  const std::int64_t n = std::min<std::int64_t>(context - 1 > 0 ? context - 1 : 1, s.plan().prefill.tokens_per_sequence);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * n), 1);
  s.prefill(ids, n);
  if (s.length() < context) s.decode();
  CUDA_CHECK(cudaStreamSynchronize(s.stream()));
}

struct PrefillTiming {
  std::int64_t tokens = 0;  // per sequence
  double ms = 0, tokens_per_s = 0;
};

// A prefill of n tokens per sequence from an empty cache (one warm-up, one timed; LlmSession::time_prefill_ms).
PrefillTiming time_prefill(LlmSession& s, std::int64_t n, std::int64_t batch) {
  PrefillTiming t;
  t.tokens = n;
  t.ms = s.time_prefill_ms(n);
  if (t.ms > 0) t.tokens_per_s = 1000.0 * static_cast<double>(batch * n) / t.ms;
  return t;
}

struct DecodeTiming {
  std::int64_t prompt = 0;   // tokens per sequence prefilled first (not timed)
  std::int64_t steps = 0;    // timed steps (after one warm-up step)
  std::int64_t context_reached = 0;  // cache length at the end
  double ms_per_step = 0, tokens_per_s = 0;  // tokens/s: batch · steps / time
};

// Decode speed: from an empty cache, a prompt that leaves room for one warm-up and `steps` timed steps
// (at most max_prompt tokens), then the steps. A prompt that filled the context would leave nothing to
// time (511 of 512 positions leaves one step: the warm-up).
DecodeTiming time_decode(LlmSession& s, std::int64_t context, std::int64_t batch, std::int64_t steps,
                         std::int64_t max_prompt = std::numeric_limits<std::int64_t>::max()) {
  DecodeTiming d;
  s.reset();
  d.prompt = std::max<std::int64_t>(1, std::min(max_prompt, context - steps - 1));
  s.prefill(std::vector<std::int32_t>(static_cast<std::size_t>(batch * d.prompt), 1), d.prompt);
  const std::int64_t room = context - s.length();
  if (room < 1) return d;
  const std::int64_t run = std::min(steps + 1, room);
  const double step = s.time_decode_ms(run);
  d.context_reached = s.length();
  if (step > 0) {
    d.steps = run - 1;
    d.ms_per_step = step;
    d.tokens_per_s = 1000.0 * static_cast<double>(batch) / step;
  }
  return d;
}

// Set up at (context, batch) and run the probe pass: ok, or why not.
LlmProbe probe(const GpuBudget& gpu, const DecoderConfig& c, Precision p, std::int64_t context, std::int64_t batch,
               const LlmFitOptions& fo, const WeightsSource& ws, std::uint64_t seed) {
  LlmProbe r{context, batch, Outcome::ok, ""};
  try {
    LlmSession s(session_config(gpu, c, p, context, batch, fo, ws, seed));
    run_probe_pass(s, context, batch);
  } catch (const Error&) {
    const Status st = status_of_current_exception();
    r.status = st.outcome;
    r.reason = st.reason;
  }
  return r;
}

}  // namespace

GpuBudget probe_gpu(int device, std::optional<std::uint64_t> vram_limit, std::uint64_t reserve) {
  GpuBudget g;
  if (!cuda::cuda_device_available()) {
    g.why_not = "no CUDA GPU is visible to this process";
    return g;
  }
  g.available = true;
  g.index = device;
  g.vram_limit = vram_limit;
  g.reserve = reserve;
  g.device = cuda::query(device).summary();
  const ContextOverhead o = measure_context_overhead(device);
  g.overhead_bytes = o.total();
  std::size_t free_b = 0, total_b = 0;
  if (!vram_limit) CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  g.budget_bytes = memory_budget(o, vram_limit, reserve, free_b);
  g.budget_note = vram_limit ? fmt::format("--vram-limit {} less this process's CUDA context and handles {} (measured here){}",
                                           format_bytes(*vram_limit), format_bytes(o.total()), reserve ? " and --reserve" : "")
                             : "free memory of this GPU now, less the library handles' share";
  return g;
}

LlmMeasured measure_llm(const GpuBudget& gpu, const DecoderConfig& c, const LlmQuantRow& row, const LlmFitOptions& fo,
                        const DecoderCheckpoint* checkpoint, std::uint64_t seed, const GgufLlamaModel* gguf) {
  const WeightsSource ws{checkpoint, gguf};
  LlmMeasured m;
  const Precision p_ = row.precision;
  const std::int64_t ctx0 = fo.contexts.front();
  // Speeds at the first context, batch 1: prefill of min(512, context) tokens, then decode steps.
  if (row.max_context >= ctx0) {
    try {
      LlmSession s(session_config(gpu, c, p_, ctx0, 1, fo, ws, seed));
      m.arena_bytes = s.arena_bytes();
      m.predicted_process_bytes = s.plan().total_bytes() + gpu.overhead_bytes;
      m.process_vram_bytes = cuda::Nvml::instance().process_used_bytes(cuda::query(gpu.index).pci_bus_id);
      const PrefillTiming t = time_prefill(s, std::min<std::int64_t>(512, ctx0 - 1 > 0 ? ctx0 - 1 : 1), 1);
      m.prefill_tokens = t.tokens;
      m.prefill_tokens_per_s = t.tokens_per_s;
    } catch (const Error& e) {
      m.note += fmt::format("batch-1 prefill timing at context {} failed: {}. ", ctx0, e.what());
    }
    try {
      // Decode in a session of its own: the prefill above may have filled the context (512 of 512),
      // leaving no room for timed steps. A prompt of all but 65 positions, then 1 warm-up + 64 timed steps.
      LlmSession s(session_config(gpu, c, p_, ctx0, 1, fo, ws, seed));
      const DecodeTiming d = time_decode(s, ctx0, 1, 64);
      if (d.tokens_per_s > 0) m.decode_tokens_per_s_batch1 = d.tokens_per_s;
      m.decode_context = s.length();
    } catch (const Error& e) {
      m.note += fmt::format("batch-1 decode timing at context {} failed: {}. ", ctx0, e.what());
    }
  }
  // A probe of (context, batch) for measure/confirm.h, kept in m.probes as it ran.
  auto probe_at = [&](std::int64_t context, std::int64_t batch) {
    const LlmProbe p = probe(gpu, c, p_, context, batch, fo, ws, seed);
    m.probes.push_back(p);
    return p;
  };
  // Max context at batch 1: run it, and one token more must be out of memory (up to the model's
  // limit); when the plan is wrong, the real maximum is searched for.
  if (row.max_context > 0) {
    const std::int64_t ceiling = row.max_context_is_model_limit || c.max_position_embeddings <= 0
                                     ? row.max_context
                                     : std::max(c.max_position_embeddings, row.max_context);
    const MaxSearch r = confirm_max(row.max_context, ceiling, [&](std::int64_t ctx) {
      const LlmProbe p = probe_at(ctx, 1);
      return Probe{ctx, p.status, p.reason};
    });
    if (r.outcome == Outcome::ok && r.found > 0) m.confirmed_max_context = r.found;
    if (r.outcome == Outcome::ok && !r.prediction_confirmed)
      m.note += fmt::format("the plan predicted a max context of {} but the GPU ran {}: the plan is {} here. ", row.max_context, r.found,
                            r.found > row.max_context ? "conservative" : "optimistic");
    else if (r.outcome != Outcome::ok)
      m.note += fmt::format("max context not confirmed: {}. ", r.reason);
  }
  // Max batch at each context (confirmed, or searched), and decode speed at the max batch of the first context.
  for (const auto& f : row.max_batch) {
    if (f.max_batch == 0) continue;
    const MaxSearch r = confirm_max(f.max_batch, f.capped ? f.max_batch : std::max(fo.max_batch_ceiling, f.max_batch),
                                               [&](std::int64_t b) {
                                                 const LlmProbe p = probe_at(f.context, b);
                                                 return Probe{b, p.status, p.reason};
                                               });
    if (r.outcome != Outcome::ok || r.found == 0) continue;
    m.confirmed_max_batch.emplace_back(f.context, r.found);
    if (!r.prediction_confirmed)
      m.note += fmt::format("at context {} the plan predicted a max batch of {} but the GPU ran {}. ", f.context, f.max_batch, r.found);
    if (f.context == ctx0 && !m.decode_tokens_per_s_max_batch) {
      try {
        LlmSession s(session_config(gpu, c, p_, f.context, r.found, fo, ws, seed));
        // A prompt of at most 512 tokens that leaves room for 1 warm-up + 32 timed steps.
        const DecodeTiming d = time_decode(s, f.context, r.found, 32, 512);
        if (d.tokens_per_s > 0) {
          m.decode_tokens_per_s_max_batch = d.tokens_per_s;
          m.decode_max_batch = r.found;
        }
      } catch (const Error& e) {
        m.note += fmt::format("decode timing at batch {} failed: {}. ", r.found, e.what());
      }
    }
  }
  return m;
}

nlohmann::json llm_worker_answer(const nlohmann::json& c, SessionCache& cache) {
  const LlmRequest r = llm_request(c);  // measure/requests.h
  const ModelInfo& m = find_model(r.model);
  if (m.family != ModelFamily::DecoderLLM) throw InvalidInput(fmt::format("worker configuration: {} is not a decoder LLM", m.id));
  const std::string& measure = r.measure;
  LlmSessionConfig cfg;
  cfg.model = m.decoder();
  cfg.precision = r.precision;
  cfg.context = r.context;
  cfg.batch = r.batch;
  cfg.plan.prefill_chunk = r.prefill_chunk;
  cfg.plan.workspace_bytes = r.workspace;
  cfg.vram_limit = r.vram_limit;
  cfg.reserve = r.reserve;
  cfg.seed = r.seed;
  cfg.device = r.device;
  const std::int64_t steps = r.decode_steps;

  // What the process holds besides the session's arena, measured before its first session (kept in the
  // worker's cache, so every configuration in this process gets the same budget; runtime/budget.h).
  if (cache.overhead_device != cfg.device) {
    cache.overhead = measure_context_overhead(cfg.device);
    cache.overhead_device = cfg.device;
  }
  const ContextOverhead oh = cache.overhead;
  std::size_t free_b = 0, total_b = 0;
  if (!cfg.vram_limit) CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  cfg.budget = memory_budget(oh, cfg.vram_limit, cfg.reserve, free_b);
  LlmSession s(cfg);  // OutOfMemory here (before any weight is generated) is the "does not fit" answer
  const LlmMemoryPlan& plan = s.plan();
  nlohmann::json j{{"status", "ok"}, {"context", cfg.context}, {"batch", cfg.batch}};
  if (measure == "speed") {
    const std::int64_t most = std::max<std::int64_t>(1, cfg.context - 1);
    const PrefillTiming t = time_prefill(s, std::clamp(r.prefill_tokens > 0 ? r.prefill_tokens : most, std::int64_t{1}, most), cfg.batch);
    j["prefill_tokens"] = t.tokens;
    j["prefill_ms"] = t.ms;
    j["prefill_tokens_per_s"] = t.tokens_per_s;
  }
  if (steps > 0 && cfg.context >= 2) {
    const DecodeTiming d = time_decode(s, cfg.context, cfg.batch, steps);
    j["decode_prompt_tokens"] = d.prompt;
    j["decode_steps"] = d.steps;
    j["decode_context"] = d.context_reached;
    if (d.tokens_per_s > 0) {
      j["decode_ms_per_step"] = d.ms_per_step;
      j["decode_tokens_per_s"] = d.tokens_per_s;
    }
  } else if (measure == "fit") {
    run_probe_pass(s, cfg.context, cfg.batch);
  }
  CUDA_CHECK(cudaStreamSynchronize(s.stream()));
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  j["vram_bytes"] = {{"weights", plan.weights_bytes},
                     {"kv_cache", plan.kv_bytes},
                     {"activations", plan.activation_bytes},
                     {"scratch", plan.scratch_bytes + plan.carry_bytes},
                     {"arena", s.arena_bytes()},
                     {"planned_arena", plan.total_bytes()},
                     {"context_and_handles", oh.total()},
                     {"process_total", s.arena_bytes() + oh.total()}};
  j["device_used_bytes"] = static_cast<std::uint64_t>(total_b - free_b);
  j["budget_bytes"] = s.budget();
  const ProcessVram pv = process_vram(cfg.device, total_b - free_b);
  j["process_vram_bytes"] = pv.bytes;
  j["process_vram_source"] = pv.source;
  j["setup_s"] = {{"total", s.setup_ms() / 1000.0}};
  return j;
}

}  // namespace vramfit::measure
