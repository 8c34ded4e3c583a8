// A stand-in for `vramfit profile --worker` where no GPU exists: the real worker protocol
// (profile::worker_main, so VRAMFIT_FAULT applies exactly as in vramfit) around a fake card that
// fits every batch up to VRAMFIT_FAKE_MAX_BATCH (default 100) and answers oom above it. LLM
// configurations ("kind": "llm") fit as the plan says (models/decoder_plan.h) under vram_limit less a
// 540 MiB CUDA context — a card on which the planner is right — and, when VRAMFIT_FAKE_MAX_CONTEXT is
// set, no context above it (a card on which it is not). Latency and VRAM grow with the batch (context)
// so that the printers have something to draw. Test-only.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/error.h"
#include "models/decoder_plan.h"
#include "models/registry.h"
#include "profile/worker.h"
#include "result/run_row.h"

int main() {
  const char* env = std::getenv("VRAMFIT_FAKE_MAX_BATCH");
  const long long fake_max = env ? std::atoll(env) : 100;
  return vramfit::profile::worker_main(std::cin, [&](const nlohmann::json& c) -> nlohmann::json {
    const std::string kind = c.at("kind").get<std::string>();
    if (kind == "device")
      return {{"status", "ok"}, {"name", "Fake GPU"}, {"summary", "Fake GPU (test)"}, {"compute_capability", "9.0"},
              {"context_bytes", 500u << 20}, {"handles_bytes", 40u << 20}, {"budget_bytes", 1u << 30}};
    if (kind == "llm") {
      const long long ctx = c.at("context").get<long long>();
      const vramfit::Precision p = vramfit::parse_precision(c.at("precision").get<std::string>());
      vramfit::LlmPlanOptions po;
      po.prefill_chunk = c.value("prefill_chunk", po.prefill_chunk);
      po.workspace_bytes = c.value("workspace", po.workspace_bytes);
      const auto plan = vramfit::plan_llm_memory(vramfit::find_model(c.at("model").get<std::string>()).decoder(), p, ctx, 1, po);
      const std::uint64_t budget = c.at("vram_limit").is_null() ? (80ull << 30) : c["vram_limit"].get<std::uint64_t>() - (540ull << 20);
      if (plan.total_bytes() > budget)
        throw vramfit::OutOfMemory("fake card: device arena needs " + std::to_string(plan.total_bytes()) + " B, budget " + std::to_string(budget) + " B");
      if (const char* ce = std::getenv("VRAMFIT_FAKE_MAX_CONTEXT"); ce && ctx > std::atoll(ce))
        throw vramfit::OutOfMemory("fake card: context " + std::to_string(ctx) + " > " + ce);
      nlohmann::json j{{"status", "ok"}, {"context", ctx}, {"batch", 1}, {"setup_s", {{"total", 1.0}}}};
      const std::uint64_t total = (4096ull << 20) + static_cast<std::uint64_t>(ctx) * (512u << 10) + (540u << 20);
      j["vram_bytes"] = {{"arena", total - (540u << 20)}, {"context_and_handles", 540u << 20}, {"process_total", total}};
      j["process_vram_bytes"] = total + (2u << 20);
      j["process_vram_source"] = "nvml";
      if (c.at("measure") == "speed") {
        j["prefill_tokens"] = c.at("prefill_tokens");
        j["prefill_tokens_per_s"] = 20000.0;
      }
      const long long steps = c.value("decode_steps", 0LL);
      if (steps > 0) {
        j["decode_steps"] = steps;
        j["decode_context"] = ctx;
        j["decode_tokens_per_s"] = 300.0 - static_cast<double>(ctx) / 100.0;
      }
      return j;
    }
    const long long b = c.at("batch").get<long long>();
    if (b > fake_max) throw vramfit::OutOfMemory("fake card: batch " + std::to_string(b) + " > " + std::to_string(fake_max));
    if (kind == "fidelity") return {{"status", "ok"}, {"relative_l2", 1e-3}, {"cosine", 0.99999}, {"top1_agreement", 1.0}, {"samples", b}};
    vramfit::RunRow row;
    row.model = c.at("model").get<std::string>();
    row.precision = vramfit::parse_precision(c.at("precision").get<std::string>());
    row.batch = b;
    row.iterations = c.value("iterations", 0);
    row.median_ms = row.min_ms = row.max_ms = row.p90_ms = row.p99_ms = row.mean_ms = 0.5 + 0.1 * static_cast<double>(b);
    row.items_per_s = static_cast<double>(b) * 1000.0 / row.median_ms;
    row.weights_bytes = 50u << 20;
    row.activation_bytes = static_cast<std::uint64_t>(b) << 20;
    row.context_bytes = 540u << 20;
    row.process_total_bytes = row.weights_bytes + row.activation_bytes + row.context_bytes;
    return vramfit::to_json(row);
  });
}
