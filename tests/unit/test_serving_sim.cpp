// The serving scenario core: request streams (Poisson arrivals, jittered lengths) and the
// continuous-batching scheduler on its virtual clock, against fake engines whose step time
// is a + b * tokens, so every latency can be worked out by hand. The constants are binary
// fractions, so the hand-computed times are exact and compared with ==.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include "serving_sim.hpp"
#include "xpubench/error.hpp"

namespace {

using xpb::llm::make_requests;
using xpb::llm::Request;
using xpb::llm::RequestSpec;
using xpb::llm::RequestStatus;
using xpb::llm::SchedulerConfig;
using xpb::llm::SeqWork;
}  // namespace

namespace xpb::llm {
// Readable failures: {slot, first_pos, tokens, decode or prefill}.
void PrintTo(const SeqWork& w, std::ostream* os) {
  *os << "{slot " << w.slot << ", pos " << w.first_pos << ", " << w.tokens << (w.decode ? " decode}" : " prefill}");
}
}  // namespace xpb::llm

namespace {
using xpb::llm::ServingMetrics;
using xpb::llm::simulate;
using xpb::llm::Slo;
using xpb::llm::StepEngine;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Requests from (arrival in seconds, input tokens, output tokens), arrivals in whole ns.
std::vector<Request> reqs(std::initializer_list<std::tuple<double, int, int>> list) {
  std::vector<Request> out;
  for (const auto& [at, in, outs] : list) out.push_back({static_cast<std::int64_t>(std::llround(at * 1e9)), in, outs});
  return out;
}

// Step time a + b * (tokens in the step); records every step and release. `after_step` runs
// after each step is recorded (with the number of steps so far), before the time is returned.
class FakeEngine : public StepEngine {
 public:
  FakeEngine(double a, double b) : a_(a), b_(b) {}

  double step(const std::vector<SeqWork>& work) override {
    steps.push_back(work);
    int tokens = 0;
    for (const SeqWork& w : work) tokens += w.tokens;
    fed += tokens;
    if (after_step) after_step(steps.size());
    return a_ + b_ * tokens;
  }
  void release(int slot) override {
    releases.push_back(slot);
    release_step.push_back(steps.size());
  }

  std::vector<std::vector<SeqWork>> steps;
  std::vector<int> releases;
  std::vector<std::size_t> release_step;  // steps run when each release came
  std::int64_t fed = 0;
  std::function<void(std::size_t)> after_step;

 private:
  double a_, b_;
};

SchedulerConfig config(int concurrency, int batch_tokens, int context = 1 << 20) {
  SchedulerConfig c;
  c.max_concurrency = concurrency;
  c.max_batch_tokens = batch_tokens;
  c.max_context = context;
  return c;
}

RequestSpec spec(int count, double rate, int in, int out, double jitter, std::uint64_t seed) {
  RequestSpec s;
  s.count = count;
  s.rate_per_s = rate;
  s.input_tokens = in;
  s.output_tokens = out;
  s.length_jitter = jitter;
  s.arrival_seed = seed;
  s.length_seed = seed;
  return s;
}

bool same(const std::vector<Request>& x, const std::vector<Request>& y) {
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].arrival_ns != y[i].arrival_ns || x[i].input_tokens != y[i].input_tokens ||
        x[i].output_tokens != y[i].output_tokens)
      return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Request streams

TEST(ServingRequests, PoissonArrivalsAreDeterministicForASeed) {
  const auto a = make_requests(spec(500, 20.0, 64, 32, 0.5, 42));
  const auto b = make_requests(spec(500, 20.0, 64, 32, 0.5, 42));
  const auto c = make_requests(spec(500, 20.0, 64, 32, 0.5, 43));
  ASSERT_EQ(a.size(), 500u);
  EXPECT_TRUE(same(a, b));
  EXPECT_FALSE(same(a, c));
  EXPECT_EQ(a.front().arrival_ns, 0);  // the first request is sent at once, as in vLLM
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end(), [](const Request& x, const Request& y) {
    return x.arrival_ns < y.arrival_ns;
  }));
}

// The draws are pinned: std::mt19937_64's sequence is fixed by the standard and the
// transforms are our own, so these hold on every standard library. The values were checked
// against a separate Python implementation of the standard's mt19937_64 and of the
// transforms the header describes. A change here changes every published scenario.
TEST(ServingRequests, DrawsArePinned) {
  const auto r = make_requests(spec(4, 10.0, 100, 50, 0.5, 2024));
  const std::vector<int> in = {r[0].input_tokens, r[1].input_tokens, r[2].input_tokens,
                               r[3].input_tokens};
  const std::vector<int> out = {r[0].output_tokens, r[1].output_tokens, r[2].output_tokens,
                                r[3].output_tokens};
  EXPECT_EQ(in, (std::vector<int>{113, 114, 107, 70}));
  EXPECT_EQ(out, (std::vector<int>{37, 57, 75, 66}));
  // Arrivals in whole nanoseconds: 0.2986278730841085 s and 0.412324614276585 s rounded
  // (each gap rounded on its own, so the sum may differ from the rounded sum by one).
  EXPECT_EQ(r[1].arrival_ns, 298627873);
  EXPECT_NEAR(static_cast<double>(r[3].arrival_ns), 412324614.0, 1.0);
}

