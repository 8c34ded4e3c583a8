// Hostile files on disk through every weights reader's open path (`run --weights`, `run --input`,
// `llm --gguf`): not regular files (refused without blocking), missing, and malformed contents.
// Each error is an InvalidInput (or Unsupported for a valid file of a dtype not implemented) whose
// message names the file. The in-memory parsers have their own, finer tests beside this one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "weights/gguf.h"
#include "weights/npy.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

struct Dir {
  fs::path p = fs::temp_directory_path() / ("vramfit_hostile_files_" + std::to_string(::getpid()));
  Dir() {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~Dir() { fs::remove_all(p); }
  std::string file(const std::string& name, const Bytes& b) const {
    const std::string path = (p / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return path;
  }
};

void put_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xff));
}

Bytes st_file(std::uint64_t header_len, const std::string& header, std::size_t data_bytes) {
  Bytes b;
  put_u64(b, header_len);
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0x3f);
  return b;
}

Bytes st_file(const std::string& header, std::size_t data_bytes) { return st_file(header.size(), header, data_bytes); }

Bytes npy_file(int major, std::uint64_t header_len, const std::string& header, std::size_t data_bytes) {
  Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const int lb = major == 1 ? 2 : 4;
  for (int i = 0; i < lb; ++i) b.push_back(static_cast<std::uint8_t>((header_len >> (8 * i)) & 0xff));
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

Bytes npy_file(const std::string& header, std::size_t data_bytes) { return npy_file(1, header.size(), header, data_bytes); }

// `open` must throw E naming `path` and every fragment.
template <class E = InvalidInput>
void expect_refused(const std::function<void()>& open, const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    open();
    ADD_FAILURE() << path << ": accepted";
  } catch (const E& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    for (const auto& f : fragments) EXPECT_NE(m.find(f), std::string::npos) << "missing '" << f << "' in: " << m;
  }
}

void st(const std::string& path, std::initializer_list<std::string> fragments) {
  expect_refused([&] { (void)SafetensorsFile::open(path); }, path, fragments);
}
void gguf(const std::string& path, std::initializer_list<std::string> fragments) {
  expect_refused([&] { (void)GgufFile::open(path); }, path, fragments);
}
void npy(const std::string& path, std::initializer_list<std::string> fragments) {
  expect_refused([&] { (void)read_npy(path); }, path, fragments);
}

}  // namespace

// A FIFO would block an open without O_NONBLOCK: the alarm turns such a hang into a failure.
TEST(HostileFiles, NotRegularFilesAreRefusedByEveryReaderWithoutBlocking) {
  ::alarm(10);
  const Dir d;
  const std::string fifo = (d.p / "w.safetensors").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  fs::create_symlink("/dev/zero", d.p / "zero.npy");
  const std::string zero = (d.p / "zero.npy").string();
  for (const std::string& path : {fifo, zero, d.p.string(), std::string("/dev/null"), std::string("/dev/zero")}) {
    const std::string kind = path == fifo ? "FIFO" : path == d.p.string() ? "folder" : "character device";
    st(path, {kind});
    gguf(path, {kind});
    npy(path, {kind});
  }
  for (const std::string& path : {(d.p / "absent").string(), (d.p / "no" / "dir").string()}) {
    st(path, {"no such file"});
    gguf(path, {"no such file"});
    npy(path, {"no such file"});
  }
  ::alarm(0);
}

TEST(HostileFiles, SafetensorsOnDisk) {
  const Dir d;
  const std::string a = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  st(d.file("empty.safetensors", {}), {"0 bytes"});
  st(d.file("short.safetensors", {1, 2, 3}), {"8-byte header"});
  // Header lengths that would overflow 8 + n or ask for an absurd allocation.
  st(d.file("h63.safetensors", st_file(1ull << 63, a, 8)), {"header length", "100 MB"});
  st(d.file("hmax.safetensors", st_file(~0ull, a, 8)), {"header length"});
  st(d.file("hpast.safetensors", st_file(a.size() + 9, a, 8)), {"header length", "past the end"});
  // Truncated data, offsets out of range, overlaps, dtype × shape against the byte range.
  st(d.file("cut.safetensors", st_file(a, 7)), {"\"a\"", "past the end"});
  st(d.file("far.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8)),
     {"\"a\""});
  st(d.file("overlap.safetensors",
            st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
     {"overlaps"});
  st(d.file("mismatch.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), {"\"a\"", "12 bytes"});
  st(d.file("overflow.safetensors",
            st_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
     {"overflows"});
  st(d.file("array.safetensors", st_file("[1,2,3]", 0)), {"JSON object"});
  st(d.file("zero-header.safetensors", st_file(0, "", 8)), {"JSON object"});
}

TEST(HostileFiles, NpyOnDisk) {
  const Dir d;
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  npy(d.file("empty.npy", {}), {"magic", "0 bytes"});
  npy(d.file("magic.npy", {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}), {"magic"});
  {
    Bytes b = npy_file(ok, 8);
    b.resize(20);
    npy(d.file("cut.npy", b), {"header"});
  }
  npy(d.file("cut-data.npy", npy_file(ok, 7)), {"needs more data", "7 bytes"});
  npy(d.file("hlen16.npy", npy_file(1, 0xffff, ok, 8)), {"header length", "past the end"});
  npy(d.file("hlen32.npy", npy_file(2, 0xffffffffull, ok, 8)), {"header length", "past the end"});
  npy(d.file("shape.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", 8)),
      {"needs more data"});
  npy(d.file("shape-big.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8)),
      {"too large"});
  npy(d.file("fortran.npy", npy_file("{'descr': '<f4', 'fortran_order': 'yes', 'shape': (2,), }", 8)), {"fortran_order"});
  const std::string f8 = d.file("f8.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8));
  expect_refused<Unsupported>([&] { (void)read_npy(f8); }, f8, {"'<f8'"});
  const std::string be = d.file("be.npy", npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8));
  expect_refused<Unsupported>([&] { (void)read_npy(be); }, be, {"'>f4'"});
}

TEST(HostileFiles, GgufOnDisk) {
  const Dir d;
  gguf(d.file("empty.gguf", {}), {"empty"});
  gguf(d.file("magic.gguf", {'G', 'G', 'U', 'X', 3, 0, 0, 0}), {"magic"});
  gguf(d.file("short.gguf", {'G', 'G', 'U', 'F', 3, 0}), {"version"});
  Bytes b{'G', 'G', 'U', 'F', 3, 0, 0, 0};
  put_u64(b, 1ull << 62);  // tensor_count
  put_u64(b, 0);
  gguf(d.file("count.gguf", b), {"tensor_count"});
}

}  // namespace vramfit
