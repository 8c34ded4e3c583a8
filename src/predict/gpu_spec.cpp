#include "predict/gpu_spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/input_file.h"
#include "predict/gpu_spec_toml.h"

namespace vramfit {

std::string compute_capability_string(int cc) { return fmt::format("{}.{}", cc / 10, cc % 10); }

std::string describe(const GpuSpec& g) { return fmt::format("{} (sm_{})", g.name, g.compute_capability); }

ContextAllowance default_context_overhead(std::string_view architecture) {
  // The CUDA context (module images of the runtime, cuDNN and cuBLASLt with lazy loading) plus the
  // library handles is not known from shapes. The one measured figure is the H200's: the run of
  // resnet50 fp16 b256 held 573374464 B (546.8 MiB) of context and handles
  // (bench/results/2026-11-28-h200/vramfit-run.json, vram_bytes.context_and_handles; devices.txt:
  // context 526.8 MiB + handles 12.0 MiB before a model is loaded). Other architectures have not been
  // measured by vramfit: the figures below are assumptions (smaller module images for older
  // architectures), stated as such in every report, and replaced by a measurement once a profile of
  // the card exists.
  if (architecture == "hopper") return {573374464ull, "measured on an H200 (bench/results/2026-11-28-h200)"};
  if (architecture == "blackwell") return {550 * MiB, "assumed for blackwell (not measured; H200 measured 546.8 MiB)"};
  if (architecture == "ada") return {500 * MiB, "assumed for ada (not measured; H200 measured 546.8 MiB)"};
  if (architecture == "ampere") return {450 * MiB, "assumed for ampere (not measured; H200 measured 546.8 MiB)"};
  if (architecture == "turing") return {400 * MiB, "assumed for turing (not measured; H200 measured 546.8 MiB)"};
  return {550 * MiB, fmt::format("assumed for unknown architecture '{}' (the largest default)", architecture)};
}

std::optional<std::string> precision_unsupported_reason(const GpuSpec& g, Precision p) {
  const int need = min_compute_capability(p);
  if (g.compute_capability < need)
    return fmt::format("{} needs sm_{}; {} is sm_{}", to_string(p), need, g.name, g.compute_capability);
  if (p == Precision::bf16 && !g.bf16_tflops)
    return fmt::format("{} has no bf16 rate in the spec database", g.name);
  if (p == Precision::fp8 && !g.fp8_tflops) return fmt::format("{} has no fp8 rate in the spec database", g.name);
  return std::nullopt;
}

std::string normalize_gpu_name(std::string_view name) {
  std::string s;
  for (char c : name)
    if (c != ' ' && c != '-' && c != '_' && c != '\t') s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word : {"nvidia", "geforce"}) {
    for (std::size_t at = s.find(word); at != std::string::npos; at = s.find(word)) s.erase(at, word.size());
  }
  return s;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const GpuSpec* GpuDatabase::try_find(std::string_view name) const {
  const std::string key = normalize_gpu_name(name);
  if (key.empty()) return nullptr;
  for (const auto& g : gpus) {
    if (normalize_gpu_name(g.name) == key) return &g;
    for (const auto& a : g.aliases)
      if (normalize_gpu_name(a) == key) return &g;
  }
  return nullptr;
}

std::vector<std::string> GpuDatabase::closest(std::string_view name, std::size_t n) const {
  const std::string key = normalize_gpu_name(name);
  std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index)
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    std::size_t best = edit_distance(key, normalize_gpu_name(gpus[i].name));
    for (const auto& a : gpus[i].aliases) best = std::min(best, edit_distance(key, normalize_gpu_name(a)));
    scored.emplace_back(best, i);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < scored.size() && out.size() < n; ++i) out.push_back(gpus[scored[i].second].name);
  return out;
}

const GpuSpec& GpuDatabase::find(std::string_view name) const {
  if (const GpuSpec* g = try_find(name)) return *g;
  std::string near;
  for (const auto& c : closest(name)) near += (near.empty() ? "" : ", ") + ("'" + c + "'");
  throw InvalidInput(fmt::format("unknown GPU '{}' in {} ({} cards); closest: {}", name, path, gpus.size(), near));
}