TEST(ServingRequests, PoissonGapsAreExponentialWithMeanOneOverRate) {
  const double rate = 8.0;
  const auto r = make_requests(spec(20001, rate, 16, 16, 0.0, 7));
  std::vector<double> gaps;
  for (std::size_t i = 1; i < r.size(); ++i) gaps.push_back(static_cast<double>(r[i].arrival_ns - r[i - 1].arrival_ns) * 1e-9);
  ASSERT_EQ(gaps.size(), 20000u);
  double sum = 0, sq = 0;
  for (double g : gaps) {
    EXPECT_GE(g, 0.0);
    sum += g;
  }
  const double mean = sum / 20000.0;
  for (double g : gaps) sq += (g - mean) * (g - mean);
  const double sd = std::sqrt(sq / 19999.0);
  // The mean of 20000 exponential gaps has a relative standard error of 0.7%.
  EXPECT_NEAR(mean, 1.0 / rate, 0.03 / rate);
  // Exponential shape: P(gap > mean) = e^-1 (standard error 0.0034), and sd = mean.
  const auto over = std::count_if(gaps.begin(), gaps.end(), [&](double g) { return g > 1.0 / rate; });
  EXPECT_NEAR(static_cast<double>(over) / 20000.0, std::exp(-1.0), 0.012);
  EXPECT_NEAR(sd / mean, 1.0, 0.05);
}

TEST(ServingRequests, InfiniteZeroOrNegativeRateSendsEverythingAtZero) {
  for (double rate : {kInf, 0.0, -3.0}) {
    const auto r = make_requests(spec(50, rate, 8, 8, 0.0, 1));
    ASSERT_EQ(r.size(), 50u);
    for (const Request& q : r) EXPECT_EQ(q.arrival_ns, 0) << rate;
  }
}

TEST(ServingRequests, ZeroJitterGivesTheMeanLengths) {
  for (const Request& q : make_requests(spec(100, 5.0, 123, 45, 0.0, 3))) {
    EXPECT_EQ(q.input_tokens, 123);
    EXPECT_EQ(q.output_tokens, 45);
  }
}

TEST(ServingRequests, JitterStaysInBoundsWithMeanNearTarget) {
  const auto r = make_requests(spec(20000, 1.0, 100, 40, 0.5, 11));
  double in_sum = 0, out_sum = 0;
  std::set<int> in_seen;
  for (const Request& q : r) {
    ASSERT_GE(q.input_tokens, 50);
    ASSERT_LE(q.input_tokens, 150);
    ASSERT_GE(q.output_tokens, 20);
    ASSERT_LE(q.output_tokens, 60);
    in_sum += q.input_tokens;
    out_sum += q.output_tokens;
    in_seen.insert(q.input_tokens);
  }
  // Uniform over 101 values: standard error of the mean 0.2 tokens.
  EXPECT_NEAR(in_sum / 20000.0, 100.0, 1.0);
  EXPECT_NEAR(out_sum / 20000.0, 40.0, 0.5);
  EXPECT_EQ(in_seen.size(), 101u);  // both ends of the range are reached
}

TEST(ServingRequests, JitteredLengthsAreAtLeastOne) {
  for (const Request& q : make_requests(spec(2000, 1.0, 3, 1, 0.9, 5))) {
    EXPECT_GE(q.input_tokens, 1);  // 3 -/+ floor(2.7) = [1, 5]
    EXPECT_LE(q.input_tokens, 5);
    EXPECT_EQ(q.output_tokens, 1);  // 1 -/+ floor(0.9) = [1, 1]
  }
}

TEST(ServingRequests, JitterDoesNotMoveArrivals) {
  const auto fixed = make_requests(spec(300, 4.0, 64, 64, 0.0, 9));
  const auto jittered = make_requests(spec(300, 4.0, 64, 64, 0.3, 9));
  for (std::size_t i = 0; i < fixed.size(); ++i)
    EXPECT_EQ(fixed[i].arrival_ns, jittered[i].arrival_ns) << i;
}

