// The graph IR: workloads build graphs, devices execute them (DESIGN.md §1, §3). What each op
// computes is written here; its arity, attributes, shape check, cost model and conformance
// cases are data in the op catalogue (op_catalogue.hpp).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xpubench/dtype.hpp"
#include "xpubench/export.hpp"

namespace xpb {

enum class TensorRole : std::uint8_t { weight = 1, activation = 2, state = 3, input = 4, output = 5 };
XPB_API std::string_view name(TensorRole r);

// How a device fills a tensor's memory when it allocates it. Devices initialise in place so
// the memory is first touched by the thread that later uses it (NUMA placement), and so a
// 100 GiB working set never passes through a host-side staging copy.
struct TensorInit {
  enum class Kind : std::uint8_t {
    none,          // contents undefined (the graph writes it before reading)
    fill,          // every element = value
    random_cycle,  // u64 [lines, words]: word 0 of each line is the index of the next line of
                   // one random cycle through all lines (seeded); other words are 0
    synthetic,     // element i = synthetic_value(seed, i, value) (quant.hpp), then stored in the
                   // tensor's dtype row by row (encode_row): deterministic stand-in weights
    bytes,         // a copy of `source`, `source_bytes` long (Graph::check: the tensor's
                   // bytes()), e.g. a tensor of a mapped file
  };
  Kind kind = Kind::none;
  double value = 0.0;
  std::uint64_t seed = 0;
  const std::byte* source = nullptr;      // for Kind::bytes
  std::size_t source_bytes = 0;           // how many bytes `source` holds
  std::shared_ptr<const void> keepalive;  // keeps `source` valid while the graph lives

  static TensorInit filled(double v) { return {Kind::fill, v, 0, nullptr, 0, nullptr}; }
  static TensorInit cycle(std::uint64_t s) { return {Kind::random_cycle, 0.0, s, nullptr, 0, nullptr}; }
  static TensorInit random(std::uint64_t s, double scale) { return {Kind::synthetic, scale, s, nullptr, 0, nullptr}; }
  static TensorInit copy_of(std::span<const std::byte> data, std::shared_ptr<const void> owner) {
    return {Kind::bytes, 0.0, 0, data.data(), data.size(), std::move(owner)};
  }
  // A copy of `values` held by the init itself (small inputs: token ids, positions).
  template <class T>
  static TensorInit values(std::vector<T> v) {
    auto owner = std::make_shared<std::vector<T>>(std::move(v));
    return copy_of({reinterpret_cast<const std::byte*>(owner->data()), owner->size() * sizeof(T)}, owner);
  }
};

using TensorId = std::uint32_t;
// A dynamic dimension of a graph (Graph::add_dim): its value is given with each run.
using DimId = std::uint32_t;

struct XPB_API TensorDesc {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype = DType::f32;
  TensorRole role = TensorRole::activation;
  TensorInit init;
  // A dynamic leading dimension: shape[0] is the most rows there can be; each run says how
  // many are live (RunArgs::dims), and ops read and write only those rows. A decoder compiled
  // once for up to 512 token rows runs a step of 1 or of 64 rows on the same memory.
  std::optional<DimId> rows_dim;

  std::size_t elements() const;
  std::size_t bytes() const { return storage_bytes(dtype, elements()); }
};

// The ops. Codes are frozen: the plugin ABI and result files carry them; new ops are appended
// with the next free code and none is ever renumbered. No code depends on their order.
enum class Op : std::uint16_t {
  // --- memory
  // out = in0                                       (float tensors of one shape and dtype)
  copy = 1,
  // out = scalar * in0                              attr: scalar (real)
  scale = 2,
  // out = in0 + in1
  add = 3,
  // out = in0 + scalar * in1                        attr: scalar (real)
  triad = 4,
  // out[0] = sum of in0 (out: f64 [1]); accumulation order is the device's
  read_sum = 5,
  // out = value                                     attr: value (real)
  write_fill = 6,
  // Dependent loads over the cycle of a random_cycle tensor in0 (u64 [lines, words]).
  // attrs: steps (loads per chain per run), chains (independent chains, default 1).
  // out (u64 [chains]) holds the line each chain stands on; it is state: each run walks
  // `steps` loads per chain from there and leaves the new lines in out, so successive runs
  // go on around the cycle (and touch all of it) rather than replay the same lines. When a
  // graph is compiled, and whenever the ring is written, out is reset to the start lines:
  // chain c starts at the line reached from line 0 after c * floor(lines / chains) steps.
  chase = 7,
  // out (u64 [n]) = pattern words                   attrs: pattern, seed, invert (bool)
  fill_pattern = 8,
  // Compare in0 (u64 [n]) with the pattern words.   attrs: pattern, seed, invert, max_errors
  // out0 (u64 [1]) = number of mismatching words;
  // out1 (u64 [max_errors, 3]) = {word index, expected, actual} of the first mismatches.
  verify_pattern = 9,

