// Conv2d as im2col + GEMM (Chellapilla, Puri & Simard, "High Performance Convolutional Neural Networks
// for Document Processing", 2006): per image and group, the receptive fields are unrolled into a
// [Cg·kh·kw, OH·OW] matrix whose rows follow torch's weight layout [O, I/groups, kh, kw], so the
// group's output [Og, OH·OW] is weight[Og, Cg·kh·kw] · columns — already NCHW. Bias, residual and the
// activation are applied afterwards in that order, as y = act(conv + b + res) specifies.
#include <algorithm>
#include <fmt/format.h>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

namespace {

std::int64_t conv_extent(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t pad,
                         std::int64_t dilation) {
  return (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

// Rows [c_begin, c_end) of the channel range of one image are unrolled into col (row r = (c·kh + i)·kw
// + j of a [C·kh·kw, OH·OW] matrix, c relative to `x`). Out-of-image taps read the zero padding.
void im2col_channels(const float* x, float* col, const Conv2dShape& s, std::int64_t c_begin,
                     std::int64_t c_end) {
  const std::int64_t oh = s.out_h(), ow = s.out_w(), plane = oh * ow;
  for (std::int64_t c = c_begin; c < c_end; ++c) {
    const float* xc = x + c * s.in_h * s.in_w;
    for (std::int64_t i = 0; i < s.kernel_h; ++i) {
      for (std::int64_t j = 0; j < s.kernel_w; ++j) {
        float* row = col + ((c * s.kernel_h + i) * s.kernel_w + j) * plane;
        for (std::int64_t r = 0; r < oh; ++r) {
          float* dst = row + r * ow;
          const std::int64_t ih = r * s.stride_h - s.pad_h + i * s.dilation_h;
          if (ih < 0 || ih >= s.in_h) {
            std::fill_n(dst, ow, 0.0f);
            continue;
          }
          const float* src = xc + ih * s.in_w;
          const std::int64_t off = j * s.dilation_w - s.pad_w;
          for (std::int64_t q = 0; q < ow; ++q) {
            const std::int64_t iw = q * s.stride_w + off;
            dst[q] = (iw >= 0 && iw < s.in_w) ? src[iw] : 0.0f;
          }
        }
      }
    }
  }
}

}  // namespace

std::int64_t Conv2dShape::out_h() const { return conv_extent(in_h, kernel_h, stride_h, pad_h, dilation_h); }
std::int64_t Conv2dShape::out_w() const { return conv_extent(in_w, kernel_w, stride_w, pad_w, dilation_w); }

void Conv2dShape::validate() const {
  const auto positive = [](std::int64_t v) { return v > 0; };
  if (!positive(batch) || !positive(in_channels) || !positive(in_h) || !positive(in_w) ||
      !positive(out_channels) || !positive(kernel_h) || !positive(kernel_w) || !positive(stride_h) ||
      !positive(stride_w) || !positive(dilation_h) || !positive(dilation_w) || !positive(groups) ||
      pad_h < 0 || pad_w < 0)
    throw InvalidInput(fmt::format(
        "conv2d: extents must be positive (padding ≥ 0): batch {} in {}×{}×{} out {} kernel {}×{} "
        "stride {}×{} pad {}×{} dilation {}×{} groups {}",
        batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, pad_h,
        pad_w, dilation_h, dilation_w, groups));
  if (in_channels % groups || out_channels % groups)
    throw InvalidInput(fmt::format("conv2d: groups {} must divide in_channels {} and out_channels {}",
                                   groups, in_channels, out_channels));
  if (out_h() <= 0 || out_w() <= 0)
    throw InvalidInput(fmt::format("conv2d: input {}×{} is too small for kernel {}×{} (dilation {}×{}, "
                                   "padding {}×{})",
                                   in_h, in_w, kernel_h, kernel_w, dilation_h, dilation_w, pad_h, pad_w));
}

void conv2d(const float* x, const float* w, const float* bias, const float* residual, float* y,
            const Conv2dShape& s, Activation act) {
  s.validate();
  const std::int64_t G = s.groups, Cg = s.in_channels / G, Og = s.out_channels / G;
  const std::int64_t Kg = Cg * s.kernel_h * s.kernel_w;
  const std::int64_t P = s.out_h() * s.out_w();
  const std::int64_t x_image = s.in_channels * s.in_h * s.in_w, y_image = s.out_channels * P;
  // A 1×1, stride-1, unpadded convolution's column matrix is the input itself.
  const bool direct = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                      s.pad_h == 0 && s.pad_w == 0;

  if (G == 1) {
    // One large product per image; the GEMM's threads split it.
    std::vector<float> col(direct ? 0 : static_cast<std::size_t>(Kg * P));
    for (std::int64_t n = 0; n < s.batch; ++n) {
      const float* xn = x + n * x_image;
      const float* cols = xn;
      if (!direct) {
        parallel_for(s.in_channels, [&](std::int64_t c0, std::int64_t c1) {
          im2col_channels(xn, col.data(), s, c0, c1);
        });
        cols = col.data();
      }
      gemm(Og, P, Kg, MatrixView{w, Kg, 1}, MatrixView{cols, P, 1}, y + n * y_image, P);
    }
  } else {
    // Many small products (down to depthwise: Og = 1): threads over (image, group) pairs.
    parallel_for(s.batch * G, [&](std::int64_t t0, std::int64_t t1) {
      std::vector<float> col(direct ? 0 : static_cast<std::size_t>(Kg * P));
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t n = t / G, g = t % G;
        const float* xg = x + n * x_image + g * Cg * s.in_h * s.in_w;
        const float* cols = xg;
        if (!direct) {
          im2col_channels(xg, col.data(), s, 0, Cg);
          cols = col.data();
        }
        gemm_serial(Og, P, Kg, MatrixView{w + g * Og * Kg, Kg, 1}, MatrixView{cols, P, 1},
                    y + n * y_image + g * Og * P, P);
      }
    });
  }

  if (!bias && !residual && act == Activation::None) return;
  parallel_for(s.batch * s.out_channels, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      float* yp = y + plane * P;
      const float b = bias ? bias[plane % s.out_channels] : 0.0f;
      const float* rp = residual ? residual + plane * P : nullptr;
      for (std::int64_t i = 0; i < P; ++i) {
        float v = yp[i];
        if (bias) v += b;
        if (rp) v += rp[i];
        yp[i] = apply_activation(v, act);
      }
    }
  });
}

}  // namespace vramfit::cpu
