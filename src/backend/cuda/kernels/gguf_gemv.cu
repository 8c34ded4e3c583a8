// GGUF block GEMV, dequantization and embedding gather (gguf_gemv.cuh has the contract, the design,
// the arithmetic and its error bound).
// Long (over 600 lines) on purpose: the four block decoders (Lane<T>) are shared by the GEMV, the
// dequantization and the gather, and splitting them across .cu files would instantiate them in each.
#include "backend/cuda/kernels/gguf_gemv.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

// ---------------------------------------------------------------------------------------------
// Block decoding: 8 consecutive elements starting at element `e` (a multiple of 8) of one block.
// Layouts: weights/gguf_quant.h. Every field of every block sits at an even byte offset (block sizes
// 34, 18, 144, 210 are even and rows start at even offsets), so 2-byte loads are always aligned.
template <DType T> struct Block;
template <> struct Block<DType::q8_0> { static constexpr int elems = 32, bytes = 34; };
template <> struct Block<DType::q4_0> { static constexpr int elems = 32, bytes = 18; };
template <> struct Block<DType::q4_k> { static constexpr int elems = 256, bytes = 144; };
template <> struct Block<DType::q6_k> { static constexpr int elems = 256, bytes = 210; };

__device__ __forceinline__ float ld_half(const std::uint8_t* p) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}

// 8 bytes from an address that is at least 2-byte aligned: one 8-byte load where possible.
__device__ __forceinline__ uint2 load8(const std::uint8_t* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if ((a & 7u) == 0) return *reinterpret_cast<const uint2*>(p);
  if ((a & 3u) == 0) {
    const auto* q = reinterpret_cast<const unsigned*>(p);
    return make_uint2(q[0], q[1]);
  }
  const auto* q = reinterpret_cast<const unsigned short*>(p);
  return make_uint2(q[0] | (static_cast<unsigned>(q[1]) << 16), q[2] | (static_cast<unsigned>(q[3]) << 16));
}
__device__ __forceinline__ unsigned byte_of(uint2 v, int i) { return ((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xffu; }

template <DType T> __device__ __forceinline__ void decode8(const std::uint8_t* blk, int e, float* out);

template <> __device__ __forceinline__ void decode8<DType::q8_0>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk);
  const uint2 q = load8(blk + 2 + e);
#pragma unroll
  for (int i = 0; i < 8; ++i) out[i] = __fmul_rn(d, static_cast<float>(static_cast<signed char>(byte_of(q, i))));
}

template <> __device__ __forceinline__ void decode8<DType::q4_0>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk);
  const bool high = e >= 16;
  const uint2 q = load8(blk + 2 + (high ? e - 16 : e));
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned b = byte_of(q, i);
    out[i] = __fmul_rn(d, static_cast<float>(static_cast<int>(high ? b >> 4 : b & 15u) - 8));
  }
}

template <> __device__ __forceinline__ void decode8<DType::q4_k>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk), dmin = ld_half(blk + 2);
  const std::uint8_t* sc = blk + 4;
  const int c = e >> 6, w = e & 63, high = w >= 32, l = w & 31;
  const int s = 2 * c + high;
  int scale, mn;
  if (s < 4) {
    scale = sc[s] & 63;
    mn = sc[s + 4] & 63;
  } else {
    scale = (sc[s + 4] & 15) | ((sc[s - 4] >> 6) << 4);
    mn = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
  }
  const float ds = __fmul_rn(d, static_cast<float>(scale)), ms = __fmul_rn(dmin, static_cast<float>(mn));
  const uint2 q = load8(blk + 16 + 32 * c + l);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned b = byte_of(q, i);
    out[i] = __fsub_rn(__fmul_rn(ds, static_cast<float>(high ? b >> 4 : b & 15u)), ms);
  }
}

template <> __device__ __forceinline__ void decode8<DType::q6_k>(const std::uint8_t* blk, int e, float* out) {
  const int h = e >> 7, r = e & 127, k = r >> 5, l = r & 31;
  const uint2 ql = load8(blk + 64 * h + l + (k & 1) * 32);
  const uint2 qh = load8(blk + 128 + 32 * h + l);
  const float ds = __fmul_rn(ld_half(blk + 208), static_cast<float>(static_cast<signed char>(blk[192 + (e >> 4)])));
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned lo = byte_of(ql, i), hb = (byte_of(qh, i) >> (2 * k)) & 3u;
    const int q = static_cast<int>((k < 2 ? lo & 15u : lo >> 4) | (hb << 4)) - 32;
    out[i] = __fmul_rn(ds, static_cast<float>(q));
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV (gguf_gemv.cuh has the design and the arithmetic). Every block type is cut into pieces of 32
// elements that one lane decodes; a piece is two runs of 16 consecutive elements, each run under
// one weight scale, so a run's contribution is dx·(f·S + g·SX) with S = Σ code·xq and SX = Σ xq
// exact integers (dp4a), f and g the run's weight scale and offset, xq/dx the run's x as int8.
// A warp step is 32 pieces (1024 elements); piece p = 32·step + lane.

// 16 bytes from global memory that are read once (q4_k): no L1 allocation (x stays there), with a
// 256-byte L2 prefetch (the neighbouring lanes' bytes).
__device__ __forceinline__ uint4 ld_stream16(const std::uint8_t* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Window loads (q8_0, q4_0, q6_k): neighbouring lanes' windows overlap, and a lane reads its window
// in 2-3 loads, so the bytes are kept in L1 — marked to be evicted first — for the next load.
__device__ __forceinline__ uint4 ld_window16(const std::uint8_t* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::evict_first.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ uint2 ld_window8(const std::uint8_t* p) {
  uint2 v;
  asm volatile("ld.global.nc.L1::evict_first.L2::256B.v2.u32 {%0, %1}, [%2];\n" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}

__device__ __forceinline__ float rcp_approx(float a) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(a));
  return r;
}

// Σ of 4 products of unsigned bytes of a and signed bytes of b, + c.
__device__ __forceinline__ int dp4a_us(unsigned a, int b, int c) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

__device__ __forceinline__ float half_lo(unsigned bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits & 0xffffu)));
}
__device__ __forceinline__ float half_hi(unsigned bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits >> 16)));
}

