// The reference matrix product: C = A·B in fp32, cache-blocked after Goto & van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication" (ACM TOMS 34(3), 2008): B is packed per (KC × NC) block into
// NR-wide strips, A per MR rows into a KC × MR panel, and a register tile of MR × NR accumulators
// runs over KC. Plain C++; the fixed-size inner loops are left to the compiler's vectoriser.
//
// Threads split C into MC × NC tiles; each tile is computed by one thread with the same k order, so
// the result is bitwise independent of the thread count.
#include <algorithm>
#include <fmt/format.h>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

namespace {

// MR × NR = 4 × 8 accumulators fit the 16 SSE registers of baseline x86-64 (8 for C, 2 for a row of
// B, broadcasts of A) and map to 4 AVX registers where the compiler may use them.
constexpr std::int64_t MR = 4;
constexpr std::int64_t NR = 8;
// A KC × NR strip of B (8 KiB) and a KC × MR panel of A (4 KiB) stay in L1 during a micro-kernel;
// the packed KC × NC block of B (256 KiB) is re-read from L2 for every MR rows of the tile.
constexpr std::int64_t KC = 256;
constexpr std::int64_t NC = 256;
constexpr std::int64_t MC = 64;

// Bp[strip][k][NR] for k < kc, columns j0 … j0+nc of B rows k0 … k0+kc; zero past column N.
void pack_b(const MatrixView& B, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
            float* bp) {
  const std::int64_t strips = (nc + NR - 1) / NR;
  for (std::int64_t s = 0; s < strips; ++s) {
    float* dst = bp + s * kc * NR;
    const std::int64_t cols = std::min(NR, nc - s * NR);
    const std::int64_t jbase = j0 + s * NR;
    if (B.col_stride == 1) {
      for (std::int64_t k = 0; k < kc; ++k) {
        const float* src = B.p + (k0 + k) * B.row_stride + jbase;
        float* d = dst + k * NR;
        std::int64_t j = 0;
        for (; j < cols; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = 0.0f;
      }
    } else {  // e.g. a transposed weight: walk down each column, contiguous when row_stride == 1
      for (std::int64_t j = 0; j < NR; ++j) {
        if (j < cols) {
          const float* src = B.p + k0 * B.row_stride + (jbase + j) * B.col_stride;
          for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k * B.row_stride];
        } else {
          for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.0f;
        }
      }
    }
  }
}

// Ap[k][MR] for rows i0 … i0+MR (zero past row M), columns k0 … k0+kc of A.
void pack_a(const MatrixView& A, std::int64_t i0, std::int64_t rows, std::int64_t k0, std::int64_t kc,
            float* ap) {
  for (std::int64_t r = 0; r < MR; ++r) {
    if (r < rows) {
      const float* src = A.p + (i0 + r) * A.row_stride + k0 * A.col_stride;
      for (std::int64_t k = 0; k < kc; ++k) ap[k * MR + r] = src[k * A.col_stride];
    } else {
      for (std::int64_t k = 0; k < kc; ++k) ap[k * MR + r] = 0.0f;
    }
  }
}

// acc = Σ_k ap[k][:] ⊗ bp[k][:] over kc steps.
inline void micro_kernel(std::int64_t kc, const float* __restrict ap, const float* __restrict bp,
                         float* __restrict acc) {
  float c[MR][NR] = {};
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* a = ap + k * MR;
    const float* b = bp + k * NR;
    for (std::int64_t r = 0; r < MR; ++r)
      for (std::int64_t j = 0; j < NR; ++j) c[r][j] += a[r] * b[j];
  }
  for (std::int64_t r = 0; r < MR; ++r)
    for (std::int64_t j = 0; j < NR; ++j) acc[r * NR + j] = c[r][j];
}

struct Problem {
  std::int64_t M, N, K;
  MatrixView A, B;
  float* C;
  std::int64_t ldc;
  std::int64_t tiles_n() const { return (N + NC - 1) / NC; }
  std::int64_t tiles() const { return ((M + MC - 1) / MC) * tiles_n(); }
};

// Computes tiles [t0, t1) of C, with its own packing buffers.
void run_tiles(const Problem& p, std::int64_t t0, std::int64_t t1) {
  std::vector<float> bp(static_cast<std::size_t>(KC * ((NC + NR - 1) / NR) * NR));
  std::vector<float> ap(static_cast<std::size_t>(KC * MR));
  float acc[MR * NR];
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t i_begin = (t / p.tiles_n()) * MC, j_begin = (t % p.tiles_n()) * NC;
    const std::int64_t mc = std::min(MC, p.M - i_begin), nc = std::min(NC, p.N - j_begin);
    if (p.K == 0) {  // empty sum
      for (std::int64_t i = 0; i < mc; ++i)
        std::fill_n(p.C + (i_begin + i) * p.ldc + j_begin, nc, 0.0f);
      continue;
    }
    for (std::int64_t k0 = 0; k0 < p.K; k0 += KC) {
      const std::int64_t kc = std::min(KC, p.K - k0);
      pack_b(p.B, k0, kc, j_begin, nc, bp.data());
      for (std::int64_t ir = 0; ir < mc; ir += MR) {
        const std::int64_t rows = std::min(MR, mc - ir);
        pack_a(p.A, i_begin + ir, rows, k0, kc, ap.data());
        for (std::int64_t jr = 0; jr < nc; jr += NR) {
          const std::int64_t cols = std::min(NR, nc - jr);
          micro_kernel(kc, ap.data(), bp.data() + (jr / NR) * kc * NR, acc);
          for (std::int64_t r = 0; r < rows; ++r) {
            float* c = p.C + (i_begin + ir + r) * p.ldc + j_begin + jr;
            const float* a = acc + r * NR;
            if (k0 == 0)
              for (std::int64_t j = 0; j < cols; ++j) c[j] = a[j];
            else
              for (std::int64_t j = 0; j < cols; ++j) c[j] += a[j];
          }
        }
      }
    }
  }
}

Problem make_problem(std::int64_t M, std::int64_t N, std::int64_t K, MatrixView A, MatrixView B, float* C,
                     std::int64_t ldc) {
  if (M < 0 || N < 0 || K < 0 || ldc < N)
    throw InvalidInput(fmt::format("gemm: extents M={} N={} K={} ldc={} (expected non-negative, ldc ≥ N)",
                                   M, N, K, ldc));
  return Problem{M, N, K, A, B, C, ldc};
}

}  // namespace

void gemm(std::int64_t M, std::int64_t N, std::int64_t K, MatrixView A, MatrixView B, float* C,
          std::int64_t ldc) {
  const Problem p = make_problem(M, N, K, A, B, C, ldc);
  if (M == 0 || N == 0) return;
  parallel_for(p.tiles(), [&](std::int64_t t0, std::int64_t t1) { run_tiles(p, t0, t1); });
}

void gemm_serial(std::int64_t M, std::int64_t N, std::int64_t K, MatrixView A, MatrixView B, float* C,
                 std::int64_t ldc) {
  const Problem p = make_problem(M, N, K, A, B, C, ldc);
  if (M == 0 || N == 0) return;
  run_tiles(p, 0, p.tiles());
}

}  // namespace vramfit::cpu
