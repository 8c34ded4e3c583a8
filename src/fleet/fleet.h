// fleet/fleet.h — `vramfit fleet`: profile every machine of a systems file over OpenSSH, in parallel
// across hosts, through the user's own ssh client (no agent of ours runs anywhere).
//
// Per system with a `host` (predict/systems.h), one thread:
//   1. locate:  ssh … host '<find vramfit> && vramfit --version' — the remote binary (the `vramfit`
//               path, else the workdir's build/*/bin/vramfit, else `vramfit` on PATH) and its version,
//               which must equal ours (an older vramfit writes profiles this one may misread);
//   2. profile: ssh … host '<vramfit> profile … --system-id ID --output .vramfit-fleet/ID' with
//               VRAMFIT_PROGRESS=lines, whose progress lines become the host's live line here; the
//               remote shell watches its stdin, so when this side stops (Ctrl-C, a crash) ssh closes it
//               and the remote profile gets SIGTERM (its journal keeps every finished configuration for --resume);
//   3. fetch:   ssh … host 'cat …/profile.json' (and journal.jsonl, constraints.md, report.html) into
//               OUTPUT/ID/.
// ssh runs with BatchMode=yes (never a password prompt), ConnectTimeout, and one multiplexed
// connection per host (ControlMaster=auto, ControlPersist=60, a socket under a private temporary folder)
// for the short calls; the profile itself has a connection of its own, so that closing it stops it.
// Whatever fails — unreachable, key refused, no vramfit, another version, no GPU, a remote that dies —
// is that host's result with the reason; the other hosts go on.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "predict/systems.h"

namespace vramfit::fleet {

struct Options {
  std::vector<std::string> profile_args;  // given to the remote `vramfit profile` as they are (validated here first)
  std::filesystem::path output = "reports";  // OUTPUT/<system-id>/ receives the profile
  int connect_timeout_s = 10;
  bool resume = false;                // the remote profile continues its journal
  std::string local_version;          // "vramfit 0.1.0": what the remote --version must print
  std::string ssh = "ssh";            // the client (VRAMFIT_SSH overrides it, e.g. for a wrapper)
  // --sync: a git bundle of the local commit (HEAD), fetched and checked out in each host's workdir,
  // which is then built there (VRAMFIT_BUILD_ONLY=1 scripts/main; its output in the host's log).
  std::optional<std::string> sync_bundle;
  std::string sync_commit;  // its short hash, for the messages
};

enum class Phase { waiting, connecting, syncing, profiling, fetching, done, failed };

struct HostState {
  std::string system_id, host;
  Phase phase = Phase::waiting;
  std::string detail;  // the remote's last progress line, or why it failed
};

struct HostResult {
  std::string system_id, host;
  bool ok = false;
  std::string reason;                           // when !ok: "ssh: connect to host … Connection refused"
  std::optional<std::filesystem::path> profile;  // OUTPUT/ID/profile.json when ok
  std::filesystem::path log;                    // OUTPUT/ID/fleet.log: every ssh call and its stderr
};

// The argv of one ssh call (without the remote command): BatchMode, ConnectTimeout, the control
// socket, -p, -i, -o per option, then "--" and the destination.
std::vector<std::string> ssh_argv(const SshRemote& r, const Options& o, const std::string& control_path);
// The remote shell text that sets $V to the remote vramfit (or exits 127 saying where it looked) and
// leaves the shell in the folder that holds .vramfit-fleet/ (the workdir, else $HOME).
std::string locate_script(const SshRemote& r);
// The remote shell text of --sync: the bundle from stdin into the workdir's git, checked out, built.
std::string sync_script(const SshRemote& r);
// A git bundle of HEAD of the checkout at `repo` (its bytes) and HEAD's short hash. InvalidInput when
// `repo` is not in a git checkout.
std::pair<std::string, std::string> bundle_head(const std::filesystem::path& repo);
// The remote shell text of step 2 (the profile under a stdin watchdog).
std::string profile_script(const SshRemote& r, const std::string& system_id, const std::vector<std::string>& args);
// "desk: profiling [12/110 1:03] resnet50 fp16 …" — one host's line.
std::string state_line(const HostState& s);

// Runs a local program (sbatch, sh submit.sh): its exit status, stdout and stderr. IoError when it
// cannot be started.
struct CommandResult {
  int status = -1;
  std::string out, err;
};
CommandResult run_command(const std::vector<std::string>& argv);

// Runs every system with a remote, in parallel; `on_change` is called (under a lock, from the host
// threads) whenever a host's state changes. `stop` set → every ssh is closed (the remotes stop) and
// the hosts not done are failed with "stopped". Systems without `host` are not touched.
std::vector<HostResult> run(const SystemsFile& systems, const Options& o,
                            const std::function<void(const std::vector<HostState>&)>& on_change,
                            const std::atomic<bool>& stop);

}  // namespace vramfit::fleet
