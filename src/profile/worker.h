// profile/worker.h — measurements in child processes (DESIGN rule 5).
//
// A sticky CUDA error (illegal address) poisons the process that saw it, and a driver crash or a hang
// would take the whole matrix with it, so `vramfit profile` measures in children: the same binary with
// the hidden `profile --worker` flag.
//
// The protocol: the parent writes one configuration per line (a JSON object) on the child's stdin;
// the child answers each with one line on stdout (a JSON object with "status") and reads the next,
// until EOF. A child may measure several configurations of one model × precision (WorkerProcess):
// its CUDA context, libraries, host weights and algorithm choices are set up once. Lines on stdout
// that are not a JSON object with "status" (a library's banner) are skipped.
//
// Parent side (WorkerProcess::ask, run_worker): spawn when no child runs, send the configuration,
// read stdout/stderr with poll under a per-configuration timeout, SIGKILL on timeout, waitpid when
// the child ends. A crash (signal), a hang (timeout), an answer that is not JSON or an exit without
// an answer all become a result with status "error" and the reason — never an exception — and the
// child is gone: the next configuration starts a fresh one, so a failure stays with the configuration
// that hit it.
//
// Child side (worker_main, worker_answer): parse the configuration, apply an injected fault
// (VRAMFIT_FAULT) before touching the device, call the measurement, and turn typed errors into
// results: OutOfMemory → "oom", Unsupported → "unsupported", CudaFatal → "error" with
// "cuda_fatal": true (the child then exits: its context is poisoned), anything else → "error".
//
// Fault injection: VRAMFIT_FAULT = MODE, optionally "@N" to apply only to the N-th configuration the
// parent hands out (1-based; the parent puts "worker_index" in the configuration).
//   Before the device is touched (tests without a GPU): crash aborts, hang sleeps forever, oom throws
//   OutOfMemory as if an allocation had failed, cuda throws CudaFatal (a sticky error), garbage answers
//   with text that is not JSON.
//   Inside the engine (core/fault.h; real failures on a GPU): alloc refuses the session's device
//   allocation, trap runs a kernel that traps (a sticky CUDA error), spin runs a kernel that never
//   ends (a device hang), launch-abort aborts the process while it enqueues kernels.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/outcome.h"

namespace vramfit::profile {

struct WorkerCommand {
  std::string program;             // path of the executable (the parent's /proc/self/exe)
  std::vector<std::string> args;   // after argv[0], e.g. {"profile", "--worker"}
};

struct WorkerOutcome {
  nlohmann::json result;  // always an object with "status" (ok | oom | unsupported | error)
  bool timed_out = false;
  int signal = 0;          // the signal that ended the child, 0 if it exited (or still runs)
  int exit_code = -1;      // when it exited
  std::string stderr_tail; // the last few KiB of what it wrote on stderr
  double wall_s = 0;       // this configuration: sending it to the answer (process start included when it started one)
  bool started_process = false;
};

// One child process that answers configurations one after another (see the protocol above).
class WorkerProcess {
 public:
  explicit WorkerProcess(WorkerCommand cmd);
  ~WorkerProcess();  // stop()
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Sends one configuration and waits for its answer, starting a child first when none runs. Throws
  // only when the child cannot be started at all (IoError naming the program); every failure of the
  // child is a result, after which no child runs.
  WorkerOutcome ask(const nlohmann::json& config, std::chrono::milliseconds timeout);
  // Closes the child's stdin and reaps it, SIGKILL after `grace`. Fills exit_code/signal/timed_out
  // of `*how` when given. No-op when no child runs.
  void stop(std::chrono::milliseconds grace, WorkerOutcome* how = nullptr);
  bool running() const;
  int processes_started() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One configuration in a child of its own, run to completion (or killed at `timeout`): ask, then
// stop. An "ok" answer from a child that then exits with a non-zero status is an error.
WorkerOutcome run_worker(const WorkerCommand& cmd, const nlohmann::json& config, std::chrono::milliseconds timeout);

// The path of the running executable (/proc/self/exe resolved); IoError when it cannot be read.
std::string self_executable();

// Child side. `measure` does the work for a parsed configuration and returns the result object
// (status "ok" unless it says otherwise); errors it throws become results as described above.
// Returns the one line the child prints on stdout (JSON, except under VRAMFIT_FAULT=garbage).
using MeasureFn = std::function<nlohmann::json(const nlohmann::json& config)>;
std::string worker_answer(const std::string& config_text, const MeasureFn& measure);
// The child's loop: one configuration per line of `in`, one answer per line on stdout (flushed),
// until EOF, or until an answer with "cuda_fatal" or an injected garbage answer (the process is not
// to be trusted after either). Returns the exit status (0).
int worker_main(std::istream& in, const MeasureFn& measure);

// A worker's answer's "status" as an Outcome (an unknown or missing spelling is an error): read once
// here, so that no caller compares the strings.
Outcome answer_outcome(const nlohmann::json& answer);

struct Fault {
  std::string mode;  // empty: none
  int only_worker = 0;  // 0: every worker
};
// Parses "mode" or "mode@N"; InvalidInput on an unknown mode or a bad N.
Fault parse_fault(const std::string& spec);
// Applies the fault of VRAMFIT_FAULT (if any) for the worker with this index. crash and hang do not
// return; oom and cuda throw; garbage returns true (the answer is then non-JSON text).
bool apply_fault_from_env(int worker_index);

}  // namespace vramfit::profile
