// report/summary_html.cpp — Summary → one self-contained HTML page: inline CSS and SVG, no scripts,
// no external resources (it works offline and from a file:// URL). Charts: per model, VRAM against
// batch for every system (one colour per system, one dash pattern per precision) with each card's VRAM
// as a horizontal line; the fit matrix as a colour grid (model × precision against systems).
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "report/plan_report.h"
#include "report/summary_format.h"
#include "report/summary_printers.h"

namespace vramfit {

namespace sf = summary_format;

namespace {

// Escaped text with Markdown **bold** and `code` turned into tags (the recommendations use both).
std::string inline_md(const std::string& s) {
  std::string e = html_escape(s), o;
  bool bold = false, code = false;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e.compare(i, 2, "**") == 0) {
      o += bold ? "</b>" : "<b>";
      bold = !bold;
      ++i;
    } else if (e[i] == '`') {
      o += code ? "</code>" : "<code>";
      code = !code;
    } else {
      o += e[i];
    }
  }
  if (bold) o += "</b>";
  if (code) o += "</code>";
  return o;
}

const char* kSystemColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};
const char* kDashes[] = {"", "8 4", "2 3", "10 3 2 3", "4 4", "1 5"};

const char* system_color(std::size_t i) { return kSystemColors[i % (sizeof(kSystemColors) / sizeof(kSystemColors[0]))]; }
const char* dash(std::size_t i) { return kDashes[i % (sizeof(kDashes) / sizeof(kDashes[0]))]; }

struct MarkStyle {
  const char* fill;
  const char* label;
  const char* css;  // the table cell's class
};
MarkStyle mark_style(Mark mark) {
  switch (mark) {
    case Mark::fits: return {"#7bc67e", "fits", "m-ok"};
    case Mark::constrained: return {"#ffc857", "constrained", "m-warn"};
    case Mark::fails: return {"#e66060", "does not run", "m-bad"};
    case Mark::not_applicable: break;
  }
  return {"#c8c8c8", "n/a", "m-na"};
}

std::string nice(double v) {
  if (v >= 10) return fmt::format("{:.0f}", v);
  if (v >= 1) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2g}", v);
}

