// npu_ref: the reference NPU plugin of xpubench. It implements the plugin ABI of
// xpubench_plugin.h on the host CPU, one thread, plain C++, and is meant to be copied: the
// parts a vendor keeps (handles, argument checks, the graph compiled into a schedule, the run
// loop with its timing and cancellation) are here; the arithmetic a vendor replaces is in
// npu_ref_kernels.cpp.
//
// Shape of the code:
//  - the error boundary (guarded): every entry point runs inside it, so no C++ exception leaves
//    the library; failures become a status plus the thread's last_error text;
//  - the op table (kOps): per op code its arity, attributes, the dtypes we take and a prepare
//    function that checks a node and resolves it into a Step;
//  - compile: tensors checked and given memory, every node turned into a Step (a kernel
//    function, its tensors and its parsed attributes), so run() does no lookups or parsing;
//  - run: the steps in order, iterations back to back, timed on CLOCK_MONOTONIC.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "npu_ref_kernels.hpp"
#include "xpubench_plugin.h"

namespace {

using npu_ref::Pattern;
using npu_ref::WeightFormat;

// ============================================================================================
// Errors
// ============================================================================================

// The text last_error() returns: per thread, as the ABI asks (calls on different devices may
// come from different threads at once).
thread_local std::string t_last_error;

void set_error(const char* text, const char* detail = "") noexcept {
  try {
    t_last_error.assign(text);
    t_last_error.append(detail);
  } catch (...) {
    t_last_error.clear();  // no memory even for the message: an empty text beats a crash
  }
}
void set_error(const std::string& text) noexcept { set_error(text.c_str()); }

// A failure with the status it maps to. Thrown anywhere below an entry point and turned into
// the status and last_error by guarded(); never crosses the ABI.
struct Failure {
  xpb_status status;
  std::string message;
};
[[noreturn]] void fail(xpb_status status, std::string message) { throw Failure{status, std::move(message)}; }

// Runs the body of an entry point. Everything that can go wrong inside becomes a status:
// the ABI is C, and an exception unwinding into the host's C frames is undefined behaviour.
template <class Body>
xpb_status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const Failure& f) {
    set_error(f.message);
    return f.status;
  } catch (const std::bad_alloc&) {
    set_error("npu_ref: out of host memory");
    return XPB_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error("npu_ref internal error: ", e.what());
    return XPB_DEVICE_ERROR;
  } catch (...) {
    set_error("npu_ref internal error: unknown exception");
    return XPB_DEVICE_ERROR;
  }
}

// Messages are built by concatenation; numbers through std::to_string, which ignores the
// locale (the host may have set one with a decimal comma).
std::string str(const std::string& s) { return s; }
std::string str(const char* s) { return s != nullptr ? s : "(null)"; }
template <class N, class = std::enable_if_t<std::is_integral_v<N>>>
std::string str(N n) {
  return std::to_string(n);
}
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(str(parts)), ...);
  return s;
}

// ============================================================================================
// Dtypes (the frozen codes of xpubench_plugin.h)
// ============================================================================================

struct DtypeInfo {
  const char* name;
  std::uint32_t block_elements;  // 1 for scalar types, 32 for the GGUF block formats
  std::uint32_t block_bytes;
};
constexpr DtypeInfo kDtypes[] = {
    {nullptr, 0, 0}, {"f64", 1, 8}, {"f32", 1, 4}, {"f16", 1, 2}, {"bf16", 1, 2},   {"i8", 1, 1},
    {"u8", 1, 1},    {"i32", 1, 4}, {"u32", 1, 4}, {"u64", 1, 8}, {"q8_0", 32, 34}, {"q4_0", 32, 18},
};
constexpr std::uint32_t kDtypeCount = sizeof kDtypes / sizeof kDtypes[0];

bool known_dtype(std::uint32_t code) { return code >= 1 && code < kDtypeCount; }
std::string dtype_name(std::uint32_t code) {
  return known_dtype(code) ? std::string(kDtypes[code].name) : cat("dtype code ", code);
}

// ============================================================================================
// Memory
// ============================================================================================

// Device memory is host memory aligned to 64 bytes (a cache line; enough for any vector
// load). Owned through this RAII holder so every failure path frees what was taken.
constexpr std::align_val_t kAlign{64};
struct Memory {
  std::uint8_t* p = nullptr;
  Memory() = default;
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  Memory(Memory&& o) noexcept : p(o.p) { o.p = nullptr; }
  Memory& operator=(Memory&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~Memory() {
    if (p != nullptr) ::operator delete(p, kAlign);
  }
  // Null when the memory is not there: a size no allocator can give (2^62 bytes) must be an
  // XPB_OUT_OF_MEMORY, never a crash. At least one byte, so a 0-byte tensor has an address.
  static Memory take(std::uint64_t bytes) {
    Memory m;
    if (bytes > std::numeric_limits<std::size_t>::max() - 64) return m;
    m.p = static_cast<std::uint8_t*>(::operator new(std::max<std::size_t>(bytes, 1), kAlign, std::nothrow));
    return m;
  }
};

// Nanoseconds on a clock.
std::uint64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

// ============================================================================================
// Handles. The ABI declares them as pointers to incomplete structs; we complete them here.
// ============================================================================================

struct xpb_device_s {
  std::string caps;  // the query() text, made at open and valid until release
  // Objects made from this device and not yet released: the host must release them first.
  std::uint64_t live_buffers = 0;
  std::uint64_t live_executables = 0;
};

struct xpb_buffer_s {
  xpb_device_s* device = nullptr;
  std::uint8_t* data = nullptr;
  std::uint64_t bytes = 0;
  Memory memory;      // the buffer's own memory (empty for a view)
  bool view = false;  // true: a tensor of an executable (executable_buffer), owned by it
};

namespace {

// One tensor of a compiled graph.
struct Tensor {
  std::string name;
  std::uint32_t dtype = 0;
  std::vector<std::int64_t> shape;
  std::int32_t rows_dim = -1;  // the dynamic dim giving its live rows, or -1
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;
  std::uint8_t* data = nullptr;  // own memory or the bound buffer's
  Memory own;
  std::unique_ptr<xpb_buffer_s> view;  // made by the first executable_buffer() for it
  std::size_t live = 0;                // rows live in the current run (set before it starts)

  std::size_t rows() const { return shape.empty() ? 1 : static_cast<std::size_t>(shape[0]); }
  std::size_t cols() const { return shape.empty() ? 1 : static_cast<std::size_t>(shape.back()); }
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(data);
  }
  std::string describe() const {
    std::string s = cat("'", name, "' ", dtype_name(dtype), " [");
    for (std::size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
    return s + "]";
  }
};

// Run-time state shared by the steps of one run(): the cancel callback and when to poll it.
struct RunContext {
  int (*cancelled)(void*) = nullptr;
  void* cancel_context = nullptr;
  std::uint64_t next_poll_ns = 0;   // when the callback may be asked next
  std::uint64_t last_clock_ns = 0;  // when the clock was last read
  std::uint32_t stride = 1, countdown = 1;
  bool stopped = false;

  // Whether the user asked to stop; called between iterations, between nodes and between
  // chunks of long kernels. The callback is asked at most every ~100 ms. Even reading a clock
  // on every call would be felt by tiny graphs (a copy of 7 doubles takes a few ns), so the
  // clock is read only every `stride` calls, the stride adapting so that reads come about
  // once a millisecond or more. The clock is the coarse one (~1 ns to read, ~4 ms steps).
  bool stop() {
    if (cancelled == nullptr || stopped) return stopped;
    if (--countdown != 0) return false;
    const std::uint64_t now = now_ns(poll_clock());
    const std::uint64_t gap = now - last_clock_ns;
    if (gap < kClockGapNs && stride < kMaxStride)
      stride *= 2;
    else if (gap > 4 * kClockGapNs)
      stride = 1;  // calls got slow (a long node): back to reading at every call
    countdown = stride;
    last_clock_ns = now;
    if (now < next_poll_ns) return false;
    next_poll_ns = now + kPollNs;
    stopped = cancelled(cancel_context) != 0;
    return stopped;
  }
  void start(int (*callback)(void*), void* context) {
    cancelled = callback;
    cancel_context = context;
    last_clock_ns = now_ns(poll_clock());
    next_poll_ns = last_clock_ns + kPollNs;
  }