namespace detail {

std::string toml_where(const std::string& file, const toml::source_region& r) {
  if (r.begin.line == 0) return file;
  return fmt::format("{}:{}", file, r.begin.line);
}

namespace {

const toml::node& required(const toml::table& t, std::string_view field, const std::string& where, std::string_view expected) {
  const toml::node* n = t.get(field);
  if (!n) throw InvalidInput(fmt::format("{}: missing field '{}' (expected {})", where, field, expected));
  return *n;
}

std::string string_field(const toml::table& t, std::string_view field, const std::string& where) {
  const toml::node& n = required(t, field, where, "a string");
  if (!n.is_string()) throw InvalidInput(fmt::format("{}: field '{}' must be a string", where, field));
  const std::string s = n.value<std::string>().value_or("");
  if (s.empty()) throw InvalidInput(fmt::format("{}: field '{}' must not be empty", where, field));
  return s;
}

constexpr double kMaxRate = 1e6;        // TFLOP/s, TOP/s or GB/s
constexpr std::int64_t kMaxSms = 65536;  // streaming multiprocessors (an H200 has 132)

std::optional<double> optional_rate(const toml::table& t, std::string_view field, const std::string& where) {
  const toml::node* n = t.get(field);
  if (!n) return std::nullopt;
  if (!n->is_number())
    throw InvalidInput(fmt::format("{}: field '{}' must be a number (TFLOP/s or TOP/s, dense)", where, field));
  const double v = n->value<double>().value_or(0.0);
  // inf or nan would drop a term of the roofline (x / inf = 0) and print "inf GB/s"; a million
  // TFLOP/s or GB/s is ~500× today's largest card.
  if (!(v > 0.0) || !std::isfinite(v) || v > kMaxRate)
    throw InvalidInput(fmt::format("{}: field '{}' must be > 0, finite and ≤ {:g}, got {}", where, field, kMaxRate, v));
  return v;
}

double rate(const toml::table& t, std::string_view field, const std::string& where, std::string_view expected) {
  required(t, field, where, expected);
  return *optional_rate(t, field, where);
}

}  // namespace

GpuSpec gpu_spec_from_table(const toml::table& t, const std::string& where) {
  GpuSpec g;
  g.name = string_field(t, "name", where);
  const std::string w = fmt::format("{}: gpu '{}'", where, g.name);
  if (const toml::node* a = t.get("aliases")) {
    const toml::array* arr = a->as_array();
    if (!arr) throw InvalidInput(fmt::format("{}: field 'aliases' must be an array of strings", w));
    for (const auto& e : *arr) {
      if (!e.is_string()) throw InvalidInput(fmt::format("{}: field 'aliases' must be an array of strings", w));
      g.aliases.push_back(e.value<std::string>().value_or(""));
    }
  }
  g.architecture = string_field(t, "architecture", w);
  {
    const std::string cc = string_field(t, "compute_capability", w);
    const auto dot = cc.find('.');
    // One or two digits of major version: sm_10 … sm_999 would not fit what a GPU reports anyway.
    const bool ok = dot != std::string::npos && dot > 0 && dot <= 2 && dot + 2 == cc.size() &&
                    std::all_of(cc.begin(), cc.begin() + static_cast<std::ptrdiff_t>(dot), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
                    std::isdigit(static_cast<unsigned char>(cc.back()));
    if (!ok)
      throw InvalidInput(fmt::format("{}: field 'compute_capability' must be \"major.minor\" like \"8.6\" (one or two digits, "
                                     "a dot, one digit), got \"{}\"",
                                     w, cc));
    g.compute_capability = std::stoi(cc.substr(0, dot)) * 10 + (cc.back() - '0');
  }
  {
    const toml::node& v = required(t, "vram", w, "bytes or a size like \"8GiB\"");
    if (v.is_integer()) {
      const auto b = v.value<std::int64_t>().value_or(0);
      if (b <= 0 || static_cast<std::uint64_t>(b) > limits::kMaxBytes)
        throw InvalidInput(fmt::format("{}: field 'vram' must be > 0 bytes and at most 1 EiB, got {}", w, b));
      g.vram_bytes = static_cast<std::uint64_t>(b);
    } else if (v.is_string()) {
      try {
        g.vram_bytes = parse_bytes(v.value<std::string>().value_or(""));
      } catch (const InvalidInput& e) {
        throw InvalidInput(fmt::format("{}: field 'vram': {}", w, e.what()));
      }
      if (g.vram_bytes == 0) throw InvalidInput(fmt::format("{}: field 'vram' must be > 0", w));
    } else {
      throw InvalidInput(fmt::format("{}: field 'vram' must be bytes (an integer) or a size string like \"8GiB\"", w));
    }
  }
  g.memory_bandwidth_gbs = rate(t, "memory_bandwidth_gbs", w, "GB/s");
  {
    const toml::node& s = required(t, "sms", w, "an integer");
    if (!s.is_integer() || s.value<std::int64_t>().value_or(0) <= 0 || s.value<std::int64_t>().value_or(0) > kMaxSms)
      throw InvalidInput(fmt::format("{}: field 'sms' must be an integer from 1 to {}, got {}", w, kMaxSms,
                                     s.is_integer() ? std::to_string(s.value<std::int64_t>().value_or(0)) : "something else"));
    g.sms = static_cast<int>(s.value<std::int64_t>().value_or(0));
  }
  g.fp32_tflops = rate(t, "fp32_tflops", w, "dense fp32 TFLOP/s");
  g.fp16_tflops = rate(t, "fp16_tflops", w, "dense fp16 tensor TFLOP/s, fp32 accumulate");
  g.fp16_fp16acc_tflops = optional_rate(t, "fp16_fp16acc_tflops", w);
  g.bf16_tflops = optional_rate(t, "bf16_tflops", w);
  g.int8_tops = rate(t, "int8_tops", w, "dense int8 tensor TOP/s");
  g.fp8_tflops = optional_rate(t, "fp8_tflops", w);
  g.fp8_fp16acc_tflops = optional_rate(t, "fp8_fp16acc_tflops", w);
  g.source = string_field(t, "source", w);
  if (const toml::node* n = t.get("note")) g.note = n->value<std::string>().value_or("");
  // The database must agree with the capability gates of core/dtype.h: a bf16 rate on a card that
  // cannot run bf16 (or none on one that can) is a typo, not a fact.
  if (g.compute_capability >= min_compute_capability(Precision::bf16) && !g.bf16_tflops)
    throw InvalidInput(fmt::format("{}: missing field 'bf16_tflops' (sm_{} supports bf16)", w, g.compute_capability));
  if (g.compute_capability < min_compute_capability(Precision::bf16) && g.bf16_tflops)
    throw InvalidInput(fmt::format("{}: field 'bf16_tflops' given but sm_{} has no bf16", w, g.compute_capability));
  if (g.compute_capability >= min_compute_capability(Precision::fp8) && !g.fp8_tflops)
    throw InvalidInput(fmt::format("{}: missing field 'fp8_tflops' (sm_{} supports fp8)", w, g.compute_capability));
  if (g.compute_capability < min_compute_capability(Precision::fp8) && g.fp8_tflops)
    throw InvalidInput(fmt::format("{}: field 'fp8_tflops' given but sm_{} has no fp8", w, g.compute_capability));
  for (const auto& [key, unused] : t) {  // a misspelt optional field would otherwise vanish silently
    static const std::vector<std::string_view> fields{"name", "aliases", "architecture", "compute_capability", "vram",
                                                      "memory_bandwidth_gbs", "sms", "fp32_tflops", "fp16_tflops",
                                                      "fp16_fp16acc_tflops", "bf16_tflops", "int8_tops", "fp8_tflops",
                                                      "fp8_fp16acc_tflops", "source", "note"};
    if (std::find(fields.begin(), fields.end(), key.str()) == fields.end())
      throw InvalidInput(fmt::format("{}: unknown field '{}' (a typo? fields: name, aliases, architecture, compute_capability, "
                                     "vram, memory_bandwidth_gbs, sms, fp32_tflops, fp16_tflops, fp16_fp16acc_tflops, "
                                     "bf16_tflops, int8_tops, fp8_tflops, fp8_fp16acc_tflops, source, note)",
                                     w, key.str()));
  }
  return g;
}

}  // namespace detail

GpuDatabase load_gpu_database(const std::filesystem::path& file) {
  GpuDatabase db;
  db.path = file.string();
  const std::string text = read_input_file(db.path, "GPU database (TOML with [[gpu]] tables)");
  toml::table root;
  try {
    root = toml::parse(text, db.path);
  } catch (const toml::parse_error& e) {
    throw InvalidInput(fmt::format("{}:{}:{}: not valid TOML: {}", db.path, e.source().begin.line, e.source().begin.column,
                                   e.description()));
  }
  const toml::array* gpus = root["gpu"].as_array();
  if (!gpus || gpus->empty())
    throw InvalidInput(fmt::format("{}: expected [[gpu]] tables (an array of tables named 'gpu'), found none", db.path));
  for (const auto& n : *gpus) {
    const toml::table* t = n.as_table();
    if (!t) throw InvalidInput(fmt::format("{}: 'gpu' must be an array of tables ([[gpu]])", detail::toml_where(db.path, n.source())));
    GpuSpec g = detail::gpu_spec_from_table(*t, detail::toml_where(db.path, t->source()));
    // Two entries answering to one key would make lookup depend on file order.
    std::vector<std::string> keys{g.name};
    keys.insert(keys.end(), g.aliases.begin(), g.aliases.end());
    for (const auto& k : keys)
      if (const GpuSpec* other = db.try_find(k))
        throw InvalidInput(fmt::format("{}: gpu '{}': name or alias '{}' already belongs to '{}'",
                                       detail::toml_where(db.path, t->source()), g.name, k, other->name));
    db.gpus.push_back(std::move(g));
  }
  return db;
}

}  // namespace vramfit
