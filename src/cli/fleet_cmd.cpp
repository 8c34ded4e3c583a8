// `vramfit fleet --systems FILE [--output DIR] [profile options] [--resume]` — profile every machine of
// the systems file that has a `host`, over OpenSSH, in parallel (fleet/fleet.h), fetch the profiles into
// DIR/<system-id>/, and write the team's summary (DIR/SUMMARY.md, .html, .json, .csv): every fetched
// system profiled, every other one predicted, each failure a line of the summary.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <algorithm>
#include <memory>
#include <mutex>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/error.h"
#include "core/output_set.h"
#include "core/text.h"
#include "fleet/fleet.h"
#include "fleet/slurm.h"
#include "models/registry.h"
#include "predict/calibration.h"
#include "predict/systems.h"
#include "report/profile_reader.h"
#include "report/summary.h"
#include "report/summary_printers.h"

namespace vramfit::cli {

namespace {

struct FleetCliOptions {
  std::string systems, output = "reports", vram_limit, max_batch, timeout;
  std::vector<std::string> models, precisions;
  std::string remote_vramfit;
  int connect_timeout = 10;
  bool quick = false, resume = false, slurm = false, submit = false, sync = false;
};

std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) { g_stop.store(true); }

// One line per host: redrawn in place on a terminal, else printed when a host's phase changes.
class HostLines {
 public:
  explicit HostLines(std::size_t n) : n_(n), tty_(isatty(fileno(stderr)) != 0) {}
  void show(const std::vector<fleet::HostState>& states) {
    std::lock_guard<std::mutex> lock(m_);
    if (tty_) {
      if (drawn_) std::fprintf(stderr, "\033[%zuA", n_);
      for (const auto& s : states) {
        std::string l = fleet::state_line(s);
        for (char& c : l)
          if (static_cast<unsigned char>(c) < 0x20) c = '?';
        if (l.size() > 150) l = l.substr(0, 149) + "…";
        std::fprintf(stderr, "\r\033[2K%s\n", l.c_str());
      }
      drawn_ = true;
    } else {
      if (last_.size() != states.size()) last_.assign(states.size(), fleet::Phase::waiting);
      for (std::size_t i = 0; i < states.size(); ++i)
        if (states[i].phase != last_[i]) {
          std::fprintf(stderr, "vramfit fleet: %s\n", fleet::state_line(states[i]).c_str());
          last_[i] = states[i].phase;
        }
    }
    std::fflush(stderr);
  }

