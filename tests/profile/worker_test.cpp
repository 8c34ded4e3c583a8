// The worker supervisor (profile/worker.h) against real child processes, no GPU needed: the vramfit
// binary's own `profile --worker` with injected faults, and a fake worker (profile/helper) for the
// answers only a GPU could give.
#include <gtest/gtest.h>

#include <cstdlib>
#include <csignal>
#include <optional>
#include <string>

#include "core/error.h"

#include "profile/matrix.h"
#include "profile/worker.h"

using namespace vramfit::profile;
using namespace std::chrono_literals;

namespace {

// Sets an environment variable for one test and restores it (children inherit the environment).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const WorkerCommand kVramfit{VRAMFIT_BINARY, {"profile", "--worker"}};
const WorkerCommand kFake{VRAMFIT_FAKE_WORKER, {}};

nlohmann::json probe_config(int index, long long batch = 4) {
  return {{"kind", "probe"}, {"model", "resnet50"}, {"precision", "fp16"}, {"batch", batch}, {"vram_limit", nullptr},
          {"reserve", 0},   {"device", 0},          {"workspace", 134217728}, {"seed", 1},    {"worker_index", index}};
}

}  // namespace

TEST(Worker, GoodAnswerIsOk) {
  ScopedEnv no_fault("VRAMFIT_FAULT", "");
  const WorkerOutcome o = run_worker(kFake, probe_config(1), 20s);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(o.signal, 0);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.result["status"], "ok") << o.result.dump();
  EXPECT_EQ(o.result["batch"], 4);
  EXPECT_EQ(o.result["model"], "resnet50");
}

TEST(Worker, CrashBecomesErrorWithTheSignal) {
  ScopedEnv fault("VRAMFIT_FAULT", "crash");
  const WorkerOutcome o = run_worker(kVramfit, probe_config(1), 20s);
  EXPECT_EQ(o.signal, SIGABRT);
  EXPECT_EQ(o.result["status"], "error");
  EXPECT_NE(o.result["reason"].get<std::string>().find("crashed: signal 6"), std::string::npos) << o.result.dump();
}

TEST(Worker, HangIsKilledAtTheTimeout) {
  ScopedEnv fault("VRAMFIT_FAULT", "hang");
  const WorkerOutcome o = run_worker(kVramfit, probe_config(1), 2s);
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(o.result["status"], "error");
  EXPECT_NE(o.result["reason"].get<std::string>().find("timed out after 2 s"), std::string::npos) << o.result.dump();
  EXPECT_GE(o.wall_s, 1.9);
}

TEST(Worker, InjectedOomIsAnOomResult) {
  ScopedEnv fault("VRAMFIT_FAULT", "oom");
  const WorkerOutcome o = run_worker(kVramfit, probe_config(1), 20s);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.result["status"], "oom") << o.result.dump();
  EXPECT_NE(o.result["reason"].get<std::string>().find("VRAMFIT_FAULT=oom"), std::string::npos);
}

TEST(Worker, StickyCudaErrorIsAnErrorMarkedFatal) {
  ScopedEnv fault("VRAMFIT_FAULT", "cuda");
  const WorkerOutcome o = run_worker(kVramfit, probe_config(1), 20s);
  EXPECT_EQ(o.result["status"], "error") << o.result.dump();
  EXPECT_EQ(o.result["cuda_fatal"], true);
}

TEST(Worker, NonJsonAnswerIsAnError) {
  ScopedEnv fault("VRAMFIT_FAULT", "garbage");
  const WorkerOutcome o = run_worker(kVramfit, probe_config(1), 20s);
  EXPECT_EQ(o.result["status"], "error");
  EXPECT_NE(o.result["reason"].get<std::string>().find("not JSON"), std::string::npos) << o.result.dump();
}

TEST(Worker, MissingProgramIsAnIoErrorForTheCaller) {
  EXPECT_THROW(run_worker(WorkerCommand{"/nonexistent/vramfit-worker", {}}, probe_config(1), 5s), vramfit::IoError);
}

TEST(Worker, FaultAtNHitsOnlyTheNthWorkerAndTheMatrixGoesOn) {
  ScopedEnv fault("VRAMFIT_FAULT", "crash@2");
  int started = 0;
  const WorkerFn run = process_worker_fn(kFake, 20s, &started);
  const auto a = run(probe_config(0, 1));
  const auto b = run(probe_config(0, 2));
  const auto c = run(probe_config(0, 3));
  EXPECT_EQ(started, 3);
  EXPECT_EQ(a["status"], "ok") << a.dump();
  EXPECT_EQ(b["status"], "error") << b.dump();
  EXPECT_EQ(c["status"], "ok") << c.dump();
}

TEST(WorkerProcess, AnswersSeveralConfigurationsInOneChild) {
  ScopedEnv no_fault("VRAMFIT_FAULT", "");
  WorkerProcess p(kFake);
  for (int b = 1; b <= 3; ++b) {
    const WorkerOutcome o = p.ask(probe_config(b, b), 20s);
    EXPECT_EQ(o.result["status"], "ok") << o.result.dump();
    EXPECT_EQ(o.result["batch"], b);
    EXPECT_EQ(o.started_process, b == 1);
  }
  EXPECT_TRUE(p.running());
  EXPECT_EQ(p.processes_started(), 1);
  WorkerOutcome how;
  p.stop(5s, &how);
  EXPECT_FALSE(p.running());
  EXPECT_EQ(how.exit_code, 0);  // EOF on stdin ends the child's loop
}

