// YOLO11 pose builder: the module tree of Ultralytics' yolo11-pose.yaml (see yolo11_pose.h for the
// sources), flattened into graph nodes named by module path, parameters named by state-dict key.
// Structure only is taken from Ultralytics; the code is ours.
#include "models/yolo11_pose.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <numeric>

#include "core/error.h"

namespace vramfit {

namespace {

// Ultralytics sets every BatchNorm2d's eps to 1e-3 (torch_utils.initialize_weights); checkpoints do
// not store eps, so the graph must carry it.
constexpr float kBnEps = 1e-3f;

class Builder {
 public:
  Builder(Graph& g, const Yolo11PoseConfig& c) : g_(g), c_(c) {}

  Graph& g() { return g_; }
  std::int64_t channels_of(ValueId v) const { return g_.value(v).shape[1]; }

  // parse_model: c2 = make_divisible(min(c2, max_channels) · width, 8), make_divisible(x, 8) = ⌈x/8⌉·8.
  std::int64_t width(std::int64_t c) const {
    const double x = static_cast<double>(std::min(c, c_.max_channels)) * c_.width_multiple;
    return static_cast<std::int64_t>(std::ceil(x / 8.0)) * 8;
  }
  // parse_model: n = max(round(n · depth), 1) if n > 1 else n.
  std::int64_t depth(std::int64_t n) const {
    return n > 1 ? std::max<std::int64_t>(std::llround(static_cast<double>(n) * c_.depth_multiple), 1) : n;
  }

  // Conv: Conv2d(c1, c2, k, s, autopad = k/2, groups, bias=False) → BatchNorm2d → SiLU (act=False: none).
  ValueId conv(const std::string& p, ValueId x, std::int64_t c2, std::int64_t k, std::int64_t s = 1,
               std::int64_t groups = 1, bool act = true) {
    Conv2dAttrs a;
    a.out_channels = c2;
    a.kernel_h = a.kernel_w = k;
    a.stride_h = a.stride_w = s;
    a.pad_h = a.pad_w = k / 2;
    a.groups = groups;
    a.has_bias = false;
    ValueId y = g_.add_conv2d(p + ".conv", x, a);
    y = g_.add_batchnorm(p + ".bn", y, kBnEps);
    return act ? g_.add_unary(p + ".act", OpKind::Silu, y) : y;
  }
  // DWConv: a Conv with groups = gcd(c1, c2).
  ValueId dwconv(const std::string& p, ValueId x, std::int64_t c2, std::int64_t k) {
    return conv(p, x, c2, k, 1, std::gcd(channels_of(x), c2));
  }
  // Plain nn.Conv2d with bias (the head's last 1×1 layers).
  ValueId conv2d_bias(const std::string& p, ValueId x, std::int64_t c2) {
    Conv2dAttrs a;
    a.out_channels = c2;
    a.has_bias = true;
    return g_.add_conv2d(p, x, a);
  }

  // Bottleneck(c1, c2, shortcut, k = (k0, k1), e): cv1 Conv(c1, c_, k0), cv2 Conv(c_, c2, k1),
  // x + cv2(cv1(x)) when shortcut and c1 == c2; c_ = int(c2·e).
  ValueId bottleneck(const std::string& p, ValueId x, std::int64_t c2, bool shortcut, std::int64_t k, double e) {
    const std::int64_t hidden = static_cast<std::int64_t>(static_cast<double>(c2) * e);
    ValueId y = conv(p + ".cv1", x, hidden, k);
    y = conv(p + ".cv2", y, c2, k);
    return shortcut && channels_of(x) == c2 ? g_.add_add(p + ".add", x, y) : y;
  }

