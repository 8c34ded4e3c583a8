#include "core/fault.h"

#include <atomic>

namespace vramfit::fault {

namespace {
std::string g_mode;              // written once by the worker before any engine code runs
std::atomic<bool> g_any{false};
}  // namespace

void arm(std::string_view mode) {
  g_mode = std::string(mode);
  g_any.store(!g_mode.empty(), std::memory_order_release);
}

void disarm() {
  g_any.store(false, std::memory_order_release);
  g_mode.clear();
}

bool armed(std::string_view mode) { return g_any.load(std::memory_order_acquire) && g_mode == mode; }

const std::string& armed_mode() { return g_mode; }

}  // namespace vramfit::fault
