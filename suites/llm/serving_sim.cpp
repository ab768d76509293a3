#include "serving_sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>
#include <functional>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>

#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"

namespace xpb::llm {
namespace {

// Turns (seed, stream number) into well-mixed seeds (splitmix64, quant.hpp), so the arrival
// and length streams are unrelated even for seeds 0, 1, 2, ...
std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }

// Uniform in [0, 1) with 53 random bits: the top bits of one 64-bit draw.
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Exponential with the given mean by inversion: -mean * ln(1 - u), u in [0, 1), so the log's
// argument is in (0, 1] and the result finite.
double exponential(std::mt19937_64& rng, double mean) { return -mean * std::log1p(-unit(rng)); }

// Uniform integer in [lo, hi] without modulo bias: draws below 2^64 mod span are redrawn, so
// the accepted range is a whole number of spans.
std::int64_t uniform_int(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  const std::uint64_t reject_below = (0 - span) % span;
  std::uint64_t x = rng();
  while (x < reject_below) x = rng();
  return lo + static_cast<std::int64_t>(x % span);
}

// A length of mean `mean` jittered by `r`: the integers in [mean(1-r), mean(1+r)], which for
// an integer mean are mean -/+ floor(mean r), symmetric about it; at least 1. (vLLM's
// --random-range-ratio documents the range as [X(1-r), X(1+r)]; its versions round the two
// ends differently, some truncating both, which shifts the mean down slightly.)
int jittered(std::mt19937_64& rng, int mean, double r) {
  if (r == 0) return mean;
  const auto half = static_cast<std::int64_t>(std::floor(static_cast<double>(mean) * r));
  const std::int64_t lo = std::max<std::int64_t>(1, mean - half);
  const std::int64_t hi = std::min<std::int64_t>(std::numeric_limits<int>::max(), mean + half);
  return static_cast<int>(uniform_int(rng, lo, hi));
}

void require(bool ok, const std::string& what) {
  if (!ok) throw InputError("serving scenario: " + what);
}

// One request in flight.
struct Seq {
  std::size_t req = 0;   // index into the input vector
  int slot = 0;
  int prefilled = 0;     // prompt tokens fed so far
  int generated = 0;     // output tokens emitted so far
  std::int64_t admitted_ns = 0;
  std::int64_t first_token_ns = 0;
  std::int64_t last_token_ns = 0;
  std::vector<double> itls;
};

// Seconds of an exact difference of two clock readings.
double seconds(std::int64_t ns) { return static_cast<double>(ns) * 1e-9; }

// 2^62 ns: about 146 years of virtual time, with headroom for the steps that follow.
constexpr std::int64_t kMaxClockNs = std::int64_t{1} << 62;

double per_second(double amount, double duration_s) {
  return duration_s > 0 ? amount / duration_s : 0.0;
}

}  // namespace

std::vector<Request> make_requests(const RequestSpec& spec) {
  require(spec.count >= 0, "count must not be negative, got " + std::to_string(spec.count));
  require(!std::isnan(spec.rate_per_s), "rate_per_s is NaN");
  require(spec.input_tokens >= 1,
          "input_tokens must be at least 1, got " + std::to_string(spec.input_tokens));
  require(spec.output_tokens >= 1,
          "output_tokens must be at least 1, got " + std::to_string(spec.output_tokens));
  require(spec.length_jitter >= 0 && spec.length_jitter < 1,
          "length_jitter must be in [0, 1), got " + std::to_string(spec.length_jitter));

  std::mt19937_64 arrivals(mix(spec.arrival_seed ^ 0x61727269766C73ULL));  // "arrivls"
  std::mt19937_64 lengths(mix(spec.length_seed ^ 0x6C656E67746873ULL));    // "lengths"
  const bool all_at_once = !(spec.rate_per_s > 0) || std::isinf(spec.rate_per_s);
  const double mean_gap_ns = all_at_once ? 0.0 : 1e9 / spec.rate_per_s;

  std::vector<Request> out;
  out.reserve(static_cast<std::size_t>(spec.count));
  std::int64_t t = 0;
  for (int i = 0; i < spec.count; ++i) {
    // vLLM's get_request sends a request, then sleeps one gap: the first goes at t = 0.
    if (i > 0 && !all_at_once) {
      const double gap = std::round(exponential(arrivals, mean_gap_ns));
      require(gap < static_cast<double>(kMaxClockNs - t),
              "the arrivals reach past 2^62 ns (146 years) of virtual time: the rate is too low for " +
                  std::to_string(spec.count) + " requests");
      t += static_cast<std::int64_t>(gap);
    }
    Request r;
    r.arrival_ns = t;
    r.input_tokens = jittered(lengths, spec.input_tokens, spec.length_jitter);
    r.output_tokens = jittered(lengths, spec.output_tokens, spec.length_jitter);
    out.push_back(r);
  }
  return out;
}

