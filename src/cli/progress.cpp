#include "cli/progress.h"

#include <cstdlib>
#include <string>
#include <utility>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

namespace vramfit::cli {

namespace {

std::size_t terminal_width(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

}  // namespace

Progress::Progress(std::size_t total, std::FILE* out) : out_(out), total_(total), start_(std::chrono::steady_clock::now()) {
  // VRAMFIT_PROGRESS=lines: one plain line per step ("vramfit-progress: 3/110 …"), for a program that
  // reads another's progress through a pipe (`vramfit fleet` reads its remote profiles' this way).
  const char* mode = std::getenv("VRAMFIT_PROGRESS");
  lines_ = out_ && mode && std::string(mode) == "lines";
  enabled_ = lines_ || (out_ && isatty(fileno(out_)) && std::getenv("VRAMFIT_NO_PROGRESS") == nullptr);
}

Progress::Progress(std::size_t total, std::string prefix) : out_(stderr), prefix_(std::move(prefix)), total_(total) {
  start_ = std::chrono::steady_clock::now();
  lines_ = std::getenv("VRAMFIT_NO_PROGRESS") == nullptr;
  enabled_ = lines_;
}

Progress::~Progress() { clear(); }

std::string Progress::format(std::size_t index, std::size_t total, double elapsed_s, const std::string& what,
                             std::size_t width) {
  const auto secs = static_cast<long long>(elapsed_s);
  const std::string count = total ? fmt::format("{}/{}", index, total) : fmt::format("{}", index);
  // Text from inputs (a GGUF name) reaches a terminal here: control characters become '?', so no escape
  // sequence of a file's making is ever interpreted.
  std::string shown = what;
  for (char& ch : shown)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  std::string line = fmt::format("[{} {}:{:02}] {}", count, secs / 60, secs % 60, shown);
  // One line, never wrapped: a wrapped line cannot be redrawn in place. Cut on a UTF-8 boundary.
  if (width > 1 && line.size() > width - 1) {
    std::size_t cut = width - 2;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line = line.substr(0, cut) + "…";
  }
  return line;
}

void Progress::step(std::size_t index, const std::string& what) {
  index_ = index;
  what_ = what;
  if (total_ && index_ > total_) total_ = index_;
  draw();
}

void Progress::set_total(std::size_t total) {
  total_ = total;
  draw();
}

void Progress::draw() {
  if (!enabled_) return;
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (lines_) {
    std::fprintf(out_, "%s: %s\n", prefix_.c_str(), format(index_, total_, el, what_, 400).c_str());
    std::fflush(out_);
    return;
  }
  const std::string line = format(index_, total_, el, what_, terminal_width(out_));
  std::fprintf(out_, "\r\033[2K%s", line.c_str());  // carriage return, erase the line, redraw
  std::fflush(out_);
  drawn_ = true;
}

void Progress::clear() {
  if (!enabled_ || !drawn_ || lines_) return;
  std::fprintf(out_, "\r\033[2K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace vramfit::cli