TEST(ServingRequests, BadSpecsAreInputErrors) {
  EXPECT_THROW(make_requests(spec(-1, 1.0, 8, 8, 0.0, 0)), xpb::InputError);
  EXPECT_THROW(make_requests(spec(5, std::nan(""), 8, 8, 0.0, 0)), xpb::InputError);
  EXPECT_THROW(make_requests(spec(5, 1.0, 0, 8, 0.0, 0)), xpb::InputError);
  EXPECT_THROW(make_requests(spec(5, 1.0, 8, 0, 0.0, 0)), xpb::InputError);
  EXPECT_THROW(make_requests(spec(5, 1.0, 8, 8, 1.0, 0)), xpb::InputError);
  EXPECT_THROW(make_requests(spec(5, 1.0, 8, 8, -0.1, 0)), xpb::InputError);
  EXPECT_TRUE(make_requests(spec(0, 1.0, 8, 8, 0.0, 0)).empty());
  // One request a century: the arrivals would leave the 64-bit nanosecond clock.
  EXPECT_THROW(make_requests(spec(1000, 3e-10, 8, 8, 0.0, 0)), xpb::InputError);
}

TEST(ServingRequests, ArrivalAndLengthSeedsAreSeparate) {
  auto a = spec(50, 10.0, 64, 64, 0.5, 1);
  auto b = a;
  b.length_seed = 2;  // other lengths, the same arrivals
  const auto ra = make_requests(a), rb = make_requests(b);
  bool lengths_differ = false;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i].arrival_ns, rb[i].arrival_ns);
    lengths_differ = lengths_differ || ra[i].input_tokens != rb[i].input_tokens;
  }
  EXPECT_TRUE(lengths_differ);
  auto c = a;
  c.arrival_seed = 2;  // other arrivals, the same lengths
  const auto rc = make_requests(c);
  EXPECT_NE(ra[1].arrival_ns, rc[1].arrival_ns);
  for (std::size_t i = 0; i < ra.size(); ++i) EXPECT_EQ(ra[i].input_tokens, rc[i].input_tokens);
}

// ---------------------------------------------------------------------------------------
// Scheduler and metrics, worked by hand

// One request: arrival 2, 10 prompt tokens, 4 output tokens; step = 1 + tokens/8.
//   step 1: prefill 10 -> 2.25 s, ends 4.25 (first token; TTFT 2.25)
//   steps 2-4: decode 1 -> 1.125 s each, end 5.375, 6.5, 7.625 (completion; E2E 5.625)
//   TPOT = (5.625 - 2.25) / 3 = 1.125; ITLs 1.125 x 3; duration 7.625 - 2 = 5.625.
TEST(ServingSimulate, OneRequestByHand) {
  FakeEngine eng(1.0, 0.125);
  const ServingMetrics m = simulate(reqs({{2.0, 10, 4}}), config(4, 64), Slo{}, eng);

  ASSERT_EQ(eng.steps.size(), 4u);
  EXPECT_EQ(eng.steps[0], (std::vector<SeqWork>{{0, 0, 10}}));
  EXPECT_EQ(eng.steps[1], (std::vector<SeqWork>{{0, 10, 1, true}}));
  EXPECT_EQ(eng.steps[2], (std::vector<SeqWork>{{0, 11, 1, true}}));
  EXPECT_EQ(eng.steps[3], (std::vector<SeqWork>{{0, 12, 1, true}}));
  EXPECT_EQ(eng.releases, (std::vector<int>{0}));

  ASSERT_EQ(m.requests.size(), 1u);
  const auto& o = m.requests[0];
  EXPECT_EQ(o.status, RequestStatus::completed);
  EXPECT_EQ(o.queue_s, 0.0);
  EXPECT_EQ(o.ttft_s, 2.25);
  EXPECT_EQ(o.e2e_s, 5.625);
  EXPECT_EQ(o.tpot_s, 1.125);
  EXPECT_EQ(o.generated_tokens, 4);
  EXPECT_EQ(m.itls_s, (std::vector<double>{1.125, 1.125, 1.125}));

  EXPECT_EQ(m.completed, 1);
  EXPECT_EQ(m.rejected, 0);
  EXPECT_EQ(m.unfinished, 0);
  EXPECT_FALSE(m.interrupted);
  EXPECT_EQ(m.duration_s, 5.625);
  EXPECT_EQ(m.busy_s, 5.625);
  EXPECT_EQ(m.steps, 4);
  EXPECT_EQ(m.tokens_fed, 13);
  EXPECT_EQ(m.input_tokens, 10);
  EXPECT_EQ(m.output_tokens, 4);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0 / 5.625);
  EXPECT_DOUBLE_EQ(m.output_throughput, 4.0 / 5.625);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 14.0 / 5.625);
  EXPECT_EQ(m.ttft.n, 1u);
  EXPECT_EQ(m.ttft.p50, 2.25);
  EXPECT_EQ(m.tpot.mean, 1.125);
  EXPECT_EQ(m.itl.n, 3u);
  EXPECT_EQ(m.e2e.max, 5.625);
  EXPECT_EQ(m.mean_batch_seqs, 1.0);
  EXPECT_EQ(m.mean_batch_tokens, 13.0 / 4.0);
}

