#include "predict/systems.h"

#include <algorithm>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/input_file.h"
#include "predict/gpu_spec_toml.h"

namespace vramfit {

const SystemSpec& SystemsFile::find(std::string_view id) const {
  for (const auto& s : systems)
    if (s.id == id) return s;
  std::string ids;
  for (const auto& s : systems) ids += (ids.empty() ? "" : ", ") + s.id;
  throw InvalidInput(fmt::format("unknown system '{}' in {}; systems: {}", id, path, ids));
}

namespace {

std::string string_field(const toml::table& t, std::string_view field, const std::string& where, bool required) {
  const toml::node* n = t.get(field);
  if (!n) {
    if (required) throw InvalidInput(fmt::format("{}: missing field '{}' (expected a string)", where, field));
    return {};
  }
  if (!n->is_string() || n->value<std::string>().value_or("").empty())
    throw InvalidInput(fmt::format("{}: field '{}' must be a non-empty string", where, field));
  return n->value<std::string>().value_or("");
}

// The ssh fields, all optional; without `host` none of the others may appear. Values are checked for
// what ssh itself would misread: a destination or option starting with '-' would be taken as a flag.
std::optional<SshRemote> remote_of(const toml::table& t, const std::string& w) {
  static const char* const needs_host[] = {"port", "identity", "ssh_options", "workdir", "vramfit"};
  if (!t.get("host")) {
    for (const char* f : needs_host)
      if (t.get(f)) throw InvalidInput(fmt::format("{}: field '{}' needs 'host' (the ssh destination of this machine)", w, f));
    return std::nullopt;
  }
  SshRemote r;
  auto plain = [&](const std::string& v, const char* field) {
    if (v.front() == '-' || v.find_first_of("\n\r") != std::string::npos)
      throw InvalidInput(fmt::format("{}: field '{}': '{}' must not start with '-' or hold a line break", w, field, v));
    return v;
  };
  r.host = plain(string_field(t, "host", w, true), "host");
  if (const toml::node* p = t.get("port")) {
    if (!p->is_integer() || p->value<std::int64_t>().value_or(0) < 1 || p->value<std::int64_t>().value_or(0) > 65535)
      throw InvalidInput(fmt::format("{}: field 'port' must be an integer 1–65535", w));
    r.port = static_cast<int>(p->value<std::int64_t>().value_or(22));
  }
  if (t.get("identity")) r.identity = plain(string_field(t, "identity", w, true), "identity");
  if (const toml::node* o = t.get("ssh_options")) {
    const toml::array* a = o->as_array();
    if (!a) throw InvalidInput(fmt::format("{}: field 'ssh_options' must be an array of strings like \"ProxyJump=gw\"", w));
    for (const auto& e : *a) {
      if (!e.is_string() || e.value<std::string>().value_or("").find('=') == std::string::npos)
        throw InvalidInput(fmt::format("{}: field 'ssh_options': every entry must be a string Key=Value (ssh -o)", w));
      r.options.push_back(plain(e.value<std::string>().value_or(""), "ssh_options"));
    }
  }
  if (t.get("workdir") && t.get("vramfit"))
    throw InvalidInput(fmt::format("{}: give either 'workdir' (a checkout there) or 'vramfit' (the binary there), not both", w));
  if (t.get("workdir")) r.workdir = plain(string_field(t, "workdir", w, true), "workdir");
  if (t.get("vramfit")) r.vramfit = plain(string_field(t, "vramfit", w, true), "vramfit");
  return r;
}

}  // namespace

SystemsFile load_systems(const std::filesystem::path& file, const GpuDatabase& db) {
  SystemsFile out;
  out.path = file.string();
  const std::string text = read_input_file(out.path, "systems file (TOML with [[system]] tables)");
  toml::table root;
  try {
    root = toml::parse(text, out.path);
  } catch (const toml::parse_error& e) {
    throw InvalidInput(fmt::format("{}:{}:{}: not valid TOML: {}", out.path, e.source().begin.line, e.source().begin.column,
                                   e.description()));
  }
  for (const auto& [key, unused] : root)
    if (key.str() != "system")
      throw InvalidInput(fmt::format("{}: unknown top-level key '{}' (expected [[system]] tables)", out.path, key.str()));
  const toml::array* systems = root["system"].as_array();
  if (!systems || systems->empty())
    throw InvalidInput(fmt::format("{}: expected [[system]] tables (an array of tables named 'system'), found none", out.path));
  static const std::vector<std::string_view> fields{"id",       "gpu",  "gpu_spec",    "vram",    "primary_use", "profile",
                                                    "host",     "port", "identity",    "ssh_options", "workdir", "vramfit",
                                                    "partition", "gres", "constraint"};
  for (const auto& n : *systems) {
    const toml::table* t = n.as_table();
    const std::string at = detail::toml_where(out.path, n.source());
    if (!t) throw InvalidInput(fmt::format("{}: 'system' must be an array of tables ([[system]])", at));
    SystemSpec s;
    s.id = string_field(*t, "id", at + ": system", true);
    const std::string w = fmt::format("{}: system '{}'", at, s.id);
    if (std::any_of(out.systems.begin(), out.systems.end(), [&](const SystemSpec& o) { return o.id == s.id; }))
      throw InvalidInput(fmt::format("{}: duplicate id '{}'", w, s.id));
    for (const auto& [key, unused] : *t)
      if (std::find(fields.begin(), fields.end(), key.str()) == fields.end())
        throw InvalidInput(fmt::format("{}: unknown field '{}' (fields: id, gpu, gpu_spec, vram, primary_use, profile, host, port, "
                                       "identity, ssh_options, workdir, vramfit, partition, gres, constraint)",
                                       w, key.str()));
    const toml::node* gpu = t->get("gpu");
    const toml::node* inline_spec = t->get("gpu_spec");
    if (gpu && inline_spec)
      throw InvalidInput(fmt::format("{}: give either 'gpu' (a database name) or [system.gpu_spec], not both", w));
    if (gpu) {
      const std::string name = string_field(*t, "gpu", w, true);
      const GpuSpec* g = db.try_find(name);
      if (!g) {
        std::string near;
        for (const auto& c : db.closest(name)) near += (near.empty() ? "" : ", ") + ("'" + c + "'");
        throw InvalidInput(fmt::format("{}: field 'gpu': unknown GPU '{}' (not in {}); closest: {}", w, name, db.path, near));
      }
      s.gpu = *g;
    } else if (inline_spec) {
      const toml::table* st = inline_spec->as_table();
      if (!st) throw InvalidInput(fmt::format("{}: field 'gpu_spec' must be a table ([system.gpu_spec])", w));
      s.gpu = detail::gpu_spec_from_table(*st, w + ": gpu_spec");
      s.gpu_from_database = false;
    } else {
      throw InvalidInput(fmt::format("{}: missing field 'gpu' (a name from {}) or an inline [system.gpu_spec] table", w, db.path));
    }
    if (const toml::node* v = t->get("vram")) {
      std::uint64_t bytes = 0;
      if (v->is_integer() && v->value<std::int64_t>().value_or(0) > 0) {
        bytes = static_cast<std::uint64_t>(v->value<std::int64_t>().value_or(0));
      } else if (v->is_string()) {
        try {
          bytes = parse_bytes(v->value<std::string>().value_or(""));
        } catch (const InvalidInput& e) {
          throw InvalidInput(fmt::format("{}: field 'vram': {}", w, e.what()));
        }
      }
      if (bytes == 0 || bytes > limits::kMaxBytes)
        throw InvalidInput(fmt::format("{}: field 'vram' must be a positive size up to 1 EiB, like \"12GiB\" or bytes", w));
      s.gpu.vram_bytes = bytes;
      s.vram_overridden = true;
    }
    s.primary_use = string_field(*t, "primary_use", w, true);
    if (t->get("profile")) {
      std::filesystem::path p = string_field(*t, "profile", w, true);
      s.profile = p.is_absolute() ? p : file.parent_path() / p;
    }
    s.remote = remote_of(*t, w);
    SlurmTarget slurm;
    auto slurm_field = [&](const char* f, std::optional<std::string>& into) {
      if (!t->get(f)) return;
      const std::string v = string_field(*t, f, w, true);
      // sbatch options go into a script line: nothing that would end it or start another option.
      if (v.front() == '-' || v.find_first_of(" \t\n\r'\"\\$`;") != std::string::npos)
        throw InvalidInput(fmt::format("{}: field '{}': '{}' must be one word without quotes, '$', '`' or ';'", w, f, v));
      into = v;
    };
    slurm_field("partition", slurm.partition);
    slurm_field("gres", slurm.gres);
    slurm_field("constraint", slurm.constraint);
    if (slurm.partition || slurm.gres || slurm.constraint) s.slurm = slurm;
    out.systems.push_back(std::move(s));
  }
  return out;
}

}  // namespace vramfit
