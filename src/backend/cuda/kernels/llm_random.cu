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

}  // namespace vramfit::cuda::kernels