// A (arrival 0, in 8, out 3) and B (arrival 1, in 4, out 2); step = 1 + tokens/8.
//   step 1 [0, 2]:      A prefill 8 (B not yet arrived)          -> A token 1 at 2
//   step 2 [2, 3.625]:  A decode at pos 8, then B prefill 4       -> A token 2, B token 1
//   step 3 [3.625, 4.875]: A decode at 9, B decode at 4            -> A token 3, B token 2
// A: TTFT 2, E2E 4.875, TPOT 1.4375, ITLs 1.625 1.25. B: queued 1 (arrived at 1, sent at 2,
// when step 1 ended), TTFT 1.625 and E2E 2.875 from the send, TPOT 1.25.
ServingMetrics two_requests(FakeEngine& eng, const Slo& slo = Slo{}) {
  return simulate(reqs({{0.0, 8, 3}, {1.0, 4, 2}}), config(2, 64), slo, eng);
}

TEST(ServingSimulate, TwoRequestsByHand) {
  FakeEngine eng(1.0, 0.125);
  const ServingMetrics m = two_requests(eng);

  ASSERT_EQ(eng.steps.size(), 3u);
  EXPECT_EQ(eng.steps[0], (std::vector<SeqWork>{{0, 0, 8}}));
  EXPECT_EQ(eng.steps[1], (std::vector<SeqWork>{{0, 8, 1, true}, {1, 0, 4}}));
  EXPECT_EQ(eng.steps[2], (std::vector<SeqWork>{{0, 9, 1, true}, {1, 4, 1, true}}));
  EXPECT_EQ(eng.releases, (std::vector<int>{0, 1}));

  const auto& a = m.requests[0];
  const auto& b = m.requests[1];
  EXPECT_EQ(a.ttft_s, 2.0);
  EXPECT_EQ(a.e2e_s, 4.875);
  EXPECT_EQ(a.tpot_s, 1.4375);
  EXPECT_EQ(b.queue_s, 1.0);  // arrived at 1, during step 1; sent when it ended
  EXPECT_EQ(b.ttft_s, 1.625);
  EXPECT_EQ(b.e2e_s, 2.875);
  EXPECT_EQ(b.tpot_s, 1.25);
  std::vector<double> itls = m.itls_s;
  std::sort(itls.begin(), itls.end());
  EXPECT_EQ(itls, (std::vector<double>{1.25, 1.25, 1.625}));

  EXPECT_EQ(m.duration_s, 4.875);
  EXPECT_EQ(m.steps, 3);
  EXPECT_EQ(m.tokens_fed, 8 + 5 + 2);
  EXPECT_DOUBLE_EQ(m.mean_batch_seqs, 5.0 / 3.0);
  EXPECT_EQ(m.ttft.mean, (2.0 + 1.625) / 2);
  EXPECT_EQ(m.ttft.max, 2.0);
  EXPECT_EQ(m.tpot.p50, (1.4375 + 1.25) / 2);
  EXPECT_EQ(m.e2e.p50, (4.875 + 2.875) / 2);
  EXPECT_EQ(m.queue.max, 1.0);
  EXPECT_DOUBLE_EQ(m.request_throughput, 2.0 / 4.875);
  EXPECT_DOUBLE_EQ(m.output_throughput, 5.0 / 4.875);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 17.0 / 4.875);
}

// TTFTs 1, 2, 3, 4 (four requests sent at 0, a budget of one token per step, 1-token
// requests, 1 s steps): numpy.percentile gives p50 2.5, p90 3.7, p99 3.97 by linear
// interpolation between closest ranks.
TEST(ServingSimulate, PercentilesInterpolateLikeNumpy) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m =
      simulate(reqs({{0, 1, 1}, {0, 1, 1}, {0, 1, 1}, {0, 1, 1}}), config(4, 1), Slo{}, eng);
  EXPECT_EQ(m.ttft.n, 4u);
  EXPECT_DOUBLE_EQ(*m.ttft.p50, 2.5);
  EXPECT_DOUBLE_EQ(*m.ttft.p90, 3.7);
  EXPECT_DOUBLE_EQ(*m.ttft.p99, 3.97);
  EXPECT_DOUBLE_EQ(*m.ttft.mean, 2.5);
  EXPECT_EQ(m.ttft.max, 4.0);
  EXPECT_EQ(m.tpot.n, 0u);  // 1-token outputs have no TPOT
  EXPECT_FALSE(m.tpot.median);  // and no value, never 0
  EXPECT_EQ(m.itl.n, 0u);
}