  // --- transformer. Activations are f32 [rows, cols], row-major; their rows may be dynamic
  // (TensorDesc::rows_dim). Weights may be f32, f16, bf16 or any GGUF block format (dtype.hpp).
  //
  // out[t] = row ids[t] of table, as f32                in0 table [vocab, dim], in1 ids i32 [T]
  // An id outside 0..vocab-1 is an error: the run fails (RunResult::error), it never reads a
  // row that is not there.                                                out f32 [T, dim]
  embedding = 10,
  // out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w        in0 x [T, n], in1 w f32 [n]; attr eps
  rms_norm = 11,
  // out[t][j] = sum_k x[t][k] * W[j][k]                 in0 x f32 [T, K], in1 W [N, K]
  // A device may round x to 8 bits first, as llama.cpp does (Q8_0 per 32 values, or Q8_K per
  // 256 for the K-quants and IQ4_XS); the conformance tolerances allow for it. out f32 [T, N]
  matmul = 12,
  // Rotary position embedding on adjacent pairs (x[2i], x[2i+1]) of every head, by the angle
  // pos[t] * theta^(-2i / head_dim) / factor[i]. in0 x [T, heads * head_dim], in1 pos i32 [T],
  // optional in2 factor f32 [head_dim / 2] (llama3 frequency scaling, or linear scaling: every
  // factor the same); attrs head_dim, theta. out may be in0 itself.
  rope = 13,
  // Causal grouped-query attention over a KV cache.
  // in0 q [T, heads * hd], in1 k [T, kv_heads * hd], in2 v [T, kv_heads * hd], in3 pos i32 [T],
  // in4 seq i32 [T], in5 k_cache and in6 v_cache [slots, context, kv_heads * hd] (f32 or f16,
  // role state: written in place). attrs heads, kv_heads, head_dim, scale (default 1/sqrt(hd)),
  // chunk (default 1), ring (default false).
  // First every live row t stores k[t], v[t] at cache[seq[t]][slot(pos[t])]; then
  // out[t] (head h) = softmax_j(scale * q[t,h] . k_cache[seq[t]][slot(j)][h / (heads / kv_heads)])
  // weighted sum of v_cache rows, over the positions j < end(t), end(t) = (pos[t] / chunk + 1)
  // * chunk: causal by chunks of `chunk` positions (1: token-causal, the LLM; a video chunk's
  // tokens all see each other). Without ring, slot(j) = j and j runs from 0; a row whose seq or
  // pos is outside the cache is neither stored nor attended: its output is zeros. With ring,
  // the cache is a ring of the last `context` positions: slot(j) = j mod context and j runs
  // from max(0, end(t) - context) (a rolling window; chunk must divide context). Positions of
  // a row's chunk that no row of this run stores are attended as the cache holds them.
  //                                                                      out f32 [T, heads * hd]
  attention = 14,
  // out = silu(in0) * in1, silu(x) = x / (1 + e^-x)     (SwiGLU's gate)
  silu_mul = 15,
  // out[t] = the index of the largest value of in0[t] (the first, on ties)   out i32 [T]
  argmax = 16,
  // out[r] = in0[idx[r]]; an index outside the live rows of in0 gives zeros.
  // in0 f32 [T, n], in1 idx i32 [R]; out f32 [R, n]
  gather_rows = 17,

