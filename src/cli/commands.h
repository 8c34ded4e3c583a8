// cli/commands.h — subcommands. Each file in cli/ registers one subcommand on the CLI11 app.
// Library errors (vramfit::Error) are caught in main: InvalidInput → exit 2 with the message,
// other errors → exit 1. No stack traces reach the user.
#pragma once

namespace CLI { class App; }

namespace vramfit::cli {

int main(int argc, char** argv);

}  // namespace vramfit::cli
