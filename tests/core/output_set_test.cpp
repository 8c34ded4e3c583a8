// core/output_set.h: refusals before any work, and all-or-nothing writing.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/output_set.h"

namespace vramfit {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "vramfit-output-set-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& e : fs::recursive_directory_iterator(path)) n.push_back(e.path().lexically_relative(path).string());  // not fs::relative: it follows links
    std::sort(n.begin(), n.end());
    return n;
  }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
void spit(const std::string& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// The message of the InvalidInput that check() throws, or "" when it passes.
std::string refusal(OutputSet& out) {
  try {
    out.check();
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

TEST(OutputSet, WritesEveryOutputAndLeavesNoTemporary) {
  TempDir d;
  spit(d / "a.md", "old\n");
  OutputSet out(MissingFolders::make);
  const auto a = out.add_output(d / "a.md", "-o");
  const auto b = out.add_output(d / "sub/dir/b.json", "--json");  // missing folders are made
  out.check();
  out.put(a, "new a\n");
  out.put(b, "new b\n");
  const auto written = out.commit();
  EXPECT_EQ(written, (std::vector<std::string>{d / "a.md", d / "sub/dir/b.json"}));
  EXPECT_EQ(slurp(d / "a.md"), "new a\n");
  EXPECT_EQ(slurp(d / "sub/dir/b.json"), "new b\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a.md", "sub", "sub/dir", "sub/dir/b.json"}));
}

TEST(OutputSet, ASecondOutputThatFailsToWriteLeavesTheFirstTargetUnchanged) {
  TempDir d;
  spit(d / "a.md", "old a\n");
  spit(d / "b.html", "old b\n");
  OutputSet out;
  const auto a = out.add_output(d / "a.md", "-o");
  const auto b = out.add_output(d / "b.html", "--html");
  out.check();
  out.put(a, "new a\n");
  out.put(b, std::string(64 * 1024, 'x'));
  // A real write failure after the first temporary is complete: the file-size limit (like a full disk,
  // write() fails with EFBIG once the second file passes 4 KiB).
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg;
  try {
    out.commit();
  } catch (const IoError& e) {
    msg = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find(d / "b.html"), std::string::npos) << msg;
  EXPECT_EQ(slurp(d / "a.md"), "old a\n");
  EXPECT_EQ(slurp(d / "b.html"), "old b\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a.md", "b.html"}));  // no temporary left
}

TEST(OutputSet, AFolderMadeBeforeAFailedWriteIsRemovedAgain) {
  TempDir d;
  spit(d / "a.md", "old\n");
  OutputSet out(MissingFolders::make);
  const auto a = out.add_output(d / "new/a.md", "-o");
  const auto b = out.add_output(d / "a.md", "--html");
  out.check();
  out.put(a, "x");
  out.put(b, std::string(64 * 1024, 'y'));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW(out.commit(), IoError);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(slurp(d / "a.md"), "old\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a.md"}));
}

TEST(OutputSet, ATargetPathThatBreaksAfterCheckIsRefusedAtCommit) {
  TempDir d;
  spit(d / "a.md", "old\n");
  OutputSet out(MissingFolders::make);
  const auto a = out.add_output(d / "a.md", "-o");
  const auto b = out.add_output(d / "later/b.html", "--html");
  out.check();
  // Between the check and the commit (the command's work), "later" becomes a file.
  spit(d / "later", "in the way\n");
  out.put(a, "new a\n");
  out.put(b, "new b\n");
  EXPECT_THROW(out.commit(), InvalidInput);
  EXPECT_EQ(slurp(d / "a.md"), "old\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a.md", "later"}));
}

TEST(OutputSet, ATargetThatBecameAFolderIsRefusedAtCommitWithNothingTouched) {
  TempDir d;
  spit(d / "a.md", "old\n");
  OutputSet out;
  const auto a = out.add_output(d / "a.md", "-o");
  const auto b = out.add_output(d / "b.csv", "--csv");
  out.check();
  fs::create_directory(d / "b.csv");
  out.put(a, "new\n");
  out.put(b, "x\n");
  EXPECT_THROW(out.commit(), InvalidInput);
  EXPECT_EQ(slurp(d / "a.md"), "old\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a.md", "b.csv"}));
}