// The window [a16, a16 + 16·NW) (a16 16-byte aligned, inside the tensor, which starts 16-byte
// aligned) as 4·NW words, for a block that starts in its first 16 bytes and ends in its last 16
// (q8_0: 34 bytes in 48, q4_0: 18 in 32). So all but the last 16 bytes lie before the block's end,
// inside the tensor; the last 16 may run past the tensor's end (its last block, when its size is
// not a multiple of 16): then they are read a word at a time as far as the tensor goes (its size is
// even: a word is whole, half or absent) — the path of one lane of the whole grid at most, so it
// is compiled (kGuard) only into the copy of the kernel's loop that the CTA of the last rows runs.
template <bool kGuard, int NW>
__device__ __forceinline__ void load_window(const std::uint8_t* a16, const std::uint8_t* end, unsigned (&win)[4 * NW]) {
#pragma unroll
  for (int i = 0; i < NW - 1; ++i) {
    const uint4 v = ld_window16(a16 + 16 * i);
    win[4 * i] = v.x;
    win[4 * i + 1] = v.y;
    win[4 * i + 2] = v.z;
    win[4 * i + 3] = v.w;
  }
  const std::uint8_t* last = a16 + 16 * (NW - 1);
  if (!kGuard || last + 16 <= end) {
    const uint4 v = ld_window16(last);
    win[4 * NW - 4] = v.x;
    win[4 * NW - 3] = v.y;
    win[4 * NW - 2] = v.z;
    win[4 * NW - 1] = v.w;
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::uint8_t* q = last + 4 * i;
      win[4 * NW - 4 + i] = q + 4 <= end   ? *reinterpret_cast<const unsigned*>(q)
                            : q + 2 <= end ? static_cast<unsigned>(*reinterpret_cast<const unsigned short*>(q))
                                           : 0u;
    }
  }
}

// out[k] = bytes [o + 4k, o + 4k + 4) of a window of NWORDS words, o even in [0, 16); bytes past
// the window read as 0. Two select levels on o / 4, then a funnel shift by 0 or 16 bits.
template <int NOUT, int NWORDS>
__device__ __forceinline__ void extract_words(const unsigned (&win)[NWORDS], int o, unsigned (&out)[NOUT]) {
  const bool s2 = (o & 8) != 0, s1 = (o & 4) != 0;
  const unsigned sh = static_cast<unsigned>(o & 2) * 8u;
  unsigned t[NOUT + 2];
#pragma unroll
  for (int k = 0; k < NOUT + 2; ++k) {
    const unsigned a = k < NWORDS ? win[k] : 0u, b = k + 2 < NWORDS ? win[k + 2] : 0u;
    t[k] = s2 ? b : a;
  }
  unsigned v[NOUT + 1];
#pragma unroll
  for (int k = 0; k < NOUT + 1; ++k) v[k] = s1 ? t[k + 1] : t[k];
#pragma unroll
  for (int k = 0; k < NOUT; ++k) out[k] = __funnelshift_r(v[k], v[k + 1], sh);
}

// A lane's 32 x values of one batch row (its piece's two runs of 16) as int8 under one scale:
// xq = round(x·s) with s = 127/max|x| rounded to fp16 (at most 65504), dx = 1/s; sx_r = Σ xq over
// run r. x·s + 1536 rounded by one fp16 fma lies in [1024, 2048), where fp16 steps by 1, so its
// low byte is round(x·s) in two's complement. A NaN in x makes dx NaN (the output NaN); ±inf makes
// the output non-finite too.
struct XPiece {
  int q[8];  // run 0: q[0..3], run 1: q[4..7]
  float dx;
  int sx0, sx1;
};

