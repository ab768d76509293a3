// The graph IR: workloads build graphs, devices execute them (DESIGN.md §1, §3).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xpubench/dtype.hpp"

namespace xpb {

enum class TensorRole : std::uint8_t { weight, activation, state, input, output };
std::string_view name(TensorRole r);

// How a device fills a tensor when it allocates it. Devices initialise in place so the
// memory is first touched by the thread that later uses it (NUMA placement), and so a
// 100 GiB working set never passes through a host-side staging copy.
struct TensorInit {
  enum class Kind : std::uint8_t {
    none,          // contents undefined (the graph writes it before reading)
    fill,          // every element = value
    random_cycle,  // u64 [lines, words]: word 0 of each line is the index of the next line of
                   // one random cycle through all lines (seeded); other words are 0
    synthetic,     // element i = synthetic_value(seed, i, value) (quant.hpp), then stored in the
                   // tensor's dtype row by row (encode_row): deterministic stand-in weights
    bytes,         // a copy of `source` (exactly bytes() long), e.g. a tensor of a mapped file
  };
  Kind kind = Kind::none;
  double value = 0.0;
  std::uint64_t seed = 0;
  const std::byte* source = nullptr;     // for Kind::bytes
  std::shared_ptr<const void> keepalive;  // keeps `source` valid while the graph lives

  static TensorInit filled(double v) { return {Kind::fill, v, 0, nullptr, nullptr}; }
  static TensorInit cycle(std::uint64_t s) { return {Kind::random_cycle, 0.0, s, nullptr, nullptr}; }
  static TensorInit random(std::uint64_t s, double scale) {
    return {Kind::synthetic, scale, s, nullptr, nullptr};
  }
  static TensorInit copy_of(const std::byte* data, std::shared_ptr<const void> owner) {
    return {Kind::bytes, 0.0, 0, data, std::move(owner)};
  }
};

using TensorId = std::uint32_t;

struct TensorDesc {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype = DType::f32;
  TensorRole role = TensorRole::activation;
  TensorInit init;
  // A dynamic leading dimension: when set, names an i32 [1] tensor whose value at run time is
  // how many leading rows (of shape[0]) are live; ops read and write only those rows. shape[0]
  // is the most there can be. A decoder compiled once for up to 512 token rows runs a step of
  // 1 or of 64 rows without a second copy of its weights.
  std::optional<TensorId> live_rows;

  std::size_t elements() const;
  std::size_t bytes() const { return storage_bytes(dtype, elements()); }
};

// The op catalogue. Each op's semantics are written here; drivers/ref implements them plainly
// and is the oracle every other driver is checked against.
enum class Op : std::uint8_t {
  // out = in0                                       (float tensors of one shape and dtype)
  copy,
  // out = scalar * in0                              attr: scalar (double)
  scale,
  // out = in0 + in1
  add,
  // out = in0 + scalar * in1                        attr: scalar (double)
  triad,
  // out[0] = sum of in0 (out: f64 [1]); accumulation order is the device's
  read_sum,
  // out = value                                     attr: value (double)
  write_fill,
  // Dependent loads over the cycle of a random_cycle tensor in0 (u64 [lines, words]).
  // attrs: steps (loads per chain per run), chains (independent chains, default 1).
  // out (u64 [chains]) holds the line each chain stands on; it is state: each run walks
  // `steps` loads per chain from there and leaves the new lines in out, so successive runs
  // go on around the cycle (and touch all of it) rather than replay the same lines. When a
  // graph is compiled, and whenever the ring is written, out is reset to the start lines:
  // chain c starts at the line reached from line 0 after c * floor(lines / chains) steps.
  chase,
  // out (u64 [n]) = pattern words                   attrs: pattern, seed, invert (bool)
  fill_pattern,
  // Compare in0 (u64 [n]) with the pattern words.   attrs: pattern, seed, invert, max_errors
  // out0 (u64 [1]) = number of mismatching words;
  // out1 (u64 [max_errors, 3]) = {word index, expected, actual} of the first mismatches.
  verify_pattern,

