#include "runtime/session.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/arena.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/executor.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/rng.h"
#include "graph/passes.h"
#include "graph/planner.h"
#include "weights/binding.h"
#include "weights/safetensors.h"

namespace vramfit {

namespace {

std::uint64_t device_used() {
  std::size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return total_b - free_b;
}

}  // namespace

ContextOverhead measure_context_overhead(int device) {
  // The primary context may already exist (handles of an earlier session are gone by now): the
  // count "after the context" is what this process holds with no session alive.
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaFree(nullptr));
  ContextOverhead o;
  o.context_bytes = device_used();
  {
    cuda::CudnnHandle cudnn;
    cuda::CublasLtHandle lt;
    CUDA_CHECK(cudaDeviceSynchronize());
    const std::uint64_t after = device_used();
    o.handles_bytes = after > o.context_bytes ? after - o.context_bytes : 0;
  }
  return o;
}

TimingStats summarize_samples(std::vector<double> s, int warmup, int enough) {
  TimingStats t;
  t.warmup = warmup;
  t.samples_ms = s;
  if (s.empty()) {
    t.trusted = false;
    t.note = "no samples";
    return t;
  }
  std::sort(s.begin(), s.end());
  auto pct = [&](double p) {  // nearest-rank percentile
    const auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(s.size()))) ;
    return s[std::min(s.size() - 1, idx == 0 ? 0 : idx - 1)];
  };
  t.min = s.front();
  t.max = s.back();
  t.median = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
  t.p90 = pct(90);
  t.p99 = pct(99);
  double sum = 0;
  for (double v : s) sum += v;
  t.mean = sum / static_cast<double>(s.size());
  if (s.size() < static_cast<std::size_t>(std::max(enough, 1))) {
    t.trusted = false;
    t.note = fmt::format("only {} iterations", s.size());
  } else if (t.p90 > 1.5 * t.median) {
    t.trusted = false;
    t.note = fmt::format("unstable: p90 {:.3f} ms > 1.5 × median {:.3f} ms", t.p90, t.median);
  }
  return t;
}

struct Session::Impl {
  SessionConfig cfg;
  Graph graph;
  Plan plan;
  TensorMap weights;
  ContextOverhead overhead;
  std::uint64_t budget = 0;
  // The cache's or this session's own; every stream's executor uses it (declared before them: it
  // outlives them).
  std::shared_ptr<cuda::AlgorithmCache> algorithms;
  cuda::Stream stream;
  cuda::DeviceArena arena;
  std::unique_ptr<cuda::Executor> exec;
  std::vector<cuda::Stream> more_streams;                  // streams 2…N (cfg.streams)
  std::vector<std::unique_ptr<cuda::Executor>> more_execs;  // on the first executor's weights
  std::uint64_t planned_capacity = 0;
  SetupTimes setup;
};

