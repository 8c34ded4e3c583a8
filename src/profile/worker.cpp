// profile/worker.cpp — spawn a worker, supervise it (poll + timeout + SIGKILL), classify its end.
#include "profile/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <istream>
#include <optional>
#include <fmt/format.h>
#include <thread>

#include "core/error.h"
#include "core/fault.h"
#include "core/outcome.h"

extern char** environ;

namespace vramfit::profile {

namespace detail {

// An owned file descriptor (outside the anonymous namespace: WorkerProcess::Impl holds three).
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace detail

using detail::Fd;

namespace {

constexpr std::size_t kStdoutCap = 64u << 20;   // a result is a few KiB; more is a broken worker
constexpr std::size_t kStderrTail = 4096;

struct SpawnActions {
  posix_spawn_file_actions_t a;
  SpawnActions() { posix_spawn_file_actions_init(&a); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&a); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

std::string signal_name(int sig) {
  const char* d = strsignal(sig);
  return d ? std::string(d) : std::string("unknown");
}

std::string trim_tail(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return t;
}

nlohmann::json error_result(const std::string& reason) { return {{"status", "error"}, {"reason", reason}}; }

}  // namespace

std::string self_executable() {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) throw IoError(fmt::format("cannot read /proc/self/exe: {}", std::strerror(errno)));
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

struct WorkerProcess::Impl {
  WorkerCommand cmd;
  pid_t pid = -1;
  Fd in;            // the child's stdin (a socket: writing to a dead child is EPIPE, never SIGPIPE)
  Fd out, err;      // its stdout and stderr
  std::string out_buf;     // stdout read but not yet a whole line
  std::string stderr_text; // the tail of its stderr since the configuration began
  std::string noise;       // the last stdout line that was not an answer
  int started = 0;

