// core/checked.h — arithmetic on sizes that cannot wrap, and the sane ranges of user-given extents.
//
// Sizes are products of user input (batch × bytes per sample, layers × widths, context × KV bytes per
// token): a wrapped product is a silently wrong answer, so every such product goes through
// checked_mul / checked_add, which throw InvalidInput naming what was being computed ("KV cache of
// context 4096 × batch 8589934592") instead of returning a wrapped number. The limits below are far
// beyond any real model or card and far below 2^63, so that products of a few bounded extents stay
// representable and a hostile number is refused where it enters, with the name of the input.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/error.h"

namespace vramfit {

namespace limits {
constexpr std::int64_t kMaxBatch = std::int64_t{1} << 31;         // sequences or images in one pass
constexpr std::int64_t kMaxContext = std::int64_t{1} << 31;       // tokens of KV capacity per sequence
constexpr std::int64_t kMaxLayers = 100000;                       // decoder blocks
constexpr std::int64_t kMaxHidden = std::int64_t{1} << 20;        // hidden_size
constexpr std::int64_t kMaxIntermediate = std::int64_t{1} << 22;  // intermediate_size (MLP width)
constexpr std::int64_t kMaxHeads = std::int64_t{1} << 16;         // attention heads (query or key/value)
constexpr std::int64_t kMaxHeadDim = std::int64_t{1} << 16;       // head_dim
constexpr std::int64_t kMaxVocab = std::int64_t{1} << 24;         // vocab_size
constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 60;       // any size a user gives (1 EiB)
}  // namespace limits

// What checked_mul / checked_add throw: an InvalidInput (exit 2, naming the input) that a search over
// sizes may also catch, since a configuration whose size does not fit in 64 bits fits no budget.
struct SizeOverflow : InvalidInput {
  explicit SizeOverflow(const std::string& m) : InvalidInput(m) {}
};

namespace detail {
[[noreturn]] void throw_overflow(std::string_view what, std::string_view op, std::string_view a, std::string_view b);
template <std::integral T> std::string num(T v) { return std::to_string(v); }
}  // namespace detail

// a · b, or InvalidInput "WHAT: A × B does not fit in 64 bits" (what names the input and quantity).
template <std::integral T> T checked_mul(T a, T b, std::string_view what) {
  T r;
  if (__builtin_mul_overflow(a, b, &r))
    detail::throw_overflow(what, "×", detail::num(a), detail::num(b));
  return r;
}

// a + b, or InvalidInput naming `what`.
template <std::integral T> T checked_add(T a, T b, std::string_view what) {
  T r;
  if (__builtin_add_overflow(a, b, &r))
    detail::throw_overflow(what, "+", detail::num(a), detail::num(b));
  return r;
}

// A signed extent as bytes or a count (must be ≥ 0), or InvalidInput naming `what`.
std::uint64_t checked_unsigned(std::int64_t v, std::string_view what);
// An unsigned count as a signed extent (must be ≤ INT64_MAX), or InvalidInput naming `what`.
std::int64_t checked_signed(std::uint64_t v, std::string_view what);

// v if lo ≤ v ≤ hi, else InvalidInput "WHAT: must be between LO and HI, got V".
std::int64_t check_range(std::int64_t v, std::int64_t lo, std::int64_t hi, std::string_view what);

}  // namespace vramfit
