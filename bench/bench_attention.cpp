// bench/bench_attention.cpp — our FlashAttention kernel (kernels/attention.cuh) vs cuDNN's fused SDPA
// (backend/cuda/cudnn_sdpa.h) at ViT shapes, on the GPU it runs on (target bench_attention, CUDA only).
//
// In:  optional flags: --dtype f16|bf16|both (default both), --batches 1,64,256, --shape B,S,E,H (adds
//      a custom shape, repeatable), --workspace MiB (cuDNN's budget, default 128 as the executor's).
// Out: one row per shape: our kernel's ms and TFLOP/s, cuDNN's best plan's ms and TFLOP/s, which wins,
//      the speed ratio, and max|cuDNN − ours| as a sanity check of the two outputs on the same input.
//      FLOPs = 4·B·H·S²·d (two matrix products per head, no padding counted). Times are means over
//      about 50 ms of back-to-back launches after a warm-up (CUDA events), the same method for both.
// Exit status 0 unless something failed (a cuDNN "no plan" is a row saying so, not a failure).
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/cudnn_sdpa.h"
#include "backend/cuda/device.h"
#include "backend/cuda/kernels/attention.cuh"
#include "backend/cuda/kernels/layout.cuh"
#include "core/half.h"

namespace {

using namespace vramfit;
using namespace vramfit::cuda;

struct Shape {
  std::string model;
  std::int64_t batch, seq, embed, heads;
};

class Buffer {
 public:
  explicit Buffer(std::size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMalloc(&p_, bytes));
  }
  ~Buffer() {
    if (p_) (void)cudaFree(p_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

template <class F>
double mean_ms(cudaStream_t s, F&& fn) {
  Event a, b;
  fn();
  fn();
  a.record(s);
  fn();
  b.record(s);
  b.synchronize();
  const double once = Event::elapsed_ms(a, b);
  const int n = once > 0 ? std::clamp(static_cast<int>(50.0 / once), 5, 2000) : 2000;
  a.record(s);
  for (int i = 0; i < n; ++i) fn();
  b.record(s);
  b.synchronize();
  return Event::elapsed_ms(a, b) / static_cast<double>(n);
}

std::vector<float> download(DType dt, const void* p, std::size_t n) {
  std::vector<std::uint16_t> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = dt == DType::f16 ? half_bits_to_float(h[i]) : bf16_bits_to_float(h[i]);
  return out;
}

std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoll(item));
  return v;
}

int run(int argc, char** argv) {
  std::vector<DType> dtypes{DType::f16, DType::bf16};
  std::vector<std::int64_t> batches{1, 64, 256};
  std::vector<Shape> custom;
  std::uint64_t workspace = 128ull << 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw InvalidInput(a + " needs a value");
      return argv[++i];
    };
    if (a == "--dtype") {
      const std::string v = next();
      if (v == "f16") dtypes = {DType::f16};
      else if (v == "bf16") dtypes = {DType::bf16};
      else if (v == "both") dtypes = {DType::f16, DType::bf16};
      else throw InvalidInput("--dtype f16|bf16|both");
    } else if (a == "--batches") {
      batches = parse_list(next());
    } else if (a == "--shape") {
      const auto v = parse_list(next());
      if (v.size() != 4) throw InvalidInput("--shape B,S,E,H");
      custom.push_back({"custom", v[0], v[1], v[2], v[3]});
    } else if (a == "--workspace") {
      workspace = static_cast<std::uint64_t>(std::stoll(next())) << 20;
    } else {
      std::printf("usage: bench_attention [--dtype f16|bf16|both] [--batches 1,64,256] [--shape B,S,E,H]... "
                  "[--workspace MiB]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  std::vector<Shape> shapes;
  for (std::int64_t b : batches) {
    shapes.push_back({"vit-b16", b, 197, 768, 12});
    shapes.push_back({"vit-l16", b, 197, 1024, 16});
  }
  shapes.insert(shapes.end(), custom.begin(), custom.end());

  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  const DeviceInfo info = query(dev);
  std::printf("%s\ncuDNN loaded %zu (built against %d), workspace budget %llu MiB\n\n", info.summary().c_str(),
              cudnnGetVersion(), CUDNN_VERSION, static_cast<unsigned long long>(workspace >> 20));
  std::printf("%-8s %-5s %-22s %9s %8s %9s %8s  %-7s %6s %10s  %s\n", "model", "dtype", "shape B/S/E/H", "ours ms",
              "TFLOP/s", "cuDNN ms", "TFLOP/s", "winner", "ratio", "max|diff|", "cuDNN plan");
  CudnnHandle handle;
  Stream stream;
  Buffer ws(workspace);
  int failures = 0;
  for (DType dt : dtypes) {
    for (const Shape& sh : shapes) {
      kernels::AttentionDims d{sh.batch, sh.seq, sh.embed, sh.heads};
      SdpaParams p;
      p.batch = sh.batch;
      p.seq = sh.seq;
      p.embed = sh.embed;
      p.heads = sh.heads;
      p.dtype = dt;
      const std::int64_t n_in = sh.batch * sh.seq * 3 * sh.embed, n_out = sh.batch * sh.seq * sh.embed;
      Buffer qkv(static_cast<std::size_t>(n_in) * 2), y_ours(static_cast<std::size_t>(n_out) * 2),
          y_cudnn(static_cast<std::size_t>(n_out) * 2);
      kernels::fill_normal(dt, qkv.get(), n_in, kernels::NormalFill{7, 11, 0, 0.0f, 1.0f, false}, stream.get());
      stream.synchronize();
      const double flops = p.flops();
      const std::string shape = fmt::format("{}/{}/{}/{}", sh.batch, sh.seq, sh.embed, sh.heads);
      double ours = -1;
      std::string ours_note;
      if (auto why = kernels::attention_unsupported(dt, d.head_dim(), info.compute_capability())) {
        ours_note = *why;
      } else {
        ours = mean_ms(stream.get(), [&] { kernels::attention(dt, qkv.get(), y_ours.get(), d, stream.get()); });
      }
      double theirs = -1;
      std::string plan, note;
      double diff = -1;
      try {
        if (auto why = CudnnSdpa::unsupported_reason(p, info.compute_capability())) throw Unsupported(*why);
        CudnnSdpa r(handle.get(), p, workspace);
        r.tune(stream.get(), qkv.get(), y_cudnn.get(), ws.get());
        theirs = mean_ms(stream.get(), [&] { r.run(stream.get(), qkv.get(), y_cudnn.get(), ws.get()); });
        plan = r.describe();
        for (std::size_t i = 0; i < r.plans().size(); ++i)
          if (i != r.chosen()) plan += fmt::format("; {} {:.4f} ms", r.plans()[i].name, r.plans()[i].time_ms);
        if (ours > 0) {
          const auto a = download(dt, y_ours.get(), static_cast<std::size_t>(n_out));
          const auto b = download(dt, y_cudnn.get(), static_cast<std::size_t>(n_out));
          diff = 0;
          for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
          if (!std::isfinite(diff)) ++failures;
        }
      } catch (const Unsupported& e) {
        const std::string w = e.what();
        note = "cuDNN: " + w.substr(0, w.find('\n'));
      }
      auto tf = [&](double ms) { return ms > 0 ? fmt::format("{:8.1f}", flops / ms * 1e-9) : std::string("       -"); };
      auto ms_s = [](double ms) { return ms > 0 ? fmt::format("{:9.4f}", ms) : std::string("        -"); };
      std::string winner = "-", ratio = "-";
      if (ours > 0 && theirs > 0) {
        winner = theirs < ours ? "cudnn" : "flash";
        ratio = fmt::format("{:.2f}x", std::max(ours, theirs) / std::min(ours, theirs));
      } else if (ours > 0) {
        winner = "flash";
      } else if (theirs > 0) {
        winner = "cudnn";
      }
      std::printf("%-8s %-5s %-22s %s %s %s %s  %-7s %6s %10s  %s%s%s\n", sh.model.c_str(), to_string(dt).data(),
                  shape.c_str(), ms_s(ours).c_str(), tf(ours).c_str(), ms_s(theirs).c_str(), tf(theirs).c_str(),
                  winner.c_str(), ratio.c_str(), diff >= 0 ? fmt::format("{:.2e}", diff).c_str() : "-", plan.c_str(),
                  note.c_str(), ours_note.empty() ? "" : (" ours: " + ours_note).c_str());
    }
  }
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_attention: %s\n", e.what());
    return 1;
  }
}
