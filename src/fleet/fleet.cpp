#include "fleet/fleet.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <mutex>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "core/text_escape.h"

extern char** environ;

namespace vramfit::fleet {

std::vector<std::string> ssh_argv(const SshRemote& r, const Options& o, const std::string& control_path) {
  std::vector<std::string> a{o.ssh,
                             "-o", "BatchMode=yes",
                             "-o", fmt::format("ConnectTimeout={}", o.connect_timeout_s),
                             "-o", "ServerAliveInterval=15",
                             "-o", "ControlMaster=auto",
                             "-o", "ControlPath=" + control_path,
                             "-o", "ControlPersist=60"};
  if (r.port) a.insert(a.end(), {"-p", std::to_string(*r.port)});
  if (r.identity) a.insert(a.end(), {"-i", *r.identity, "-o", "IdentitiesOnly=yes"});
  for (const auto& opt : r.options) a.insert(a.end(), {"-o", opt});
  a.insert(a.end(), {"--", r.host});
  return a;
}

std::string locate_script(const SshRemote& r) {
  std::string s = "V=; ";
  if (r.workdir) {
    s += fmt::format("cd {0} 2>/dev/null || {{ echo \"vramfit fleet: no folder {0} there (workdir)\" >&2; exit 127; }}; ", shell_quote_always(*r.workdir));
    s += "for b in build/*/bin/vramfit; do [ -x \"$b\" ] && { V=$PWD/$b; break; }; done; "
         "[ -n \"$V\" ] || { echo \"vramfit fleet: no build/*/bin/vramfit in $PWD (build it there: scripts/main)\" >&2; exit 127; }; ";
  } else if (r.vramfit) {
    s += fmt::format("V={0}; [ -x \"$V\" ] || {{ echo \"vramfit fleet: no executable {0} there\" >&2; exit 127; }}; cd \"$HOME\"; ", shell_quote_always(*r.vramfit));
  } else {
    s += "V=$(command -v vramfit) || { echo \"vramfit fleet: no vramfit on the PATH there (give workdir or vramfit in the systems file)\" >&2; exit 127; }; cd \"$HOME\"; ";
  }
  return s;
}

std::string sync_script(const SshRemote& r) {
  const std::string wd = shell_quote_always(r.workdir.value_or(""));
  return fmt::format(
      "command -v git > /dev/null || {{ echo \"vramfit fleet --sync: no git there\" >&2; exit 127; }}; "
      "mkdir -p {0} && cd {0} || {{ echo \"vramfit fleet --sync: cannot make the workdir {0}\" >&2; exit 127; }}; "
      "[ -d .git ] || git init -q . || exit 3; "
      "cat > .vramfit-sync.bundle && git fetch -q .vramfit-sync.bundle HEAD && git checkout -q --detach FETCH_HEAD && "
      "rm -f .vramfit-sync.bundle && echo \"vramfit fleet --sync: checked out $(git rev-parse --short HEAD); building\" >&2 && "
      "VRAMFIT_BUILD_ONLY=1 scripts/main >&2",
      wd);
}

std::string profile_script(const SshRemote& r, const std::string& system_id, const std::vector<std::string>& args) {
  std::string cmd = "VRAMFIT_PROGRESS=lines \"$V\" profile";
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote_always(a);
  }
  cmd += fmt::format(" --system-id {} --output {}", shell_quote_always(system_id), shell_quote_always(".vramfit-fleet/" + system_id));
  // The watchdog reads the ssh channel's stdin (fd 3: a background job's own stdin is /dev/null): at
  // its end — this side closed or died — the profile gets SIGTERM (a background job ignores SIGINT)
  // and stops; its journal keeps every finished configuration.
  return fmt::format("{}exec 3<&0; {} > /dev/null & p=$!; ( while read -r _ <&3; do :; done; kill -TERM $p 2>/dev/null ) & w=$!; "
                     "wait $p; rc=$?; kill $w 2>/dev/null; exit $rc",
                     locate_script(r), cmd);
}

std::string state_line(const HostState& s) {
  static const char* const names[] = {"waiting", "connecting", "syncing", "profiling", "fetching", "done", "failed"};
  return fmt::format("{} ({}): {}{}", s.system_id, s.host, names[static_cast<int>(s.phase)], s.detail.empty() ? "" : " " + s.detail);
}

