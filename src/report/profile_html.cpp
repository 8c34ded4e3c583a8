// report/profile_html.cpp — ProfileDoc → report.html (report/profile_printers.h): the tables of
// constraints.md as HTML, charts of VRAM, latency and throughput against batch (inline SVG), and the
// Markdown itself at the end.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/text.h"
#include "core/text_escape.h"
#include "report/profile_cells.h"
#include "report/profile_printers.h"

namespace vramfit {

using namespace profile_cells;
using profile::ProfileDoc;
using profile::StatusMark;

namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (batch, value)
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};

std::string nice_number(double v) {
  if (v >= 1000) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.0f}", v);
  if (v >= 1) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2g}", v);
}

// A line chart: x = batch on a log2 axis, y linear from 0; an optional horizontal limit line.
std::string svg_chart(const std::string& title, const std::string& y_label, const std::vector<Series>& series,
                      std::optional<std::pair<double, std::string>> hline) {
  const double W = 640, H = 360, L = 70, R = 170, T = 30, B = 45;
  double xmax = 1, ymax = 0;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  if (hline) ymax = std::max(ymax, hline->first);
  if (ymax <= 0) ymax = 1;
  ymax *= 1.08;
  const double lx = std::log2(std::max(2.0, xmax));
  auto px = [&](double x) { return L + (W - L - R) * std::log2(std::max(1.0, x)) / lx; };
  auto py = [&](double y) { return H - B - (H - T - B) * y / ymax; };
  std::string o = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\">\n",
                              W, H, W, H);
  o += fmt::format("<title>{}</title>\n<text x=\"{}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n", html_escape(title), L,
                   html_escape(title));
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, H - B, W - R, H - B);
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, T, L, H - B);
  for (double x = 1; x <= xmax * 1.0001; x *= 4)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", px(x), H - B + 15, x);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">batch (log scale)</text>\n", L + (W - L - R) / 2,
                   H - 8);
  for (int i = 0; i <= 4; ++i) {
    const double y = ymax * i / 4.0;
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", L, py(y), W - R, py(y));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", L - 5, py(y) + 4, nice_number(y));
  }
  o += fmt::format("<text x=\"14\" y=\"{:.1f}\" font-size=\"12\" transform=\"rotate(-90 14 {:.1f})\" text-anchor=\"middle\">{}</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2, html_escape(y_label));
  if (hline) {
    o += fmt::format("<line class=\"budget\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-dasharray=\"6 4\"/>\n", L,
                     py(hline->first), W - R, py(hline->first));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", W - R + 5, py(hline->first) + 4, html_escape(hline->second));
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const char* c = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string pts;
    for (const auto& [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    if (s.points.size() > 1) o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", c, pts);
    for (const auto& [x, y] : s.points)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: batch {} → {}</title></circle>\n", px(x), py(y), c,
                       html_escape(s.name), x, nice_number(y));
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n",
                     W - R + 5, T + 16 * static_cast<double>(i), c, W - R + 19, T + 16 * static_cast<double>(i) + 9, html_escape(s.name));
  }
  o += "</svg>\n";
  return o;
}

}  // namespace

