// backend/cuda/arena.h — all device memory of a session, from one cudaMalloc (DESIGN rule 3).
//
// A DeviceArena makes exactly one cudaMalloc of its capacity at construction and hands out named,
// aligned regions from it by bumping an offset: weights, the planned activation arena
// (graph/planner.h Plan::arena_bytes), library workspaces, the KV cache. Nothing is freed piecemeal:
// regions live as long as the arena (rewind() to a mark() is for scratch such as autotuning).
// Because nothing else in the backend calls cudaMalloc, the arena's capacity is what the device's own
// count (cudaMemGetInfo) moves by — a GPU test checks this — and used()/peak()/breakdown() are the
// session's VRAM report.
//
// In:  capacity (what the session needs, from the planner) and budget (free memory, or the emulated
//      card of --vram-limit). Out: Regions (device pointers) and the accounting.
// Errors: OutOfMemory when capacity exceeds the budget (before touching the device), when the device
//      refuses the allocation, or when a region does not fit; InvalidInput for a bad alignment.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vramfit::cuda {

struct Region {
  void* ptr = nullptr;
  std::uint64_t offset = 0;  // from the arena's base
  std::uint64_t bytes = 0;   // as requested (the padding before it counts as used, not as the tag's)
  std::string tag;

  template <class T> T* as() const { return static_cast<T*>(ptr); }
};

class DeviceArena {
 public:
  // cudaMalloc alignment is at least 256 bytes (CUDA C++ Programming Guide, "Device Memory Accesses"),
  // which is also what cuBLASLt's heuristics assume by default.
  static constexpr std::uint64_t kDefaultAlignment = 256;

  DeviceArena() = default;  // empty: capacity 0, allocates nothing
  // Throws OutOfMemory("device arena needs X, budget Y") if capacity > budget, else allocates once on
  // the current device (OutOfMemory naming the sizes if the device refuses).
  DeviceArena(std::uint64_t capacity_bytes, std::uint64_t budget_bytes);
  ~DeviceArena();
  DeviceArena(DeviceArena&& o) noexcept;
  DeviceArena& operator=(DeviceArena&& o) noexcept;
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Next `bytes` at an address aligned to `alignment` (a power of two). A zero-byte region is valid
  // (its pointer is aligned and must not be dereferenced). Throws OutOfMemory if it does not fit.
  Region allocate(std::uint64_t bytes, std::uint64_t alignment, std::string tag);
  Region allocate(std::uint64_t bytes, std::string tag) { return allocate(bytes, kDefaultAlignment, std::move(tag)); }

  // Scratch: remember the bump offset and later give everything after it back. Regions handed out
  // after the mark become invalid; the tag breakdown is reduced accordingly; peak() is kept.
  struct Mark {
    std::uint64_t used = 0;
    std::size_t regions = 0;
  };
  Mark mark() const { return Mark{used_, regions_.size()}; }
  void rewind(const Mark& m);

  void* base() const { return base_; }
  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t budget() const { return budget_; }
  std::uint64_t used() const { return used_; }         // bump offset, alignment padding included
  std::uint64_t available() const { return capacity_ - used_; }
  std::uint64_t peak() const { return peak_; }         // highest used() ever
  int device() const { return device_; }
  // Requested bytes per tag ("weights", "activations", "workspace", "kv", …).
  const std::map<std::string, std::uint64_t>& breakdown() const { return by_tag_; }
  const std::vector<Region>& regions() const { return regions_; }
  // True when [p, p+bytes) lies inside the arena (for the executor's sanity checks).
  bool contains(const void* p, std::uint64_t bytes) const;

 private:
  void release() noexcept;

  void* base_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t budget_ = 0;
  std::uint64_t used_ = 0;
  std::uint64_t peak_ = 0;
  int device_ = 0;
  std::map<std::string, std::uint64_t> by_tag_;
  std::vector<Region> regions_;
};

}  // namespace vramfit::cuda