 private:
  std::size_t n_;
  bool tty_, drawn_ = false;
  std::vector<fleet::Phase> last_;
  std::mutex m_;
};

// --slurm: the job array scripts into OUTPUT/slurm/, and with --submit their submission.
int write_slurm(const FleetCliOptions& o, const SystemsFile& systems, const std::vector<std::string>& profile_args) {
  fleet::SlurmOptions so;
  so.output = o.output;
  so.systems_file = o.systems;
  so.profile_args = profile_args;
  std::error_code ec;
  so.vramfit = o.remote_vramfit.empty() ? std::filesystem::read_symlink("/proc/self/exe", ec).string() : o.remote_vramfit;
  const fleet::SlurmPlan plan = fleet::slurm_plan(systems, so);
  OutputSet out(MissingFolders::make);
  out.add_input(o.systems);
  std::vector<std::size_t> ids;
  const std::filesystem::path dir = std::filesystem::path(o.output) / "slurm";
  for (const auto& f : plan.files) ids.push_back(out.add_output((dir / f.name).string(), "--output"));
  out.check();
  for (std::size_t i = 0; i < plan.files.size(); ++i) out.put(ids[i], plan.files[i].text);
  for (const auto& path : out.commit()) {
    std::filesystem::permissions(path, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec, std::filesystem::perm_options::add, ec);
    std::fprintf(stderr, "vramfit: wrote %s\n", path.c_str());
  }
  for (std::size_t g = 0; g < plan.groups.size(); ++g)
    std::fprintf(stderr, "vramfit fleet: profile-%zu.sbatch: a job array over %s\n", g, join(plan.groups[g], ", ").c_str());
  if (!o.submit) {
    std::fprintf(stderr, "vramfit fleet: submit with: sh %s\n", (dir / "submit.sh").c_str());
    return 0;
  }
  const fleet::CommandResult r = fleet::run_command({"sh", (dir / "submit.sh").string()});
  std::fwrite(r.out.data(), 1, r.out.size(), stdout);
  if (r.status != 0)
    throw InvalidInput(fmt::format("submitting the Slurm jobs failed (sh {} exited with status {}): {}", (dir / "submit.sh").string(), r.status,
                                   r.err.empty() ? std::string("no message") : r.err));
  std::fprintf(stderr, "vramfit fleet: submitted; the summary will be %s/SUMMARY.md once the report job has run\n", o.output.c_str());
  return 0;
}

int run_fleet(const FleetCliOptions& o, OutputFormat format) {
  const std::filesystem::path db_path = find_gpu_database("");
  const GpuDatabase db = load_gpu_database(db_path);
  const SystemsFile systems = load_systems(o.systems, db);
  fleet::Options fo;
  fo.output = o.output;
  fo.connect_timeout_s = o.connect_timeout;
  fo.resume = o.resume;
  fo.local_version = std::string("vramfit ") + VRAMFIT_VERSION;
  if (const char* ssh = std::getenv("VRAMFIT_SSH"); ssh && *ssh) fo.ssh = ssh;
  // The remote profile gets what was checked here (an unknown model fails before any ssh).
  if (!o.models.empty()) {
    std::vector<std::string> ids;
    for (const auto& m : list_flag(o.models, "--models")) ids.push_back(find_model(m).id);
    fo.profile_args.insert(fo.profile_args.end(), {"--models", join(ids, ",")});
  }
  if (!o.precisions.empty()) {
    std::vector<std::string> ps;
    for (const auto& p : list_flag(o.precisions, "--precisions")) ps.push_back(std::string(to_string(parse_precision(p))));
    fo.profile_args.insert(fo.profile_args.end(), {"--precisions", join(ps, ",")});
  }
  if (!o.vram_limit.empty()) {
    (void)size_flag(o.vram_limit, "--vram-limit");
    fo.profile_args.insert(fo.profile_args.end(), {"--vram-limit", o.vram_limit});
  }
  if (!o.max_batch.empty()) fo.profile_args.insert(fo.profile_args.end(), {"--max-batch", o.max_batch});
  if (!o.timeout.empty()) fo.profile_args.insert(fo.profile_args.end(), {"--timeout", o.timeout});
  if (o.quick) fo.profile_args.push_back("--quick");

  if (o.slurm) return write_slurm(o, systems, fo.profile_args);
  if (o.sync) {
    // The checkout this binary was built from (build/<preset>/bin/vramfit inside it).
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto [bundle, commit] = fleet::bundle_head(ec ? std::filesystem::current_path() : exe.parent_path());
    std::fprintf(stderr, "vramfit fleet --sync: commit %s (%.1f MiB bundle) to every host's workdir\n", commit.c_str(),
                 static_cast<double>(bundle.size()) / (1 << 20));
    fo.sync_bundle = std::move(bundle);
    fo.sync_commit = commit;
  }
  if (o.submit) throw InvalidInput("--submit goes with --slurm (it submits the generated job array)");
  std::size_t hosts = 0;
  for (const auto& s : systems.systems) hosts += s.remote ? 1 : 0;
  if (hosts == 0)
    throw InvalidInput(fmt::format("{}: no system has a 'host' (the ssh destination `vramfit fleet` profiles); "
                                   "add host = \"user@machine\" and workdir or vramfit to the machines to profile",
                                   systems.path));
  // Every output is checked before anything runs: the summary files must be writable new outputs.
  OutputSet out(MissingFolders::make);
  out.add_input(o.systems);
  const std::filesystem::path dir = o.output;
  const std::size_t md = out.add_output((dir / "SUMMARY.md").string(), "--output");
  const std::size_t html = out.add_output((dir / "SUMMARY.html").string(), "--output");
  const std::size_t json = out.add_output((dir / "SUMMARY.json").string(), "--output");
  const std::size_t csv = out.add_output((dir / "SUMMARY.csv").string(), "--output");
  out.check();

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  HostLines lines(hosts);
  const std::vector<fleet::HostResult> results =
      fleet::run(systems, fo, [&](const std::vector<fleet::HostState>& s) { lines.show(s); }, g_stop);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  SummaryOptions so;
  so.models = {"resnet50", "vit-b16"};
  for (const auto& m : o.models.empty() ? std::vector<std::string>{} : list_flag(o.models, "--models")) {
    const std::string id = find_model(m).id;
    if (std::find(so.models.begin(), so.models.end(), id) == so.models.end()) so.models.push_back(id);
  }
  so.vramfit_version = VRAMFIT_VERSION;
  so.generated = utc_now();
  so.command_line = "vramfit fleet --systems " + o.systems + " --output " + o.output;
  if (const auto shipped = default_calibration_file(db_path.parent_path())) so.shipped = load_calibration(*shipped, db);
  std::vector<ProfileFile> profiles;
  std::size_t ok = 0;
  for (const auto& r : results) {
    if (r.ok && r.profile) {
      try {
        profiles.push_back(read_profile(*r.profile));
        ++ok;
        continue;
      } catch (const InvalidInput& e) {
        so.not_profiled[r.system_id] = std::string("the fetched profile is unreadable here: ") + e.what();
        continue;
      }
    }
    so.not_profiled[r.system_id] = r.reason;
  }
  const Summary summary = build_summary(systems, db, profiles, so);
  out.put(md, summary_markdown(summary));
  out.put(html, summary_html(summary));
  out.put(json, to_json(summary).dump(2) + "\n");
  out.put(csv, summary_csv(summary));
  for (const auto& path : out.commit()) std::fprintf(stderr, "vramfit: wrote %s\n", path.c_str());
  // The summary on stdout too, in -o's format.
  const std::string shown = format == OutputFormat::json ? to_json(summary).dump(2) + "\n"
                            : format == OutputFormat::csv ? summary_csv(summary)
                                                          : summary_markdown(summary);
  std::fwrite(shown.data(), 1, shown.size(), stdout);
  for (const auto& r : results)
    std::fprintf(stderr, "vramfit fleet: %s (%s): %s\n", r.system_id.c_str(), r.host.c_str(),
                 r.ok ? ("profiled: " + r.profile->string()).c_str() : ("not profiled — " + r.reason).c_str());
  std::fprintf(stderr, "vramfit fleet: %zu of %zu hosts profiled; logs in %s/<system-id>/fleet.log\n", ok, hosts, o.output.c_str());
  return g_stop.load() ? 130 : 0;
}

}  // namespace