  // C3k(c1, c2, n, shortcut, e = 0.5, k = 3) (a C3): cv3(cat(m(cv1(x)), cv2(x))), m = n Bottlenecks
  // (c_, c_, k = (3, 3), e = 1.0), c_ = int(c2·e).
  ValueId c3k(const std::string& p, ValueId x, std::int64_t c2, std::int64_t n, bool shortcut) {
    const std::int64_t hidden = c2 / 2;
    ValueId a = conv(p + ".cv1", x, hidden, 1);
    for (std::int64_t i = 0; i < n; ++i) a = bottleneck(fmt::format("{}.m.{}", p, i), a, hidden, shortcut, 3, 1.0);
    const ValueId b = conv(p + ".cv2", x, hidden, 1);
    return conv(p + ".cv3", g_.add_concat(p + ".cat", {a, b}), c2, 1);
  }

  // C3k2(c1, c2, n, c3k, e, shortcut = True) (a C2f): y = cv1(x) split in two halves of c = int(c2·e);
  // each of the n blocks (C3k(c, c, 2) or Bottleneck(c, c, e = 0.5)) reads the last output;
  // cv2(cat(y0, y1, m0, …)). The concatenation starts with cv1's whole output (= y0 | y1), so only the
  // second half needs a Slice.
  ValueId c3k2(const std::string& p, ValueId x, std::int64_t c2, std::int64_t n, bool use_c3k, double e) {
    const std::int64_t c = static_cast<std::int64_t>(static_cast<double>(c2) * e);
    const ValueId y = conv(p + ".cv1", x, 2 * c, 1);
    std::vector<ValueId> parts{y};
    ValueId last = g_.add_slice(p + ".chunk1", y, c, 2 * c);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::string m = fmt::format("{}.m.{}", p, i);
      last = use_c3k ? c3k(m, last, c, 2, true) : bottleneck(m, last, c, true, 3, 0.5);
      parts.push_back(last);
    }
    return conv(p + ".cv2", g_.add_concat(p + ".cat", parts), c2, 1);
  }

  // SPPF(c1, c2, k): c_ = c1/2; y0 = cv1(x); y1..3 = MaxPool2d(k, 1, k/2) applied in turn;
  // cv2(cat(y0, y1, y2, y3)).
  ValueId sppf(const std::string& p, ValueId x, std::int64_t c2, std::int64_t k) {
    const std::int64_t hidden = channels_of(x) / 2;
    std::vector<ValueId> ys{conv(p + ".cv1", x, hidden, 1)};
    const PoolAttrs pool{.kernel_h = k, .kernel_w = k, .stride_h = 1, .stride_w = 1, .pad_h = k / 2, .pad_w = k / 2};
    for (int i = 0; i < 3; ++i) ys.push_back(g_.add_pool(fmt::format("{}.m.{}", p, i), OpKind::MaxPool, ys.back(), pool));
    return conv(p + ".cv2", g_.add_concat(p + ".cat", ys), c2, 1);
  }

