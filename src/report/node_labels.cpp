#include "report/node_labels.h"

#include <cctype>
#include <cmath>
#include <fmt/format.h>

namespace vramfit {

namespace {

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [A-Za-z0-9] at both ends, [-_.A-Za-z0-9] between, 1–63 characters.
bool valid_part(const std::string& s) {
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// RFC 1123 subdomain: ≤ 253 characters, dot-separated labels of [a-z0-9-] with alphanumeric ends.
bool valid_dns_subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string label = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || !alnum(label.front()) || !alnum(label.back())) return false;
    for (char c : label)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

bool valid_label_name(const std::string& name) {
  const std::size_t slash = name.find('/');
  if (slash == std::string::npos) return valid_part(name);
  if (name.find('/', slash + 1) != std::string::npos) return false;
  return valid_dns_subdomain(name.substr(0, slash)) && valid_part(name.substr(slash + 1));
}

bool valid_label_value(const std::string& value) { return value.empty() || valid_part(value); }

std::string label_token(const std::string& text, std::size_t max) {
  std::string o;
  for (char c : text) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool keep = alnum(l) || l == '.';
    if (keep) o += l;
    else if (!o.empty() && o.back() != '-') o += '-';
  }
  if (o.size() > max) o.resize(max);
  while (!o.empty() && !alnum(o.back())) o.pop_back();
  std::size_t lead = 0;
  while (lead < o.size() && !alnum(o[lead])) ++lead;
  return o.substr(lead);
}

NodeLabels node_labels(const ProfileFile& p) {
  NodeLabels out;
  auto add = [&](const std::string& what, const std::string& value) {
    const std::string name = kNodeLabelPrefix + ("vramfit-" + what);
    if (!valid_label_name(name) || !valid_label_value(value)) {
      out.skipped.push_back(fmt::format("{}={}: not a valid Kubernetes label", name, value));
      return;
    }
    out.labels.emplace_back(name, value);
  };
  add("gpu", label_token(p.device_name));
  if (!p.compute_capability.empty()) add("compute-capability", label_token(p.compute_capability));
  if (p.context_bytes) add("context-mib", std::to_string((p.context_bytes + (1u << 20) - 1) >> 20));
  if (p.vram_limit) add("emulated-vram", label_token(*p.vram_limit));
  add("profile-date", label_token(p.date.substr(0, 10)));
  for (const auto& c : p.cells) {
    const std::string row = label_token(c.model, 30) + "-" + label_token(c.precision_id, 10);
    add(row + "-max-batch", std::to_string(c.status == Outcome::ok ? c.max_batch : 0));
  }
  for (const auto& c : p.llm_cells) {
    const std::string row = label_token(c.model, 30) + "-" + label_token(c.precision_id, 10);
    add(row + "-max-context", std::to_string(c.status == Outcome::ok ? c.max_context : 0));
    if (c.decode_tokens_per_s && *c.decode_tokens_per_s > 0)
      add(row + "-decode-tps", std::to_string(static_cast<long long>(std::lround(*c.decode_tokens_per_s))));
  }
  return out;
}

std::string node_labels_text(const NodeLabels& l, const std::string& source) {
  std::string o = fmt::format("# vramfit labels from {} (Node Feature Discovery features file: one name=value per line)\n", source);
  for (const auto& s : l.skipped) o += "# skipped: " + s + "\n";
  for (const auto& [name, value] : l.labels) o += name + "=" + value + "\n";
  return o;
}

}  // namespace vramfit
