#include "xpubench/graph.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <vector>
#include <utility>

#include "xpubench/fingerprint.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/quant.hpp"

namespace xpb {
namespace {

template <class E, std::size_t N>
std::optional<E> parse_name(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view s) {
  for (const auto& [e, n] : names)
    if (n == s) return e;
  return std::nullopt;
}

constexpr std::array<std::pair<TensorRole, std::string_view>, 5> kRoleNames{{{TensorRole::weight, "weight"},
                                                                             {TensorRole::activation, "activation"},
                                                                             {TensorRole::state, "state"},
                                                                             {TensorRole::input, "input"},
                                                                             {TensorRole::output, "output"}}};
constexpr std::array<std::pair<Pattern, std::string_view>, 5> kPatternNames{{{Pattern::walking_ones, "walking_ones"},
                                                                            {Pattern::walking_zeros, "walking_zeros"},
                                                                            {Pattern::checkerboard, "checkerboard"},
                                                                            {Pattern::random, "random"},
                                                                            {Pattern::address, "address"}}};

bool attr_has_type(const AttrValue& v, AttrType t) {
  switch (t) {
    case AttrType::integer: return std::holds_alternative<std::int64_t>(v);
    case AttrType::real: return std::holds_alternative<double>(v) || std::holds_alternative<std::int64_t>(v);
    case AttrType::boolean: return std::holds_alternative<bool>(v);
    case AttrType::string: return std::holds_alternative<std::string>(v);
  }
  return false;
}

}  // namespace

std::string_view name(TensorRole r) {
  for (const auto& [e, n] : kRoleNames)
    if (e == r) return n;
  return "unknown";
}
std::string_view name(Op op) { return op_def(op).name; }
std::optional<Op> parse_op(std::string_view s) {
  for (const auto& d : op_catalogue())
    if (d.name == s) return d.op;
  return std::nullopt;
}
std::string_view name(Pattern p) {
  for (const auto& [e, n] : kPatternNames)
    if (e == p) return n;
  return "unknown";
}
std::optional<Pattern> parse_pattern(std::string_view s) { return parse_name(kPatternNames, s); }

std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert) {
  std::uint64_t w = 0;
  switch (p) {
    case Pattern::walking_ones: w = std::uint64_t{1} << (i & 63); break;
    case Pattern::walking_zeros: w = ~(std::uint64_t{1} << (i & 63)); break;
    case Pattern::checkerboard: w = (i & 1) ? 0x5555555555555555ull : 0xAAAAAAAAAAAAAAAAull; break;
    case Pattern::random: {
      // splitmix64 (quant.hpp): a bijective mixer, so every word differs.
      w = mix64(seed + (i + 1) * kGoldenGamma);
      break;
    }
    case Pattern::address: w = i * 8; break;
  }
  return invert ? ~w : w;
}

// The most elements a tensor may have (Graph::check): 2^50, far past any memory, so that
// element and byte counts cannot wrap.
constexpr std::uint64_t kMaxTensorElements = std::uint64_t{1} << 50;

