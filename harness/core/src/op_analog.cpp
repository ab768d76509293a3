// The analog ops of the catalogue: the numeric effects of an analog matrix engine, put around
// each matmul by photonic-sim's functional mode (graph.hpp has their definitions, analog.hpp
// the element-by-element arithmetic every device shares, so ref and a device agree bit for bit).
#include "op_families.hpp"

namespace xpb {
namespace {

using opcheck::cols;
using opcheck::Problem;
using opcheck::rows;

double live(const Graph& g, TensorId id, std::span<const std::int64_t> dims) {
  return static_cast<double>(g.live_rows(id, dims));
}

Problem bits_in(const Node& n, std::int64_t hi) {
  const auto bits = n.attrs.get_int("bits", 0);
  if (bits < 2 || bits > hi) return "expects 'bits' in 2.." + std::to_string(hi) + ", got " + std::to_string(bits);
  return std::nullopt;
}

Problem check_dac_round(const Graph& g, const Node& n) {
  Problem err;
  if ((err = bits_in(n, 16))) return err;
  if (n.attrs.get_int("block", 0) < 0) return "expects 'block' >= 0 (0: the whole row)";
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "x")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")) ||
      (err = opcheck::vector_of(g, n.outputs[1], rows(g, n.inputs[0]), DType::f32, "the rows' full scales")))
    return err;
  return std::nullopt;
}

Problem check_analog_readout(const Graph& g, const Node& n) {
  Problem err;
  if ((err = bits_in(n, 24))) return err;
  if (!(n.attrs.get_double("noise", -1) >= 0)) return "expects 'noise' >= 0";
  if (!(n.attrs.get_double("bound", 0) > 0)) return "expects 'bound' > 0";
  const TensorId y = n.inputs[0];
  if ((err = opcheck::matrix(g, y, -1, -1, DType::f32, "y")) ||
      (err = opcheck::vector_of(g, n.inputs[1], rows(g, y), DType::f32, "the inputs' full scales")) ||
      (err = opcheck::vector_of(g, n.inputs[2], cols(g, y), DType::f32, "the weight rows' full scales")) ||
      (err = opcheck::vector_of(g, n.inputs[3], 1, DType::u64, "a step counter")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, y), cols(g, y), DType::f32, "an output")) ||
      (err = opcheck::vector_of(g, n.outputs[1], 1, DType::u64, "the next step")))
    return err;
  return std::nullopt;
}

// Per element: a largest-magnitude compare, a divide, a rounding, a multiply.
Work dac_round_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), e = t * static_cast<double>(cols(g, n.inputs[0]));
  return {4 * e, e * 4, e * 4 + t * 4};
}

// Per element: the noise (three hashes, a log, a square root, a cosine: counted as 10), a
// divide, a multiply-add, a clip, a rounding and the rescale (counted as 10 more).
Work analog_readout_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), c = static_cast<double>(cols(g, n.inputs[0]));
  return {20 * t * c, t * c * 4 + t * 4 + c * 4 + 8, t * c * 4 + 8};
}

std::vector<ConformanceCase> dac_round_cases() {
  std::vector<ConformanceCase> out;
  struct Shape {
    std::int64_t rows, cols, bits, block;
  };
  // A full scale per row, then blocks with a short tail (130 = 2 x 64 + 2).
  for (const Shape& s : {Shape{5, 200, 8, 0}, Shape{3, 130, 4, 64}, Shape{2, 33, 2, 0}}) {
    ConformanceCase c;
    c.op = Op::dac_round;
    c.dtype = DType::f32;
    c.name = "dac_round f32 [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) + "] bits " +
             std::to_string(s.bits) + " block " + std::to_string(s.block);
    const auto x = c.graph.add_tensor(opcase::seeded("x", {s.rows, s.cols}, DType::f32, 101, 3.0));
    const auto y = c.graph.add_tensor({"out", {s.rows, s.cols}, DType::f32, TensorRole::output, {}});
    const auto scale = c.graph.add_tensor({"scale", {s.rows}, DType::f32, TensorRole::output, {}});
    c.graph.add_node(Op::dac_round, {x}, {y, scale}, {{"bits", s.bits}, {"block", s.block}});
    c.outputs = {y, scale};
    c.tolerance = {0, 0, 0, "the same f32 operations (analog.hpp) on every device"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> analog_readout_cases() {
  ConformanceCase c;
  c.op = Op::analog_readout;
  c.dtype = DType::f32;
  c.name = "analog_readout f32 [4, 50] noise 0.06 bound 12 bits 8";
  auto& g = c.graph;
  const auto y = g.add_tensor(opcase::seeded("y", {4, 50}, DType::f32, 111, 20.0));
  const auto xs = g.add_tensor({"xs", {4}, DType::f32, TensorRole::input, TensorInit::values(std::vector<float>{1, 2, 0, 0.5f})});
  const auto ws = g.add_tensor(opcase::seeded("ws", {50}, DType::f32, 112, 1.0));
  const auto step = g.add_tensor({"step", {1}, DType::u64, TensorRole::state, TensorInit::filled(3)});
  const auto out = g.add_tensor({"out", {4, 50}, DType::f32, TensorRole::output, {}});
  // The step in place, as photonic-sim puts it: the second run draws fresh noise (its step is
  // 4), and the step reads 5 after; a row with full scale 0 reads 0; values past the bound clip.
  g.add_node(Op::analog_readout, {y, xs, ws, step}, {out, step}, {{"noise", 0.06}, {"bound", 12.0}, {"bits", 8}, {"seed", 5}});
  c.outputs = {out, step};
  c.iterations = 2;
  c.tolerance = {0, 0, 0, "the same noise (a counter-based generator in f64) and f32 rounding (analog.hpp) everywhere"};
  std::vector<ConformanceCase> v;
  v.push_back(std::move(c));
  return v;
}

const std::vector<DType> kF32 = {DType::f32};

}  // namespace

std::vector<OpDef> analog_op_defs() {
  return {
      {Op::dac_round, "dac_round", OpFamily::analog,
       "out0 = x rounded through a bits-bit DAC per block (symmetric, block full scale); out1 = each row's full scale",
       1, 1, 2,
       {{"bits", AttrType::integer, true, "DAC resolution, 2..16"},
        {"block", AttrType::integer, false, "columns sharing a full scale (0, default: the whole row)"}},
       kF32, check_dac_round, dac_round_cost, dac_round_cases},
      {Op::analog_readout, "analog_readout", OpFamily::analog,
       "out0 = y read through noise, clipping and a bits-bit ADC in full-scale units; out1 = step + 1", 4, 4, 2,
       {{"noise", AttrType::real, true, "output noise, standard deviation in full-scale units"},
        {"bound", AttrType::real, true, "outputs clip at +-bound full-scale units"},
        {"bits", AttrType::integer, true, "ADC resolution over [-bound, bound], 2..24"},
        {"seed", AttrType::integer, false, "of the noise (default 0)"}},
       kF32, check_analog_readout, analog_readout_cost, analog_readout_cases},
  };
}

}  // namespace xpb
