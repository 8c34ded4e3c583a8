// The LLM session (llm_session.h).
#include "runtime/llm_session.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <tuple>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/arena.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/device.h"
#include "backend/cuda/kernels/elementwise.cuh"
#include "backend/cuda/kernels/gguf_gemv.cuh"
#include "backend/cuda/kernels/llm_argmax.cuh"
#include "backend/cuda/kernels/llm_decode_attention.cuh"
#include "backend/cuda/kernels/llm_embedding.cuh"
#include "backend/cuda/kernels/llm_gemm_dequant.cuh"
#include "backend/cuda/kernels/llm_gemv.cuh"
#include "backend/cuda/kernels/llm_prefill_attention.cuh"
#include "backend/cuda/kernels/llm_random.cuh"
#include "backend/cuda/kernels/llm_rms_norm.cuh"
#include "backend/cuda/kernels/llm_rope.cuh"
#include "backend/cuda/kernels/llm_silu_mul.cuh"
#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "runtime/session.h"
#include "weights/gguf_quant.h"
#include "weights/quant_int.h"

namespace vramfit {

namespace {

namespace k = cuda::kernels;

std::uint8_t* at(void* base, std::uint64_t offset) { return static_cast<std::uint8_t*>(base) + offset; }

// Pinned host memory for the per-step inputs (async copies that a replayed graph may follow).
struct PinnedInts {
  std::int32_t* p = nullptr;
  std::size_t n = 0;
  explicit PinnedInts(std::size_t count) : n(count) { CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&p), std::max<std::size_t>(1, n) * 4)); }
  ~PinnedInts() { if (p) cudaFreeHost(p); }
  PinnedInts(const PinnedInts&) = delete;
  PinnedInts& operator=(const PinnedInts&) = delete;
};

}  // namespace

struct LlmSession::Impl {
  LlmSessionConfig cfg;
  DecoderConfig c;
  LlmMemoryPlan plan;
  DType act = DType::f16;
  std::uint64_t budget = 0;
  double setup_ms = 0.0;
  std::int64_t length = 0;
  int sm_count = 1;

  cuda::Stream stream;
  cuda::CublasLtHandle lt;
  cuda::DeviceArena arena;
  void* weights = nullptr;
  void* kv = nullptr;
  void* acts = nullptr;
  void* scratch = nullptr;
  std::int32_t* carry = nullptr;  // greedy tokens of the last step = the next decode step's input
  bool last_was_decode = false;
  std::uint64_t kv_layer_bytes = 0;  // one of K or V of one layer
  std::vector<float> inv_freq;

  cuda::AlgorithmCache algorithms;  // the products' cuBLASLt choices (heuristic: one per shape)
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>, std::unique_ptr<cuda::LinearRunner>> runners;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>, std::unique_ptr<k::DequantGemm>> dequant;
  cuda::GraphExec decode_graph;
  std::unique_ptr<PinnedInts> host_ids, host_pos, host_seq, host_lens;
  bool have_next = false;  // the carry holds the previous greedy tokens
  // The pinned host inputs are rewritten every step: wait until the previous step's copies have read them.
  cuda::Event uploaded;
  bool upload_pending = false;