Session::Session(const SessionConfig& cfg, SessionCache* cache) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.cfg = cfg;
  VRAMFIT_CHECK(cfg.model != nullptr, "session without a model");
  CUDA_CHECK(cudaSetDevice(cfg.device));
  const cuda::DeviceInfo info = cuda::query(cfg.device);
  if (const int need = min_compute_capability(cfg.precision); need > info.compute_capability())
    throw Unsupported(fmt::format("{} needs compute capability {}.{}; {} is {}.{}", to_string(cfg.precision), need / 10,
                                  need % 10, info.name, info.cc_major, info.cc_minor));

  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t0 = clock::now();

  // Graph, weights, passes (BN folding needs the weights), plan — the same pipeline `plan` uses.
  if (cfg.model->family == ModelFamily::DecoderLLM)
    throw Unsupported(fmt::format("{} is a decoder LLM: run it with `vramfit llm -m {}`", cfg.model->id, cfg.model->id));
  s.graph = cfg.model->build(cfg.batch);
  cuda::ExecutorOptions eo;
  eo.allow_tf32 = cfg.tf32;
  eo.workspace_bytes = cfg.workspace;
  eo.autotune = cfg.autotune;
  if (cache && !cache->algorithms) cache->algorithms = std::make_shared<cuda::AlgorithmCache>();
  s.algorithms = cache ? cache->algorithms : std::make_shared<cuda::AlgorithmCache>();
  eo.algorithms = s.algorithms.get();
  {
    // What the arena will need, from the graph alone (passes change weight values, not shapes), so that
    // a configuration over budget fails before seconds go into generating its weights.
    Graph planned = s.graph;
    optimize_for_inference(planned, cfg.precision, nullptr, cfg.tf32 || cfg.channels_last);
    if (cfg.streams < 1) throw InvalidInput(fmt::format("--streams must be ≥ 1 (got {})", cfg.streams));
    s.planned_capacity = cuda::required_arena_bytes(planned, plan_memory(planned), eo, cfg.streams);
  }

  // Budget: an emulated card's size less what this process needs before any session, or what the
  // device has free right now.
  if (cache && cache->overhead_device == cfg.device) {
    s.overhead = cache->overhead;
  } else {
    s.overhead = measure_context_overhead(cfg.device);
    if (cache) {
      cache->overhead = s.overhead;
      cache->overhead_device = cfg.device;
    }
  }
  std::size_t free_b = 0, total_b = 0;
  if (!cfg.vram_limit) CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  // Each further stream has its own cuDNN and cuBLASLt handles, measured above for one pair.
  s.budget = memory_budget(s.overhead, cfg.vram_limit, cfg.reserve, free_b, static_cast<std::uint64_t>(cfg.streams - 1));
  if (s.planned_capacity > s.budget)
    throw OutOfMemory(fmt::format("device arena needs {} ({} B), budget {} ({} B)", format_bytes(s.planned_capacity), s.planned_capacity,
                                  format_bytes(s.budget), s.budget));
  const auto t1 = clock::now();

  if (cfg.weights_path.empty()) {
    const std::string key = fmt::format("{}/{}", cfg.model->id, cfg.seed);
    if (cache && cache->weights_key == key) {
      s.weights = cache->weights;  // a copy: the passes below fold batch norms into it
    } else {
      s.weights = random_weights(s.graph, cfg.seed);
      if (cache) {
        cache->weights_key.clear();  // no stale pair if the copy throws
        cache->weights = s.weights;
        cache->weights_key = key;
      }
    }
  } else {
    s.weights = bind_checkpoint(s.graph, SafetensorsFile::open(cfg.weights_path));
  }
  optimize_for_inference(s.graph, cfg.precision, &s.weights, cfg.tf32 || cfg.channels_last);
  s.plan = plan_memory(s.graph);
  VRAMFIT_CHECK(cuda::required_arena_bytes(s.graph, s.plan, eo, cfg.streams) == s.planned_capacity,
                "the plan with weights bound differs from the plan without them");
  const auto t2 = clock::now();

  s.arena = cuda::DeviceArena(s.planned_capacity, s.budget);
  s.exec = std::make_unique<cuda::Executor>(s.graph, s.plan, s.weights, s.arena, eo, s.stream.get());
  const auto t3 = clock::now();
  for (int i = 1; i < cfg.streams; ++i) {
    cuda::ExecutorOptions shared = eo;
    shared.shared_weights = s.exec.get();
    s.more_streams.emplace_back();
    s.more_execs.push_back(std::make_unique<cuda::Executor>(s.graph, s.plan, s.weights, s.arena, shared, s.more_streams.back().get()));
  }
  s.weights.clear();  // the device holds them now
  for (int i = 0; i < cfg.streams; ++i) {
    cuda::Executor& e = i == 0 ? *s.exec : *s.more_execs[static_cast<std::size_t>(i - 1)];
    cudaStream_t st = i == 0 ? s.stream.get() : s.more_streams[static_cast<std::size_t>(i - 1)].get();
    e.fill_input_normal(0, cfg.seed + 1 + static_cast<std::uint64_t>(i), st);  // on the device: seconds on the host at large batches
    e.enqueue(st);  // warm cuDNN/cuBLASLt before capture
    CUDA_CHECK(cudaStreamSynchronize(st));
    e.capture(st);
  }
  const auto t4 = clock::now();
  s.setup.plan_s = secs(t0, t1);
  s.setup.weights_s = secs(t1, t2);
  s.setup.device_s = secs(t2, t3);
  s.setup.capture_s = secs(t3, t4);
}

Session::~Session() = default;

const SessionConfig& Session::config() const { return impl_->cfg; }

const SetupTimes& Session::setup_times() const { return impl_->setup; }

Tensor Session::random_input(std::uint64_t seed) const {
  const Value& in = impl_->graph.value(impl_->graph.inputs().front());
  Tensor t(in.shape);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = normal01(seed, stream_id("input"), i);
  return t;
}

void Session::set_input(const Tensor& x) { impl_->exec->set_input(0, x); }

void Session::run() {
  auto& s = *impl_;
  s.exec->launch(s.stream.get());
  for (std::size_t i = 0; i < s.more_execs.size(); ++i) s.more_execs[i]->launch(s.more_streams[i].get());
  s.stream.synchronize();
  for (auto& st : s.more_streams) st.synchronize();
}