  // Attention(dim, num_heads, attn_ratio = 0.5): head_dim = dim/heads, key_dim = int(head_dim·ratio),
  // scale = key_dim^−0.5; qkv Conv(dim, dim + 2·key_dim·heads, 1, act=False) viewed per head as
  // q | k | v; x = attention(q, k, v) + pe(v), pe Conv(dim, dim, 3, groups = dim, act=False);
  // proj Conv(dim, dim, 1, act=False).
  ValueId attention(const std::string& p, ValueId x, std::int64_t heads) {
    const std::int64_t dim = channels_of(x);
    SpatialAttentionAttrs a;
    a.num_heads = heads;
    a.head_dim = dim / heads;
    a.key_dim = static_cast<std::int64_t>(static_cast<double>(a.head_dim) * 0.5);
    a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.key_dim)));
    const ValueId qkv = conv(p + ".qkv", x, dim + 2 * a.key_dim * heads, 1, 1, 1, false);
    const ValueId att = g_.add_spatial_attention(p + ".attention", qkv, a);
    const ValueId v = g_.add_slice(p + ".v", qkv, 2 * a.key_dim, 2 * a.key_dim + a.head_dim, heads);
    const ValueId pe = conv(p + ".pe", v, dim, 3, 1, dim, false);
    const ValueId sum = g_.add_add(p + ".add_pe", att, pe);
    return conv(p + ".proj", sum, dim, 1, 1, 1, false);
  }

  // PSABlock(c, attn_ratio 0.5, num_heads): x = x + attn(x); x = x + ffn(x), ffn = Conv(c, 2c, 1),
  // Conv(2c, c, 1, act=False).
  ValueId psa_block(const std::string& p, ValueId x, std::int64_t heads) {
    const std::int64_t c = channels_of(x);
    x = g_.add_add(p + ".add_attn", x, attention(p + ".attn", x, heads));
    ValueId f = conv(p + ".ffn.0", x, 2 * c, 1);
    f = conv(p + ".ffn.1", f, c, 1, 1, 1, false);
    return g_.add_add(p + ".add_ffn", x, f);
  }

  // C2PSA(c1, c2 = c1, n, e = 0.5): c = int(c1·e); a, b = cv1(x).split(c); b = n PSABlocks(c, heads = c/64);
  // cv2(cat(a, b)).
  ValueId c2psa(const std::string& p, ValueId x, std::int64_t c2, std::int64_t n) {
    const std::int64_t c1 = channels_of(x);
    if (c1 != c2) throw InvalidInput(fmt::format("{}: C2PSA needs c1 == c2, got {} and {}", p, c1, c2));
    const std::int64_t c = c1 / 2, heads = c / 64;
    if (heads < 1) throw InvalidInput(fmt::format("{}: C2PSA with {} hidden channels has no 64-channel head", p, c));
    const ValueId y = conv(p + ".cv1", x, 2 * c, 1);
    const ValueId a = g_.add_slice(p + ".split0", y, 0, c);
    ValueId b = g_.add_slice(p + ".split1", y, c, 2 * c);
    for (std::int64_t i = 0; i < n; ++i) b = psa_block(fmt::format("{}.m.{}", p, i), b, heads);
    return conv(p + ".cv2", g_.add_concat(p + ".cat", {a, b}), c1, 1);
  }

  // Pose(nc, kpt_shape, ch) — Detect with YOLO11's (non-legacy) class branch, plus keypoints:
  //   c2 = max(16, ch0/4, 4·reg_max), c3 = max(ch0, min(nc, 100)), c4 = max(ch0/4, K·D)
  //   cv2[i]: Conv(x, c2, 3), Conv(c2, c2, 3), Conv2d(c2, 4·reg_max, 1)                → box
  //   cv3[i]: DWConv(x, x, 3), Conv(x, c3, 1), DWConv(c3, c3, 3), Conv(c3, c3, 1), Conv2d(c3, nc, 1) → cls
  //   cv4[i]: Conv(x, c4, 3), Conv(c4, c4, 3), Conv2d(c4, K·D, 1)                      → keypoints
  //   dfl: Conv2d(reg_max, 1, 1, bias=False) with weight 0…reg_max−1
  ValueId pose_head(const std::string& p, const std::vector<ValueId>& feats, std::vector<ValueId>* raw = nullptr) {
    constexpr std::int64_t kRegMax = 16;
    const std::int64_t ch0 = channels_of(feats[0]), nc = c_.num_classes, nk = c_.kpt_count * c_.kpt_dims;
    const std::int64_t c2 = std::max({std::int64_t{16}, ch0 / 4, 4 * kRegMax});
    const std::int64_t c3 = std::max(ch0, std::min<std::int64_t>(nc, 100));
    const std::int64_t c4 = std::max(ch0 / 4, nk);
    PoseDecodeAttrs d;
    d.num_classes = nc;
    d.reg_max = kRegMax;
    d.kpt_count = c_.kpt_count;
    d.kpt_dims = c_.kpt_dims;
    d.strides = {8, 16, 32};
    std::vector<ValueId> inputs;
    for (std::size_t i = 0; i < feats.size(); ++i) {
      const ValueId x = feats[i];
      const std::int64_t cx = channels_of(x);
      ValueId b = conv(fmt::format("{}.cv2.{}.0", p, i), x, c2, 3);
      b = conv(fmt::format("{}.cv2.{}.1", p, i), b, c2, 3);
      b = conv2d_bias(fmt::format("{}.cv2.{}.2", p, i), b, 4 * kRegMax);
      ValueId k = dwconv(fmt::format("{}.cv3.{}.0.0", p, i), x, cx, 3);
      k = conv(fmt::format("{}.cv3.{}.0.1", p, i), k, c3, 1);
      k = dwconv(fmt::format("{}.cv3.{}.1.0", p, i), k, c3, 3);
      k = conv(fmt::format("{}.cv3.{}.1.1", p, i), k, c3, 1);
      k = conv2d_bias(fmt::format("{}.cv3.{}.2", p, i), k, nc);
      inputs.push_back(b);
      inputs.push_back(k);
      if (nk > 0) {
        ValueId kp = conv(fmt::format("{}.cv4.{}.0", p, i), x, c4, 3);
        kp = conv(fmt::format("{}.cv4.{}.1", p, i), kp, c4, 3);
        inputs.push_back(conv2d_bias(fmt::format("{}.cv4.{}.2", p, i), kp, nk));
      }
    }
    if (raw) {  // forward only: the maps are the outputs, nothing decodes them
      *raw = inputs;
      return kNoValue;
    }
    inputs.push_back(g_.add_param(p + ".dfl.conv.weight", Shape{1, kRegMax, 1, 1}, ParamRole::DflBins));
    return g_.add_pose_decode(p + ".decode", inputs, d);
  }

 private:
  Graph& g_;
  const Yolo11PoseConfig& c_;
};

