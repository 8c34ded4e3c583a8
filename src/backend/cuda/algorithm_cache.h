// backend/cuda/algorithm_cache.h — the algorithm choices a process has made, by shape: one object,
// owned by whoever decides how long choices live, handed to the runners that read and fill it.
//
// What it holds (each table keyed by the runner's own shape key, see the runner headers):
//   conv       cudnn_conv.h ConvRunner      key "ConvParams|ws=…|dev=…|sm=…|cudnn=…" → ConvChoice
//   linear     cublaslt_gemm.h LinearRunner  key "LinearParams|ws=…|dev=…|sm=…|cublasLt=…" → LinearChoice
//   attention  attention_runner.h            key "B256 S197 E768 H12 f16" → AttentionChoice
//   sdpa       cudnn_sdpa.h CudnnSdpa         key "B256 S197 E768 H12 f16" → name of the fastest plan
// A conv or linear key with the suffix "|measured" holds a timed choice, which wins over the heuristic
// one stored under the bare key; attention and SDPA store timed choices only.
//
// Who owns one: a runner given none (nullptr) neither reads nor fills a cache, so it decides alone
// (heuristics, or tune()). An Executor given none (ExecutorOptions::algorithms) owns a private one
// for its nodes. runtime/Session passes one to every executor it builds — all streams of a
// multi-stream session share it, so streams 2…N reuse the first one's measurements — and a
// SessionCache (a profile worker's, for its whole life) keeps one across sessions, so a shape timed
// once in a process is not timed again.
//
// Thread-safe (a mutex per table); the runners copy a choice out, so entries may change or be cleared
// while runners built from them live.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "backend/cuda/attention_runner.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/cudnn_conv.h"

namespace vramfit::cuda {

// One table: shape key → choice.
template <class Choice>
class ChoiceTable {
 public:
  std::optional<Choice> find(const std::string& key) const {
    std::lock_guard<std::mutex> lock(m_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  // Stores `c` unless the key already has a choice (a heuristic choice never replaces anything).
  void add(const std::string& key, const Choice& c) {
    std::lock_guard<std::mutex> lock(m_);
    map_.emplace(key, c);
  }
  // Stores `c`, replacing what the key had (a new measurement).
  void put(const std::string& key, const Choice& c) {
    std::lock_guard<std::mutex> lock(m_);
    map_[key] = c;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(m_);
    map_.clear();
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(m_);
    return map_.size();
  }

 private:
  mutable std::mutex m_;
  std::map<std::string, Choice> map_;
};

class AlgorithmCache {
 public:
  AlgorithmCache() = default;
  AlgorithmCache(const AlgorithmCache&) = delete;
  AlgorithmCache& operator=(const AlgorithmCache&) = delete;

  ChoiceTable<ConvChoice> conv;
  ChoiceTable<LinearChoice> linear;
  ChoiceTable<AttentionChoice> attention;
  ChoiceTable<std::string> sdpa;  // shape → name of the measured-fastest plan

  void clear() {
    conv.clear();
    linear.clear();
    attention.clear();
    sdpa.clear();
  }
};

}  // namespace vramfit::cuda
