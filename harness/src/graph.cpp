#include "xpubench/graph.hpp"

#include <algorithm>
#include <array>

#include "xpubench/quant.hpp"
#include <sstream>
#include <utility>

namespace xpb {
namespace {

template <class E, std::size_t N>
std::optional<E> parse_name(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

constexpr std::array<std::string_view, 5> kRoleNames{"weight", "activation", "state", "input",
                                                     "output"};
constexpr std::array<std::string_view, 17> kOpNames{
    "copy",      "scale",    "add",    "triad",     "read_sum", "write_fill",
    "chase",     "fill_pattern", "verify_pattern", "embedding", "rms_norm", "matmul",
    "rope",      "attention", "silu_mul", "argmax",  "gather_rows"};
constexpr std::array<std::string_view, 5> kPatternNames{"walking_ones", "walking_zeros",
                                                        "checkerboard", "random", "address"};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

}  // namespace

std::string_view name(TensorRole r) { return kRoleNames.at(static_cast<std::size_t>(r)); }
std::string_view name(Op op) { return kOpNames.at(static_cast<std::size_t>(op)); }
std::optional<Op> parse_op(std::string_view s) { return parse_name<Op>(kOpNames, s); }
std::vector<Op> all_ops() {
  std::vector<Op> out;
  for (std::size_t i = 0; i < kOpNames.size(); ++i) out.push_back(static_cast<Op>(i));
  return out;
}

std::size_t live_row_count(const TensorDesc& t, std::int32_t live) {
  const auto rows = t.shape.empty() ? std::int64_t{1} : t.shape[0];
  if (!t.live_rows) return static_cast<std::size_t>(rows);
  return static_cast<std::size_t>(std::clamp<std::int64_t>(live, 0, rows));
}
std::string_view name(Pattern p) { return kPatternNames.at(static_cast<std::size_t>(p)); }
std::optional<Pattern> parse_pattern(std::string_view s) {
  return parse_name<Pattern>(kPatternNames, s);
}

std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert) {
  std::uint64_t w = 0;
  switch (p) {
    case Pattern::walking_ones: w = std::uint64_t{1} << (i & 63); break;
    case Pattern::walking_zeros: w = ~(std::uint64_t{1} << (i & 63)); break;
    case Pattern::checkerboard: w = (i & 1) ? 0x5555555555555555ull : 0xAAAAAAAAAAAAAAAAull; break;
    case Pattern::random: {
      // splitmix64 (Steele, Lea, Flood 2014): a bijective mixer, so every word differs.
      std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      w = z ^ (z >> 31);
      break;
    }
    case Pattern::address: w = i * 8; break;
  }
  return invert ? ~w : w;
}

std::size_t TensorDesc::elements() const {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::int64_t Attrs::get_int(const std::string& key, std::int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* v = std::get_if<std::int64_t>(&it->second)) return *v;
  if (auto* d = std::get_if<double>(&it->second)) return static_cast<std::int64_t>(*d);
  return fallback;
}
double Attrs::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* v = std::get_if<double>(&it->second)) return *v;
  if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
  return fallback;
}
bool Attrs::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* v = std::get_if<bool>(&it->second)) return *v;
  return fallback;
}
std::string Attrs::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return fallback;
}

TensorId Graph::add_tensor(TensorDesc t) {
  tensors_.push_back(std::move(t));
  return static_cast<TensorId>(tensors_.size() - 1);
}

void Graph::add_node(Op op, std::vector<TensorId> inputs, std::vector<TensorId> outputs,
                     Attrs attrs) {
  nodes_.push_back(Node{op, std::move(inputs), std::move(outputs), std::move(attrs)});
}

