// planner.h: property tests on seeded random DAGs (elementwise, linear, add, view nodes; random sizes,
// batches, dtypes, with and without fusion) — no two live buffers overlap, offsets are aligned, the
// arena is at least the lower bound, plans are exactly linear in batch, and no write (in place or not)
// lands on bytes that are read later or on a graph input — plus hand-checked small cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <random>

#include "core/error.h"
#include "graph/passes.h"
#include "graph/planner.h"

namespace vramfit {
namespace {

// --- a seeded generator of random graphs --------------------------------------------------------

// Picks a value to read: mostly recent ones (chains), sometimes old ones (long lifetimes).
ValueId pick(std::mt19937_64& rng, const std::vector<ValueId>& pool) {
  std::uniform_int_distribution<std::size_t> recent(pool.size() > 3 ? pool.size() - 3 : 0, pool.size() - 1);
  std::uniform_int_distribution<std::size_t> any(0, pool.size() - 1);
  return pool[std::bernoulli_distribution(0.7)(rng) ? recent(rng) : any(rng)];
}

Graph random_graph(std::uint64_t seed, std::int64_t batch) {
  std::mt19937_64 rng(seed);
  auto uni = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  // A few widths, so that adds find operands of equal shape; odd ones to exercise alignment.
  const std::int64_t widths[] = {7, 19, 64, 197, uni(1, 300)};
  auto width = [&] { return widths[uni(0, 4)]; };

  Graph g("random" + std::to_string(seed));
  std::vector<ValueId> pool;
  const std::int64_t n_inputs = uni(1, 2);
  for (std::int64_t i = 0; i < n_inputs; ++i) {
    const std::string name = fmt::format("in{}", i);
    if (uni(0, 2) == 0) pool.push_back(g.add_input(name, Shape{batch, uni(1, 5), uni(1, 9), width()}));
    else pool.push_back(g.add_input(name, Shape{batch, width()}));
  }
  const std::int64_t n_nodes = uni(3, 60);
  for (std::int64_t i = 0; i < n_nodes; ++i) {
    const std::string name = fmt::format("n{}", i);
    const ValueId x = pick(rng, pool);
    switch (uni(0, 5)) {
      case 0:
      case 1:
        pool.push_back(g.add_linear(name, x, width(), uni(0, 1) == 1));
        break;
      case 2: {
        const OpKind ops[] = {OpKind::Relu, OpKind::Gelu, OpKind::Silu};
        pool.push_back(g.add_unary(name, ops[uni(0, 2)], x));
        break;
      }
      case 3:
      case 4: {
        std::vector<ValueId> same;
        for (ValueId v : pool)
          if (g.value(v).shape == g.value(x).shape) same.push_back(v);
        const ValueId y = same[static_cast<std::size_t>(uni(0, static_cast<std::int64_t>(same.size()) - 1))];
        pool.push_back(g.add_add(name, x, y));
        break;
      }
      default:
        pool.push_back(g.add_flatten(name, x));  // a view
        break;
    }
  }
  g.mark_output(pool.back());
  for (std::int64_t k = uni(0, 2); k > 0; --k) {
    const ValueId o = pick(rng, pool);
    if (g.value(o).kind == ValueKind::Activation &&
        std::find(g.outputs().begin(), g.outputs().end(), o) == g.outputs().end())
      g.mark_output(o);
  }
  if (uni(0, 1)) {  // residual and activation fusion create in-place candidates of their own
    fuse_residual_add(g);
    fuse_activations(g);
  }
  const Precision precisions[] = {Precision::fp32, Precision::fp16, Precision::bf16};
  assign_precision(g, precisions[uni(0, 2)]);
  assign_layout(g);
  return g;
}

// --- properties ---------------------------------------------------------------------------------

bool needed_after(const Graph& g, ValueId v, NodeId step) {
  if (g.value(v).kind == ValueKind::Input) return true;  // each replay reads the same input
  if (std::find(g.outputs().begin(), g.outputs().end(), v) != g.outputs().end()) return true;
  for (NodeId c : g.consumers(v))
    if (c > step) return true;
  return false;
}

bool overlaps(std::uint64_t a, std::uint64_t an, std::uint64_t b, std::uint64_t bn) {
  return an != 0 && bn != 0 && a < b + bn && b < a + an;
}

// Every property the planner promises, checked from the graph and the plan alone.
void check_plan(const Graph& g, const Plan& plan, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(plan.value_buffer.size(), g.values().size());
  const std::uint64_t batch = static_cast<std::uint64_t>(g.batch());
  EXPECT_EQ(plan.arena_bytes, batch * plan.arena_bytes_per_sample);

  // Buffers: aligned (per sample, hence at any batch), inside the arena, big enough for their values.
  for (std::size_t b = 0; b < plan.buffers.size(); ++b) {
    const PlannedBuffer& pb = plan.buffers[b];
    EXPECT_EQ(pb.offset % (batch * plan.alignment), 0u) << "buffer " << b;
    EXPECT_EQ(pb.range.bytes % (batch * plan.alignment), 0u) << "buffer " << b;
    EXPECT_LE(pb.offset + pb.range.bytes, plan.arena_bytes) << "buffer " << b;
    EXPECT_LE(pb.range.first, pb.range.last);
    for (ValueId v : pb.values) {
      EXPECT_EQ(plan.value_buffer[static_cast<std::size_t>(v)], static_cast<std::int32_t>(b));
      EXPECT_GE(pb.range.bytes, value_bytes(g.value(v))) << g.value(v).name;
    }
  }
  for (const Value& v : g.values()) {
    if (v.kind == ValueKind::Param) {
      EXPECT_EQ(plan.value_buffer[static_cast<std::size_t>(v.id)], -1);
      EXPECT_EQ(plan.offset_of(v.id), kNoOffset);
    } else {
      ASSERT_GE(plan.value_buffer[static_cast<std::size_t>(v.id)], 0) << v.name;
    }
  }

  // Buffers live at the same step never share bytes.
  for (std::size_t i = 0; i < plan.buffers.size(); ++i)
    for (std::size_t j = i + 1; j < plan.buffers.size(); ++j) {
      const auto& a = plan.buffers[i];
      const auto& b = plan.buffers[j];
      if (a.range.first <= b.range.last && b.range.first <= a.range.last) {
        EXPECT_FALSE(overlaps(a.offset, a.range.bytes, b.offset, b.range.bytes)) << "buffers " << i << ", " << j;
      }
    }

  // The lower bound, recomputed step by step, and the arena above it.
  std::uint64_t bound = 0;
  for (std::int32_t s = -1; s < static_cast<std::int32_t>(g.nodes().size()); ++s) {
    std::uint64_t live = 0;
    for (const auto& pb : plan.buffers)
      if (pb.range.first <= s && s <= pb.range.last) live += pb.range.bytes;
    bound = std::max(bound, live);
  }
  EXPECT_EQ(plan.lower_bound_bytes, bound);
  EXPECT_GE(plan.arena_bytes, plan.lower_bound_bytes);

  // Execution: the bytes a node writes hold nothing that is read later, nor a graph input; an
  // input that shares bytes with the output is the exact in-place alias of an op that allows it.
  for (const Node& n : g.nodes()) {
    if (is_view(g, n)) continue;  // writes nothing
    const std::uint64_t out = plan.offset_of(n.output), out_n = value_bytes(g.value(n.output));
    for (const Value& w : g.values()) {
      if (w.kind == ValueKind::Param || w.id == n.output) continue;
      if (w.kind == ValueKind::Activation && w.producer > n.id) continue;  // not yet written
      if (!needed_after(g, w.id, n.id)) continue;
      EXPECT_FALSE(overlaps(plan.offset_of(w.id), value_bytes(w), out, out_n))
          << "node '" << n.name << "' overwrites '" << w.name << "'";
    }
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      const Value& in = g.value(n.inputs[k]);
      if (in.kind == ValueKind::Param || !overlaps(plan.offset_of(in.id), value_bytes(in), out, out_n)) continue;
      EXPECT_EQ(plan.offset_of(in.id), out) << n.name;
      EXPECT_EQ(value_bytes(in), out_n) << n.name;
      const auto allowed = in_place_input(n);
      const bool ok = allowed && (*allowed == k || n.op == OpKind::Add ||
                                  (n.op != OpKind::Conv2d && n.op != OpKind::Linear));
      EXPECT_TRUE(ok) << "node '" << n.name << "' writes over its input " << k;
    }
  }
}

TEST(Planner, RandomGraphsKeepEveryProperty) {
  double worst = 1.0, sum = 0.0;
  int count = 0, in_place_plans = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const std::int64_t batch = static_cast<std::int64_t>(seed % 7) + 1;
    Graph g = random_graph(seed, batch);
    g.validate();
    const Plan plan = plan_memory(g);
    check_plan(g, plan, "seed " + std::to_string(seed));
    if (HasFailure()) return;
    const double ratio = static_cast<double>(plan.arena_bytes) / static_cast<double>(plan.lower_bound_bytes);
    worst = std::max(worst, ratio);
    sum += ratio;
    ++count;
    std::size_t writers = 0;
    for (const Node& n : g.nodes()) writers += !is_view(g, n);
    in_place_plans += plan.buffers.size() < writers + g.inputs().size();

    // The same graph without in-place: still correct, never smaller.
    const Plan plain = plan_memory(g, PlannerOptions{.alignment = 64, .in_place = false});
    check_plan(g, plain, "seed " + std::to_string(seed) + " no in-place, alignment 64");
  }
  std::printf("[ planner  ] %d random graphs: arena / lower bound mean %.4f, worst %.4f; %d plans used in-place\n",
              count, sum / count, worst, in_place_plans);
  EXPECT_GT(in_place_plans, 30);  // the generator does exercise in-place
}