  void* buf(const LlmPassPlan& p, const char* name) const { return at(acts, p.buffer(name).offset); }
  const LlmWeight& w(const std::string& name) const { return plan.weight(name); }
  void* wptr(const LlmWeight& t) const { return at(weights, t.data_offset); }
  k::LlmWeights lw(const LlmWeight& t) const {
    k::LlmWeights x;
    x.dtype = t.dtype;
    x.data = wptr(t);
    x.scale = t.scale_bytes ? at(weights, t.scale_offset) : nullptr;
    x.n = t.rows;
    x.k = t.cols;
    return x;
  }
  // The weight as the dequantising GEMM takes it: its GGUF runs, or one int8/int4 segment with scales.
  std::vector<k::WeightSegment> segments(const LlmWeight& t) const {
    if (!t.gguf()) return {{t.dtype, wptr(t), t.scale_bytes ? at(weights, t.scale_offset) : nullptr, 0, t.rows}};
    std::vector<k::WeightSegment> v;
    for (const LlmSegment& g : t.segments) v.push_back({g.dtype, at(weights, t.data_offset + g.offset), nullptr, g.row0, g.rows});
    return v;
  }
  void* cache_k(std::int64_t l) const { return at(kv, static_cast<std::uint64_t>(2 * l) * kv_layer_bytes); }
  void* cache_v(std::int64_t l) const { return at(kv, static_cast<std::uint64_t>(2 * l + 1) * kv_layer_bytes); }

  void load_weights();
  void load_gguf_weight(const LlmWeight& t);
  void product(const LlmWeight& t, const void* x, std::int64_t rows, bool residual, void* y, cudaStream_t s);
  void pass(const LlmPassPlan& p, std::int64_t n, std::int64_t p0, bool prefill, cudaStream_t s);
  void upload_ints(const LlmPassPlan& p, std::span<const std::int32_t> ids, std::int64_t n, std::int64_t p0, bool with_ids);
};

LlmSession::LlmSession(const LlmSessionConfig& cfg) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  s.cfg = cfg;
  s.c = cfg.model;
  s.c.validate();
  CUDA_CHECK(cudaSetDevice(cfg.device));
  const cuda::DeviceInfo info = cuda::query(cfg.device);
  if (const int need = min_compute_capability(cfg.precision); need > info.compute_capability())
    throw Unsupported(fmt::format("{} needs compute capability {}.{}; {} is {}.{}", to_string(cfg.precision), need / 10,
                                  need % 10, info.name, info.cc_major, info.cc_minor));
  s.plan = plan_llm_memory(s.c, cfg.precision, cfg.context, cfg.batch, cfg.plan);
  s.act = s.plan.act_dtype;
  if (auto why = k::prefill_attention_unsupported(s.act, s.c.head_dim, info.compute_capability()))
    throw Unsupported(fmt::format("{}: prefill attention: {}", s.c.name, *why));
  if (auto why = k::decode_attention_unsupported(s.act, s.c.head_dim, s.c.num_heads / s.c.num_kv_heads))
    throw Unsupported(fmt::format("{}: decode attention: {}", s.c.name, *why));
  CUDA_CHECK(cudaDeviceGetAttribute(&s.sm_count, cudaDevAttrMultiProcessorCount, cfg.device));

  // The budget the plan's maxima were found under, or runtime/budget.h's rule here.
  if (cfg.budget) {
    s.budget = *cfg.budget;
  } else {
    const ContextOverhead overhead = measure_context_overhead(cfg.device);
    std::size_t free_b = 0, total_b = 0;
    if (!cfg.vram_limit) CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    s.budget = memory_budget(overhead, cfg.vram_limit, cfg.reserve, free_b);
  }
  s.arena = cuda::DeviceArena(s.plan.total_bytes(), s.budget);
  s.weights = s.arena.allocate(s.plan.weights_bytes, "weights").ptr;
  s.kv = s.arena.allocate(s.plan.kv_bytes, "kv").ptr;
  s.acts = s.arena.allocate(s.plan.activation_bytes, "activations").ptr;
  s.scratch = s.arena.allocate(s.plan.scratch_bytes, "scratch").ptr;
  s.carry = static_cast<std::int32_t*>(s.arena.allocate(s.plan.carry_bytes, "tokens").ptr);
  VRAMFIT_CHECK(s.arena.used() == s.plan.total_bytes(), "the LLM arena must fill exactly as planned");
  s.kv_layer_bytes = static_cast<std::uint64_t>(cfg.batch * s.c.num_kv_heads * cfg.context * s.c.head_dim) * 2;
  CUDA_CHECK(cudaMemsetAsync(s.kv, 0, s.plan.kv_bytes, s.stream));
  for (double f : rope_inv_freq(s.c)) s.inv_freq.push_back(static_cast<float>(f));
  const std::size_t T = static_cast<std::size_t>(cfg.batch * std::min(cfg.plan.prefill_chunk, cfg.context));
  s.host_ids = std::make_unique<PinnedInts>(T);
  s.host_pos = std::make_unique<PinnedInts>(T);
  s.host_seq = std::make_unique<PinnedInts>(T);
  s.host_lens = std::make_unique<PinnedInts>(static_cast<std::size_t>(cfg.batch));
  s.load_weights();

  // Decode step: warm up once (cuBLASLt/kernels choose their configurations), then capture.
  s.upload_ints(s.plan.decode, {}, 1, 0, false);
  CUDA_CHECK(cudaMemsetAsync(s.carry, 0, s.plan.carry_bytes, s.stream));
  s.pass(s.plan.decode, 1, 0, false, s.stream);
  s.stream.synchronize();
  s.decode_graph = cuda::GraphExec::capture(s.stream.get(), [&](cudaStream_t st) { s.pass(s.plan.decode, 1, 0, false, st); });
  s.stream.synchronize();
  CUDA_CHECK(cudaMemsetAsync(s.kv, 0, s.plan.kv_bytes, s.stream));
  s.stream.synchronize();
  s.setup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

