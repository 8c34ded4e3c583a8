#include "runtime/session.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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

TimingStats summarize_samples(std::vector<double> s, int warmup) {
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
  if (s.size() < 10) {
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
  cuda::Stream stream;
  cuda::DeviceArena arena;
  std::unique_ptr<cuda::Executor> exec;
  std::uint64_t planned_capacity = 0;
};

Session::Session(const SessionConfig& cfg) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.cfg = cfg;
  VRAMFIT_CHECK(cfg.model != nullptr, "session without a model");
  CUDA_CHECK(cudaSetDevice(cfg.device));
  const cuda::DeviceInfo info = cuda::query(cfg.device);
  if (const int need = min_compute_capability(cfg.precision); need > info.compute_capability())
    throw Unsupported(fmt::format("{} needs compute capability {}.{}; {} is {}.{}", to_string(cfg.precision), need / 10,
                                  need % 10, info.name, info.cc_major, info.cc_minor));

  // Graph, weights, passes (BN folding needs the weights), plan — the same pipeline `plan` uses.
  if (cfg.model->family == ModelFamily::DecoderLLM)
    throw Unsupported(fmt::format("{} is a decoder LLM: run it with `vramfit llm -m {}`", cfg.model->id, cfg.model->id));
  s.graph = cfg.model->build(cfg.batch);
  if (cfg.weights_path.empty()) {
    s.weights = random_weights(s.graph, cfg.seed);
  } else {
    s.weights = bind_checkpoint(s.graph, SafetensorsFile::open(cfg.weights_path));
  }
  optimize_for_inference(s.graph, cfg.precision, &s.weights, cfg.tf32 || cfg.channels_last);
  s.plan = plan_memory(s.graph);

  cuda::ExecutorOptions eo;
  eo.allow_tf32 = cfg.tf32;
  eo.workspace_bytes = cfg.workspace;
  eo.autotune = cfg.autotune;
  s.planned_capacity = cuda::required_arena_bytes(s.graph, s.plan, eo);

  // Budget: an emulated card's size less what this process needs before any session, or what the
  // device has free right now.
  s.overhead = measure_context_overhead(cfg.device);
  if (cfg.vram_limit) {
    const std::uint64_t fixed = s.overhead.total() + cfg.reserve;
    s.budget = *cfg.vram_limit > fixed ? *cfg.vram_limit - fixed : 0;
  } else {
    std::size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    // The handles below are not created yet: keep their measured share out of the budget.
    const std::uint64_t fixed = s.overhead.handles_bytes + cfg.reserve;
    s.budget = free_b > fixed ? free_b - fixed : 0;
  }
  s.arena = cuda::DeviceArena(s.planned_capacity, s.budget);
  s.exec = std::make_unique<cuda::Executor>(s.graph, s.plan, s.weights, s.arena, eo, s.stream.get());
  s.weights.clear();  // the device holds them now
  set_input(random_input(cfg.seed + 1));
  s.exec->enqueue(s.stream.get());  // warm cuDNN/cuBLASLt before capture
  CUDA_CHECK(cudaStreamSynchronize(s.stream.get()));
  s.exec->capture(s.stream.get());
}

Session::~Session() = default;

const SessionConfig& Session::config() const { return impl_->cfg; }

Tensor Session::random_input(std::uint64_t seed) const {
  const Value& in = impl_->graph.value(impl_->graph.inputs().front());
  Tensor t(in.shape);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = normal01(seed, stream_id("input"), i);
  return t;
}

void Session::set_input(const Tensor& x) { impl_->exec->set_input(0, x); }

void Session::run() {
  impl_->exec->launch(impl_->stream.get());
  impl_->stream.synchronize();
}

Tensor Session::output() const { return impl_->exec->output(0); }

TimingStats Session::time(int warmup, int iterations) {
  auto& s = *impl_;
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
  return summarize_samples(std::move(samples), warmup);
}

std::vector<Session::NodeTime> Session::time_nodes(int iterations) {
  std::vector<NodeTime> out;
  for (const auto& st : impl_->exec->time_steps(impl_->stream.get(), iterations)) out.push_back({st.name, st.op, st.median_ms});
  return out;
}

VramBreakdown Session::vram() const {
  const auto& s = *impl_;
  VramBreakdown v;
  v.weights = s.exec->weights_bytes();
  v.activations = s.exec->activation_bytes();
  v.workspace_budget = s.cfg.workspace;
  v.workspace_used = s.exec->workspace_used();
  v.arena_capacity = s.arena.capacity();
  v.planned_arena = s.planned_capacity;
  v.context_and_handles = s.overhead.total();
  v.device_used = device_used();
  v.budget = s.budget;
  return v;
}

std::vector<std::string> Session::algorithm_choices() const { return impl_->exec->choices(); }

}  // namespace vramfit