  void spawn();
  // Reads what the child wrote until `deadline`: returns the answer line, or nullopt when the child
  // closed stdout (ended) or the deadline passed (*timed_out).
  std::optional<nlohmann::json> read_answer(std::chrono::steady_clock::time_point deadline, bool* timed_out, bool* overflow);
  // The line as an answer (a JSON object with "status"), or nullopt after keeping it as noise.
  std::optional<nlohmann::json> as_answer(const std::string& line);
  // Waits for the child to end until `deadline`, SIGKILL after it; fills exit_code/signal.
  void reap(std::chrono::steady_clock::time_point deadline, WorkerOutcome& o);
  void drain_stderr();
};

void WorkerProcess::Impl::spawn() {
  int sv[2], so[2], se[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw IoError(fmt::format("socketpair: {}", std::strerror(errno)));
  Fd in_parent(sv[0]), in_child(sv[1]);
  if (::pipe2(so, O_CLOEXEC) != 0) throw IoError(fmt::format("pipe: {}", std::strerror(errno)));
  Fd out_read(so[0]), out_write(so[1]);
  if (::pipe2(se, O_CLOEXEC) != 0) throw IoError(fmt::format("pipe: {}", std::strerror(errno)));
  Fd err_read(se[0]), err_write(se[1]);

  SpawnActions fa;
  posix_spawn_file_actions_adddup2(&fa.a, in_child.fd, 0);
  posix_spawn_file_actions_adddup2(&fa.a, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&fa.a, err_write.fd, 2);
  std::vector<std::string> argv_s{cmd.program};
  argv_s.insert(argv_s.end(), cmd.args.begin(), cmd.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t p = 0;
  if (const int rc = ::posix_spawn(&p, cmd.program.c_str(), &fa.a, nullptr, argv.data(), environ); rc != 0)
    throw IoError(fmt::format("cannot start worker {}: {}", cmd.program, std::strerror(rc)));
  pid = p;
  ++started;
  std::swap(in.fd, in_parent.fd);
  std::swap(out.fd, out_read.fd);
  std::swap(err.fd, err_read.fd);
  out_buf.clear();
  noise.clear();
}

std::optional<nlohmann::json> WorkerProcess::Impl::as_answer(const std::string& line) {
  try {
    auto j = nlohmann::json::parse(line);
    if (j.is_object() && j.contains("status")) return j;
  } catch (const nlohmann::json::exception&) {
  }
  noise = line;
  return std::nullopt;
}

std::optional<nlohmann::json> WorkerProcess::Impl::read_answer(std::chrono::steady_clock::time_point deadline, bool* timed_out,
                                                               bool* overflow) {
  using clock = std::chrono::steady_clock;
  std::array<char, 65536> buf{};
  bool err_open = err.fd >= 0;
  for (;;) {
    // Whole lines first: the answer is the first that is a JSON object with a "status" string.
    for (std::size_t nl; (nl = out_buf.find('\n')) != std::string::npos;) {
      std::string line = trim_tail(out_buf.substr(0, nl));
      out_buf.erase(0, nl + 1);
      if (line.empty()) continue;
      if (auto j = as_answer(line)) return j;
    }
    if (out_buf.size() > kStdoutCap) {
      *overflow = true;
      return std::nullopt;
    }
    const auto now = clock::now();
    if (now >= deadline) {
      *timed_out = true;
      return std::nullopt;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd fds[2] = {{out.fd, POLLIN, 0}, {err_open ? err.fd : -1, POLLIN, 0}};
    const int pr = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("poll on worker pipes: {}", std::strerror(errno)));
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (i == 0) {  // stdout closed: the child ended (or is ending); a last unterminated line may be its answer
          std::string rest = trim_tail(out_buf);
          out_buf.clear();
          return rest.empty() ? std::nullopt : as_answer(rest);
        }
        err_open = false;
        continue;
      }
      if (i == 0) {
        out_buf.append(buf.data(), static_cast<std::size_t>(n));
      } else {
        stderr_text.append(buf.data(), static_cast<std::size_t>(n));
        if (stderr_text.size() > 2 * kStderrTail) stderr_text.erase(0, stderr_text.size() - kStderrTail);
      }
    }
  }
}

void WorkerProcess::Impl::drain_stderr() {
  if (err.fd < 0) return;
  std::array<char, 65536> buf{};
  for (;;) {
    pollfd fd{err.fd, POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0 || !(fd.revents & (POLLIN | POLLHUP | POLLERR))) return;
    const ssize_t n = ::read(err.fd, buf.data(), buf.size());
    if (n <= 0) return;
    stderr_text.append(buf.data(), static_cast<std::size_t>(n));
    if (stderr_text.size() > 2 * kStderrTail) stderr_text.erase(0, stderr_text.size() - kStderrTail);
  }
}

void WorkerProcess::Impl::reap(std::chrono::steady_clock::time_point deadline, WorkerOutcome& o) {
  if (pid < 0) return;
  in.reset();  // EOF for a child that waits for the next configuration
  int status = 0;
  bool reaped = false;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      o.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!reaped) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  drain_stderr();
  pid = -1;
  out.reset();
  err.reset();
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  else if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
}

WorkerProcess::WorkerProcess(WorkerCommand cmd) : impl_(std::make_unique<Impl>()) { impl_->cmd = std::move(cmd); }

WorkerProcess::~WorkerProcess() {
  try {
    stop(std::chrono::milliseconds(2000));
  } catch (...) {
  }
}

bool WorkerProcess::running() const { return impl_->pid >= 0; }
int WorkerProcess::processes_started() const { return impl_->started; }

void WorkerProcess::stop(std::chrono::milliseconds grace, WorkerOutcome* how) {
  WorkerOutcome local;
  impl_->reap(std::chrono::steady_clock::now() + grace, how ? *how : local);
}

WorkerOutcome WorkerProcess::ask(const nlohmann::json& config, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  Impl& m = *impl_;
  const auto start = clock::now();
  const auto deadline = start + timeout;
  WorkerOutcome out;
  if (m.pid < 0) {
    m.spawn();
    out.started_process = true;
  }
  m.stderr_text.clear();

  const std::string text = config.dump() + "\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(m.in.fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child is gone; its end is classified below
    sent += static_cast<std::size_t>(n);
  }

