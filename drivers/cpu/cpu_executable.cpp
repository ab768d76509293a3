#include "cpu_executable.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "compute_kernels.hpp"
#include "f16_fma_kernels.hpp"
#include "int8_dot_kernels.hpp"
#include "stream_kernels.hpp"
#include "xpubench/quant.hpp"

namespace xpb::cpu {
namespace {

// Shares are whole 4 KiB pages, so each page is touched first, and then used, by one thread.
StreamOp stream_op(Op op) {
  switch (op) {
    case Op::copy: return StreamOp::copy;
    case Op::scale: return StreamOp::scale;
    case Op::add: return StreamOp::add;
    case Op::triad: return StreamOp::triad;
    default: return StreamOp::fill;
  }
}

// Chains walked together; one template instance per count so the chains live in registers.
template <int C>
void chase_chains(std::uintptr_t* at, std::uint64_t steps) {
  std::uintptr_t p[C];
  for (int c = 0; c < C; ++c) p[c] = at[c];
  for (std::uint64_t s = 0; s < steps; ++s)
    for (int c = 0; c < C; ++c) p[c] = *reinterpret_cast<const std::uintptr_t*>(p[c]);
  for (int c = 0; c < C; ++c) at[c] = p[c];
}

void chase_any(std::uintptr_t* at, std::size_t chains, std::uint64_t steps) {
  switch (chains) {
    case 1: return chase_chains<1>(at, steps);
    case 2: return chase_chains<2>(at, steps);
    case 3: return chase_chains<3>(at, steps);
    case 4: return chase_chains<4>(at, steps);
    case 6: return chase_chains<6>(at, steps);
    case 8: return chase_chains<8>(at, steps);
    case 12: return chase_chains<12>(at, steps);
    case 16: return chase_chains<16>(at, steps);
    case 24: return chase_chains<24>(at, steps);
    case 32: return chase_chains<32>(at, steps);
    default:
      // Other counts: still interleaved (every chain advances once per step), from memory
      // rather than registers; the loads stay independent, which is what MLP needs.
      for (std::uint64_t s = 0; s < steps; ++s)
        for (std::size_t c = 0; c < chains; ++c) at[c] = *reinterpret_cast<const std::uintptr_t*>(at[c]);
  }
}

}  // namespace

CpuExecutable::CpuExecutable(const Graph& g, const Bindings& bound, const CompileOptions& opts, std::vector<int> pus)
    : graph_(g), opts_(opts), pool_(std::move(pus)), work_at_max_(graph_work(graph_, {})), barrier_(pool_.size()) {
  const auto& ts = graph_.tensors();
  ring_.assign(ts.size(), false);
  for (const auto& node : graph_.nodes())
    if (node.op == Op::chase) ring_[node.inputs[0]] = true;
  for (TensorId id = 0; id < ts.size(); ++id) {
    if (auto it = bound.find(id); it != bound.end()) {
      buffers_.push_back(it->second);
    } else {
      auto b = std::make_shared<CpuBuffer>(ts[id].bytes(), opts_);
      if (!b->bind_outcome().empty()) bind_outcome_ = b->bind_outcome();
      buffers_.push_back(std::move(b));
    }
    data_.push_back(buffers_.back()->host_data());
  }
  for (TensorId id = 0; id < ts.size(); ++id)
    if (!bound.count(id)) initialize(id);
  if (opts_.lock_memory) {
    for (TensorId id = 0; id < ts.size(); ++id) {
      auto* own = dynamic_cast<CpuBuffer*>(buffers_[id].get());
      if (own == nullptr || bound.count(id)) continue;
      own->lock();
      if (!own->lock_outcome().empty() && lock_outcome_.empty()) lock_outcome_ = own->lock_outcome();
    }
  }

  state_.resize(graph_.nodes().size());
  prepare_transformer();
  for (std::size_t n = 0; n < graph_.nodes().size(); ++n) {
    state_[n].partials.resize(static_cast<std::size_t>(pool_.size()));
    state_[n].error_lists.resize(static_cast<std::size_t>(pool_.size()));
    if (graph_.nodes()[n].op == Op::chase) reset_chase(n);
  }
}

void CpuExecutable::reset_chase(std::size_t n) {
  // The ring is held as addresses: walk it as such to find the start lines ref finds.
  const Node& node = graph_.nodes()[n];
  const auto& ring = graph_.tensor(node.inputs[0]);
  const auto lines = static_cast<std::size_t>(ring.shape[0]);
  const auto chains = static_cast<std::size_t>(node.attrs.get_int("chains", 1));
  auto& at = state_[n].chase_at;
  at.assign(chains, 0);
  auto p = reinterpret_cast<std::uintptr_t>(ptr<std::uint64_t>(node.inputs[0]));
  for (std::size_t c = 0; c < chains; ++c) {
    at[c] = p;
    for (std::size_t k = 0; k < lines / chains; ++k) p = *reinterpret_cast<const std::uintptr_t*>(p);
  }
  write_chase_positions(n);
}

void CpuExecutable::write_chase_positions(std::size_t n) {
  const Node& node = graph_.nodes()[n];
  const auto base = reinterpret_cast<std::uintptr_t>(ptr<std::uint64_t>(node.inputs[0]));
  const auto line_bytes = static_cast<std::uintptr_t>(graph_.tensor(node.inputs[0]).shape[1]) * 8;
  auto* out = ptr<std::uint64_t>(node.outputs[0]);
  const auto& at = state_[n].chase_at;
  for (std::size_t c = 0; c < at.size(); ++c) out[c] = (at[c] - base) / line_bytes;
}

void CpuExecutable::initialize(TensorId id) {
  const TensorDesc& t = graph_.tensor(id);
  if (ring_[id] && t.init.kind != TensorInit::Kind::random_cycle) {
    // A ring the caller will write(): until then every line leads to line 0, as zeros mean
    // in index form.
    std::memset(data_[id], 0, t.bytes());
    auto* w = ptr<std::uint64_t>(id);
    const auto words = static_cast<std::size_t>(t.shape[1]);
    for (std::size_t i = 0; i < static_cast<std::size_t>(t.shape[0]); ++i) w[i * words] = reinterpret_cast<std::uintptr_t>(w);
    return;
  }
  // Building one random cycle is sequential; the chase runs on worker 0 (this thread), so this
  // thread is the right one to touch the ring first.
  initialize_tensor(data_[id], t, pool_, opts_.cancel);
  if (ring_[id]) {
    // Index form -> the address of the next line, so the chase is one load per step.
    const auto lines = static_cast<std::size_t>(t.shape[0]);
    const auto words = static_cast<std::size_t>(t.shape[1]);
    auto* w = ptr<std::uint64_t>(id);
    const auto base = reinterpret_cast<std::uintptr_t>(w);
    for (std::size_t i = 0; i < lines; ++i) w[i * words] = base + w[i * words] * words * 8;
  }
}

bool CpuExecutable::is_ring(TensorId id) const { return ring_[id]; }

void CpuExecutable::run_share(std::size_t n, int thread, int threads) {
  const Node& node = graph_.nodes()[n];
  auto& st = state_[n];
  const auto t = static_cast<std::size_t>(thread);
  if (transformer_ && node.op == Op::add) return run_transformer_share(n, thread, threads);
  switch (node.op) {
    case Op::copy:
    case Op::scale:
    case Op::add:
    case Op::triad:
    case Op::write_fill: {
      const TensorDesc& out = graph_.tensor(node.outputs[0]);
      const std::size_t elem = traits(out.dtype).block_bytes;
      const Share s = share_of(out.elements(), elem, thread, threads);
      if (s.begin >= s.end) return;
      const bool nt = node.attrs.get_bool("nontemporal", false);
      const double scalar = node.op == Op::write_fill ? node.attrs.get_double("value", 0.0)
                                                      : node.attrs.get_double("scalar", 3.0);
      const TensorId in0 = node.inputs.empty() ? node.outputs[0] : node.inputs[0];
      const TensorId in1 = node.inputs.size() > 1 ? node.inputs[1] : in0;
      if (out.dtype == DType::f64)
        stream_f64(stream_op(node.op), ptr<double>(in0) + s.begin, ptr<double>(in1) + s.begin,
                   ptr<double>(node.outputs[0]) + s.begin, s.end - s.begin, scalar, nt);
      else
        stream_f32(stream_op(node.op), ptr<float>(in0) + s.begin, ptr<float>(in1) + s.begin,
                   ptr<float>(node.outputs[0]) + s.begin, s.end - s.begin, static_cast<float>(scalar), nt);
      if (nt) stream_fence();  // sfence orders this core's streaming stores
      return;
    }
    case Op::read_sum: {
      const TensorDesc& in = graph_.tensor(node.inputs[0]);
      const std::size_t elem = traits(in.dtype).block_bytes;
      const Share s = share_of(in.elements(), elem, thread, threads);
      st.partials[t].sum = s.begin >= s.end ? 0.0
                           : in.dtype == DType::f64 ? sum_f64(ptr<double>(node.inputs[0]) + s.begin, s.end - s.begin)
                                                    : sum_f32(ptr<float>(node.inputs[0]) + s.begin, s.end - s.begin);
      return;
    }
    case Op::read_bytes: {
      // Shares are whole pages (share_of's grain), so every share starts on a word boundary.
      const Share s = share_of(graph_.tensor(node.inputs[0]).bytes(), 1, thread, threads);
      st.partials[t].words = s.begin >= s.end ? 0 : sum_words(ptr<std::byte>(node.inputs[0]) + s.begin, s.end - s.begin);
      return;
    }
    case Op::fill_pattern:
    case Op::verify_pattern: {
      const TensorId buf = node.op == Op::fill_pattern ? node.outputs[0] : node.inputs[0];
      const Share s = share_of(graph_.tensor(buf).elements(), 8, thread, threads);
      const auto pattern = *parse_pattern(node.attrs.get_string("pattern", ""));
      const auto seed = static_cast<std::uint64_t>(node.attrs.get_int("seed", 0));
      const bool invert = node.attrs.get_bool("invert", false);
      // In chunks of 16 MiB, each after a look at the cancel flag: a pass over many GiB
      // stops within ~10 ms of Ctrl-C (the run is then reported interrupted).
      constexpr std::size_t kChunkWords = std::size_t{2} << 20;
      const auto max_errors = static_cast<std::size_t>(node.attrs.get_int("max_errors", 1));
      st.error_lists[t].clear();
      st.partials[t].errors = 0;
      for (std::size_t c0 = s.begin; c0 < s.end && !cancelled(); c0 += kChunkWords) {
        const std::size_t c1 = std::min(s.end, c0 + kChunkWords);
        if (node.op == Op::fill_pattern)
          fill_pattern(ptr<std::uint64_t>(buf), c0, c1, pattern, seed, invert);
        else
          st.partials[t].errors +=
              verify_pattern(ptr<std::uint64_t>(buf), c0, c1, pattern, seed, invert, max_errors, st.error_lists[t]);
      }
      return;
    }
    case Op::fma_loop: {
      const TensorDesc& out = graph_.tensor(node.outputs[0]);
      const std::size_t elem = traits(out.dtype).block_bytes;
      const Share s = share_of(out.elements(), elem, thread, threads);
      const auto chain = static_cast<std::uint64_t>(node.attrs.get_int("chain", 1));
      // In chunks of whole blocks worth about 2^26 steps (a few ms), each after a look at the
      // cancel flag, so a long chain still stops soon after Ctrl-C.
      const std::size_t block = out.dtype == DType::f16 ? f16_fma_block() : fma_chain_block(elem);
      const std::size_t chunk = std::max<std::size_t>(1, (std::size_t{1} << 26) / chain / block) * block;
      for (std::size_t c0 = s.begin; c0 < s.end && !cancelled(); c0 += chunk) {
        const std::size_t len = std::min(chunk, s.end - c0);
        if (out.dtype == DType::f64) fma_chain_f64(ptr<double>(node.inputs[0]) + c0, ptr<double>(node.outputs[0]) + c0, len, chain);
        else if (out.dtype == DType::f16)
          fma_chain_f16(ptr<std::uint16_t>(node.inputs[0]) + c0, ptr<std::uint16_t>(node.outputs[0]) + c0, len, chain);
        else fma_chain_f32(ptr<float>(node.inputs[0]) + c0, ptr<float>(node.outputs[0]) + c0, len, chain);
      }
      return;
    }
    case Op::int8_dot_loop: {
      const Share s = share_of(graph_.tensor(node.outputs[0]).elements(), 4, thread, threads);
      const auto chain = static_cast<std::uint64_t>(node.attrs.get_int("chain", 1));
      const auto* x = ptr<std::uint8_t>(node.inputs[0]);
      const auto* w = ptr<std::int8_t>(node.inputs[1]);
      auto* y = ptr<std::int32_t>(node.outputs[0]);
      // Chunks of whole blocks of about 2^26 steps, each after a look at the cancel flag (as fma_loop).
      const std::size_t block = int8_dot_block();
      const std::size_t chunk = std::max<std::size_t>(1, (std::size_t{1} << 26) / chain / block) * block;
      for (std::size_t c0 = s.begin; c0 < s.end && !cancelled(); c0 += chunk)
        int8_dot_chain(x + 4 * c0, w, y + c0, std::min(chunk, s.end - c0), chain);
      return;
    }
    case Op::chase: return;  // run by run_chase on the calling thread
    default: run_transformer_share(n, thread, threads); return;
  }
}

void CpuExecutable::finish(std::size_t n) {
  const Node& node = graph_.nodes()[n];
  auto& st = state_[n];
  if (node.op == Op::read_sum) {
    double total = 0;
    for (const auto& p : st.partials) total += p.sum;
    *ptr<double>(node.outputs[0]) = total;
  } else if (node.op == Op::read_bytes) {
    std::uint64_t total = 0;
    for (const auto& p : st.partials) total += p.words;
    *ptr<std::uint64_t>(node.outputs[0]) = total;
  } else if (node.op == Op::verify_pattern) {
    const auto max_errors = static_cast<std::size_t>(node.attrs.get_int("max_errors", 1));
    std::uint64_t count = 0;
    auto* list = ptr<std::uint64_t>(node.outputs[1]);
    std::fill_n(list, max_errors * 3, 0);
    std::size_t listed = 0;
    // Shares are in index order by thread, so concatenating keeps the global order.
    for (std::size_t t = 0; t < st.partials.size(); ++t) {
      count += st.partials[t].errors;
      for (const auto& m : st.error_lists[t]) {
        if (listed == max_errors) break;
        list[listed * 3] = m.index;
        list[listed * 3 + 1] = m.expected;
        list[listed * 3 + 2] = m.actual;
        ++listed;
      }
    }
    *ptr<std::uint64_t>(node.outputs[0]) = count;
  }
}

void CpuExecutable::run_chase(std::size_t n) {
  // In blocks of 2^19 steps (under 100 ms even at DRAM latency), each after a look at the
  // cancel flag: a run of 2^30 steps stops soon after Ctrl-C (and is reported interrupted).
  constexpr std::uint64_t kBlock = std::uint64_t{1} << 19;
  auto& at = state_[n].chase_at;
  const auto steps = static_cast<std::uint64_t>(graph_.nodes()[n].attrs.get_int("steps", 0));
  for (std::uint64_t done = 0; done < steps && !cancelled(); done += kBlock)
    chase_any(at.data(), at.size(), std::min(kBlock, steps - done));
  write_chase_positions(n);
}

void CpuExecutable::run_graph_share(int thread, int threads) {
  for (std::size_t n = 0; n < graph_.nodes().size(); ++n) {
    const Node& node = graph_.nodes()[n];
    run_share(n, thread, threads);
    if (thread == 0) {
      // Stamped before the barrier, so every thread sees it in the nodes that follow.
      ++step_;
      for (TensorId out : node.outputs) written_at_[out] = step_;
    }
    barrier_.wait();
    // Node n's chunks are all taken now; node n + 1 uses the other set, and node n + 2 starts
    // after the next barrier, which thread 0 reaches only after this.
    if (transformer_ && thread == 0) reset_chunk_counters(n % 2);
    if (node.op == Op::read_sum || node.op == Op::read_bytes || node.op == Op::verify_pattern) {
      if (thread == 0) finish(n);
      barrier_.wait();
    }
  }
}

RunResult CpuExecutable::run(const RunArgs& args) {
  if (const auto bad = graph_.check_dims(args.dims)) throw std::invalid_argument(*bad);
  const auto& nodes = graph_.nodes();
  RunResult r;
  r.clock = ClockKind::host;
  dims_ = args.dims;
  cancel_ = args.cancel;
  bad_row_.store(-1, std::memory_order_relaxed);
  const auto t0 = std::chrono::steady_clock::now();
  if (transformer_) {
    for (; r.iterations < args.iterations && !cancelled(); ++r.iterations) {
      pool_.run([&](int thread, int threads) { run_graph_share(thread, threads); });
      if (bad_row_.load(std::memory_order_relaxed) >= 0) break;
    }
  } else if (nodes.size() == 1 && nodes[0].op != Op::chase) {
    // One node: shares are independent, so each thread repeats its own share with no
    // barrier between iterations (a barrier per iteration would dominate small working sets).
    // Each thread looks at the cancel flag between its iterations; worker 0's count is the
    // one reported.
    const std::uint64_t iterations = args.iterations;
    std::uint64_t done = 0;
    pool_.run([&](int thread, int threads) {
      std::uint64_t it = 0;
      for (; it < iterations && !cancelled(); ++it) run_share(0, thread, threads);
      if (thread == 0) done = it;
    });
    finish(0);
    r.iterations = done;
  } else if (std::none_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.op == Op::chase; })) {
    // Several nodes (read_bytes over each of a model's weights): one pool run per pass, a
    // barrier between nodes, so a pass over many small tensors costs no thread wake-ups.
    for (; r.iterations < args.iterations && !cancelled(); ++r.iterations)
      pool_.run([&](int thread, int threads) { run_graph_share(thread, threads); });
  } else {
    for (; r.iterations < args.iterations && !cancelled(); ++r.iterations)
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (nodes[n].op == Op::chase) {
          run_chase(n);
          continue;
        }
        pool_.run([&](int thread, int threads) { run_share(n, thread, threads); });
        finish(n);
      }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A run that saw the flag may have cut a node short: its figures are not a measurement.
  r.interrupted = cancelled();
  if (const auto row = bad_row_.load(); row >= 0)
    r.error = "embedding: token id " + std::to_string(bad_id_.load()) + " at row " + std::to_string(row) +
              " is outside the table";
  r.work = (args.dims.empty() ? work_at_max_ : graph_work(graph_, args.dims)) * static_cast<double>(r.iterations);
  dims_ = {};
  cancel_ = nullptr;
  return r;
}