namespace {

struct Call {
  int status = -1;  // exit status, 128 + signal when killed
  std::string out, err;
};

// Runs argv with pipes on stdin, stdout and stderr; every stderr line goes to on_err as it comes. stdin
// carries `input` when given (then closes), else stays open until the child ends or `stop`. Throws
// IoError when the program cannot be started.
Call spawn(const std::vector<std::string>& argv, const std::function<void(const std::string&)>& on_err, const std::atomic<bool>& stop,
           const std::string* input = nullptr) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw IoError(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    throw IoError(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  }
  Call c;
  std::string line;
  bool out_open = true, err_open = true, stopped = false;
  std::size_t written = 0;
  if (input) ::fcntl(in[1], F_SETFL, ::fcntl(in[1], F_GETFL) | O_NONBLOCK);
  std::signal(SIGPIPE, SIG_IGN);  // a child that stops reading is an error of the write, not a signal
  while (out_open || err_open) {
    const bool feeding = input && in[1] >= 0;
    pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}, {feeding ? in[1] : -1, POLLOUT, 0}};  // -1: ignored
    const int n = ::poll(fds, 3, 200);
    if (feeding && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t k = written < input->size() ? ::write(in[1], input->data() + written, input->size() - written) : 0;
      if (k > 0) written += static_cast<std::size_t>(k);
      if (written >= input->size() || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
    if (stop.load() && !stopped) {
      stopped = true;
      if (in[1] >= 0) ::close(in[1]);  // the remote watchdog sees the end of its stdin
      in[1] = -1;
      ::kill(pid, SIGTERM);
    }
    if (n <= 0) continue;
    char buf[65536];
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t k = ::read(out[0], buf, sizeof buf);
      if (k > 0) c.out.append(buf, static_cast<std::size_t>(k));
      else if (k == 0 || errno != EINTR) out_open = false;
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t k = ::read(err[0], buf, sizeof buf);
      if (k > 0) {
        for (ssize_t i = 0; i < k; ++i) {
          if (buf[i] == '\n') {
            c.err += line + "\n";
            on_err(line);
            line.clear();
          } else {
            line += buf[i];
          }
        }
      } else if (k == 0 || errno != EINTR) {
        err_open = false;
      }
    }
  }
  if (!line.empty()) c.err += line, on_err(line);
  if (in[1] >= 0) ::close(in[1]);
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return c;
}

// The last non-empty line of a call's stderr, without vramfit's own prefix: what went wrong there.
std::string last_line(const std::string& err) {
  std::string last;
  std::size_t start = 0;
  while (start < err.size()) {
    const std::size_t end = err.find('\n', start);
    std::string l = err.substr(start, end == std::string::npos ? std::string::npos : end - start);
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();  // ssh ends its lines with \r\n
    if (!l.empty() && l.rfind("vramfit-progress: ", 0) != 0) last = l;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return last.empty() ? "no message" : last;
}

// Why a call failed, in the words the summary prints.
std::string failure(const Call& c, const std::string& step) {
  if (c.status == 255) {
    const std::string l = last_line(c.err);
    return l.rfind("ssh:", 0) == 0 ? l : "ssh: " + l;
  }
  if (c.status == 127) return last_line(c.err);
  return fmt::format("{} exited with status {}: {}", step, c.status, last_line(c.err));
}

class Host {
 public:
  Host(const SystemSpec& s, const Options& o, std::size_t index, std::vector<HostState>& states, std::mutex& m,
       const std::function<void(const std::vector<HostState>&)>& on_change, const std::atomic<bool>& stop,
       const std::string& control_dir)
      : s_(s), r_(*s.remote), o_(o), index_(index), states_(states), m_(m), on_change_(on_change), stop_(stop),
        control_(control_dir + "/" + std::to_string(index)) {}

  HostResult run() {
    HostResult res{s_.id, r_.host, false, {}, std::nullopt, o_.output / s_.id / "fleet.log"};
    std::filesystem::create_directories(o_.output / s_.id);
    log_.open(res.log, std::ios::app);
    log_ << "== vramfit fleet, system " << s_.id << ", host " << r_.host << "\n";
    try {
      if (o_.sync_bundle) {
        if (!r_.workdir) return fail(res, "--sync needs a workdir (a checkout there) in the systems file, not a vramfit path");
        set(Phase::syncing, "commit " + o_.sync_commit);
        const Call sy = call(sync_script(r_), "--sync: fetch, check out and build " + o_.sync_commit, /*own_connection=*/true, &*o_.sync_bundle);
        if (sy.status != 0) return fail(res, "--sync: " + failure(sy, "the build there"));
      }
      set(Phase::connecting, "");
      const Call v = call(locate_script(r_) + "\"$V\" --version", "locating vramfit");
      if (v.status != 0) return fail(res, failure(v, "vramfit --version"));
      const std::string remote_version = v.out.substr(0, v.out.find('\n'));
      if (remote_version != o_.local_version)
        return fail(res, fmt::format("another vramfit there ({}; here {}): update it (git pull and scripts/main there)",
                                     remote_version.empty() ? "no version" : remote_version, o_.local_version));
      set(Phase::profiling, "");
      std::vector<std::string> args = o_.profile_args;
      if (o_.resume) args.push_back("--resume");
      const Call p = call(profile_script(r_, s_.id, args), "vramfit profile", /*own_connection=*/true);
      if (stop_.load()) return fail(res, "stopped (Ctrl-C): the remote profile was interrupted; --resume continues it");
      if (p.status != 0) return fail(res, failure(p, "vramfit profile"));
      set(Phase::fetching, "");
      for (const char* f : {"profile.json", "journal.jsonl", "constraints.md", "report.html"}) {
        const Call g = call(locate_script(r_) + "cat " + shell_quote_always(".vramfit-fleet/" + s_.id + "/" + f), std::string("fetching ") + f);
        if (g.status != 0) {
          if (std::string(f) == "profile.json") return fail(res, failure(g, "fetching profile.json"));
          continue;
        }
        std::ofstream(o_.output / s_.id / f, std::ios::binary) << g.out;
      }
      res.ok = true;
      res.profile = o_.output / s_.id / "profile.json";
      set(Phase::done, "profile in " + (o_.output / s_.id).string());
    } catch (const std::exception& e) {
      return fail(res, e.what());
    }
    return res;
  }

 private:
  // own_connection: not through the shared connection. A multiplexed session outlives its client (the
  // master holds the client's stdin and stdout), so killing the client on Ctrl-C would neither end
  // the remote command nor close the pipes here; the long profile call therefore has its own
  // connection, whose end the remote shell sees as the end of its stdin.
  Call call(const std::string& script, const std::string& what, bool own_connection = false, const std::string* input = nullptr) {
    std::vector<std::string> argv = ssh_argv(r_, o_, own_connection ? "none" : control_);
    argv.push_back(script);
    log_ << "-- " << what << "\n";
    log_.flush();
    Call c = spawn(
        argv,
        [&](const std::string& l) {
          log_ << l << "\n";
          if (l.rfind("vramfit-progress: ", 0) == 0) set(Phase::profiling, l.substr(18));
        },
        stop_, input);
    log_ << "-- exit " << c.status << "\n";
    return c;
  }
  void set(Phase p, const std::string& detail) {
    std::lock_guard<std::mutex> lock(m_);
    states_[index_].phase = p;
    states_[index_].detail = detail;
    if (on_change_) on_change_(states_);
  }
  HostResult fail(HostResult& r, const std::string& why) {
    r.ok = false;
    r.reason = why;
    log_ << "failed: " << why << "\n";
    set(Phase::failed, why);
    return r;
  }

  const SystemSpec& s_;
  const SshRemote& r_;
  const Options& o_;
  std::size_t index_;
  std::vector<HostState>& states_;
  std::mutex& m_;
  const std::function<void(const std::vector<HostState>&)>& on_change_;
  const std::atomic<bool>& stop_;
  std::string control_;
  std::ofstream log_;
};

}  // namespace