TEST(ServingSimulate, ChunkedPrefillSplitsALongPrompt) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 100, 2}}), config(1, 32), Slo{}, eng);
  ASSERT_EQ(eng.steps.size(), 5u);
  EXPECT_EQ(eng.steps[0], (std::vector<SeqWork>{{0, 0, 32}}));
  EXPECT_EQ(eng.steps[1], (std::vector<SeqWork>{{0, 32, 32}}));
  EXPECT_EQ(eng.steps[2], (std::vector<SeqWork>{{0, 64, 32}}));
  EXPECT_EQ(eng.steps[3], (std::vector<SeqWork>{{0, 96, 4}}));
  EXPECT_EQ(eng.steps[4], (std::vector<SeqWork>{{0, 100, 1, true}}));
  EXPECT_EQ(m.requests[0].ttft_s, 4.0);  // the first token comes with the last chunk
  EXPECT_EQ(m.requests[0].e2e_s, 5.0);
}

// Concurrency 1: B waits for A's slot; the wait is its queue time, and its TTFT and E2E count
// from its send (as vLLM's client with --max-concurrency measures).
TEST(ServingSimulate, ConcurrencyOneSerializesRequests) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 4, 3}, {0.0, 4, 3}}), config(1, 64), Slo{}, eng);
  ASSERT_EQ(eng.steps.size(), 6u);
  for (const auto& w : eng.steps) EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(eng.steps[3], (std::vector<SeqWork>{{0, 0, 4}}));  // B, in the slot A freed
  EXPECT_EQ(eng.releases, (std::vector<int>{0, 0}));
  EXPECT_EQ(eng.release_step, (std::vector<std::size_t>{3, 6}));
  EXPECT_EQ(m.requests[0].ttft_s, 1.0);
  EXPECT_EQ(m.requests[0].e2e_s, 3.0);
  EXPECT_EQ(m.requests[1].queue_s, 3.0);
  EXPECT_EQ(m.requests[1].ttft_s, 1.0);
  EXPECT_EQ(m.requests[1].e2e_s, 3.0);
  EXPECT_EQ(m.requests[1].tpot_s, 1.0);
  EXPECT_EQ(m.mean_batch_seqs, 1.0);
}

// Budget 8: A (in 4, out 5) decodes while B's 20-token prompt takes what A leaves.
TEST(ServingSimulate, DecodesAreScheduledBeforePrefill) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 4, 5}, {0.0, 20, 2}}), config(2, 8), Slo{}, eng);
  ASSERT_EQ(eng.steps.size(), 5u);
  EXPECT_EQ(eng.steps[0], (std::vector<SeqWork>{{0, 0, 4}, {1, 0, 4}}));
  EXPECT_EQ(eng.steps[1], (std::vector<SeqWork>{{0, 4, 1, true}, {1, 4, 7}}));
  EXPECT_EQ(eng.steps[2], (std::vector<SeqWork>{{0, 5, 1, true}, {1, 11, 7}}));
  EXPECT_EQ(eng.steps[3], (std::vector<SeqWork>{{0, 6, 1, true}, {1, 18, 2}}));
  EXPECT_EQ(eng.steps[4], (std::vector<SeqWork>{{0, 7, 1, true}, {1, 20, 1, true}}));
  EXPECT_EQ(m.requests[0].ttft_s, 1.0);
  EXPECT_EQ(m.requests[0].e2e_s, 5.0);
  EXPECT_EQ(m.requests[1].ttft_s, 4.0);
  EXPECT_EQ(m.requests[1].e2e_s, 5.0);
}

// Budget 1 below concurrency 2: B holds a slot from t = 0 but gets no prefill token while A
// decodes; it starts when A is done.
TEST(ServingSimulate, BudgetBelowConcurrencyMakesPrefillWait) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 1, 3}, {0.0, 1, 2}}), config(2, 1), Slo{}, eng);
  ASSERT_EQ(eng.steps.size(), 5u);
  // A one-token prompt and a decode look alike but for `decode`.
  EXPECT_EQ(eng.steps[0], (std::vector<SeqWork>{{0, 0, 1, false}}));
  EXPECT_EQ(eng.steps[1], (std::vector<SeqWork>{{0, 1, 1, true}}));
  EXPECT_EQ(eng.steps[2], (std::vector<SeqWork>{{0, 2, 1, true}}));
  EXPECT_EQ(eng.steps[3], (std::vector<SeqWork>{{1, 0, 1, false}}));
  EXPECT_EQ(eng.steps[4], (std::vector<SeqWork>{{1, 1, 1, true}}));
  EXPECT_EQ(m.requests[1].queue_s, 0.0);  // it holds a slot; the budget is what it waits for
  EXPECT_EQ(m.requests[1].ttft_s, 4.0);
}