  static constexpr std::uint64_t kPollNs = 100000000;    // 100 ms between polls
  static constexpr std::uint64_t kClockGapNs = 1000000;  // 1 ms between clock reads
  static constexpr std::uint32_t kMaxStride = 1u << 16;
  static clockid_t poll_clock() {
#ifdef CLOCK_MONOTONIC_COARSE
    return CLOCK_MONOTONIC_COARSE;
#else
    return CLOCK_MONOTONIC;
#endif
  }
};

struct Step;
// A step's kernel: XPB_OK, XPB_INTERRUPTED (it saw a cancel between chunks of its work), or
// XPB_DEVICE_ERROR with last_error set (bad data met while running).
using StepFn = xpb_status (*)(Step&, RunContext&);

// One node, resolved: what run() calls, with everything it needs at hand.
struct Step {
  StepFn fn = nullptr;
  std::array<Tensor*, 7> in{};  // inputs in the op's order; null past the node's input count
  std::array<Tensor*, 2> out{};
  // Attributes, parsed once (defaults as the op catalogue gives them). Each op uses its own.
  double scalar = 3.0;                                // scale, triad
  double value = 0.0;                                 // write_fill
  float eps = 1e-5f;                                  // rms_norm, layer_norm
  float attn_scale = 0;                               // attention, cross_attention
  float sigma = 0, sigma_next = 0;                    // flow_step
  npu_ref::PatchGrid grid{};                          // unpatchify
  std::int64_t chunk = 1;                             // attention: positions per causal block
  bool ring = false;                                  // attention: the cache is a ring
  std::uint64_t steps = 0, chains = 1;                // chase
  Pattern pattern = Pattern::walking_ones;            // fill_pattern, verify_pattern
  std::uint64_t seed = 0, max_errors = 0;             // fill_pattern, verify_pattern
  bool invert = false;                                // fill_pattern, verify_pattern
  std::size_t heads = 0, kv_heads = 0, head_dim = 0;  // attention, cross_attention, rope (head_dim)
  WeightFormat weights = WeightFormat::f32;           // matmul, embedding
  // Scratch, sized at compile so run() never allocates.
  std::vector<std::int16_t> q8;  // matmul q8_0: the activations' codes
  std::vector<float> scratch;    // matmul: scales or an f16 tile; attention, cross_attention: scores
  std::vector<double> inv_freq;  // rope: theta^(-2i / head_dim)
};

}  // namespace

struct xpb_executable_s {
  xpb_device_s* device = nullptr;
  std::vector<Tensor> tensors;  // sized once: steps point into it
  std::vector<Step> steps;
  std::vector<std::int64_t> dim_max;
};

namespace {

// ============================================================================================
// Kernels as steps: each reads its tensors' live rows and calls npu_ref_kernels.
// ============================================================================================

// Work of the long memory ops is cut into chunks with a cancel check between them, so Ctrl-C
// on a sweep over tens of GiB is seen within ~100 ms.
constexpr std::uint64_t kChunkElements = std::uint64_t{1} << 21;
constexpr std::uint64_t kChaseChunk = std::uint64_t{1} << 16;  // steps: ~10 ms at DRAM latency

template <class Body>
xpb_status in_chunks(std::uint64_t n, RunContext& ctx, Body&& body) {
  for (std::uint64_t begin = 0; begin < n; begin += kChunkElements) {
    if (begin > 0 && ctx.stop()) return XPB_INTERRUPTED;
    body(begin, std::min(n, begin + kChunkElements));
  }
  return XPB_OK;
}

// Elements of the output the memory ops write: its live rows (all when its rows are static).
std::uint64_t live_elements(const Tensor& t) {
  if (t.rows_dim < 0 || t.shape.empty() || t.shape[0] == 0) return t.elements;
  return t.elements / static_cast<std::uint64_t>(t.shape[0]) * t.live;
}

template <class T>
xpb_status run_copy(Step& s, RunContext& ctx) {
  const T* a = s.in[0]->as<T>();
  T* o = s.out[0]->as<T>();
  return in_chunks(live_elements(*s.out[0]), ctx,
                   [&](std::uint64_t b, std::uint64_t e) { npu_ref::copy(a + b, o + b, e - b); });
}
template <class T>
xpb_status run_scale(Step& s, RunContext& ctx) {
  const T* a = s.in[0]->as<T>();
  T* o = s.out[0]->as<T>();
  const auto k = static_cast<T>(s.scalar);
  return in_chunks(live_elements(*s.out[0]), ctx,
                   [&](std::uint64_t b, std::uint64_t e) { npu_ref::scale(a + b, k, o + b, e - b); });
}
template <class T>
xpb_status run_add(Step& s, RunContext& ctx) {
  const T *a = s.in[0]->as<T>(), *c = s.in[1]->as<T>();
  T* o = s.out[0]->as<T>();
  return in_chunks(live_elements(*s.out[0]), ctx,
                   [&](std::uint64_t b, std::uint64_t e) { npu_ref::add(a + b, c + b, o + b, e - b); });
}
template <class T>
xpb_status run_triad(Step& s, RunContext& ctx) {
  const T *a = s.in[0]->as<T>(), *c = s.in[1]->as<T>();
  T* o = s.out[0]->as<T>();
  const auto k = static_cast<T>(s.scalar);
  return in_chunks(live_elements(*s.out[0]), ctx,
                   [&](std::uint64_t b, std::uint64_t e) { npu_ref::triad(a + b, c + b, k, o + b, e - b); });
}
template <class T>
xpb_status run_write_fill(Step& s, RunContext& ctx) {
  T* o = s.out[0]->as<T>();
  const auto v = static_cast<T>(s.value);
  return in_chunks(live_elements(*s.out[0]), ctx,
                   [&](std::uint64_t b, std::uint64_t e) { npu_ref::fill(o + b, v, e - b); });
}
template <class T>
xpb_status run_read_sum(Step& s, RunContext& ctx) {
  // The whole input, whatever its live rows: the oracle (drivers/ref) sums every element.
  const T* a = s.in[0]->as<T>();
  double total = 0;
  const xpb_status st =
      in_chunks(s.in[0]->elements, ctx, [&](std::uint64_t b, std::uint64_t e) { total += npu_ref::sum(a + b, e - b); });
  if (st == XPB_OK) *s.out[0]->as<double>() = total;
  return st;
}

xpb_status run_chase(Step& s, RunContext& ctx) {
  const Tensor& ring = *s.in[0];
  const auto lines = static_cast<std::uint64_t>(ring.shape[0]), words = static_cast<std::uint64_t>(ring.shape[1]);
  // The chains' positions live in the output tensor (role state): each run goes on from where
  // the last one stopped, so successive runs walk on around the cycle.
  auto* at = s.out[0]->as<std::uint64_t>();
  for (std::uint64_t done = 0; done < s.steps; done += kChaseChunk) {
    if (done > 0 && ctx.stop()) return XPB_INTERRUPTED;
    npu_ref::chase(ring.as<std::uint64_t>(), lines, words, at, s.chains, std::min(kChaseChunk, s.steps - done));
  }
  return XPB_OK;
}

// Puts a chase step's chains on their start lines (at compile, and when the ring is written).
void reset_chase(const Step& s) {
  const Tensor& ring = *s.in[0];
  npu_ref::chase_starts(ring.as<std::uint64_t>(), static_cast<std::uint64_t>(ring.shape[0]),
                        static_cast<std::uint64_t>(ring.shape[1]), s.out[0]->as<std::uint64_t>(), s.chains);
}

xpb_status run_fill_pattern(Step& s, RunContext& ctx) {
  auto* o = s.out[0]->as<std::uint64_t>();
  return in_chunks(s.out[0]->elements, ctx, [&](std::uint64_t b, std::uint64_t e) {
    npu_ref::fill_pattern(o, b, e, s.pattern, s.seed, s.invert);
  });
}

xpb_status run_verify_pattern(Step& s, RunContext& ctx) {
  const auto* in = s.in[0]->as<std::uint64_t>();
  auto* list = s.out[1]->as<std::uint64_t>();
  std::fill_n(list, s.max_errors * 3, std::uint64_t{0});  // unused entries read as zeros
  std::uint64_t errors = 0, listed = 0;
  const xpb_status st = in_chunks(s.in[0]->elements, ctx, [&](std::uint64_t b, std::uint64_t e) {
    errors += npu_ref::verify_pattern(in, b, e, s.pattern, s.seed, s.invert, list, s.max_errors, &listed);
  });
  if (st == XPB_OK) *s.out[0]->as<std::uint64_t>() = errors;
  return st;
}

xpb_status run_embedding(Step& s, RunContext&) {
  const Tensor &table = *s.in[0], &ids = *s.in[1], &out = *s.out[0];
  const std::size_t dim = table.cols(), vocab = table.rows(), row_bytes = npu_ref::row_bytes(s.weights, dim);
  const std::size_t rows = std::min(ids.live, out.live);
  for (std::size_t t = 0; t < rows; ++t) {
    const std::int32_t id = ids.as<std::int32_t>()[t];
    float* y = out.as<float>() + t * dim;
    if (id < 0 || static_cast<std::size_t>(id) >= vocab) {
      // Bad data, not a bad graph: the run fails, and never reads a row that is not there.
      std::fill_n(y, dim, 0.0f);
      set_error(cat("embedding: token id ", id, " at row ", t, " is outside the table (", vocab, " rows)"));
      return XPB_DEVICE_ERROR;
    }
    npu_ref::decode_row(s.weights, table.data + static_cast<std::size_t>(id) * row_bytes, y, dim);
  }
  return XPB_OK;
}

xpb_status run_rms_norm(Step& s, RunContext&) {
  const Tensor &x = *s.in[0], &out = *s.out[0];
  const std::size_t n = x.cols();
  for (std::size_t t = 0; t < x.live; ++t)
    npu_ref::rms_norm_row(x.as<float>() + t * n, s.in[1]->as<float>(), s.eps, out.as<float>() + t * n, n);
  return XPB_OK;
}

xpb_status run_matmul(Step& s, RunContext&) {
  const Tensor &x = *s.in[0], &w = *s.in[1];
  const std::size_t rows = x.live, k = x.cols(), n = w.rows();
  float* out = s.out[0]->as<float>();
  switch (s.weights) {
    case WeightFormat::f32: npu_ref::matmul_f32(w.as<float>(), x.as<float>(), rows, k, n, out); break;
    case WeightFormat::f16: npu_ref::matmul_f16(w.data, x.as<float>(), rows, k, n, s.scratch.data(), out); break;
    case WeightFormat::q8_0: {
      // Each activation row is rounded to Q8_0 once, then meets every weight row.
      const npu_ref::QuantizedRows q{s.q8.data(), s.scratch.data(), k};
      npu_ref::quantize_rows_q8_0(x.as<float>(), rows, q);
      npu_ref::matmul_q8_0(w.data, q, rows, n, out);
      break;
    }
  }
  return XPB_OK;
}

xpb_status run_rope(Step& s, RunContext&) {
  const Tensor &x = *s.in[0], &pos = *s.in[1];
  const std::size_t width = x.cols();
  const float* factor = s.in[2] != nullptr ? s.in[2]->as<float>() : nullptr;
  for (std::size_t t = 0; t < x.live; ++t)
    npu_ref::rope_row(x.as<float>() + t * width, s.out[0]->as<float>() + t * width, width, s.head_dim,
                      static_cast<double>(pos.as<std::int32_t>()[t]), s.inv_freq.data(), factor);
  return XPB_OK;
}

xpb_status run_attention(Step& s, RunContext&) {
  const Tensor &q = *s.in[0], &k = *s.in[1], &v = *s.in[2], &kc = *s.in[5], &vc = *s.in[6];
  const auto* pos = s.in[3]->as<std::int32_t>();
  const auto* seq = s.in[4]->as<std::int32_t>();
  const std::size_t slots = kc.rows(), context = static_cast<std::size_t>(kc.shape[1]);
  const std::size_t hd = s.head_dim, kv_width = s.kv_heads * hd, q_width = s.heads * hd;
  const std::size_t group = s.heads / s.kv_heads;  // query heads per kv head (GQA)
  const bool half = kc.dtype == XPB_DTYPE_F16;
  const std::size_t elem = half ? 2 : 4;
  const std::size_t rows = q.live;
  // A row whose sequence or position is outside the cache is neither stored nor attended; in
  // a ring every position has a slot (position mod context).
  auto in_cache = [&](std::size_t t) {
    return pos[t] >= 0 && (s.ring || static_cast<std::size_t>(pos[t]) < context) && seq[t] >= 0 &&
           static_cast<std::size_t>(seq[t]) < slots;
  };
  auto slot_of = [&](std::int64_t p) { return static_cast<std::size_t>(p) % context; };
  // First every row's k and v go into the cache, so a row attends to the rows before it in
  // the same run (a prompt chunk, a video chunk) as well as to earlier runs.
  for (std::size_t t = 0; t < rows; ++t) {
    if (!in_cache(t)) continue;
    const std::size_t slot = (static_cast<std::size_t>(seq[t]) * context + slot_of(pos[t])) * kv_width;
    npu_ref::store_row(k.as<float>() + t * kv_width, kc.data + slot * elem, half, kv_width);
    npu_ref::store_row(v.as<float>() + t * kv_width, vc.data + slot * elem, half, kv_width);
  }
  for (std::size_t t = 0; t < rows; ++t) {
    float* y = s.out[0]->as<float>() + t * q_width;
    if (!in_cache(t)) {
      std::fill_n(y, q_width, 0.0f);
      continue;
    }
    const std::size_t base = static_cast<std::size_t>(seq[t]) * context * kv_width;
    // Positions [first, end): to the end of the row's chunk, within the ring's reach.
    const auto ctx = static_cast<std::int64_t>(context);
    const std::int64_t chunk_end = (pos[t] / s.chunk + 1) * s.chunk;
    const std::int64_t end = s.ring ? chunk_end : std::min(chunk_end, ctx);
    const std::int64_t first = s.ring ? std::max<std::int64_t>(0, end - ctx) : 0;
    for (std::size_t h = 0; h < s.heads; ++h) {
      const std::size_t offset = (base + (h / group) * hd) * elem;
      npu_ref::attend(q.as<float>() + t * q_width + h * hd, kc.data + offset, vc.data + offset, half, slot_of(first),
                      static_cast<std::size_t>(end - first), context, kv_width, hd, s.attn_scale, s.scratch.data(),
                      y + h * hd);
    }
  }
  return XPB_OK;
}

xpb_status run_silu_mul(Step& s, RunContext&) {
  const Tensor& a = *s.in[0];
  npu_ref::silu_mul(a.as<float>(), s.in[1]->as<float>(), s.out[0]->as<float>(), a.live * a.cols());
  return XPB_OK;
}

xpb_status run_argmax(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  for (std::size_t t = 0; t < x.live; ++t)
    s.out[0]->as<std::int32_t>()[t] = npu_ref::argmax(x.as<float>() + t * x.cols(), x.cols());
  return XPB_OK;
}

xpb_status run_gather_rows(Step& s, RunContext&) {
  const Tensor &x = *s.in[0], &idx = *s.in[1], &out = *s.out[0];
  const std::size_t n = x.cols();
  for (std::size_t r = 0; r < out.live; ++r) {
    const std::int32_t i = idx.as<std::int32_t>()[r];
    float* y = out.as<float>() + r * n;
    // An index outside the live rows of x gives zeros (graph.hpp), not an error.
    if (i < 0 || static_cast<std::size_t>(i) >= x.live)
      std::fill_n(y, n, 0.0f);
    else
      std::memcpy(y, x.as<float>() + static_cast<std::size_t>(i) * n, n * sizeof(float));
  }
  return XPB_OK;
}

xpb_status run_add_bias(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::add_bias(x.as<float>(), s.in[1]->as<float>(), s.out[0]->as<float>(), x.live, x.cols());
  return XPB_OK;
}

// The DiT ops cover the live rows of x (in0), as ref does; the per-column vectors are read
// whole, whatever their shape ([n] or [1, n]).
xpb_status run_layer_norm(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  const std::size_t n = x.cols();
  const float* w = s.in[1] != nullptr ? s.in[1]->as<float>() : nullptr;
  const float* b = s.in[2] != nullptr ? s.in[2]->as<float>() : nullptr;
  for (std::size_t t = 0; t < x.live; ++t)
    npu_ref::layer_norm_row(x.as<float>() + t * n, w, b, s.eps, s.out[0]->as<float>() + t * n, n);
  return XPB_OK;
}

xpb_status run_modulate(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::modulate(x.as<float>(), s.in[1]->as<float>(), s.in[2]->as<float>(), s.out[0]->as<float>(), x.live,
                    x.cols());
  return XPB_OK;
}

xpb_status run_gated_add(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::gated_add(x.as<float>(), s.in[1]->as<float>(), s.in[2]->as<float>(), s.out[0]->as<float>(), x.live,
                     x.cols());
  return XPB_OK;
}

xpb_status run_gelu(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::gelu(x.as<float>(), s.out[0]->as<float>(), x.live * x.cols());
  return XPB_OK;
}

xpb_status run_silu(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::silu(x.as<float>(), s.out[0]->as<float>(), x.live * x.cols());
  return XPB_OK;
}

xpb_status run_cross_attention(Step& s, RunContext&) {
  const Tensor &q = *s.in[0], &k = *s.in[1];
  const std::size_t width = s.heads * s.head_dim;
  // Every row of k and v, whatever their live rows: the text's keys are all there.
  for (std::size_t t = 0; t < q.live; ++t)
    npu_ref::cross_attention_row(q.as<float>() + t * width, k.as<float>(), s.in[2]->as<float>(), k.rows(), s.heads,
                                 s.head_dim, s.attn_scale, s.scratch.data(), s.out[0]->as<float>() + t * width);
  return XPB_OK;
}

xpb_status run_flow_step(Step& s, RunContext&) {
  const Tensor& x = *s.in[0];
  npu_ref::flow_step(x.as<float>(), s.in[1]->as<float>(), s.in[2]->as<float>(), s.sigma, s.sigma_next,
                     s.out[0]->as<float>(), x.live * x.cols());
  return XPB_OK;
}

xpb_status run_unpatchify(Step& s, RunContext&) {
  npu_ref::unpatchify(s.in[0]->as<float>(), s.grid, s.out[0]->as<float>());
  return XPB_OK;
}

// ============================================================================================
// The op table: what npu_ref knows, checks and resolves
// ============================================================================================

struct AttrSpec {
  const char* key;
  std::uint32_t type;  // XPB_ATTR_*; a real attribute also takes an integer (as xpubench does)
  bool required;
};

struct OpSpec;

// Checks one node of a graph against what npu_ref supports and fills its Step. Refusals:
// XPB_UNSUPPORTED for what the catalogue allows but npu_ref does not do (a dtype), and
// XPB_INVALID_ARGUMENT for what the host should have caught (a shape that does not fit).
struct NodeCheck {
  const xpb_node& node;
  std::uint32_t index;
  const OpSpec& spec;
  xpb_executable_s& exe;
  Step& step;

