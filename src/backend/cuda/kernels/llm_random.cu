// Seeded random weights on the GPU (llm_random.cuh).
#include "backend/cuda/kernels/llm_random.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "backend/cuda/check.h"
#include "core/error.h"

namespace vramfit::cuda::kernels {

namespace {

__device__ __forceinline__ std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// core/rng.cpp normal01 and the host's `offset + scale · n` (no fma: __fmul_rn/__fadd_rn).
__device__ __forceinline__ float weight_at(const RandomSpec& r, std::uint64_t i) {
  const std::uint64_t m = splitmix(splitmix(r.seed ^ splitmix(r.stream)) + i);
  const double u1 = (static_cast<double>(m >> 32) + 1.0) / 4294967296.0;
  const double u2 = static_cast<double>(m & 0xffffffffu) / 4294967296.0;
  const float n = static_cast<float>(sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2));
  return __fadd_rn(r.offset, __fmul_rn(r.scale, n));
}

template <class T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <class T> __global__ void fill_kernel(T* out, std::int64_t count, RandomSpec r) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(weight_at(r, r.index0 + static_cast<std::uint64_t>(i)));
}

// weights/quant_int.cpp scale_bits: fp16(max/qmax); 1.0 for zero; never a zero scale.
__device__ __forceinline__ std::uint16_t scale_bits(float max_abs, float qmax) {
  if (max_abs == 0.0f) return 0x3c00u;
  std::uint16_t s = __half_as_ushort(__float2half_rn(__fdiv_rn(max_abs, qmax)));
  if ((s & 0x7fffu) == 0) s = 1;
  return s;
}

__device__ __forceinline__ int quantize_one(float w, float s, int lo, int hi) {
  const float q = rintf(__fdiv_rn(w, s));
  return static_cast<int>(fminf(fmaxf(q, static_cast<float>(lo)), static_cast<float>(hi)));
}

__device__ float block_max(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float m = 0.0f;
  for (int w = 0; w < warps; ++w) m = fmaxf(m, shared[w]);
  __syncthreads();
  return m;
}

__global__ void int8_kernel(std::int8_t* q, std::uint16_t* scale, std::int64_t k, RandomSpec r) {
  __shared__ float shared[32];
  const std::int64_t row = blockIdx.x;
  const std::uint64_t base = r.index0 + static_cast<std::uint64_t>(row * k);
  float m = 0.0f;
  for (std::int64_t c = threadIdx.x; c < k; c += blockDim.x) m = fmaxf(m, fabsf(weight_at(r, base + c)));
  m = block_max(m, shared);
  const std::uint16_t sb = scale_bits(m, 127.0f);
  if (threadIdx.x == 0) scale[row] = sb;
  const float s = __half2float(__ushort_as_half(sb));
  for (std::int64_t c = threadIdx.x; c < k; c += blockDim.x)
    q[row * k + c] = static_cast<std::int8_t>(quantize_one(weight_at(r, base + c), s, -127, 127));
}

// One block of 128 threads per (row, group); thread c holds column c of the group.
__global__ void int4_kernel(std::uint8_t* packed, std::uint16_t* scale, std::int64_t k, RandomSpec r) {
  __shared__ float shared[32];
  const std::int64_t groups = k / 128;
  const std::int64_t row = blockIdx.x / groups, g = blockIdx.x % groups;
  const std::int64_t col = g * 128 + threadIdx.x;
  const float w = weight_at(r, r.index0 + static_cast<std::uint64_t>(row * k + col));
  const float m = block_max(fabsf(w), shared);
  const std::uint16_t sb = scale_bits(m, 7.0f);
  if (threadIdx.x == 0) scale[row * groups + g] = sb;
  const int nibble = quantize_one(w, __half2float(__ushort_as_half(sb)), -8, 7) + 8;
  const int other = __shfl_down_sync(0xffffffffu, nibble, 1);
  if (threadIdx.x % 2 == 0) packed[(row * k + col) / 2] = static_cast<std::uint8_t>(nibble | (other << 4));
}
// ---- GGUF blocks (weights/gguf_quant.h documents the layouts) ------------------------------------
// Every fp16 field of these blocks sits at an even offset of a block whose size is even: one aligned
// 16-bit store.
__device__ __forceinline__ void put_half(std::uint8_t* p, float v) {
  *reinterpret_cast<unsigned short*>(p) = __half_as_ushort(__float2half_rn(v));
}
__device__ __forceinline__ float half_value(float v) { return __half2float(__float2half_rn(v)); }