TEST(Planner, ArenaIsExactlyLinearInBatch) {
  for (std::uint64_t seed = 500; seed < 540; ++seed) {
    Graph g = random_graph(seed, 1);
    const Plan one = plan_memory(g);
    for (std::int64_t b : {2, 7, 19, 256}) {
      g.set_batch(b);
      const Plan p = plan_memory(g);
      const auto ub = static_cast<std::uint64_t>(b);
      ASSERT_EQ(p.arena_bytes_per_sample, one.arena_bytes_per_sample) << "seed " << seed << " batch " << b;
      EXPECT_EQ(p.arena_bytes, ub * one.arena_bytes);
      EXPECT_EQ(p.lower_bound_bytes, ub * one.lower_bound_bytes);
      ASSERT_EQ(p.buffers.size(), one.buffers.size());
      for (const Value& v : g.values())
        if (v.kind != ValueKind::Param) {
          EXPECT_EQ(p.offset_of(v.id), ub * one.offset_of(v.id)) << v.name;
        }
      if (b == 19) check_plan(g, p, "seed " + std::to_string(seed) + " batch 19");
    }
  }
}

TEST(Planner, Deterministic) {
  const Graph g = random_graph(77, 5);
  const Plan a = plan_memory(g), b = plan_memory(g);
  ASSERT_EQ(a.buffers.size(), b.buffers.size());
  for (std::size_t i = 0; i < a.buffers.size(); ++i) EXPECT_EQ(a.buffers[i].offset, b.buffers[i].offset);
}

