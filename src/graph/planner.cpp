#include "graph/planner.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <numeric>

#include "core/checked.h"
#include "core/error.h"
#include "graph/cost.h"

namespace vramfit {

namespace {

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

bool intersects(const LiveRange& a, const LiveRange& b) { return a.first <= b.last && b.first <= a.last; }

// The orders tried by assign_offsets. Greedy by size is the paper's; the others catch the cases where
// it strands a gap (a long-lived small buffer placed late splits the arena). Each is a strict total
// order (ties broken by index), so the plan is deterministic.
enum class Order { SizeDesc, LifetimeDesc, FirstUseAsc, AreaDesc };
enum class Fit { Best, First };

std::vector<std::size_t> ordered(std::span<const LiveRange> b, std::span<const std::uint64_t> size, Order order) {
  std::vector<std::size_t> idx(b.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  auto len = [&](std::size_t i) { return static_cast<std::uint64_t>(b[i].last - b[i].first + 1); };
  // Sort keys, most significant first; "before" means a larger key.
  auto key = [&](std::size_t i) -> std::array<std::uint64_t, 3> {
    const auto early = static_cast<std::uint64_t>(std::int64_t{INT32_MAX} - b[i].first);  // earlier start: larger
    switch (order) {
      case Order::SizeDesc: return {size[i], len(i), early};
      case Order::LifetimeDesc: return {len(i), size[i], early};
      case Order::FirstUseAsc: return {early, size[i], len(i)};
      case Order::AreaDesc: return {size[i] * len(i), size[i], early};
    }
    return {};
  };
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return key(x) > key(y); });
  return idx;
}

// One greedy placement (Pisarchyk & Lee 2020, §4.3): each buffer in turn goes into a gap between the
// already placed buffers whose lifetimes meet its own — the smallest gap that fits (Best) or the
// lowest (First) — else above the highest of them.
std::uint64_t place(std::span<const LiveRange> b, std::span<const std::uint64_t> size,
                    const std::vector<std::size_t>& order, Fit fit, std::vector<std::uint64_t>& offset) {
  offset.assign(b.size(), kNoOffset);
  std::vector<std::size_t> placed;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy;  // [offset, end) of conflicting buffers
  std::uint64_t arena = 0;
  for (std::size_t i : order) {
    busy.clear();
    for (std::size_t j : placed)
      if (size[j] != 0 && intersects(b[i], b[j])) busy.emplace_back(offset[j], offset[j] + size[j]);
    std::sort(busy.begin(), busy.end());
    std::uint64_t chosen = kNoOffset, chosen_gap = UINT64_MAX, prev_end = 0;
    for (const auto& [lo, hi] : busy) {
      if (lo > prev_end) {
        const std::uint64_t gap = lo - prev_end;
        if (gap >= size[i] && (fit == Fit::First ? chosen == kNoOffset : gap < chosen_gap)) {
          chosen = prev_end;
          chosen_gap = gap;
        }
      }
      prev_end = std::max(prev_end, hi);
    }
    if (chosen == kNoOffset) chosen = prev_end;
    offset[i] = chosen;
    arena = std::max(arena, chosen + size[i]);
    placed.push_back(i);
  }
  return arena;
}

struct Buffer {
  std::vector<ValueId> values;
  std::int32_t first = 0;
  std::int32_t last = 0;
  std::uint64_t bytes_per_sample = 0;
  bool holds_input = false;
};

}  // namespace

std::uint64_t Plan::offset_of(ValueId v) const {
  if (v < 0 || static_cast<std::size_t>(v) >= value_buffer.size())
    throw InvalidInput(fmt::format("Plan::offset_of: value id {} is not in the planned graph ({} values)", v,
                                   value_buffer.size()));
  const std::int32_t b = value_buffer[static_cast<std::size_t>(v)];
  return b < 0 ? kNoOffset : buffers[static_cast<std::size_t>(b)].offset;
}

std::vector<std::uint64_t> assign_offsets(std::span<const LiveRange> buffers, std::uint64_t alignment,
                                          std::uint64_t* arena_bytes) {
  if (alignment == 0) throw InvalidInput("assign_offsets: alignment must be ≥ 1 byte");
  std::vector<std::uint64_t> size(buffers.size());
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    VRAMFIT_CHECK(buffers[i].first <= buffers[i].last, fmt::format("buffer {} has an empty lifetime", i));
    size[i] = align_up(buffers[i].bytes, alignment);
  }
  std::vector<std::uint64_t> best, trial;
  std::uint64_t best_arena = UINT64_MAX;
  for (Order order : {Order::SizeDesc, Order::LifetimeDesc, Order::FirstUseAsc, Order::AreaDesc}) {
    const auto idx = ordered(buffers, size, order);
    for (Fit fit : {Fit::Best, Fit::First}) {
      const std::uint64_t arena = place(buffers, size, idx, fit, trial);
      if (arena < best_arena) {
        best_arena = arena;
        best = trial;
      }
    }
  }
  if (arena_bytes) *arena_bytes = buffers.empty() ? 0 : best_arena;
  return best;
}

