// core/rng.h — counter-based random numbers: value i of stream s under seed k is a pure function
// of (k, s, i), so the CPU and (later) a GPU kernel generate identical weights without sharing state,
// and any slice can be generated in parallel. Mixing is SplitMix64 (Steele, Lea, Flood: "Fast
// splittable pseudorandom number generators", OOPSLA 2014); normals by Box–Muller.
#pragma once

#include <cstdint>
#include <string_view>

namespace vramfit {

constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// FNV-1a of a name, to derive a stream id from a parameter's name.
constexpr std::uint64_t stream_id(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// Uniform in [0, 1) with 24 bits.
float uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);
// Standard normal.
float normal01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);

}  // namespace vramfit