// VRAM (GiB) against batch (log2) for one model: every system × precision, each card's VRAM a line.
std::string vram_chart(const Summary& s, const std::string& model) {
  const double W = 820, H = 400, L = 60, R = 230, T = 34, B = 46;
  double xmax = 2, ymax = 0;
  for (const auto& sys : s.systems) {
    ymax = std::max(ymax, to_gib(sys.gpu.vram_bytes));
    for (const auto& c : sys.cells)
      if (c.model == model)
        for (const auto& p : c.vram_curve) {
          xmax = std::max(xmax, static_cast<double>(p.batch));
          ymax = std::max(ymax, to_gib(p.bytes));
        }
  }
  if (ymax <= 0) ymax = 1;
  ymax *= 1.08;
  const double lx = std::log2(xmax);
  auto px = [&](double x) { return L + (W - L - R) * std::log2(std::max(1.0, x)) / lx; };
  auto py = [&](double y) { return H - B - (H - T - B) * y / ymax; };
  std::string o = fmt::format("<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
                              "role=\"img\" aria-label=\"VRAM against batch: {}\">\n",
                              W, H, W, H, html_escape(model));
  o += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", W, H);
  o += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}: VRAM against batch</text>\n", L, html_escape(model));
  for (int i = 0; i <= 4; ++i) {
    const double y = ymax * i / 4.0;
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>\n", L, py(y), W - R, py(y));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", L - 6, py(y) + 4, nice(y));
  }
  for (double x = 1; x <= xmax * 1.0001; x *= 4)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", px(x), H - B + 16, thousands(static_cast<std::int64_t>(x)));
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, H - B, W - R, H - B);
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, T, L, H - B);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">batch (log scale)</text>\n", L + (W - L - R) / 2, H - 10);
  o += fmt::format("<text x=\"16\" y=\"{0:.1f}\" font-size=\"12\" transform=\"rotate(-90 16 {0:.1f})\" text-anchor=\"middle\">GiB</text>\n",
                   (T + H - B) / 2);
  double ly = T;
  for (std::size_t i = 0; i < s.systems.size(); ++i) {
    const auto& sys = s.systems[i];
    const char* col = system_color(i);
    const double vy = py(to_gib(sys.gpu.vram_bytes));
    o += fmt::format("<line class=\"card-vram\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"3\" "
                     "stroke-opacity=\"0.45\"><title>{}: {} VRAM</title></line>\n",
                     L, vy, W - R, vy, col, html_escape(sys.id), html_escape(gib_text(sys.gpu.vram_bytes)));
    for (std::size_t k = 0; k < s.precisions.size(); ++k) {
      const SummaryCell* c = sys.find(model, s.precisions[k]);
      if (!c || c->vram_curve.empty()) continue;
      std::string pts;
      for (const auto& p : c->vram_curve) pts += fmt::format("{:.1f},{:.1f} ", px(static_cast<double>(p.batch)), py(to_gib(p.bytes)));
      if (c->vram_curve.size() > 1)
        o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\" points=\"{}\"/>\n", col, dash(k), pts);
      for (const auto& p : c->vram_curve)
        o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} {} ({}): batch {} → {}</title></circle>\n",
                         px(static_cast<double>(p.batch)), py(to_gib(p.bytes)), col, html_escape(sys.id), html_escape(c->precision),
                         html_escape(to_string(c->source)), thousands(p.batch), html_escape(mib_text(p.bytes)));
    }
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{} ({})</text>\n",
                     W - R + 12, ly, col, W - R + 30, ly + 10, html_escape(sys.id), html_escape(gib_text(sys.gpu.vram_bytes)));
    ly += 18;
  }
  ly += 6;
  for (std::size_t k = 0; k < s.precisions.size(); ++k) {
    o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>"
                     "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n",
                     W - R + 10, ly + 6, W - R + 40, ly + 6, dash(k), W - R + 46, ly + 10, html_escape(s.precisions[k]));
    ly += 18;
  }
  o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555\">wide pale lines: each card's VRAM</text>\n", W - R + 10, ly + 10);
  o += "</svg>\n";
  return o;
}

// The fit matrix: one row per model × precision, one column per system, coloured by the mark.
std::string fit_matrix(const Summary& s) {
  const double label_w = 190, cell_w = 180, cell_h = 34, top = 72;
  const std::size_t rows = s.models.size() * s.precisions.size();
  const double W = label_w + cell_w * static_cast<double>(s.systems.size()) + 10;
  const double H = top + cell_h * static_cast<double>(rows) + 44;
  std::string o = fmt::format("<svg class=\"matrix\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
                              "role=\"img\" aria-label=\"fit matrix\">\n",
                              W, H, W, H);
  o += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", W, H);
  for (std::size_t j = 0; j < s.systems.size(); ++j) {
    const double x = label_w + cell_w * static_cast<double>(j) + cell_w / 2;
    o += fmt::format("<text x=\"{:.1f}\" y=\"22\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n", x, html_escape(s.systems[j].id));
    o += fmt::format("<text x=\"{:.1f}\" y=\"40\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", x, html_escape(s.systems[j].gpu.name));
    o += fmt::format("<text x=\"{:.1f}\" y=\"56\" font-size=\"11\" text-anchor=\"middle\">{}, sm_{}</text>\n", x,
                     html_escape(gib_text(s.systems[j].gpu.vram_bytes)), s.systems[j].gpu.compute_capability);
  }
  std::size_t r = 0;
  for (const auto& model : s.models)
    for (const auto& prec : s.precisions) {
      const double y = top + cell_h * static_cast<double>(r++);
      o += fmt::format("<text x=\"6\" y=\"{:.1f}\" font-size=\"13\">{} {}</text>\n", y + cell_h / 2 + 4, html_escape(model), html_escape(prec));
      for (std::size_t j = 0; j < s.systems.size(); ++j) {
        const SummaryCell* c = s.systems[j].find(model, prec);
        const double x = label_w + cell_w * static_cast<double>(j);
        const MarkStyle st = mark_style(c ? c->mark : Mark::not_applicable);
        std::string text = "—", tip = "no cell";
        if (c) {
          text = c->status == Outcome::ok                ? "batch " + sf::max_batch_cell(*c)
                 : c->mark == Mark::not_applicable ? std::string(to_string(c->mark))
                                                   : status_text(*c);
          text += c->source == CellSource::predicted ? " (pred.)" : c->source == CellSource::emulated ? " (emul.)" : " (prof.)";
          tip = fmt::format("{} {} on {}: {} — {}{}", model, prec, s.systems[j].id, st.label, to_string(c->source),
                            c->mark_note.empty() ? "" : "; " + c->mark_note);
        }
        o += fmt::format("<rect class=\"cell\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\" "
                         "stroke-width=\"2\"><title>{}</title></rect>\n",
                         x, y, cell_w, cell_h, st.fill, html_escape(tip));
        o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n", x + cell_w / 2, y + cell_h / 2 + 4,
                         html_escape(text));
      }
    }
  double lx = 6;
  const double ly = top + cell_h * static_cast<double>(rows) + 16;
  for (Mark m : {Mark::fits, Mark::constrained, Mark::fails, Mark::not_applicable}) {
    const MarkStyle st = mark_style(m);
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n", lx, ly,
                     st.fill, lx + 19, ly + 12, st.label);
    lx += 120;
  }
  o += "</svg>\n";
  return o;
}

