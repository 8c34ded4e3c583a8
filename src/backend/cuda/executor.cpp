#include "backend/cuda/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/executor_lowering.h"
#include "backend/cuda/kernels/fault.cuh"
#include "backend/cuda/kernels/layout.cuh"
#include "core/error.h"
#include "core/fault.h"
#include "core/rng.h"
#include "core/half.h"
#include "graph/cost.h"

namespace vramfit::cuda {

namespace {

constexpr std::uint64_t kAlign = 256;
std::uint64_t align_up(std::uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

void store(DType t, float v, std::uint8_t* dst) {
  switch (t) {
    case DType::f32: std::memcpy(dst, &v, 4); return;
    case DType::f16: { const std::uint16_t h = float_to_half_bits(v); std::memcpy(dst, &h, 2); return; }
    case DType::bf16: { const std::uint16_t h = float_to_bf16_bits(v); std::memcpy(dst, &h, 2); return; }
    default: throw Unsupported(fmt::format("the CUDA executor cannot store dtype {} yet", to_string(t)));
  }
}

float load(DType t, const std::uint8_t* src) {
  switch (t) {
    case DType::f32: { float v; std::memcpy(&v, src, 4); return v; }
    case DType::f16: { std::uint16_t h; std::memcpy(&h, src, 2); return half_bits_to_float(h); }
    case DType::bf16: { std::uint16_t h; std::memcpy(&h, src, 2); return bf16_bits_to_float(h); }
    default: throw Unsupported(fmt::format("the CUDA executor cannot load dtype {} yet", to_string(t)));
  }
}

// Index of logical NCHW element (n, c, h, w) in NHWC storage.
inline std::size_t nhwc_index(const Shape& s, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return static_cast<std::size_t>(((n * s[2] + h) * s[3] + w) * s[1] + c);
}

}  // namespace

std::vector<std::uint8_t> to_device_format(std::span<const float> src, const Shape& logical, DType dtype, Layout layout) {
  VRAMFIT_CHECK(static_cast<std::int64_t>(src.size()) == logical.numel(), "to_device_format size");
  const std::size_t es = storage_bytes(dtype, 1);
  std::vector<std::uint8_t> out(src.size() * es);
  if (layout == Layout::NHWC && logical.rank() == 4) {
    std::size_t i = 0;
    for (std::int64_t n = 0; n < logical[0]; ++n)
      for (std::int64_t c = 0; c < logical[1]; ++c)
        for (std::int64_t h = 0; h < logical[2]; ++h)
          for (std::int64_t w = 0; w < logical[3]; ++w) store(dtype, src[i++], out.data() + nhwc_index(logical, n, c, h, w) * es);
  } else {
    for (std::size_t i = 0; i < src.size(); ++i) store(dtype, src[i], out.data() + i * es);
  }
  return out;
}

std::vector<float> from_device_format(std::span<const std::uint8_t> src, const Shape& logical, DType dtype, Layout layout) {
  const std::size_t es = storage_bytes(dtype, 1);
  VRAMFIT_CHECK(src.size() == static_cast<std::size_t>(logical.numel()) * es, "from_device_format size");
  std::vector<float> out(static_cast<std::size_t>(logical.numel()));
  if (layout == Layout::NHWC && logical.rank() == 4) {
    std::size_t i = 0;
    for (std::int64_t n = 0; n < logical[0]; ++n)
      for (std::int64_t c = 0; c < logical[1]; ++c)
        for (std::int64_t h = 0; h < logical[2]; ++h)
          for (std::int64_t w = 0; w < logical[3]; ++w) out[i++] = load(dtype, src.data() + nhwc_index(logical, n, c, h, w) * es);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load(dtype, src.data() + i * es);
  }
  return out;
}

std::uint64_t weights_region_bytes(const Graph& g) { return aligned_weight_bytes(g, kAlign); }

std::uint64_t required_arena_bytes(const Graph& g, const Plan& plan, const ExecutorOptions& opt, int streams) {
  // Regions are allocated in this order, each 256-aligned, so the sum of aligned sizes is exact.
  VRAMFIT_CHECK(plan.weight_bytes == weights_region_bytes(g), "plan and executor disagree on the weights region");
  VRAMFIT_CHECK(streams >= 1, "streams must be ≥ 1");
  return plan.weight_bytes + static_cast<std::uint64_t>(streams) * (align_up(plan.arena_bytes) + align_up(opt.workspace_bytes));
}

Executor::Executor(const Graph& g, const Plan& plan, const TensorMap& weights, DeviceArena& arena,
                   const ExecutorOptions& opt, cudaStream_t stream)
    : g_(g), plan_(plan), handles_(std::make_unique<Handles>()) {
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  handles_->cc = query(dev).compute_capability();
  if (opt.algorithms) {
    handles_->algorithms = opt.algorithms;
  } else {
    handles_->own_algorithms = std::make_unique<AlgorithmCache>();
    handles_->algorithms = handles_->own_algorithms.get();
  }
  // (1) Can every node run here? Before any device memory is touched (executor.h: set-up order).
  gate_graph(g, opt, handles_->cc);
  // (2) The regions, in the order required_arena_bytes() counts them.
  value_ptr_.assign(g.values().size(), nullptr);
  upload_weights(weights, arena, opt, stream);
  bind_activations(arena);
  Region ws = arena.allocate(opt.workspace_bytes, kAlign, "workspace");
  // (3) Runners (tuned on the arena's buffers, the weights in place) and steps, node by node.
  Lowering lowering{*this, g, opt, stream, ws.ptr, {}};
  lowering.lower_all();
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void Executor::upload_weights(const TensorMap& weights, DeviceArena& arena, const ExecutorOptions& opt,
                              cudaStream_t stream) {
  // One region per parameter, converted on the host. Conv weights follow their convolution's storage
  // layout (KRSC for NHWC).
  std::map<ValueId, Layout> weight_layout;
  for (const Node& n : g_.nodes())
    if (n.op == OpKind::Conv2d) weight_layout[n.inputs[1]] = image_layout(g_.value(n.inputs[0]));
  for (ValueId p : g_.params()) {
    const Value& v = g_.value(p);
    if (opt.shared_weights) {  // another stream's executor of this graph holds them
      VRAMFIT_CHECK(&opt.shared_weights->g_ == &g_, "shared weights come from an executor of another graph");
      value_ptr_[static_cast<std::size_t>(p)] = opt.shared_weights->value_ptr_.at(static_cast<std::size_t>(p));
      continue;
    }
    auto it = weights.find(v.name);
    if (it == weights.end()) throw InvalidInput(fmt::format("no weights for parameter '{}'", v.name));
    if (it->second.numel() != v.shape.numel())
      throw InvalidInput(fmt::format("weights for '{}' have {} values, the graph needs {} ({})", v.name,
                                     it->second.numel(), v.shape.numel(), v.shape.to_string()));
    const Layout lay = weight_layout.count(p) ? weight_layout[p] : Layout::Plain;
    const auto bytes = to_device_format(it->second.span(), v.shape, v.dtype, lay);
    Region r = arena.allocate(bytes.size(), kAlign, "weights");
    CUDA_CHECK(cudaMemcpyAsync(r.ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // `bytes` is pageable and about to go away
    value_ptr_[static_cast<std::size_t>(p)] = r.ptr;
    weights_bytes_ += align_up(bytes.size());
  }
}

void Executor::bind_activations(DeviceArena& arena) {
  // Exactly the plan: each value at its planned offset in one region.
  Region acts = arena.allocate(plan_.arena_bytes, kAlign, "activations");
  activation_bytes_ = plan_.arena_bytes;
  for (const Value& v : g_.values()) {
    if (v.kind == ValueKind::Param) continue;
    const std::uint64_t off = plan_.offset_of(v.id);
    VRAMFIT_CHECK(off != kNoOffset, "value without a planned offset: " + v.name);
    value_ptr_[static_cast<std::size_t>(v.id)] = static_cast<char*>(acts.ptr) + off;
  }
}

Executor::~Executor() = default;

void Executor::set_input(std::size_t index, const Tensor& host) {
  const ValueId id = g_.inputs().at(index);
  const Value& v = g_.value(id);
  if (host.shape != v.shape)
    throw InvalidInput(fmt::format("input '{}' must be {}, got {}", v.name, v.shape.to_string(), host.shape.to_string()));
  const auto bytes = to_device_format(host.span(), v.shape, v.dtype, v.layout);
  CUDA_CHECK(cudaMemcpy(value_ptr_.at(static_cast<std::size_t>(id)), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
}

void Executor::fill_input_normal(std::size_t index, std::uint64_t seed, cudaStream_t stream) {
  const ValueId id = g_.inputs().at(index);
  const Value& v = g_.value(id);
  kernels::NormalFill f;
  f.seed = seed;
  f.stream_id = stream_id("input");
  kernels::fill_normal(v.dtype, value_ptr_.at(static_cast<std::size_t>(id)), v.shape.numel(), f, stream);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void Executor::enqueue(cudaStream_t stream) const {
  // VRAMFIT_FAULT (core/fault.h): real failures at the real place, for the profile's fault tests.
  if (fault::armed("launch-abort")) std::abort();
  if (fault::armed("trap")) kernels::fault_trap(stream);
  if (fault::armed("spin")) kernels::fault_spin(stream);
  for (const auto& step : steps_) step(stream);
  CUDA_CHECK(cudaGetLastError());
}

void Executor::capture(cudaStream_t stream) {
  graph_ = std::make_unique<GraphExec>(GraphExec::capture(stream, [this](cudaStream_t s) { enqueue(s); }));
}

void Executor::launch(cudaStream_t stream) const {
  if (graph_) graph_->launch(stream);
  else enqueue(stream);
}

std::vector<Executor::StepTime> Executor::time_steps(cudaStream_t stream, int iterations) const {
  std::vector<StepTime> out(steps_.size());
  std::vector<std::vector<float>> samples(steps_.size());
  std::vector<Event> ev(steps_.size() + 1);
  for (int it = 0; it < iterations; ++it) {
    ev[0].record(stream);
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      steps_[k](stream);
      ev[k + 1].record(stream);
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    for (std::size_t k = 0; k < steps_.size(); ++k) samples[k].push_back(Event::elapsed_ms(ev[k], ev[k + 1]));
  }
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    auto& v = samples[k];
    std::sort(v.begin(), v.end());
    out[k] = StepTime{step_labels_[k].first, step_labels_[k].second, v.empty() ? 0.0 : static_cast<double>(v[v.size() / 2])};
  }
  return out;
}

Tensor Executor::output(std::size_t index) const {
  const ValueId id = g_.outputs().at(index);
  const Value& v = g_.value(id);
  std::vector<std::uint8_t> bytes(value_bytes(v));
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(bytes.data(), value_ptr_.at(static_cast<std::size_t>(id)), bytes.size(), cudaMemcpyDeviceToHost));
  return Tensor(v.shape, from_device_format(bytes, v.shape, v.dtype, v.layout));
}

}  // namespace vramfit::cuda
