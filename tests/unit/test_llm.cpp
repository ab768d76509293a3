// The llm workloads: number formats, the decoder's graph, the cpu kernels against ref through
// whole models, GGUF export and import of a model, and the workloads end to end.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "conformance.hpp"
#include "gguf.hpp"
#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "test_devices.hpp"
#include "xpubench/error.hpp"
#include "xpubench/model_export.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace {

using xpb::DType;
using xpb::test::open_device;

// The model's weights on `device` and an engine over them.
std::shared_ptr<xpb::llm::ModelWeights> load(xpb::Device& device, const xpb::llm::ModelChoice& m) {
  auto [outcome, w] = xpb::llm::ModelWeights::load(device, m.config, m.source, {});
  EXPECT_TRUE(w) << outcome.reason;
  return w;
}
std::unique_ptr<xpb::llm::LlamaEngine> engine(xpb::Device& device, const xpb::llm::ModelChoice& m,
                                              const xpb::llm::GraphShape& shape) {
  auto [outcome, e] = xpb::llm::LlamaEngine::create(device, load(device, m), shape, {});
  EXPECT_TRUE(e) << outcome.reason;
  return std::move(e);
}

xpb::SystemInfo two_pus() {
  xpb::SystemInfo s;
  s.topology.pus = 2;
  s.topology.cores = 2;
  return s;
}

xpb::llm::ModelChoice preset_model(const std::string& name, DType t) {
  return xpb::llm::resolve_model({{"model", name}, {"dtype", std::string(xpb::name(t))}, {"weight_seed", 1}});
}

