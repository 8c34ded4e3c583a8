// graph/graph.h — the intermediate representation every later stage reads.
//
// A Graph is a list of Nodes in execution (topological) order over Values. A Value is a tensor:
// a graph input, a parameter (weights; bound later by weights/), or an activation produced by one
// node. Every node has exactly one output. Shapes are logical (NCHW for images, [B, S, E] for token
// sequences); `Layout` records how a backend stores a 4-D activation (NHWC for 16-bit convolutions,
// set by the layout pass). Batch is always dimension 0 of inputs and activations.
//
// In:  model builders call the add_* helpers, which infer output shapes as they go.
// Out: passes (passes.h) rewrite the graph; the planner (planner.h) lays activations out in one
//      arena; cost.h counts MACs/bytes; backends execute nodes in order.
//
// Example (a conv → relu → global pool):
//   Graph g("tiny");
//   ValueId x = g.add_input("input", Shape{1, 3, 32, 32});
//   ValueId c = g.add_conv2d("conv1", x, Conv2dAttrs{.out_channels = 8, .kernel_h = 3, ...});
//   ValueId r = g.add_unary("relu1", OpKind::Relu, c);
//   g.mark_output(g.add_global_avg_pool("pool", r));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"

namespace vramfit {

using ValueId = std::int32_t;
using NodeId = std::int32_t;
constexpr ValueId kNoValue = -1;
constexpr NodeId kNoNode = -1;

enum class ValueKind : std::uint8_t { Input, Param, Activation };
enum class Layout : std::uint8_t { Plain, NCHW, NHWC };  // Plain: not a 4-D image tensor

// What a parameter is, so that counting and binding can tell weights, biases, norm statistics apart.
enum class ParamRole : std::uint8_t {
  None, Weight, Bias, NormScale, NormShift, BnMean, BnVar, ClassToken, PosEmbedding,
  DflBins  // the fixed bin values 0..reg_max−1 of Ultralytics' DFL (a 1×1 conv weight in its state dict)
};

enum class Activation : std::uint8_t { None, Relu, Gelu, Silu };

enum class OpKind : std::uint8_t {
  Conv2d,            // in: x, weight [O, I/groups, kh, kw], (bias [O]), (residual); act(conv + b + res)
  BatchNorm,         // in: x, gamma, beta, mean, var  (inference form; folded away by a pass)
  Relu, Gelu, Silu,  // in: x  (elementwise)
  MaxPool,           // in: x [N,C,H,W]
  AvgPool,           // in: x [N,C,H,W] (count_include_pad = true, as torch's default)
  GlobalAvgPool,     // in: x [N,C,H,W] → [N,C,1,1]
  Add,               // in: a, b (same shape) → act(a + b)
  Linear,            // in: x [..., K], weight [N, K], (bias [N]), (residual [..., N]); act(xWᵀ + b + res)
  LayerNorm,         // in: x [..., E], gamma [E], beta [E]; normalised over the last dim
  Attention,         // in: qkv [B, S, 3E] (q | k | v along the last dim) → [B, S, E]; softmax(qkᵀ/√d)v per head
  ConcatClassToken,  // in: x [B, S, E], cls [1, 1, E] → [B, S+1, E] (token first)
  AddPositional,     // in: x [B, S, E], pos [1, S, E] → x + pos
  PatchFlatten,      // in: x [B, C, H, W] → [B, H·W, C] (a view when x is NHWC)
  Flatten,           // in: x [B, ...] → [B, prod(...)] (a view)
  TakeToken,         // in: x [B, S, E] → [B, E], token `index`
  Patchify,          // in: x [B, C, H, W] → [B, (H/p)·(W/p), C·p·p]: non-overlapping p×p patches, each
                     // flattened in (c, u, v) order — a p×p/p convolution is Patchify + Linear
  // --- YOLO (models/yolo11_pose.h) ---
  Upsample,          // in: x [B, C, H, W] → [B, C, s·H, s·W], nearest neighbour (torch nn.Upsample(scale_factor=s))
  Concat,            // in: x0 … xn−1 [B, Ci, H, W] → [B, ΣCi, H, W] (torch.cat(dim=1))
  Slice,             // in: x [B, C, H, W] → [B, g·(end−begin), H, W]: the channels are g equal blocks of C/g and
                     // channels [begin, end) of each block are kept (g = 1: x[:, begin:end])
  SpatialAttention,  // in: qkv [B, h·(2k+d), H, W] (per head q | k | v: k, k, d channels) → [B, h·d, H, W]:
                     // per head softmax(qᵀk·scale) over the H·W positions applied to v (Ultralytics Attention)
  PoseDecode,        // in: per level box [B, 4·r, Hl, Wl], cls [B, nc, Hl, Wl] (, kpt [B, K·D, Hl, Wl]), then the
                     // DFL bins [1, r, 1, 1] → [B, 4 + nc + K·D, Σ Hl·Wl]: xywh boxes (DFL + dist2bbox)·stride,
                     // sigmoid class scores, decoded keypoints (Ultralytics Detect/Pose inference output)
  Nms,               // in: decoded [B, 4 + nc + E, A] → [B, max_det, 6 + E]: per image x1 y1 x2 y2 conf class
                     // extras, best first, rows past the kept count zero (greedy non-maximum suppression)
};

std::string_view to_string(OpKind op);
std::string_view to_string(Activation a);

struct Conv2dAttrs {
  std::int64_t out_channels = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  bool has_bias = false;
  bool has_residual = false;  // set by the residual fusion pass
  Activation act = Activation::None;
};
struct BatchNormAttrs { float eps = 1e-5f; };
struct PoolAttrs {
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};
struct AddAttrs { Activation act = Activation::None; };
struct LinearAttrs {
  std::int64_t out_features = 0;
  bool has_bias = true;
  bool has_residual = false;
  Activation act = Activation::None;
};
struct LayerNormAttrs { float eps = 1e-5f; };
struct AttentionAttrs { std::int64_t num_heads = 1; };
struct TakeTokenAttrs { std::int64_t index = 0; };
struct PatchifyAttrs { std::int64_t patch = 1; };
struct UpsampleAttrs { std::int64_t scale = 2; };
struct SliceAttrs { std::int64_t begin = 0, end = 0, groups = 1; };
struct SpatialAttentionAttrs {
  std::int64_t num_heads = 1, key_dim = 1, head_dim = 1;
  float scale = 1.0f;  // Ultralytics: key_dim^−0.5
};
struct PoseDecodeAttrs {
  std::int64_t num_classes = 1;
  std::int64_t reg_max = 16;
  std::int64_t kpt_count = 17, kpt_dims = 3;  // kpt_count 0: a plain Detect head (two inputs per level)
  std::vector<std::int64_t> strides{8, 16, 32};  // one per level, in input order
};
struct NmsAttrs {
  std::int64_t num_classes = 1;
  float conf_threshold = 0.25f;  // keep scores > this
  float iou_threshold = 0.7f;    // suppress IoU > this
  std::int64_t max_det = 300;
  bool agnostic = false;         // true: boxes of different classes suppress each other too
};
struct NoAttrs {};

using Attrs = std::variant<NoAttrs, Conv2dAttrs, BatchNormAttrs, PoolAttrs, AddAttrs, LinearAttrs,
                           LayerNormAttrs, AttentionAttrs, TakeTokenAttrs, PatchifyAttrs, UpsampleAttrs,
                           SliceAttrs, SpatialAttentionAttrs, PoseDecodeAttrs, NmsAttrs>;

struct Value {
  ValueId id = kNoValue;
  std::string name;  // for params: the checkpoint (torchvision state-dict) name
  Shape shape;
  DType dtype = DType::f32;
  ValueKind kind = ValueKind::Activation;
  Layout layout = Layout::Plain;
  ParamRole role = ParamRole::None;
  bool trainable = false;  // counts as a model parameter (torch's parameters(), not buffers)
  float init_scale = 1.0f;  // builder's hint for random initialisation (e.g. small for the last
                            // norm of a residual branch, so activations stay finite in fp16)
  NodeId producer = kNoNode;
};

struct Node {
  NodeId id = kNoNode;
  OpKind op = OpKind::Relu;
  std::string name;
  std::vector<ValueId> inputs;
  ValueId output = kNoValue;
  Attrs attrs;

