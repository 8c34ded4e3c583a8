// profile/journal.h — nothing is lost (DESIGN rule 6).
//
// Every worker result is appended to DIR/journal.jsonl as one line {"key": …, "result": …} and
// fsync'ed before the matrix goes on, so a SIGKILL of the whole profile loses at most the worker in
// flight. `--resume` reads the journal back and answers finished configurations from it instead of
// running them again. The key is the worker's configuration without its worker index, so a resume
// with other options (another --vram-limit) does not reuse results that do not apply.
//
// Reading is forgiving, because a journal holds hours of measurements: every valid line is kept.
// A kill can cut the last line; it is ignored with a warning and cut off the file so that the next
// append starts clean (nothing else is ever rewritten). A line that is not an entry (the file was
// edited or corrupted) is skipped with a warning naming the file and the line numbers; its
// configuration simply runs again. A configuration journaled twice keeps its later line (a warning
// names the repeats). The journal must be a regular file of at most kMaxJournalBytes
// (core/input_file.h); anything else is an InvalidInput naming it.
//
// The final files (profile.json, constraints.md, report.html) are written together by the command
// through core/output_set.h: temporaries beside them, fsync'ed, renamed only when all were written.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vramfit::profile {

class Journal {
 public:
  // resume=false starts a new journal (an existing one is replaced); resume=true reads it.
  // Warnings (a cut last line, skipped or repeated lines) are appended to `warnings`.
  Journal(std::string path, bool resume, std::vector<std::string>* warnings = nullptr);

  const std::string& path() const { return path_; }
  std::optional<nlohmann::json> find(const std::string& key) const;
  // Appends one line and fsyncs it; IoError when the write fails.
  void append(const std::string& key, const nlohmann::json& result);
  std::size_t size() const { return entries_.size(); }

 private:
  std::string path_;
  std::map<std::string, nlohmann::json> entries_;
  bool needs_newline_ = false;  // the file ends in a whole entry without its '\n'
};

// The journal key of a worker configuration: its JSON without "worker_index", keys sorted.
std::string journal_key(const nlohmann::json& config);

}  // namespace vramfit::profile