std::size_t TensorDesc::elements() const {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

ModelIdentity ModelIdentity::make(std::string architecture, std::string shape, std::string weight_format) {
  ModelIdentity id{std::move(architecture), std::move(shape), std::move(weight_format), ""};
  id.fingerprint = fnv1a64(id.architecture + "\n" + id.shape + "\n" + id.weight_format);
  return id;
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

void Graph::add_node(Op op, std::vector<TensorId> inputs, std::vector<TensorId> outputs, Attrs attrs) {
  nodes_.push_back(Node{op, std::move(inputs), std::move(outputs), std::move(attrs)});
}

DimId Graph::add_dim(std::string dim_name, std::int64_t max) {
  dims_.push_back({std::move(dim_name), max});
  return static_cast<DimId>(dims_.size() - 1);
}

std::size_t Graph::live_rows(TensorId id, std::span<const std::int64_t> dims) const {
  const TensorDesc& t = tensors_[id];
  const auto rows = t.shape.empty() ? std::int64_t{1} : t.shape[0];
  if (!t.rows_dim || *t.rows_dim >= dims.size()) return static_cast<std::size_t>(rows);
  return static_cast<std::size_t>(std::clamp<std::int64_t>(dims[*t.rows_dim], 0, rows));
}

std::optional<std::string> Graph::check_dims(std::span<const std::int64_t> dims) const {
  if (dims.empty()) return std::nullopt;
  if (dims.size() != dims_.size())
    return std::to_string(dims.size()) + " dim values for a graph of " + std::to_string(dims_.size()) + " dynamic dims";
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0 || dims[i] > dims_[i].max)
      return "dim '" + dims_[i].name + "' = " + std::to_string(dims[i]) + " is outside 0.." + std::to_string(dims_[i].max);
  return std::nullopt;
}

std::optional<std::string> Graph::check() const {
  for (const auto& d : dims_)
    if (d.max < 0) return "dynamic dim '" + d.name + "' has a negative maximum";
  for (const TensorDesc& t : tensors_) {
    if (t.rows_dim) {
      if (*t.rows_dim >= dims_.size()) return "tensor '" + t.name + "': rows_dim names no dynamic dim of the graph";
      if (t.shape.empty()) return "tensor '" + t.name + "': a dynamic row count needs a leading dimension";
    }
    // Sizes multiply in 64 bits: a shape whose product wraps would allocate too little.
    std::uint64_t n = 1;
    for (auto d : t.shape) {
      if (d < 0) return "tensor '" + t.name + "': negative dimension";
      if (d != 0 && n > kMaxTensorElements / static_cast<std::uint64_t>(d))
        return "tensor '" + t.name + "': more than 2^50 elements";
      n *= static_cast<std::uint64_t>(d);
    }
    if (t.elements() % traits(t.dtype).block_elements != 0)
      return "tensor '" + t.name + "': " + std::to_string(t.elements()) + " elements are not whole blocks of " +
             std::string(xpb::name(t.dtype));
    if (t.init.kind == TensorInit::Kind::synthetic && !is_weight_dtype(t.dtype))
      return "tensor '" + t.name + "': synthetic values need " + weight_dtype_list();
    if (t.init.kind == TensorInit::Kind::bytes && t.init.source == nullptr)
      return "tensor '" + t.name + "': a copied tensor needs its source bytes";
    if (t.init.kind == TensorInit::Kind::bytes && t.init.source_bytes != t.bytes())
      return "tensor '" + t.name + "': its source holds " + std::to_string(t.init.source_bytes) + " bytes, the tensor " +
             std::to_string(t.bytes());
    if (t.init.kind == TensorInit::Kind::random_cycle &&
        (t.dtype != DType::u64 || t.shape.size() != 2 || t.shape[0] < 1 || t.shape[1] < 1))
      return "tensor '" + t.name + "': a random cycle needs a u64 [lines, words] tensor";
  }
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    const auto op = op_from_code(static_cast<std::uint32_t>(node.op));
    if (!op) return "node " + std::to_string(n) + ": op code " + std::to_string(static_cast<unsigned>(node.op)) +
                    " is not in the catalogue";
    const OpDef& def = op_def(*op);
    auto fail = [&](const std::string& what) {
      return "node " + std::to_string(n) + " (" + std::string(def.name) + "): " + what;
    };
    for (auto id : node.inputs)
      if (id >= tensors_.size()) return fail("input tensor " + std::to_string(id) + " does not exist");
    for (auto id : node.outputs)
      if (id >= tensors_.size()) return fail("output tensor " + std::to_string(id) + " does not exist");
    if (node.inputs.size() < def.min_inputs || node.inputs.size() > def.max_inputs || node.outputs.size() != def.outputs) {
      const std::string ins = def.min_inputs == def.max_inputs
                                  ? std::to_string(def.min_inputs)
                                  : std::to_string(def.min_inputs) + " to " + std::to_string(def.max_inputs);
      return fail("expects " + ins + " inputs and " + std::to_string(def.outputs) + " outputs, has " +
                  std::to_string(node.inputs.size()) + " and " + std::to_string(node.outputs.size()));
    }
    for (const auto& [attr_key, value] : node.attrs.all()) {
      const std::string& key = attr_key;  // a binding clang 14 can capture
      auto it = std::find_if(def.attrs.begin(), def.attrs.end(), [&](const AttrDef& a) { return a.name == key; });
      if (it == def.attrs.end()) return fail("unknown attribute '" + key + "'");
      if (!attr_has_type(value, it->type))
        return fail("attribute '" + key + "' expects a " + std::string(xpb::name(it->type)) + " value");
    }
    for (const auto& a : def.attrs)
      if (a.required && !node.attrs.has(std::string(a.name)))
        return fail("needs the attribute '" + std::string(a.name) + "' (" + std::string(a.help) + ")");
    if (auto err = def.check(*this, node)) return fail(*err);
  }
  return std::nullopt;
}

