// backend/cuda/device.cpp — device query and RAII owners (see device.h).
#include "backend/cuda/device.h"

#include <fmt/format.h>

#include <utility>

#include "backend/cuda/arch.h"
#include "backend/cuda/check.h"
#include "core/bytes.h"
#include "core/error.h"

namespace vramfit::cuda {

int cuda_device_count() noexcept {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    // cudaErrorNoDevice / cudaErrorInsufficientDriver are not sticky; clear them so that the next
    // cudaGetLastError() does not report this probe.
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

bool cuda_device_available() noexcept { return cuda_device_count() > 0; }

double DeviceInfo::peak_bandwidth_bytes_per_s() const {
  // memory_clock_khz is the DRAM clock; HBM and GDDR both move data on two edges per clock here, so
  // bytes/s = 2 · clock · bus_bits / 8 (the formula of the CUDA samples' deviceQuery).
  if (memory_clock_khz <= 0 || memory_bus_bits <= 0) return 0.0;
  return 2.0 * static_cast<double>(memory_clock_khz) * 1e3 * static_cast<double>(memory_bus_bits) / 8.0;
}

int DeviceInfo::compute_capability() const { return effective_cc(cc_major * 10 + cc_minor); }

std::string DeviceInfo::summary() const {
  const std::string assumed = assumed_sm_note(cc_major * 10 + cc_minor);
  return fmt::format("{} (sm_{}{}, {} SMs, {}, driver {}.{}, runtime {}.{}{})", name, cc_major, cc_minor, sm_count,
                     format_bytes(total_bytes), driver_version / 1000, (driver_version % 1000) / 10,
                     runtime_version / 1000, (runtime_version % 1000) / 10, assumed.empty() ? "" : "; " + assumed);
}

DeviceInfo query(int device) {
  const int count = cuda_device_count();
  if (device < 0 || device >= count)
    throw InvalidInput(fmt::format("CUDA device {} does not exist ({} device{} visible)", device, count,
                                   count == 1 ? "" : "s"));
  DeviceGuard guard(device);
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));

  DeviceInfo d;
  d.ordinal = device;
  d.name = prop.name;
  d.cc_major = prop.major;
  d.cc_minor = prop.minor;
  d.sm_count = prop.multiProcessorCount;
  d.memory_bus_bits = prop.memoryBusWidth;
  d.l2_bytes = static_cast<std::uint64_t>(prop.l2CacheSize);
  d.shared_mem_per_sm_bytes = static_cast<std::uint64_t>(prop.sharedMemPerMultiprocessor);

  char bus[32] = {0};
  CUDA_CHECK(cudaDeviceGetPCIBusId(bus, static_cast<int>(sizeof(bus)), device));
  d.pci_bus_id = bus;

  // CUDA 13 removed clockRate/memoryClockRate from cudaDeviceProp; the attributes remain. Some
  // platforms report them unsupported — then the clocks stay 0 ("where the runtime gives them").
  int v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, device) == cudaSuccess) d.clock_khz = v;
  else (void)cudaGetLastError();
  v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMemoryClockRate, device) == cudaSuccess) d.memory_clock_khz = v;
  else (void)cudaGetLastError();

  std::size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  d.free_bytes = free_b;
  d.total_bytes = total_b;

  CUDA_CHECK(cudaDriverGetVersion(&d.driver_version));
  CUDA_CHECK(cudaRuntimeGetVersion(&d.runtime_version));
  return d;
}

// ---- DeviceGuard ----

DeviceGuard::DeviceGuard(int device) {
  CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    CUDA_CHECK(cudaSetDevice(device));
    restore_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (restore_) (void)cudaSetDevice(previous_);  // a destructor must not throw; nothing to do on failure
}

// ---- Stream ----

Stream::Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

Stream::~Stream() {
  if (stream_) (void)cudaStreamDestroy(stream_);
}

Stream::Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}

Stream& Stream::operator=(Stream&& o) noexcept {
  std::swap(stream_, o.stream_);
  return *this;
}

void Stream::synchronize() const { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

// ---- Event ----

Event::Event() { CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDefault)); }

Event::~Event() {
  if (event_) (void)cudaEventDestroy(event_);
}

Event::Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}

Event& Event::operator=(Event&& o) noexcept {
  std::swap(event_, o.event_);
  return *this;
}

void Event::record(cudaStream_t stream) const { CUDA_CHECK(cudaEventRecord(event_, stream)); }

void Event::synchronize() const { CUDA_CHECK(cudaEventSynchronize(event_)); }

float Event::elapsed_ms(const Event& start, const Event& end) {
  float ms = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, end.event_));
  return ms;
}

// ---- GraphExec ----

GraphExec::~GraphExec() {
  if (exec_) (void)cudaGraphExecDestroy(exec_);
}

GraphExec::GraphExec(GraphExec&& o) noexcept
    : exec_(std::exchange(o.exec_, nullptr)), nodes_(std::exchange(o.nodes_, 0)) {}

GraphExec& GraphExec::operator=(GraphExec&& o) noexcept {
  std::swap(exec_, o.exec_);
  std::swap(nodes_, o.nodes_);
  return *this;
}

namespace {
// Owns a cudaGraph_t for the duration of capture() only.
struct GraphOwner {
  cudaGraph_t g = nullptr;
  ~GraphOwner() {
    if (g) (void)cudaGraphDestroy(g);
  }
};
}  // namespace

GraphExec GraphExec::capture(cudaStream_t stream, const std::function<void(cudaStream_t)>& work) {
  if (stream == nullptr || stream == cudaStreamLegacy)
    throw InvalidInput("GraphExec::capture: the legacy default stream cannot be captured; pass a created Stream");
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  GraphOwner graph;
  try {
    work(stream);
  } catch (...) {
    // Leave the stream out of capture mode whatever happened, then report the original error.
    (void)cudaStreamEndCapture(stream, &graph.g);
    (void)cudaGetLastError();
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph.g));
  if (graph.g == nullptr) throw InternalError("GraphExec::capture: cudaStreamEndCapture returned no graph");
  GraphExec out;
  CUDA_CHECK(cudaGraphGetNodes(graph.g, nullptr, &out.nodes_));
  CUDA_CHECK(cudaGraphInstantiate(&out.exec_, graph.g, 0));
  return out;
}

void GraphExec::launch(cudaStream_t stream) const {
  if (!exec_) throw InternalError("GraphExec::launch on an empty graph");
  CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

// ---- library handles ----

CudnnHandle::CudnnHandle() { CUDNN_CHECK(cudnnCreate(&handle_)); }

CudnnHandle::~CudnnHandle() {
  if (handle_) (void)cudnnDestroy(handle_);
}

CudnnHandle::CudnnHandle(CudnnHandle&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}

CudnnHandle& CudnnHandle::operator=(CudnnHandle&& o) noexcept {
  std::swap(handle_, o.handle_);
  return *this;
}

CublasLtHandle::CublasLtHandle() { CUBLAS_CHECK(cublasLtCreate(&handle_)); }

CublasLtHandle::~CublasLtHandle() {
  if (handle_) (void)cublasLtDestroy(handle_);
}

CublasLtHandle::CublasLtHandle(CublasLtHandle&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}

CublasLtHandle& CublasLtHandle::operator=(CublasLtHandle&& o) noexcept {
  std::swap(handle_, o.handle_);
  return *this;
}

}  // namespace vramfit::cuda