// The clock jumps over idle time: it counts in the duration, not on the device.
TEST(ServingSimulate, IdleTimeIsSkippedNotRun) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 1, 1}, {10.0, 1, 1}}), config(4, 8), Slo{}, eng);
  EXPECT_EQ(m.steps, 2);
  EXPECT_EQ(m.requests[1].ttft_s, 1.0);
  EXPECT_EQ(m.duration_s, 11.0);
  EXPECT_EQ(m.busy_s, 2.0);
  EXPECT_DOUBLE_EQ(m.request_throughput, 2.0 / 11.0);
}

// Requests out of order are run in order of arrival; outcomes stay in input order.
TEST(ServingSimulate, RequestsRunInArrivalOrder) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m =
      simulate(reqs({{5.0, 2, 1}, {0.0, 3, 1}, {0.0, 4, 1}}), config(1, 64), Slo{}, eng);
  ASSERT_EQ(eng.steps.size(), 3u);
  EXPECT_EQ(eng.steps[0][0].tokens, 3);
  EXPECT_EQ(eng.steps[1][0].tokens, 4);
  EXPECT_EQ(eng.steps[2][0].tokens, 2);
  EXPECT_EQ(m.requests[0].e2e_s, 1.0);  // arrives at 5, runs [5, 6]
  EXPECT_EQ(m.requests[1].e2e_s, 1.0);
  EXPECT_EQ(m.requests[2].e2e_s, 1.0);  // waits for [0, 1], then runs [1, 2]
  EXPECT_EQ(m.requests[2].queue_s, 1.0);
  EXPECT_EQ(m.duration_s, 6.0);
}

TEST(ServingSimulate, GoodputCountsExactlyTheRequestsMeetingTheSlo) {
  struct Case {
    Slo slo;
    int good;
    bool a_good, b_good;
  };
  // A: TTFT 2, TPOT 1.4375; B: TTFT 1.625, TPOT 1.25 (see TwoRequestsByHand).
  const Case cases[] = {
      {{kInf, kInf}, 2, true, true},      {{1.8, kInf}, 1, false, true},
      {{kInf, 1.3}, 1, false, true},      {{1.5, kInf}, 0, false, false},
      {{2.0, 1.4375}, 2, true, true},  // bounds are inclusive
      {{1.0, kInf}, 0, false, false},
  };
  for (const Case& c : cases) {
    FakeEngine eng(1.0, 0.125);
    const ServingMetrics m = two_requests(eng, c.slo);
    EXPECT_EQ(m.good, c.good) << c.slo.ttft_s << " " << c.slo.tpot_s;
    EXPECT_EQ(m.requests[0].meets_slo, c.a_good);
    EXPECT_EQ(m.requests[1].meets_slo, c.b_good);
    EXPECT_DOUBLE_EQ(m.goodput, c.good / 4.875);
    EXPECT_DOUBLE_EQ(m.good_fraction, c.good / 2.0);
  }
}

// A 1-token output has no TPOT (left out of the statistics) and meets any TPOT bound.
TEST(ServingSimulate, OneTokenOutputsHaveNoTpotAndMeetTheTpotSlo) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m =
      simulate(reqs({{0.0, 4, 1}, {0.0, 4, 3}}), config(2, 64), Slo{kInf, 1e-9}, eng);
  EXPECT_TRUE(std::isnan(m.requests[0].tpot_s));
  EXPECT_EQ(m.requests[0].e2e_s, m.requests[0].ttft_s);
  EXPECT_EQ(m.tpot.n, 1u);
  EXPECT_EQ(m.itl.n, 2u);
  EXPECT_TRUE(m.requests[0].meets_slo);
  EXPECT_FALSE(m.requests[1].meets_slo);
  EXPECT_EQ(m.good, 1);
}

TEST(ServingSimulate, RequestsOverTheContextAreRejected) {
  FakeEngine eng(1.0, 0.0);
  // Context 10: 8 + 3 does not fit; 5 + 5 and 9 + 1 fit exactly.
  const ServingMetrics m =
      simulate(reqs({{0.0, 8, 3}, {0.0, 5, 5}, {0.0, 9, 1}}), config(1, 64, 10), Slo{}, eng);
  EXPECT_EQ(m.rejected, 1);
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.requests[0].status, RequestStatus::rejected);
  EXPECT_TRUE(std::isnan(m.requests[0].queue_s));
  EXPECT_EQ(m.requests[1].status, RequestStatus::completed);
  EXPECT_EQ(m.requests[2].status, RequestStatus::completed);
  EXPECT_EQ(m.requests[1].ttft_s, 1.0);  // the rejected one never held the slot
  EXPECT_EQ(eng.fed, 5 + 4 + 9);
  EXPECT_EQ(m.input_tokens, 14);  // completed requests only
  EXPECT_EQ(eng.releases.size(), 2u);
}