template <bool kSums> __device__ __forceinline__ XPiece quantize_x(const __half* run0, const __half* run1) {
  uint4 raw[4];
  raw[0] = __ldg(reinterpret_cast<const uint4*>(run0));
  raw[1] = __ldg(reinterpret_cast<const uint4*>(run0 + 8));
  raw[2] = __ldg(reinterpret_cast<const uint4*>(run1));
  raw[3] = __ldg(reinterpret_cast<const uint4*>(run1 + 8));
  __half2 h[16];
  memcpy(&h[0], &raw[0], 64);
  __half2 m = __habs2(h[0]);
#pragma unroll
  for (int i = 1; i < 16; ++i) m = __hmax2_nan(m, __habs2(h[i]));
  const float amax = __half2float(__hmax_nan(__low2half(m), __high2half(m)));
  const __half s = __float2half_rn(fminf(127.0f * rcp_approx(amax), 65504.0f));
  const __half2 s2 = __half2half2(s);
  const __half2 magic = __float2half2_rn(1536.0f);
  unsigned r[16];
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const __half2 t = __hfma2(h[i], s2, magic);
    memcpy(&r[i], &t, 4);
  }
  XPiece x;
#pragma unroll
  for (int k = 0; k < 8; ++k) x.q[k] = static_cast<int>(__byte_perm(r[2 * k], r[2 * k + 1], 0x6420));
  x.sx0 = x.sx1 = 0;
  if constexpr (kSums) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      x.sx0 = __dp4a(x.q[k], 0x01010101, x.sx0);
      x.sx1 = __dp4a(x.q[4 + k], 0x01010101, x.sx1);
    }
  }
  x.dx = fmaf(0.0f, amax, rcp_approx(__half2float(s)));  // 0·amax: NaN in, NaN out
  return x;
}

// Makes values opaque to the compiler, so that it keeps them in registers rather than deriving
// them again from the lane index in every iteration.
__device__ __forceinline__ void keep_in_register(unsigned& v) { asm("" : "+r"(v)); }
template <class... U> __device__ __forceinline__ void keep_in_register(unsigned& v, U&... rest) {
  keep_in_register(v);
  keep_in_register(rest...);
}

// Per-type lane geometry and decoding. A lane's place inside a step is fixed (p mod 32 = lane), so
// every offset inside a block is a per-lane constant: lane_bytes (the piece's first byte in the
// row at step 0), step_bytes (bytes per step), run0/run1 (its runs' first elements at step 0;
// + 1024 per step). load() reads and decodes the piece of one row; dot() adds its product with
// the lane's x piece to acc. All integer sums are exact (ranges noted); one fp32 rounding each for
// the conversions and products of a piece.
template <DType T> struct Lane;

template <> struct Lane<DType::q8_0> {
  static constexpr bool kSums = false;
  static constexpr int kMinBlocks = 7;       // ≤ 72 registers: 4 windows of 12 words in flight
  static constexpr bool kNeedsGuard = true;  // windows may run past the tensor's end
  static constexpr int kRun1 = 16;  // run 1 starts kRun1 elements after run 0
  static constexpr int step_bytes = 32 * 34;
  int lane_bytes, run0;
  __device__ explicit Lane(int lane) : lane_bytes(34 * lane), run0(32 * lane) {}
  struct Piece {
    int c[8];  // q[0..31]
    float d;
  };
  // 34 bytes at an even address b: inside the 48-byte window from b & ~15.
  template <bool kGuard> __device__ __forceinline__ Piece load(const std::uint8_t* b, const std::uint8_t* end) const {
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(b);
    const int o = static_cast<int>(a & 15u);
    unsigned win[12];
    load_window<kGuard, 3>(reinterpret_cast<const std::uint8_t*>(a & ~std::uintptr_t{15}), end, win);
    unsigned u[9];  // bytes [o, o + 36): d, qs[0..31], 2 bytes past the block
    extract_words(win, o, u);
    Piece pc;
#pragma unroll
    for (int k = 0; k < 8; ++k) pc.c[k] = static_cast<int>(__funnelshift_r(u[k], u[k + 1], 16));
    pc.d = half_lo(u[0]);
    return pc;
  }
  // Σ d·q·dx·xq = (d·dx)·S, |S| ≤ 32·128·127.
  static __device__ __forceinline__ float dot(const Piece& pc, const XPiece& x, float acc) {
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) s = __dp4a(pc.c[k], x.q[k], s);
    return fmaf(pc.d * x.dx, static_cast<float>(s), acc);
  }
};

template <> struct Lane<DType::q4_0> {
  static constexpr bool kSums = false;
  static constexpr int kMinBlocks = 8;
  static constexpr bool kNeedsGuard = true;
  static constexpr int kRun1 = 16;
  static constexpr int step_bytes = 32 * 18;
  int lane_bytes, run0;
  __device__ explicit Lane(int lane) : lane_bytes(18 * lane), run0(32 * lane) {}
  struct Piece {
    int c[8];  // 16·(nibble − 8) as int8: run 0 the low nibbles (elements 0-15), run 1 the high ones
    float d;
  };
  // 18 bytes at an even address b: inside the 32-byte window from b & ~15. A nibble n in the top
  // half of a byte, with its top bit flipped, is the int8 16·(n − 8) (n ^ 8 is n − 8 in 4-bit two's
  // complement).
  template <bool kGuard> __device__ __forceinline__ Piece load(const std::uint8_t* b, const std::uint8_t* end) const {
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(b);
    const int o = static_cast<int>(a & 15u);
    unsigned win[8];
    load_window<kGuard, 2>(reinterpret_cast<const std::uint8_t*>(a & ~std::uintptr_t{15}), end, win);
    unsigned u[5];  // bytes [o, o + 20): d, qs[0..15], 2 bytes past the block
    extract_words(win, o, u);
    Piece pc;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const unsigned q = __funnelshift_r(u[k], u[k + 1], 16);
      pc.c[k] = static_cast<int>(((q << 4) & 0xf0f0f0f0u) ^ 0x80808080u);
      pc.c[4 + k] = static_cast<int>((q & 0xf0f0f0f0u) ^ 0x80808080u);
    }
    pc.d = half_lo(u[0]);
    return pc;
  }
  // Σ d·(n − 8)·dx·xq = (d·dx/16)·S, |S| ≤ 32·128·127.
  static __device__ __forceinline__ float dot(const Piece& pc, const XPiece& x, float acc) {
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) s = __dp4a(pc.c[k], x.q[k], s);
    return fmaf(pc.d * (0.0625f * x.dx), static_cast<float>(s), acc);
  }
};