  Tensor& in(std::size_t i) const { return exe.tensors[node.inputs[i]]; }
  Tensor& out(std::size_t i) const { return exe.tensors[node.outputs[i]]; }
  [[noreturn]] void invalid(const std::string& what) const;
  // "matmul: weights q4_0 are not supported by npu_ref (it does f32, f16 and q8_0)"
  [[noreturn]] void unsupported(const char* what, const Tensor& t, const char* verb, const char* does) const;

  void matrix(const Tensor& t, std::uint32_t dtype, std::int64_t rows, std::int64_t cols, const char* what) const {
    if (t.dtype != dtype || t.shape.size() != 2 || (rows >= 0 && t.shape[0] != rows) ||
        (cols >= 0 && t.shape[1] != cols))
      invalid(cat("expects ", what, " ", dtype_name(dtype), " [", rows >= 0 ? str(rows) : "rows", ", ",
                  cols >= 0 ? str(cols) : "cols", "], got ", t.describe()));
  }
  void vector(const Tensor& t, std::uint32_t dtype, std::int64_t len, const char* what) const {
    if (t.dtype != dtype || t.shape.size() != 1 || (len >= 0 && t.shape[0] != len))
      invalid(cat("expects ", what, " ", dtype_name(dtype), " [", len >= 0 ? str(len) : "n", "], got ", t.describe()));
  }
  // A per-column vector of n floats, as [n] or [1, n] (a matmul's one-row output serves).
  void column_vector(const Tensor& t, std::int64_t n, const char* what) const {
    const bool fits = t.dtype == XPB_DTYPE_F32 && t.elements == static_cast<std::uint64_t>(n) &&
                      (t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[0] == 1));
    if (!fits) invalid(cat("expects ", what, " f32 [", n, "] or [1, ", n, "], got ", t.describe()));
  }