std::uint64_t live_lower_bound(std::span<const LiveRange> buffers) {
  // Sweep: +bytes where a lifetime starts, −bytes one step after it ends.
  std::vector<std::pair<std::int64_t, std::uint64_t>> starts, ends;
  for (const auto& b : buffers) {
    starts.emplace_back(b.first, b.bytes);
    ends.emplace_back(static_cast<std::int64_t>(b.last) + 1, b.bytes);
  }
  std::sort(starts.begin(), starts.end());
  std::sort(ends.begin(), ends.end());
  std::uint64_t live = 0, peak = 0;
  std::size_t e = 0;
  for (const auto& [step, bytes] : starts) {
    while (e < ends.size() && ends[e].first <= step) live -= ends[e++].second;
    live += bytes;
    peak = std::max(peak, live);
  }
  return peak;
}

namespace {

// Bytes of one sample of every input and activation (0 for parameters); the batch must lead every
// planned value for sizes to scale with it.
std::vector<std::uint64_t> per_sample_bytes(const Graph& g, std::int64_t batch) {
  std::vector<std::uint64_t> per_sample(g.values().size(), 0);
  for (const Value& v : g.values()) {
    if (v.kind == ValueKind::Param) continue;
    if (v.shape.rank() == 0 || v.shape[0] != batch)
      throw InvalidInput(fmt::format(
          "plan_memory: graph '{}': {} '{}' has shape {}; every input and activation needs the batch {} as dim 0",
          g.name(), v.kind == ValueKind::Input ? "input" : "activation", v.name, v.shape.to_string(), batch));
    per_sample[static_cast<std::size_t>(v.id)] =
        storage_bytes(v.dtype, static_cast<std::uint64_t>(v.shape.numel_per_sample()));
  }
  return per_sample;
}

// Values → buffers: a view shares its input's buffer, an in-place op its input's where those bytes
// die there, every other value opens a buffer of its own.
class BufferAssignment {
 public:
  BufferAssignment(const Graph& g, std::vector<std::uint64_t> per_sample)
      : g_(g), per_sample_(std::move(per_sample)), last_read_(g.values().size(), -1), output_(g.values().size(), false),
        value_buffer_(g.values().size(), -1) {
    // Last step reading each value; outputs are read after the end.
    for (const Node& n : g.nodes())
      for (ValueId in : n.inputs) last_read_[at(in)] = n.id;
    for (ValueId o : g.outputs()) {
      output_[at(o)] = true;
      last_read_[at(o)] = end();
    }
  }

  void assign(const PlannerOptions& opt) {
    for (ValueId in : g_.inputs()) {
      if (value_buffer_[at(in)] >= 0) continue;  // listed twice
      bufs_[open(in, -1)].holds_input = true;
    }
    for (const Node& n : g_.nodes()) {
      if (is_view(g_, n)) {
        VRAMFIT_CHECK(value_buffer_[at(n.inputs[0])] >= 0, fmt::format("view '{}' of a parameter", n.name));
        join(static_cast<std::size_t>(value_buffer_[at(n.inputs[0])]), n.output);
        continue;
      }
      if (!(opt.in_place && join_in_place(n))) open(n.output, n.id);
    }
  }

  // Lifetimes: from the first writer to the last reader of any value stored there; sizes per sample.
  std::vector<LiveRange> ranges(std::uint64_t alignment) {
    std::vector<LiveRange> r(bufs_.size());
    for (std::size_t b = 0; b < bufs_.size(); ++b) {
      Buffer& buf = bufs_[b];
      buf.last = buf.holds_input ? end() : buf.first;
      for (ValueId v : buf.values) buf.last = std::max(buf.last, last_read_[at(v)]);
      buf.last = std::max(buf.last, buf.first);
      r[b] = LiveRange{align_up(buf.bytes_per_sample, alignment), buf.first, buf.last};
    }
    return r;
  }

  std::vector<Buffer>& buffers() { return bufs_; }
  std::vector<std::int32_t>& value_buffer() { return value_buffer_; }