TEST(WorkerProcess, AHangIsKilledAndTheNextConfigurationGetsAFreshChild) {
  ScopedEnv fault("VRAMFIT_FAULT", "hang@2");
  WorkerProcess p(kVramfit);
  const WorkerOutcome a = p.ask(probe_config(1), 20s);  // no GPU needed: any answer will do, as long as it is one
  EXPECT_TRUE(p.running()) << a.result.dump();
  const WorkerOutcome b = p.ask(probe_config(2), 1s);
  EXPECT_TRUE(b.timed_out);
  EXPECT_EQ(b.result["status"], "error");
  EXPECT_FALSE(p.running());
  const WorkerOutcome c = p.ask(probe_config(3), 20s);
  EXPECT_TRUE(c.started_process);
  EXPECT_EQ(c.result["status"], a.result["status"]) << c.result.dump();
  EXPECT_EQ(p.processes_started(), 2);
}

TEST(WorkerProcess, NoiseOnStdoutBeforeTheAnswerIsSkipped) {
  // A child that prints a banner line, then the answer.
  const WorkerCommand noisy{"/bin/sh", {"-c", "read line; echo 'library banner'; echo '{\"status\": \"ok\", \"x\": 1}'; read line"}};
  WorkerProcess p(noisy);
  const WorkerOutcome o = p.ask(probe_config(1), 20s);
  EXPECT_EQ(o.result["status"], "ok") << o.result.dump();
  EXPECT_EQ(o.result["x"], 1);
}

TEST(Worker, SharedConfigurationsOfOneModelPrecisionShareAChildAndTheRestGetTheirOwn) {
  ScopedEnv no_fault("VRAMFIT_FAULT", "");
  int started = 0, processes = 0;
  const WorkerFn run = process_worker_fn(kFake, 20s, &started, &processes);
  auto shared = [](nlohmann::json c) {
    c["process"] = "shared";
    return c;
  };
  nlohmann::json other = shared(probe_config(0, 5));
  other["precision"] = "fp32";
  EXPECT_EQ(run(probe_config(0, 1))["worker_process"], "started");  // a probe: its own child
  EXPECT_EQ(processes, 1);
  EXPECT_EQ(run(shared(probe_config(0, 2)))["worker_process"], "reused");  // same model × precision
  EXPECT_EQ(run(shared(probe_config(0, 3)))["worker_process"], "reused");
  EXPECT_EQ(processes, 1);
  EXPECT_EQ(run(other)["worker_process"], "started");  // another precision
  EXPECT_EQ(processes, 2);
  EXPECT_EQ(run(probe_config(0, 4))["worker_process"], "started");  // not shared: fresh again
  EXPECT_EQ(processes, 3);
  EXPECT_EQ(started, 5);
}

TEST(Worker, ACrashInASharedChildEndsOnlyItsConfiguration) {
  ScopedEnv fault("VRAMFIT_FAULT", "crash@2");
  int started = 0, processes = 0;
  const WorkerFn run = process_worker_fn(kFake, 20s, &started, &processes);
  nlohmann::json c = probe_config(0, 1);
  c["process"] = "shared";
  const auto a = run(c);
  const auto b = run(c);
  const auto d = run(c);
  EXPECT_EQ(a["status"], "ok") << a.dump();
  EXPECT_EQ(b["status"], "error") << b.dump();
  EXPECT_NE(b["reason"].get<std::string>().find("crashed"), std::string::npos) << b.dump();
  EXPECT_EQ(d["status"], "ok") << d.dump();
  EXPECT_EQ(d["worker_process"], "started");
  EXPECT_EQ(processes, 2);
}

TEST(Worker, ParseFault) {
  EXPECT_EQ(parse_fault("").mode, "");
  EXPECT_EQ(parse_fault("hang").mode, "hang");
  EXPECT_EQ(parse_fault("hang").only_worker, 0);
  EXPECT_EQ(parse_fault("oom@12").only_worker, 12);
  EXPECT_THROW(parse_fault("explode"), vramfit::InvalidInput);
  EXPECT_THROW(parse_fault("oom@0"), vramfit::InvalidInput);
  EXPECT_THROW(parse_fault("oom@x"), vramfit::InvalidInput);
}

TEST(Worker, AnswerTurnsTypedErrorsIntoResults) {
  ScopedEnv no_fault("VRAMFIT_FAULT", "");
  auto answer = [](auto thrower) { return nlohmann::json::parse(worker_answer("{\"worker_index\": 1}", thrower)); };
  EXPECT_EQ(answer([](const nlohmann::json&) -> nlohmann::json { throw vramfit::OutOfMemory("x"); })["status"], "oom");
  EXPECT_EQ(answer([](const nlohmann::json&) -> nlohmann::json { throw vramfit::Unsupported("x"); })["status"], "unsupported");
  EXPECT_EQ(answer([](const nlohmann::json&) -> nlohmann::json { throw vramfit::CudaFatal("x"); })["cuda_fatal"], true);
  EXPECT_EQ(answer([](const nlohmann::json&) -> nlohmann::json { return {{"batch", 3}}; })["status"], "ok");
  EXPECT_EQ(nlohmann::json::parse(worker_answer("not json", [](const nlohmann::json&) { return nlohmann::json::object(); }))["status"],
            "error");
}