template <> struct Lane<DType::q4_k> {
  static constexpr bool kSums = true;
  static constexpr int kMinBlocks = 8;
  static constexpr bool kNeedsGuard = false;
  static constexpr int kRun1 = 32;
  static constexpr int step_bytes = 4 * 144;
  // Lane: block lane / 8 of the step, piece i = lane % 8 of the block: qs[32c + 16h, +16) with
  // c = i / 2, h = i % 2; its low nibbles are elements 64c + 16h + [0, 16) (sub-block 2c), its high
  // nibbles 64c + 32 + 16h + [0, 16) (sub-block 2c + 1).
  int lane_bytes, run0;
  unsigned qs_off, jlo, jhi, jm, mask_lo, mask_hi;  // scale unpacking, see load
  __device__ explicit Lane(int lane) {
    const int i = lane & 7, c = i >> 1, h = i & 1;
    lane_bytes = 144 * (lane >> 3);
    qs_off = static_cast<unsigned>(16 + 32 * c + 16 * h);
    run0 = 256 * (lane >> 3) + 64 * c + 16 * h;
    // weights/gguf_quant.h: for s = 2c + e (e = 0, 1), bytes e of the pairs below:
    //   c < 2: sc = scales[s] & 63,                               m = scales[s+4] & 63
    //   c ≥ 2: sc = scales[s+4] & 15 | (scales[s−4] >> 6) << 4,  m = scales[s+4] >> 4 | (scales[s] >> 6) << 4
    // With A = scales[0..3], Bw = scales[4..7], C = scales[8..11] as words and j = 16·(c % 2):
    //   sc = (A >> jlo) & mask_lo | (C >> j) & mask_hi,  m = (Bw >> jlo) & mask_lo | (C >> (j + 4)) & mask_hi
    const unsigned j = 16u * static_cast<unsigned>(c & 1);
    jlo = c < 2 ? j : j + 2;
    jhi = j;
    jm = j + 4;
    mask_lo = c < 2 ? 0x3f3fu : 0x3030u;
    mask_hi = c < 2 ? 0u : 0x0f0fu;
    keep_in_register(qs_off, jlo, jhi, jm, mask_lo, mask_hi);
  }
  struct Piece {
    unsigned lo[4], hi16[4];  // low nibbles; high nibbles in place (16·q)
    unsigned sc, mn;          // 6-bit scale and min of the two sub-blocks, bytes 0 and 1
    float d, dmin;
  };
  // Blocks of 144 bytes in rows of whole blocks: every block is 16-byte aligned.
  template <bool kGuard> __device__ __forceinline__ Piece load(const std::uint8_t* b, const std::uint8_t*) const {
    const uint4 h = ld_stream16(b);           // d, dmin, scales[12]
    const uint4 q = ld_stream16(b + qs_off);  // the piece's 16 bytes of qs
    Piece pc;
    pc.sc = ((h.y >> jlo) & mask_lo) | ((h.w >> jhi) & mask_hi);
    pc.mn = ((h.z >> jlo) & mask_lo) | ((h.w >> jm) & mask_hi);
    pc.d = half_lo(h.x);
    pc.dmin = half_hi(h.x);
    const unsigned qw[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      pc.lo[k] = qw[k] & 0x0f0f0f0fu;
      pc.hi16[k] = qw[k] & 0xf0f0f0f0u;
    }
    return pc;
  }
  // Σ (d·sc_r·q − dmin·m_r)·dx·xq = dx·(d·A − dmin·M), A = sc0·S0 + sc1·S1, M = m0·sx0 + m1·sx1,
  // each by one dp2a on the 16-bit pair (S0, S1) or (sx0, sx1): |S_r| ≤ 16·15·127 = 30480 and
  // |sx_r| ≤ 16·127 fit 16 bits; S1 comes as 16·S1 and is shifted back exactly.
  static __device__ __forceinline__ float dot(const Piece& pc, const XPiece& x, float acc) {
    int s0 = 0, s1 = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      s0 = dp4a_us(pc.lo[k], x.q[k], s0);
      s1 = dp4a_us(pc.hi16[k], x.q[4 + k], s1);
    }
    const int sp = static_cast<int>((static_cast<unsigned>(s0) & 0xffffu) | (static_cast<unsigned>(s1) << 12));
    const int sxp = static_cast<int>((static_cast<unsigned>(x.sx0) & 0xffffu) | (static_cast<unsigned>(x.sx1) << 16));
    const int a = __dp2a_lo(sp, static_cast<int>(pc.sc), 0);
    const int mm = __dp2a_lo(sxp, static_cast<int>(pc.mn), 0);
    return fmaf(x.dx, fmaf(pc.d, static_cast<float>(a), -pc.dmin * static_cast<float>(mm)), acc);
  }
};

