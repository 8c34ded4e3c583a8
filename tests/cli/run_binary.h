// tests/cli/run_binary.h — run a shell command (the built vramfit, usually) and keep its exit status
// and what it printed: the CLI tests' one way of meeting the binary as a user does.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cli_test {

struct Result {
  int status = -1;  // the exit status; -1 when it did not exit (a signal) or could not start
  std::string out;  // standard output (and standard error where the command sends it there)
};

inline Result sh(const std::string& cmd) {
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// `vramfit ARGS`, with standard error in `out` too or thrown away.
inline Result run_vramfit(const std::string& args, bool with_stderr) {
  return sh(std::string(VRAMFIT_BINARY) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace cli_test