void CpuExecutable::read(TensorId id, std::span<std::byte> dst) const {
  const std::size_t bytes = graph_.tensor(id).bytes();
  if (dst.size() != bytes)
    throw std::invalid_argument("tensor " + std::to_string(id) + " has " + std::to_string(bytes) + " bytes, not " +
                                std::to_string(dst.size()));
  std::memcpy(dst.data(), data_[id], bytes);
  if (!is_ring(id)) return;
  const auto& t = graph_.tensor(id);
  const auto words = static_cast<std::size_t>(t.shape[1]);
  const auto base = reinterpret_cast<std::uintptr_t>(data_[id]);
  auto* w = reinterpret_cast<std::uint64_t*>(dst.data());
  for (std::size_t i = 0; i < static_cast<std::size_t>(t.shape[0]); ++i)
    w[i * words] = (w[i * words] - base) / (words * 8);
}

void CpuExecutable::write(TensorId id, std::span<const std::byte> src) {
  const std::size_t bytes = graph_.tensor(id).bytes();
  if (src.size() != bytes)
    throw std::invalid_argument("tensor " + std::to_string(id) + " has " + std::to_string(bytes) + " bytes, not " +
                                std::to_string(src.size()));
  std::memcpy(data_[id], src.data(), bytes);
  if (transformer_) {
    written_at_[id] = ++step_;
    for (std::size_t n = 0; n < graph_.nodes().size(); ++n) {
      const Node& node = graph_.nodes()[n];
      if (node.op == Op::rope && node.inputs.size() > 2 && node.inputs[2] == id) rope_frequencies(n);
    }
  }
  for (std::size_t n = 0; n < graph_.nodes().size(); ++n) {
    const Node& node = graph_.nodes()[n];
    if (node.op != Op::chase || node.outputs[0] != id) continue;
    const auto& ring = graph_.tensor(node.inputs[0]);
    const auto lines = static_cast<std::uint64_t>(ring.shape[0]);
    const auto line_bytes = static_cast<std::uintptr_t>(ring.shape[1]) * 8;
    const auto base = reinterpret_cast<std::uintptr_t>(ptr<std::uint64_t>(node.inputs[0]));
    auto& at = state_[n].chase_at;
    for (std::size_t c = 0; c < at.size(); ++c) at[c] = base + (ptr<std::uint64_t>(id)[c] % lines) * line_bytes;
  }
  if (!is_ring(id)) return;
  const auto& t = graph_.tensor(id);
  const auto lines = static_cast<std::uint64_t>(t.shape[0]);
  const auto words = static_cast<std::size_t>(t.shape[1]);
  auto* w = ptr<std::uint64_t>(id);
  const auto base = reinterpret_cast<std::uintptr_t>(w);
  for (std::size_t i = 0; i < lines; ++i) w[i * words] = base + (w[i * words] % lines) * words * 8;
  // Chains over this ring go back to their start lines on the new cycle.
  for (std::size_t n = 0; n < graph_.nodes().size(); ++n)
    if (graph_.nodes()[n].op == Op::chase && graph_.nodes()[n].inputs[0] == id) reset_chase(n);
}