template <> struct Lane<DType::q6_k> {
  static constexpr bool kSums = true;
  static constexpr bool kNeedsGuard = false;
  static constexpr int kRun1 = 64;
  static constexpr int step_bytes = 4 * 210;
  // Lane: block lane / 8 of the step, piece i = lane % 8: half hh = i / 4, kk = (i / 2) % 2,
  // l0 = 16·(i % 2); run 0 is k = kk, run 1 is k = kk + 2: elements 128hh + 32k + l0 + [0, 16),
  // from ql[64hh + 32kk + l0, +16) (low / high nibbles) and qh[32hh + l0, +16) (bits 2k, 2k + 1).
  int lane_bytes, run0;
  unsigned ql_off, qh_dist, sc_off, hs;
  static constexpr int kMinBlocks = 6;  // ≤ 80 registers: the 4 pieces take 44
  __device__ explicit Lane(int lane) {
    const int i = lane & 7, hh = i >> 2, kk = (i >> 1) & 1, l0 = 16 * (i & 1);
    lane_bytes = 210 * (lane >> 3);
    ql_off = static_cast<unsigned>(64 * hh + 32 * kk + l0);
    qh_dist = static_cast<unsigned>(128 + 32 * hh + l0) - ql_off;  // qh piece − ql piece, a multiple of 16
    sc_off = static_cast<unsigned>(192 + 8 * hh + 2 * kk + (l0 >> 4));  // run 0's scale; run 1's is 4 further
    run0 = 256 * (lane >> 3) + 128 * hh + 32 * kk + l0;
    hs = 2u * static_cast<unsigned>(kk);
    keep_in_register(ql_off, qh_dist, sc_off, hs);
  }
  struct Piece {
    unsigned c[8];  // q in 0..63
    int s0, s1;     // int8 scales of the runs
    float d;
  };
  // Blocks of 210 bytes at even addresses. ql and qh's pieces share their offset mod 8, o8; each
  // lies in the 24-byte window from its address & ~7 (the third 8 bytes only read when o8 ≠ 0),
  // which starts inside the tensor (it starts 16-byte aligned) and ends inside this block (qh's
  // window by byte 199): no guard needed.
  template <bool kGuard> __device__ __forceinline__ Piece load(const std::uint8_t* b, const std::uint8_t*) const {
    const std::uintptr_t aql = reinterpret_cast<std::uintptr_t>(b + ql_off);
    const int o8 = static_cast<int>(aql & 7u);
    const std::uint8_t* wql = reinterpret_cast<const std::uint8_t*>(aql & ~std::uintptr_t{7});
    const std::uint8_t* wqh = wql + qh_dist;
    const uint2 l_0 = ld_window8(wql), l_1 = ld_window8(wql + 8);
    const uint2 h_0 = ld_window8(wqh), h_1 = ld_window8(wqh + 8);
    uint2 l_2 = make_uint2(0u, 0u), h_2 = make_uint2(0u, 0u);
    if (o8 != 0) {
      l_2 = ld_window8(wql + 16);
      h_2 = ld_window8(wqh + 16);
    }
    Piece pc;
    pc.s0 = static_cast<signed char>(__ldg(b + sc_off));
    pc.s1 = static_cast<signed char>(__ldg(b + sc_off + 4));
    pc.d = __half2float(__ldg(reinterpret_cast<const __half*>(b + 208)));
    const unsigned wl[6] = {l_0.x, l_0.y, l_1.x, l_1.y, l_2.x, l_2.y};
    const unsigned wh[6] = {h_0.x, h_0.y, h_1.x, h_1.y, h_2.x, h_2.y};
    // 4 words at byte o8 of each window: one select on o8 & 4, a funnel shift by (o8 & 2)·8.
    const bool s4 = (o8 & 4) != 0;
    const unsigned sh = static_cast<unsigned>(o8 & 2) * 8u;
    unsigned ql[4], qh[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      ql[k] = __funnelshift_r(s4 ? wl[k + 1] : wl[k], s4 ? wl[k + 2] : wl[k + 1], sh);
      qh[k] = __funnelshift_r(s4 ? wh[k + 1] : wh[k], s4 ? wh[k + 2] : wh[k + 1], sh);
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const unsigned hb = (qh[k] >> hs) & 0x33333333u;  // bits 0-1: k = kk, bits 4-5: k = kk + 2
      // byte = low nibble | bits 4-5 from hb (hb << 4 has bits 6-7 clear; its bits 8-9 fall in
      // the next byte's low nibble, which the 0xf0f0f0f0 mask drops).
      pc.c[k] = (ql[k] & 0x0f0f0f0fu) | ((hb << 4) & 0xf0f0f0f0u);
      pc.c[4 + k] = ((ql[k] >> 4) & 0x0f0f0f0fu) | (hb & 0xf0f0f0f0u);
    }
    return pc;
  }
  // Σ d·sc_r·(q − 32)·dx·xq = (d·dx)·A, A = sc0·(S0 − 32·sx0) + sc1·(S1 − 32·sx1): the dp4a chains
  // start at −32·sx_r. |S_r − 32·sx_r| ≤ 16·32·127, |A| ≤ 2·128·65024 < 2^24 (exact as float).
  static __device__ __forceinline__ float dot(const Piece& pc, const XPiece& x, float acc) {
    int s0 = -32 * x.sx0, s1 = -32 * x.sx1;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      s0 = dp4a_us(pc.c[k], x.q[k], s0);
      s1 = dp4a_us(pc.c[4 + k], x.q[4 + k], s1);
    }
    return fmaf(pc.d * x.dx, static_cast<float>(pc.s0 * s0 + pc.s1 * s1), acc);
  }
};