Runner register_fleet(CLI::App& app) {
  auto o = std::make_shared<FleetCliOptions>();
  auto* sub = app.add_subcommand("fleet",
                                 "Profile every machine of a systems file that has a `host`, over OpenSSH and in parallel "
                                 "(`vramfit profile` there), fetch the profiles into OUTPUT/<system-id>/ and write the summary "
                                 "OUTPUT/SUMMARY.{md,html,json,csv}; a host that fails is a line of the summary");
  sub->add_option("--systems", o->systems, "systems.toml: per machine host (ssh destination), port, identity, ssh_options, "
                                           "and workdir (a checkout there) or vramfit (the binary there)")
      ->required();
  sub->add_option("--output", o->output, "Folder of the fetched profiles and the summary (default reports)");
  sub->add_option("-m,--models", o->models, "Models the remote profiles run (default: profile's own matrix)")->expected(1, -1);
  sub->add_option("-p,--precisions", o->precisions, "Precisions the remote profiles run (default: profile's own)")->expected(1, -1);
  sub->add_option("--vram-limit", o->vram_limit, "Every remote profile emulates a card of this size (e.g. 8GiB)");
  sub->add_option("--max-batch", o->max_batch, "Largest batch the remote profiles search (default 4096)");
  sub->add_option("--timeout", o->timeout, "Seconds per configuration on the remote (default 300)");
  sub->add_flag("--quick", o->quick, "The remote profiles run --quick");
  sub->add_flag("--resume", o->resume, "The remote profiles continue their journals (after a stop or a failure)");
  sub->add_option("--connect-timeout", o->connect_timeout, "ssh ConnectTimeout in seconds (default 10)")->check(CLI::Range(1, 600));
  sub->add_flag("--sync", o->sync,
                "First put this checkout's commit (HEAD, as a git bundle over ssh) into each host's workdir and build it "
                "there (scripts/main's build step; its output in the host's fleet.log)");
  sub->add_flag("--slurm", o->slurm,
                "Instead of ssh: write Slurm job arrays (OUTPUT/slurm/: one task per system with partition, gres or constraint "
                "in the systems file) and a report job that runs after them");
  sub->add_flag("--submit", o->submit, "With --slurm: submit them (sbatch) now");
  sub->add_option("--remote-vramfit", o->remote_vramfit, "With --slurm: the vramfit binary the nodes run (default: this one's absolute path)");
  auto format = add_format_option(*sub, false);
  return [o, format]() { return run_fleet(*o, format()); };
}

}  // namespace vramfit::cli
