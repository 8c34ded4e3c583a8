// fuzz/gguf_fuzz.cpp — libFuzzer target for the GGUF reader (weights/gguf.h), built with
// AddressSanitizer and UndefinedBehaviorSanitizer by scripts/fuzz.
//
// Each input is parsed from memory; a parsed file is then used the way a consumer would: every
// metadata value printed, every supported tensor dequantized, the llama mapping attempted. The only
// acceptable failures are the reader's typed errors for bad input (InvalidInput, Unsupported);
// anything else — a crash, a sanitizer report, another exception escaping (std::bad_alloc,
// InternalError) — is a bug libFuzzer reports.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vramfit;
  try {
    const GgufFile f = GgufFile::from_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz.gguf");
    for (const auto& kv : f.metadata()) (void)kv.value.to_string();
    for (const auto& t : f.tensors()) {
      if (ggml_type_supported(t.type)) (void)f.read_f32(t.name);
      else (void)f.bytes(t);
    }
    (void)gguf_model_size(f);
    try {
      const GgufLlamaModel m = gguf_llama_model(f);
      for (const auto& t : m.tensors) {
        if (!t.rope_rows_permuted) continue;
        std::vector<std::uint8_t> out(t.bytes.size());
        gguf_rope_rows_to_hf(t.bytes, out, t.shape[0], t.rope_heads);
      }
    } catch (const InvalidInput&) {
    } catch (const Unsupported&) {
    }
  } catch (const InvalidInput&) {
  } catch (const Unsupported&) {
  }
  return 0;
}
