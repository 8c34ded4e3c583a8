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