void validate(const Yolo11PoseConfig& c, std::int64_t batch) {
  if (batch < 1) throw InvalidInput(fmt::format("yolo11-pose: batch must be ≥ 1, got {}", batch));
  if (c.image_h < 32 || c.image_w < 32 || c.image_h % 32 || c.image_w % 32)
    throw InvalidInput(fmt::format("yolo11-pose: input {}×{} must be a positive multiple of 32 in both sides (the "
                                   "P5 level has stride 32)", c.image_h, c.image_w));
  if (!(c.depth_multiple > 0) || !(c.width_multiple > 0) || c.max_channels < 8)
    throw InvalidInput("yolo11-pose: depth and width multiples must be > 0 and max_channels ≥ 8");
  if (c.num_classes < 1) throw InvalidInput(fmt::format("yolo11-pose: num_classes must be ≥ 1, got {}", c.num_classes));
  if (c.kpt_count < 0 || (c.kpt_count > 0 && c.kpt_dims != 2 && c.kpt_dims != 3))
    throw InvalidInput(fmt::format("yolo11-pose: keypoints [{}, {}]: need ≥ 0 keypoints of 2 or 3 values", c.kpt_count,
                                   c.kpt_dims));
}

}  // namespace

Yolo11PoseConfig yolo11_pose_preset(char scale) {
  Yolo11PoseConfig c;
  c.scale = static_cast<char>(std::tolower(static_cast<unsigned char>(scale)));
  // yolo11-pose.yaml scales: [depth, width, max_channels].
  switch (c.scale) {
    case 'n': c.depth_multiple = 0.50; c.width_multiple = 0.25; c.max_channels = 1024; break;
    case 's': c.depth_multiple = 0.50; c.width_multiple = 0.50; c.max_channels = 1024; break;
    case 'm': c.depth_multiple = 0.50; c.width_multiple = 1.00; c.max_channels = 512; break;
    case 'l': c.depth_multiple = 1.00; c.width_multiple = 1.00; c.max_channels = 512; break;
    case 'x': c.depth_multiple = 1.00; c.width_multiple = 1.50; c.max_channels = 512; break;
    default: throw InvalidInput(fmt::format("yolo11-pose scale '{}' has no preset; valid: n, s, m, l, x", scale));
  }
  return c;
}