TEST(ServingSimulate, AllRejectedRunsNothing) {
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 8, 8}, {1.0, 9, 9}}), config(2, 64, 10), Slo{}, eng);
  EXPECT_EQ(m.rejected, 2);
  EXPECT_EQ(m.completed, 0);
  EXPECT_EQ(m.steps, 0);
  EXPECT_TRUE(eng.steps.empty());
  EXPECT_EQ(m.duration_s, 0.0);
  EXPECT_EQ(m.request_throughput, 0.0);
  EXPECT_EQ(m.goodput, 0.0);
  EXPECT_EQ(m.good_fraction, 0.0);
}

// Concurrency 1, A and B (in 1, out 2), 1 s steps. The flag is raised during step 3 (B's
// prefill): the run stops after it, with A complete and B unfinished.
TEST(ServingSimulate, CancelStopsBetweenSteps) {
  std::atomic<bool> cancel{false};
  FakeEngine eng(1.0, 0.0);
  eng.after_step = [&](std::size_t n) {
    if (n == 3) cancel = true;
  };
  const ServingMetrics m =
      simulate(reqs({{0.0, 1, 2}, {0.0, 1, 2}, {0.0, 1, 2}}), config(1, 64), Slo{}, eng, &cancel);
  EXPECT_TRUE(m.interrupted);
  EXPECT_EQ(m.steps, 3);
  EXPECT_EQ(eng.steps.size(), 3u);
  EXPECT_EQ(m.completed, 1);
  EXPECT_EQ(m.unfinished, 2);
  EXPECT_EQ(m.requests[0].status, RequestStatus::completed);
  EXPECT_EQ(m.requests[1].status, RequestStatus::unfinished);
  EXPECT_EQ(m.requests[1].generated_tokens, 1);
  EXPECT_EQ(m.requests[1].ttft_s, 1.0);  // sent at 2, when A finished
  EXPECT_EQ(m.requests[1].queue_s, 2.0);
  EXPECT_TRUE(std::isnan(m.requests[1].e2e_s));
  EXPECT_EQ(m.ttft.n, 1u);  // statistics over completed requests only
  EXPECT_EQ(m.duration_s, 3.0);
  EXPECT_EQ(eng.releases.size(), 1u);
}

TEST(ServingSimulate, CancelBeforeStartRunsNothing) {
  std::atomic<bool> cancel{true};
  FakeEngine eng(1.0, 0.0);
  const ServingMetrics m = simulate(reqs({{0.0, 4, 4}}), config(1, 64), Slo{}, eng, &cancel);
  EXPECT_TRUE(m.interrupted);
  EXPECT_TRUE(eng.steps.empty());
  EXPECT_EQ(m.unfinished, 1);
  EXPECT_EQ(m.duration_s, 0.0);
}

// An engine that checks the contract step by step: slots in range and used once per step,
// each slot's positions contiguous from 0 for each sequence it holds (so a slot starts again
// at 0 only after its release), and the token budget kept.
class CheckingEngine : public StepEngine {
 public:
  explicit CheckingEngine(const SchedulerConfig& c)
      : cfg_(c),
        next_pos_(static_cast<std::size_t>(c.max_concurrency), 0),
        held_(static_cast<std::size_t>(c.max_concurrency), false) {}
  double step(const std::vector<SeqWork>& work) override {
    EXPECT_FALSE(work.empty());
    std::set<int> seen;
    int tokens = 0;
    for (const SeqWork& w : work) {
      EXPECT_GE(w.slot, 0);
      EXPECT_LT(w.slot, cfg_.max_concurrency);
      EXPECT_TRUE(seen.insert(w.slot).second) << "slot twice in one step";
      EXPECT_GE(w.tokens, 1);
      const auto slot = static_cast<std::size_t>(w.slot);
      auto& pos = next_pos_[slot];
      EXPECT_EQ(w.first_pos, pos) << "slot " << w.slot;
      if (w.first_pos == 0) {  // a new sequence: the slot must be free
        EXPECT_FALSE(held_[slot]) << "slot " << w.slot << " reused before its release";
        held_[slot] = true;
      }
      pos = w.first_pos + w.tokens;
      tokens += w.tokens;
    }
    EXPECT_LE(tokens, cfg_.max_batch_tokens);
    fed += tokens;
    ++steps;
    // A cheap step for small batches and a dearer one for large, like a device.
    return 0.002 + 0.0001 * tokens;
  }
  void release(int slot) override {
    ++releases;
    EXPECT_TRUE(held_[static_cast<std::size_t>(slot)]) << "slot " << slot << " released twice";
    held_[static_cast<std::size_t>(slot)] = false;
    next_pos_[static_cast<std::size_t>(slot)] = 0;
  }
  std::int64_t fed = 0;
  std::int64_t steps = 0;
  int releases = 0;