std::optional<std::string> Graph::check() const {
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const TensorDesc& t = tensors_[i];
    if (!t.live_rows) continue;
    const auto r = *t.live_rows;
    if (r >= tensors_.size() || tensors_[r].dtype != DType::i32 || tensors_[r].elements() != 1)
      return "tensor '" + t.name + "': live_rows must name an i32 [1] tensor";
    if (t.shape.empty()) return "tensor '" + t.name + "': live_rows needs a leading dimension";
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const TensorDesc& t = tensors_[i];
    if (t.init.kind == TensorInit::Kind::synthetic && !is_weight_dtype(t.dtype))
      return "tensor '" + t.name + "': synthetic values need f32, f16, bf16, q8_0 or q4_0";
    if (t.init.kind == TensorInit::Kind::bytes && t.init.source == nullptr)
      return "tensor '" + t.name + "': a copied tensor needs its source bytes";
  }
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    auto fail = [&](const std::string& what) -> std::optional<std::string> {
      return "node " + std::to_string(n) + " (" + std::string(name(node.op)) + "): " + what;
    };
    for (auto id : node.inputs)
      if (id >= tensors_.size()) return fail("input tensor " + std::to_string(id) + " does not exist");
    for (auto id : node.outputs)
      if (id >= tensors_.size()) return fail("output tensor " + std::to_string(id) + " does not exist");
    auto arity = [&](std::size_t ins, std::size_t outs) -> std::optional<std::string> {
      if (node.inputs.size() != ins || node.outputs.size() != outs)
        return fail("expects " + std::to_string(ins) + " inputs and " + std::to_string(outs) +
                    " outputs, has " + std::to_string(node.inputs.size()) + " and " +
                    std::to_string(node.outputs.size()));
      return std::nullopt;
    };
    auto same_as_out = [&]() -> std::optional<std::string> {
      const TensorDesc& out = tensors_[node.outputs[0]];
      if (!is_float(out.dtype)) return fail("expects f32 or f64 tensors, output is " + std::string(name(out.dtype)));
      for (auto id : node.inputs) {
        const TensorDesc& in = tensors_[id];
        if (in.dtype != out.dtype || in.shape != out.shape)
          return fail("input '" + in.name + "' " + std::string(name(in.dtype)) + shape_text(in.shape) +
                      " differs from output '" + out.name + "' " + std::string(name(out.dtype)) +
                      shape_text(out.shape));
      }
      return std::nullopt;
    };
    auto is_u64 = [&](TensorId id) { return tensors_[id].dtype == DType::u64; };
    auto pattern_ok = [&]() -> std::optional<std::string> {
      auto p = node.attrs.get_string("pattern", "");
      if (!parse_pattern(p)) return fail("unknown pattern '" + p + "'");
      return std::nullopt;
    };
    auto desc = [&](TensorId id) {
      const TensorDesc& t = tensors_[id];
      return "'" + t.name + "' " + std::string(name(t.dtype)) + shape_text(t.shape);
    };
    // A 2-D f32 tensor [rows, cols] (cols = -1: any).
    auto matrix = [&](TensorId id, std::int64_t rows, std::int64_t cols, DType dtype,
                      const char* what) -> std::optional<std::string> {
      const TensorDesc& t = tensors_[id];
      if (t.dtype != dtype || t.shape.size() != 2 || (rows >= 0 && t.shape[0] != rows) ||
          (cols >= 0 && t.shape[1] != cols))
        return fail(std::string("expects ") + what + " " + std::string(name(dtype)) + "[" +
                    (rows >= 0 ? std::to_string(rows) : std::string("rows")) + ", " +
                    (cols >= 0 ? std::to_string(cols) : std::string("cols")) + "], got " + desc(id));
      return std::nullopt;
    };
    auto vector_of = [&](TensorId id, std::int64_t len, DType dtype, const char* what) -> std::optional<std::string> {
      const TensorDesc& t = tensors_[id];
      if (t.dtype != dtype || t.shape.size() != 1 || (len >= 0 && t.shape[0] != len))
        return fail(std::string("expects ") + what + " " + std::string(name(dtype)) + "[" +
                    (len >= 0 ? std::to_string(len) : std::string("n")) + "], got " + desc(id));
      return std::nullopt;
    };
    auto weight = [&](TensorId id, const char* what) -> std::optional<std::string> {
      const TensorDesc& t = tensors_[id];
      if (!is_weight_dtype(t.dtype) || t.shape.size() != 2 ||
          t.shape[1] % static_cast<std::int64_t>(traits(t.dtype).block_elements) != 0)
        return fail(std::string("expects ") + what +
                    " [rows, cols] of f32, f16, bf16, q8_0 or q4_0 (cols whole blocks), got " + desc(id));
      return std::nullopt;
    };
    auto rows = [&](TensorId id) { return tensors_[id].shape.empty() ? 0 : tensors_[id].shape[0]; };
    auto cols = [&](TensorId id) { return tensors_[id].shape.size() < 2 ? 0 : tensors_[id].shape[1]; };
    std::optional<std::string> err;
    switch (node.op) {
      case Op::copy:
      case Op::scale:
        if ((err = arity(1, 1)) || (err = same_as_out())) return err;
        break;
      case Op::add:
      case Op::triad:
        if ((err = arity(2, 1)) || (err = same_as_out())) return err;
        break;
      case Op::embedding:
        if ((err = arity(2, 1)) || (err = weight(node.inputs[0], "a table")) ||
            (err = vector_of(node.inputs[1], -1, DType::i32, "token ids")) ||
            (err = matrix(node.outputs[0], rows(node.inputs[1]), cols(node.inputs[0]), DType::f32, "an output")))
          return err;
        break;
      case Op::rms_norm:
        if ((err = arity(2, 1)) || (err = matrix(node.inputs[0], -1, -1, DType::f32, "x")) ||
            (err = vector_of(node.inputs[1], cols(node.inputs[0]), DType::f32, "a weight")) ||
            (err = matrix(node.outputs[0], rows(node.inputs[0]), cols(node.inputs[0]), DType::f32, "an output")))
          return err;
        break;
      case Op::matmul:
        if ((err = arity(2, 1)) || (err = weight(node.inputs[1], "a weight")) ||
            (err = matrix(node.inputs[0], -1, cols(node.inputs[1]), DType::f32, "x")) ||
            (err = matrix(node.outputs[0], rows(node.inputs[0]), rows(node.inputs[1]), DType::f32, "an output")))
          return err;
        break;
      case Op::rope: {
        if (node.inputs.size() != 2 && node.inputs.size() != 3) return fail("expects 2 or 3 inputs");
        if ((err = arity(node.inputs.size(), 1))) return err;
        const auto hd = node.attrs.get_int("head_dim", 0);
        if (hd < 2 || hd % 2 != 0) return fail("expects an even 'head_dim' attribute");
        if (node.attrs.get_double("theta", 0.0) <= 0) return fail("expects a positive 'theta' attribute");
        if ((err = matrix(node.inputs[0], -1, -1, DType::f32, "x"))) return err;
        if (cols(node.inputs[0]) % hd != 0) return fail("x columns are not whole heads of head_dim");
        if ((err = vector_of(node.inputs[1], rows(node.inputs[0]), DType::i32, "positions")) ||
            (node.inputs.size() == 3 && (err = vector_of(node.inputs[2], hd / 2, DType::f32, "frequency factors"))) ||
            (err = matrix(node.outputs[0], rows(node.inputs[0]), cols(node.inputs[0]), DType::f32, "an output")))
          return err;
        break;
      }
      case Op::attention: {
        if ((err = arity(7, 1))) return err;
        const auto heads = node.attrs.get_int("heads", 0), kv_heads = node.attrs.get_int("kv_heads", 0),
                   hd = node.attrs.get_int("head_dim", 0);
        if (heads < 1 || kv_heads < 1 || hd < 1 || heads % kv_heads != 0)
          return fail("expects heads, kv_heads (dividing heads) and head_dim attributes >= 1");
        const auto t = rows(node.inputs[0]);
        if ((err = matrix(node.inputs[0], -1, heads * hd, DType::f32, "q")) ||
            (err = matrix(node.inputs[1], t, kv_heads * hd, DType::f32, "k")) ||
            (err = matrix(node.inputs[2], t, kv_heads * hd, DType::f32, "v")) ||
            (err = vector_of(node.inputs[3], t, DType::i32, "positions")) ||
            (err = vector_of(node.inputs[4], t, DType::i32, "sequence ids")) ||
            (err = matrix(node.outputs[0], t, heads * hd, DType::f32, "an output")))
          return err;
        for (int c = 5; c <= 6; ++c) {
          const TensorDesc& cache = tensors_[node.inputs[static_cast<std::size_t>(c)]];
          if ((cache.dtype != DType::f32 && cache.dtype != DType::f16) || cache.shape.size() != 3 ||
              cache.shape[0] < 1 || cache.shape[1] < 1 || cache.shape[2] != kv_heads * hd ||
              cache.shape != tensors_[node.inputs[5]].shape || cache.dtype != tensors_[node.inputs[5]].dtype)
            return fail("expects k and v caches f32 or f16 [slots, context, " + std::to_string(kv_heads * hd) +
                        "] alike, got " + desc(node.inputs[static_cast<std::size_t>(c)]));
        }
        break;
      }
      case Op::silu_mul:
        if ((err = arity(2, 1)) || (err = matrix(node.inputs[0], -1, -1, DType::f32, "a gate")) ||
            (err = matrix(node.inputs[1], rows(node.inputs[0]), cols(node.inputs[0]), DType::f32, "an up projection")) ||
            (err = matrix(node.outputs[0], rows(node.inputs[0]), cols(node.inputs[0]), DType::f32, "an output")))
          return err;
        break;
      case Op::argmax:
        if ((err = arity(1, 1)) || (err = matrix(node.inputs[0], -1, -1, DType::f32, "scores")) ||
            (err = vector_of(node.outputs[0], rows(node.inputs[0]), DType::i32, "an output")))
          return err;
        break;
      case Op::gather_rows:
        if ((err = arity(2, 1)) || (err = matrix(node.inputs[0], -1, -1, DType::f32, "x")) ||
            (err = vector_of(node.inputs[1], -1, DType::i32, "row indices")) ||
            (err = matrix(node.outputs[0], rows(node.inputs[1]), cols(node.inputs[0]), DType::f32, "an output")))
          return err;
        break;
      case Op::write_fill:
        if ((err = arity(0, 1)) || (err = same_as_out())) return err;
        break;
      case Op::read_sum: {
        if ((err = arity(1, 1))) return err;
        const auto& in = tensors_[node.inputs[0]];
        const auto& out = tensors_[node.outputs[0]];
        if (!is_float(in.dtype)) return fail("expects an f32 or f64 input");
        if (out.dtype != DType::f64 || out.elements() != 1) return fail("expects an f64 [1] output");
        break;
      }
      case Op::chase: {
        if ((err = arity(1, 1))) return err;
        const auto& ring = tensors_[node.inputs[0]];
        const auto& out = tensors_[node.outputs[0]];
        if (!is_u64(node.inputs[0]) || ring.shape.size() != 2 || ring.shape[0] < 1 || ring.shape[1] < 1)
          return fail("expects a u64 [lines, words] ring, got " + std::string(name(ring.dtype)) +
                      shape_text(ring.shape));
        auto chains = node.attrs.get_int("chains", 1);
        if (chains < 1 || chains > ring.shape[0]) return fail("chains must be in 1..lines");
        if (node.attrs.get_int("steps", -1) < 0) return fail("expects a non-negative 'steps' attribute");
        if (!is_u64(node.outputs[0]) || out.elements() != static_cast<std::size_t>(chains))
          return fail("expects a u64 [chains] output");
        break;
      }
      case Op::fill_pattern:
        if ((err = arity(0, 1)) || (err = pattern_ok())) return err;
        if (!is_u64(node.outputs[0])) return fail("expects a u64 output");
        break;
      case Op::verify_pattern: {
        if ((err = arity(1, 2)) || (err = pattern_ok())) return err;
        if (!is_u64(node.inputs[0])) return fail("expects a u64 input");
        auto max_errors = node.attrs.get_int("max_errors", 0);
        const auto& count = tensors_[node.outputs[0]];
        const auto& list = tensors_[node.outputs[1]];
        if (!is_u64(node.outputs[0]) || count.elements() != 1) return fail("expects a u64 [1] count output");
        if (!is_u64(node.outputs[1]) || max_errors < 1 ||
            list.elements() != static_cast<std::size_t>(max_errors) * 3)
          return fail("expects a u64 [max_errors, 3] error list and max_errors >= 1");
        break;
      }
    }
  }
  return std::nullopt;
}

}  // namespace xpb

namespace xpb {

void fill_random_cycle(std::uint64_t* words, std::size_t lines, std::size_t words_per_line,
                       std::uint64_t seed) {
  // order[k] is the k-th line visited, a uniformly random order (Fisher-Yates); linking each
  // line to the next in that order makes one cycle through all lines.
  std::vector<std::uint64_t> order(lines);
  for (std::size_t i = 0; i < lines; ++i) order[i] = i;
  std::uint64_t state = seed;
  for (std::size_t i = lines; i > 1; --i) {
    std::uint64_t r = pattern_word(Pattern::random, state, i, false);
    state = r;
    // Lemire's multiply-shift maps r to [0, i) without a division.
    __extension__ using u128 = unsigned __int128;
    auto j = static_cast<std::size_t>((static_cast<u128>(r) * i) >> 64);
    std::swap(order[i - 1], order[j]);
  }
  for (std::size_t i = 0; i < lines * words_per_line; ++i) words[i] = 0;
  for (std::size_t k = 0; k < lines; ++k)
    words[order[k] * words_per_line] = order[(k + 1) % lines];
}

}  // namespace xpb