  template <class T> const T& attr() const { return std::get<T>(attrs); }
  template <class T> T& attr() { return std::get<T>(attrs); }
};

class Graph {
 public:
  explicit Graph(std::string name = {}) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const Value& value(ValueId id) const { return values_.at(static_cast<std::size_t>(id)); }
  Value& value(ValueId id) { return values_.at(static_cast<std::size_t>(id)); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<std::size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<std::size_t>(id)); }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::int64_t batch() const;  // dim 0 of the first input

  // Values by kind, in id order.
  std::vector<ValueId> params() const;
  std::optional<ValueId> find_value(std::string_view name) const;
  // Nodes that read a value, in execution order (computed on demand).
  std::vector<NodeId> consumers(ValueId v) const;

  // --- construction (shape inference happens here; bad shapes throw InvalidInput) ---
  ValueId add_input(std::string name, Shape shape);
  ValueId add_param(std::string name, Shape shape, ParamRole role, bool trainable = true);
  ValueId add_conv2d(std::string name, ValueId x, const Conv2dAttrs& a);  // creates weight/bias params
  ValueId add_batchnorm(std::string name, ValueId x, float eps = 1e-5f);  // creates gamma/beta/mean/var
  ValueId add_unary(std::string name, OpKind op, ValueId x);              // Relu/Gelu/Silu
  ValueId add_pool(std::string name, OpKind op, ValueId x, const PoolAttrs& a);
  ValueId add_global_avg_pool(std::string name, ValueId x);
  ValueId add_add(std::string name, ValueId a, ValueId b, Activation act = Activation::None);
  ValueId add_linear(std::string name, ValueId x, std::int64_t out_features, bool bias = true,
                     Activation act = Activation::None);
  ValueId add_linear_with(std::string name, ValueId x, ValueId weight, std::optional<ValueId> bias,
                          Activation act = Activation::None);  // explicit params (packed qkv)
  ValueId add_layernorm(std::string name, ValueId x, float eps = 1e-5f);
  ValueId add_attention(std::string name, ValueId qkv, std::int64_t num_heads);
  ValueId add_concat_class_token(std::string name, ValueId x, ValueId cls);
  ValueId add_positional(std::string name, ValueId x, ValueId pos);
  ValueId add_patch_flatten(std::string name, ValueId x);
  ValueId add_flatten(std::string name, ValueId x);
  ValueId add_take_token(std::string name, ValueId x, std::int64_t index);
  ValueId add_upsample(std::string name, ValueId x, std::int64_t scale = 2);
  ValueId add_concat(std::string name, std::vector<ValueId> xs);
  ValueId add_slice(std::string name, ValueId x, std::int64_t begin, std::int64_t end, std::int64_t groups = 1);
  ValueId add_spatial_attention(std::string name, ValueId qkv, const SpatialAttentionAttrs& a);
  ValueId add_pose_decode(std::string name, std::vector<ValueId> inputs, const PoseDecodeAttrs& a);  // creates no params
  ValueId add_nms(std::string name, ValueId decoded, const NmsAttrs& a);
  void mark_output(ValueId v);

