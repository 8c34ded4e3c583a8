// Journal and atomic writes (DESIGN rule 6): append + fsync, resume, a cut last line, garbage and
// repeated lines (kept or named, never lost), journals that are not regular files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/input_file.h"
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

// A journal holds hours of measurements: whatever is valid in it is kept, whatever is not is named.
TEST(Journal, GarbageLinesAreSkippedWithAWarningNamingThemAndNothingValidIsRewritten) {
  const auto dir = fresh_dir("garbage");
  const std::string path = (dir / "journal.jsonl").string();
  const std::string kept = std::string(R"({"key":"a","result":{"status":"ok"}})") + "\n" +  // 1
                           "garbage\n" +                                                    // 2
                           R"({"key":"b","result":{"status":"oom"}})" + "\n" +             // 3
                           R"({"key":1,"result":{}})" + "\n" +                              // 4: key not a string
                           "[]\n" +                                                         // 5: not an object
                           "\n" +                                                           // 6: blank, harmless
                           R"({"key":"c","result":"ok"})" + "\n" +                         // 7: result not an object
                           std::string("\x00\xff\xfe\n", 4) +                               // 8: binary
                           R"({"key":"d","result":{"status":"ok"}})" + "\n";               // 9
  {
    std::ofstream out(path, std::ios::binary);
    out << kept << R"({"key":"e","resu)";  // 10: cut by a kill
  }
  std::vector<std::string> warnings;
  Journal r(path, true, &warnings);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_TRUE(r.find("a") && r.find("b") && r.find("d"));
  EXPECT_FALSE(r.find("c"));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("cut last line 10"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find(path), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[1].find("lines 2, 4, 5, 7, 8"), std::string::npos) << warnings[1];
  EXPECT_EQ(slurp(path), kept);  // only the cut line is gone; the garbage stays for a human to see
  // Appends go on after the garbage, and a second resume finds the same entries plus the new one.
  r.append("e", {{"status", "ok"}});
  warnings.clear();
  Journal again(path, true, &warnings);
  EXPECT_EQ(again.size(), 4u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("lines 2, 4, 5, 7, 8"), std::string::npos) << warnings[0];
  fs::remove_all(dir);
}

TEST(Journal, ManyBadLinesAreCountedAndTheListIsShort) {
  const auto dir = fresh_dir("many");
  const std::string path = (dir / "journal.jsonl").string();
  {
    std::ofstream out(path);
    for (int i = 0; i < 25; ++i) out << "{not json\n";
    out << R"({"key":"a","result":{"status":"ok"}})" << "\n";
  }
  std::vector<std::string> warnings;
  Journal r(path, true, &warnings);
  EXPECT_EQ(r.size(), 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("25 lines"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("and 15 more"), std::string::npos) << warnings[0];
  fs::remove_all(dir);
}

TEST(Journal, ARepeatedConfigurationKeepsTheLaterLineWithAWarning) {
  const auto dir = fresh_dir("dup");
  const std::string path = (dir / "journal.jsonl").string();
  const std::string text = std::string(R"({"key":"a","result":{"batch":1}})") + "\n" + R"({"key":"b","result":{"batch":2}})" + "\n" +
                           R"({"key":"a","result":{"batch":3}})" + "\n" + R"({"key":"a","result":{"batch":4}})" + "\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  std::vector<std::string> warnings;
  Journal r(path, true, &warnings);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ((*r.find("a"))["batch"], 4);
  EXPECT_EQ((*r.find("b"))["batch"], 2);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("lines 3, 4"), std::string::npos) << warnings[0];
  EXPECT_EQ(slurp(path), text);
  fs::remove_all(dir);
}

TEST(Journal, AWholeLastEntryWithoutItsNewlineIsKeptAndTheNextAppendStartsALine) {
  const auto dir = fresh_dir("nonl");
  const std::string path = (dir / "journal.jsonl").string();
  const std::string text = std::string(R"({"key":"a","result":{"batch":1}})") + "\n" + R"({"key":"b","result":{"batch":2}})";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  std::vector<std::string> warnings;
  {
    Journal r(path, true, &warnings);
    EXPECT_EQ(r.size(), 2u);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(slurp(path), text);
    r.append("c", {{"batch", 3}});
  }
  Journal again(path, true, &warnings);
  EXPECT_EQ(again.size(), 3u);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  EXPECT_EQ((*again.find("b"))["batch"], 2);
  fs::remove_all(dir);
}

TEST(Journal, AMissingJournalIsAFreshStart) {
  const auto dir = fresh_dir("missing");
  Journal r((dir / "journal.jsonl").string(), true);
  EXPECT_EQ(r.size(), 0u);
  fs::remove_all(dir);
}

// Not regular files: refused at once (a FIFO must not block the resume), naming the file.
TEST(Journal, AFifoADirectoryOrAHugeFileIsAnErrorNamingIt) {
  const auto dir = fresh_dir("special");
  const auto expect_refused = [](const std::string& path, const std::string& says) {
    try {
      Journal r(path, true);
      ADD_FAILURE() << path << ": expected InvalidInput";
    } catch (const vramfit::InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  const std::string fifo = (dir / "fifo.jsonl").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  expect_refused(fifo, "FIFO");
  EXPECT_TRUE(fs::is_fifo(fifo));
  const std::string folder = (dir / "folder.jsonl").string();
  fs::create_directories(folder);
  expect_refused(folder, "folder");
  const std::string link = (dir / "zero.jsonl").string();
  fs::create_symlink("/dev/zero", link);
  expect_refused(link, "character device");
  const std::string huge = (dir / "huge.jsonl").string();
  { std::ofstream(huge).put('\n'); }
  fs::resize_file(huge, vramfit::kMaxJournalBytes + 1);  // sparse: costs no disk
  expect_refused(huge, "too large");
  EXPECT_EQ(fs::file_size(huge), vramfit::kMaxJournalBytes + 1);
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