  // --- compute: countable arithmetic for peak-throughput figures (GFLOPS, GIOPS).
  //
  // y[i] = f^chain(x[i]): `chain` dependent multiply-add steps on each element, in the tensor's
  // own dtype. in0 x [n], out y [n], both f64, f32, f16, bf16 or i8. attrs: chain (>= 1), optional
  // vector_width (1, 2, 4, 8, 16: the width a device that takes one computes in, see
  // DeviceCaps::vector_widths). Floats: f(v) = v * 0.5 + 0.5, rounded to the dtype after every
  // step; v * 0.5 is exact, so a fused and an unfused multiply-add give the same bits and every
  // device agrees with ref exactly. i8: the byte's bits as unsigned, f(v) = (v * 5 + 1) mod 256
  // (a full-period linear congruential step, so the values never settle). Cost: 2 operations
  // per step per element.
  fma_loop = 18,

  // --- analog: the numeric effects of an analog matrix engine (photonic-sim's functional
  // mode puts them around each matmul), elementwise as analog.hpp defines them.
  //
  // Each live row of in0 x f32 [T, K] rounded through a `bits`-bit DAC: every `block` columns
  // (attr block; 0 = the whole row: one full scale per row, a block = block floating point)
  // to a symmetric grid scaled by their largest magnitude (analog::round_block).
  // out0 f32 [T, K] (may be in0), out1 f32 [T] = each row's largest magnitude (its full
  // scale). attrs: bits (2..16), block (>= 0).
  dac_round = 19,
  // The read-out of a matmul's output through noise, clipping and an ADC (analog::readout).
  // in0 y f32 [T, N] (the exact product of DAC-rounded inputs and weights), in1 xs f32 [T]
  // (the inputs' full scales, dac_round's out1), in2 ws f32 [N] (each weight row's full
  // scale), in3 step u64 [1] (state: a run counter). out0 f32 [T, N] (may be in0): element
  // (t, n) = readout(y, xs[t] * ws[n], standard_normal(seed, step, t * N + n), noise, bound,
  // bits); out1 u64 [1] = step + 1, written after every element used the old value (may be in3:
  // each run then draws fresh noise). attrs: noise (>= 0), bound (> 0), bits (2..24), seed.
  analog_readout = 20,

  // --- transformer, continued.
  // out[t][j] = x[t][j] + b[j] over the live rows       in0 x f32 [T, n], in1 b f32 [n]
  // (the biases of Qwen2's Q, K and V projections).   out f32 [T, n] (may be in0)
  add_bias = 21,

  // --- memory, continued.
  // out[0] (u64 [1]) = the sum, modulo 2^64, of in0's bytes read as little-endian 64-bit
  // words, a last word of fewer than 8 bytes padded with zeros. in0 may be of any dtype: the
  // op reads every byte of it once, so it measures the read bandwidth of the memory a tensor
  // already occupies (llm.bench's roofline, over the model's own weights).
  read_bytes = 22,

