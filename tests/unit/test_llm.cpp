// The llm workloads: number formats, the decoder's graph, the cpu kernels against ref through
// whole models, GGUF export and import of a model, and the workloads end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "suites/llm/conformance.hpp"
#include "suites/llm/llama_engine.hpp"
#include "suites/llm/llm_common.hpp"
#include "xpubench/error.hpp"
#include "gguf.hpp"
#include "xpubench/model_export.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace {

using xpb::DType;

std::unique_ptr<xpb::Device> open_device(const std::string& driver) {
  auto d = xpb::DriverRegistry::instance().create(driver);
  return d->open(d->enumerate().at(0));
}

xpb::SystemInfo two_pus() {
  xpb::SystemInfo s;
  s.topology.pus = 2;
  s.topology.cores = 2;
  return s;
}

xpb::llm::ModelChoice preset_model(const std::string& name, DType t) {
  return xpb::llm::resolve_model({{"model", name}, {"dtype", std::string(xpb::name(t))}, {"seed", 1}});
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
  for (const char* model : {"tiny", "tiny-tied"}) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0}) {
      xpb::RunContext ctx{*cpu, system, xpb::RunPolicy{}, nullptr, nullptr, ref.get()};
      const auto c = xpb::llm::check_against_ref(ctx, preset_model(model, t), 2, 8, 32);
      EXPECT_EQ(c["status"], "passed") << model << " " << xpb::name(t) << ": " << c.dump();
      EXPECT_EQ(c["steps"], 33);
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
  auto [o1, chunked] = xpb::llm::LlamaEngine::create(*cpu, m.config, m.source, shape, {});
  auto [o2, single] = xpb::llm::LlamaEngine::create(*cpu, m.config, m.source, shape, {});
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
    auto [o, e] = xpb::llm::LlamaEngine::create(*cpu, m.config, m.source, shape, {});
    ASSERT_TRUE(e) << o.reason;
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
  auto [o1, a] = xpb::llm::LlamaEngine::create(*cpu, from_file.config, from_file.source, shape, {});
  auto [o2, b] = xpb::llm::LlamaEngine::create(*cpu, preset.config, preset.source, shape, {});
  ASSERT_TRUE(a && b);
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
    EXPECT_NE(std::string(e.what()).find("only 'llama'"), std::string::npos) << e.what();
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
  auto rows = g.add_tensor({"rows", {1}, DType::i32, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  xpb::TensorDesc xd{"x", {4, 64}, DType::f32, xpb::TensorRole::input, xpb::TensorInit::random(3, 1.0)};
  xd.live_rows = rows;
  auto x = g.add_tensor(xd);
  auto w = g.add_tensor({"w", {8, 64}, DType::q8_0, xpb::TensorRole::weight, xpb::TensorInit::random(4, 0.5)});
  xpb::TensorDesc yd{"y", {4, 8}, DType::f32, xpb::TensorRole::output, {}};
  yd.live_rows = rows;
  auto y = g.add_tensor(yd);
  g.add_node(xpb::Op::matmul, {x, w}, {y});
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  auto c = cpu->compile(g, {}).exe;
  auto r = ref->compile(g, {}).exe;
  ASSERT_TRUE(c && r);
  for (auto* e : {c.get(), r.get()}) {
    e->run(1);  // one live row
    const std::int32_t four = 4;
    e->write(rows, {reinterpret_cast<const std::byte*>(&four), 4});
    e->run(1);  // four, x unchanged
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

TEST(LlmWorkloads, BenchAndServingRunEndToEnd) {
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  const auto system = two_pus();
  xpb::RunPolicy policy;
  policy.warmup_seconds = 0;
  policy.min_seconds = 0;
  policy.min_samples = 2;
  policy.max_samples = 2;
  policy.min_sample_seconds = 0;
  for (const char* test : {"pp", "tg", "pg"}) {
    auto w = xpb::WorkloadRegistry::instance().create("llm.bench");
    auto p = nlohmann::json::object();
    for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
    p.update({{"model", "tiny"}, {"test", test}, {"n_prompt", 12}, {"n_gen", 6}, {"depth", 5}, {"ubatch", 5},
              {"sequences", 2}, {"roofline", 10.0}, {"threads", 2}});
    const auto points = w->expand(p, system);
    ASSERT_EQ(points.size(), 1u);
    xpb::RunContext ctx{*cpu, system, policy, nullptr, nullptr, ref.get()};
    const auto r = w->run(points[0], ctx);
    EXPECT_EQ(r.outcome.status, xpb::Status::passed) << test << ": " << r.outcome.reason;
    EXPECT_EQ(r.conformance["status"], "passed") << r.conformance.dump();
    ASSERT_FALSE(r.metrics.empty());
    EXPECT_EQ(r.metrics[0].name, "tokens_per_second");
    EXPECT_EQ(r.metrics[0].samples.size(), 2u);
    EXPECT_GT(r.metrics[0].stats.median, 0);
    if (std::string(test) == "tg") {
      EXPECT_EQ(r.metrics.back().name, "roofline_fraction");
    }
  }
  auto s = xpb::WorkloadRegistry::instance().create("llm.serving");
  auto p = nlohmann::json::object();
  for (const auto& spec : s->params()) p[spec.name] = spec.default_value;
  p.update({{"model", "tiny"}, {"requests", 6}, {"rate", 50.0}, {"input_tokens", 20}, {"output_tokens", 5},
            {"concurrency", 3}, {"max_batch_tokens", 16}, {"threads", 2}});
  xpb::RunContext ctx{*cpu, system, policy, nullptr, nullptr, ref.get()};
  const auto r = s->run(s->expand(p, system)[0], ctx);
  EXPECT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  EXPECT_EQ(r.details["scenario"]["completed"], 6);
  EXPECT_EQ(r.metrics[0].name, "ttft");
  EXPECT_EQ(r.metrics[0].samples.size(), 6u);
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
