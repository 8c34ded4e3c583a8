// core/output_set.cpp — all-or-nothing writing of a command's outputs (see output_set.h).
#include "core/output_set.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>

#include "core/error.h"
#include "core/input_file.h"

namespace vramfit {

namespace fs = std::filesystem;

namespace {


// Who a path is: its device and inode where it exists (links followed), and its normalised absolute
// path either way, so "./a.md", "a.md" and a link to it compare equal.
struct Identity {
  std::optional<std::pair<dev_t, ino_t>> node;
  std::string norm;
};

Identity identity(const std::string& path) {
  Identity id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) id.node = std::make_pair(st.st_dev, st.st_ino);
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) p = fs::absolute(fs::path(path)).lexically_normal();
  id.norm = p.string();
  return id;
}

bool same_file(const Identity& a, const Identity& b) { return (a.node && b.node && *a.node == *b.node) || a.norm == b.norm; }

std::string dir_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// A missing target: the nearest existing folder on its way must be a folder this process can write in,
// and its own folder must exist unless commit() may make it.
void check_missing_target(const std::string& path, const std::string& what, MissingFolders folders) {
  fs::path a = fs::absolute(fs::path(path)).parent_path();
  for (;;) {
    struct stat st {};
    if (::stat(a.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) throw InvalidInput(fmt::format("{} ({}): {} is {}, not a folder", path, what, a.string(), file_kind_name(st.st_mode)));
      if (::access(a.c_str(), W_OK | X_OK) != 0)
        throw InvalidInput(fmt::format("{} ({}): cannot write in the folder {}: {}", path, what, a.string(), std::strerror(errno)));
      return;
    }
    if (errno != ENOENT || a == a.parent_path())
      throw InvalidInput(fmt::format("{} ({}): cannot use {}: {}", path, what, a.string(), std::strerror(errno)));
    if (folders == MissingFolders::refuse) throw InvalidInput(fmt::format("{} ({}): the folder {} does not exist", path, what, a.string()));
    a = a.parent_path();
  }
}

// Where the bytes of an output go; throws InvalidInput when the target must not be written.
std::string resolve_target(const std::string& path, const std::string& what, MissingFolders folders) {
  if (path.empty()) throw InvalidInput(fmt::format("{}: the output path is empty", what));
  if (path.back() == '/') throw InvalidInput(fmt::format("{} ({}): names a folder, not a file", path, what));
  struct stat ls {};
  if (::lstat(path.c_str(), &ls) != 0) {
    const int e = errno;
    if (e == ENOTDIR) throw InvalidInput(fmt::format("{} ({}): a part of the path is a file, not a folder", path, what));
    if (e != ENOENT) throw InvalidInput(fmt::format("{} ({}): cannot use this path: {}", path, what, std::strerror(e)));
    check_missing_target(path, what, folders);
    return path;
  }
  if (S_ISREG(ls.st_mode)) return path;
  if (!S_ISLNK(ls.st_mode))
    throw InvalidInput(fmt::format("{} ({}): exists and is {}, not a regular file; refusing to write to it or replace it", path, what,
                                   file_kind_name(ls.st_mode)));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw InvalidInput(fmt::format("{} ({}): a symbolic link to a file that cannot be reached ({}); refusing to write through it", path,
                                   what, std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    throw InvalidInput(fmt::format("{} ({}): a symbolic link to {}, not a regular file; refusing to write to it or replace it", path, what,
                                   file_kind_name(st.st_mode)));
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) throw InvalidInput(fmt::format("{} ({}): cannot resolve the link: {}", path, what, std::strerror(errno)));
  return buf;
}

void write_all(int fd, const std::string& content, const std::string& name) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw IoError(fmt::format("{}: write failed: {}", name, std::strerror(n < 0 ? errno : EIO)));
    done += static_cast<std::size_t>(n);
  }
}

// Creates the folders missing on the way to `dir`, recording each one made (to remove on failure).
void make_dirs(const std::string& dir, std::vector<std::string>& made) {
  std::vector<fs::path> missing;
  for (fs::path a = fs::absolute(fs::path(dir)); ::access(a.c_str(), F_OK) != 0 && a != a.parent_path(); a = a.parent_path())
    missing.push_back(a);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) == 0) made.push_back(it->string());
    else if (errno != EEXIST) throw IoError(fmt::format("{}: cannot create the folder: {}", it->string(), std::strerror(errno)));
  }
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the renames are done; a folder we cannot open cannot be flushed
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

OutputSet::~OutputSet() { remove_temporaries(); }