TEST(Planner, AssignOffsetsOnRandomLifetimes) {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<LiveRange> r(std::uniform_int_distribution<std::size_t>(1, 40)(rng));
    for (auto& x : r) {
      x.first = std::uniform_int_distribution<std::int32_t>(-1, 30)(rng);
      x.last = x.first + std::uniform_int_distribution<std::int32_t>(0, 12)(rng);
      x.bytes = std::uniform_int_distribution<std::uint64_t>(1, 5000)(rng);
    }
    const std::uint64_t align = trial % 2 ? 256 : 48;
    std::uint64_t arena = 0;
    const auto off = assign_offsets(r, align, &arena);
    ASSERT_EQ(off.size(), r.size());
    std::uint64_t top = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(off[i] % align, 0u);
      top = std::max(top, off[i] + r[i].bytes);
      for (std::size_t j = i + 1; j < r.size(); ++j)
        if (r[i].first <= r[j].last && r[j].first <= r[i].last) {
          EXPECT_FALSE(overlaps(off[i], r[i].bytes, off[j], r[j].bytes)) << trial << ": " << i << ", " << j;
        }
    }
    EXPECT_GE(arena, top);
    EXPECT_GE(arena, live_lower_bound(r));
    EXPECT_EQ(arena % align, 0u);
  }
}

