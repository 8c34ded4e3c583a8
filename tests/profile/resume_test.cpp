// --resume end to end without a GPU: a matrix through fake worker processes and the journal, the
// journal cut as a SIGKILL would leave it, then a resume that starts only the worker that was lost
// and reaches the same result.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/bytes.h"
#include "profile/profile.h"

using namespace vramfit;
using namespace vramfit::profile;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(Resume, SkipsFinishedWorkersAndRerunsOnlyTheCutOne) {
  const fs::path dir = fs::temp_directory_path() / ("vramfit_resume_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string journal_path = (dir / "journal.jsonl").string();
  ::setenv("VRAMFIT_FAKE_MAX_BATCH", "300", 1);
  ::unsetenv("VRAMFIT_FAULT");
  const auto& m = find_model("resnet50");
  MatrixOptions o;
  o.quick = true;
  o.vram_limit = 2 * GiB;
  const std::uint64_t budget = 1536 * MiB;  // the planner predicts more than 300: the fallback search runs

  int first_started = 0;
  nlohmann::json first;
  {
    Journal j(journal_path, false);
    const WorkerFn run = journaled_worker_fn(j, process_worker_fn(WorkerCommand{VRAMFIT_FAKE_WORKER, {}}, 20s, &first_started));
    first = to_json(profile_model_precision(m, Precision::fp16, o, budget, run));
    EXPECT_EQ(j.size(), static_cast<std::size_t>(first_started));
  }
  ASSERT_GT(first_started, 4);
  EXPECT_EQ(first["max_batch"]["max_batch"], 300);
  EXPECT_EQ(first["max_batch"]["prediction_confirmed"], false);

  // Cut the last line in half, as a SIGKILL during its write would.
  std::string text;
  {
    std::ifstream in(journal_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::size_t last_start = text.rfind('\n', text.size() - 2) + 1;
  fs::resize_file(journal_path, last_start + (text.size() - last_start) / 2);

  int second_started = 0;
  std::vector<std::string> warnings;
  Journal j(journal_path, true, &warnings);
  EXPECT_EQ(warnings.size(), 1u);
  const WorkerFn run = journaled_worker_fn(j, process_worker_fn(WorkerCommand{VRAMFIT_FAKE_WORKER, {}}, 20s, &second_started));
  const nlohmann::json second = to_json(profile_model_precision(m, Precision::fp16, o, budget, run));
  EXPECT_EQ(second_started, 1);
  // The same document, but for the re-run worker's own wall time and process.
  nlohmann::json a = first, b = second;
  for (auto* doc : {&a, &b}) {
    (*doc)["fidelity"].erase("worker_wall_s");
    (*doc)["fidelity"].erase("worker_process");  // started in the re-run, reused in the first run
  }
  EXPECT_EQ(b, a);
  ::unsetenv("VRAMFIT_FAKE_MAX_BATCH");
  fs::remove_all(dir);
}
