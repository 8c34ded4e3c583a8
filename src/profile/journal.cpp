// profile/journal.cpp — append-and-fsync journal. (Final files: core/output_set.h.)
#include "profile/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace vramfit::profile {

namespace {

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw IoError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string journal_key(const nlohmann::json& config) {
  nlohmann::json k = config;  // nlohmann::json objects keep keys sorted: the dump is canonical
  k.erase("worker_index");
  return k.dump();
}

Journal::Journal(std::string path, bool resume, std::vector<std::string>* warnings) : path_(std::move(path)) {
  if (!resume) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return;
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) return;  // nothing to resume from: a fresh start
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::size_t pos = 0, good_end = 0, line_no = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool whole = nl != std::string::npos;
    const std::string line = text.substr(pos, whole ? nl - pos : std::string::npos);
    const std::size_t next = whole ? nl + 1 : text.size();
    ++line_no;
    bool ok = false;
    nlohmann::json j;
    if (whole) {
      try {
        j = nlohmann::json::parse(line);
        ok = j.is_object() && j.contains("key") && j["key"].is_string() && j.contains("result") && j["result"].is_object();
      } catch (const nlohmann::json::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      const bool is_last = next >= text.size();
      if (!is_last)
        throw InvalidInput(fmt::format("{}: line {} is not a journal entry ({{\"key\": …, \"result\": …}}); the file was edited or "
                                       "corrupted — remove it or run without --resume",
                                       path_, line_no));
      if (warnings)
        warnings->push_back(fmt::format("{}: ignored the cut last line {} ({} bytes; the profile was killed while writing it)",
                                        path_, line_no, text.size() - pos));
      break;
    }
    entries_[j["key"].get<std::string>()] = j["result"];
    good_end = next;
    pos = next;
  }
  if (good_end < text.size()) {
    std::error_code ec;
    std::filesystem::resize_file(path_, good_end, ec);
    if (ec) throw IoError(fmt::format("{}: cannot truncate the cut last line: {}", path_, ec.message()));
  }
}

std::optional<nlohmann::json> Journal::find(const std::string& key) const {
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  return std::nullopt;
}

void Journal::append(const std::string& key, const nlohmann::json& result) {
  const std::string line = nlohmann::json{{"key", key}, {"result", result}}.dump() + "\n";
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(fmt::format("{}: cannot open the journal: {}", path_, std::strerror(errno)));
  try {
    write_all(fd, line, path_);
  } catch (...) {
    ::close(fd);
    throw;
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw IoError(fmt::format("{}: fsync failed: {}", path_, std::strerror(errno)));
  entries_[key] = result;
}

}  // namespace vramfit::profile
