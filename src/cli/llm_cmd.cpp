// `vramfit llm -m MODEL [--config FILE] [--weights PATH | --gguf FILE] [--quant LIST] [--context LIST] [--batch LIST]
// [--vram-limit SIZE | --gpu NAME [--calibrate FILE]] [-o md|json|csv]` — does this decoder LLM fit, at which
// quantization, context and batch, and how fast does it run.
//
// --gpu NAME plans for a card of the spec database instead (budget: its VRAM less the default context
// overhead of its architecture, as `plan --gpu`) and adds the time model's tokens/s for that card
// (predict/time_model.h), marked ≈; nothing runs.
//
// Memory comes from the exact plan (models/decoder_plan.h) with or without a GPU. On a GPU (and unless
// --no-run) each quantization is also run (measure/llm.h): prefill and decode tokens/s, and the max
// context / batch confirmed by running them and failing one step up with out-of-memory. The budget is
// --vram-limit less this process's CUDA context and library handles (measured here) and --reserve, or
// the free memory; without a GPU it is --vram-limit itself (the context is not known, not guessed).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <fmt/format.h>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/flags.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/dtype.h"
#include "core/error.h"
#include "measure/llm.h"
#include "models/decoder_plan.h"
#include "models/decoder_weights.h"
#include "models/registry.h"
#include "predict/calibration.h"
#include "predict/gpu_spec.h"
#include "predict/llm_fit.h"
#include "predict/time_model.h"
#include "report/llm_report.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"