TEST(Planner, LiveLowerBoundByHand) {
  // Steps 0: 100; 1: 150; 2: 150; 3: 50 + 70 = 120; 4: 70.
  const LiveRange r[] = {{100, 0, 2}, {50, 1, 3}, {70, 3, 4}};
  EXPECT_EQ(live_lower_bound(r), 150u);
  EXPECT_EQ(live_lower_bound(std::span<const LiveRange>()), 0u);
}

// --- hand-checked cases -------------------------------------------------------------------------

TEST(Planner, ChainReusesTwoBuffers) {
  // input → fc1 → fc2 → fc3 → fc4 (output), every value [B, 64] fp32 = 256 bytes per sample.
  Graph g("chain");
  ValueId x = g.add_input("x", Shape{7, 64});
  std::vector<ValueId> v;
  for (int i = 1; i <= 4; ++i) v.push_back(x = g.add_linear("fc" + std::to_string(i), x, 64));
  g.mark_output(x);
  const Plan p = plan_memory(g);
  check_plan(g, p, "chain");
  // The input lives throughout; of the four layers two are live at a time.
  EXPECT_EQ(p.arena_bytes_per_sample, 3u * 256);
  EXPECT_EQ(p.arena_bytes, 7u * 3 * 256);
  EXPECT_EQ(p.lower_bound_bytes, p.arena_bytes);
  EXPECT_EQ(p.offset_of(v[0]), p.offset_of(v[2]));
  EXPECT_EQ(p.offset_of(v[1]), p.offset_of(v[3]));
  EXPECT_NE(p.offset_of(v[0]), p.offset_of(v[1]));
  EXPECT_EQ(p.weight_bytes, 4u * 4 * (64 * 64 + 64));
}

TEST(Planner, InPlaceWhereTheInputDies) {
  Graph g("inplace");
  const ValueId x = g.add_input("x", Shape{3, 19});
  const ValueId r0 = g.add_unary("r0", OpKind::Relu, x);   // over a graph input: never in place
  const ValueId a = g.add_linear("a", r0, 19);
  const ValueId r1 = g.add_unary("r1", OpKind::Relu, a);   // a dies here: in place
  const ValueId g1 = g.add_unary("g1", OpKind::Gelu, r1);  // and again
  const ValueId b = g.add_linear("b", g1, 19);
  const ValueId s = g.add_add("s", b, g1);                 // b dies, g1 dies: over b (input 0)
  const ValueId c = g.add_linear("c", s, 19);
  const ValueId keep = g.add_linear("keep", s, 19);
  const ValueId t = g.add_add("t", keep, c);               // both die: input 0 (keep)
  const ValueId u = g.add_add("u", s, t);                  // s is still read by w below: over t
  const ValueId w = g.add_add("w", u, s);
  g.mark_output(w);

  const Plan p = plan_memory(g);
  check_plan(g, p, "in place");
  EXPECT_NE(p.offset_of(r0), p.offset_of(x));
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(r1)], p.value_buffer[static_cast<std::size_t>(a)]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(g1)], p.value_buffer[static_cast<std::size_t>(a)]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(s)], p.value_buffer[static_cast<std::size_t>(b)]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(t)], p.value_buffer[static_cast<std::size_t>(keep)]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(u)], p.value_buffer[static_cast<std::size_t>(t)]);
  EXPECT_NE(p.value_buffer[static_cast<std::size_t>(u)], p.value_buffer[static_cast<std::size_t>(s)]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(w)], p.value_buffer[static_cast<std::size_t>(u)]);

  const Plan off = plan_memory(g, PlannerOptions{.alignment = 256, .in_place = false});
  check_plan(g, off, "in place off");
  EXPECT_NE(off.value_buffer[static_cast<std::size_t>(r1)], off.value_buffer[static_cast<std::size_t>(a)]);
  EXPECT_GT(off.buffers.size(), p.buffers.size());
}

