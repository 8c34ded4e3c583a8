// profile/llm_matrix.cpp — the steps of one decoder LLM × precision (llm_matrix.h).
#include "profile/llm_matrix.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>

#include "core/error.h"
#include "measure/requests.h"
#include "predict/llm_fit.h"

namespace vramfit::profile {

nlohmann::json llm_worker_config(const std::string& measure, const std::string& model, Precision p, std::int64_t context,
                                 std::int64_t decode_steps, const MatrixOptions& o) {
  measure::LlmRequest r;
  r.measure = measure;
  r.device = o.device;
  r.reserve = o.reserve;
  r.vram_limit = o.vram_limit;
  r.model = model;
  r.precision = p;
  r.context = context;
  r.batch = 1;
  r.seed = o.seed;
  r.prefill_chunk = o.llm_plan.prefill_chunk;
  r.workspace = o.llm_plan.workspace_bytes;
  r.decode_steps = decode_steps;
  // A session of `context` positions prefills at most context − 1 tokens and still decodes one.
  r.prefill_tokens = std::max<std::int64_t>(1, std::min<std::int64_t>(512, context - 1));
  return measure::to_json(r);  // measure/requests.h
}

LlmPrecisionResult profile_llm_precision(const ModelInfo& m, Precision p, const MatrixOptions& o, std::uint64_t budget,
                                         const WorkerFn& run, const ProgressFn& progress) {
  if (m.family != ModelFamily::DecoderLLM) throw InternalError(fmt::format("profile_llm_precision: {} is not a decoder LLM", m.id));
  LlmPrecisionResult r;
  r.model = m.id;
  r.precision = p;
  r.budget_bytes = budget;
  const DecoderConfig c = m.decoder();
  r.model_max_context = c.max_position_embeddings;
  r.context = std::min(o.llm_context, c.max_position_embeddings);
  r.max_context.ceiling = c.max_position_embeddings;
  const std::string name = fmt::format("{} {}", m.id, to_string(p));
  auto say = [&](const std::string& s) {
    if (progress) progress(fmt::format("{}: {}", name, s));
  };

  // 0. Can the engine run it at all? (No worker: the answer does not depend on the GPU.)
  if (const auto why = llm_unsupported_reason(c, p)) {
    r.outcome = r.max_context.outcome = Outcome::unsupported;
    r.reason = r.max_context.reason = *why;
    return r;
  }

  // 1. The plan and the largest context at batch 1 under the budget.
  LlmFitOptions fo;
  fo.plan = o.llm_plan;
  fo.contexts = {r.context};
  fo.batches = {1};
  fo.budget_bytes = budget;
  fo.max_batch_ceiling = 1;
  const LlmQuantRow fit = fit_llm(c, p, fo);
  r.weights_bytes = fit.weights_bytes;
  r.kv_bytes_per_token = fit.kv_bytes_per_token;
  r.predicted_bytes = fit.points.front().total_bytes;
  r.predicted_bytes_at_max = plan_llm_memory(c, p, std::max<std::int64_t>(1, fit.max_context), 1, o.llm_plan).total_bytes();

  // 2. Confirm the max context: the first probe (at the prediction) also times decode at the end of
  // the cache; the others of a search only set up and run.
  std::map<std::int64_t, nlohmann::json> timed;
  bool first = true;
  const ProbeFn probe = [&](std::int64_t ctx) {
    const bool time_it = first;
    first = false;
    say(fmt::format("{} context {}", time_it ? "fit and time decode at" : "probe", ctx));
    nlohmann::json cfg = llm_worker_config("fit", m.id, p, ctx, time_it ? o.llm_fit_decode_steps() : 0, o);
    cfg["process"] = process_mode(o, true);
    const nlohmann::json res = run(cfg);
    if (time_it && answer_outcome(res) == Outcome::ok) timed[ctx] = res;
    return Probe{ctx, answer_outcome(res), res.value("reason", "")};
  };
  r.max_context = confirm_max(fit.max_context, c.max_position_embeddings, probe);
  if (r.max_context.outcome != Outcome::ok) {
    const Probe& last = r.max_context.probes.back();
    r.outcome = r.max_context.outcome;
    r.reason = r.max_context.reason = fmt::format("context {}: {}", last.size, last.reason);
    return r;
  }
  const std::int64_t max_ctx = r.max_context.found;
  if (max_ctx == 0) {
    // Not even context 1: the planner's reason (weights alone, or the whole sum), and the GPU's when
    // the planner thought otherwise.
    r.outcome = Outcome::oom;
    r.reason = !fit.reason.empty() ? fit.reason
                                   : fmt::format("the planner predicted max context {}, but context 1 was out of memory: {}",
                                                 r.max_context.predicted, r.max_context.probes.back().reason);
    return r;
  }
  if (auto it = timed.find(max_ctx); it != timed.end()) {
    r.at_max = it->second;
  } else {
    say(fmt::format("time decode at context {}", max_ctx));
    nlohmann::json cfg = llm_worker_config("fit", m.id, p, max_ctx, o.llm_fit_decode_steps(), o);
    cfg["process"] = process_mode(o, false);
    r.at_max = run(cfg);
  }

  // 3. Speed at the speed context, batch 1.
  if (max_ctx >= r.context) {
    say(fmt::format("prefill and decode speed at context {}", r.context));
    nlohmann::json cfg = llm_worker_config("speed", m.id, p, r.context, o.llm_decode_steps(), o);
    cfg["process"] = process_mode(o, false);
    r.speed = run(cfg);
  } else {
    r.speed_note = fmt::format("context {} does not fit at batch 1 (the max context is {})", r.context, max_ctx);
  }
  return r;
}

std::vector<Precision> precisions_for(const ModelInfo& m, const std::vector<Precision>& requested, int compute_capability) {
  if (!requested.empty()) return requested;
  if (m.family == ModelFamily::DecoderLLM) return default_llm_precisions();
  std::vector<Precision> v{Precision::fp32, Precision::fp16};
  if (compute_capability >= min_compute_capability(Precision::bf16)) v.push_back(Precision::bf16);
  return v;
}

}  // namespace vramfit::profile