TimingStats Session::time_streams(int warmup, int iterations) {
  auto& s = *impl_;
  const std::size_t n = 1 + s.more_execs.size();
  auto stream_of = [&](std::size_t i) { return i == 0 ? s.stream.get() : s.more_streams[i - 1].get(); };
  auto exec_of = [&](std::size_t i) -> const cuda::Executor& { return i == 0 ? *s.exec : *s.more_execs[i - 1]; };
  struct Iter {
    cuda::Event start, join;
    std::vector<cuda::Event> end;
  };
  std::vector<Iter> its(static_cast<std::size_t>(warmup + iterations));
  for (auto& it : its) {
    it.end.resize(n);
    // All streams start together (after `start` on stream 0) and stream 0 waits for all of them.
    it.start.record(stream_of(0));
    for (std::size_t i = 1; i < n; ++i) CUDA_CHECK(cudaStreamWaitEvent(stream_of(i), it.start.get(), 0));
    for (std::size_t i = 0; i < n; ++i) {
      exec_of(i).launch(stream_of(i));
      it.end[i].record(stream_of(i));
    }
    for (std::size_t i = 1; i < n; ++i) CUDA_CHECK(cudaStreamWaitEvent(stream_of(0), it.end[i].get(), 0));
    it.join.record(stream_of(0));
  }
  s.stream.synchronize();
  std::vector<double> per_stream, wall;
  for (std::size_t k = static_cast<std::size_t>(warmup); k < its.size(); ++k) {
    for (std::size_t i = 0; i < n; ++i) per_stream.push_back(cuda::Event::elapsed_ms(its[k].start, its[k].end[i]));
    wall.push_back(cuda::Event::elapsed_ms(its[k].start, its[k].join));
  }
  TimingStats t = summarize_samples(std::move(per_stream), warmup);
  const TimingStats w = summarize_samples(std::move(wall), warmup);
  t.streams = static_cast<int>(n);
  t.wall_median_ms = w.median;
  return t;
}

Tensor Session::output() const { return impl_->exec->output(0); }

TimingStats Session::time(int warmup, int iterations, double max_seconds) {
  auto& s = *impl_;
  if (!s.more_execs.empty()) return time_streams(warmup, iterations);
  int sizing = 0;  // the replay that sized the loop counts as warm-up
  int enough = std::min(10, iterations);  // samples for a trusted timing (summarize_samples)
  if (max_seconds > 0 && warmup > 0 && iterations > 0) {
    sizing = 1;
    // Size warm-up and iterations by the time one replay takes: at a large batch a replay takes a
    // second and ten of them are as stable as fifty; never more than asked. Ten samples make a
    // trusted timing; where ten replays would take over twice the budget (a max batch of thousands),
    // three of them do: a replay that long varies by far less than the 1.5× spread summarize_samples
    // accepts.
    cuda::Event a, b;
    a.record(s.stream.get());
    s.exec->launch(s.stream.get());
    b.record(s.stream.get());
    s.stream.synchronize();
    const double once_s = cuda::Event::elapsed_ms(a, b) / 1000.0;
    if (once_s > 0) {
      if (10.0 * once_s > 2.0 * max_seconds) enough = std::min(3, iterations);
      const int fit = static_cast<int>(max_seconds / once_s);
      iterations = std::clamp(fit, enough, iterations);
      warmup = std::clamp(static_cast<int>(0.25 * max_seconds / once_s), 1, warmup) - 1;  // one replay done above
    }
  }
  for (int i = 0; i < warmup; ++i) s.exec->launch(s.stream.get());
  s.stream.synchronize();
  std::vector<cuda::Event> events(static_cast<std::size_t>(iterations) + 1);
  events[0].record(s.stream.get());
  for (int i = 0; i < iterations; ++i) {
    s.exec->launch(s.stream.get());
    events[static_cast<std::size_t>(i) + 1].record(s.stream.get());
  }
  s.stream.synchronize();
  std::vector<double> samples;
  for (int i = 0; i < iterations; ++i)
    samples.push_back(cuda::Event::elapsed_ms(events[static_cast<std::size_t>(i)], events[static_cast<std::size_t>(i) + 1]));
  return summarize_samples(std::move(samples), warmup + sizing, enough);
}

std::vector<Session::NodeTime> Session::time_nodes(int iterations) {
  std::vector<NodeTime> out;
  for (const auto& st : impl_->exec->time_steps(impl_->stream.get(), iterations)) out.push_back({st.name, st.op, st.median_ms});
  return out;
}

VramBreakdown Session::vram() const {
  const auto& s = *impl_;
  VramBreakdown v;
  const std::uint64_t n = 1 + s.more_execs.size();
  v.weights = s.exec->weights_bytes();
  v.activations = n * s.exec->activation_bytes();
  v.workspace_budget = n * s.cfg.workspace;
  v.workspace_used = s.exec->workspace_used();
  for (const auto& e : s.more_execs) v.workspace_used = std::max(v.workspace_used, e->workspace_used());
  v.arena_capacity = s.arena.capacity();
  v.planned_arena = s.planned_capacity;
  v.context_and_handles = s.overhead.total() + (n - 1) * s.overhead.handles_bytes;
  v.device_used = device_used();
  v.budget = s.budget;
  return v;
}

std::vector<std::string> Session::algorithm_choices() const { return impl_->exec->choices(); }

}  // namespace vramfit
