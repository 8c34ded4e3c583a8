// models/registry.h — the model zoo: ids, aliases (the old Python profiler's ids too), descriptions,
// default inputs, and a builder per entry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"
#include "graph/graph.h"
#include "models/decoder.h"

namespace vramfit {

enum class ModelFamily { Vision, Pose, DecoderLLM };

struct ModelInfo {
  std::string id;                    // "resnet50"
  std::vector<std::string> aliases;  // {"resnet-50"}; vit-b16 has "vit_base" (old profiler id)
  std::string description;
  ModelFamily family = ModelFamily::Vision;
  Shape input_per_sample;            // {3, 224, 224}
  std::function<Graph(std::int64_t batch)> build;  // training-shaped graph (BN unfolded), fp32
  // DecoderLLM entries: no graph (`build` is empty); the decoder's config (models/decoder.h), run by
  // the LLM session and planned by models/decoder_plan.h (`vramfit llm`).
  std::function<DecoderConfig()> decoder;
};

const std::vector<ModelInfo>& model_zoo();
// By id or alias (case-insensitive); unknown → InvalidInput listing the valid ids.
const ModelInfo& find_model(std::string_view id_or_alias);
std::string model_ids_joined();

}  // namespace vramfit