// One thread per block: x holds the block's QK source values.
__device__ void quantize_q8_0(const float* x, std::uint8_t* o) {  // ggml's reference arithmetic
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = fmaxf(amax, fabsf(x[j]));
  const float d = __fdiv_rn(amax, 127.0f), id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
  put_half(o, d);
  for (int j = 0; j < 32; ++j) o[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(roundf(__fmul_rn(x[j], id))));
}

__device__ void quantize_q4_0(const float* x, std::uint8_t* o) {  // ggml's reference arithmetic
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j)
    if (fabsf(x[j]) > amax) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  const float d = __fdiv_rn(max, -8.0f), id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
  put_half(o, d);
  for (int j = 0; j < 16; ++j) {
    const int a = min(15, static_cast<int>(static_cast<std::int8_t>(__fadd_rn(__fmul_rn(x[j], id), 8.5f))));
    const int b = min(15, static_cast<int>(static_cast<std::int8_t>(__fadd_rn(__fmul_rn(x[j + 16], id), 8.5f))));
    o[2 + j] = static_cast<std::uint8_t>(a | (b << 4));
  }
}

// Q4_K by min/max per 32-element sub-block (a simple quantizer, not the CPU's search: the bytes are
// valid Q4_K blocks of these values; speed and memory do not depend on how the codes were chosen).
__device__ void quantize_q4_k(const float* x, std::uint8_t* o) {
  float scf[8], mnf[8], max_sc = 0.0f, max_m = 0.0f;
  for (int s = 0; s < 8; ++s) {
    float lo = 0.0f, hi = 0.0f;
    for (int j = 0; j < 32; ++j) {
      lo = fminf(lo, x[32 * s + j]);
      hi = fmaxf(hi, x[32 * s + j]);
    }
    scf[s] = (hi - lo) / 15.0f;
    mnf[s] = -lo;
    max_sc = fmaxf(max_sc, scf[s]);
    max_m = fmaxf(max_m, mnf[s]);
  }
  const float d = half_value(max_sc / 63.0f), dmin = half_value(max_m / 63.0f);
  put_half(o, d);
  put_half(o + 2, dmin);
  int sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d > 0.0f ? min(63, static_cast<int>(rintf(scf[s] / d))) : 0;
    m[s] = dmin > 0.0f ? min(63, static_cast<int>(rintf(mnf[s] / dmin))) : 0;
  }
  std::uint8_t* scales = o + 4;
  for (int s = 0; s < 4; ++s) {
    scales[s] = static_cast<std::uint8_t>((sc[s] & 63) | ((sc[s + 4] >> 4) << 6));
    scales[s + 4] = static_cast<std::uint8_t>((m[s] & 63) | ((m[s + 4] >> 4) << 6));
    scales[s + 8] = static_cast<std::uint8_t>((sc[s + 4] & 15) | ((m[s + 4] & 15) << 4));
  }
  std::uint8_t* qs = o + 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      int q[2];
      for (int h = 0; h < 2; ++h) {
        const int s = 2 * c + h;
        const float es = d * static_cast<float>(sc[s]), em = dmin * static_cast<float>(m[s]);
        const float v = x[64 * c + 32 * h + l];
        q[h] = es > 0.0f ? max(0, min(15, static_cast<int>(rintf((v + em) / es)))) : 0;
      }
      qs[32 * c + l] = static_cast<std::uint8_t>(q[0] | (q[1] << 4));
    }
}

// Q6_K by the absolute maximum per 16-element group (simple, as above).
__device__ void quantize_q6_k(const float* x, std::uint8_t* o) {
  float scf[16], max_sc = 0.0f;
  for (int g = 0; g < 16; ++g) {
    float a = 0.0f;
    for (int j = 0; j < 16; ++j) a = fmaxf(a, fabsf(x[16 * g + j]));
    scf[g] = a / 31.0f;
    max_sc = fmaxf(max_sc, scf[g]);
  }
  const float d = half_value(max_sc / 127.0f);
  int sc[16];
  for (int g = 0; g < 16; ++g) {
    sc[g] = d > 0.0f ? min(127, static_cast<int>(rintf(scf[g] / d))) : 0;
    o[192 + g] = static_cast<std::uint8_t>(static_cast<std::int8_t>(sc[g]));
  }
  put_half(o + 208, d);
  auto code = [&](int e) {
    const float es = d * static_cast<float>(sc[e / 16]);
    return es > 0.0f ? max(-32, min(31, static_cast<int>(rintf(x[e] / es)))) + 32 : 32;
  };
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int b = 128 * h + l;
      const int q0 = code(b), q1 = code(b + 32), q2 = code(b + 64), q3 = code(b + 96);
      o[64 * h + l] = static_cast<std::uint8_t>((q0 & 15) | ((q2 & 15) << 4));
      o[64 * h + l + 32] = static_cast<std::uint8_t>((q1 & 15) | ((q3 & 15) << 4));
      o[128 + 32 * h + l] = static_cast<std::uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
    }
}