ServingMetrics simulate(const std::vector<Request>& requests, const SchedulerConfig& config,
                        const Slo& slo, StepEngine& engine, const std::atomic<bool>* cancel) {
  require(config.max_concurrency >= 1,
          "max_concurrency must be at least 1, got " + std::to_string(config.max_concurrency));
  require(config.max_batch_tokens >= 1,
          "max_batch_tokens must be at least 1, got " + std::to_string(config.max_batch_tokens));
  require(config.max_context >= 1,
          "max_context must be at least 1, got " + std::to_string(config.max_context));
  require(!std::isnan(slo.ttft_s) && !std::isnan(slo.tpot_s), "an SLO bound is NaN");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Request& r = requests[i];
    const std::string which = "request " + std::to_string(i) + ": ";
    require(r.arrival_ns >= 0 && r.arrival_ns <= kMaxClockNs, which + "arrival time outside [0, 2^62] ns");
    require(r.input_tokens >= 1, which + "input_tokens must be at least 1");
    require(r.output_tokens >= 1, which + "output_tokens must be at least 1");
  }

  const std::size_t n = requests.size();
  ServingMetrics m;
  m.requests.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.requests[i].arrival_ns = requests[i].arrival_ns;
    m.requests[i].input_tokens = requests[i].input_tokens;
    m.requests[i].output_tokens = requests[i].output_tokens;
  }

  // Order of arrival; ties keep input order.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return requests[a].arrival_ns < requests[b].arrival_ns;
  });

  std::priority_queue<int, std::vector<int>, std::greater<>> free_slots;
  for (int s = 0; s < config.max_concurrency; ++s) free_slots.push(s);

  std::size_t next = 0;             // next in `order` to arrive
  std::deque<std::size_t> waiting;  // arrived, not yet admitted (FIFO)
  std::vector<Seq> running;         // in admission order
  std::vector<SeqWork> work;
  std::vector<std::size_t> members;  // work[j] is for running[members[j]]
  const std::int64_t start = n > 0 ? requests[order.front()].arrival_ns : 0;
  std::int64_t t = start;
  std::int64_t last_step_end = start;
  std::int64_t batch_seqs = 0;
  std::int64_t busy_ns = 0;

  const auto max_ctx = static_cast<std::int64_t>(config.max_context);
  const auto concurrency = static_cast<std::size_t>(config.max_concurrency);
  for (;;) {
    // Arrivals up to now; requests that cannot fit the context are turned away at once.
    while (next < n && requests[order[next]].arrival_ns <= t) {
      const std::size_t i = order[next++];
      const Request& r = requests[i];
      if (std::int64_t{r.input_tokens} + r.output_tokens > max_ctx) {
        m.requests[i].status = RequestStatus::rejected;
        ++m.rejected;
      } else {
        waiting.push_back(i);
      }
    }
    // Admission, FIFO, into the lowest free slots.
    while (!waiting.empty() && running.size() < concurrency) {
      Seq s;
      s.req = waiting.front();
      waiting.pop_front();
      s.slot = free_slots.top();
      free_slots.pop();
      s.admitted_ns = t;
      m.requests[s.req].queue_s = seconds(t - requests[s.req].arrival_ns);
      running.push_back(std::move(s));
    }
    if (running.empty()) {
      if (next == n) break;  // all done (waiting is empty too: every slot is free)
      t = std::max(t, requests[order[next]].arrival_ns);  // idle until the next arrival
      continue;
    }
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      m.interrupted = true;
      break;
    }

    // The batch: decodes first, then prefill chunks from the budget left, admission order.
    work.clear();
    members.clear();
    int budget = config.max_batch_tokens;
    for (std::size_t k = 0; k < running.size() && budget > 0; ++k) {
      const Seq& s = running[k];
      const int input = requests[s.req].input_tokens;
      if (s.prefilled < input) continue;
      work.push_back({s.slot, input + s.generated - 1, 1, true});
      members.push_back(k);
      --budget;
    }
    for (std::size_t k = 0; k < running.size() && budget > 0; ++k) {
      const Seq& s = running[k];
      const int remaining = requests[s.req].input_tokens - s.prefilled;
      if (remaining == 0) continue;
      const int chunk = std::min(remaining, budget);
      work.push_back({s.slot, s.prefilled, chunk});
      members.push_back(k);
      budget -= chunk;
    }

    const double dt = engine.step(work);
    if (!std::isfinite(dt) || dt < 0 || dt * 1e9 > static_cast<double>(kMaxClockNs - t))
      throw std::runtime_error("serving scenario: the engine returned a step duration of " +
                               std::to_string(dt) + " s");
    const auto dt_ns = static_cast<std::int64_t>(std::llround(dt * 1e9));
    t += dt_ns;
    last_step_end = t;
    ++m.steps;
    busy_ns += dt_ns;
    batch_seqs += static_cast<std::int64_t>(work.size());
    m.tokens_fed += config.max_batch_tokens - budget;

    // Tokens emitted at the end of the step; completions release their slots.
    bool any_done = false;
    for (std::size_t j = 0; j < work.size(); ++j) {
      Seq& s = running[members[j]];
      const Request& r = requests[s.req];
      RequestOutcome& o = m.requests[s.req];
      if (s.prefilled < r.input_tokens) {
        s.prefilled += work[j].tokens;
        if (s.prefilled < r.input_tokens) continue;  // more prompt to go
        s.generated = 1;
        s.first_token_ns = t;
        o.ttft_s = seconds(t - s.admitted_ns);
      } else {
        ++s.generated;
        s.itls.push_back(seconds(t - s.last_token_ns));
      }
      s.last_token_ns = t;
      o.generated_tokens = s.generated;
      if (s.generated < r.output_tokens) continue;
      o.status = RequestStatus::completed;
      o.e2e_s = seconds(t - s.admitted_ns);
      if (r.output_tokens > 1) o.tpot_s = seconds(t - s.first_token_ns) / (r.output_tokens - 1);
      m.itls_s.insert(m.itls_s.end(), s.itls.begin(), s.itls.end());
      engine.release(s.slot);
      free_slots.push(s.slot);
      any_done = true;
    }
    if (any_done) {
      std::erase_if(running, [&](const Seq& s) {
        return m.requests[s.req].status == RequestStatus::completed;
      });
    }
  }

  // Summaries over completed requests, in input order.
  std::vector<double> queues, ttfts, tpots, e2es;
  for (RequestOutcome& o : m.requests) {
    if (o.status == RequestStatus::unfinished) ++m.unfinished;
    if (o.status != RequestStatus::completed) continue;
    ++m.completed;
    m.input_tokens += o.input_tokens;
    m.output_tokens += o.output_tokens;
    queues.push_back(o.queue_s);
    ttfts.push_back(o.ttft_s);
    e2es.push_back(o.e2e_s);
    if (o.output_tokens > 1) tpots.push_back(o.tpot_s);
    // A 1-token output meets any TPOT bound: vLLM takes its TPOT as 0 for goodput.
    o.meets_slo = o.ttft_s <= slo.ttft_s && (o.output_tokens == 1 || o.tpot_s <= slo.tpot_s);
    if (o.meets_slo) ++m.good;
  }
  m.queue = summarize(queues);
  m.ttft = summarize(ttfts);
  m.tpot = summarize(tpots);
  m.itl = summarize(m.itls_s);
  m.e2e = summarize(e2es);

  m.duration_s = m.steps > 0 ? seconds(last_step_end - start) : 0.0;
  m.busy_s = seconds(busy_ns);
  m.request_throughput = per_second(m.completed, m.duration_s);
  m.output_throughput = per_second(static_cast<double>(m.output_tokens), m.duration_s);
  m.total_token_throughput =
      per_second(static_cast<double>(m.input_tokens + m.output_tokens), m.duration_s);
  m.goodput = per_second(m.good, m.duration_s);
  m.good_fraction = m.completed > 0 ? static_cast<double>(m.good) / m.completed : 0.0;
  if (m.steps > 0) {
    m.mean_batch_seqs = static_cast<double>(batch_seqs) / static_cast<double>(m.steps);
    m.mean_batch_tokens = static_cast<double>(m.tokens_fed) / static_cast<double>(m.steps);
  }
  return m;
}

}  // namespace xpb::llm