namespace vramfit::cli {

namespace {

struct LlmOptions {
  std::string model, config, weights, gguf, vram_limit, reserve = "0", workspace = "32MiB", format = "md";
  std::string gpu, calibrate, gpus_file;
  std::vector<std::string> quants, contexts, batches{"1"};
  long long prefill_chunk = kDefaultPrefillChunk, max_batch = 256;
  std::uint64_t seed = 1;
  int device = 0;
  long long devices = 1;
  bool no_run = false;
};

std::string decoder_ids() {
  std::string s;
  for (const auto& id : decoder_preset_ids()) s += (s.empty() ? "" : ", ") + id;
  return s;
}

// The model, its weights and the report's head: from --gguf, --config, -m or the checkpoint folder.
struct LlmInputs {
  std::optional<DecoderCheckpoint> ckpt;
  std::optional<GgufFile> gguf_file;
  std::optional<GgufLlamaModel> gguf;
};

void resolve_model(const LlmOptions& o, LlmInputs& in, LlmReport& report) {
  if (!o.weights.empty()) in.ckpt = DecoderCheckpoint::open(o.weights);
  if (!o.gguf.empty()) {
    // The file's metadata is the model: a title from -m over its numbers would describe another model.
    if (!o.model.empty())
      throw InvalidInput(fmt::format("--gguf {} gives the model (its metadata is the config); drop -m {}", o.gguf, o.model));
    if (in.ckpt || !o.config.empty())
      throw InvalidInput("--gguf brings its own config and weights: leave out --weights and --config");
    in.gguf_file.emplace(GgufFile::open(o.gguf));
    in.gguf.emplace(gguf_llama_model(*in.gguf_file));
  }
  if (in.gguf) {
    report.config = decoder_config_from_gguf(*in.gguf, std::filesystem::path(o.gguf).stem().string());
    report.config_source = "GGUF metadata of " + o.gguf;
  } else if (!o.config.empty()) {
    report.config = load_decoder_config(o.config);
    report.config_source = o.config;
    if (!o.model.empty()) report.config.name = o.model;
  } else if (!o.model.empty()) {
    const ModelInfo& m = find_model(o.model);
    if (m.family != ModelFamily::DecoderLLM)
      throw InvalidInput(fmt::format("{} is not a decoder LLM (`vramfit llm` takes: {}); use `vramfit plan` or `run` for it", m.id,
                                     decoder_ids()));
    report.config = m.decoder();
    report.config_source = "preset " + m.id + " (models/decoder.cpp cites its config.json)";
  } else if (in.ckpt && !in.ckpt->config_path().empty()) {
    report.config = load_decoder_config(in.ckpt->config_path());
    report.config_source = in.ckpt->config_path();
  } else {
    throw InvalidInput("vramfit llm needs -m MODEL, --config FILE, or --weights of a checkpoint folder with a config.json");
  }
  if (in.ckpt) {
    in.ckpt->check(report.config);
    report.weights_source = o.weights;
  }
  report.model = report.config.name;
  report.parameters = decoder_parameter_count(report.config);
}

// The quantizations to fit: the GGUF file's own, else --quant (default all but bf16).
std::vector<Precision> quantizations(const LlmOptions& o, const LlmInputs& in, LlmFitOptions& fo, LlmReport& report) {
  if (!in.gguf) {
    std::vector<Precision> quants;
    const std::vector<std::string> def{"fp16,int8,int4,q8_0,q4_0,q4_k_m"};
    for (const auto& q : list_flag(o.quants.empty() ? def : o.quants, "--quant")) quants.push_back(parse_precision(q));
    return quants;
  }
  const Precision file_p = gguf_file_precision(*in.gguf);
  const GgufSizeReport size = gguf_model_size(*in.gguf_file);
  report.weights_source = fmt::format("{} as it is ({}, {:.3f} GiB of tensor data, {:.2f} bits per weight)", o.gguf, to_string(file_p),
                                      size.gib(), size.bits_per_weight());
  for (const auto& q : list_flag(o.quants, "--quant"))
    if (parse_precision(q) != file_p)
      throw InvalidInput(fmt::format("--quant {}: the file {} is {}; running it at another quantization would mean "
                                     "requantizing (not implemented) — leave out --quant",
                                     q, o.gguf, to_string(file_p)));
  if (is_gguf_precision(file_p)) fo.plan.source_types = gguf_source_types(*in.gguf);
  return {file_p};
}

int run_llm(const LlmOptions& o) {
  // Validate everything first so a typo fails fast (exit 2).
  LlmReport report;
  LlmInputs in;
  resolve_model(o, in, report);
  const DecoderConfig& c = report.config;
  LlmFitOptions fo;
  const std::vector<Precision> quants = quantizations(o, in, fo, report);
  fo.plan.prefill_chunk = o.prefill_chunk;
  fo.plan.workspace_bytes = size_flag(o.workspace, "--workspace");
  fo.max_batch_ceiling = o.max_batch;
  if (o.contexts.empty()) {
    fo.contexts = {std::min<std::int64_t>(512, c.max_position_embeddings)};
    if (c.max_position_embeddings > 512) fo.contexts.push_back(std::min<std::int64_t>(4096, c.max_position_embeddings));
  } else {
    fo.contexts.clear();
    for (long long v : parse_int_list(o.contexts, "--context", limits::kMaxContext)) fo.contexts.push_back(v);
  }
  fo.batches.clear();
  for (long long v : parse_int_list(o.batches, "--batch", limits::kMaxBatch)) fo.batches.push_back(v);
  std::optional<std::uint64_t> limit;
  if (!o.vram_limit.empty()) limit = size_flag(o.vram_limit, "--vram-limit");
  const std::uint64_t reserve = size_flag(o.reserve, "--reserve");

  std::optional<GpuSpec> card;
  std::optional<Calibration> calibration;
  if (!o.gpu.empty()) {
    const std::filesystem::path db_path = find_gpu_database(o.gpus_file);
    const GpuDatabase db = load_gpu_database(db_path);
    card = db.find(o.gpu);
    std::string file = o.calibrate;
    if (file.empty())
      if (const auto shipped = default_calibration_file(db_path.parent_path())) file = shipped->string();
    if (!file.empty() && file != "none") calibration = load_calibration(file, db);
  } else if (!o.calibrate.empty()) {
    throw InvalidInput("--calibrate needs --gpu NAME (the card whose speed it estimates)");
  }
  // --devices N: every memory number is one rank's, planned on the tensor-parallel shard of the model.
  const DecoderConfig shard = tensor_parallel_shard(c, o.devices);
  if (o.devices > 1 && in.gguf) throw InvalidInput("--devices with --gguf: splitting a GGUF file's tensors over GPUs is not implemented");
  measure::GpuBudget gpu;
  if (!o.no_run && !card && o.devices == 1) gpu = measure::probe_gpu(o.device, limit, reserve);
  if (card) {
    const ContextAllowance ctx = default_context_overhead(card->architecture);
    fo.budget_bytes = card->vram_bytes > ctx.bytes + reserve ? card->vram_bytes - ctx.bytes - reserve : 0;
    report.budget_note = fmt::format("{}: VRAM {} − CUDA context and handles {} ({}){}", describe(*card), format_bytes(card->vram_bytes),
                                     format_bytes(ctx.bytes), ctx.source, reserve ? " − --reserve" : "");
    report.speed_note = "--gpu: planned for a card not at hand; nothing ran";
    report.estimate_card = card->name;
    report.estimate_source = calibration ? "calibrated on " + calibration->provenance() + " (" + calibration->profile_path + ")"
                                         : "no calibration file: no estimate";
  } else if (gpu.available) {
    report.device = gpu.device;
    fo.budget_bytes = gpu.budget_bytes;
    report.budget_note = gpu.budget_note;
  } else {
    if (limit) {
      fo.budget_bytes = limit > reserve ? *limit - reserve : 0;
      report.budget_note = "--vram-limit" + std::string(reserve ? " less --reserve" : "") +
                           "; the CUDA context and library handles are not counted: they are measured only on a GPU";
    }
    report.speed_note = o.no_run ? "speed columns absent: --no-run (memory columns come from the plan)"
                                 : "speed columns absent: " + gpu.why_not + " (memory columns come from the plan)";
  }
  if (o.devices > 1) {
    // NCCL's buffers come out of each GPU's budget; the run itself is not implemented yet.
    if (fo.budget_bytes) fo.budget_bytes = *fo.budget_bytes > kNcclAllowanceBytes ? *fo.budget_bytes - kNcclAllowanceBytes : 0;
    report.budget_note += fmt::format("; per GPU of {}, less NCCL's buffers ({}, an allowance until measured)", o.devices,
                                      format_bytes(kNcclAllowanceBytes));
    report.speed_note = fmt::format("tensor parallel over {} GPUs: every memory number is one GPU's (one rank: {} of {} heads, {} of {} KV "
                                    "heads, {} of {} MLP rows, {} of {} vocabulary rows; norms replicated); not run — running a "
                                    "decoder over several GPUs (NCCL) is not implemented yet",
                                    o.devices, shard.num_heads, c.num_heads, shard.num_kv_heads, c.num_kv_heads, shard.intermediate_size,
                                    c.intermediate_size, shard.vocab_size, c.vocab_size);
    report.estimate_source = card ? "not estimated: the time model has no multi-GPU terms (all-reduce)" : report.estimate_source;
  }
  report.budget_bytes = fo.budget_bytes;
  report.ranks = o.devices;
  report.rank_parameters = decoder_parameter_count(shard);
  for (Precision p : quants) report.rows.push_back(fit_llm(shard, p, fo));
  report.measured.assign(report.rows.size(), std::nullopt);
  report.estimated.assign(report.rows.size(), std::nullopt);
  if (card && calibration && calibration->model && o.devices == 1)
    for (std::size_t i = 0; i < report.rows.size(); ++i) {
      const LlmQuantRow& q = report.rows[i];
      if (q.status != Outcome::ok) continue;
      const std::int64_t ctx = fo.contexts.front();
      const auto b1 = llm_speed(*calibration->model, c, q.precision, ctx, 1, *card);
      if (!b1) continue;
      LlmEstimated e;
      e.context = ctx;
      e.prefill_tokens_per_s = b1->prefill_tokens_per_s;
      e.decode_tokens_per_s_batch1 = b1->decode_tokens_per_s;
      e.source = b1->source;
      if (const LlmContextFit* f = q.max_batch.empty() ? nullptr : &q.max_batch.front(); f && f->max_batch > 1) {
        e.max_batch = f->max_batch;
        if (const auto mb = llm_speed(*calibration->model, c, q.precision, ctx, f->max_batch, *card)) e.decode_tokens_per_s_max_batch = mb->decode_tokens_per_s;
      }
      report.estimated[i] = e;
    }
  if (gpu.available) {
    report.speed_note = "tokens/s measured here: prefill of " + std::to_string(std::min<std::int64_t>(512, c.max_position_embeddings)) +
                        " tokens at batch 1; decode steps with CUDA-graph replay (batch 1 and the max batch at the first context)";
    Progress progress(report.rows.size());
    for (std::size_t i = 0; i < report.rows.size(); ++i) {
      progress.step(i + 1, fmt::format("{} {}: fit confirmed, prefill and decode timed", c.name, to_string(report.rows[i].precision)));
      if (report.rows[i].status != Outcome::ok) continue;
      report.measured[i] = measure::measure_llm(gpu, c, report.rows[i], fo, in.ckpt ? &*in.ckpt : nullptr, o.seed, in.gguf ? &*in.gguf : nullptr);
    }
  }
  if (o.format == "json") std::printf("%s\n", to_json(report).dump(2).c_str());
  else if (o.format == "csv") std::printf("%s", llm_csv(report).c_str());
  else std::printf("%s", llm_markdown(report).c_str());
  return 0;
}

}  // namespace

Runner register_llm(CLI::App& app) {
  auto o = std::make_shared<LlmOptions>();
  auto* sub = app.add_subcommand(
      "llm", "Decoder LLM fit: weights, KV cache per token, activation arena, max context at batch 1, max batch per "
             "context per quantization; on a GPU also prefill/decode tokens/s, confirmed by running");
  sub->add_option("-m,--model", o->model, "A decoder preset: " + decoder_ids());
  sub->add_option("--config", o->config, "A Hugging Face config.json (or a folder holding one) instead of a preset");
  sub->add_option("--weights", o->weights,
                  "A safetensors checkpoint (file, model.safetensors.index.json, or folder; HF names) instead of seeded "
                  "random weights; its folder's config.json is used when neither -m nor --config is given");
  sub->add_option("--gguf", o->gguf,
                  "A GGUF file (llama.cpp's format: llama, mistral or qwen2; F16/Q8_0/Q4_0/Q4_K/Q6_K tensors) to run as it "
                  "is: its metadata gives the config, its tensor types the quantization");
  sub->add_option("-q,--quant", o->quants,
                  "Quantizations: fp16, bf16, int8 (W8A16), int4 (W4A16), and llama.cpp's GGUF types q8_0, q4_0, q4_k_m "
                  "(vramfit quantizes the weights itself) (default all but bf16; with --gguf the file's own)")
      ->expected(1, -1);
  sub->add_option("-c,--context", o->contexts, "KV capacity per sequence, e.g. 512,4096 (default 512 and min(4096, model max))")
      ->expected(1, -1);
  sub->add_option("-b,--batch", o->batches, "Batches to plan at each context (default 1)")->expected(1, -1);
  auto* limit_opt = sub->add_option("--vram-limit", o->vram_limit, "Card size to fit under, e.g. 8GiB, 16GB (8GB = 8e9 bytes)");
  sub->add_option("--reserve", o->reserve, "Bytes to keep free under the budget (default 0)");
  sub->add_option("--workspace", o->workspace, "cuBLASLt workspace budget per product (default 32MiB)");
  sub->add_option("--prefill-chunk", o->prefill_chunk, "Prompt tokens per sequence per prefill pass (default 512)")
      ->check(int_range(1, limits::kMaxContext));
  sub->add_option("--max-batch", o->max_batch, "Ceiling of the max-batch search (default 256)")
      ->check(int_range(1, limits::kMaxBatch));
  // An unsigned target would take "-1" as 2^64 − 1: a negative seed is refused before conversion.
  sub->add_option("--seed", o->seed, "Seed of the random weights and prompts (default 1)")
      ->check(int_range(0, std::numeric_limits<long long>::max()));
  sub->add_option("--device", o->device, "GPU ordinal (default 0)")->check(CLI::NonNegativeNumber);
  auto* gpu_opt = sub->add_option("--gpu", o->gpu,
                                  "Plan for a card of the spec database instead of this machine's (e.g. \"RTX 3070 Ti\"): budget = its VRAM "
                                  "less the default context overhead; adds the time model's tokens/s for it (≈); nothing runs");
  sub->add_option("--calibrate", o->calibrate,
                  "With --gpu: the time model's calibration (a data/calibration/*.json file; default: the newest one vramfit "
                  "ships, or $VRAMFIT_CALIBRATION; 'none': no estimate)");
  sub->add_option("--gpus", o->gpus_file, "GPU spec database (default: data/gpus.toml found next to the binary, or $VRAMFIT_GPUS)");
  sub->add_option("--devices", o->devices,
                  "Tensor parallelism over N GPUs of one machine: plan one GPU's share (heads, KV heads, MLP rows and vocabulary "
                  "divided by N; NCCL's buffers counted); the budget (--vram-limit, --gpu) is per GPU; not run yet (default 1)")
      ->check(int_range(1, 64));
  sub->add_flag("--no-run", o->no_run, "Plan only, even where a GPU exists (no speeds, nothing confirmed)");
  sub->add_option("-o,--format", o->format, "Output: md (default), json or csv")->check(CLI::IsMember({"md", "json", "csv"}));
  gpu_opt->excludes(limit_opt);
  return [o]() -> int { return run_llm(*o); };
}

}  // namespace vramfit::cli