Graph build_yolo11_pose(const Yolo11PoseConfig& c, std::int64_t batch, std::string name) {
  validate(c, batch);
  Graph g(std::move(name));
  Builder b(g, c);
  // parse_model turns C3k2's c3k flag on for every C3k2 of the m, l and x scales.
  const bool mlx = c.scale == 'm' || c.scale == 'l' || c.scale == 'x';
  auto c3k_flag = [&](bool yaml) { return yaml || mlx; };

  ValueId x = g.add_input("images", Shape{batch, 3, c.image_h, c.image_w});
  // Backbone (layer index = the state-dict prefix model.N).
  x = b.conv("model.0", x, b.width(64), 3, 2);                                   // P1/2
  x = b.conv("model.1", x, b.width(128), 3, 2);                                  // P2/4
  x = b.c3k2("model.2", x, b.width(256), b.depth(2), c3k_flag(false), 0.25);
  x = b.conv("model.3", x, b.width(256), 3, 2);                                  // P3/8
  const ValueId p3 = x = b.c3k2("model.4", x, b.width(512), b.depth(2), c3k_flag(false), 0.25);
  x = b.conv("model.5", x, b.width(512), 3, 2);                                  // P4/16
  const ValueId p4 = x = b.c3k2("model.6", x, b.width(512), b.depth(2), c3k_flag(true), 0.5);
  x = b.conv("model.7", x, b.width(1024), 3, 2);                                 // P5/32
  x = b.c3k2("model.8", x, b.width(1024), b.depth(2), c3k_flag(true), 0.5);
  x = b.sppf("model.9", x, b.width(1024), 5);
  const ValueId p5 = x = b.c2psa("model.10", x, b.width(1024), b.depth(2));
  // Head (FPN top-down, then PAN bottom-up).
  x = g.add_upsample("model.11", x, 2);
  x = g.add_concat("model.12", {x, p4});
  const ValueId h13 = x = b.c3k2("model.13", x, b.width(512), b.depth(2), c3k_flag(false), 0.5);
  x = g.add_upsample("model.14", x, 2);
  x = g.add_concat("model.15", {x, p3});
  const ValueId out_p3 = x = b.c3k2("model.16", x, b.width(256), b.depth(2), c3k_flag(false), 0.5);
  x = b.conv("model.17", x, b.width(256), 3, 2);
  x = g.add_concat("model.18", {x, h13});
  const ValueId out_p4 = x = b.c3k2("model.19", x, b.width(512), b.depth(2), c3k_flag(false), 0.5);
  x = b.conv("model.20", x, b.width(512), 3, 2);
  x = g.add_concat("model.21", {x, p5});
  const ValueId out_p5 = b.c3k2("model.22", x, b.width(1024), b.depth(2), c3k_flag(true), 0.5);
  if (c.raw_outputs) {
    if (c.with_nms) throw InvalidInput("yolo11-pose: raw_outputs and with_nms exclude each other");
    std::vector<ValueId> maps;
    b.pose_head("model.23", {out_p3, out_p4, out_p5}, &maps);
    for (ValueId m : maps) g.mark_output(m);
    return g;
  }
  ValueId y = b.pose_head("model.23", {out_p3, out_p4, out_p5});
  if (c.with_nms) {
    NmsAttrs a = c.nms;
    a.num_classes = c.num_classes;
    y = g.add_nms("nms", y, a);
  }
  g.mark_output(y);
  return g;
}

std::vector<std::uint64_t> yolo_layer_parameter_counts(const Graph& g) {
  std::vector<std::uint64_t> counts(24, 0);
  for (const Value& v : g.values()) {
    if (v.kind != ValueKind::Param || !v.trainable) continue;
    std::size_t layer = 0;
    if (std::sscanf(v.name.c_str(), "model.%zu.", &layer) != 1 || layer >= counts.size())
      throw InvalidInput(fmt::format("parameter '{}' is not under model.0 … model.23", v.name));
    counts[layer] += static_cast<std::uint64_t>(v.shape.numel());
  }
  return counts;
}

}  // namespace vramfit