void fill_random_cycle(std::uint64_t* words, std::size_t lines, std::size_t words_per_line, std::uint64_t seed) {
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
  for (std::size_t k = 0; k < lines; ++k) words[order[k] * words_per_line] = order[(k + 1) % lines];
}

void fill_initial(const TensorDesc& desc, std::span<std::byte> bytes) {
  switch (desc.init.kind) {
    case TensorInit::Kind::none: std::memset(bytes.data(), 0, bytes.size()); break;
    case TensorInit::Kind::fill:
      if (desc.dtype == DType::f64) {
        std::fill_n(reinterpret_cast<double*>(bytes.data()), desc.elements(), desc.init.value);
      } else if (desc.dtype == DType::f32) {
        std::fill_n(reinterpret_cast<float*>(bytes.data()), desc.elements(), static_cast<float>(desc.init.value));
      } else if (desc.dtype == DType::u64) {
        std::fill_n(reinterpret_cast<std::uint64_t*>(bytes.data()), desc.elements(),
                    static_cast<std::uint64_t>(desc.init.value));
      } else if (desc.dtype == DType::i32) {
        std::fill_n(reinterpret_cast<std::int32_t*>(bytes.data()), desc.elements(),
                    static_cast<std::int32_t>(desc.init.value));
      } else {
        std::memset(bytes.data(), 0, bytes.size());
      }
      break;
    case TensorInit::Kind::synthetic: {
      const std::size_t cols = desc.shape.empty() ? 0 : static_cast<std::size_t>(desc.shape.back());
      const std::size_t rows = cols == 0 ? 0 : desc.elements() / cols;
      const std::size_t row_bytes = storage_bytes(desc.dtype, cols);
      std::vector<float> row(cols);
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c)
          row[c] = synthetic_value(desc.init.seed, r * cols + c, static_cast<float>(desc.init.value));
        encode_row(desc.dtype, row.data(), bytes.data() + r * row_bytes, cols);
      }
      break;
    }
    case TensorInit::Kind::bytes: std::memcpy(bytes.data(), desc.init.source, bytes.size()); break;
    case TensorInit::Kind::random_cycle:
      fill_random_cycle(reinterpret_cast<std::uint64_t*>(bytes.data()), static_cast<std::size_t>(desc.shape[0]),
                        static_cast<std::size_t>(desc.shape[1]), desc.init.seed);
      break;
  }
}

std::vector<std::uint64_t> chase_start_lines(const std::uint64_t* ring, std::size_t lines, std::size_t words_per_line,
                                             std::size_t chains) {
  std::vector<std::uint64_t> starts(chains);
  const std::size_t spacing = chains == 0 ? 0 : lines / chains;
  std::uint64_t at = 0;
  for (std::size_t c = 0; c < chains; ++c) {
    starts[c] = at % lines;
    for (std::size_t k = 0; k < spacing; ++k) at = ring[(at % lines) * words_per_line];
  }
  return starts;
}

std::span<const std::byte> initial_contents(const TensorDesc& t, std::vector<std::byte>& staging) {
  if (t.init.kind == TensorInit::Kind::none) return {};
  if (t.init.kind == TensorInit::Kind::bytes) return {t.init.source, t.bytes()};
  staging.resize(t.bytes());
  fill_initial(t, staging);
  return staging;
}

}  // namespace xpb
