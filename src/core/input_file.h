// core/input_file.h — the one way every reader opens an input file (DESIGN rule 8).
//
// A path given to vramfit may name anything: a FIFO (opening it for reading blocks until a writer
// comes), /dev/zero (endless), a directory, a 100 GiB file where a 2 KiB config was expected.
// Every reader therefore goes through here:
//   * the file is opened with O_NONBLOCK, so opening a FIFO returns at once, and fstat'ed on that
//     descriptor (no race between a check and the open): anything but a regular file is refused;
//   * a text file is read whole only below a cap per kind of file (kMax*Bytes) — checked against the
//     size before reading and again while reading, since /proc files and growing files report a
//     size that is not what a read returns;
//   * a weights file (GGUF, safetensors) has no cap: it is memory-mapped, not read.
// Every failure (missing, unreadable, not a regular file, too large) is an InvalidInput whose
// message starts with the path and says what kind of file was expected (`what`): bad inputs exit 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace vramfit {

// Caps per kind of file. Real ones are far smaller (a config.json is ~1 KiB, a profile.json
// ~100 KiB, gpus.toml ~30 KiB, a journal ~100 KiB per hundred configurations); the caps only stop
// a wrong path from reading without limit.
inline constexpr std::uint64_t kMaxTextInputBytes = 64ull << 20;     // JSON and TOML inputs
inline constexpr std::uint64_t kMaxJournalBytes = 256ull << 20;      // profile/journal.jsonl
inline constexpr std::uint64_t kMaxNpyBytes = 8ull << 30;            // run --input batches

// An open, regular input file: the descriptor (closed on destruction) and its size at open.
class InputFile {
 public:
  // Opens `path` without blocking and refuses what is not a regular file. `what` names the
  // expected content for messages ("GGUF file", "Hugging Face config.json").
  static InputFile open(const std::string& path, std::string_view what);

  InputFile(InputFile&& o) noexcept;
  InputFile& operator=(InputFile&& o) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // The whole content, at most max_bytes (InvalidInput naming the cap when there is more).
  std::string read_all(std::string_view what, std::uint64_t max_bytes);

 private:
  InputFile() = default;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string path_;
};

// open() + read_all(): the content of a text input file of at most max_bytes.
std::string read_input_file(const std::string& path, std::string_view what, std::uint64_t max_bytes = kMaxTextInputBytes);

// A read-only private mapping of a whole regular input file (weights: no size cap). An empty file
// maps to data() == nullptr, size() == 0; the reader decides what an empty file means.
class MappedInput {
 public:
  static MappedInput map(const std::string& path, std::string_view what);

  MappedInput() = default;
  MappedInput(MappedInput&& o) noexcept;
  MappedInput& operator=(MappedInput&& o) noexcept;
  MappedInput(const MappedInput&) = delete;
  MappedInput& operator=(const MappedInput&) = delete;
  ~MappedInput();

  const std::uint8_t* data() const { return static_cast<const std::uint8_t*>(addr_); }
  std::uint64_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  std::uint64_t size_ = 0;
};

// What a file that is not a regular file is, for messages ("a FIFO (named pipe)", "a folder", …):
// shared by the input side (here) and the output side (core/output_set.h).
std::string_view file_kind_name(mode_t mode);

}  // namespace vramfit