 private:
  static std::size_t at(ValueId v) { return static_cast<std::size_t>(v); }
  std::int32_t end() const { return static_cast<std::int32_t>(g_.nodes().size()) - 1; }  // the last step

  void join(std::size_t b, ValueId v) {
    bufs_[b].values.push_back(v);
    bufs_[b].bytes_per_sample = std::max(bufs_[b].bytes_per_sample, per_sample_[at(v)]);
    value_buffer_[at(v)] = static_cast<std::int32_t>(b);
  }
  std::size_t open(ValueId v, std::int32_t first) {
    bufs_.push_back(Buffer{});
    bufs_.back().first = first;
    join(bufs_.size() - 1, v);
    return bufs_.size() - 1;
  }

  // Node n's output into the buffer of an input it may overwrite (graph.h in_place_input; Add tries both).
  bool join_in_place(const Node& n) {
    const auto k = in_place_input(n);
    if (!k) return false;
    std::vector<std::size_t> tries{*k};
    if (n.op == OpKind::Add) tries = {0, 1};
    for (std::size_t t : tries) {
      if (!can_overwrite(n, t)) continue;
      join(static_cast<std::size_t>(value_buffer_[at(n.inputs[t])]), n.output);
      return true;
    }
    return false;
  }

  // Whether node `n` may write its output over the buffer of its input `k`.
  bool can_overwrite(const Node& n, std::size_t k) const {
    const ValueId in = n.inputs[k];
    const Value& iv = g_.value(in);
    if (iv.kind != ValueKind::Activation) return false;
    const Value& ov = g_.value(n.output);
    if (iv.dtype != ov.dtype || per_sample_[at(in)] != per_sample_[at(n.output)]) return false;
    const auto b = static_cast<std::size_t>(value_buffer_[at(in)]);
    if (bufs_[b].holds_input) return false;
    // The bytes die here: no value stored in them is read later or is an output.
    for (ValueId w : bufs_[b].values)
      if (output_[at(w)] || last_read_[at(w)] > n.id) return false;
    // A residual conv/linear reads its main input while writing: that input must live elsewhere.
    // Elementwise ops read element i before writing it, so sharing is harmless for them.
    const bool elementwise = n.op != OpKind::Conv2d && n.op != OpKind::Linear;
    if (!elementwise)
      for (std::size_t j = 0; j < n.inputs.size(); ++j)
        if (j != k && value_buffer_[at(n.inputs[j])] == static_cast<std::int32_t>(b)) return false;
    return true;
  }

  const Graph& g_;
  std::vector<std::uint64_t> per_sample_;
  std::vector<std::int32_t> last_read_;
  std::vector<bool> output_;
  std::vector<Buffer> bufs_;
  std::vector<std::int32_t> value_buffer_;
};

}  // namespace

Plan plan_memory(const Graph& g, const PlannerOptions& opt) {
  if (opt.alignment == 0) throw InvalidInput("plan_memory: alignment must be ≥ 1 byte");
  const std::int64_t batch = g.batch();
  if (batch < 1) throw InvalidInput(fmt::format("plan_memory: graph '{}' has batch {}; expected ≥ 1", g.name(), batch));
  BufferAssignment assignment(g, per_sample_bytes(g, batch));
  assignment.assign(opt);
  const std::vector<LiveRange> ranges = assignment.ranges(opt.alignment);
  std::vector<Buffer>& bufs = assignment.buffers();

  Plan plan;
  plan.batch = batch;
  plan.alignment = opt.alignment;
  plan.value_buffer = std::move(assignment.value_buffer());
  std::uint64_t arena_per_sample = 0;
  const std::vector<std::uint64_t> offsets = assign_offsets(ranges, opt.alignment, &arena_per_sample);
  const auto ub = static_cast<std::uint64_t>(batch);
  // Every offset and size is at most the arena's, so checking batch × arena per sample covers them all.
  plan.arena_bytes = checked_mul(ub, arena_per_sample,
                                 fmt::format("activation arena at batch {} ({} bytes per sample)", batch, arena_per_sample));
  plan.buffers.resize(bufs.size());
  for (std::size_t b = 0; b < bufs.size(); ++b) {
    PlannedBuffer& pb = plan.buffers[b];
    pb.range = LiveRange{ub * ranges[b].bytes, ranges[b].first, ranges[b].last};
    pb.offset = ub * offsets[b];
    pb.values = std::move(bufs[b].values);
  }
  plan.arena_bytes_per_sample = arena_per_sample;
  plan.lower_bound_bytes = ub * live_lower_bound(ranges);
  plan.weight_bytes = aligned_weight_bytes(g, opt.alignment);
  return plan;
}

}  // namespace vramfit