std::string profile_html(const ProfileDoc& d) {
  std::vector<Series> vram, latency, throughput;
  for (const auto& r : d.results) {
    Series v{fmt::format("{} {}", r.model, to_string(r.precision)), {}}, l = v, t = v;
    for (const auto& m : r.measurements) {
      if (!ran(&m)) continue;
      const double b = static_cast<double>(m.value("batch", std::int64_t{1}));
      v.points.emplace_back(b, to_mib(process_total(m)));
      l.points.emplace_back(b, median_ms(m));
      t.points.emplace_back(b, m.value("items_per_s", 0.0));
    }
    auto by_x = [](Series& s) { std::sort(s.points.begin(), s.points.end()); };
    by_x(v), by_x(l), by_x(t);
    if (!v.points.empty()) {
      vram.push_back(std::move(v));
      latency.push_back(std::move(l));
      throughput.push_back(std::move(t));
    }
  }
  // The process total is compared with what the (emulated) card gives a process: budget + context.
  const double card_mib = to_mib(d.budget_bytes + d.context_bytes);
  const std::string md = profile_markdown(d);

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += fmt::format("<title>vramfit profile: {}</title>\n", html_escape(d.system_id));
  o += "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right}.charts svg{margin:0 1em 1em 0}</style>\n</head>\n<body>\n";
  o += fmt::format("<h1>GPU constraints: {}</h1>\n", html_escape(d.system_id));
  o += fmt::format("<p>Device: {}<br>Software: {}; {}; {}<br>Measured {} by vramfit {}</p>\n",
                   html_escape(d.device.value("summary", d.device.value("name", "unknown"))), html_escape(d.software.value("cudnn", "?")),
                   html_escape(d.software.value("cublaslt", "?")), html_escape(d.software.value("cuda", "?")), html_escape(d.date),
                   html_escape(d.vramfit_version));
  o += fmt::format("<p>Budget for weights + activations + workspace: {} ({}); CUDA context and handles {}; reserve {}.</p>\n",
                   html_escape(mib_text(d.budget_bytes)), d.vram_limit_bytes ? "emulated card of " + html_escape(d.vram_limit) : "free memory",
                   html_escape(mib_text(d.context_bytes)), html_escape(mib_text(d.reserve_bytes)));
  const bool vision_table = !d.results.empty() || d.llm_results.empty();  // left out of a profile of LLMs only
  if (vision_table) {
    o += "<table>\n<tr><th>model</th><th>precision</th><th>max batch</th><th>predicted</th><th>VRAM at max batch</th>"
         "<th>latency batch 1</th><th>latency at max batch</th><th>items/s at max batch</th><th>fidelity vs fp32</th><th>status</th></tr>\n";
    for (const auto& r : d.results) {
      const StatusMark sm = profile::status_mark(r);
      const bool ok = r.outcome == Outcome::ok;
      const nlohmann::json* at_max = ok ? measurement_at(r, r.max_batch.found) : nullptr;
      const nlohmann::json* at_1 = ok ? measurement_at(r, 1) : nullptr;
      o += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{} {}</td></tr>\n",
                       html_escape(r.model), to_string(r.precision), html_escape(max_batch_cell(r)), r.max_batch.predicted,
                       r.max_batch.prediction_confirmed ? " (confirmed)" : " (not confirmed)",
                       ran(at_max) ? html_escape(mib_text(process_total(*at_max))) : "—", html_escape(ms_cell(at_1)), html_escape(ms_cell(at_max)),
                       ran(at_max) ? fmt::format("{:.0f}", at_max->value("items_per_s", 0.0)) : "—", html_escape(fidelity_cell(r)), sm.mark,
                       html_escape(sm.note));
    }
    o += "</table>\n";
  }
  if (!d.llm_results.empty()) {
    o += "<h2>Decoder LLMs (batch 1)</h2>\n<table>\n<tr><th>model</th><th>precision</th><th>weights</th><th>KV cache per token</th>"
         "<th>max context (batch 1)</th><th>VRAM at the speed context</th><th>prefill tokens/s</th><th>decode tokens/s</th>"
         "<th>decode tokens/s at max context</th><th>status</th></tr>\n";
    for (const auto& r : d.llm_results) {
      const StatusMark sm = profile::status_mark(r);
      const auto at_ctx = profile::llm_process_total(r.speed);
      o += fmt::format("<tr class=\"llm\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{} {}</td></tr>\n",
                       html_escape(r.model), to_string(r.precision), weights_cell(r), kv_cell(r),
                       html_escape(max_context_cell(r)), at_ctx ? html_escape(fmt::format("{} (context {})", mib_text(*at_ctx), r.context)) : "—",
                       rate_cell(profile::llm_number(r.speed, "prefill_tokens_per_s")),
                       rate_cell(profile::llm_number(r.speed, "decode_tokens_per_s")), rate_cell(profile::llm_number(r.at_max, "decode_tokens_per_s")), sm.mark, html_escape(sm.note));
    }
    o += "</table>\n";
  }
  if (vision_table) {
    o += "<div class=\"charts\">\n";
    o += svg_chart("VRAM (process total) against batch", "MiB", vram,
                   std::make_pair(card_mib, fmt::format("budget {:.0f} MiB", card_mib)));
    o += svg_chart("Latency (median) against batch", "ms", latency, std::nullopt);
    o += svg_chart("Throughput against batch", "items/s", throughput, std::nullopt);
    o += "</div>\n";
  }
  o += "<h2>Constraints (Markdown)</h2>\n<pre>" + html_escape(md) + "</pre>\n</body>\n</html>\n";
  return o;
}

}  // namespace vramfit
