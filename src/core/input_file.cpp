// core/input_file.cpp — non-blocking open, regular files only, capped reads, mappings.
#include "core/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/text.h"

namespace vramfit {

std::string_view file_kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

namespace {

[[noreturn]] void refuse_kind(const std::string& path, std::string_view what, mode_t mode) {
  throw InvalidInput(fmt::format("{}: is {}, not a {} (inputs are read from regular files only)", path, file_kind_name(mode), what));
}

[[noreturn]] void refuse_errno(const std::string& path, std::string_view what, int e) {
  if (e == ENOENT || e == ENOTDIR)
    throw InvalidInput(fmt::format("{}: no such file (expected a {})", path.empty() ? "''" : path, what));
  throw InvalidInput(fmt::format("{}: cannot open the {}: {}", path, what, std::strerror(e)));
}


[[noreturn]] void refuse_size(const std::string& path, std::string_view what, std::uint64_t max_bytes, std::string_view size) {
  throw InvalidInput(fmt::format("{}: {} is too large for a {} (the limit is {}); is this the right file?", path, size, what,
                                 mib_text(max_bytes)));
}

}  // namespace

InputFile InputFile::open(const std::string& path, std::string_view what) {
  // stat first: a device or FIFO is refused without being opened at all (opening some devices
  // has effects). The fstat after the open is the check that counts — the path may have changed
  // in between — and O_NONBLOCK keeps that open from waiting on a FIFO's writer.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) refuse_errno(path, what, errno);
  if (!S_ISREG(st.st_mode)) refuse_kind(path, what, st.st_mode);
  InputFile f;
  f.path_ = path;
  do {
    f.fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (f.fd_ < 0 && errno == EINTR);
  if (f.fd_ < 0) refuse_errno(path, what, errno);
  if (::fstat(f.fd_, &st) != 0) throw InvalidInput(fmt::format("{}: cannot stat the {}: {}", path, what, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) refuse_kind(path, what, st.st_mode);
  // A regular file ignores O_NONBLOCK; it is cleared anyway so that reads mean what they say.
  const int flags = ::fcntl(f.fd_, F_GETFL);
  if (flags >= 0) ::fcntl(f.fd_, F_SETFL, flags & ~O_NONBLOCK);
  f.size_ = static_cast<std::uint64_t>(st.st_size);
  return f;
}

InputFile::InputFile(InputFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}

InputFile& InputFile::operator=(InputFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
    path_ = std::move(o.path_);
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string InputFile::read_all(std::string_view what, std::uint64_t max_bytes) {
  if (size_ > max_bytes) refuse_size(path_, what, max_bytes, mib_text(size_));
  std::string out;
  out.resize(static_cast<std::size_t>(size_));
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      // The size at open was only a hint (a /proc file says 0; a file may grow): read on, in
      // steps, until EOF or past the cap.
      if (out.size() > max_bytes) refuse_size(path_, what, max_bytes, "more than " + mib_text(max_bytes));
      out.resize(out.size() + std::max<std::size_t>(out.size() / 2, 64 << 10));
    }
    const ssize_t n = ::read(fd_, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InvalidInput(fmt::format("{}: reading the {} failed: {}", path_, what, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) refuse_size(path_, what, max_bytes, "more than " + mib_text(max_bytes));
  out.resize(got);
  return out;
}

std::string read_input_file(const std::string& path, std::string_view what, std::uint64_t max_bytes) {
  return InputFile::open(path, what).read_all(what, max_bytes);
}

MappedInput MappedInput::map(const std::string& path, std::string_view what) {
  InputFile f = InputFile::open(path, what);
  MappedInput m;
  if (f.size() == 0) return m;
  if (f.size() > static_cast<std::uint64_t>(SIZE_MAX))
    throw InvalidInput(fmt::format("{}: {} bytes cannot be mapped on this platform", path, f.size()));
  void* p = ::mmap(nullptr, static_cast<std::size_t>(f.size()), PROT_READ, MAP_PRIVATE, f.fd(), 0);
  if (p == MAP_FAILED)
    throw InvalidInput(fmt::format("{}: cannot map the {} ({} bytes): {}", path, what, f.size(), std::strerror(errno)));
  m.addr_ = p;  // the mapping outlives the descriptor (POSIX mmap)
  m.size_ = f.size();
  return m;
}

MappedInput::MappedInput(MappedInput&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedInput& MappedInput::operator=(MappedInput&& o) noexcept {
  if (this != &o) {
    if (addr_) ::munmap(addr_, static_cast<std::size_t>(size_));
    addr_ = std::exchange(o.addr_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

MappedInput::~MappedInput() {
  if (addr_) ::munmap(addr_, static_cast<std::size_t>(size_));
}

}  // namespace vramfit
