// cli/commands.h — the subcommands. Each cli/<name>_cmd.cpp registers one subcommand on the CLI11
// app and returns the function that runs it after parsing. cli.cpp catches vramfit::Error:
// InvalidInput → exit 2 with the message; any other error → exit 1. No stack traces reach the user.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace CLI { class App; }

namespace vramfit::cli {

using Runner = std::function<int()>;

Runner register_models(CLI::App& app);
Runner register_plan(CLI::App& app);
Runner register_run(CLI::App& app);
Runner register_devices(CLI::App& app);
Runner register_profile(CLI::App& app);
Runner register_report(CLI::App& app);
Runner register_llm(CLI::App& app);
Runner register_fleet(CLI::App& app);
Runner register_labels(CLI::App& app);

// "a,b c" → {"a", "b", "c"}: list flags accept space- or comma-separated values.
std::vector<std::string> split_list(const std::vector<std::string>& raw);
// Integers from a list ("1,8,64"); InvalidInput naming the flag on a bad, < 1 or > max entry, or a
// list given empty. The default max is core/checked.h's limits::kMaxBatch (= kMaxContext, 2^31).
std::vector<long long> parse_int_list(const std::vector<std::string>& raw, const std::string& flag,
                                      long long max = 1ll << 31);

// The GPU spec database: --gpus FILE, else $VRAMFIT_GPUS, else data/gpus.toml near the binary (plan_cmd.cpp).
std::filesystem::path find_gpu_database(const std::string& flag);

int main(int argc, char** argv);

}  // namespace vramfit::cli