constexpr int log2_int(int v) { return v <= 1 ? 0 : 1 + log2_int(v / 2); }

// Sums V = 2^v values across the warp: afterwards every lane holds the total of value
// lane >> (5 − v). Each halving step exchanges half of the values still held: V − 1 + 5 − v
// shuffles instead of 5·V.
template <int COUNT, int V> __device__ __forceinline__ void halve(float (&a)[V], int lane) {
  if constexpr (COUNT > 1) {
    constexpr int o = 16 >> log2_int(V / COUNT);
    const bool upper = (lane & o) != 0;
#pragma unroll
    for (int i = 0; i < COUNT / 2; ++i) {
      const float send = upper ? a[i] : a[i + COUNT / 2];
      const float keep = upper ? a[i + COUNT / 2] : a[i];
      a[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
    }
    halve<COUNT / 2, V>(a, lane);
  }
}
template <int V> __device__ __forceinline__ float warp_sum_many(float (&a)[V], int lane) {
  halve<V, V>(a, lane);
  float v = a[0];
#pragma unroll
  for (int o = 16 >> log2_int(V); o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kSplitK = 4;   // warps per CTA; they split K
constexpr int kRows = 4;     // rows per CTA (each warp works on all of them)
constexpr int kMaxBatch = 8;

// The steps warp, warp + kSplitK, … of R rows: acc[r·BMAX + b] += this lane's pieces of row r
// times batch row b of x. rows: the lane's piece of each row at the first step; xr: its run 0 of
// batch row 0 there.
template <DType T, int R, int BMAX, bool kGuard>
__device__ __forceinline__ void accumulate(const Lane<T>& ln, const std::uint8_t* (&rows)[R], const std::uint8_t* end,
                                          const __half* xr, std::int64_t K, int nb, int warp, int lane,
                                          float (&acc)[R * BMAX]) {
  const int pieces = static_cast<int>(K / 32), steps = (pieces + 31) / 32;
  for (int s = warp; s < steps; s += kSplitK) {
    if (32 * s + lane < pieces) {  // false only in a row's last step
      typename Lane<T>::Piece pc[R];
#pragma unroll
      for (int r = 0; r < R; ++r) pc[r] = ln.template load<kGuard>(rows[r], end);
#pragma unroll
      for (int b = 0; b < BMAX; ++b) {
        if (b < nb) {
          const __half* xb = xr + static_cast<std::int64_t>(b) * K;
          const XPiece xp = quantize_x<Lane<T>::kSums>(xb, xb + Lane<T>::kRun1);
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r * BMAX + b] = Lane<T>::dot(pc[r], xp, acc[r * BMAX + b]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] += kSplitK * Lane<T>::step_bytes;
    xr += kSplitK * 1024;
  }
}

// A CTA: rows [R·blockIdx.x, +R); warp w takes the steps w, w + kSplitK, … for all R rows and all
// batch rows; a final exchange sums the warps. B = 1: Lane<T>::kMinBlocks CTAs per SM (≤ 64, 72 or
// 80 registers).
template <DType T, int R, int BMAX>
__global__ void __launch_bounds__(kSplitK * 32, BMAX == 1 ? Lane<T>::kMinBlocks : 2)
    gemv_kernel(const std::uint8_t* __restrict__ w, std::int64_t N, std::int64_t K, std::int64_t row_bytes,
                const __half* __restrict__ x, int B, void* y, bool y_f32, const void* residual, std::int64_t ldy) {
  constexpr int V = R * BMAX;
  static_assert((V & (V - 1)) == 0 && V <= 32, "R·BMAX: a power of two ≤ 32");
  __shared__ float red[kSplitK][V];
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  const std::int64_t row0 = static_cast<std::int64_t>(blockIdx.x) * R;
  const std::uint8_t* end = w + N * row_bytes;
  const int nb = BMAX == 1 ? 1 : B;
  const Lane<T> ln(lane);
  // This lane's piece of each row at its first step (rows past N repeat row N − 1: computed, not stored).
  // Opaque to the compiler, so that it keeps them in registers instead of re-deriving them (the
  // clamp, the multiply) in every iteration.
  const std::uint8_t* rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    rows[r] = w + (row0 + r < N ? row0 + r : N - 1) * row_bytes + ln.lane_bytes +
              static_cast<std::int64_t>(warp) * Lane<T>::step_bytes;
    asm("" : "+l"(rows[r]));
  }

  float acc[V];
#pragma unroll
  for (int v = 0; v < V; ++v) acc[v] = 0.0f;
  if (!Lane<T>::kNeedsGuard || row0 + R < N) {
    accumulate<T, R, BMAX, false>(ln, rows, end, x + ln.run0 + 1024 * warp, K, nb, warp, lane, acc);
  } else {  // the CTA of the tensor's last row
    accumulate<T, R, BMAX, true>(ln, rows, end, x + ln.run0 + 1024 * warp, K, nb, warp, lane, acc);
  }

  const float total = warp_sum_many<V>(acc, lane);
  if ((lane & (32 / V - 1)) == 0) red[warp][lane >> (5 - log2_int(V))] = total;
  __syncthreads();
  const int t = static_cast<int>(threadIdx.x);
  if (t < V) {
    const int r = t / BMAX, b = t % BMAX;
    const std::int64_t n = row0 + r;
    if (n < N && b < nb) {
      float v = red[0][t];
#pragma unroll
      for (int k = 1; k < kSplitK; ++k) v += red[k][t];
      // residual may alias y: this thread reads element (b, n) before it writes it, and no other
      // thread touches it.
      const std::int64_t o = static_cast<std::int64_t>(b) * ldy + n;
      if (y_f32) {
        if (residual != nullptr) v += static_cast<const float*>(residual)[o];
        static_cast<float*>(y)[o] = v;
      } else {
        if (residual != nullptr) v += __half2float(static_cast<const __half*>(residual)[o]);
        static_cast<__half*>(y)[o] = __float2half_rn(v);
      }
    }
  }
}

template <DType T>
__global__ void dequant_kernel(const std::uint8_t* __restrict__ w, std::int64_t rows, std::int64_t K,
                               std::int64_t row_bytes, __half* __restrict__ out) {
  using Blk = Block<T>;
  const std::int64_t groups_per_row = K / 8;
  const std::int64_t total = rows * groups_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t r = g / groups_per_row;
    const std::int64_t e = (g % groups_per_row) * 8;
    float v[8];
    decode8<T>(w + r * row_bytes + (e / Blk::elems) * Blk::bytes, static_cast<int>(e % Blk::elems), v);
    uint4 u;
    __half2* h2 = reinterpret_cast<__half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; ++i) h2[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(out + r * K + e) = u;
  }
}

// out[t, :] = row clamp(ids[t]) of W, decoded exactly as dequant_kernel does.
template <DType T>
__global__ void embedding_kernel(const std::uint8_t* __restrict__ w, std::int64_t rows, std::int64_t K,
                                 std::int64_t row_bytes, const std::int32_t* __restrict__ ids, std::int64_t T_,
                                 __half* __restrict__ out) {
  using Blk = Block<T>;
  const std::int64_t groups_per_row = K / 8;
  const std::int64_t total = T_ * groups_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t t = g / groups_per_row;
    const std::int64_t e = (g % groups_per_row) * 8;
    std::int64_t r = ids[t];
    r = r < 0 ? 0 : (r >= rows ? rows - 1 : r);
    float v[8];
    decode8<T>(w + r * row_bytes + (e / Blk::elems) * Blk::bytes, static_cast<int>(e % Blk::elems), v);
    uint4 u;
    __half2* h2 = reinterpret_cast<__half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; ++i) h2[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(out + t * K + e) = u;
  }
}

// fp16 rows: a copy, 16 bytes at a time when W, the row length and out allow it (V = 8), else per element.
template <int V>
__global__ void embedding_f16_kernel(const __half* __restrict__ w, std::int64_t rows, std::int64_t K,
                                     const std::int32_t* __restrict__ ids, std::int64_t T_, __half* __restrict__ out) {
  const std::int64_t units_per_row = K / V;
  const std::int64_t total = T_ * units_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t t = g / units_per_row;
    const std::int64_t e = (g % units_per_row) * V;
    std::int64_t r = ids[t];
    r = r < 0 ? 0 : (r >= rows ? rows - 1 : r);
    detail::store_unit<__half, V>(out + t * K + e, detail::load_unit<__half, V>(w + r * K + e));
  }
}

template <class F> void dispatch_block(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::q8_0: f(std::integral_constant<DType, DType::q8_0>{}); return;
    case DType::q4_0: f(std::integral_constant<DType, DType::q4_0>{}); return;
    case DType::q4_k: f(std::integral_constant<DType, DType::q4_k>{}); return;
    case DType::q6_k: f(std::integral_constant<DType, DType::q6_k>{}); return;
    default:
      throw Unsupported(std::string(op) + ": weight dtype " + std::string(to_string(t)) +
                        " is not a GGUF block type (q8_0, q4_0, q4_k, q6_k)");
  }
}