  const xpb_attr* attr(const char* key) const {
    for (std::uint32_t i = 0; i < node.attr_count; ++i)
      if (std::strcmp(node.attrs[i].key, key) == 0) return &node.attrs[i];
    return nullptr;
  }
  std::int64_t integer(const char* key, std::int64_t fallback) const {
    const xpb_attr* a = attr(key);
    return a != nullptr ? a->i : fallback;
  }
  double real(const char* key, double fallback) const {
    const xpb_attr* a = attr(key);
    if (a == nullptr) return fallback;
    return a->type == XPB_ATTR_INT ? static_cast<double>(a->i) : a->f;
  }
  bool boolean(const char* key, bool fallback) const {
    const xpb_attr* a = attr(key);
    return a != nullptr ? a->i != 0 : fallback;
  }
  const char* string(const char* key) const {
    const xpb_attr* a = attr(key);
    return a != nullptr ? a->s : "";
  }
};

using PrepareFn = void (*)(const NodeCheck&);

struct OpSpec {
  std::uint32_t code;
  const char* name;
  std::uint32_t min_inputs, max_inputs, outputs;
  const AttrSpec* attrs;
  std::size_t attr_count;
  // The dtypes query() lists for the op (of the weights for matmul and embedding, of the KV
  // cache for attention, else of the data), and the words for refusing another.
  const std::uint32_t* dtypes;
  std::size_t dtype_count;
  PrepareFn prepare;
};

void NodeCheck::invalid(const std::string& what) const {
  fail(XPB_INVALID_ARGUMENT, cat("node ", index, " (", spec.name, "): ", what));
}
void NodeCheck::unsupported(const char* what, const Tensor& t, const char* verb, const char* does) const {
  fail(XPB_UNSUPPORTED, cat(spec.name, ": ", what, " ", dtype_name(t.dtype), " ", verb,
                            " not supported by npu_ref (it does ", does, ")"));
}

// --- memory ops -----------------------------------------------------------------------------

// copy, scale, add, triad, write_fill: every input of the output's dtype and shape.
void prepare_stream(const NodeCheck& c) {
  const Tensor& o = c.out(0);
  if (o.dtype != XPB_DTYPE_F32 && o.dtype != XPB_DTYPE_F64) c.unsupported("tensors", o, "are", "f32 and f64");
  for (std::uint32_t i = 0; i < c.node.input_count; ++i)
    if (c.in(i).dtype != o.dtype || c.in(i).shape != o.shape)
      c.invalid(cat("input ", c.in(i).describe(), " differs from output ", o.describe()));
  Step& s = c.step;
  s.scalar = c.real("scalar", 3.0);  // STREAM's default
  s.value = c.real("value", 0.0);
  // "nontemporal" is a hint for devices with streaming stores; npu_ref has none and ignores it.
  const bool f64 = o.dtype == XPB_DTYPE_F64;
  switch (c.spec.code) {
    case 1: s.fn = f64 ? run_copy<double> : run_copy<float>; break;
    case 2: s.fn = f64 ? run_scale<double> : run_scale<float>; break;
    case 3: s.fn = f64 ? run_add<double> : run_add<float>; break;
    case 4: s.fn = f64 ? run_triad<double> : run_triad<float>; break;
    default: s.fn = f64 ? run_write_fill<double> : run_write_fill<float>; break;
  }
}

void prepare_read_sum(const NodeCheck& c) {
  const Tensor& a = c.in(0);
  if (a.dtype != XPB_DTYPE_F32 && a.dtype != XPB_DTYPE_F64) c.unsupported("input", a, "is", "f32 and f64");
  if (c.out(0).dtype != XPB_DTYPE_F64 || c.out(0).elements != 1)
    c.invalid(cat("expects an f64 [1] output, got ", c.out(0).describe()));
  c.step.fn = a.dtype == XPB_DTYPE_F64 ? run_read_sum<double> : run_read_sum<float>;
}

void prepare_chase(const NodeCheck& c) {
  const Tensor& ring = c.in(0);
  if (ring.dtype != XPB_DTYPE_U64) c.unsupported("ring", ring, "is", "u64");
  if (ring.shape.size() != 2 || ring.shape[0] < 1 || ring.shape[1] < 1)
    c.invalid(cat("expects a u64 [lines, words] ring, got ", ring.describe()));
  const std::int64_t chains = c.integer("chains", 1), steps = c.integer("steps", -1);
  if (chains < 1 || chains > ring.shape[0]) c.invalid(cat("chains = ", chains, " is outside 1..", ring.shape[0]));
  if (steps < 0) c.invalid(cat("steps = ", steps, " is negative"));
  if (c.out(0).dtype != XPB_DTYPE_U64 || c.out(0).elements != static_cast<std::uint64_t>(chains))
    c.invalid(cat("expects a u64 [", chains, "] output, got ", c.out(0).describe()));
  c.step.chains = static_cast<std::uint64_t>(chains);
  c.step.steps = static_cast<std::uint64_t>(steps);
  c.step.fn = run_chase;
}

// The pattern attributes shared by fill_pattern and verify_pattern.
void parse_pattern(const NodeCheck& c) {
  static const char* const kNames[] = {"walking_ones", "walking_zeros", "checkerboard", "random", "address"};
  const char* name = c.string("pattern");
  std::size_t p = 0;
  while (p < 5 && std::strcmp(name, kNames[p]) != 0) ++p;
  if (p == 5) c.invalid(cat("unknown pattern '", name, "'"));
  c.step.pattern = static_cast<Pattern>(p);
  c.step.seed = static_cast<std::uint64_t>(c.integer("seed", 0));
  c.step.invert = c.boolean("invert", false);
}

void prepare_fill_pattern(const NodeCheck& c) {
  if (c.out(0).dtype != XPB_DTYPE_U64) c.unsupported("buffer", c.out(0), "is", "u64");
  parse_pattern(c);
  c.step.fn = run_fill_pattern;
}

void prepare_verify_pattern(const NodeCheck& c) {
  if (c.in(0).dtype != XPB_DTYPE_U64) c.unsupported("buffer", c.in(0), "is", "u64");
  parse_pattern(c);
  const std::int64_t max_errors = c.integer("max_errors", 0);
  if (max_errors < 1) c.invalid("expects max_errors >= 1");
  if (c.out(0).dtype != XPB_DTYPE_U64 || c.out(0).elements != 1)
    c.invalid(cat("expects a u64 [1] count output, got ", c.out(0).describe()));
  if (c.out(1).dtype != XPB_DTYPE_U64 || c.out(1).elements / 3 != static_cast<std::uint64_t>(max_errors) ||
      c.out(1).elements % 3 != 0)
    c.invalid(cat("expects a u64 [", max_errors, ", 3] error list, got ", c.out(1).describe()));
  c.step.max_errors = static_cast<std::uint64_t>(max_errors);
  c.step.fn = run_verify_pattern;
}

// --- transformer ops ------------------------------------------------------------------------

// The weight formats of embedding tables and matmul weights: f32, f16 and q8_0. bf16 and q4_0
// are in the catalogue but not here (refused as unsupported, as a device that lacks them would).
void weight_format(const NodeCheck& c, const Tensor& w, const char* what, const char* verb) {
  switch (w.dtype) {
    case XPB_DTYPE_F32: c.step.weights = WeightFormat::f32; break;
    case XPB_DTYPE_F16: c.step.weights = WeightFormat::f16; break;
    case XPB_DTYPE_Q8_0: c.step.weights = WeightFormat::q8_0; break;
    default: c.unsupported(what, w, verb, "f32, f16 and q8_0");
  }
  if (w.shape.size() != 2 || (w.dtype == XPB_DTYPE_Q8_0 && w.shape[1] % 32 != 0))
    c.invalid(cat("expects ", what, " [rows, cols] (cols whole blocks of 32 for q8_0), got ", w.describe()));
}

// An activation must be f32 (the only activation dtype of the catalogue); anything else is a
// dtype npu_ref does not do.
void f32_activation(const NodeCheck& c, const Tensor& t, const char* what) {
  if (t.dtype != XPB_DTYPE_F32) c.unsupported(what, t, "is", "f32");
}

void prepare_embedding(const NodeCheck& c) {
  const Tensor &table = c.in(0), &ids = c.in(1);
  weight_format(c, table, "table", "is");
  c.vector(ids, XPB_DTYPE_I32, -1, "token ids");
  c.matrix(c.out(0), XPB_DTYPE_F32, ids.shape[0], table.shape[1], "an output");
  c.step.fn = run_embedding;
}

void prepare_rms_norm(const NodeCheck& c) {
  const Tensor& x = c.in(0);
  f32_activation(c, x, "x");
  c.matrix(x, XPB_DTYPE_F32, -1, -1, "x");
  c.vector(c.in(1), XPB_DTYPE_F32, x.shape[1], "a weight");
  c.matrix(c.out(0), XPB_DTYPE_F32, x.shape[0], x.shape[1], "an output");
  const double eps = c.real("eps", 1e-5);
  if (!(eps > 0)) c.invalid("expects a positive 'eps'");
  c.step.eps = static_cast<float>(eps);
  c.step.fn = run_rms_norm;
}

void prepare_matmul(const NodeCheck& c) {
  const Tensor &x = c.in(0), &w = c.in(1), &o = c.out(0);
  weight_format(c, w, "weights", "are");
  f32_activation(c, x, "x");
  c.matrix(x, XPB_DTYPE_F32, -1, w.shape[1], "x");
  c.matrix(o, XPB_DTYPE_F32, x.shape[0], w.shape[0], "an output");
  if (&o == &x) fail(XPB_UNSUPPORTED, "matmul: out is x, and npu_ref's matmul does not run in place");
  Step& s = c.step;
  const std::size_t rows = x.rows(), k = x.cols();
  if (s.weights == WeightFormat::q8_0) {
    s.q8.resize(rows * k);                             // every row's codes
    s.scratch.resize(rows * (k / npu_ref::kQ8Block));  // and scales
  } else if (s.weights == WeightFormat::f16) {
    s.scratch.resize(npu_ref::kTileRows * k);  // a tile of weight rows widened to f32
  }
  s.fn = run_matmul;
}

void prepare_rope(const NodeCheck& c) {
  const Tensor& x = c.in(0);
  f32_activation(c, x, "x");
  c.matrix(x, XPB_DTYPE_F32, -1, -1, "x");
  const std::int64_t hd = c.integer("head_dim", 0);
  const double theta = c.real("theta", 0.0);
  if (hd < 2 || hd % 2 != 0) c.invalid("expects an even 'head_dim' >= 2");
  if (!(theta > 0)) c.invalid("expects a positive 'theta'");
  if (x.shape[1] % hd != 0) c.invalid(cat("x columns (", x.shape[1], ") are not whole heads of ", hd));
  c.vector(c.in(1), XPB_DTYPE_I32, x.shape[0], "positions");
  if (c.node.input_count == 3) c.vector(c.in(2), XPB_DTYPE_F32, hd / 2, "frequency factors");
  c.matrix(c.out(0), XPB_DTYPE_F32, x.shape[0], x.shape[1], "an output");
  Step& s = c.step;
  s.head_dim = static_cast<std::size_t>(hd);
  s.inv_freq.resize(s.head_dim / 2);
  for (std::size_t i = 0; i < s.inv_freq.size(); ++i)
    s.inv_freq[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
  s.fn = run_rope;
}

void prepare_attention(const NodeCheck& c) {
  const std::int64_t heads = c.integer("heads", 0), kv_heads = c.integer("kv_heads", 0), hd = c.integer("head_dim", 0);
  if (heads < 1 || kv_heads < 1 || hd < 1 || heads % kv_heads != 0)
    c.invalid("expects heads, kv_heads (dividing heads) and head_dim >= 1");
  const Tensor &kc = c.in(5), &vc = c.in(6);
  if (kc.dtype != XPB_DTYPE_F32 && kc.dtype != XPB_DTYPE_F16) c.unsupported("KV cache", kc, "is", "f32 and f16");
  for (const Tensor* cache : {&kc, &vc})
    if (cache->dtype != kc.dtype || cache->shape.size() != 3 || cache->shape != kc.shape || kc.shape[0] < 1 ||
        kc.shape[1] < 1 || kc.shape[2] != kv_heads * hd)
      c.invalid(cat("expects k and v caches f32 or f16 [slots, context, ", kv_heads * hd, "] alike, got ",
                    cache->describe()));
  const Tensor& q = c.in(0);
  f32_activation(c, q, "q");
  c.matrix(q, XPB_DTYPE_F32, -1, heads * hd, "q");
  const std::int64_t t = q.shape[0];
  c.matrix(c.in(1), XPB_DTYPE_F32, t, kv_heads * hd, "k");
  c.matrix(c.in(2), XPB_DTYPE_F32, t, kv_heads * hd, "v");
  c.vector(c.in(3), XPB_DTYPE_I32, t, "positions");
  c.vector(c.in(4), XPB_DTYPE_I32, t, "sequence ids");
  c.matrix(c.out(0), XPB_DTYPE_F32, t, heads * hd, "an output");
  Step& s = c.step;
  s.heads = static_cast<std::size_t>(heads);
  s.kv_heads = static_cast<std::size_t>(kv_heads);
  s.head_dim = static_cast<std::size_t>(hd);
  s.attn_scale = static_cast<float>(c.real("scale", 1.0 / std::sqrt(static_cast<double>(hd))));
  s.chunk = c.integer("chunk", 1);
  s.ring = c.boolean("ring", false);
  if (s.chunk < 1) c.invalid("expects 'chunk' >= 1");
  if (s.ring && kc.shape[1] % s.chunk != 0) c.invalid("expects 'chunk' to divide the cache's positions in a ring");
  // "context_dim" only feeds xpubench's cost model; the kernel attends each row's 0..pos.
  s.scratch.resize(static_cast<std::size_t>(kc.shape[1]));  // one score per cached position
  s.fn = run_attention;
}

void prepare_silu_mul(const NodeCheck& c) {
  const Tensor& a = c.in(0);
  f32_activation(c, a, "gate");
  c.matrix(a, XPB_DTYPE_F32, -1, -1, "a gate");
  c.matrix(c.in(1), XPB_DTYPE_F32, a.shape[0], a.shape[1], "an up projection");
  c.matrix(c.out(0), XPB_DTYPE_F32, a.shape[0], a.shape[1], "an output");
  c.step.fn = run_silu_mul;
}

void prepare_argmax(const NodeCheck& c) {
  const Tensor& x = c.in(0);
  f32_activation(c, x, "scores");
  c.matrix(x, XPB_DTYPE_F32, -1, -1, "scores");
  c.vector(c.out(0), XPB_DTYPE_I32, x.shape[0], "an output");
  c.step.fn = run_argmax;
}

void prepare_gather_rows(const NodeCheck& c) {
  const Tensor &x = c.in(0), &idx = c.in(1);
  f32_activation(c, x, "x");
  c.matrix(x, XPB_DTYPE_F32, -1, -1, "x");
  c.vector(idx, XPB_DTYPE_I32, -1, "row indices");
  c.matrix(c.out(0), XPB_DTYPE_F32, idx.shape[0], x.shape[1], "an output");
  if (&c.out(0) == &x) fail(XPB_UNSUPPORTED, "gather_rows: out is x, and npu_ref's gather_rows does not run in place");
  c.step.fn = run_gather_rows;
}

// Every tensor of an add_bias or DiT node is f32 in the catalogue; another dtype is one npu_ref
// does not do (unsupported, naming the tensor), checked before the shapes.
void f32_only(const NodeCheck& c) {
  for (std::uint32_t i = 0; i < c.node.input_count; ++i)
    f32_activation(c, c.in(i), cat("input '", c.in(i).name, "'").c_str());
  f32_activation(c, c.out(0), cat("output '", c.out(0).name, "'").c_str());
}

// x f32 [T, n] and an output of its shape: what every elementwise op below starts with.
void same_shape_out(const NodeCheck& c) {
  const Tensor& x = c.in(0);
  c.matrix(x, XPB_DTYPE_F32, -1, -1, "x");
  c.matrix(c.out(0), XPB_DTYPE_F32, x.shape[0], x.shape[1], "an output");
}

// Qwen2's Q/K/V biases, and every Linear's bias in the DiT.
void prepare_add_bias(const NodeCheck& c) {
  f32_only(c);
  same_shape_out(c);
  c.vector(c.in(1), XPB_DTYPE_F32, c.in(0).shape[1], "a bias");
  c.step.fn = run_add_bias;
}

// --- diffusion-transformer ops --------------------------------------------------------------

void prepare_layer_norm(const NodeCheck& c) {
  f32_only(c);
  if (c.node.input_count == 2) c.invalid("expects x alone, or x with both a weight and a bias");
  same_shape_out(c);
  const std::int64_t n = c.in(0).shape[1];
  if (c.node.input_count == 3) {
    c.vector(c.in(1), XPB_DTYPE_F32, n, "a weight");
    c.vector(c.in(2), XPB_DTYPE_F32, n, "a bias");
  }
  const double eps = c.real("eps", 1e-5);
  if (!(eps > 0)) c.invalid("expects a positive 'eps'");
  c.step.eps = static_cast<float>(eps);
  c.step.fn = run_layer_norm;
}

void prepare_modulate(const NodeCheck& c) {
  f32_only(c);
  same_shape_out(c);
  c.column_vector(c.in(1), c.in(0).shape[1], "a shift");
  c.column_vector(c.in(2), c.in(0).shape[1], "a scale");
  c.step.fn = run_modulate;
}

void prepare_gated_add(const NodeCheck& c) {
  f32_only(c);
  same_shape_out(c);
  const Tensor& x = c.in(0);
  c.matrix(c.in(1), XPB_DTYPE_F32, x.shape[0], x.shape[1], "y");
  c.column_vector(c.in(2), x.shape[1], "a gate");
  c.step.fn = run_gated_add;
}

// gelu and silu.
void prepare_unary(const NodeCheck& c) {
  f32_only(c);
  same_shape_out(c);
  c.step.fn = c.spec.code == 26 ? run_gelu : run_silu;
}

void prepare_cross_attention(const NodeCheck& c) {
  f32_only(c);
  const std::int64_t heads = c.integer("heads", 0), hd = c.integer("head_dim", 0);
  if (heads < 1 || hd < 1) c.invalid("expects heads and head_dim attributes >= 1");
  const std::int64_t width = heads * hd;
  const Tensor &q = c.in(0), &k = c.in(1);
  c.matrix(q, XPB_DTYPE_F32, -1, width, "q");
  c.matrix(k, XPB_DTYPE_F32, -1, width, "k");
  if (k.shape[0] < 1) c.invalid(cat("expects at least one key, got ", k.describe()));
  c.matrix(c.in(2), XPB_DTYPE_F32, k.shape[0], width, "v");
  c.matrix(c.out(0), XPB_DTYPE_F32, q.shape[0], width, "an output");
  // The catalogue does not let cross_attention run in place, and every row reads all of k and
  // v: an output that is k or v would be read after earlier rows overwrote it.
  for (std::size_t i = 0; i < 3; ++i)
    if (&c.out(0) == &c.in(i))
      fail(XPB_UNSUPPORTED, "cross_attention: out is an input, and npu_ref's cross_attention does not run in place");
  Step& s = c.step;
  s.heads = static_cast<std::size_t>(heads);
  s.head_dim = static_cast<std::size_t>(hd);
  s.attn_scale = static_cast<float>(c.real("scale", 1.0 / std::sqrt(static_cast<double>(hd))));
  s.scratch.resize(static_cast<std::size_t>(k.shape[0]));  // one score per key
  s.fn = run_cross_attention;
}

void prepare_flow_step(const NodeCheck& c) {
  f32_only(c);
  same_shape_out(c);
  const Tensor& x = c.in(0);
  c.matrix(c.in(1), XPB_DTYPE_F32, x.shape[0], x.shape[1], "v");
  c.matrix(c.in(2), XPB_DTYPE_F32, x.shape[0], x.shape[1], "noise");
  double levels[2];
  const char* names[2] = {"sigma", "sigma_next"};
  for (int i = 0; i < 2; ++i) {
    levels[i] = c.real(names[i], -1);
    if (!(levels[i] >= 0 && levels[i] <= 1)) c.invalid(cat("expects '", names[i], "' in [0, 1]"));
  }
  c.step.sigma = static_cast<float>(levels[0]);
  c.step.sigma_next = static_cast<float>(levels[1]);
  c.step.fn = run_flow_step;
}

void prepare_unpatchify(const NodeCheck& c) {
  f32_only(c);
  const char* names[6] = {"frames", "height", "width", "channels", "patch_h", "patch_w"};
  std::int64_t v[6];
  for (int i = 0; i < 6; ++i)
    if ((v[i] = c.integer(names[i], 0)) < 1) c.invalid(cat("expects '", names[i], "' >= 1"));
  const std::int64_t frames = v[0], h = v[1], w = v[2], ch = v[3], ph = v[4], pw = v[5];
  const Tensor &x = c.in(0), &o = c.out(0);
  c.matrix(x, XPB_DTYPE_F32, frames * h * w, ph * pw * ch, "tokens");
  if (o.shape != std::vector<std::int64_t>{ch, frames, h * ph, w * pw})
    c.invalid(cat("expects an output f32 [", ch, ", ", frames, ", ", h * ph, ", ", w * pw, "], got ", o.describe()));
  // Every token is moved: a tensor with live rows would leave frames half written.
  if (x.rows_dim >= 0 || o.rows_dim >= 0) c.invalid("expects tokens and frames with a fixed number of rows");
  c.step.grid = {static_cast<std::size_t>(frames), static_cast<std::size_t>(h), static_cast<std::size_t>(w),
                 static_cast<std::size_t>(ch),     static_cast<std::size_t>(ph), static_cast<std::size_t>(pw)};
  c.step.fn = run_unpatchify;
}

// --- the table ------------------------------------------------------------------------------

constexpr AttrSpec kStreamAttrs[] = {
    {"scalar", XPB_ATTR_REAL, false}, {"nontemporal", XPB_ATTR_BOOL, false}, {"value", XPB_ATTR_REAL, false}};
constexpr AttrSpec kChaseAttrs[] = {{"steps", XPB_ATTR_INT, true}, {"chains", XPB_ATTR_INT, false}};
constexpr AttrSpec kFillAttrs[] = {
    {"pattern", XPB_ATTR_STRING, true}, {"seed", XPB_ATTR_INT, false}, {"invert", XPB_ATTR_BOOL, false}};
constexpr AttrSpec kVerifyAttrs[] = {{"pattern", XPB_ATTR_STRING, true},
                                     {"seed", XPB_ATTR_INT, false},
                                     {"invert", XPB_ATTR_BOOL, false},
                                     {"max_errors", XPB_ATTR_INT, true}};
constexpr AttrSpec kRmsAttrs[] = {{"eps", XPB_ATTR_REAL, false}};
constexpr AttrSpec kRopeAttrs[] = {{"head_dim", XPB_ATTR_INT, true}, {"theta", XPB_ATTR_REAL, true}};
constexpr AttrSpec kAttentionAttrs[] = {{"heads", XPB_ATTR_INT, true},
                                        {"kv_heads", XPB_ATTR_INT, true},
                                        {"head_dim", XPB_ATTR_INT, true},
                                        {"scale", XPB_ATTR_REAL, false},
                                        {"chunk", XPB_ATTR_INT, false},
                                        {"ring", XPB_ATTR_BOOL, false},
                                        {"context_dim", XPB_ATTR_INT, false}};
constexpr AttrSpec kLayerNormAttrs[] = {{"eps", XPB_ATTR_REAL, false}};
constexpr AttrSpec kCrossAttentionAttrs[] = {
    {"heads", XPB_ATTR_INT, true}, {"head_dim", XPB_ATTR_INT, true}, {"scale", XPB_ATTR_REAL, false}};
constexpr AttrSpec kFlowStepAttrs[] = {{"sigma", XPB_ATTR_REAL, true}, {"sigma_next", XPB_ATTR_REAL, true}};
constexpr AttrSpec kUnpatchifyAttrs[] = {{"frames", XPB_ATTR_INT, true},  {"height", XPB_ATTR_INT, true},
                                         {"width", XPB_ATTR_INT, true},   {"channels", XPB_ATTR_INT, true},
                                         {"patch_h", XPB_ATTR_INT, true}, {"patch_w", XPB_ATTR_INT, true}};

constexpr std::uint32_t kFloatData[] = {XPB_DTYPE_F64, XPB_DTYPE_F32};
constexpr std::uint32_t kU64Data[] = {XPB_DTYPE_U64};
constexpr std::uint32_t kF32Data[] = {XPB_DTYPE_F32};
constexpr std::uint32_t kWeightData[] = {XPB_DTYPE_F32, XPB_DTYPE_F16, XPB_DTYPE_Q8_0};
constexpr std::uint32_t kCacheData[] = {XPB_DTYPE_F32, XPB_DTYPE_F16};

#define NPU_REF_LIST(a) a, sizeof(a) / sizeof((a)[0])
constexpr OpSpec kOps[] = {
    {1, "copy", 1, 1, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_stream},
    {2, "scale", 1, 1, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_stream},
    {3, "add", 2, 2, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_stream},
    {4, "triad", 2, 2, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_stream},
    {5, "read_sum", 1, 1, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_read_sum},
    {6, "write_fill", 0, 0, 1, NPU_REF_LIST(kStreamAttrs), NPU_REF_LIST(kFloatData), prepare_stream},
    {7, "chase", 1, 1, 1, NPU_REF_LIST(kChaseAttrs), NPU_REF_LIST(kU64Data), prepare_chase},
    {8, "fill_pattern", 0, 0, 1, NPU_REF_LIST(kFillAttrs), NPU_REF_LIST(kU64Data), prepare_fill_pattern},
    {9, "verify_pattern", 1, 1, 2, NPU_REF_LIST(kVerifyAttrs), NPU_REF_LIST(kU64Data), prepare_verify_pattern},
    {10, "embedding", 2, 2, 1, nullptr, 0, NPU_REF_LIST(kWeightData), prepare_embedding},
    {11, "rms_norm", 2, 2, 1, NPU_REF_LIST(kRmsAttrs), NPU_REF_LIST(kF32Data), prepare_rms_norm},
    {12, "matmul", 2, 2, 1, nullptr, 0, NPU_REF_LIST(kWeightData), prepare_matmul},
    {13, "rope", 2, 3, 1, NPU_REF_LIST(kRopeAttrs), NPU_REF_LIST(kF32Data), prepare_rope},
    {14, "attention", 7, 7, 1, NPU_REF_LIST(kAttentionAttrs), NPU_REF_LIST(kCacheData), prepare_attention},
    {15, "silu_mul", 2, 2, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_silu_mul},
    {16, "argmax", 1, 1, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_argmax},
    {17, "gather_rows", 2, 2, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_gather_rows},
    {21, "add_bias", 2, 2, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_add_bias},
    {23, "layer_norm", 1, 3, 1, NPU_REF_LIST(kLayerNormAttrs), NPU_REF_LIST(kF32Data), prepare_layer_norm},
    {24, "modulate", 3, 3, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_modulate},
    {25, "gated_add", 3, 3, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_gated_add},
    {26, "gelu", 1, 1, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_unary},
    {27, "silu", 1, 1, 1, nullptr, 0, NPU_REF_LIST(kF32Data), prepare_unary},
    {28, "cross_attention", 3, 3, 1, NPU_REF_LIST(kCrossAttentionAttrs), NPU_REF_LIST(kF32Data),
     prepare_cross_attention},
    {29, "flow_step", 3, 3, 1, NPU_REF_LIST(kFlowStepAttrs), NPU_REF_LIST(kF32Data), prepare_flow_step},
    {30, "unpatchify", 1, 1, 1, NPU_REF_LIST(kUnpatchifyAttrs), NPU_REF_LIST(kF32Data), prepare_unpatchify},
};
#undef NPU_REF_LIST

const OpSpec* find_op(std::uint32_t code) {
  for (const OpSpec& op : kOps)
    if (op.code == code) return &op;
  return nullptr;
}

// ============================================================================================
// Device description and caps
// ============================================================================================

const char kDeviceJson[] =
    "{\"name\": \"npu_ref reference NPU (host CPU, 1 thread)\", \"kind\": \"npu\", \"reference\": true, "
    "\"properties\": {\"abi\": \"1\", \"implementation\": \"scalar C++, one thread\"}}";

// The smallest nonzero step of CLOCK_MONOTONIC seen over back-to-back reads, in ns.
std::uint64_t clock_resolution_ns() {
  std::uint64_t best = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t prev = now_ns(CLOCK_MONOTONIC);
  int steps_seen = 0;
  for (int i = 0; i < 200000 && steps_seen < 200; ++i) {
    const std::uint64_t t = now_ns(CLOCK_MONOTONIC);
    if (t > prev) {
      best = std::min(best, t - prev);
      ++steps_seen;
    }
    prev = t;
  }
  return steps_seen > 0 ? best : 1;
}

// The caps JSON of xpubench_plugin.h's query(), written by hand: the format is small and fixed,
// and a plugin should not need a JSON library. Numbers are integers (to_string ignores the
// locale); the resolution is written as an integer count of nanoseconds with an exponent.
std::string make_caps() {
  std::string j = "{\"ops\": [";
  for (std::size_t i = 0; i < sizeof kOps / sizeof kOps[0]; ++i) {
    j += cat(i ? ", " : "", "{\"op\": ", kOps[i].code, ", \"dtypes\": [");
    for (std::size_t d = 0; d < kOps[i].dtype_count; ++d) j += cat(d ? ", " : "", kOps[i].dtypes[d]);
    j += "]}";
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  const std::uint64_t memory =
      pages > 0 && page_size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size) : 0;
  j += cat("], \"memory_bytes\": ", memory);
  j += ", \"shares_host_memory\": true";  // its "device memory" is host memory it allocates
  j += cat(", \"clock\": {\"kind\": ", static_cast<int>(XPB_CLOCK_HOST), ", \"resolution_s\": ", clock_resolution_ns(),
           "e-9, \"deterministic\": false}");
  j += ", \"numeric_profile\": {\"accumulation\": \"f32\", "
       "\"quantized_matmul\": \"activations rounded to Q8_0 per row block, int32 dot products\", "
       "\"f16_matmul\": \"weights widened to f32\"}}";
  return j;
}

// ============================================================================================
// Compile
// ============================================================================================

// The tensors of a graph, checked (the host checked them against the catalogue; we check what
// our memory safety rests on: known dtypes and byte counts that match the shapes).
void make_tensors(const xpb_graph& g, xpb_executable_s& exe) {
  exe.tensors.resize(g.tensor_count);
  for (std::uint32_t i = 0; i < g.tensor_count; ++i) {
    const xpb_tensor& d = g.tensors[i];
    Tensor& t = exe.tensors[i];
    t.name = d.name != nullptr ? d.name : cat("#", i);
    if (!known_dtype(d.dtype))
      fail(XPB_UNSUPPORTED, cat("tensor '", t.name, "': dtype code ", d.dtype, " is not known to npu_ref"));
    t.dtype = d.dtype;
    if (d.rank > 0 && d.shape == nullptr)
      fail(XPB_INVALID_ARGUMENT, cat("tensor '", t.name, "': rank ", d.rank, " but no shape"));
    t.shape.assign(d.shape, d.shape + d.rank);
    // Element and byte counts in 64 bits, refusing any product that would wrap.
    std::uint64_t n = 1;
    for (std::int64_t dim : t.shape) {
      if (dim < 0) fail(XPB_INVALID_ARGUMENT, cat("tensor ", t.describe(), ": negative dimension"));
      if (dim != 0 && n > std::numeric_limits<std::uint64_t>::max() / 64 / static_cast<std::uint64_t>(dim))
        fail(XPB_INVALID_ARGUMENT, cat("tensor ", t.describe(), ": too many elements"));
      n *= static_cast<std::uint64_t>(dim);
    }
    const DtypeInfo& info = kDtypes[d.dtype];
    if (n % info.block_elements != 0)
      fail(XPB_INVALID_ARGUMENT,
           cat("tensor ", t.describe(), ": elements are not whole blocks of ", info.block_elements));
    t.elements = n;
    t.bytes = n / info.block_elements * info.block_bytes;
    if (d.bytes != t.bytes)
      fail(XPB_INVALID_ARGUMENT, cat("tensor ", t.describe(), ": bytes = ", d.bytes, ", the shape needs ", t.bytes));
    if (d.rows_dim < -1 || d.rows_dim >= static_cast<std::int64_t>(g.dim_count) || (d.rows_dim >= 0 && d.rank == 0))
      fail(XPB_INVALID_ARGUMENT, cat("tensor '", t.name, "': rows_dim ", d.rows_dim, " names no dynamic dim of ",
                                     g.dim_count, " (or the tensor has no rows)"));
    t.rows_dim = d.rows_dim;
  }
}

// Every node checked and resolved into a step pointing at exe.tensors.
void make_steps(const xpb_graph& g, xpb_executable_s& exe) {
  exe.steps.resize(g.node_count);
  for (std::uint32_t n = 0; n < g.node_count; ++n) {
    const xpb_node& node = g.nodes[n];
    const OpSpec* spec = find_op(node.op);
    if (spec == nullptr) fail(XPB_UNSUPPORTED, cat("op code ", node.op, " is not known to npu_ref"));
    auto bad = [&](const std::string& what) {
      fail(XPB_INVALID_ARGUMENT, cat("node ", n, " (", spec->name, "): ", what));
    };
    if (node.input_count < spec->min_inputs || node.input_count > spec->max_inputs ||
        node.output_count != spec->outputs)
      bad(cat("expects ", spec->min_inputs, spec->min_inputs == spec->max_inputs ? "" : cat(" to ", spec->max_inputs),
              " inputs and ", spec->outputs, " outputs, has ", node.input_count, " and ", node.output_count));
    if ((node.input_count > 0 && node.inputs == nullptr) || (node.output_count > 0 && node.outputs == nullptr) ||
        (node.attr_count > 0 && node.attrs == nullptr))
      bad("a count without its array");
    Step& step = exe.steps[n];
    for (std::uint32_t i = 0; i < node.input_count; ++i) {
      if (node.inputs[i] >= g.tensor_count) bad(cat("input tensor ", node.inputs[i], " does not exist"));
      step.in[i] = &exe.tensors[node.inputs[i]];
    }
    for (std::uint32_t i = 0; i < node.output_count; ++i) {
      if (node.outputs[i] >= g.tensor_count) bad(cat("output tensor ", node.outputs[i], " does not exist"));
      step.out[i] = &exe.tensors[node.outputs[i]];
    }
    // Attributes: every one known to us and of its type, the required ones present.
    for (std::uint32_t a = 0; a < node.attr_count; ++a) {
      const xpb_attr& attr = node.attrs[a];
      if (attr.key == nullptr) bad("an attribute without a key");
      const AttrSpec* known = nullptr;
      for (std::size_t k = 0; k < spec->attr_count; ++k)
        if (std::strcmp(spec->attrs[k].key, attr.key) == 0) known = &spec->attrs[k];
      if (known == nullptr)
        fail(XPB_UNSUPPORTED, cat(spec->name, ": attribute '", attr.key, "' is not known to npu_ref"));
      const bool typed = attr.type == known->type || (known->type == XPB_ATTR_REAL && attr.type == XPB_ATTR_INT);
      if (!typed || (attr.type == XPB_ATTR_STRING && attr.s == nullptr))
        bad(cat("attribute '", attr.key, "' has the wrong type (", attr.type, ")"));
    }
    for (std::size_t k = 0; k < spec->attr_count; ++k) {
      bool present = false;
      for (std::uint32_t a = 0; a < node.attr_count; ++a)
        present = present || std::strcmp(node.attrs[a].key, spec->attrs[k].key) == 0;
      if (spec->attrs[k].required && !present) bad(cat("needs the attribute '", spec->attrs[k].key, "'"));
    }
    spec->prepare(NodeCheck{node, n, *spec, exe, step});
  }
}

// Memory for every tensor: the bound buffer's, or our own, holding `initial` or zeros.
void place_tensors(const xpb_graph& g, xpb_device_s* device, xpb_executable_s& exe) {
  for (std::uint32_t i = 0; i < g.tensor_count; ++i) {
    Tensor& t = exe.tensors[i];
    const xpb_buffer_s* bound = g.bindings != nullptr ? g.bindings[i] : nullptr;
    if (bound != nullptr) {
      if (bound->device != device)
        fail(XPB_INVALID_ARGUMENT, cat("tensor '", t.name, "' is bound to a buffer of another device"));
      if (bound->bytes != t.bytes)
        fail(XPB_INVALID_ARGUMENT,
             cat("tensor ", t.describe(), " needs ", t.bytes, " bytes, its bound buffer holds ", bound->bytes));
      // A bound tensor keeps the buffer's contents (a KV cache shared by two graphs): its
      // `initial` is NULL by contract, and is not copied if a host gives one anyway.
      t.data = bound->data;
      continue;
    }
    t.own = Memory::take(t.bytes);
    if (t.own.p == nullptr)
      fail(XPB_OUT_OF_MEMORY, cat("tensor ", t.describe(), ": ", t.bytes, " bytes of device memory are not available"));
    t.data = t.own.p;
    // Without initial contents the tensor is zeroed: the graph should write it first, but a
    // defined start makes a broken graph reproducible.
    if (g.tensors[i].initial != nullptr)
      std::memcpy(t.data, g.tensors[i].initial, t.bytes);
    else
      std::memset(t.data, 0, t.bytes);
  }
}

// ============================================================================================
// The entry points
// ============================================================================================

[[noreturn]] void null_argument(const char* what) { fail(XPB_INVALID_ARGUMENT, cat(what, " is NULL")); }

const char* npu_last_error(void) noexcept { return t_last_error.c_str(); }

xpb_status npu_enumerate(uint32_t* count) noexcept {
  return guarded([&]() -> xpb_status {
    if (count == nullptr) null_argument("count");
    *count = 1;  // the host CPU is always there
    return XPB_OK;
  });
}

xpb_status npu_describe_device(uint32_t index, const char** json) noexcept {
  return guarded([&]() -> xpb_status {
    if (json == nullptr) null_argument("json");
    if (index != 0) fail(XPB_INVALID_ARGUMENT, cat("device index ", index, " is out of range (npu_ref has 1 device)"));
    *json = kDeviceJson;
    return XPB_OK;
  });
}

xpb_status npu_open(uint32_t index, uint32_t option_count, const char* const* keys, const char* const* values,
                    xpb_device* out) noexcept {
  return guarded([&]() -> xpb_status {
    if (out == nullptr) null_argument("out");
    if (index != 0) fail(XPB_INVALID_ARGUMENT, cat("device index ", index, " is out of range (npu_ref has 1 device)"));
    if (option_count > 0 && (keys == nullptr || values == nullptr)) null_argument("keys or values");
    if (option_count > 0)
      fail(XPB_INVALID_ARGUMENT, cat("option '", keys[0], "' is not known to npu_ref (it takes none)"));
    auto device = std::make_unique<xpb_device_s>();
    device->caps = make_caps();
    *out = device.release();
    return XPB_OK;
  });
}

xpb_status npu_query(xpb_device device, const char** caps_json) noexcept {
  return guarded([&]() -> xpb_status {
    if (device == nullptr) null_argument("device");
    if (caps_json == nullptr) null_argument("caps_json");
    *caps_json = device->caps.c_str();
    return XPB_OK;
  });
}

xpb_status npu_alloc(xpb_device device, uint64_t bytes, xpb_buffer* out) noexcept {
  return guarded([&]() -> xpb_status {
    if (device == nullptr) null_argument("device");
    if (out == nullptr) null_argument("out");
    if (bytes == 0) fail(XPB_INVALID_ARGUMENT, "alloc of 0 bytes");
    auto buffer = std::make_unique<xpb_buffer_s>();
    buffer->memory = Memory::take(bytes);
    if (buffer->memory.p == nullptr) fail(XPB_OUT_OF_MEMORY, cat("alloc of ", bytes, " bytes: not available"));
    buffer->device = device;
    buffer->data = buffer->memory.p;
    buffer->bytes = bytes;
    ++device->live_buffers;
    *out = buffer.release();
    return XPB_OK;
  });
}

// The checks shared by upload and download: the buffer is this device's, the range inside it
// (written so that offset + bytes cannot wrap).
void check_range(xpb_device device, xpb_buffer buffer, uint64_t offset, const void* host, uint64_t bytes) {
  if (device == nullptr) null_argument("device");
  if (buffer == nullptr) null_argument("buffer");
  if (host == nullptr && bytes > 0) null_argument("the host pointer");
  if (buffer->device != device) fail(XPB_INVALID_ARGUMENT, "the buffer belongs to another device");
  if (offset > buffer->bytes || bytes > buffer->bytes - offset)
    fail(XPB_INVALID_ARGUMENT,
         cat("range of ", bytes, " bytes at offset ", offset, " is outside the buffer of ", buffer->bytes, " bytes"));
}

xpb_status npu_upload(xpb_device device, xpb_buffer buffer, uint64_t offset, const void* src, uint64_t bytes) noexcept {
  return guarded([&]() -> xpb_status {
    check_range(device, buffer, offset, src, bytes);
    if (bytes > 0) std::memcpy(buffer->data + offset, src, bytes);
    return XPB_OK;
  });
}

xpb_status npu_download(xpb_device device, xpb_buffer buffer, uint64_t offset, void* dst, uint64_t bytes) noexcept {
  return guarded([&]() -> xpb_status {
    check_range(device, buffer, offset, dst, bytes);
    if (bytes > 0) std::memcpy(dst, buffer->data + offset, bytes);
    return XPB_OK;
  });
}

xpb_status npu_compile(xpb_device device, const xpb_graph* graph, xpb_executable* out) noexcept {
  return guarded([&]() -> xpb_status {
    if (device == nullptr) null_argument("device");
    if (graph == nullptr) null_argument("graph");
    if (out == nullptr) null_argument("out");
    const xpb_graph& g = *graph;
    if (g.struct_size < sizeof(xpb_graph))
      fail(XPB_INVALID_ARGUMENT,
           cat("graph struct_size ", g.struct_size, " is shorter than ABI 1's ", sizeof(xpb_graph)));
    if ((g.tensor_count > 0 && g.tensors == nullptr) || (g.node_count > 0 && g.nodes == nullptr) ||
        (g.dim_count > 0 && g.dim_max == nullptr))
      fail(XPB_INVALID_ARGUMENT, "graph: a count without its array");
    auto exe = std::make_unique<xpb_executable_s>();
    exe->device = device;
    exe->dim_max.assign(g.dim_max, g.dim_max + g.dim_count);
    for (std::uint32_t d = 0; d < g.dim_count; ++d)
      if (g.dim_max[d] < 0) fail(XPB_INVALID_ARGUMENT, cat("dynamic dim ", d, " has a negative maximum"));
    // Checks first, memory after: a graph we refuse costs no allocation of its tensors.
    make_tensors(g, *exe);
    make_steps(g, *exe);
    place_tensors(g, device, *exe);
    for (const Step& s : exe->steps)
      if (s.fn == run_chase) reset_chase(s);
    ++device->live_executables;
    *out = exe.release();
    return XPB_OK;
  });
}

xpb_status npu_executable_buffer(xpb_executable exe, uint32_t tensor, xpb_buffer* out) noexcept {
  return guarded([&]() -> xpb_status {
    if (exe == nullptr) null_argument("executable");
    if (out == nullptr) null_argument("out");
    if (tensor >= exe->tensors.size())
      fail(XPB_INVALID_ARGUMENT, cat("tensor ", tensor, " is out of range (the graph has ", exe->tensors.size(), ")"));
    Tensor& t = exe->tensors[tensor];
    // A view onto the tensor's memory, made once and kept with the executable: the same handle
    // every time, freed with the executable, never released by the host.
    if (!t.view) {
      auto view = std::make_unique<xpb_buffer_s>();
      view->device = exe->device;
      view->data = t.data;
      view->bytes = t.bytes;
      view->view = true;
      t.view = std::move(view);
    }
    *out = t.view.get();
    return XPB_OK;
  });
}

xpb_status npu_tensor_written(xpb_executable exe, uint32_t tensor) noexcept {
  return guarded([&]() -> xpb_status {
    if (exe == nullptr) null_argument("executable");
    if (tensor >= exe->tensors.size())
      fail(XPB_INVALID_ARGUMENT, cat("tensor ", tensor, " is out of range (the graph has ", exe->tensors.size(), ")"));
    // The one thing compile derives from contents: the start lines of a chase over this ring.
    // (rope's frequencies come from attributes; its factor tensor is read at every run.)
    for (const Step& s : exe->steps)
      if (s.fn == run_chase && s.in[0] == &exe->tensors[tensor]) reset_chase(s);
    return XPB_OK;
  });
}

// Fields of the result, written only where the host's struct_size reaches (a host built with
// an older, shorter xpb_run_result has no room for later fields).
#define NPU_REF_SET_RESULT(out, field, value)                                                                 \
  do {                                                                                                        \
    if (offsetof(xpb_run_result, field) + sizeof((out)->field) <= (out)->struct_size) (out)->field = (value); \
  } while (0)

xpb_status npu_run(xpb_executable exe, const xpb_run_args* args, xpb_run_result* out) noexcept {
  return guarded([&]() -> xpb_status {
    if (exe == nullptr) null_argument("executable");
    if (args == nullptr) null_argument("args");
    if (out == nullptr) null_argument("out");
    if (args->struct_size < sizeof(xpb_run_args))
      fail(XPB_INVALID_ARGUMENT,
           cat("run args struct_size ", args->struct_size, " is shorter than ABI 1's ", sizeof(xpb_run_args)));
    if (args->iterations < 1) fail(XPB_INVALID_ARGUMENT, "iterations must be >= 1");
    const std::size_t dims = exe->dim_max.size();
    if (args->dim_count != 0 && args->dim_count != dims)
      fail(XPB_INVALID_ARGUMENT, cat(args->dim_count, " dim values for a graph of ", dims, " dynamic dims"));
    if (args->dim_count != 0 && args->dims == nullptr) null_argument("dims");
    for (std::size_t d = 0; d < args->dim_count; ++d)
      if (args->dims[d] < 0 || args->dims[d] > exe->dim_max[d])
        fail(XPB_INVALID_ARGUMENT, cat("dim ", d, " = ", args->dims[d], " is outside 0..", exe->dim_max[d]));

    // Live rows, once per run: a dim's value (its max when none is given) clamped to the rows
    // the tensor has.
    for (Tensor& t : exe->tensors) {
      t.live = t.rows();
      if (t.rows_dim >= 0) {
        const std::int64_t v = args->dim_count != 0 ? args->dims[t.rows_dim] : exe->dim_max[t.rows_dim];
        t.live = static_cast<std::size_t>(std::clamp<std::int64_t>(v, 0, static_cast<std::int64_t>(t.rows())));
      }
    }

    RunContext ctx;
    ctx.start(args->cancelled, args->cancel_context);
    const bool many_steps = exe->steps.size() > 1;

    // The timed region: the steps and the cancel checks, nothing of the argument handling.
    const std::uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    std::uint64_t done = 0;
    xpb_status status = XPB_OK;
    while (status == XPB_OK && done < args->iterations) {
      for (std::size_t i = 0; i < exe->steps.size() && status == XPB_OK; ++i) {
        status = exe->steps[i].fn(exe->steps[i], ctx);
        if (status == XPB_OK && many_steps && i + 1 < exe->steps.size() && ctx.stop()) status = XPB_INTERRUPTED;
      }
      if (status != XPB_OK) break;
      ++done;
      if (done < args->iterations && ctx.stop()) status = XPB_INTERRUPTED;
    }
    const std::uint64_t t1 = now_ns(CLOCK_MONOTONIC);

    if (status == XPB_DEVICE_ERROR) return status;  // last_error set by the step; out untouched
    if (status == XPB_INTERRUPTED)
      set_error(cat("run interrupted after ", done, " of ", args->iterations, " iterations"));
    // On an interrupt `seconds` includes the unfinished iteration's part: it ran on the device.
    NPU_REF_SET_RESULT(out, clock, static_cast<std::uint32_t>(XPB_CLOCK_HOST));
    NPU_REF_SET_RESULT(out, seconds, static_cast<double>(t1 - t0) * 1e-9);
    NPU_REF_SET_RESULT(out, iterations, done);
    NPU_REF_SET_RESULT(out, energy_source, static_cast<std::uint32_t>(XPB_ENERGY_UNAVAILABLE));
    NPU_REF_SET_RESULT(out, energy_joules, 0.0);
    return status;
  });
}
#undef NPU_REF_SET_RESULT

xpb_status npu_release_buffer(xpb_buffer buffer) noexcept {
  return guarded([&]() -> xpb_status {
    if (buffer == nullptr) null_argument("buffer");
    if (buffer->view)
      fail(XPB_INVALID_ARGUMENT, "the buffer belongs to an executable (executable_buffer) and goes with it");
    --buffer->device->live_buffers;
    delete buffer;
    return XPB_OK;
  });
}

xpb_status npu_release_executable(xpb_executable exe) noexcept {
  return guarded([&]() -> xpb_status {
    if (exe == nullptr) null_argument("executable");
    --exe->device->live_executables;
    delete exe;  // its tensors' memory and views go with it; bound buffers stay the host's
    return XPB_OK;
  });
}

xpb_status npu_release_device(xpb_device device) noexcept {
  return guarded([&]() -> xpb_status {
    if (device == nullptr) null_argument("device");
    if (device->live_buffers != 0 || device->live_executables != 0)
      fail(XPB_INVALID_ARGUMENT, cat("the device still has ", device->live_buffers, " buffers and ",
                                     device->live_executables, " executables: release them first"));
    delete device;
    return XPB_OK;
  });
}

// The table, constant-initialized: no code runs when the library loads.
const xpb_plugin kPlugin = {
    XPB_PLUGIN_ABI_VERSION,
    sizeof(xpb_plugin),
    "npu_ref",
    "1.0.0",
    "reference NPU plugin: every op of the ABI in scalar C++ on one host thread",
    npu_last_error,
    npu_enumerate,
    npu_describe_device,
    npu_open,
    npu_query,
    npu_alloc,
    npu_upload,
    npu_download,
    npu_compile,
    npu_executable_buffer,
    npu_tensor_written,
    npu_run,
    npu_release_buffer,
    npu_release_executable,
    npu_release_device,
};

}  // namespace

// The one exported symbol. Any host of ABI 1 or later gets the table (a newer host reads only
// the fields of version 1, as struct_size says); there is no host of version 0.
extern "C" XPB_PLUGIN_EXPORT const xpb_plugin* xpb_plugin_entry(uint32_t host_abi) {
  return host_abi == 0 ? nullptr : &kPlugin;
}
