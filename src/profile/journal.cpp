// profile/journal.cpp — append-and-fsync journal. (Final files: core/output_set.h.)
#include "profile/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <fmt/format.h>

#include "core/error.h"
#include "core/input_file.h"

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
  k.erase("process");  // which child answers (profile/matrix.h) does not change the answer
  return k.dump();
}

namespace {

// "3, 7, 9" — at most ten line numbers, then how many more.
std::string line_list(const std::vector<std::size_t>& lines) {
  std::string s;
  for (std::size_t i = 0; i < lines.size() && i < 10; ++i) s += (i ? ", " : "") + std::to_string(lines[i]);
  if (lines.size() > 10) s += fmt::format(" and {} more", lines.size() - 10);
  return s;
}

// One line's entry, or nullopt when the line is not {"key": string, "result": object}.
std::optional<std::pair<std::string, nlohmann::json>> parse_entry(std::string_view line) {
  try {
    nlohmann::json j = nlohmann::json::parse(line);
    if (!j.is_object() || !j.contains("key") || !j["key"].is_string() || !j.contains("result") || !j["result"].is_object())
      return std::nullopt;
    return std::make_pair(j["key"].get<std::string>(), std::move(j["result"]));
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Journal::Journal(std::string path, bool resume, std::vector<std::string>* warnings) : path_(std::move(path)) {
  if (!resume) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return;
  }
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path_, ec))) return;  // nothing to resume from
  const std::string text = read_input_file(path_, "profile journal (journal.jsonl written by `vramfit profile`)", kMaxJournalBytes);
  std::vector<std::size_t> bad, repeated;
  std::map<std::string, std::size_t> line_of;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool whole = nl != std::string::npos;
    const std::string_view line = std::string_view(text).substr(pos, whole ? nl - pos : std::string::npos);
    const std::size_t start = pos;
    pos = whole ? nl + 1 : text.size();
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // a blank line holds nothing
    auto entry = parse_entry(line);
    if (!entry && !whole) {
      // A kill cut the last line: nothing of it is usable. Cut it off so the next append starts on
      // a line of its own; every byte before it stays as it was.
      if (warnings)
        warnings->push_back(fmt::format("{}: ignored the cut last line {} ({} bytes; the profile was killed while writing it)",
                                        path_, line_no, text.size() - start));
      std::filesystem::resize_file(path_, start, ec);
      if (ec) throw IoError(fmt::format("{}: cannot truncate the cut last line: {}", path_, ec.message()));
      break;
    }
    if (!entry) {
      bad.push_back(line_no);
      continue;
    }
    // A whole entry without its newline (the write stopped just before it): kept, and the next
    // append starts a new line first.
    needs_newline_ = !whole;
    if (const auto [it, fresh] = line_of.emplace(entry->first, line_no); !fresh) {
      repeated.push_back(line_no);
      it->second = line_no;
    }
    entries_[std::move(entry->first)] = std::move(entry->second);  // a later line is the newer result
  }
  if (!warnings) return;
  if (!bad.empty())
    warnings->push_back(fmt::format("{}: ignored {} line{} that {} not journal entries ({{\"key\": …, \"result\": …}}): line{} {}; "
                                    "the file was edited or corrupted, and those configurations run again",
                                    path_, bad.size(), bad.size() == 1 ? "" : "s", bad.size() == 1 ? "is" : "are",
                                    bad.size() == 1 ? "" : "s", line_list(bad)));
  if (!repeated.empty())
    warnings->push_back(fmt::format("{}: line{} {} repeat{} the configuration of an earlier line; the later result is used", path_,
                                    repeated.size() == 1 ? "" : "s", line_list(repeated), repeated.size() == 1 ? "s" : ""));
}

std::optional<nlohmann::json> Journal::find(const std::string& key) const {
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  return std::nullopt;
}

void Journal::append(const std::string& key, const nlohmann::json& result) {
  std::string line = needs_newline_ ? "\n" : "";
  line += nlohmann::json{{"key", key}, {"result", result}}.dump();
  line += '\n';
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
  needs_newline_ = false;
}

}  // namespace vramfit::profile