void OutputSet::add_input(const std::string& path) {
  if (!path.empty() && path != "-") inputs_.push_back(path);
}

std::size_t OutputSet::add_output(const std::string& path, const std::string& what) {
  outputs_.push_back(Output{path, what, {}, false, {}, {}});
  return outputs_.size() - 1;
}

void OutputSet::check() {
  const Output* stdout_user = nullptr;
  std::vector<Identity> ids(outputs_.size());
  std::vector<Identity> in;
  for (const auto& p : inputs_) in.push_back(identity(p));
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    Output& o = outputs_[i];
    if (o.path == "-") {
      if (stdout_user)
        throw InvalidInput(fmt::format("- ({} and {}): only one output may go to standard output", stdout_user->what, o.what));
      stdout_user = &o;
      continue;
    }
    o.target = resolve_target(o.path, o.what, folders_);
    ids[i] = identity(o.target);
    for (std::size_t k = 0; k < in.size(); ++k)
      if (same_file(ids[i], in[k]))
        throw InvalidInput(fmt::format("{} ({}): is the input {}; refusing to overwrite an input", o.path, o.what, inputs_[k]));
    for (std::size_t k = 0; k < i; ++k)
      if (outputs_[k].path != "-" && same_file(ids[i], ids[k]))
        throw InvalidInput(fmt::format("{} ({}): is also the output of {} ({}); give each output its own path", o.path, o.what,
                                       outputs_[k].what, outputs_[k].path));
  }
}

void OutputSet::put(std::size_t index, std::string content) {
  Output& o = outputs_.at(index);
  o.content = std::move(content);
  o.filled = true;
}

void OutputSet::write_temporaries(std::vector<std::string>& made_dirs) {
  static unsigned counter = 0;
  for (Output& o : outputs_) {
    if (o.path == "-") continue;
    const std::string dir = dir_of(o.target);
    make_dirs(dir, made_dirs);
    const std::string base = fs::path(o.target).filename().string();
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
      o.temp = fmt::format("{}/.{}.vramfit-tmp.{}.{}", dir, base, ::getpid(), counter++);
      fd = ::open(o.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd < 0 && (errno != EEXIST || attempt > 100)) {
        const int e = errno;
        o.temp.clear();
        throw IoError(fmt::format("{} ({}): cannot create a temporary file in {}: {}", o.path, o.what, dir, std::strerror(e)));
      }
    }
    struct stat st {};
    if (::stat(o.target.c_str(), &st) == 0) (void)::fchmod(fd, st.st_mode & 07777);  // keep the replaced file's mode
    try {
      write_all(fd, o.content, o.path);
      if (::fsync(fd) != 0) throw IoError(fmt::format("{}: cannot flush to disk: {}", o.path, std::strerror(errno)));
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) throw IoError(fmt::format("{}: cannot flush to disk: {}", o.path, std::strerror(errno)));
  }
}

void OutputSet::remove_temporaries() {
  for (Output& o : outputs_)
    if (!o.temp.empty()) {
      ::unlink(o.temp.c_str());
      o.temp.clear();
    }
}

std::vector<std::string> OutputSet::commit() {
  for (const Output& o : outputs_)
    VRAMFIT_CHECK(o.filled, "output " + o.what + " was declared but never given its content");
  check();  // again: the work between check() and commit() may have been long
  std::vector<std::string> made_dirs;
  try {
    write_temporaries(made_dirs);
    for (const Output& o : outputs_)
      if (o.path == "-") {
        if (std::fwrite(o.content.data(), 1, o.content.size(), stdout) != o.content.size() || std::fflush(stdout) != 0)
          throw IoError(fmt::format("standard output ({}): write failed: {}", o.what, std::strerror(errno)));
      }
  } catch (...) {
    remove_temporaries();
    for (auto it = made_dirs.rbegin(); it != made_dirs.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
  std::vector<std::string> written, dirs;
  for (Output& o : outputs_) {
    if (o.path == "-") continue;
    if (::rename(o.temp.c_str(), o.target.c_str()) != 0) {
      const int e = errno;
      remove_temporaries();
      throw IoError(fmt::format("{} ({}): cannot rename the temporary into place: {}{}", o.path, o.what, std::strerror(e),
                                written.empty() ? "" : fmt::format(" (already replaced: {})", fmt::join(written, ", "))));
    }
    o.temp.clear();
    written.push_back(o.path);
    dirs.push_back(dir_of(o.target));
  }
  for (const auto& d : dirs) fsync_dir(d);
  return written;
}

}  // namespace vramfit
