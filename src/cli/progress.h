// cli/progress.h — the one-line progress indicator of long commands (profile, run sweeps, llm,
// report over many systems): "[3/14 0:12] resnet50 fp16 batch 256 …", redrawn in place on stderr.
//
// Only on a terminal: when stderr is not a TTY (a pipe, a file, CI) or VRAMFIT_NO_PROGRESS is set, it
// prints nothing, so logs and machine-read output stay clean. The line is cleared when the work ends
// (or when the object goes out of scope), so tables printed afterwards start on a clean line.
// Library stages never print: they take a callback (e.g. profile::ProgressFn) that cli/ points here.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace vramfit::cli {

class Progress {
 public:
  // total 0: the count is not known in advance ("[3 0:12] …").
  explicit Progress(std::size_t total, std::FILE* out = stderr);
  // Several at once (one per GPU of `profile --device all`): plain lines "<prefix>: [3/110 0:12] …",
  // one per step, since two redrawn lines would overwrite each other.
  Progress(std::size_t total, std::string prefix);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Starts step `index` (1-based) described by `what`; redraws the line.
  void step(std::size_t index, const std::string& what);
  // Starts the next step (index = previous + 1).
  void next(const std::string& what) { step(index_ + 1, what); }
  // Grows the total (a search that adds probes) and redraws.
  void set_total(std::size_t total);
  // Clears the line (idempotent).
  void clear();
  bool active() const { return enabled_; }

  // The text of the line without terminal codes (tested without a TTY).
  static std::string format(std::size_t index, std::size_t total, double elapsed_s, const std::string& what,
                            std::size_t width);

 private:
  void draw();
  std::FILE* out_;
  bool enabled_ = false;
  bool lines_ = false;  // VRAMFIT_PROGRESS=lines, or a prefix given
  std::string prefix_ = "vramfit-progress";
  bool drawn_ = false;
  std::size_t total_ = 0;
  std::size_t index_ = 0;
  std::string what_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vramfit::cli
