// backend/cuda/arena.cpp — the session's one device allocation (see arena.h).
#include "backend/cuda/arena.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "backend/cuda/check.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/fault.h"

namespace vramfit::cuda {

DeviceArena::DeviceArena(std::uint64_t capacity_bytes, std::uint64_t budget_bytes)
    : capacity_(capacity_bytes), budget_(budget_bytes) {
  if (capacity_bytes > budget_bytes)
    throw OutOfMemory(fmt::format("device arena needs {} ({} B), budget {} ({} B)", format_bytes(capacity_bytes),
                                  capacity_bytes, format_bytes(budget_bytes), budget_bytes));
  CUDA_CHECK(cudaGetDevice(&device_));
  if (capacity_bytes == 0) return;
  void* p = nullptr;
  // VRAMFIT_FAULT=alloc (core/fault.h): this allocation is refused as the driver would refuse it.
  const cudaError_t e = fault::armed("alloc") ? cudaErrorMemoryAllocation : cudaMalloc(&p, static_cast<std::size_t>(capacity_bytes));
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // not sticky: clear it so later checks do not see it
    std::size_t free_b = 0, total_b = 0;
    const bool known = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
    if (!known) (void)cudaGetLastError();
    throw OutOfMemory(fmt::format("device arena needs {} ({} B), the device refused it ({}){}",
                                  format_bytes(capacity_bytes), capacity_bytes,
                                  known ? fmt::format("free {} of {}", format_bytes(free_b), format_bytes(total_b))
                                        : std::string("free memory unknown"),
                                  fault::armed("alloc") ? " [injected by VRAMFIT_FAULT=alloc]" : ""));
  }
  if (e != cudaSuccess) detail::throw_cuda(e, "cudaMalloc(&base, capacity)", __func__, __FILE__, __LINE__);
  base_ = p;
}

DeviceArena::~DeviceArena() { release(); }

void DeviceArena::release() noexcept {
  if (!base_) return;
  int previous = -1;
  const bool have_previous = cudaGetDevice(&previous) == cudaSuccess;
  if (have_previous && previous != device_) (void)cudaSetDevice(device_);
  (void)cudaFree(base_);  // nothing useful to do on failure in a destructor (a sticky error is reported elsewhere)
  if (have_previous && previous != device_) (void)cudaSetDevice(previous);
  base_ = nullptr;
}

DeviceArena::DeviceArena(DeviceArena&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      capacity_(std::exchange(o.capacity_, 0)),
      budget_(std::exchange(o.budget_, 0)),
      used_(std::exchange(o.used_, 0)),
      peak_(std::exchange(o.peak_, 0)),
      device_(o.device_),
      by_tag_(std::move(o.by_tag_)),
      regions_(std::move(o.regions_)) {
  o.by_tag_.clear();
  o.regions_.clear();
}

DeviceArena& DeviceArena::operator=(DeviceArena&& o) noexcept {
  if (this != &o) {
    release();
    base_ = std::exchange(o.base_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    budget_ = std::exchange(o.budget_, 0);
    used_ = std::exchange(o.used_, 0);
    peak_ = std::exchange(o.peak_, 0);
    device_ = o.device_;
    by_tag_ = std::move(o.by_tag_);
    regions_ = std::move(o.regions_);
    o.by_tag_.clear();
    o.regions_.clear();
  }
  return *this;
}

Region DeviceArena::allocate(std::uint64_t bytes, std::uint64_t alignment, std::string tag) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw InvalidInput(fmt::format("device arena: region '{}' asks for alignment {}, which is not a power of two",
                                   tag, alignment));
  // Align the absolute address (the base is only guaranteed 256-aligned).
  const auto base_addr = reinterpret_cast<std::uintptr_t>(base_);
  const std::uint64_t addr = static_cast<std::uint64_t>(base_addr) + used_;
  const std::uint64_t aligned = (addr + (alignment - 1)) & ~(alignment - 1);
  const std::uint64_t offset = aligned - static_cast<std::uint64_t>(base_addr);
  if (offset > capacity_ || bytes > capacity_ - offset)
    throw OutOfMemory(fmt::format("device arena: region '{}' needs {} ({} B) at offset {}, capacity {} ({} B); "
                                  "{} used by {} region{}",
                                  tag, format_bytes(bytes), bytes, offset, format_bytes(capacity_), capacity_,
                                  format_bytes(used_), regions_.size(), regions_.size() == 1 ? "" : "s"));
  Region r;
  r.ptr = base_ ? static_cast<void*>(static_cast<char*>(base_) + offset) : nullptr;
  r.offset = offset;
  r.bytes = bytes;
  r.tag = std::move(tag);
  used_ = offset + bytes;
  peak_ = std::max(peak_, used_);
  by_tag_[r.tag] += bytes;
  regions_.push_back(r);
  return r;
}

void DeviceArena::rewind(const Mark& m) {
  if (m.used > used_ || m.regions > regions_.size())
    throw InternalError(fmt::format("device arena: rewind to a mark ({} B, {} regions) past the current state "
                                    "({} B, {} regions)",
                                    m.used, m.regions, used_, regions_.size()));
  for (std::size_t i = m.regions; i < regions_.size(); ++i) {
    auto it = by_tag_.find(regions_[i].tag);
    if (it != by_tag_.end()) {
      it->second -= regions_[i].bytes;
      if (it->second == 0) by_tag_.erase(it);
    }
  }
  regions_.resize(m.regions);
  used_ = m.used;
}

bool DeviceArena::contains(const void* p, std::uint64_t bytes) const {
  if (!base_ || !p) return false;
  const auto b = reinterpret_cast<std::uintptr_t>(base_);
  const auto q = reinterpret_cast<std::uintptr_t>(p);
  if (q < b) return false;
  const std::uint64_t off = static_cast<std::uint64_t>(q - b);
  return off <= capacity_ && bytes <= capacity_ - off;
}

}  // namespace vramfit::cuda
