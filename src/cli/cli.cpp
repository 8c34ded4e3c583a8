#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"

namespace vramfit::cli {

int main(int argc, char** argv) {
  CLI::App app{"vramfit — which models fit on which GPU, at which precision and batch, how fast"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vramfit ") + VRAMFIT_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "vramfit: error: %s\n", e.what());
    return e.kind() == ErrorKind::InvalidInput ? 2 : 1;
  }
  return 0;
}

}  // namespace vramfit::cli
