// core/input_file: regular files only, refused without blocking (a FIFO), capped reads, mappings.
// A FIFO that blocked would hang the test, so those tests arm an alarm: a hang fails loudly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/input_file.h"

using namespace vramfit;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("vramfit_input_file_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// The error for `path`: InvalidInput, naming the path and saying `says`.
void expect_refused(const std::string& path, const std::string& says, std::uint64_t cap = kMaxTextInputBytes) {
  try {
    (void)read_input_file(path, "test file", cap);
    ADD_FAILURE() << path << ": expected InvalidInput";
  } catch (const InvalidInput& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path, 0), 0u) << m;  // the message starts with the path
    EXPECT_NE(m.find(says), std::string::npos) << m;
  }
}

struct Watchdog {
  Watchdog() { ::alarm(10); }
  ~Watchdog() { ::alarm(0); }
};

}  // namespace

TEST(InputFile, ReadsARegularFileWhole) {
  const auto d = fresh_dir("read");
  write(d / "a.json", "{\"a\": 1}\n");
  EXPECT_EQ(read_input_file((d / "a.json").string(), "test file"), "{\"a\": 1}\n");
  write(d / "empty", "");
  EXPECT_EQ(read_input_file((d / "empty").string(), "test file"), "");
  fs::create_symlink(d / "a.json", d / "link.json");  // a link to a regular file is that file
  EXPECT_EQ(read_input_file((d / "link.json").string(), "test file"), "{\"a\": 1}\n");
  fs::remove_all(d);
}

TEST(InputFile, RefusesWhatIsNotARegularFileWithoutBlocking) {
  const Watchdog w;
  const auto d = fresh_dir("special");
  const std::string fifo = (d / "f.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  expect_refused(fifo, "FIFO");
  EXPECT_THROW((void)InputFile::open(fifo, "x"), InvalidInput);
  EXPECT_THROW((void)MappedInput::map(fifo, "x"), InvalidInput);
  expect_refused((d).string(), "folder");
  expect_refused("/dev/zero", "character device");
  expect_refused("/dev/null", "character device");
  fs::create_symlink("/dev/zero", d / "zero.json");
  expect_refused((d / "zero.json").string(), "character device");
  fs::create_symlink(fifo, d / "fifo-link.json");
  expect_refused((d / "fifo-link.json").string(), "FIFO");
  EXPECT_TRUE(fs::is_fifo(fifo));  // untouched
  fs::remove_all(d);
}

TEST(InputFile, MissingFilesAndDanglingLinksSaySo) {
  const auto d = fresh_dir("missing");
  expect_refused((d / "nope.json").string(), "no such file");
  expect_refused((d / "nope" / "x.json").string(), "no such file");
  fs::create_symlink(d / "gone", d / "dangling.json");
  expect_refused((d / "dangling.json").string(), "no such file");
  try {
    (void)read_input_file("", "Hugging Face config.json");
    ADD_FAILURE() << "empty path accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("Hugging Face config.json"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

TEST(InputFile, TheCapIsCheckedBeforeReadingAndWhileReading) {
  const auto d = fresh_dir("cap");
  write(d / "big", std::string(1000, ' '));
  EXPECT_EQ(read_input_file((d / "big").string(), "test file", 1000).size(), 1000u);
  expect_refused((d / "big").string(), "too large", 999);
  // Sparse: a 1 TiB file costs nothing and must be refused from its size, not read.
  { std::ofstream((d / "huge").string()).put(' '); }
  fs::resize_file(d / "huge", 1ull << 40);
  expect_refused((d / "huge").string(), "too large");
  // /proc files say size 0 and hold more: read to EOF, still under the cap.
  const std::string status = read_input_file("/proc/self/status", "test file");
  EXPECT_NE(status.find("Pid:"), std::string::npos);
  expect_refused("/proc/self/status", "too large", 16);
  fs::remove_all(d);
}

TEST(InputFile, MapsAWholeFileAndAnEmptyOneToNothing) {
  const auto d = fresh_dir("map");
  write(d / "w.bin", "abcdef");
  {
    MappedInput m = MappedInput::map((d / "w.bin").string(), "weights file");
    ASSERT_EQ(m.size(), 6u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), 6), "abcdef");
    MappedInput moved = std::move(m);
    EXPECT_EQ(moved.size(), 6u);
    EXPECT_EQ(m.data(), nullptr);  // NOLINT(bugprone-use-after-move): a moved-from mapping is empty
  }
  write(d / "empty.bin", "");
  const MappedInput e = MappedInput::map((d / "empty.bin").string(), "weights file");
  EXPECT_EQ(e.size(), 0u);
  EXPECT_EQ(e.data(), nullptr);
  fs::remove_all(d);
}