  bool overflow = false;
  std::optional<nlohmann::json> line = m.read_answer(deadline, &out.timed_out, &overflow);
  const bool fatal = line && line->value("cuda_fatal", false);
  if (!line || fatal) {
    // The child ended, hung, flooded stdout or poisoned its context: end it (after the deadline, or
    // at once when it hung) and classify.
    if (out.timed_out || overflow) ::kill(m.pid, SIGKILL);
    m.reap(out.timed_out ? clock::now() : std::max(deadline, clock::now() + std::chrono::milliseconds(2000)), out);
  } else {
    m.drain_stderr();
  }
  out.wall_s = std::chrono::duration<double>(clock::now() - start).count();
  std::string tail = m.stderr_text;
  if (tail.size() > kStderrTail) tail.erase(0, tail.size() - kStderrTail);
  out.stderr_tail = trim_tail(tail);
  const std::string err_note = out.stderr_tail.empty() ? std::string() : "; its stderr ends: " + out.stderr_tail;

  if (out.timed_out) {
    out.signal = SIGKILL;
    out.result = error_result(fmt::format("worker timed out after {:.0f} s and was killed (SIGKILL){}",
                                          std::chrono::duration<double>(timeout).count(), err_note));
    return out;
  }
  if (overflow) {
    out.result = error_result(fmt::format("worker wrote more than {} MiB on stdout (expected one JSON result)", kStdoutCap >> 20));
    return out;
  }
  if (!line) {
    if (out.signal != 0)
      out.result = error_result(fmt::format("worker crashed: signal {} ({}){}", out.signal, signal_name(out.signal), err_note));
    else if (!m.noise.empty())
      out.result = error_result(fmt::format("worker's answer is not JSON (exit status {}): '{}'{}", out.exit_code, m.noise.substr(0, 200), err_note));
    else
      out.result = error_result(fmt::format("worker exited with status {} without an answer{}", out.exit_code, err_note));
    return out;
  }
  const std::optional<Outcome> st = (*line)["status"].is_string() ? parse_outcome((*line)["status"].get<std::string>()) : std::nullopt;
  if (!st || *st == Outcome::limit) {  // "limit" is the matrix's verdict, never a worker's answer
    out.result = error_result(fmt::format("worker's answer has an unknown status {}", (*line)["status"].dump()));
    return out;
  }
  out.result = std::move(*line);
  return out;
}

WorkerOutcome run_worker(const WorkerCommand& cmd, const nlohmann::json& config, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  WorkerProcess p(cmd);
  WorkerOutcome out = p.ask(config, timeout);
  if (p.running()) {
    const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    p.stop(std::max(left, std::chrono::milliseconds(100)), &out);
    if (out.timed_out) {
      out.signal = SIGKILL;
      out.result = error_result(fmt::format("worker answered but did not exit within {:.0f} s and was killed (SIGKILL)",
                                            std::chrono::duration<double>(timeout).count()));
    } else if (out.signal != 0 && answer_outcome(out.result) == Outcome::ok) {
      out.result = error_result(fmt::format("worker answered ok but then crashed: signal {} ({})", out.signal, signal_name(out.signal)));
    } else if (out.exit_code != 0 && answer_outcome(out.result) == Outcome::ok) {
      out.result = error_result(fmt::format("worker answered ok but exited with status {}", out.exit_code));
    }
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

Outcome answer_outcome(const nlohmann::json& answer) {
  const auto it = answer.find("status");
  if (it == answer.end() || !it->is_string()) return Outcome::error;
  return parse_outcome(it->get<std::string>()).value_or(Outcome::error);
}

Fault parse_fault(const std::string& spec) {
  Fault f;
  if (spec.empty()) return f;
  const std::size_t at = spec.find('@');
  f.mode = spec.substr(0, at);
  static const char* const kModes[] = {"crash", "hang", "oom", "cuda", "garbage", "alloc", "trap", "spin", "launch-abort"};
  if (std::find(std::begin(kModes), std::end(kModes), f.mode) == std::end(kModes))
    throw InvalidInput(fmt::format("VRAMFIT_FAULT='{}': unknown fault '{}' (expected crash, hang, oom, cuda, garbage, alloc, trap, spin "
                                   "or launch-abort, optionally @N)",
                                   spec, f.mode));
  if (at != std::string::npos) {
    const std::string n = spec.substr(at + 1);
    std::size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(n, &used);
    } catch (...) {
      used = 0;
    }
    if (used != n.size() || n.empty() || v < 1)
      throw InvalidInput(fmt::format("VRAMFIT_FAULT='{}': '@{}' must name a worker number ≥ 1", spec, n));
    f.only_worker = v;
  }
  return f;
}

bool apply_fault_from_env(int worker_index) {
  fault::disarm();  // a child answering several configurations arms a fault for the N-th only
  const char* env = std::getenv("VRAMFIT_FAULT");
  if (!env || !*env) return false;
  const Fault f = parse_fault(env);
  if (f.only_worker != 0 && f.only_worker != worker_index) return false;
  // Faults inside the engine (core/fault.h): armed here, they strike at the real allocation or launch.
  if (f.mode == "alloc" || f.mode == "trap" || f.mode == "spin" || f.mode == "launch-abort") {
    fault::arm(f.mode);
    return false;
  }
  if (f.mode == "crash") std::abort();
  if (f.mode == "hang")
    for (;;) ::pause();
  if (f.mode == "oom")
    throw OutOfMemory(fmt::format("injected by VRAMFIT_FAULT={} (worker {}): as if the device allocation had failed", env, worker_index));
  if (f.mode == "cuda")
    throw CudaFatal(fmt::format("injected by VRAMFIT_FAULT={} (worker {}): as if a sticky CUDA error had occurred", env, worker_index));
  return f.mode == "garbage";
}

namespace {

// One answer and whether the child must stop after it (a sticky CUDA error poisons its context; an
// injected garbage answer stands for a broken worker).
struct Answer {
  std::string text;
  bool last = false;
};

nlohmann::json status_json(const Status& st) { return {{"status", st.outcome}, {"reason", st.reason}}; }

Answer answer_for(const std::string& config_text, const MeasureFn& measure) {
  nlohmann::json result;
  try {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(config_text);
    } catch (const nlohmann::json::exception& e) {
      throw InvalidInput(fmt::format("worker configuration on stdin is not JSON: {}", e.what()));
    }
    if (!config.is_object()) throw InvalidInput("worker configuration on stdin is not a JSON object");
    const int index = config.value("worker_index", 0);
    if (apply_fault_from_env(index)) return {"this is not JSON (VRAMFIT_FAULT=garbage)", true};
    result = measure(config);
    if (!result.is_object()) throw InternalError("worker measurement returned a non-object");
    if (!result.contains("status")) result["status"] = Outcome::ok;
  } catch (const CudaFatal&) {
    result = status_json(status_of_current_exception());  // core/outcome.h: the one mapping
    result["cuda_fatal"] = true;
    return {result.dump(), true};
  } catch (...) {
    result = status_json(status_of_current_exception());
  }
  return {result.dump(), false};
}

}  // namespace

std::string worker_answer(const std::string& config_text, const MeasureFn& measure) { return answer_for(config_text, measure).text; }

int worker_main(std::istream& in, const MeasureFn& measure) {
  // A worker dies with the profile that started it (Ctrl-C there, a SIGTERM from `vramfit fleet`'s
  // remote watchdog, a crash): it must not keep measuring on a GPU nobody reads from.
  // (No getppid() == 1 check for a parent gone before this line: in a container the profile itself
  // may be PID 1.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const Answer answer = answer_for(line, measure);
    std::fprintf(stdout, "%s\n", answer.text.c_str());
    std::fflush(stdout);
    if (answer.last) return 0;
  }
  return 0;
}

}  // namespace vramfit::profile
