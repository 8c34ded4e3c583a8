// profile/matrix.cpp — max-batch confirmation/search and the steps of one model × precision.
#include "profile/matrix.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>

#include "core/error.h"
#include "measure/requests.h"

namespace vramfit::profile {

std::vector<std::int64_t> latency_batches(std::int64_t max_batch, bool quick) {
  static const std::vector<std::int64_t> full{1, 8, 32, 64, 128, 256}, fast{1, 32};
  std::vector<std::int64_t> out;
  for (std::int64_t b : quick ? fast : full)
    if (b <= max_batch) out.push_back(b);
  if (max_batch >= 1 && (out.empty() || out.back() != max_batch)) out.push_back(max_batch);
  return out;
}

const char* process_mode(const MatrixOptions& o, bool decides_max) { return o.vram_limit || !decides_max ? "shared" : "fresh"; }

nlohmann::json worker_config(const std::string& kind, const std::string& model, Precision p, std::int64_t batch,
                             const MatrixOptions& o, int streams) {
  measure::VisionRequest r;
  r.kind = kind;
  r.device = o.device;
  r.reserve = o.reserve;
  r.vram_limit = o.vram_limit;
  r.model = model;
  r.precision = p;
  r.batch = batch;
  r.workspace = o.workspace;
  r.seed = o.seed;
  r.streams = streams;
  r.warmup = o.warmup();
  r.iterations = o.iterations();
  r.time_budget_s = o.time_budget_s();
  return measure::to_json(r);  // measure/requests.h: the fields that apply to this kind
}

ModelPrecisionResult profile_model_precision(const ModelInfo& m, Precision p, const MatrixOptions& o, std::uint64_t budget,
                                             const WorkerFn& run, const ProgressFn& progress) {
  ModelPrecisionResult r;
  r.model = m.id;
  r.precision = p;
  r.budget_bytes = budget;
  const std::string name = fmt::format("{} {}", m.id, to_string(p));
  auto say = [&](const std::string& s) {
    if (progress) progress(fmt::format("{}: {}", name, s));
  };

  const BudgetFit fit = max_batch_under(m, p, budget, o.max_batch_ceiling, o.workspace);
  r.predicted_bytes_at_max = fit.at_max.total_bytes();
  // The first probe, at the predicted maximum, is a full measurement: when it fits (the usual case)
  // its timing is the max-batch row of the latency ladder, so the largest session is set up once.
  std::map<std::int64_t, nlohmann::json> measured;
  bool first_probe = true;
  const ProbeFn probe = [&](std::int64_t b) {
    const bool measure = first_probe;
    first_probe = false;
    say(fmt::format("{} batch {}", measure ? "probe and measure" : "probe", b));
    nlohmann::json c = worker_config(measure ? "measure" : "probe", m.id, p, b, o);
    c["process"] = process_mode(o, true);
    const nlohmann::json res = run(c);
    if (measure && answer_outcome(res) == Outcome::ok) measured[b] = res;
    Probe pr{b, answer_outcome(res), res.value("reason", "")};
    // Past the engine's tensor-size limit (predict/memory.h engine_batch_limit) the backend answers
    // `unsupported`: for the batch above a limit-bound maximum that confirms the limit, like an oom
    // confirms a memory-bound one.
    if (fit.limited_by == "engine" && b > fit.max_batch && pr.outcome == Outcome::unsupported) {
      pr.outcome = Outcome::limit;
      pr.reason = "engine limit: " + pr.reason;
    }
    return pr;
  };
  r.max_batch = confirm_max(fit.max_batch, o.max_batch_ceiling, probe);
  if (r.max_batch.outcome != Outcome::ok) {
    r.outcome = r.max_batch.outcome;
    r.reason = r.max_batch.reason = fmt::format("batch {}: {}", r.max_batch.probes.back().size, r.max_batch.reason);
    return r;
  }
  if (r.max_batch.found == 0) {
    r.outcome = Outcome::oom;
    const auto& last = r.max_batch.probes.back();
    r.reason = last.reason.empty() ? fit.reason : last.reason;
    return r;
  }

  for (std::int64_t b : latency_batches(r.max_batch.found, o.quick)) {
    nlohmann::json res;
    if (auto it = measured.find(b); it != measured.end()) {
      res = it->second;
    } else {
      say(fmt::format("measure batch {}", b));
      nlohmann::json c = worker_config("measure", m.id, p, b, o);
      c["process"] = process_mode(o, false);  // one child times the whole ladder (process_worker_fn)
      res = run(c);
    }
    res["kind"] = "measure";
    res["model"] = m.id;
    res["precision"] = std::string(to_string(p));
    res["batch"] = b;
    r.measurements.push_back(std::move(res));
  }

  if (p != Precision::fp32) {
    const std::int64_t b = std::min<std::int64_t>(8, r.max_batch.found);
    say(fmt::format("fidelity against fp32 at batch {}", b));
    nlohmann::json c = worker_config("fidelity", m.id, p, b, o);
    c["process"] = process_mode(o, false);
    nlohmann::json res = run(c);
    res["batch"] = b;
    res["reference"] = "fp32";
    r.fidelity = std::move(res);
  }

  if (m.family == ModelFamily::Pose) {
    for (std::int64_t b : {1, 8, 32}) {
      if (b > r.max_batch.found) break;
      const StreamsFit sf = max_streams_under(m, p, b, budget, o.handles_bytes, o.max_streams_ceiling, o.workspace);
      const ProbeFn probe_streams = [&](std::int64_t n) {
        say(fmt::format("batch {} × {} streams", b, n));
        nlohmann::json c = worker_config("probe", m.id, p, b, o, static_cast<int>(n));
        c["process"] = process_mode(o, true);
        const nlohmann::json res = run(c);
        return Probe{n, answer_outcome(res), res.value("reason", "")};
      };
      const MaxSearch c = confirm_max(sf.max_streams, o.max_streams_ceiling, probe_streams);
      nlohmann::json sj{{"batch", b},
                        {"status", c.outcome},
                        {"predicted", c.predicted},
                        {"max_streams", c.found},
                        {"prediction_confirmed", c.prediction_confirmed},
                        {"capped", c.capped},
                        {"per_stream_bytes", sf.per_stream_bytes},
                        {"probes", nlohmann::json::array()}};
      if (c.outcome != Outcome::ok) sj["reason"] = fmt::format("{} streams: {}", c.probes.back().size, c.reason);
      for (const auto& pr : c.probes) {
        nlohmann::json pj{{"streams", pr.size}, {"status", pr.outcome}};
        if (!pr.reason.empty()) pj["reason"] = pr.reason;
        sj["probes"].push_back(pj);
      }
      r.streams.push_back(std::move(sj));
    }
  }
  return r;
}

WorkerFn process_worker_fn(WorkerCommand cmd, std::chrono::milliseconds timeout, int* started, int* processes) {
  struct State {
    WorkerProcess child;
    std::string group;  // the model × precision the running child measured
    explicit State(WorkerCommand c) : child(std::move(c)) {}
  };
  auto state = std::make_shared<State>(std::move(cmd));
  return [state, timeout, started, processes](const nlohmann::json& config) {
    nlohmann::json c = config;
    c["worker_index"] = ++*started;
    // "process": "shared" may reuse the running child of the same model × precision; anything else
    // gets a child of its own, with nothing set up before it (see process_key in matrix.h).
    const std::string group = c.value("model", "") + "/" + c.value("precision", "");
    const bool reuse = c.value("process", "") == "shared" && state->child.running() && state->group == group;
    if (!reuse) state->child.stop(std::chrono::milliseconds(5000));
    WorkerOutcome out = state->child.ask(c, timeout);
    state->group = group;
    if (processes) *processes = state->child.processes_started();
    // The whole configuration, process start and CUDA context included when it started a child: what
    // the matrix's wall time is made of.
    out.result["worker_wall_s"] = out.wall_s;
    out.result["worker_process"] = out.started_process ? "started" : "reused";
    return out.result;
  };
}

WorkerFn journaled_worker_fn(Journal& journal, WorkerFn inner) {
  return [&journal, inner = std::move(inner)](const nlohmann::json& config) {
    const std::string key = journal_key(config);
    if (auto done = journal.find(key)) return *done;
    nlohmann::json res = inner(config);
    journal.append(key, res);
    return res;
  };
}

}  // namespace vramfit::profile
