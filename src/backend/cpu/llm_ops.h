// backend/cpu/llm_ops.h — CPU references for the ops of a decoder LLM (Llama family): RMSNorm, RoPE,
// SwiGLU's SiLU·up, grouped-query causal attention, embedding lookup and argmax. Same conventions
// as ops.h: raw fp32 host arrays, explicit extents, double inside where a sum or a transcendental is
// involved, one rounding to fp32 at the end; InvalidInput on bad extents. The GPU kernels
// (backend/cuda/kernels/llm_*.cuh) are tested against these, and the CPU reference decoder uses them.
// Linear layers (plain or dequantised int8/int4 weights, weights/quant_int.h) use ops.h linear().
#pragma once

#include <cstdint>
#include <vector>

namespace vramfit::cpu {

// y[r, e] = x[r, e] / √(mean_e x[r, e]² + eps) · w[e] over x [rows, features]; y may equal x.
// (HF LlamaRMSNorm; Zhang & Sennrich 2019, eq. 4.)
void rms_norm(const float* x, const float* w, float* y, std::int64_t rows, std::int64_t features, float eps);

// HF's default RoPE frequencies, evaluated as HF does in fp32:
//   inv_freq[i] = 1 / theta^(float(2i) / float(head_dim)),  i < head_dim / 2.
std::vector<float> rope_inv_freq(std::int64_t head_dim, float theta);

// In place on x [tokens, heads, head_dim] with tokens `token_stride` elements apart (heads contiguous),
// HF rotate_half convention: with a = float(pos[t]) · inv_freq[i] (one fp32 product), c = cos a·scale,
// s = sin a·scale (double):  x[i] ← x[i]·c − x[i+d/2]·s,  x[i+d/2] ← x[i+d/2]·c + x[i]·s.
void rope(float* x, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim, std::int64_t token_stride,
          const std::int32_t* positions, const float* inv_freq, float scale = 1.0f);

// y[r, c] = silu(gate[r, c]) · up[r, c], silu(g) = g / (1 + e^−g); y [rows, cols] contiguous.
void silu_mul(const float* gate, std::int64_t gate_stride, const float* up, std::int64_t up_stride, float* y,
              std::int64_t rows, std::int64_t cols);

// Grouped-query attention, contiguous layouts: q, o [batch, q_len, heads, d]; k, v [batch, kv_len,
// kv_heads, d]. Query i sits at position q_offset + i; when causal it sees keys j ≤ q_offset + i
// (and always j < kv_len). Query head h uses kv head h / (heads / kv_heads) (HF repeat_kv).
// scale 0 means 1/√d. Scores, softmax and the weighted sum in double. A query that sees no key
// (possible only with q_offset < 0) gets zeros.
struct GqaShape {
  std::int64_t batch = 1, q_len = 1, kv_len = 1, heads = 1, kv_heads = 1, head_dim = 1;
  std::int64_t q_offset = 0;
  bool causal = true;
  float scale = 0.0f;
  void validate() const;
};
void attention_gqa(const float* q, const float* k, const float* v, float* o, const GqaShape& s);

// y[t, :] = table[tokens[t], :] over table [vocab, dim]; InvalidInput for an id outside [0, vocab).
void embedding(const std::int32_t* tokens, std::int64_t count, const float* table, std::int64_t vocab,
               std::int64_t dim, float* y);

// out[r] = the smallest index of the row maximum of x [rows, cols] (rows row_stride apart); NaNs never
// win; an all-NaN row gives 0.
void argmax_rows(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t row_stride, std::int32_t* out);

}  // namespace vramfit::cpu