  // Generic: append a node whose output shape is inferred from its inputs and attrs.
  ValueId add_node(OpKind op, std::string name, std::vector<ValueId> inputs, Attrs attrs);

  // --- rewriting (passes) ---
  // Re-run shape inference for every node (e.g. after changing the input batch).
  void infer_shapes();
  // Change the batch of every input and re-infer.
  void set_batch(std::int64_t batch);
  // Remove nodes flagged dead and values no longer referenced; renumbers ids, keeps order.
  void erase_nodes(const std::vector<NodeId>& dead);
  // Replace every use of `from` (node inputs, graph outputs) by `to`.
  void replace_uses(ValueId from, ValueId to);
  // Throws InternalError if ids, producers or topological order are inconsistent.
  void validate() const;

 private:
  ValueId new_value(std::string name, Shape shape, ValueKind kind);
  Shape infer(const Node& n) const;

  std::string name_;
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
};

// Storage bytes of a value under its dtype.
std::uint64_t value_bytes(const Value& v);

// The input whose buffer the node's output may overwrite, if any: elementwise ops (input 0, or for
// Add either input — 0 is returned, the planner tries both), and a fused residual (cuDNN's
// conv-bias-add-activation and cuBLASLt's D = AB + C both allow the output to alias the residual).
std::optional<std::size_t> in_place_input(const Node& n);
// True for ops whose output is only a new view of input 0's bytes (no data movement).
bool is_view(const Graph& g, const Node& n);

// How a 4-D image value is stored: NHWC where the layout pass chose it, else NCHW (Plain included, the
// logical order). What a backend's kernels take as their storage order.
inline Layout image_layout(const Value& v) { return v.layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW; }

}  // namespace vramfit