nlohmann::json CpuExecutable::describe() const {
  std::vector<TensorId> large;
  std::vector<const MemoryRegion*> regions;
  for (TensorId id = 0; id < buffers_.size(); ++id) {
    const auto* own = dynamic_cast<const CpuBuffer*>(buffers_[id].get());
    if (own != nullptr && graph_.tensor(id).bytes() >= kParallelInitBytes) {
      large.push_back(id);
      regions.push_back(&own->region());
    }
  }
  const auto huge = huge_page_bytes(regions);
  auto tensors = nlohmann::json::array();
  for (std::size_t i = 0; i < large.size(); ++i) {
    const auto& t = graph_.tensor(large[i]);
    tensors.push_back({{"name", t.name}, {"bytes", t.bytes()}, {"huge_page_bytes", huge[i]}});
  }
  nlohmann::json d = {{"threads", pool_.size()},
                      {"pus", pool_.pus()},
                      {"simd_target", simd_target()},
                      {"huge_pages_requested", opts_.huge_pages},
                      {"tensors", tensors}};
  if (opts_.lock_memory) {
    d["mlock"] = lock_outcome_.empty() ? nlohmann::json{{"locked", true}}
                                       : nlohmann::json{{"locked", false}, {"reason", lock_outcome_}};
  }
  if (opts_.memory_node >= 0 && bind_outcome_.empty()) d["memory_node"] = opts_.memory_node;
  if (!bind_outcome_.empty()) d["memory_binding_error"] = bind_outcome_;
  if (opts_.cpu_node >= 0) d["cpu_node"] = opts_.cpu_node;
  return d;
}

}  // namespace xpb::cpu