// One system: its table, where the numbers come from, the planner checks, warnings, recommendations.
std::string system_html(const SystemSummary& sys) {
  std::string o;
  o += fmt::format("<h2>{} — {}</h2>\n", html_escape(sys.id), html_escape(sf::gpu_line(sys)));
  o += fmt::format("<p>Primary use: {}. Status: {}.", html_escape(sys.primary_use), html_escape(sys.status));
  if (sys.predicted_cells)
    o += fmt::format(" Predicted cells: budget {} = VRAM {} − CUDA context and handles {} ({}).", html_escape(mib_text(sys.predicted_budget_bytes)),
                     html_escape(mib_text(sys.gpu.vram_bytes)), html_escape(mib_text(sys.context_bytes)), html_escape(sys.context_source));
  o += fmt::format(" Latency estimates: {}.</p>\n", html_escape(sys.latency_calibration));
  o += "<table>\n<tr><th>model</th><th>precision</th><th>max batch</th><th>VRAM at max batch</th><th>latency batch 1</th>"
       "<th>latency at max batch</th><th>items/s at max batch</th><th>source</th><th>status</th></tr>\n";
  for (const auto& c : sys.cells) {
    const char* cls = mark_style(c.mark).css;
    const auto t = sf::throughput(c);
    std::string note = c.mark_note.empty() && c.status == Outcome::ok && !c.reason.empty() ? "(" + c.reason + ")" : c.mark_note;
    o += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                     "<td class=\"n\">{}</td><td>{}</td><td class=\"{}\">{} {}</td></tr>\n",
                     html_escape(c.model), html_escape(c.precision), html_escape(sf::max_batch_cell(c)), c.vram_at_max_bytes ? html_escape(mib_text(*c.vram_at_max_bytes)) : "—",
                     html_escape(sf::latency_cell(c.latency_ms_batch1, c.latency_measured)), html_escape(sf::latency_cell(c.latency_ms_max, c.latency_measured)),
                     t ? fmt::format("{}{:.0f}", c.latency_measured ? "" : "≈ ", *t) : "—", html_escape(sf::source_cell(c)), cls, html_escape(to_string(c.mark)),
                     html_escape(note));
  }
  o += "</table>\n";
  if (sys.profiles.empty()) {
    o += "<p class=\"small\">Numbers from the planner only (no profile of this system).</p>\n";
  } else {
    o += "<p class=\"small\">Numbers from:</p>\n<ul class=\"small\">\n";
    for (const auto& p : sys.profiles) {
      o += fmt::format("<li><code>{}</code> — {}, {}{}: {}", html_escape(p.path), html_escape(p.date), html_escape(p.device),
                       p.vram_limit.empty() ? "" : ", emulating " + html_escape(p.vram_limit),
                       p.cells_used.empty() ? "no cell used" : "used for " + html_escape(join(p.cells_used, ", ")));
      if (!p.cells_superseded.empty()) o += "; superseded by a newer profile: " + html_escape(join(p.cells_superseded, ", "));
      o += "</li>\n";
    }
    o += "</ul>\n";
    std::string checks;
    for (const auto& c : sys.cells)
      if (c.check)
        checks += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>\n",
                              html_escape(c.model), html_escape(c.precision), html_escape(mib_text(c.check->budget_bytes)), thousands(c.check->planner_max_batch),
                              thousands(c.check->gpu_max_batch), c.check->agrees ? "m-ok" : "m-bad", c.check->agrees ? "yes" : "no");
    if (!checks.empty())
      o += "<p class=\"small\">Planner against GPU for the profile's budget:</p>\n<table>\n<tr><th>model</th><th>precision</th><th>budget</th>"
           "<th>planner max batch</th><th>GPU max batch</th><th>agree</th></tr>\n" +
           checks + "</table>\n";
  }
  if (!sys.warnings.empty()) {
    o += "<p>Warnings:</p>\n<ul>\n";
    for (const auto& w : sys.warnings) o += "<li>" + html_escape(w) + "</li>\n";
    o += "</ul>\n";
  }
  o += "<h3>Recommendations</h3>\n<ul>\n";
  for (const auto& r : sys.recommendations) o += "<li>" + inline_md(r) + "</li>\n";
  o += "</ul>\n";
  return o;
}

}  // namespace