 private:
  SchedulerConfig cfg_;
  std::vector<int> next_pos_;
  std::vector<bool> held_;
};

// A random scenario (Poisson arrivals, jittered lengths, some too long for the context):
// the engine sees exactly input + output - 1 tokens per completed request (the last token is
// not fed back) and one release per completed request.
TEST(ServingSimulate, TokensFedAndReleasesMatchCompletedRequests) {
  const auto reqs = make_requests(spec(300, 60.0, 40, 20, 0.5, 77));
  const SchedulerConfig cfg = config(8, 48, 80);
  CheckingEngine eng(cfg);
  const ServingMetrics m = simulate(reqs, cfg, Slo{0.5, 0.01}, eng);

  std::int64_t expect_fed = 0;
  std::size_t expect_itls = 0;
  int too_long = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& o = m.requests[i];
    if (reqs[i].input_tokens + reqs[i].output_tokens > 80) {
      ++too_long;
      EXPECT_EQ(o.status, RequestStatus::rejected);
      continue;
    }
    ASSERT_EQ(o.status, RequestStatus::completed) << i;
    expect_fed += reqs[i].input_tokens + reqs[i].output_tokens - 1;
    expect_itls += static_cast<std::size_t>(reqs[i].output_tokens - 1);
    EXPECT_GE(o.queue_s, 0.0);
    EXPECT_GT(o.ttft_s, 0.0);
    EXPECT_GE(o.e2e_s, o.ttft_s);
    EXPECT_EQ(o.generated_tokens, reqs[i].output_tokens);
  }
  ASSERT_GT(too_long, 0);  // the scenario does exercise rejection
  EXPECT_EQ(m.rejected, too_long);
  EXPECT_EQ(m.completed + m.rejected, 300);
  EXPECT_EQ(eng.fed, expect_fed);
  EXPECT_EQ(m.tokens_fed, expect_fed);
  EXPECT_EQ(eng.releases, m.completed);
  EXPECT_EQ(m.itls_s.size(), expect_itls);
  EXPECT_EQ(m.steps, eng.steps);
  EXPECT_GT(m.mean_batch_seqs, 1.0);  // batching did happen
  EXPECT_LE(m.mean_batch_seqs, 8.0);
  EXPECT_NEAR(m.mean_batch_tokens * static_cast<double>(m.steps),
              static_cast<double>(m.tokens_fed), 1e-6);
  EXPECT_LE(m.busy_s, m.duration_s + 1e-12);
  int good = 0;
  for (const auto& o : m.requests) good += o.meets_slo ? 1 : 0;
  EXPECT_EQ(m.good, good);
}

// Far from the clock's origin (arrivals near 4e9 s, where a double holds 2^-20 s), latencies
// are still exact: the clock counts nanoseconds in 64 bits.
TEST(ServingSimulate, LatenciesAreExactHoweverLateTheRequestsArrive) {
  FakeEngine eng(0.001234567, 0.0);  // every step 1234567 ns
  const std::int64_t late = 4'000'000'000'000'000'000;  // 4e9 s
  const ServingMetrics m = simulate({Request{late, 4, 3}, Request{late + 7, 4, 3}}, config(2, 64), Slo{}, eng);
  for (const auto& o : m.requests) {
    ASSERT_EQ(o.status, RequestStatus::completed);
    EXPECT_DOUBLE_EQ(o.tpot_s, 0.001234567);
  }
  EXPECT_DOUBLE_EQ(m.requests[0].ttft_s, 0.001234567);
  EXPECT_DOUBLE_EQ(m.requests[1].queue_s, 0.001234560);  // arrived 7 ns after the first step began
  for (double itl : m.itls_s) EXPECT_DOUBLE_EQ(itl, 0.001234567);
}

TEST(ServingSimulate, BadInputsAreErrors) {
  FakeEngine eng(1.0, 0.0);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(0, 8), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(1, 0), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(1, 8, 0), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate(reqs({{0, 0, 1}}), config(1, 8), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate(reqs({{0, 1, 0}}), config(1, 8), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate({Request{-1, 1, 1}}, config(1, 8), Slo{}, eng), xpb::InputError);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(1, 8), Slo{std::nan(""), kInf}, eng),
               xpb::InputError);
  EXPECT_TRUE(eng.steps.empty());

  FakeEngine broken(-1.0, 0.0);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(1, 8), Slo{}, broken), std::runtime_error);
  FakeEngine nan_engine(std::nan(""), 0.0);
  EXPECT_THROW(simulate(reqs({{0, 1, 1}}), config(1, 8), Slo{}, nan_engine), std::runtime_error);
}

}  // namespace