  // --- transformer ops (DESIGN.md §3). Activations are f32 [rows, cols], row-major; their
  // rows may be dynamic (TensorDesc::live_rows). Weights may be f32, f16, bf16, q8_0, q4_0.
  //
  // out[t] = row ids[t] of table, as f32                in0 table [vocab, dim], in1 ids i32 [T]
  // (an id outside 0..vocab-1 gives a row of zeros)     out f32 [T, dim]
  embedding,
  // out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w        in0 x [T, n], in1 w f32 [n]; attr eps
  rms_norm,
  // out[t][j] = sum_k x[t][k] * W[j][k]                 in0 x f32 [T, K], in1 W [N, K]
  // A device may round x to the weight's block format first (Q8_0 for q8_0 and q4_0 weights,
  // as llama.cpp does); the conformance tolerances allow for it.          out f32 [T, N]
  matmul,
  // Rotary position embedding on adjacent pairs (x[2i], x[2i+1]) of every head, by the angle
  // pos[t] * theta^(-2i / head_dim) / factor[i]. in0 x [T, heads * head_dim], in1 pos i32 [T],
  // optional in2 factor f32 [head_dim / 2] (llama3 frequency scaling); attrs head_dim, theta.
  // out may be in0 itself.
  rope,
  // Causal grouped-query attention over a KV cache.
  // in0 q [T, heads * hd], in1 k [T, kv_heads * hd], in2 v [T, kv_heads * hd], in3 pos i32 [T],
  // in4 seq i32 [T], in5 k_cache and in6 v_cache [slots, context, kv_heads * hd] (f32 or f16,
  // role state: written in place). attrs heads, kv_heads, head_dim, scale (default 1/sqrt(hd)).
  // First every live row t stores k[t], v[t] at cache[seq[t]][pos[t]]; then
  // out[t] (head h) = softmax_j(scale * q[t,h] . k_cache[seq[t]][j][h / (heads / kv_heads)])
  // weighted sum of v_cache rows, over j = 0..pos[t]. A row whose seq or pos is outside the
  // cache is neither stored nor attended: its output is zeros.           out f32 [T, heads * hd]
  attention,
  // out = silu(in0) * in1, silu(x) = x / (1 + e^-x)     (SwiGLU's gate)
  silu_mul,
  // out[t] = the index of the largest value of in0[t] (the first, on ties)   out i32 [T]
  argmax,
  // out[r] = in0[idx[r]]; an index outside the live rows of in0 gives zeros.
  // in0 f32 [T, n], in1 idx i32 [R]; out f32 [R, n]
  gather_rows,
};
std::string_view name(Op op);
std::optional<Op> parse_op(std::string_view s);
// Every op of the catalogue, in declaration order.
std::vector<Op> all_ops();
// Whether `op` is one of the transformer ops (embedding .. gather_rows).
inline bool is_transformer_op(Op op) { return op >= Op::embedding; }

// The rows of `t` that are live when its live_rows tensor holds `live`: clamped to
// 0..shape[0]; shape[0] (1 for a scalar) when `t` has no dynamic rows.
std::size_t live_row_count(const TensorDesc& t, std::int32_t live);

// Test patterns of memtester/stressapptest kind, word by word (64-bit words).
enum class Pattern : std::uint8_t {
  walking_ones,   // word i = 1 << (i mod 64)
  walking_zeros,  // word i = ~(1 << (i mod 64))
  checkerboard,   // 0xAAAA... and 0x5555... alternating by word
  random,         // splitmix64(seed + i)
  address,        // word i = its own byte offset, i * 8 (address-in-address)
};
std::string_view name(Pattern p);
std::optional<Pattern> parse_pattern(std::string_view s);
// The expected word at index i; `invert` flips every bit (the second half of a pass).
std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert);

using AttrValue = std::variant<std::int64_t, double, bool, std::string>;

class Attrs {
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

class Graph {
 public:
  TensorId add_tensor(TensorDesc t);
  void add_node(Op op, std::vector<TensorId> inputs, std::vector<TensorId> outputs, Attrs attrs = {});

  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const TensorDesc& tensor(TensorId id) const { return tensors_.at(id); }

  // Checks arity, shapes and dtypes of every node against the catalogue. Returns the first
  // problem found, naming the node and the op, or nothing when the graph is well formed.
  std::optional<std::string> check() const;

 private:
  std::vector<TensorDesc> tensors_;
  std::vector<Node> nodes_;
};

}  // namespace xpb

namespace xpb {
// The contents of a TensorInit::random_cycle tensor: word 0 of each of `lines` lines (of
// `words_per_line` u64 words) holds the index of the next line of one cycle through every
// line, in a random order seeded with splitmix64, so every device builds the same cycle.
void fill_random_cycle(std::uint64_t* words, std::size_t lines, std::size_t words_per_line,
                       std::uint64_t seed);
}  // namespace xpb