  // --- transformer, continued: a diffusion transformer (DiT) over latent video tokens, as
  // Wan2.1's blocks compute it (the `video` workloads). Rows may be dynamic; outputs marked
  // "may be in0" can be computed in place.
  //
  // out[t] = (x[t] - mean(x[t])) / sqrt(var(x[t]) + eps) (* w + b)   in0 x f32 [T, n], optional
  // in1 w and in2 b f32 [n] (both or neither); attr eps (default 1e-5). out f32 [T, n] (may be in0)
  layer_norm = 23,
  // adaLN modulation: out[t][j] = x[t][j] * (1 + scale[j]) + shift[j]
  // in0 x f32 [T, n], in1 shift and in2 scale f32 of n elements ([n] or [1, n]).   out (may be in0)
  modulate = 24,
  // A gated residual: out[t][j] = x[t][j] + gate[j] * y[t][j]
  // in0 x f32 [T, n], in1 y f32 [T, n], in2 gate f32 of n elements.               out (may be in0)
  gated_add = 25,
  // GELU, tanh form: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Wan's FFN, PyTorch's
  // approximate='tanh').                                           in0 x f32 [T, n]; out (may be in0)
  gelu = 26,
  // SiLU: out = x / (1 + e^-x) (the timestep embedding's MLP).    in0 x f32 [T, n]; out (may be in0)
  silu = 27,
  // Full (non-causal) multi-head attention of queries over a fixed set of keys and values (a
  // DiT's cross-attention to text embeddings). in0 q f32 [T, heads * hd], in1 k and in2 v
  // f32 [S, heads * hd] (all S rows). attrs heads, head_dim, scale (default 1/sqrt(hd)).
  // out[t] (head h) = sum_j softmax_j(scale * q[t,h] . k[j,h]) v[j,h]. out f32 [T, heads * hd]
  cross_attention = 28,
  // One step of a flow-matching sampler (rectified flow, as Wan and Self-Forcing sample): the
  // clean estimate x0 = x - sigma * v, re-noised to the next noise level:
  // out = (1 - sigma_next) * x0 + sigma_next * noise (sigma_next = 0: out = x0).
  // in0 x, in1 v (the model's velocity), in2 noise: f32 [T, n]. attrs sigma, sigma_next in
  // [0, 1].                                                                     out (may be in0)
  flow_step = 29,
  // Patch tokens back to latent frames: in0 x f32 [frames * height * width, patch_h * patch_w
  // * channels] (tokens in frame, row, column order; each token's values in (p, q, c) order,
  // Wan's head) -> out f32 [channels, frames, height * patch_h, width * patch_w] with
  // out[c][f][h * patch_h + p][w * patch_w + q] = x[(f * height + h) * width + w][(p * patch_w
  // + q) * channels + c]. attrs frames, height, width (in patches), channels, patch_h, patch_w.
  unpatchify = 30,

  // --- compute, continued.
  // Chains of 4-way 8-bit dot products: out[i] = chain * sum_k x[i][k] * w[k], the sum over
  // k = 0..3 and the product in 32-bit two's complement (wrapping), where x's bytes are taken
  // as unsigned (0..255) and w's as signed (-128..127): the operands of a VNNI dot product
  // (vpdpbusd). A device computes it as `chain` dependent accumulations acc += dot(x[i], w),
  // each one instruction where it has one, so the figure is that of its 8-bit MAC units.
  // in0 x i8 [n, 4], in1 w i8 [4]; out i32 [n]. attr chain (>= 1). Cost: 8 operations (4
  // multiply-accumulates) per step per element.
  int8_dot_loop = 31,
};

// Names, from the catalogue ("matmul"); parse_op accepts exactly those.
XPB_API std::string_view name(Op op);
XPB_API std::optional<Op> parse_op(std::string_view s);

// Test patterns of memtester/stressapptest kind, word by word (64-bit words).
enum class Pattern : std::uint8_t {
  walking_ones,   // word i = 1 << (i mod 64)
  walking_zeros,  // word i = ~(1 << (i mod 64))
  checkerboard,   // 0xAAAA... and 0x5555... alternating by word
  random,         // splitmix64(seed + i)
  address,        // word i = its own byte offset, i * 8 (address-in-address)
};
XPB_API std::string_view name(Pattern p);
XPB_API std::optional<Pattern> parse_pattern(std::string_view s);
// The expected word at index i; `invert` flips every bit (the second half of a pass).
XPB_API std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert);

using AttrValue = std::variant<std::int64_t, double, bool, std::string>;

class XPB_API Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> kv) : values_(kv) {}
  void set(const std::string& key, AttrValue v) { values_[key] = std::move(v); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const std::map<std::string, AttrValue>& all() const { return values_; }

 private:
  std::map<std::string, AttrValue> values_;
};

struct Node {
  Op op;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  Attrs attrs;
};