LlmSession::~LlmSession() = default;

void LlmSession::Impl::load_weights() {
  const bool random = !cfg.host_weights && !cfg.checkpoint && !cfg.gguf;
  std::map<std::string, DecoderTensor> tensors;
  for (const auto& t : decoder_tensors(c)) tensors.emplace(t.name, t);
  for (const LlmWeight& t : plan.weights) {
    void* data = wptr(t);
    void* scale = t.scale_bytes ? at(weights, t.scale_offset) : nullptr;
    if (t.role == LlmWeightRole::RopeTable) {
      CUDA_CHECK(cudaMemcpyAsync(data, inv_freq.data(), inv_freq.size() * 4, cudaMemcpyHostToDevice, stream));
      continue;
    }
    if (random) {
      // Source by source at its row offset (q|k|v, gate|up stacked).
      std::int64_t row0 = 0;
      for (const auto& src : t.sources) {
        const DecoderTensor& dt = tensors.at(src);
        const DecoderInitRule rule = decoder_init_rule(dt);
        const std::int64_t rows = dt.shape[0], cols = dt.shape.rank() > 1 ? dt.shape[1] : 1;
        k::RandomSpec r{cfg.seed, stream_id(src), 0, rule.offset, rule.scale};
        if (t.gguf()) {
          const LlmWeight::Place g = t.place(static_cast<std::size_t>(&src - t.sources.data()));
          k::random_fill_gguf(g.dtype, at(data, g.offset), g.rows, cols, r, stream);
        } else if (t.dtype == DType::i8) {
          k::random_fill_int8(reinterpret_cast<std::int8_t*>(at(data, static_cast<std::uint64_t>(row0 * cols))),
                              reinterpret_cast<std::uint16_t*>(at(scale, static_cast<std::uint64_t>(row0) * 2)), rows, cols, r, stream);
        } else if (t.dtype == DType::i4) {
          k::random_fill_int4(at(data, static_cast<std::uint64_t>(row0 * cols / 2)),
                              reinterpret_cast<std::uint16_t*>(at(scale, static_cast<std::uint64_t>(row0 * (cols / 128)) * 2)),
                              rows, cols, r, stream);
        } else {
          k::random_fill(t.dtype, at(data, static_cast<std::uint64_t>(row0 * cols) * storage_bytes(t.dtype, 1)),
                         rows * cols, r, stream);
        }
        row0 += rows;
      }
      continue;
    }
    if (cfg.gguf && t.gguf()) {  // a file's blocks, as they are
      load_gguf_weight(t);
      continue;
    }
    // Host values (a file's float tensors too): stack the sources' rows, then store in the format.
    std::vector<float> rows;
    rows.reserve(static_cast<std::size_t>(t.rows * t.cols));
    for (const auto& src : t.sources) {
      const DecoderTensor& dt = tensors.at(src);
      Tensor x;
      if (cfg.host_weights) {
        const auto it = cfg.host_weights->find(src);
        if (it == cfg.host_weights->end()) throw InvalidInput(fmt::format("LLM session: no host weight '{}'", src));
        if (it->second.shape != dt.shape)
          throw InvalidInput(fmt::format("LLM session: host weight '{}' has shape {}, expected {}", src,
                                         it->second.shape.to_string(), dt.shape.to_string()));
        x = it->second;
      } else if (cfg.gguf) {
        const GgufModelTensor* g = cfg.gguf->find(src);
        if (!g) throw InvalidInput(fmt::format("GGUF file: no tensor for '{}'", src));
        x = gguf_tensor_hf(*g);
      } else {
        x = cfg.checkpoint->read(src, dt.shape);
      }
      rows.insert(rows.end(), x.data.begin(), x.data.end());
    }
    VRAMFIT_CHECK(static_cast<std::int64_t>(rows.size()) == t.rows * t.cols, "stacked rows of " + t.name);
    if (t.gguf()) {
      for (const LlmSegment& g : t.segments) {
        const auto first = rows.begin() + g.row0 * t.cols;
        const std::vector<std::uint8_t> blocks =
            gguf_quantize(*to_ggml_type(g.dtype), std::span<const float>(&*first, static_cast<std::size_t>(g.rows * t.cols)));
        VRAMFIT_CHECK(blocks.size() == g.bytes, "GGUF bytes of " + t.name);
        CUDA_CHECK(cudaMemcpy(at(data, g.offset), blocks.data(), blocks.size(), cudaMemcpyHostToDevice));
      }
    } else if (t.dtype == DType::i8) {
      const Int8Weights q = quantize_int8(rows.data(), t.rows, t.cols);
      CUDA_CHECK(cudaMemcpy(data, q.q.data(), q.q.size(), cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemcpy(scale, q.scale.data(), q.scale.size() * 2, cudaMemcpyHostToDevice));
    } else if (t.dtype == DType::i4) {
      const Int4Weights q = quantize_int4(rows.data(), t.rows, t.cols);
      CUDA_CHECK(cudaMemcpy(data, q.packed.data(), q.packed.size(), cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemcpy(scale, q.scale.data(), q.scale.size() * 2, cudaMemcpyHostToDevice));
    } else {
      std::vector<std::uint16_t> bits(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i)
        bits[i] = t.dtype == DType::bf16 ? float_to_bf16_bits(rows[i]) : float_to_half_bits(rows[i]);
      CUDA_CHECK(cudaMemcpy(data, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
    }
  }
  // cudaMemcpy from pageable memory may return before its DMA lands, and our streams do not wait for
  // the legacy default stream (cudaStreamNonBlocking): wait for the device as a whole.
  CUDA_CHECK(cudaDeviceSynchronize());
  stream.synchronize();
}

// A GGUF file's block-typed weight into the arena: each source's blocks as they are (q/k rows back in
// HF order).
void LlmSession::Impl::load_gguf_weight(const LlmWeight& t) {
  for (std::size_t i = 0; i < t.sources.size(); ++i) {
    const GgufModelTensor* g = cfg.gguf->find(t.sources[i]);
    if (!g) throw InvalidInput(fmt::format("GGUF file: no tensor for '{}'", t.sources[i]));
    const auto src_type = to_dtype(g->type);
    const LlmWeight::Place seg = t.place(i);
    if (!src_type || *src_type != seg.dtype || g->bytes.size() != seg.bytes)
      throw InvalidInput(fmt::format("GGUF file: '{}' is {} ({} bytes); the plan expects {} ({} bytes)", g->info->name,
                                     to_string(g->type), g->bytes.size(), to_string(seg.dtype), seg.bytes));
    std::vector<std::uint8_t> host(g->bytes.begin(), g->bytes.end());
    if (g->rope_rows_permuted) gguf_rope_rows_to_hf(g->bytes, host, seg.rows, g->rope_heads);
    CUDA_CHECK(cudaMemcpy(at(weights, t.data_offset + seg.offset), host.data(), host.size(), cudaMemcpyHostToDevice));
  }
}

void LlmSession::Impl::product(const LlmWeight& t, const void* x, std::int64_t rows, bool residual, void* y, cudaStream_t s) {
  const void* res = residual ? y : nullptr;
  if (rows <= k::kGemvMaxBatch) {
    if (!t.gguf()) {
      k::llm_gemv(act, lw(t), x, rows, res, y, s);
      return;
    }
    const std::uint64_t es = storage_bytes(act, 1);
    for (const LlmSegment& g : t.segments) {  // one launch per run of one block type
      void* yg = at(y, static_cast<std::uint64_t>(g.row0) * es);
      k::gguf_gemv(g.dtype, at(weights, t.data_offset + g.offset), g.rows, t.cols, x, static_cast<int>(rows), yg, act, s,
                   residual ? yg : nullptr, t.rows);
    }
    return;
  }
  const auto key = std::make_tuple(rows, t.rows, t.cols, residual);
  if (t.gguf() || t.dtype == DType::i8 || t.dtype == DType::i4) {
    auto& g = dequant[key];
    if (!g) {
      g = std::make_unique<k::DequantGemm>(lt.get(), act, t.dtype, rows, t.rows, t.cols, dequant_tile_rows(t.rows, t.cols),
                                           residual, plan.options.workspace_bytes, &algorithms);
      VRAMFIT_CHECK(g->scratch_bytes() <= plan.scratch_bytes,
                    fmt::format("dequantising GEMM needs {} B of scratch, the plan has {}", g->scratch_bytes(), plan.scratch_bytes));
    }
    g->run(s, x, segments(t), res, y, scratch);
    return;
  }
  auto& r = runners[key];
  if (!r) {
    cuda::LinearParams p;
    p.m = rows;
    p.n = t.rows;
    p.k = t.cols;
    p.dtype = act;
    p.has_residual = residual;
    r = std::make_unique<cuda::LinearRunner>(lt.get(), p, plan.options.workspace_bytes, &algorithms);
  }
  r->run(s, x, lw(t).data, nullptr, res, y, scratch);
}

void LlmSession::Impl::upload_ints(const LlmPassPlan& p, std::span<const std::int32_t> ids, std::int64_t n, std::int64_t p0,
                                   bool with_ids) {
  const std::int64_t B = cfg.batch, T = B * n;
  if (upload_pending) uploaded.synchronize();
  for (std::int64_t t = 0; t < T; ++t) {
    host_pos->p[t] = static_cast<std::int32_t>(p0 + t % n);
    host_seq->p[t] = static_cast<std::int32_t>(t / n);
    if (with_ids) host_ids->p[t] = ids[static_cast<std::size_t>(t)];
  }
  for (std::int64_t b = 0; b < B; ++b) host_lens->p[b] = static_cast<std::int32_t>(p0 + n);
  const auto bytes = static_cast<std::size_t>(T) * 4;
  CUDA_CHECK(cudaMemcpyAsync(buf(p, "pos"), host_pos->p, bytes, cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(buf(p, "seq"), host_seq->p, bytes, cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(buf(p, "seq_lens"), host_lens->p, static_cast<std::size_t>(B) * 4, cudaMemcpyHostToDevice, stream));
  if (with_ids)
    CUDA_CHECK(cudaMemcpyAsync(&p == &plan.decode ? static_cast<void*>(carry) : buf(p, "ids"), host_ids->p, bytes,
                               cudaMemcpyHostToDevice, stream));
  uploaded.record(stream);
  upload_pending = true;
}

void LlmSession::Impl::pass(const LlmPassPlan& p, std::int64_t n, std::int64_t p0, bool prefill, cudaStream_t s) {
  const std::int64_t B = cfg.batch, T = B * n, H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim();
  const std::int64_t d = c.head_dim, V = c.vocab_size, QKV = Q + 2 * KV;
  const std::uint64_t es = storage_bytes(act, 1);
  // Prefill reads the ids uploaded for the chunk; decode the carried tokens (given or the last argmax).
  const std::int32_t* ids = prefill ? static_cast<const std::int32_t*>(buf(p, "ids")) : carry;
  auto* pos = static_cast<const std::int32_t*>(buf(p, "pos"));
  auto* seq = static_cast<const std::int32_t*>(buf(p, "seq"));
  auto* lens = static_cast<const std::int32_t*>(buf(p, "seq_lens"));
  void* x = buf(p, "x");
  void* qkv = buf(p, "qkv");
  void* attn = buf(p, "attn");
  void* gu = buf(p, "gate_up");
  void* a = buf(p, "act");
  const LlmWeight& emb = w("embedding");
  if (emb.gguf()) k::gguf_embedding(emb.dtype, wptr(emb), V, H, ids, T, x, s);
  else k::embedding(act, ids, T, wptr(emb), V, H, x, s);
  const auto* rope_table = reinterpret_cast<const float*>(wptr(w("rope_inv_freq")));
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const std::string L = fmt::format("layers.{}.", l);
    void* h = buf(p, "h_attn");
    k::rms_norm(act, x, wptr(w(L + "attn_norm")), h, T, H, c.rms_norm_eps, s);
    product(w(L + "qkv"), h, T, false, qkv, s);
    if (c.attention_bias) k::bias_activation(act, qkv, wptr(w(L + "qkv_bias")), qkv, T, QKV, Activation::None, s);
    k::RopeArgs ra;
    ra.tokens = T;
    ra.head_dim = d;
    ra.q_heads = c.num_heads;
    ra.q_stride = QKV;
    ra.kv_heads = c.num_kv_heads;
    ra.k_stride = QKV;
    ra.positions = pos;
    ra.theta = static_cast<float>(c.rope_theta);
    ra.inv_freq = rope_table;
    // RoPE on q and k, and k, v appended to the cache, in one kernel.
    ra.cache_k = cache_k(l);
    ra.cache_v = cache_v(l);
    ra.v = at(qkv, static_cast<std::uint64_t>(Q + KV) * es);
    ra.v_stride = QKV;
    ra.seq = seq;
    ra.cache_batch = B;
    ra.cache_max_ctx = cfg.context;
    k::rope(act, qkv, at(qkv, static_cast<std::uint64_t>(Q) * es), ra, s);
    if (prefill) {
      k::PrefillAttentionArgs pa;
      pa.batch = B;
      pa.q_len = n;
      pa.kv_len = p0 + n;
      pa.heads = c.num_heads;
      pa.kv_heads = c.num_kv_heads;
      pa.head_dim = d;
      pa.q_offset = p0;
      pa.causal = true;
      pa.q = {n * QKV, QKV, d};
      pa.k = {c.num_kv_heads * cfg.context * d, d, cfg.context * d};
      pa.v = pa.k;
      pa.o = {n * Q, Q, d};
      k::prefill_attention(act, qkv, cache_k(l), cache_v(l), attn, pa, s);
    } else {
      k::DecodeAttentionArgs da;
      da.batch = B;
      da.heads = c.num_heads;
      da.kv_heads = c.num_kv_heads;
      da.head_dim = d;
      da.max_ctx = cfg.context;
      da.q_stride = QKV;
      da.o_stride = Q;
      da.seq_lens = lens;
      const int splits = k::decode_attention_splits(da, sm_count);
      VRAMFIT_CHECK(splits <= plan.decode_attention_splits &&
                        k::decode_attention_scratch_bytes(da, splits) <= plan.scratch_bytes,
                    fmt::format("decode attention: {} splits, the plan allows {}", splits, plan.decode_attention_splits));
      k::decode_attention(act, qkv, cache_k(l), cache_v(l), attn, da, splits, scratch, s);
    }
    product(w(L + "o"), attn, T, true, x, s);
    if (c.o_proj_bias) k::bias_activation(act, x, wptr(w(L + "o_bias")), x, T, H, Activation::None, s);
    void* h2 = buf(p, "h_mlp");
    k::rms_norm(act, x, wptr(w(L + "mlp_norm")), h2, T, H, c.rms_norm_eps, s);
    product(w(L + "gate_up"), h2, T, false, gu, s);
    k::silu_mul(act, gu, 2 * I, at(gu, static_cast<std::uint64_t>(I) * es), 2 * I, a, T, I, s);
    product(w(L + "down"), a, T, true, x, s);
  }
  const LlmWeight& head = c.tie_word_embeddings ? emb : w("lm_head");
  void* logits = buf(p, "logits");
  void* normed = nullptr;
  if (prefill) {
    normed = buf(p, "last");
    const std::size_t row = static_cast<std::size_t>(H) * es;
    CUDA_CHECK(cudaMemcpy2DAsync(normed, row, at(x, static_cast<std::uint64_t>((n - 1) * H) * es), static_cast<std::size_t>(n) * row,
                                 row, static_cast<std::size_t>(B), cudaMemcpyDeviceToDevice, s));
    k::rms_norm(act, normed, wptr(w("final_norm")), normed, B, H, c.rms_norm_eps, s);
  } else {
    normed = buf(p, "h_final");
    k::rms_norm(act, x, wptr(w("final_norm")), normed, B, H, c.rms_norm_eps, s);
  }
  product(head, normed, B, false, logits, s);
  k::argmax_rows(act, logits, B, V, V, carry, s);
}

const LlmMemoryPlan& LlmSession::plan() const { return impl_->plan; }
std::uint64_t LlmSession::budget() const { return impl_->budget; }
std::uint64_t LlmSession::arena_bytes() const { return impl_->arena.capacity(); }
double LlmSession::setup_ms() const { return impl_->setup_ms; }
std::int64_t LlmSession::length() const { return impl_->length; }
cudaStream_t LlmSession::stream() const { return impl_->stream.get(); }

void LlmSession::reset() {
  impl_->length = 0;
  impl_->have_next = false;
}

void LlmSession::prefill(std::span<const std::int32_t> tokens, std::int64_t n) {
  Impl& s = *impl_;
  const std::int64_t B = s.cfg.batch, V = s.c.vocab_size;
  if (n < 1 || static_cast<std::int64_t>(tokens.size()) != B * n)
    throw InvalidInput(fmt::format("prefill: {} token ids for batch {} × {} tokens", tokens.size(), B, n));
  if (s.length + n > s.cfg.context)
    throw InvalidInput(fmt::format("prefill: {} + {} tokens exceed the context {}", s.length, n, s.cfg.context));
  for (std::int32_t t : tokens)
    if (t < 0 || t >= V) throw InvalidInput(fmt::format("prefill: token id {} outside the vocabulary [0, {})", t, V));
  const std::int64_t chunk = s.plan.prefill.tokens_per_sequence;
  std::vector<std::int32_t> part;
  for (std::int64_t done = 0; done < n; done += chunk) {
    const std::int64_t m = std::min(chunk, n - done);
    part.resize(static_cast<std::size_t>(B * m));
    for (std::int64_t b = 0; b < B; ++b)
      std::copy_n(tokens.data() + b * n + done, m, part.data() + b * m);
    s.upload_ints(s.plan.prefill, part, m, s.length, true);
    s.pass(s.plan.prefill, m, s.length, true, s.stream);
    s.length += m;
  }
  s.have_next = true;
  s.last_was_decode = false;
}

void LlmSession::decode(std::span<const std::int32_t> tokens) {
  Impl& s = *impl_;
  const std::int64_t B = s.cfg.batch;
  if (s.length + 1 > s.cfg.context) throw InvalidInput(fmt::format("decode: the context {} is full", s.cfg.context));
  if (!tokens.empty()) {
    if (static_cast<std::int64_t>(tokens.size()) != B)
      throw InvalidInput(fmt::format("decode: {} token ids for batch {}", tokens.size(), B));
    for (std::int32_t t : tokens)
      if (t < 0 || t >= s.c.vocab_size) throw InvalidInput(fmt::format("decode: token id {} outside the vocabulary", t));
  } else if (!s.have_next) {
    throw InvalidInput("decode: no previous step to continue from (prefill first, or pass tokens)");
  }
  s.upload_ints(s.plan.decode, tokens, 1, s.length, !tokens.empty());
  s.decode_graph.launch(s.stream);
  s.length += 1;
  s.have_next = true;
  s.last_was_decode = true;
}

std::vector<std::int32_t> LlmSession::next_tokens() {
  Impl& s = *impl_;
  std::vector<std::int32_t> out(static_cast<std::size_t>(s.cfg.batch));
  CUDA_CHECK(cudaMemcpyAsync(out.data(), s.carry, out.size() * 4, cudaMemcpyDeviceToHost, s.stream));
  s.stream.synchronize();
  return out;
}

Tensor LlmSession::last_logits() {
  Impl& s = *impl_;
  const std::int64_t B = s.cfg.batch, V = s.c.vocab_size;
  // The pass that ran last: decode after a decode step, else prefill. Both keep [batch, vocab].
  const LlmPassPlan& p = s.last_was_decode ? s.plan.decode : s.plan.prefill;
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(B * V));
  CUDA_CHECK(cudaMemcpyAsync(bits.data(), s.buf(p, "logits"), bits.size() * 2, cudaMemcpyDeviceToHost, s.stream));
  s.stream.synchronize();
  Tensor t(Shape{B, V});
  for (std::size_t i = 0; i < bits.size(); ++i)
    t.data[i] = s.act == DType::bf16 ? bf16_bits_to_float(bits[i]) : half_bits_to_float(bits[i]);
  return t;
}

double LlmSession::time_prefill_ms(std::int64_t n) {
  Impl& s = *impl_;
  const std::int64_t B = s.cfg.batch;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(B * n));
  for (std::size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<std::int32_t>(splitmix64(s.cfg.seed + i) % static_cast<std::uint64_t>(s.c.vocab_size));
  reset();
  prefill(ids, n);  // warm-up (runners for these shapes are made here)
  s.stream.synchronize();
  cuda::Event a, b;
  reset();
  a.record(s.stream);
  prefill(ids, n);
  b.record(s.stream);
  b.synchronize();
  return cuda::Event::elapsed_ms(a, b);
}

double LlmSession::time_decode_ms(std::int64_t steps) {
  Impl& s = *impl_;
  if (!s.have_next) throw InvalidInput("time_decode_ms: prefill first");
  steps = std::min(steps, s.cfg.context - s.length);
  if (steps < 1) throw InvalidInput("time_decode_ms: the context is full");
  decode();  // warm-up step
  --steps;
  if (steps < 1) return 0.0;
  cuda::Event a, b;
  a.record(s.stream);
  for (std::int64_t i = 0; i < steps; ++i) decode();
  b.record(s.stream);
  b.synchronize();
  return cuda::Event::elapsed_ms(a, b) / static_cast<double>(steps);
}

}  // namespace vramfit