void check_shape(const char* op, DType t, std::int64_t rows, std::int64_t K) {
  if (rows < 1 || K < 1)
    throw InvalidInput(std::string(op) + ": extents must be positive, got rows " + std::to_string(rows) + ", K " +
                       std::to_string(K));
  const std::int64_t be = info(t).block_elems;
  if (K % be != 0)
    throw InvalidInput(std::string(op) + ": K = " + std::to_string(K) + " is not a multiple of the " +
                       std::string(to_string(t)) + " block of " + std::to_string(be) + " elements");
}

}  // namespace

std::int64_t gguf_row_bytes(DType t, std::int64_t K) {
  const DTypeInfo& i = info(t);
  return K / i.block_elems * i.block_bytes;
}

void gguf_gemv(DType wtype, const void* w, std::int64_t N, std::int64_t K, const void* x, int B, void* y, DType y_dtype,
               cudaStream_t stream, const void* residual, std::int64_t ldy) {
  dispatch_block(wtype, "gguf_gemv", [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    check_shape("gguf_gemv", T, N, K);
    if (B < 1 || B > kMaxBatch)
      throw InvalidInput("gguf_gemv: batch " + std::to_string(B) + " outside 1.." + std::to_string(kMaxBatch));
    if (!detail::aligned16(w) || !detail::aligned16(x))
      throw InvalidInput("gguf_gemv: the weights and x must be 16-byte aligned");
    if (y_dtype != DType::f16 && y_dtype != DType::f32)
      throw Unsupported("gguf_gemv: output dtype " + std::string(to_string(y_dtype)) + " (f16 or f32 only)");
    if (ldy == 0) ldy = N;
    if (ldy < N)
      throw InvalidInput("gguf_gemv: ldy = " + std::to_string(ldy) + " is below N = " + std::to_string(N));
    const std::uintptr_t esz = y_dtype == DType::f32 ? 4u : 2u;
    if ((reinterpret_cast<std::uintptr_t>(y) % esz) != 0 || (reinterpret_cast<std::uintptr_t>(residual) % esz) != 0)
      throw InvalidInput("gguf_gemv: y and the residual must be aligned to their element");
    const auto grid = static_cast<unsigned>((N + kRows - 1) / kRows);
    const std::int64_t rb = gguf_row_bytes(T, K);
    const auto* wb = static_cast<const std::uint8_t*>(w);
    const auto* xh = static_cast<const __half*>(x);
    const bool f32 = y_dtype == DType::f32;
    if (B == 1) {
      gemv_kernel<T, kRows, 1><<<grid, kSplitK * 32, 0, stream>>>(wb, N, K, rb, xh, B, y, f32, residual, ldy);
    } else {
      gemv_kernel<T, kRows, kMaxBatch><<<grid, kSplitK * 32, 0, stream>>>(wb, N, K, rb, xh, B, y, f32, residual, ldy);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

void gguf_dequantize(DType wtype, const void* w, std::int64_t rows, std::int64_t K, void* out_f16, cudaStream_t stream) {
  dispatch_block(wtype, "gguf_dequantize", [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    check_shape("gguf_dequantize", T, rows, K);
    if (!detail::aligned16(out_f16)) throw InvalidInput("gguf_dequantize: the output must be 16-byte aligned");
    if ((reinterpret_cast<std::uintptr_t>(w) & 1u) != 0) throw InvalidInput("gguf_dequantize: the weights must be 2-byte aligned");
    dequant_kernel<T><<<detail::grid_for(rows * (K / 8)), detail::kThreads, 0, stream>>>(
        static_cast<const std::uint8_t*>(w), rows, K, gguf_row_bytes(T, K), static_cast<__half*>(out_f16));
    CUDA_CHECK(cudaGetLastError());
  });
}

void gguf_embedding(DType wtype, const void* w, std::int64_t rows, std::int64_t K, const std::int32_t* ids, std::int64_t T,
                    void* out_f16, cudaStream_t stream) {
  if (T < 0) throw InvalidInput("gguf_embedding: T = " + std::to_string(T) + " is negative");
  if (!detail::aligned16(out_f16)) throw InvalidInput("gguf_embedding: the output must be 16-byte aligned");
  if ((reinterpret_cast<std::uintptr_t>(w) & 1u) != 0) throw InvalidInput("gguf_embedding: the weights must be 2-byte aligned");
  if (wtype == DType::f16) {
    if (rows < 1 || K < 1)
      throw InvalidInput("gguf_embedding: extents must be positive, got rows " + std::to_string(rows) + ", K " +
                         std::to_string(K));
    if (T == 0) return;
    const auto* wh = static_cast<const __half*>(w);
    auto* o = static_cast<__half*>(out_f16);
    if (K % 8 == 0 && detail::aligned16(w)) {
      embedding_f16_kernel<8><<<detail::grid_for(T * (K / 8)), detail::kThreads, 0, stream>>>(wh, rows, K, ids, T, o);
    } else {
      embedding_f16_kernel<1><<<detail::grid_for(T * K), detail::kThreads, 0, stream>>>(wh, rows, K, ids, T, o);
    }
    CUDA_CHECK(cudaGetLastError());
    return;
  }
  dispatch_block(wtype, "gguf_embedding", [&](auto tag) {
    constexpr DType Ty = decltype(tag)::value;
    check_shape("gguf_embedding", Ty, rows, K);
    if (T == 0) return;
    embedding_kernel<Ty><<<detail::grid_for(T * (K / 8)), detail::kThreads, 0, stream>>>(
        static_cast<const std::uint8_t*>(w), rows, K, gguf_row_bytes(Ty, K), ids, T, static_cast<__half*>(out_f16));
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
