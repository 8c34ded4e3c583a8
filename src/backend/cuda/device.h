// backend/cuda/device.h — the CUDA backend's foundation: which GPU this is, and RAII owners for the
// resources every later piece uses (streams, events, captured CUDA graphs, cuDNN and cuBLASLt handles).
//
// The CUDA backend (this folder), in reading order:
//   check.h            CUDA_CHECK / CUDNN_CHECK / CUBLAS_CHECK: every call checked, typed errors.
//   device.h           this file: DeviceInfo (what `vramfit devices` prints first), Stream, Event,
//                      GraphExec, CudnnHandle, CublasLtHandle.
//   library_versions.h cuDNN / cuBLASLt / CUDA versions loaded at run time vs. built against.
//   arena.h            DeviceArena: the session's one cudaMalloc, a hard budget, named regions, peak.
//   cudnn_conv.h       ConvRunner: one Conv2d node (+bias, +ReLU, +residual) via cuDNN.
//   cublaslt_gemm.h    LinearRunner: one Linear node (+bias, +act, +residual) via cuBLASLt.
//   cudnn_sdpa.h, attention_runner.h   Attention: cuDNN's fused SDPA or our kernel, the faster.
//   algorithm_cache.h  AlgorithmCache: the runners' choices by shape, owned by a session, not a static.
//   kernels/*.cuh      our own kernels (norms, attention, pooling, elementwise, layout/cast).
// The executor (executor.h; executor_lowering.h per op family) binds a graph/planner.h Plan to one
// DeviceArena, gates every node, prepares one runner per node, and replays the whole forward pass as
// a GraphExec.
//
// In: a device ordinal. Out: DeviceInfo; owners that free their resource exactly once (non-copyable,
// movable), so no cleanup ladders. Owners are created on the current device (cudaSetDevice first).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <functional>
#include <string>

namespace vramfit::cuda {

// True when at least one CUDA device can be used. Never throws: no driver, a driver too old for this
// runtime, or zero devices all give false.
bool cuda_device_available() noexcept;

// Number of CUDA devices (0 where none or no driver). Never throws.
int cuda_device_count() noexcept;

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  std::string pci_bus_id;        // "0000:1B:00.0"
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  std::uint64_t total_bytes = 0;  // cudaMemGetInfo: what the driver lets this process see
  std::uint64_t free_bytes = 0;   // at the moment of the query (this process's context included)
  int clock_khz = 0;              // peak SM clock (cudaDevAttrClockRate); 0 where the runtime gives none
  int memory_clock_khz = 0;       // peak memory clock (cudaDevAttrMemoryClockRate); 0 where none
  int memory_bus_bits = 0;
  std::uint64_t l2_bytes = 0;
  std::uint64_t shared_mem_per_sm_bytes = 0;
  int driver_version = 0;   // cudaDriverGetVersion: 1000·major + 10·minor (13000 = 13.0)
  int runtime_version = 0;  // cudaRuntimeGetVersion, same encoding

  // What vramfit's gates use: the card's (90 for sm_90), or less under VRAMFIT_ASSUME_SM or a build
  // without sm_90 code (arch.h). cc_major/cc_minor stay the card's.
  int compute_capability() const;
  // Theoretical DRAM bandwidth in bytes/s: 2 transfers per clock (DDR) × bus width; 0 when unknown.
  double peak_bandwidth_bytes_per_s() const;
  std::string summary() const;  // "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB, driver 13.0, runtime 13.0)"
};

// Queries device `device` (creates its primary context for cudaMemGetInfo; restores the current
// device afterwards). Throws InvalidInput for an ordinal out of range.
DeviceInfo query(int device);

// Sets the current device for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool restore_ = false;
};

class Stream {
 public:
  Stream();  // non-blocking with respect to the legacy default stream
  ~Stream();
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  operator cudaStream_t() const { return stream_; }  // NOLINT: pass where a cudaStream_t is wanted
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event();  // with timing
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) const;
  void synchronize() const;
  // Milliseconds between two recorded events (cudaEventElapsedTime; resolution about 0.5 µs).
  static float elapsed_ms(const Event& start, const Event& end);

 private:
  cudaEvent_t event_ = nullptr;
};

// A stream's work captured once (cudaStreamBeginCapture … cudaStreamEndCapture), instantiated, and
// replayed with one launch: the executor's forward pass costs one API call per iteration.
// Capture uses cudaStreamCaptureModeThreadLocal: an unsafe call (cudaMalloc, a synchronize) on the
// capturing thread invalidates the capture and is reported, without policing other threads.
class GraphExec {
 public:
  GraphExec() = default;
  ~GraphExec();
  GraphExec(GraphExec&& o) noexcept;
  GraphExec& operator=(GraphExec&& o) noexcept;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  // Runs `work(stream)` under capture. `stream` must be a created stream (the legacy default stream
  // cannot be captured). If `work` throws, the capture is ended and discarded and the error rethrown.
  static GraphExec capture(cudaStream_t stream, const std::function<void(cudaStream_t)>& work);

  void launch(cudaStream_t stream) const;
  bool empty() const { return exec_ == nullptr; }
  std::size_t node_count() const { return nodes_; }

 private:
  cudaGraphExec_t exec_ = nullptr;
  std::size_t nodes_ = 0;
};

class CudnnHandle {
 public:
  CudnnHandle();
  ~CudnnHandle();
  CudnnHandle(CudnnHandle&& o) noexcept;
  CudnnHandle& operator=(CudnnHandle&& o) noexcept;
  CudnnHandle(const CudnnHandle&) = delete;
  CudnnHandle& operator=(const CudnnHandle&) = delete;

  cudnnHandle_t get() const { return handle_; }
  operator cudnnHandle_t() const { return handle_; }  // NOLINT

 private:
  cudnnHandle_t handle_ = nullptr;
};

class CublasLtHandle {
 public:
  CublasLtHandle();
  ~CublasLtHandle();
  CublasLtHandle(CublasLtHandle&& o) noexcept;
  CublasLtHandle& operator=(CublasLtHandle&& o) noexcept;
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;

  cublasLtHandle_t get() const { return handle_; }
  operator cublasLtHandle_t() const { return handle_; }  // NOLINT

 private:
  cublasLtHandle_t handle_ = nullptr;
};

}  // namespace vramfit::cuda
