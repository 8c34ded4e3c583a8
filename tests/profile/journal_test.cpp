// Journal and atomic writes (DESIGN rule 6): append + fsync, resume, a cut last line, corruption.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "profile/journal.h"
#include "profile/matrix.h"

using namespace vramfit::profile;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("vramfit_profile_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(Journal, AppendsOneLinePerResultAndResumeReadsThemBack) {
  const auto dir = fresh_dir("append");
  const std::string path = (dir / "journal.jsonl").string();
  {
    Journal j(path, false);
    j.append("a", {{"status", "ok"}, {"batch", 1}});
    j.append("b", {{"status", "oom"}});
    EXPECT_EQ(j.size(), 2u);
  }
  const std::string text = slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  Journal r(path, true);
  ASSERT_TRUE(r.find("a"));
  EXPECT_EQ((*r.find("a"))["batch"], 1);
  EXPECT_EQ((*r.find("b"))["status"], "oom");
  EXPECT_FALSE(r.find("c"));
  // Without --resume the old journal is not used.
  Journal fresh(path, false);
  EXPECT_FALSE(fresh.find("a"));
  fs::remove_all(dir);
}

TEST(Journal, CutLastLineIsIgnoredWithAWarningAndTruncated) {
  const auto dir = fresh_dir("cut");
  const std::string path = (dir / "journal.jsonl").string();
  {
    Journal j(path, false);
    j.append("a", {{"status", "ok"}});
    j.append("b", {{"status", "ok"}});
  }
  const std::string whole = slurp(path);
  {  // a SIGKILL in the middle of the third line
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << R"({"key":"c","result":{"sta)";
  }
  std::vector<std::string> warnings;
  Journal r(path, true, &warnings);
  EXPECT_EQ(r.size(), 2u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("cut last line 3"), std::string::npos) << warnings[0];
  EXPECT_EQ(slurp(path), whole);  // truncated back to the last whole line
  r.append("c", {{"status", "error"}});
  Journal again(path, true, &warnings);
  EXPECT_EQ(again.size(), 3u);
  EXPECT_EQ(warnings.size(), 1u);
  fs::remove_all(dir);
}

TEST(Journal, CorruptLineInTheMiddleIsAnErrorNamingIt) {
  const auto dir = fresh_dir("corrupt");
  const std::string path = (dir / "journal.jsonl").string();
  {
    std::ofstream out(path);
    out << R"({"key":"a","result":{"status":"ok"}})" << "\n" << "garbage\n" << R"({"key":"b","result":{"status":"ok"}})" << "\n";
  }
  try {
    Journal r(path, true);
    FAIL() << "expected InvalidInput";
  } catch (const vramfit::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Journal, KeyIgnoresTheWorkerIndexButNotTheOptions) {
  nlohmann::json a{{"kind", "probe"}, {"batch", 8}, {"worker_index", 1}}, b = a, c = a;
  b["worker_index"] = 7;
  c["vram_limit"] = 8589934592ull;
  EXPECT_EQ(journal_key(a), journal_key(b));
  EXPECT_NE(journal_key(a), journal_key(c));
}

TEST(Journal, JournaledWorkerRunsEachConfigurationOnceAcrossResume) {
  const auto dir = fresh_dir("resume");
  const std::string path = (dir / "journal.jsonl").string();
  int calls = 0;
  const WorkerFn inner = [&](const nlohmann::json& c) {
    ++calls;
    return nlohmann::json{{"status", "ok"}, {"batch", c["batch"]}};
  };
  {
    Journal j(path, false);
    const WorkerFn run = journaled_worker_fn(j, inner);
    run({{"batch", 1}});
    run({{"batch", 2}});
    run({{"batch", 1}});
  }
  EXPECT_EQ(calls, 2);
  Journal j(path, true);
  const WorkerFn run = journaled_worker_fn(j, inner);
  EXPECT_EQ(run({{"batch", 2}})["batch"], 2);
  EXPECT_EQ(calls, 2);
  run({{"batch", 3}});
  EXPECT_EQ(calls, 3);
  fs::remove_all(dir);
}

TEST(AtomicWrite, ReplacesTheFileAndLeavesNoTemporary) {
  const auto dir = fresh_dir("atomic");
  const std::string path = (dir / "profile.json").string();
  vramfit::write_file_atomic(path, "first\n");
  vramfit::write_file_atomic(path, "second\n");
  EXPECT_EQ(slurp(path), "second\n");
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  // A path under a file is refused before anything is written (core/output_set.h).
  EXPECT_THROW(vramfit::write_file_atomic((dir / "profile.json" / "x.json").string(), "x"), vramfit::InvalidInput);
  fs::remove_all(dir);
}
