#include "measure/requests.h"

#include <fmt/format.h>

#include "core/error.h"

namespace vramfit::measure {

namespace {

// A field read with the worker configuration named in the error (nlohmann's own message says which
// type it found, not which field).
template <class T>
T field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) throw InvalidInput(fmt::format("worker configuration: no \"{}\"", key));
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InvalidInput(fmt::format("worker configuration: \"{}\" is {}", key, it->dump()));
  }
}
template <class T>
T field_or(const nlohmann::json& j, const char* key, T fallback) {
  return j.contains(key) ? field<T>(j, key) : fallback;
}
std::optional<std::uint64_t> limit_of(const nlohmann::json& j) {
  if (!j.contains("vram_limit")) throw InvalidInput("worker configuration: no \"vram_limit\"");
  return j["vram_limit"].is_null() ? std::nullopt : std::optional<std::uint64_t>(field<std::uint64_t>(j, "vram_limit"));
}
nlohmann::json limit_json(const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json to_json(const VisionRequest& r) {
  nlohmann::json c;
  c["kind"] = r.kind;
  c["device"] = r.device;
  c["reserve"] = r.reserve;
  c["vram_limit"] = limit_json(r.vram_limit);
  if (r.kind == "device") return c;
  c["model"] = r.model;
  c["precision"] = std::string(to_string(r.precision));
  c["batch"] = r.batch;
  c["workspace"] = r.workspace;
  c["seed"] = r.seed;
  if (r.streams > 1) c["streams"] = r.streams;  // absent for one stream: journal keys of earlier profiles stay valid
  if (r.kind == "measure") {
    c["warmup"] = r.warmup;
    c["iterations"] = r.iterations;
    c["time_budget_s"] = r.time_budget_s;
  }
  return c;
}

VisionRequest vision_request(const nlohmann::json& j) {
  VisionRequest r;
  r.kind = field<std::string>(j, "kind");
  r.device = field_or(j, "device", 0);
  r.reserve = field_or(j, "reserve", std::uint64_t{0});
  r.vram_limit = limit_of(j);
  if (r.kind == "device") return r;
  r.model = field<std::string>(j, "model");
  r.precision = parse_precision(field<std::string>(j, "precision"));
  r.batch = field<std::int64_t>(j, "batch");
  r.workspace = field_or(j, "workspace", r.workspace);
  r.seed = field_or(j, "seed", r.seed);
  r.streams = field_or(j, "streams", 1);
  r.warmup = field_or(j, "warmup", r.warmup);
  r.iterations = field_or(j, "iterations", r.iterations);
  r.time_budget_s = field_or(j, "time_budget_s", 0.0);
  return r;
}

nlohmann::json to_json(const LlmRequest& r) {
  nlohmann::json c;
  c["kind"] = "llm";
  c["measure"] = r.measure;
  c["device"] = r.device;
  c["reserve"] = r.reserve;
  c["vram_limit"] = limit_json(r.vram_limit);
  c["model"] = r.model;
  c["precision"] = std::string(to_string(r.precision));
  c["context"] = r.context;
  c["batch"] = r.batch;
  c["seed"] = r.seed;
  c["prefill_chunk"] = r.prefill_chunk;
  c["workspace"] = r.workspace;
  c["decode_steps"] = r.decode_steps;
  if (r.measure == "speed") c["prefill_tokens"] = r.prefill_tokens;
  return c;
}

LlmRequest llm_request(const nlohmann::json& j) {
  LlmRequest r;
  r.measure = field<std::string>(j, "measure");
  if (r.measure != "speed" && r.measure != "fit")
    throw InvalidInput(fmt::format("worker configuration: unknown LLM measure '{}' (expected speed or fit)", r.measure));
  r.device = field_or(j, "device", 0);
  r.reserve = field_or(j, "reserve", std::uint64_t{0});
  r.vram_limit = limit_of(j);
  r.model = field<std::string>(j, "model");
  r.precision = parse_precision(field<std::string>(j, "precision"));
  r.context = field<std::int64_t>(j, "context");
  r.batch = field_or(j, "batch", std::int64_t{1});
  if (r.context < 1 || r.batch < 1) throw InvalidInput("worker configuration: context and batch must be ≥ 1");
  r.seed = field_or(j, "seed", r.seed);
  r.prefill_chunk = field_or(j, "prefill_chunk", r.prefill_chunk);
  r.workspace = field_or(j, "workspace", r.workspace);
  r.decode_steps = field_or(j, "decode_steps", std::int64_t{0});
  r.prefill_tokens = field_or(j, "prefill_tokens", std::int64_t{0});
  return r;
}

}  // namespace vramfit::measure