std::string summary_html(const Summary& s) {
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>GPU constraints summary</title>\n<style>\n"
                  "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:24px;color:#222;max-width:1200px}\n"
                  "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}\n"
                  "th{background:#f0f0f0}td.n{text-align:right;white-space:nowrap}\n"
                  "td.m-ok{background:#dff3df}td.m-warn{background:#fff1cc}td.m-bad{background:#f9dada}td.m-na{background:#eee}\n"
                  "pre{background:#f6f6f6;padding:10px;overflow-x:auto}code{background:#f3f3f3}\n"
                  "svg{display:block;margin:10px 0}.small{color:#555;font-size:90%}\n</style>\n</head>\n<body>\n";
  o += "<h1>GPU constraints summary</h1>\n";
  o += fmt::format("<p class=\"small\">Generated {} by vramfit {} from <code>{}</code>{}.</p>\n", html_escape(s.generated), html_escape(s.vramfit_version),
                   html_escape(s.systems_file), s.command_line.empty() ? "" : " with <code>" + html_escape(s.command_line) + "</code>");
  o += "<p>Every number comes from a profile (<b>profiled</b> on the machine, or <b>emulated</b> with <code>--vram-limit</code> on a "
       "larger GPU) or from vramfit's planner (<b>predicted</b>: memory exact for vramfit's engine, latency a roofline estimate "
       "marked ≈).</p>\n";

  o += "<h2>Systems</h2>\n<table>\n<tr><th>system</th><th>GPU</th><th>VRAM</th><th>compute capability</th><th>primary use</th><th>status</th></tr>\n";
  for (const auto& sys : s.systems)
    o += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html_escape(sys.id), html_escape(sys.gpu.name),
                     html_escape(gib_text(sys.gpu.vram_bytes)), compute_capability_string(sys.gpu.compute_capability), html_escape(sys.primary_use), html_escape(sys.status));
  o += "</table>\n";

  o += "<h2>Fit matrix</h2>\n" + fit_matrix(s);
  o += "<ul class=\"small\">\n";
  for (const auto& [mark, rule] : mark_rules(s.min_batch)) o += fmt::format("<li>{} {}</li>\n", html_escape(to_string(mark)), html_escape(rule));
  o += "</ul>\n";

  o += "<h2>VRAM against batch</h2>\n<p class=\"small\">Process total (weights + activation arena + workspace + CUDA context and "
       "handles): measured points for profiled and emulated cells, the planner's (exactly affine) line for predicted ones. A curve "
       "ends at the system's max batch.</p>\n";
  for (const auto& model : s.models) o += vram_chart(s, model);

  for (const auto& sys : s.systems) o += system_html(sys);

  if (!s.llm_models.empty()) {
    o += "<h2>LLM: decoder models at batch 1</h2>\n<p class=\"small\">The largest context at batch 1 (✓: it ran on the GPU and one "
         "token more did not; \"planned\": the exact plan for the card's budget), VRAM at context 512 (process total) and tokens/s "
         "measured by a profile on that machine, or (marked ≈) the time model's estimate for the system's card.</p>\n<table>\n<tr><th>system</th><th>model</th>"
         "<th>precision</th><th>weights</th><th>KV cache per token</th><th>max context (batch 1)</th><th>VRAM at context 512</th>"
         "<th>prefill tokens/s</th><th>decode tokens/s</th><th>decode tokens/s at max context</th><th>source</th><th>status</th></tr>\n";
    for (const auto& sys : s.systems)
      for (const auto& c : sys.llm_cells) {
        const char* cls = mark_style(c.mark).css;
        const bool planned = c.weights_bytes > 0;
        o += fmt::format("<tr class=\"llm\"><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                         "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                         "<td>{}</td><td class=\"{}\">{} {}</td></tr>\n",
                         html_escape(sys.id), html_escape(c.model), html_escape(c.precision), planned ? html_escape(gib_text(c.weights_bytes)) : "—",
                         planned ? kib_text(c.kv_bytes_per_token) : "—",
                         html_escape(sf::max_context_cell(c)), c.vram_at_context_bytes ? html_escape(mib_text(*c.vram_at_context_bytes)) : "—",
                         sf::rate_cell(c.prefill_tokens_per_s, c.speed_measured), sf::rate_cell(c.decode_tokens_per_s, c.speed_measured),
                         sf::rate_cell(c.decode_tokens_per_s_max_context, c.speed_measured), html_escape(sf::source_cell(c)), cls, html_escape(to_string(c.mark)), html_escape(c.mark_note));
      }
    o += "</table>\n";
  }

  if (!s.smallest_system.empty()) {
    o += fmt::format("<h2>What breaks on the smallest card: {}</h2>\n", html_escape(s.smallest_system));
    for (const char* cat : {"will not work", "works with constraints", "safe", "not applicable"}) {
      std::string items;
      for (const auto& b : s.smallest)
        if (b.category == cat) items += fmt::format("<li><b>{} {}</b>: {}</li>\n", html_escape(b.model), html_escape(b.precision), html_escape(b.text));
      if (!items.empty()) o += fmt::format("<h3>{}</h3>\n<ul>\n{}</ul>\n", html_escape(cat), items);
    }
  }
  if (!s.left_out.empty()) {
    o += "<h2>Left out</h2>\n<ul>\n";
    for (const auto& l : s.left_out) o += "<li>" + html_escape(l) + "</li>\n";
    o += "</ul>\n";
  }
  o += "<h2>How to reproduce</h2>\n";
  for (const auto& r : s.reproduce) {
    o += "<p>" + html_escape(r.comment) + ":</p>\n<pre>";
    for (const auto& c : r.commands) o += html_escape(c) + "\n";
    o += "</pre>\n";
  }
  if (!s.warnings.empty()) {
    o += "<h2>Warnings</h2>\n<ul>\n";
    for (const auto& w : s.warnings) o += "<li>" + html_escape(w) + "</li>\n";
    o += "</ul>\n";
  }
  o += "</body>\n</html>\n";
  return o;
}

}  // namespace vramfit