template <int QK, int BYTES, int KIND>
__global__ void __launch_bounds__(128) gguf_kernel(std::uint8_t* out, std::int64_t blocks, RandomSpec r) {
  const std::int64_t b = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (b >= blocks) return;
  float x[QK];
  const std::uint64_t e0 = r.index0 + static_cast<std::uint64_t>(b) * QK;
  for (int j = 0; j < QK; ++j) x[j] = weight_at(r, e0 + static_cast<std::uint64_t>(j));
  std::uint8_t* o = out + b * BYTES;
  if constexpr (KIND == 0) quantize_q8_0(x, o);
  else if constexpr (KIND == 1) quantize_q4_0(x, o);
  else if constexpr (KIND == 2) quantize_q4_k(x, o);
  else quantize_q6_k(x, o);
}

int grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + 255) / 256;
  return static_cast<int>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

}  // namespace

void random_fill(DType dtype, void* out, std::int64_t count, const RandomSpec& r, cudaStream_t stream) {
  if (count < 0) throw InvalidInput("random_fill: negative count");
  if (count == 0) return;
  switch (dtype) {
    case DType::f32: fill_kernel<float><<<grid_for(count), 256, 0, stream>>>(static_cast<float*>(out), count, r); break;
    case DType::f16: fill_kernel<__half><<<grid_for(count), 256, 0, stream>>>(static_cast<__half*>(out), count, r); break;
    case DType::bf16:
      fill_kernel<__nv_bfloat16><<<grid_for(count), 256, 0, stream>>>(static_cast<__nv_bfloat16*>(out), count, r);
      break;
    default: throw Unsupported("random_fill: dtype " + std::string(to_string(dtype)) + " (f32, f16, bf16)");
  }
  CUDA_CHECK(cudaGetLastError());
}

void random_fill_int8(std::int8_t* q, std::uint16_t* scale, std::int64_t n, std::int64_t k, const RandomSpec& r,
                      cudaStream_t stream) {
  if (n <= 0 || k <= 0) throw InvalidInput("random_fill_int8: n and k must be positive");
  if (n > 2147483647) throw InvalidInput("random_fill_int8: too many rows");
  int8_kernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(q, scale, k, r);
  CUDA_CHECK(cudaGetLastError());
}

void random_fill_int4(std::uint8_t* packed, std::uint16_t* scale, std::int64_t n, std::int64_t k, const RandomSpec& r,
                      cudaStream_t stream) {
  if (n <= 0 || k <= 0 || k % 128 != 0) throw InvalidInput("random_fill_int4: n, k positive and k % 128 = 0");
  const std::int64_t blocks = n * (k / 128);
  if (blocks > 2147483647) throw InvalidInput("random_fill_int4: too many groups");
  int4_kernel<<<static_cast<unsigned>(blocks), 128, 0, stream>>>(packed, scale, k, r);
  CUDA_CHECK(cudaGetLastError());
}

void random_fill_gguf(DType dtype, void* blocks, std::int64_t n, std::int64_t k, const RandomSpec& r, cudaStream_t stream) {
  const std::int64_t qk = dtype == DType::q4_k || dtype == DType::q6_k ? 256 : 32;
  if (n <= 0 || k <= 0 || k % qk != 0)
    throw InvalidInput("random_fill_gguf: n, k positive and k a multiple of " + std::to_string(qk));
  const std::int64_t count = n * (k / qk);
  const unsigned grid = static_cast<unsigned>((count + 127) / 128);
  auto* o = static_cast<std::uint8_t*>(blocks);
  switch (dtype) {
    case DType::q8_0: gguf_kernel<32, 34, 0><<<grid, 128, 0, stream>>>(o, count, r); break;
    case DType::q4_0: gguf_kernel<32, 18, 1><<<grid, 128, 0, stream>>>(o, count, r); break;
    case DType::q4_k: gguf_kernel<256, 144, 2><<<grid, 128, 0, stream>>>(o, count, r); break;
    case DType::q6_k: gguf_kernel<256, 210, 3><<<grid, 128, 0, stream>>>(o, count, r); break;
    default: throw Unsupported("random_fill_gguf: dtype " + std::string(to_string(dtype)) + " (q8_0, q4_0, q4_k, q6_k)");
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace vramfit::cuda::kernels