TEST(Quant, HalfConversionsRoundTripEveryValue) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto v = static_cast<std::uint16_t>(h);
    const float f = xpb::f16_to_f32(v);
    if (std::isnan(f)) continue;
    EXPECT_EQ(xpb::f32_to_f16(f), v) << h;
    EXPECT_EQ(xpb::f32_to_bf16(xpb::bf16_to_f32(v)), v) << h;
  }
  EXPECT_EQ(xpb::f32_to_f16(65520.0f), 0x7C00);  // rounds to infinity
  EXPECT_EQ(xpb::f32_to_f16(1.0f + 1.0f / 4096), 0x3C00);  // a tie rounds to even
  EXPECT_EQ(xpb::f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

// Q8_0 rounds to nearest (half a step of amax/127); Q4_0's scale puts the value of largest
// magnitude exactly on code 0, so values of the other sign saturate at code 15: up to one
// step (amax/8) away. Both store the scale as fp16, whose rounding (2^-11 relative) moves the
// largest code by up to 127 x 2^-11 of a step: 0.57 of a step for Q8_0 all told.
TEST(Quant, BlockFormatsStayWithinTheirStep) {
  std::vector<float> x(64), y(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = xpb::synthetic_value(3, i, 2.0f);
  for (DType t : {DType::q8_0, DType::q4_0}) {
    std::vector<std::byte> buf(xpb::storage_bytes(t, x.size()));
    xpb::encode_row(t, x.data(), buf.data(), x.size());
    xpb::decode_row(t, buf.data(), y.data(), y.size());
    for (std::size_t b = 0; b < 2; ++b) {
      float amax = 0;
      for (std::size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      const float bound = t == DType::q8_0 ? amax / 127 * 0.57f : amax / 8;
      for (std::size_t i = 0; i < 32; ++i)
        EXPECT_LE(std::fabs(x[b * 32 + i] - y[b * 32 + i]), bound * 1.01f) << xpb::name(t) << " " << b * 32 + i;
    }
  }
}

TEST(LlmGraph, CheckNamesBadTransformerShapes) {
  xpb::Graph g;
  auto x = g.add_tensor({"x", {4, 64}, DType::f32, xpb::TensorRole::input, {}});
  auto w = g.add_tensor({"w", {8, 48}, DType::q8_0, xpb::TensorRole::weight, {}});
  auto y = g.add_tensor({"y", {4, 8}, DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::matmul, {x, w}, {y});
  auto err = g.check();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("node 0 (matmul)"), std::string::npos) << *err;
  EXPECT_NE(err->find("cols whole blocks"), std::string::npos) << *err;
}

TEST(LlmModel, PresetsHaveThePublishedSizes) {
  const auto l8 = *xpb::llm::preset("llama-3.1-8b");
  EXPECT_NEAR(static_cast<double>(l8.parameters()), 8.03e9, 0.01e9);
  EXPECT_NEAR(static_cast<double>(xpb::llm::preset("tinyllama-1.1b")->parameters()), 1.10e9, 0.01e9);
  // The full 8B model at Q4_0 fits within 24 GiB with a 4096-position cache.
  xpb::llm::GraphShape shape;
  shape.context = 4096;
  shape.max_rows = 512;
  shape.kv_dtype = DType::f16;
  xpb::llm::WeightSource q4;
  q4.dtype = DType::q4_0;
  EXPECT_LT(xpb::llm::footprint_bytes(l8, q4, shape), 24ull << 30);
  EXPECT_GT(xpb::llm::footprint_bytes(l8, q4, shape), 4ull << 30);
  // Llama 3.1's scaling leaves the fastest frequencies alone and divides the slowest by 8.
  const auto f = xpb::llm::rope_factors(l8);
  EXPECT_FLOAT_EQ(f.front(), 1.0f);
  EXPECT_FLOAT_EQ(f.back(), 8.0f);
}

// The decoder on cpu against ref: f32 (and f16, bf16 weights) give identical greedy tokens
// for 32 steps and near-identical logits; q8_0 and q4_0 stay within their written tolerance.
TEST(LlmConformance, CpuMatchesRefOnTinyModels) {
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  const auto system = two_pus();
  for (const char* model : {"tiny", "tiny-tied", "tiny-qwen2"}) {
    for (DType t : xpb::all_dtypes()) {
      if (!xpb::is_weight_dtype(t) || !xpb::llm::preset(model)->problem(t).empty()) continue;  // K-quants: tiny-qwen2
      xpb::RunContext ctx{*cpu, system, xpb::RunPolicy{}, nullptr, nullptr, ref.get(), nullptr};
      const auto c = xpb::llm::check_against_ref(ctx, load(*cpu, preset_model(model, t)), 2, 8, 32, 1);
      EXPECT_EQ(c["status"], "passed") << model << " " << xpb::name(t) << ": " << c.dump();
      EXPECT_EQ(c["steps"], 33);
      EXPECT_EQ(c["weights"], "ref bound the device's weights: one copy of the model");
      if (t == DType::f32) {
        EXPECT_EQ(c["token_agreement"], 1.0);
        EXPECT_LT(c["rms_logit_error"].get<double>(), 1e-5) << model;
      }
    }
  }
}

// A step of several rows (a prompt chunk) gives the same logits as the rows one at a time:
// the KV cache, positions and causal masking agree between the two paths.
TEST(LlmEngine, ChunkedPromptEqualsTokenByToken) {
  auto cpu = open_device("cpu");
  const auto m = preset_model("tiny", DType::f32);
  xpb::llm::GraphShape shape;
  shape.max_rows = 8;
  shape.context = 16;
  auto chunked = engine(*cpu, m, shape);
  auto single = engine(*cpu, m, shape);
  ASSERT_TRUE(chunked && single);
  const auto tokens = xpb::llm::prompt_tokens(5, 8, m.config.vocab);
  xpb::llm::StepInput in{tokens, {0, 1, 2, 3, 4, 5, 6, 7}, std::vector<std::int32_t>(8, 0), {7}};
  chunked->step(in);
  for (int i = 0; i < 8; ++i) single->step({{tokens[static_cast<std::size_t>(i)]}, {i}, {0}, {0}});
  const auto a = chunked->logits(), b = single->logits();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f) << i;
}

// Synthetic weights are scaled so decoding does not collapse: greedy generation visits many
// tokens, and logits are finite with a spread.
TEST(LlmModel, SyntheticWeightsGiveVariedGreedyTokens) {
  auto cpu = open_device("cpu");
  for (const char* model : {"tiny", "stories-15m"}) {
    const auto m = preset_model(model, DType::q8_0);
    xpb::llm::GraphShape shape;
    shape.context = 80;
    auto e = engine(*cpu, m, shape);
    ASSERT_TRUE(e);
    std::set<std::int32_t> seen;
    std::int32_t tok = 5;
    for (int pos = 0; pos < 64; ++pos) {
      e->step({{tok}, {pos}, {0}, {0}});
      tok = e->next_tokens()[0];
      seen.insert(tok);
    }
    EXPECT_GE(seen.size(), 16u) << model;
    const auto l = e->logits();
    double sum = 0, sq = 0;
    for (float v : l) {
      ASSERT_TRUE(std::isfinite(v));
      sum += v;
      sq += double(v) * v;
    }
    const double sd = std::sqrt(sq / static_cast<double>(l.size()) - std::pow(sum / static_cast<double>(l.size()), 2));
    EXPECT_GT(sd, 0.1) << model;
    EXPECT_LT(sd, 100.0) << model;
  }
}

// The exported file is the preset: same shape, and the same greedy tokens when run from it.
TEST(LlmGguf, ExportedPresetRunsTheSameTokens) {
  const std::string path = ::testing::TempDir() + "/tiny-q4.gguf";
  xpb::export_model("tiny", "q4_0", 1, path);
  const auto from_file = xpb::llm::resolve_model({{"model", path}, {"dtype", "f32"}});
  const auto preset = preset_model("tiny", DType::q4_0);
  EXPECT_EQ(from_file.config.dim, preset.config.dim);
  EXPECT_EQ(from_file.config.kv_heads, preset.config.kv_heads);
  EXPECT_EQ(from_file.source.dtype, DType::q4_0);
  auto cpu = open_device("cpu");
  xpb::llm::GraphShape shape;
  shape.context = 40;
  auto a = engine(*cpu, from_file, shape);
  auto b = engine(*cpu, preset, shape);
  ASSERT_TRUE(a && b);
  // The same model at the same weight format: the same identity.
  EXPECT_EQ(a->graph().graph.identity().fingerprint, b->graph().graph.identity().fingerprint);
  EXPECT_EQ(a->graph().graph.identity().weight_format, "q4_0");
  std::int32_t ta = 9, tb = 9;
  for (int pos = 0; pos < 32; ++pos) {
    a->step({{ta}, {pos}, {0}, {0}});
    b->step({{tb}, {pos}, {0}, {0}});
    ta = a->next_tokens()[0];
    tb = b->next_tokens()[0];
    ASSERT_EQ(ta, tb) << "step " << pos;
  }
  EXPECT_EQ(a->logits(), b->logits());
}

TEST(LlmGguf, FilesThatAreNotLlamaModelsAreRefusedByName) {
  const std::string path = ::testing::TempDir() + "/not-llama.gguf";
  xpb::gguf::Writer w;
  w.set_string("general.architecture", "gpt2");
  w.write(path);
  try {
    xpb::llm::resolve_model({{"model", path}});
    FAIL() << "accepted a gpt2 file";
  } catch (const xpb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("supported: 'llama', 'qwen2'"), std::string::npos) << e.what();
  }
  // A llama file that lacks a tensor names it.
  const std::string partial = ::testing::TempDir() + "/partial.gguf";
  xpb::export_model("tiny", "f32", 1, partial);
  auto f = xpb::gguf::File::open(partial);
  xpb::gguf::Writer w2;
  for (const auto& [k, v] : f.metadata()) w2.set(k, v);
  for (const auto& t : f.tensors())
    if (t.name != "blk.1.ffn_up.weight")
      w2.add_tensor(t.name, t.shape, t.dtype, [&t](std::span<std::byte> out) { std::memcpy(out.data(), t.data, t.bytes); });
  w2.write(partial + ".cut.gguf");
  EXPECT_THROW(
      {
        try {
          xpb::llm::resolve_model({{"model", partial + ".cut.gguf"}});
        } catch (const xpb::InputError& e) {
          EXPECT_NE(std::string(e.what()).find("blk.1.ffn_up.weight"), std::string::npos) << e.what();
          throw;
        }
      },
      xpb::InputError);
}

// A matmul whose input gains live rows without being rewritten must not reuse the rounded
// copy made for fewer rows.
TEST(LlmEngine, RoundedActivationsFollowTheLiveRows) {
  xpb::Graph g;
  const auto rows = g.add_dim("rows", 4);
  xpb::TensorDesc xd{"x", {4, 64}, DType::f32, xpb::TensorRole::input, xpb::TensorInit::random(3, 1.0)};
  xd.rows_dim = rows;
  auto x = g.add_tensor(xd);
  auto w = g.add_tensor({"w", {8, 64}, DType::q8_0, xpb::TensorRole::weight, xpb::TensorInit::random(4, 0.5)});
  xpb::TensorDesc yd{"y", {4, 8}, DType::f32, xpb::TensorRole::output, {}};
  yd.rows_dim = rows;
  auto y = g.add_tensor(yd);
  g.add_node(xpb::Op::matmul, {x, w}, {y});
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  auto c = cpu->compile(g, xpb::CompileOptions{}).exe;
  auto r = ref->compile(g, xpb::CompileOptions{}).exe;
  ASSERT_TRUE(c && r);
  const std::vector<std::int64_t> one{1}, four{4};
  for (auto* e : {c.get(), r.get()}) {
    e->run(xpb::RunArgs{1, one, nullptr});   // one live row
    e->run(xpb::RunArgs{1, four, nullptr});  // four, x unchanged
  }
  std::vector<float> yc(32), yr(32);
  c->read(y, {reinterpret_cast<std::byte*>(yc.data()), 128});
  r->read(y, {reinterpret_cast<std::byte*>(yr.data()), 128});
  for (std::size_t i = 0; i < 32; ++i) EXPECT_NEAR(yc[i], yr[i], 0.05 + 0.02 * std::fabs(yr[i])) << i;
}

// Files carry tensors a model does not use, and metadata that must be checked before use.
TEST(LlmGguf, UnusedTensorsAreIgnoredAndBadMetadataIsRefused) {
  const std::string base = ::testing::TempDir() + "/tiny-f32.gguf";
  xpb::export_model("tiny", "f32", 1, base);
  auto f = xpb::gguf::File::open(base);
  auto rewrite = [&](const std::string& path, const std::string& key, std::optional<xpb::gguf::Value> value, bool junk) {
    xpb::gguf::Writer w;
    for (const auto& [k, v] : f.metadata())
      if (k != key) w.set(k, v);
    if (value) w.set(key, *value);
    for (const auto& t : f.tensors())
      w.add_tensor(t.name, t.shape, t.dtype, [&t](std::span<std::byte> out) { std::memcpy(out.data(), t.data, t.bytes); });
    for (int i = 0; junk && i < 40; ++i)
      w.add_tensor("extra." + std::to_string(i), {1, 32}, DType::q8_0, [](std::span<std::byte>) {});
    w.write(path);
  };
  const std::string junk = ::testing::TempDir() + "/tiny-junk.gguf";
  rewrite(junk, "", std::nullopt, true);
  const auto m = xpb::llm::resolve_model({{"model", junk}});
  EXPECT_EQ(m.source.dtype, DType::f32);  // the model's matrices, not the 40 extra q8_0 tensors
  xpb::llm::GraphShape shape;
  EXPECT_GT(xpb::llm::footprint_bytes(m.config, m.source, shape), xpb::llm::weight_bytes(m.config, m.source));
  const std::string bad = ::testing::TempDir() + "/tiny-bad.gguf";
  const std::vector<std::pair<std::string, xpb::gguf::Value>> cases = {
      {"llama.attention.key_length", xpb::gguf::Value::u64(std::uint64_t{1} << 62)},
      {"llama.rope.freq_base", xpb::gguf::Value::f32(std::nanf(""))},
      {"llama.attention.layer_norm_rms_epsilon", xpb::gguf::Value::f32(-1.0f)},
      {"llama.rope.dimension_count", xpb::gguf::Value::u32(8)},
      {"llama.attention.head_count_kv", xpb::gguf::Value::u32(8)},
  };
  for (const auto& [key, value] : cases) {
    rewrite(bad, key, value, false);
    try {
      xpb::llm::resolve_model({{"model", bad}});
      ADD_FAILURE() << key << " accepted";
    } catch (const xpb::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << key << ": " << e.what();
    }
  }
}

// A copy of `base` with metadata key `key` set to `value` (or removed when absent).
std::string with_key(const std::string& base, const std::string& out, const std::string& key,
                     std::optional<xpb::gguf::Value> value) {
  auto f = xpb::gguf::File::open(base);
  xpb::gguf::Writer w;
  for (const auto& [k, v] : f.metadata())
    if (k != key) w.set(k, v);
  if (value) w.set(key, *value);
  for (const auto& t : f.tensors())
    w.add_tensor(t.name, t.shape, t.dtype, [&t](std::span<std::byte> o) { std::memcpy(o.data(), t.data, t.bytes); });
  w.write(out);
  return out;
}

std::string model_error(const std::string& path) {
  try {
    xpb::llm::resolve_model({{"model", path}});
  } catch (const xpb::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(LlmGguf, RopeScalingIsAppliedOrRefusedNeverIgnored) {
  using xpb::gguf::Value;
  const std::string dir = ::testing::TempDir();
  const std::string base = dir + "/tied.gguf";  // tiny-tied: no scaling of its own
  xpb::export_model("tiny-tied", "f32", 1, base);
  EXPECT_EQ(xpb::llm::resolve_model({{"model", base}}).config.rope_scaling_applied, "none");

  const auto linear = with_key(with_key(base, dir + "/l1.gguf", "llama.rope.scaling.type", Value::string("linear")),
                               dir + "/linear.gguf", "llama.rope.scaling.factor", Value::f32(4.0f));
  const auto m = xpb::llm::resolve_model({{"model", linear}});
  EXPECT_DOUBLE_EQ(m.config.rope_linear_factor, 4.0);
  EXPECT_NE(m.config.rope_scaling_applied.find("linear, factor 4"), std::string::npos) << m.config.rope_scaling_applied;
  for (float f : xpb::llm::rope_factors(m.config)) EXPECT_FLOAT_EQ(f, 4.0f);
  // Applied, not ignored: the same prompt gives other logits than without the scaling.
  auto cpu = open_device("cpu");
  xpb::llm::GraphShape shape;
  shape.context = 64;
  shape.max_rows = 3;
  auto scaled = engine(*cpu, m, shape);
  auto plain = engine(*cpu, xpb::llm::resolve_model({{"model", base}}), shape);
  const xpb::llm::StepInput prompt{{7, 8, 9}, {0, 1, 2}, {0, 0, 0}, {2}};
  scaled->step(prompt);
  plain->step(prompt);
  EXPECT_NE(scaled->logits(), plain->logits());

  const auto old = with_key(base, dir + "/old.gguf", "llama.rope.scale_linear", Value::f32(2.0f));
  EXPECT_DOUBLE_EQ(xpb::llm::resolve_model({{"model", old}}).config.rope_linear_factor, 2.0);

  const auto yarn = with_key(base, dir + "/yarn.gguf", "llama.rope.scaling.type", Value::string("yarn"));
  EXPECT_NE(model_error(yarn).find("llama.rope.scaling.type is 'yarn'"), std::string::npos) << model_error(yarn);
  EXPECT_NE(model_error(yarn).find(yarn), std::string::npos);
  const auto no_factor = with_key(base, dir + "/nofactor.gguf", "llama.rope.scaling.type", Value::string("linear"));
  EXPECT_NE(model_error(no_factor).find("llama.rope.scaling.factor is missing"), std::string::npos) << model_error(no_factor);

  // A file with llama3 frequency factors says it applies them.
  const std::string tiny = dir + "/tiny-freqs.gguf";
  xpb::export_model("tiny", "f32", 1, tiny);
  EXPECT_NE(xpb::llm::resolve_model({{"model", tiny}}).config.rope_scaling_applied.find("rope_freqs.weight"),
            std::string::npos);
}

TEST(LlmGguf, TheVocabularyAndEveryTokenIdItNamesMustFitTheTable) {
  using xpb::gguf::Value;
  const std::string dir = ::testing::TempDir();
  const std::string base = dir + "/vocab.gguf";
  xpb::export_model("tiny", "q8_0", 1, base);  // vocab 256
  const auto size = with_key(base, dir + "/vsize.gguf", "llama.vocab_size", Value::u32(300));
  EXPECT_NE(model_error(size).find("llama.vocab_size is 300 but 'token_embd.weight' has 256 rows"), std::string::npos)
      << model_error(size);
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
    const auto bad = with_key(base, dir + "/ids.gguf", key, Value::u32(256));
    EXPECT_NE(model_error(bad).find(std::string(key) + " is 256, outside the vocabulary of 256 tokens"), std::string::npos)
        << model_error(bad);
  }
}

// Decode reads an untied embedding table only at the looked-up rows.
TEST(LlmModel, DecodeBytesCountEmbeddingRowsOnly) {
  const auto m = preset_model("tiny", DType::q8_0);
  const auto g = xpb::llm::build_graph(m.config, m.source, {});
  const std::uint64_t row = xpb::storage_bytes(DType::q8_0, static_cast<std::size_t>(m.config.dim));
  EXPECT_EQ(g.embedding_bytes, row * static_cast<std::uint64_t>(m.config.vocab));
  EXPECT_EQ(g.decode_weight_bytes(2), g.weight_bytes - g.embedding_bytes + 2 * row);
  const auto t = preset_model("tiny-tied", DType::q8_0);
  const auto gt = xpb::llm::build_graph(t.config, t.source, {});
  EXPECT_EQ(gt.decode_weight_bytes(2), gt.weight_bytes);  // the table is the output head too
}

// Runs one benchmark of `workload` on `device` through the harness's template, with `params`
// over the defaults.
xpb::BenchmarkRecord run_one(const std::string& workload, nlohmann::json params, xpb::Device& device, xpb::Device* ref,
                             const xpb::RunPolicy& policy, const std::atomic<bool>* cancel = nullptr) {
  auto w = xpb::WorkloadRegistry::instance().create(workload);
  auto p = nlohmann::json::object();
  for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
  p.update(params);
  const auto points = w->expand(p, two_pus());
  EXPECT_EQ(points.size(), 1u);
  const auto system = two_pus();
  xpb::RunContext ctx{device, system, policy, nullptr, cancel, ref, nullptr};
  return xpb::run_benchmark(*w, points.at(0), ctx);
}

xpb::RunPolicy two_samples() {
  xpb::RunPolicy policy;
  policy.warmup_seconds = 0;
  policy.min_seconds = 0;
  policy.min_samples = 2;
  policy.max_samples = 2;
  policy.min_sample_seconds = 0;
  return policy;
}

// The cpu, but refusing to compile any graph with a read_bytes node (which it still claims).
class NoReadPassDevice final : public xpb::Device {
 public:
  explicit NoReadPassDevice(xpb::Device& inner) : inner_(inner) {}
  const xpb::DeviceInfo& info() const override { return inner_.info(); }
  xpb::DeviceCaps caps() const override { return inner_.caps(); }
  xpb::ClockInfo clock() const override { return inner_.clock(); }
  xpb::AllocResult alloc(const xpb::TensorDesc& t, const xpb::CompileOptions& o) override { return inner_.alloc(t, o); }
  void upload(xpb::Buffer& b, std::span<const std::byte> src, std::size_t at) override { inner_.upload(b, src, at); }
  void download(const xpb::Buffer& b, std::span<std::byte> dst, std::size_t at) override { inner_.download(b, dst, at); }
  bool can_bind(const xpb::Buffer& b) const override { return inner_.can_bind(b); }
  xpb::CompileResult compile(const xpb::Graph& g, const xpb::Bindings& bound, const xpb::CompileOptions& o) override {
    for (const auto& n : g.nodes())
      if (n.op == xpb::Op::read_bytes) return {xpb::Outcome::with(xpb::Status::unsupported, "no read_bytes today"), nullptr};
    return inner_.compile(g, bound, o);
  }

 private:
  xpb::Device& inner_;
};

TEST(LlmWorkloads, ARefusedReadOfTheWeightsLeavesDecodeMeasuredAndSaysWhy) {
  auto cpu = open_device("cpu");
  NoReadPassDevice device(*cpu);
  const auto r = run_one("llm.bench", {{"model", "tiny"}, {"dtype", "q8_0"}, {"test", "tg"}, {"n_gen", 4}, {"check", "off"},
                                       {"threads", 1}},
                         device, nullptr, two_samples());
  EXPECT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  ASSERT_FALSE(r.metrics.empty());
  EXPECT_EQ(r.metrics[0].name, "tokens_per_second");
  EXPECT_EQ(r.metrics[0].samples.size(), 2u);
  const auto& roof = r.details["roofline"];
  EXPECT_NE(roof.value("read_bytes", "").find("no read_bytes today"), std::string::npos) << roof.dump();
  EXPECT_EQ(roof.value("status", ""), "roofline unknown");  // and no session here to measure memory.bandwidth in
}

TEST(LlmWorkloads, CtrlCStopsALongTestWithinAStep) {
  // One test of 200,000 generated tokens takes seconds; Ctrl-C lands 300 ms in.
  auto cpu = open_device("cpu");
  std::atomic<bool> cancel{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.store(true);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_one("llm.bench", {{"model", "tiny"}, {"test", "tg"}, {"n_gen", 200000}, {"check", "off"},
                                       {"roofline", "off"}, {"threads", 1}},
                         *cpu, nullptr, two_samples(), &cancel);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stopper.join();
  EXPECT_EQ(r.outcome.status, xpb::Status::interrupted) << r.outcome.reason;
  EXPECT_TRUE(r.metrics.empty());
  EXPECT_LT(took, 3.0);  // a bound for a loaded machine, far below one whole test
}

TEST(LlmWorkloads, BenchAndServingRunEndToEnd) {
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  for (const char* test : {"pp", "tg", "pg"}) {
    const auto r = run_one("llm.bench",
                           {{"model", "tiny"}, {"test", test}, {"n_prompt", 12}, {"n_gen", 6}, {"depth", 5}, {"ubatch", 5},
                            {"sequences", 2}, {"roofline", 10.0}, {"threads", 2}},
                           *cpu, ref.get(), two_samples());
    EXPECT_EQ(r.outcome.status, xpb::Status::passed) << test << ": " << r.outcome.reason;
    EXPECT_EQ(r.conformance["status"], "passed") << r.conformance.dump();
    ASSERT_FALSE(r.metrics.empty());
    EXPECT_EQ(r.metrics[0].name, "tokens_per_second");
    EXPECT_EQ(r.metrics[0].samples.size(), 2u);
    EXPECT_GT(*r.metrics[0].stats.median, 0);
    EXPECT_TRUE(r.valid) << r.invalid_reason;
    EXPECT_EQ(r.details["memory"]["weight_copies"], 1);
    EXPECT_GT(r.timing["work_per_iteration"]["flops"].get<double>(), 0);
    if (std::string(test) == "tg") {
      EXPECT_EQ(r.metrics.back().name, "roofline_fraction");
    }
  }
  const auto r = run_one("llm.serving",
                         {{"model", "tiny"}, {"requests", 6}, {"rate", 50.0}, {"input_tokens", 20}, {"output_tokens", 5},
                          {"concurrency", 3}, {"max_batch_tokens", 16}, {"threads", 2}},
                         *cpu, ref.get(), two_samples());
  EXPECT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  EXPECT_EQ(r.details["scenario"]["completed"], 6);
  EXPECT_EQ(r.metrics[0].name, "ttft");
  EXPECT_EQ(r.metrics[0].samples.size(), 6u);
  std::set<std::string> names;
  for (const auto& m : r.metrics) {
    names.insert(m.name);
    EXPECT_EQ(m.source, xpb::Source::measured) << m.name;
  }
  EXPECT_TRUE(names.count("queue_time"));
  EXPECT_NE(r.details["scenario"]["definitions"].get<std::string>().find("from the send"), std::string::npos);
}

TEST(LlmWorkloads, OneOutputTokenGivesTpotNoValueNotZero) {
  auto cpu = open_device("cpu");
  const auto r = run_one("llm.serving",
                         {{"model", "tiny"}, {"requests", 3}, {"input_tokens", 8}, {"output_tokens", 1},
                          {"concurrency", 3}, {"threads", 1}},
                         *cpu, nullptr, two_samples());
  ASSERT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  for (const auto& m : r.metrics)
    if (m.name == "tpot" || m.name == "itl") {
      EXPECT_TRUE(m.samples.empty()) << m.name;
      EXPECT_FALSE(m.stats.median) << m.name;  // null, shown "-", passes no gate
      EXPECT_TRUE(m.to_json()["stats"]["median"].is_null());
    }
}

TEST(LlmWorkloads, DepthPastTheTrainedContextIsNoted) {
  auto cpu = open_device("cpu");
  // tiny was trained for 256 positions.
  const auto r = run_one("llm.bench", {{"model", "tiny"}, {"test", "tg"}, {"n_gen", 4}, {"depth", 300}, {"check", "off"},
                                       {"roofline", "off"}, {"threads", 1}},
                         *cpu, nullptr, two_samples());
  ASSERT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  EXPECT_EQ(r.details["model"]["context"], 256);
  EXPECT_NE(r.details["context_note"].get<std::string>().find("past the 256 positions"), std::string::npos);
  const auto inside = run_one("llm.bench", {{"model", "tiny"}, {"test", "tg"}, {"n_gen", 4}, {"check", "off"},
                                            {"roofline", "off"}, {"threads", 1}},
                              *cpu, nullptr, two_samples());
  EXPECT_FALSE(inside.details.contains("context_note"));
}

TEST(LlmEngine, ATokenOutsideTheVocabularyIsAnErrorNeverAZeroRow) {
  auto cpu = open_device("cpu");
  const auto m = preset_model("tiny", DType::q8_0);
  xpb::llm::GraphShape shape;
  shape.context = 8;
  auto e = engine(*cpu, m, shape);
  EXPECT_THROW(e->step({{static_cast<std::int32_t>(m.config.vocab)}, {0}, {0}, {0}}), std::invalid_argument);
  EXPECT_THROW(e->step({{-1}, {0}, {0}, {0}}), std::invalid_argument);
  EXPECT_THROW(e->step({{5}, {8}, {0}, {0}}), std::invalid_argument);  // past the cache
  EXPECT_TRUE(e->step({{5}, {0}, {0}, {0}}).error.empty());
}

TEST(LlmModel, PromptTokensAreRowsOfTheTableForAnyVocabulary) {
  for (std::int64_t vocab : {1, 2, 3, 4, 5, 300}) {
    for (auto t : xpb::llm::prompt_tokens(7, 200, vocab)) {
      EXPECT_GE(t, 0) << vocab;
      EXPECT_LT(t, vocab) << vocab;
    }
  }
  std::set<std::int32_t> seen;
  for (auto t : xpb::llm::prompt_tokens(7, 200, 300)) seen.insert(t);
  EXPECT_GT(seen.size(), 100u);
  EXPECT_GE(*seen.begin(), 3);  // clear of the usual control tokens when there is room
}

TEST(LlmModel, TheConformanceTwinAndTheEngineShareOneCopyOfTheWeights) {
  auto cpu = open_device("cpu");
  const auto m = preset_model("tiny", DType::q8_0);
  auto weights = load(*cpu, m);
  xpb::llm::GraphShape a, b;
  b.max_rows = 8;
  b.kv_dtype = DType::f32;
  auto [o1, e1] = xpb::llm::LlamaEngine::create(*cpu, weights, a, {});
  auto [o2, e2] = xpb::llm::LlamaEngine::create(*cpu, weights, b, {});
  ASSERT_TRUE(e1 && e2);
  const auto id1 = e1->graph().weights.at("blk.0.attn_q.weight");
  const auto id2 = e2->graph().weights.at("blk.0.attn_q.weight");
  EXPECT_EQ(e1->executable().buffer(id1), e2->executable().buffer(id2));
  EXPECT_EQ(e1->executable().buffer(id1), weights->bindings(e1->graph()).at(id1));
}

TEST(LlmWorkloads, BadParametersAreInputErrors) {
  auto w = xpb::WorkloadRegistry::instance().create("llm.bench");
  auto p = nlohmann::json::object();
  for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
  const auto system = two_pus();
  auto with = [&](const char* k, nlohmann::json v) {
    auto q = p;
    q[k] = std::move(v);
    return q;
  };
  EXPECT_THROW(w->expand(with("model", "gpt-5"), system), xpb::InputError);
  EXPECT_THROW(w->expand(with("model", "/nonexistent/model.gguf"), system), xpb::InputError);
  EXPECT_THROW(w->expand(with("dtype", "q5_k"), system), xpb::InputError);
  EXPECT_THROW(w->expand(with("n_gen", 0), system), xpb::InputError);
  EXPECT_THROW(w->expand(with("roofline", "fast"), system), xpb::InputError);
  EXPECT_THROW(xpb::export_model("tiny", "q5_k", 1, "/tmp/x.gguf"), xpb::InputError);
}

}  // namespace