TEST(Planner, ResidualInPlaceOnlyWhenTheMainInputLivesElsewhere) {
  Graph g("residual");
  const ValueId x = g.add_input("x", Shape{2, 5, 23});
  const ValueId a = g.add_linear("a", x, 23);
  const ValueId b = g.add_linear("b", a, 23);
  const ValueId s1 = g.add_add("s1", b, a);  // fuses: b(a) + a — b reads a while writing: no alias
  const ValueId c = g.add_linear("c", s1, 23);
  const ValueId d = g.add_linear("d", x, 23);
  const ValueId s2 = g.add_add("s2", d, c);  // fuses: d(x) + c — c dies there: alias allowed
  g.mark_output(s2);
  fuse_residual_add(g);
  ASSERT_EQ(g.nodes().size(), 4u);
  const Plan p = plan_memory(g);
  check_plan(g, p, "residual");
  const Node& nb = g.nodes()[1];
  const Node& nd = g.nodes()[3];
  ASSERT_TRUE(nb.attr<LinearAttrs>().has_residual && nd.attr<LinearAttrs>().has_residual);
  EXPECT_NE(p.value_buffer[static_cast<std::size_t>(nb.output)], p.value_buffer[static_cast<std::size_t>(nb.inputs[0])]);
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(nd.output)], p.value_buffer[static_cast<std::size_t>(nd.inputs.back())]);
}

TEST(Planner, ViewsShareTheirInputsBuffer) {
  Graph g("views");
  const ValueId x = g.add_input("x", Shape{3, 7, 5, 5});
  const ValueId f = g.add_flatten("flat", x);  // a view of the input
  const ValueId r = g.add_unary("relu", OpKind::Relu, f);  // the input's bytes: not in place
  const ValueId l = g.add_linear("fc", r, 19);
  g.mark_output(l);
  const Plan p = plan_memory(g);
  check_plan(g, p, "views");
  EXPECT_EQ(p.value_buffer[static_cast<std::size_t>(f)], p.value_buffer[static_cast<std::size_t>(x)]);
  EXPECT_NE(p.value_buffer[static_cast<std::size_t>(r)], p.value_buffer[static_cast<std::size_t>(x)]);
}

TEST(Planner, BatchMustLeadEveryActivation) {
  Graph g("nobatch");
  const ValueId x = g.add_input("x", Shape{4, 9});
  g.add_input("y", Shape{3, 9});
  g.mark_output(g.add_linear("fc", x, 5));
  try {
    plan_memory(g);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  Graph h("param_rows");
  const ValueId in = h.add_input("in", Shape{4, 9});
  const ValueId table = h.add_param("table", Shape{6, 9}, ParamRole::Weight);
  h.mark_output(h.add_add("sum", h.add_linear("fc", in, 9), in));
  h.mark_output(h.add_linear("proj", table, 3));  // [6, 3]: no batch in front
  EXPECT_THROW(plan_memory(h), InvalidInput);
  EXPECT_THROW(plan_memory(g, PlannerOptions{.alignment = 0}), InvalidInput);
  EXPECT_THROW(Plan{}.offset_of(3), InvalidInput);
}

}  // namespace
}  // namespace vramfit