std::pair<std::string, std::string> bundle_head(const std::filesystem::path& repo) {
  std::atomic<bool> no{false};
  const Call top = spawn({"git", "-C", repo.string(), "rev-parse", "--show-toplevel"}, [](const std::string&) {}, no);
  if (top.status != 0) throw InvalidInput(fmt::format("--sync: {} is not in a git checkout (git: {})", repo.string(), last_line(top.err)));
  const std::string root = top.out.substr(0, top.out.find('\n'));
  const Call hash = spawn({"git", "-C", root, "rev-parse", "--short", "HEAD"}, [](const std::string&) {}, no);
  char tmpl[] = "/tmp/vramfit-sync-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw IoError(std::string("mkstemp: ") + std::strerror(errno));
  ::close(fd);
  const Call b = spawn({"git", "-C", root, "bundle", "create", "-q", tmpl, "HEAD"}, [](const std::string&) {}, no);
  std::string bytes;
  if (b.status == 0) {
    std::ifstream in(tmpl, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ::unlink(tmpl);
  if (b.status != 0 || bytes.empty()) throw InvalidInput(fmt::format("--sync: git bundle of {} failed: {}", root, last_line(b.err)));
  return {bytes, hash.out.substr(0, hash.out.find('\n'))};
}

CommandResult run_command(const std::vector<std::string>& argv) {
  std::atomic<bool> no{false};
  const Call c = spawn(argv, [](const std::string&) {}, no);
  return {c.status, c.out, c.err};
}

std::vector<HostResult> run(const SystemsFile& systems, const Options& o, const std::function<void(const std::vector<HostState>&)>& on_change,
                            const std::atomic<bool>& stop) {
  std::vector<const SystemSpec*> remote;
  for (const auto& s : systems.systems)
    if (s.remote) remote.push_back(&s);
  // The control sockets live in a private folder (ssh refuses a socket path others could replace).
  char tmpl[] = "/tmp/vramfit-fleet-XXXXXX";
  if (!::mkdtemp(tmpl)) throw IoError(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string control_dir = tmpl;
  std::vector<HostState> states;
  for (const auto* s : remote) states.push_back({s->id, s->remote->host, Phase::waiting, ""});
  std::mutex m;
  std::vector<HostResult> results(remote.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < remote.size(); ++i)
    threads.emplace_back([&, i] {
      Host h(*remote[i], o, i, states, m, on_change, stop, control_dir);
      results[i] = h.run();
    });
  for (auto& t : threads) t.join();
  // Close the multiplexed connections (ControlPersist would keep them 60 s) and the folder.
  for (std::size_t i = 0; i < remote.size(); ++i) {
    std::vector<std::string> argv = ssh_argv(*remote[i]->remote, o, control_dir + "/" + std::to_string(i));
    argv.insert(argv.end() - 2, {"-O", "exit"});
    std::atomic<bool> no{false};
    try {
      (void)spawn(argv, [](const std::string&) {}, no);
    } catch (const IoError&) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(control_dir, ec);
  return results;
}

}  // namespace vramfit::fleet
