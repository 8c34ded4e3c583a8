// profile/worker.cpp — spawn a worker, supervise it (poll + timeout + SIGKILL), classify its end.
#include "profile/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <thread>

#include "core/error.h"
#include "core/fault.h"

extern char** environ;

namespace vramfit::profile {

namespace {

constexpr std::size_t kStdoutCap = 64u << 20;   // a result is a few KiB; more is a broken worker
constexpr std::size_t kStderrTail = 4096;

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

WorkerOutcome run_worker(const WorkerCommand& cmd, const nlohmann::json& config, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = start + timeout;
  WorkerOutcome out;

  // stdin is a socket so that writing to a child that already died gives EPIPE (MSG_NOSIGNAL), never
  // a SIGPIPE that would kill the parent.
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
  pid_t pid = 0;
  if (const int rc = ::posix_spawn(&pid, cmd.program.c_str(), &fa.a, nullptr, argv.data(), environ); rc != 0)
    throw IoError(fmt::format("cannot start worker {}: {}", cmd.program, std::strerror(rc)));
  in_child.reset();
  out_write.reset();
  err_write.reset();

  // The configuration is small (a few hundred bytes): one send, then EOF for the child.
  const std::string text = config.dump() + "\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(in_parent.fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child is gone; its end is classified below
    sent += static_cast<std::size_t>(n);
  }
  in_parent.reset();

  std::string stdout_text, stderr_text;
  bool out_open = true, err_open = true, overflow = false;
  std::array<char, 65536> buf{};
  while ((out_open || err_open) && !out.timed_out) {
    const auto now = clock::now();
    if (now >= deadline) {
      out.timed_out = true;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd fds[2] = {{out_open ? out_read.fd : -1, POLLIN, 0}, {err_open ? err_read.fd : -1, POLLIN, 0}};
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
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      if (i == 0) {
        if (stdout_text.size() + static_cast<std::size_t>(n) > kStdoutCap) overflow = true;
        else stdout_text.append(buf.data(), static_cast<std::size_t>(n));
      } else {
        stderr_text.append(buf.data(), static_cast<std::size_t>(n));
        if (stderr_text.size() > 2 * kStderrTail) stderr_text.erase(0, stderr_text.size() - kStderrTail);
      }
    }
  }

  // Both pipes closed (or time is up): reap, still under the deadline — a child may close its
  // output and keep running.
  int status = 0;
  bool reaped = false;
  while (!out.timed_out) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (clock::now() >= deadline) {
      out.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!reaped) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  out.wall_s = std::chrono::duration<double>(clock::now() - start).count();
  if (stderr_text.size() > kStderrTail) stderr_text.erase(0, stderr_text.size() - kStderrTail);
  out.stderr_tail = trim_tail(stderr_text);
  const std::string err_note = out.stderr_tail.empty() ? std::string() : "; its stderr ends: " + out.stderr_tail;

  if (out.timed_out) {
    out.signal = SIGKILL;
    out.result = error_result(fmt::format("worker timed out after {:.0f} s and was killed (SIGKILL){}",
                                          std::chrono::duration<double>(timeout).count(), err_note));
    return out;
  }
  if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
    out.result = error_result(fmt::format("worker crashed: signal {} ({}){}", out.signal, signal_name(out.signal), err_note));
    return out;
  }
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (overflow) {
    out.result = error_result(fmt::format("worker wrote more than {} MiB on stdout (expected one JSON result)", kStdoutCap >> 20));
    return out;
  }
  // The answer is the last non-empty line (libraries may print banners before it).
  const std::string trimmed = trim_tail(stdout_text);
  const std::size_t nl = trimmed.rfind('\n');
  const std::string last = nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
  if (last.empty()) {
    out.result = error_result(fmt::format("worker exited with status {} without an answer{}", out.exit_code, err_note));
    return out;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(last);
  } catch (const nlohmann::json::exception&) {
    out.result = error_result(fmt::format("worker's answer is not JSON (exit status {}): '{}'{}", out.exit_code,
                                          last.substr(0, 200), err_note));
    return out;
  }
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) {
    out.result = error_result(fmt::format("worker's answer has no \"status\": '{}'", last.substr(0, 200)));
    return out;
  }
  const std::string st = j["status"].get<std::string>();
  if (st != "ok" && st != "oom" && st != "unsupported" && st != "error") {
    out.result = error_result(fmt::format("worker's answer has an unknown status '{}'", st));
    return out;
  }
  if (out.exit_code != 0 && st == "ok") {
    out.result = error_result(fmt::format("worker answered ok but exited with status {}{}", out.exit_code, err_note));
    return out;
  }
  out.result = std::move(j);
  return out;
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

std::string worker_answer(const std::string& config_text, const MeasureFn& measure) {
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
    if (apply_fault_from_env(index)) return "this is not JSON (VRAMFIT_FAULT=garbage)";
    result = measure(config);
    if (!result.is_object()) throw InternalError("worker measurement returned a non-object");
    if (!result.contains("status")) result["status"] = "ok";
  } catch (const OutOfMemory& e) {
    result = {{"status", "oom"}, {"reason", e.what()}};
  } catch (const Unsupported& e) {
    result = {{"status", "unsupported"}, {"reason", e.what()}};
  } catch (const CudaFatal& e) {
    result = {{"status", "error"}, {"reason", e.what()}, {"cuda_fatal", true}};
  } catch (const std::exception& e) {
    result = {{"status", "error"}, {"reason", e.what()}};
  }
  return result.dump();
}

}  // namespace vramfit::profile
