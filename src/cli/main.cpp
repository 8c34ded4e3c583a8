// cli/main.cpp — entry point; the only place (with the other cli/ files) that prints and exits.
#include "cli/commands.h"

int main(int argc, char** argv) { return vramfit::cli::main(argc, argv); }