TEST(OutputSet, RefusesDevicesFoldersFifosAndPathsUnderFiles) {
  // check() only looks; still, /dev/full is named only where it is the device it should be.
  struct stat full {};
  if (::lstat("/dev/full", &full) != 0 || !S_ISCHR(full.st_mode)) GTEST_SKIP() << "/dev/full is not a character device here";
  TempDir d;
  fs::create_directory(d / "dir");
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0644), 0);
  spit(d / "file.txt", "x");
  fs::create_symlink("/dev/null", d / "null-link");
  fs::create_symlink(d / "missing", d / "dangling");
  for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/full", "character device"}, {d / "dir", "folder"}, {d / "fifo", "FIFO"}, {d / "file.txt/out.md", "not a folder"},
           {d / "missing/out.md", "does not exist"},
           {d / "null-link", "symbolic link to a character device"}, {d / "dangling", "symbolic link"}, {d / "new/", "folder"}}) {
    OutputSet out;
    out.add_output(path, "-o");
    const std::string msg = refusal(out);
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(why), std::string::npos) << path << ": " << msg;
  }
}

TEST(OutputSet, RefusesAnInputAndTwoOutputsOfOneFile) {
  TempDir d;
  spit(d / "systems.toml", "x");
  fs::create_symlink(d / "systems.toml", d / "link.toml");
  {
    OutputSet out;
    out.add_input(d / "systems.toml");
    out.add_output(d / "link.toml", "-o");  // the same inode through a link
    EXPECT_NE(refusal(out).find("is the input"), std::string::npos);
  }
  {
    OutputSet out;
    fs::create_directory(d / "sub");
    out.add_input(d / "p.json");  // inputs need not exist: compared by normalised path
    out.add_output(d / "./sub/../p.json", "--json");
    EXPECT_NE(refusal(out).find("is the input"), std::string::npos);
  }
  {
    OutputSet out;
    out.add_output(d / "d.md", "-o");
    out.add_output(d / "./d.md", "--html");
    const std::string msg = refusal(out);
    EXPECT_NE(msg.find("--html"), std::string::npos) << msg;
    EXPECT_NE(msg.find("-o"), std::string::npos) << msg;
  }
  {
    OutputSet out;
    out.add_output("-", "-o");
    out.add_output("-", "--json");
    EXPECT_NE(refusal(out).find("standard output"), std::string::npos);
  }
}

TEST(OutputSet, ASymlinkToARegularFileReplacesTheFileAndKeepsTheLink) {
  TempDir d;
  fs::create_directory(d / "docs");
  spit(d / "docs/S.md", "old\n");
  fs::create_symlink("docs/S.md", d / "S.md");
  OutputSet out;
  const auto i = out.add_output(d / "S.md", "-o");
  out.check();
  out.put(i, "new\n");
  out.commit();
  EXPECT_TRUE(fs::is_symlink(d / "S.md"));
  EXPECT_EQ(slurp(d / "docs/S.md"), "new\n");
  EXPECT_EQ(d.names(), (std::vector<std::string>{"S.md", "docs", "docs/S.md"}));
}

TEST(OutputSet, KeepsTheModeOfTheFileItReplaces) {
  TempDir d;
  spit(d / "a.sh", "old");
  fs::permissions(d / "a.sh", fs::perms(0750));
  write_file_atomic(d / "a.sh", std::string_view("new"));
  EXPECT_EQ(fs::status(d / "a.sh").permissions() & fs::perms::mask, fs::perms(0750));
  EXPECT_EQ(slurp(d / "a.sh"), "new");
}

TEST(OutputSet, WriteFileAtomicRefusesAFifoAndAMissingFolder) {
  TempDir d;  // a FIFO of our own, never a shared device: a broken writer would replace it
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0644), 0);
  EXPECT_THROW(write_file_atomic(d / "fifo", std::string_view("x")), InvalidInput);
  EXPECT_THROW(write_file_atomic(d / "no/such/x.npy", std::string_view("x")), InvalidInput);
  EXPECT_EQ(d.names(), (std::vector<std::string>{"fifo"}));
}

}  // namespace
}  // namespace vramfit
