// The zoo table. Aliases keep the old Python profiler's ids (gpu_constraint_profiler.py: "resnet50",
// "vit_base") and the spellings people type (torchvision's "vit_b_16", hyphenated "resnet-50").
#include "models/registry.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <set>

#include "core/error.h"
#include "core/text.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "models/yolo11_pose.h"

namespace vramfit {

namespace {


ModelInfo resnet_entry(int depth, std::string description) {
  ModelInfo m;
  m.id = fmt::format("resnet{}", depth);
  m.aliases = {fmt::format("resnet-{}", depth), fmt::format("resnet_{}", depth)};
  m.description = std::move(description);
  m.family = ModelFamily::Vision;
  m.input_per_sample = Shape{3, 224, 224};
  m.build = [depth, id = m.id](std::int64_t batch) { return build_resnet(resnet_preset(depth), batch, id); };
  return m;
}

ModelInfo vit_entry(std::string id, std::vector<std::string> aliases, std::string description,
                    ViTConfig (*preset)()) {
  ModelInfo m;
  m.id = std::move(id);
  m.aliases = std::move(aliases);
  m.description = std::move(description);
  m.family = ModelFamily::Vision;
  m.input_per_sample = Shape{3, 224, 224};
  m.build = [preset, id = m.id](std::int64_t batch) { return build_vit(preset(), batch, id); };
  return m;
}

ModelInfo yolo_pose_entry(char scale, std::vector<std::string> aliases, std::string description) {
  ModelInfo m;
  m.id = fmt::format("yolo11{}-pose", scale);
  m.aliases = std::move(aliases);
  m.aliases.push_back(fmt::format("yolo11{}_pose", scale));
  m.description = std::move(description);
  m.family = ModelFamily::Pose;
  m.input_per_sample = Shape{3, 640, 640};
  m.build = [scale, id = m.id](std::int64_t batch) { return build_yolo11_pose(yolo11_pose_preset(scale), batch, id); };
  return m;
}

// The same network ending earlier or later, to time its parts: "-forward" stops at the head's nine maps
// (the network alone), "-nms" adds decoding + GPU NMS (conf 0.25, IoU 0.7, max_det 300) after it.
ModelInfo yolo_pose_variant(char scale, bool raw, std::string description) {
  ModelInfo m;
  m.id = fmt::format("yolo11{}-pose-{}", scale, raw ? "forward" : "nms");
  m.description = std::move(description);
  m.family = ModelFamily::Pose;
  m.input_per_sample = Shape{3, 640, 640};
  m.build = [scale, raw, id = m.id](std::int64_t batch) {
    Yolo11PoseConfig c = yolo11_pose_preset(scale);
    c.raw_outputs = raw;
    c.with_nms = !raw;
    return build_yolo11_pose(c, batch, id);
  };
  return m;
}

ModelInfo decoder_entry(std::string id, std::vector<std::string> aliases, std::string description) {
  ModelInfo m;
  m.id = std::move(id);
  m.aliases = std::move(aliases);
  m.description = std::move(description);
  m.family = ModelFamily::DecoderLLM;
  m.input_per_sample = Shape{};  // tokens: a context length, not a fixed input
  m.decoder = [id = m.id]() { return decoder_preset(id); };
  return m;
}

std::vector<ModelInfo> make_zoo() {
  std::vector<ModelInfo> zoo;
  zoo.push_back(resnet_entry(18, "ResNet-18 (torchvision): basic blocks [2,2,2,2], ImageNet classifier"));
  zoo.push_back(resnet_entry(34, "ResNet-34 (torchvision): basic blocks [3,4,6,3], ImageNet classifier"));
  zoo.push_back(resnet_entry(50, "ResNet-50 v1.5 (torchvision): bottleneck blocks [3,4,6,3], ImageNet classifier"));
  zoo.push_back(resnet_entry(101, "ResNet-101 v1.5 (torchvision): bottleneck blocks [3,4,23,3], ImageNet classifier"));
  zoo.push_back(resnet_entry(152, "ResNet-152 v1.5 (torchvision): bottleneck blocks [3,8,36,3], ImageNet classifier"));
  zoo.push_back(vit_entry("vit-b16", {"vit_base", "vit-base", "vit_b_16", "vit-b-16", "vit_b16"},
                          "ViT-B/16 (torchvision): 12 layers, 12 heads, width 768, MLP 3072, 16×16 patches",
                          &vit_b16));
  zoo.push_back(vit_entry("vit-l16", {"vit_large", "vit-large", "vit_l_16", "vit-l-16", "vit_l16"},
                          "ViT-L/16 (torchvision): 24 layers, 16 heads, width 1024, MLP 4096, 16×16 patches",
                          &vit_l16));
  // YOLO11 pose (Ultralytics yolo11-pose.yaml, one class, 17 COCO keypoints); the old profiler's
  // "yolo_pose" is the nano model.
  zoo.push_back(yolo_pose_entry('n', {"yolo_pose", "yolo-pose"},
                                "YOLO11n-pose (Ultralytics): 17 keypoints, 640×640, output decoded boxes, score, keypoints"));
  zoo.push_back(yolo_pose_variant('n', true, "YOLO11n-pose, the network alone: output the head's nine raw maps (no decoding)"));
  zoo.push_back(yolo_pose_variant('n', false, "YOLO11n-pose + decoding + GPU NMS (conf 0.25, IoU 0.7, max_det 300): [B, 300, 57]"));
  zoo.push_back(yolo_pose_entry('s', {}, "YOLO11s-pose (Ultralytics): 17 keypoints, 640×640"));
  zoo.push_back(yolo_pose_entry('m', {}, "YOLO11m-pose (Ultralytics): 17 keypoints, 640×640"));
  zoo.push_back(yolo_pose_entry('l', {}, "YOLO11l-pose (Ultralytics): 17 keypoints, 640×640"));
  zoo.push_back(yolo_pose_entry('x', {}, "YOLO11x-pose (Ultralytics): 17 keypoints, 640×640"));
  // Decoder LLMs (models/decoder.cpp cites each config.json).
  zoo.push_back(decoder_entry("llama-7b", {"llama7b", "llama-2-7b", "llama2-7b", "llama_7b"},
                              "Llama-2-7B shape: 32 layers, hidden 4096, 32 heads (MHA), MLP 11008, vocab 32000"));
  zoo.push_back(decoder_entry("llama-13b", {"llama13b", "llama-2-13b", "llama2-13b"},
                              "Llama-2-13B shape: 40 layers, hidden 5120, 40 heads (MHA), MLP 13824, vocab 32000"));
  zoo.push_back(decoder_entry("llama3-8b", {"llama-3-8b", "llama3_8b", "meta-llama-3-8b"},
                              "Meta-Llama-3-8B: 32 layers, hidden 4096, 32 heads / 8 KV heads, MLP 14336, vocab 128256"));
  zoo.push_back(decoder_entry("mistral-7b", {"mistral7b", "mistral-7b-v0.3"},
                              "Mistral-7B-v0.3: 32 layers, hidden 4096, 32 heads / 8 KV heads, MLP 14336, vocab 32768"));
  zoo.push_back(decoder_entry("qwen2.5-0.5b", {"qwen2.5_0.5b", "qwen-0.5b"},
                              "Qwen2.5-0.5B: 24 layers, hidden 896, 14 heads / 2 KV heads, q/k/v bias, tied embeddings"));
  zoo.push_back(decoder_entry("qwen2.5-7b", {"qwen2.5_7b", "qwen-7b"},
                              "Qwen2.5-7B: 28 layers, hidden 3584, 28 heads / 4 KV heads, q/k/v bias, vocab 152064"));
  zoo.push_back(decoder_entry("tinyllama-1.1b", {"tinyllama", "tinyllama_1.1b"},
                              "TinyLlama-1.1B: 22 layers, hidden 2048, 32 heads / 4 KV heads, MLP 5632, vocab 32000"));
  zoo.push_back(decoder_entry("llama-70b", {"llama70b", "llama-2-70b", "llama2-70b"},
                              "Llama-2-70B shape: 80 layers, hidden 8192, 64 heads / 8 KV heads, MLP 28672, vocab 32000"));

  // Every name must resolve to one entry: a clash would make find_model's answer depend on order.
  std::set<std::string> seen;
  for (const auto& m : zoo) {
    VRAMFIT_CHECK(seen.insert(ascii_lower(m.id)).second, "duplicate model name " + m.id);
    for (const auto& a : m.aliases) VRAMFIT_CHECK(seen.insert(ascii_lower(a)).second, "duplicate model alias " + a);
  }
  return zoo;
}

}  // namespace

const std::vector<ModelInfo>& model_zoo() {
  static const std::vector<ModelInfo> zoo = make_zoo();
  return zoo;
}

std::string model_ids_joined() {
  std::string out;
  for (const auto& m : model_zoo()) {
    if (!out.empty()) out += ", ";
    out += m.id;
  }
  return out;
}

const ModelInfo& find_model(std::string_view id_or_alias) {
  const std::string key = ascii_lower(id_or_alias);
  for (const auto& m : model_zoo()) {
    if (ascii_lower(m.id) == key) return m;
    for (const auto& a : m.aliases)
      if (ascii_lower(a) == key) return m;
  }
  std::string valid;
  for (const auto& m : model_zoo()) {
    if (!valid.empty()) valid += ", ";
    valid += m.id;
    for (std::size_t i = 0; i < m.aliases.size(); ++i) valid += (i == 0 ? " (aliases: " : ", ") + m.aliases[i];
    if (!m.aliases.empty()) valid += ")";
  }
  throw InvalidInput(fmt::format("unknown model '{}'; valid: {}", id_or_alias, valid));
}

}  // namespace vramfit