// What model a graph computes, for devices that accept or refuse a graph by it (a chip that
// hardwires one model) and for results that must say what ran. `fingerprint` is a hash of the
// other three, so two graphs of the same model at the same weight format carry the same one.
struct XPB_API ModelIdentity {
  std::string architecture;   // "llama"
  std::string shape;          // "dim=4096 layers=32 heads=32 kv_heads=8 ffn=14336 vocab=128256"
  std::string weight_format;  // "q4_0", or "mixed: q4_0, f32" when tensors differ
  std::string fingerprint;    // "fnv1a64:..." of the three above; set by make()

  static ModelIdentity make(std::string architecture, std::string shape, std::string weight_format);
  bool empty() const { return architecture.empty(); }
};

// A dynamic dimension: its name (for messages) and the largest value a run may give it.
struct DynamicDim {
  std::string name;
  std::int64_t max = 1;
};

class XPB_API Graph {
 public:
  Graph() = default;
  explicit Graph(std::string name) : name_(std::move(name)) {}

  TensorId add_tensor(TensorDesc t);
  void add_node(Op op, std::vector<TensorId> inputs, std::vector<TensorId> outputs, Attrs attrs = {});
  // Declares a dynamic dimension whose value each run gives, 0..max (RunArgs::dims).
  DimId add_dim(std::string name, std::int64_t max);

  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<DynamicDim>& dims() const { return dims_; }
  const TensorDesc& tensor(TensorId id) const { return tensors_.at(id); }

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  const ModelIdentity& identity() const { return identity_; }
  void set_identity(ModelIdentity id) { identity_ = std::move(id); }

  // Checks every tensor and every node against the catalogue (arity, attributes, shapes,
  // dtypes). Returns the first problem found, naming the node and the op, or nothing when the
  // graph is well formed.
  std::optional<std::string> check() const;
  // Whether `dims` are values for this graph's dynamic dims: empty (every dim at its max) or
  // one per dim, each in 0..max. Returns the problem, or nothing.
  std::optional<std::string> check_dims(std::span<const std::int64_t> dims) const;

  // The rows of tensor `id` that are live when the dims have the values `dims` (one per
  // dynamic dim; empty: every dim at its max): shape[0], or the value of its rows_dim clamped
  // to 0..shape[0]. A scalar tensor has 1.
  std::size_t live_rows(TensorId id, std::span<const std::int64_t> dims) const;

 private:
  std::string name_;
  ModelIdentity identity_;
  std::vector<TensorDesc> tensors_;
  std::vector<Node> nodes_;
  std::vector<DynamicDim> dims_;
};

// The contents of a TensorInit::random_cycle tensor: word 0 of each of `lines` lines (of
// `words_per_line` u64 words) holds the index of the next line of one cycle through every
// line, in a random order seeded with splitmix64, so every device builds the same cycle.
XPB_API void fill_random_cycle(std::uint64_t* words, std::size_t lines, std::size_t words_per_line,
                               std::uint64_t seed);

// The line each of `chains` chains of a `chase` node over `ring` (u64 [lines, words_per_line])
// starts on: chain c at the line reached from line 0 after c * floor(lines / chains) steps
// (graph.hpp, Op::chase). Every driver starts its chains here, so all walk the same lines.
XPB_API std::vector<std::uint64_t> chase_start_lines(const std::uint64_t* ring, std::size_t lines,
                                                     std::size_t words_per_line, std::size_t chains);

// Fills `bytes` (t.bytes() long) with tensor t's initial contents as its TensorInit says:
// zeros for none (and for a fill of a type other than f64, f32, u64, i32), the value, the
// synthetic rows encoded in t's dtype, a copy of the source, or the random cycle. For devices
// that initialise on the host: ref, and the plugin driver, which hands plugins the bytes.
XPB_API void fill_initial(const TensorDesc& t, std::span<std::byte> bytes);

// Tensor t's initial contents as host bytes, for devices that copy them in (plugins, OpenCL):
// a TensorInit::bytes source as it is (no copy), any other init filled into `staging` (resized
// to t.bytes(); throws std::bad_alloc when it cannot be). Empty for TensorInit::none.
XPB_API std::span<const std::byte> initial_contents(const TensorDesc& t, std::vector<std::byte>& staging);

}  // namespace xpb
