// Seeded random weights. Element i of parameter `name` is a pure function of (seed, name, i) through
// core/rng.h, so the result does not depend on the thread count, on the order of parameters in the
// graph, or on which other parameters exist — a GPU generator can reproduce any tensor alone.
//
// Scales, by role (the aim is activations of order 1 and far from fp16's 65504 in any zoo model):
//   Weight        N(0, gain²/fan_in) × init_scale, fan_in = numel / shape[0] (every input a row of
//                 the weight sees: I/groups·kh·kw for a conv, K for a linear). gain √2 for 4-D
//                 (conv) weights, which in this zoo feed a ReLU/SiLU (He et al., "Delving Deep into
//                 Rectifiers", ICCV 2015, §2.2: a rectifier halves the second moment); gain 1 for
//                 linear and other weights (LeCun/Xavier fan-in scaling keeps the variance).
//   Bias          0.01·N — small, so it neither dominates nor hides a missing bias in a golden test.
//   NormScale     init_scale·(1 + 0.1·N) — near the identity, shrunk where the builder asks (the last
//                 BN of a residual branch).
//   NormShift     0.05·N.
//   BnMean        0.05·N;  BnVar  1 + 0.1·|N| (strictly positive, so 1/√(var + eps) is bounded by
//                 1: random BN statistics do not renormalise real activations, they must not amplify).
//   ClassToken, PosEmbedding   0.02·N (torchvision's trunc_normal(std = 0.02) / normal(std = 0.02)).
//   DflBins       not random: element i is i, the bins 0..reg_max−1 Ultralytics' DFL fixes its conv to
//                 (ultralytics/nn/modules/block.py DFL: weight = arange(c1)), so boxes decode sensibly.
//   None          0.02·N.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "weights/binding.h"

namespace vramfit {

namespace {

// value = offset + scale · (absolute ? |N| : N), N standard normal; with `index`, the element's index.
struct Rule {
  float offset = 0.0f;
  float scale = 0.0f;
  bool absolute = false;
  bool index = false;
};

Rule rule_for(const Value& v) {
  switch (v.role) {
    case ParamRole::Weight: {
      const std::int64_t rows = v.shape.rank() ? v.shape[0] : 1;
      const std::int64_t fan_in = rows > 0 ? std::max<std::int64_t>(1, v.shape.numel() / rows) : 1;
      const double gain = v.shape.rank() == 4 ? std::sqrt(2.0) : 1.0;
      return {0.0f, static_cast<float>(v.init_scale * gain / std::sqrt(static_cast<double>(fan_in))), false};
    }
    case ParamRole::Bias: return {0.0f, 0.01f, false};
    case ParamRole::NormScale: return {v.init_scale, 0.1f * v.init_scale, false};
    case ParamRole::NormShift: return {0.0f, 0.05f, false};
    case ParamRole::BnMean: return {0.0f, 0.05f, false};
    case ParamRole::BnVar: return {1.0f, 0.1f, true};
    case ParamRole::ClassToken:
    case ParamRole::PosEmbedding:
    case ParamRole::None: return {0.0f, 0.02f, false};
    case ParamRole::DflBins: return {0.0f, 0.0f, false, true};
  }
  throw InternalError(fmt::format("parameter '{}' has an unknown role", v.name));
}

struct Job {
  Tensor* tensor = nullptr;
  std::int64_t begin = 0;  // offset of this tensor in the concatenation of all parameters
  std::int64_t numel = 0;
  std::uint64_t stream = 0;
  Rule rule;
};

}  // namespace

TensorMap random_weights(const Graph& g, std::uint64_t seed) {
  TensorMap weights;
  std::vector<Job> jobs;
  std::int64_t total = 0;
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    auto [it, inserted] = weights.emplace(v.name, Tensor(v.shape));
    if (!inserted)
      throw InvalidInput(fmt::format("graph '{}': two parameters are named '{}'; random weights key by name",
                                     g.name(), v.name));
    Job j;
    j.tensor = &it->second;
    j.begin = total;
    j.numel = v.shape.numel();
    j.stream = stream_id(v.name);
    j.rule = rule_for(v);
    total += j.numel;
    if (j.numel > 0) jobs.push_back(j);
  }

  // One flat index space over every element, so a model of a few huge matrices (an LLM) and one of
  // many small tensors (a ResNet) both split evenly across threads.
  parallel_for(total, [&](std::int64_t begin, std::int64_t end) {
    auto job = std::upper_bound(jobs.begin(), jobs.end(), begin,
                                [](std::int64_t x, const Job& j) { return x < j.begin; });
    VRAMFIT_CHECK(job != jobs.begin(), "flat index before the first parameter");
    --job;
    for (std::int64_t k = begin; k < end;) {
      while (k >= job->begin + job->numel) ++job;
      const std::int64_t stop = std::min(end, job->begin + job->numel);
      const Rule r = job->rule;
      float* out = job->tensor->ptr();
      for (; k < stop; ++k) {
        const auto i = static_cast<std::uint64_t>(k - job->begin);
        if (r.index) {
          out[i] = static_cast<float>(i);
          continue;
        }
        const float n = normal01(seed, job->stream, i);
        out[i] = r.offset + r.scale * (r.absolute ? std::fabs(n) : n);
      }
    }
  });
  return weights;
}

}  // namespace vramfit
