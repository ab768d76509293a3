// The scheduling and metrics core of an LLM serving scenario, in the manner of vLLM's
// benchmark_serving: requests arrive over time, a continuous-batching scheduler with chunked
// prefill feeds them to a step engine, and the per-request latencies (TTFT, TPOT, ITL, E2E)
// and throughputs are summarized. Pure logic: the device is behind StepEngine, and the only
// clock is the virtual one described below, so the module is tested with a fake engine.
//
// Timeline contract of simulate()
// -------------------------------
//  * The simulator keeps a virtual clock t in integer nanoseconds, so every latency is the
//    exact difference of two times however far from the start they lie (a clock in double
//    seconds near 5e9 s would round each to 2^-20 s). It starts at the earliest arrival.
//    Requests arrive at their Request::arrival_ns. Requests are taken in order of arrival;
//    ties keep their order in the input vector.
//  * A request arriving with input_tokens + output_tokens > max_context is rejected at its
//    arrival: it takes no slot, is never run and is counted in ServingMetrics::rejected.
//    (vLLM refuses a prompt whose length plus max_tokens exceeds max_model_len.)
//  * Each step starts when the previous one ends. When nothing is in flight and nothing is
//    waiting, the clock jumps to the next arrival: idle time is not run on the device.
//  * At the start of a step, every request with arrival_ns <= t has arrived. Arrived requests
//    wait in a FIFO queue and are admitted, in that order, into free sequence slots (the
//    lowest free slot number first); at most max_concurrency are in flight at once.
//  * Continuous batching with chunked prefill, decode first (vLLM's default scheduling when
//    chunked prefill is on): a step has a budget of max_batch_tokens tokens. First, every
//    in-flight sequence in its decode phase gets 1 token, in admission order. Then every
//    sequence still prefilling gets the next chunk of its prompt from what is left of the
//    budget, in admission order: min(remaining prompt, remaining budget) tokens. So a long
//    prompt is split across steps. Decodes past the budget (the most recently admitted)
//    would wait for a later step, and so does all prefill when decodes take the whole budget.
//    Since a prompt can only complete with budget left over by the decodes, no more than
//    max_batch_tokens sequences are ever decoding at once: with max_batch_tokens <
//    max_concurrency, admitted requests wait for their first prefill chunk until decodes
//    finish. Every step makes progress, since the budget is at least 1.
//  * Positions: positions 0 .. input_tokens-1 are the prompt; a prefill chunk of n tokens
//    starting at prompt token p is SeqWork{slot, p, n}. The decode step that feeds the k-th
//    generated token (k >= 1) is SeqWork{slot, input_tokens + k - 1, 1}. The last generated
//    token is never fed back, so a completed request feeds input + output - 1 tokens.
//  * The step's duration is what StepEngine::step() returned (device time measured by the
//    engine's caller), rounded to the nanosecond; the clock advances by it. A sequence whose prompt completes in a step
//    emits its first output token at the end of that step; each later decode step emits one
//    more token at its end. The request completes at the end of the step that emits token
//    number output_tokens; its slot is then released (StepEngine::release) and can be given
//    to a waiting request at the start of the next step.
//  * Cancellation: `cancel` is read before every step. Once it is true, simulate() returns
//    with interrupted = true: metrics then cover the requests completed so far, and the
//    others are reported as unfinished. A step in progress is never cut short.
//
// Per-request metrics (as vLLM's calculate_metrics defines them), over completed requests.
// A request is *sent* when it is admitted to a slot: the concurrency cap waits before sending,
// as vLLM's client does with --max-concurrency, and its client starts the clock at the send.
//  * queue = admission (send) - arrival: the wait for one of the max_concurrency slots;
//  * TTFT = time of the first output token - send (the wait for a share of a step's token
//    budget is in it, as a server's queue is in vLLM's);
//  * E2E  = completion - send;
//  * TPOT = (E2E - TTFT) / (output_tokens - 1); undefined for 1-token outputs, which are left
//    out of the TPOT statistics (but meet any TPOT SLO, as in vLLM, which takes 0 for them);
//  * ITL  = each gap between consecutive output tokens of one request (output_tokens - 1 of
//    them); ServingMetrics::itls_s pools them over all completed requests.
// Summaries use xpb::summarize (stats.hpp): percentiles by linear interpolation between
// closest ranks (Hyndman & Fan type 7, numpy.percentile's default), and the sample standard
// deviation (n - 1; vLLM reports numpy.std, which divides by n). An empty set gives n = 0 and
// zeros, as vLLM reports 0 for an empty list.
#pragma once
#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "xpubench/stats.hpp"

namespace xpb::llm {

// One request of the scenario.
struct Request {
  std::int64_t arrival_ns = 0;  // when it arrives, on the virtual clock
  int input_tokens = 1;  // prompt length, >= 1
  int output_tokens = 1;  // tokens to generate, >= 1 (the run ignores end-of-sequence)
};

// A synthetic request stream, like vLLM's random dataset sent at a Poisson rate.
struct RequestSpec {
  int count = 0;  // number of requests, >= 0
  // Poisson arrivals at this rate (req/s): the first request at t = 0, then exponential gaps
  // of mean 1/rate (vLLM's get_request with burstiness 1). Infinity, 0 or a negative value:
  // all requests arrive at t = 0.
  double rate_per_s = std::numeric_limits<double>::infinity();
  int input_tokens = 1;   // mean prompt length, >= 1
  int output_tokens = 1;  // mean output length, >= 1
  // Separate seeds for the two random dimensions, so changing one leaves the other as it was.
  std::uint64_t arrival_seed = 0;
  std::uint64_t length_seed = 0;
  // 0: every request has exactly the mean lengths. r in (0, 1): each length is a uniform
  // integer in [mean * (1 - r), mean * (1 + r)] (the integers inside that real interval,
  // a range symmetric about the mean), and at least 1; vLLM's random dataset range_ratio.
  double length_jitter = 0;
};

// The requests of `spec`, in order of arrival. Deterministic from the seed, and identical
// on every standard library: std::mt19937_64 (whose output the standard fixes) with our own
// transforms, as std:: distributions differ between implementations. Arrival gaps and lengths
// come from separate streams (arrival_seed, length_seed). Arrivals are in whole nanoseconds.
// Throws xpb::InputError for a negative count, a NaN rate, a mean length below 1, a jitter
// outside [0, 1), or arrivals past 2^62 ns (146 years) of virtual time.
std::vector<Request> make_requests(const RequestSpec& spec);

// What one engine step runs for one sequence slot: `tokens` tokens starting at position
// `first_pos` (a prefill chunk, or 1 token to decode). See the timeline contract above.
// `decode` says which: a decode step feeds the token generated last, a prefill chunk feeds
// prompt tokens (a chunk may also start right where the previous one ended).
struct SeqWork {
  int slot = 0;
  int first_pos = 0;
  int tokens = 0;
  bool decode = false;
  bool operator==(const SeqWork&) const = default;
};

// The device side.
class StepEngine {
 public:
  virtual ~StepEngine() = default;
  // Runs one batched forward pass over `work` (never empty; each slot at most once, decodes
  // first) and returns its duration in seconds on the device clock, measured by the engine.
  // simulate() never reads a clock itself. A negative or non-finite duration is an error.
  virtual double step(const std::vector<SeqWork>& work) = 0;
  // The slot's sequence finished; its KV cache may be reused. Called once per completed
  // request, after the step that completed it and before the slot is given out again.
  virtual void release(int slot) = 0;
};

struct SchedulerConfig {
  int max_concurrency = 1;    // sequences in flight at once (slots 0 .. max_concurrency-1), >= 1
  int max_batch_tokens = 1;   // tokens per step, >= 1 (chunked prefill splits longer prompts)
  int max_context = 1;        // input + output must be <= this, else the request is rejected
};

// Service-level objectives for goodput: a completed request is good when its TTFT <= ttft_s
// and its TPOT <= tpot_s (vLLM's goodput rule, bounds inclusive). Infinity = no bound.
struct Slo {
  double ttft_s = std::numeric_limits<double>::infinity();
  double tpot_s = std::numeric_limits<double>::infinity();
};

enum class RequestStatus {
  completed,
  rejected,    // did not fit max_context
  unfinished,  // the run was interrupted before it completed (or before it arrived)
};

// One request's fate, in the order of the input vector. Times are seconds; NaN where the
// request never got that far.
struct RequestOutcome {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  RequestStatus status = RequestStatus::unfinished;
  std::int64_t arrival_ns = 0;
  double queue_s = kNaN;     // admission (send) - arrival (NaN if never admitted)
  double ttft_s = kNaN;      // first token - send (NaN if no token was emitted)
  double tpot_s = kNaN;      // NaN unless completed with output_tokens >= 2
  double e2e_s = kNaN;       // completion - send (NaN unless completed)
  int input_tokens = 0;
  int output_tokens = 0;
  int generated_tokens = 0;  // tokens emitted (output_tokens when completed)
  bool meets_slo = false;    // completed and within both SLO bounds
};

struct ServingMetrics {
  std::vector<RequestOutcome> requests;  // one per input request, in input order
  std::vector<double> itls_s;            // every ITL of every completed request

  // Over completed requests (ITL: over itls_s; TPOT: over requests with output >= 2).
  Stats queue, ttft, tpot, itl, e2e;

  int completed = 0, rejected = 0, unfinished = 0;
  bool interrupted = false;  // cancel was seen before every request was done

  // From the earliest arrival to the end of the last step run (which is the last completion
  // when the run was not interrupted); 0 when no step ran.
  double duration_s = 0;
  double busy_s = 0;  // sum of step durations: the device time within duration_s

  std::int64_t input_tokens = 0;   // prompt tokens of completed requests
  std::int64_t output_tokens = 0;  // output tokens of completed requests
  std::int64_t tokens_fed = 0;     // tokens fed to the engine over all steps

  // Per second of duration_s (0 when duration_s is 0), as vLLM divides by the benchmark
  // duration: completed requests, their output tokens, their input + output tokens.
  double request_throughput = 0;
  double output_throughput = 0;
  double total_token_throughput = 0;

  int good = 0;               // completed requests meeting the SLO
  double goodput = 0;         // good / duration_s (req/s)
  double good_fraction = 0;   // good / completed (0 when none completed)

  std::int64_t steps = 0;
  double mean_batch_seqs = 0;    // sequences per step
  double mean_batch_tokens = 0;  // tokens per step
};

// Runs the scenario against `engine` on the virtual clock (contract at the top). Throws
// xpb::InputError for a config value below 1, a request with a length below 1 or a negative
// arrival, or a NaN SLO; std::runtime_error when the engine returns a negative or non-finite
// duration. Exceptions from the engine pass through.
ServingMetrics simulate(const std::vector<Request>& requests, const SchedulerConfig& config,
                        const Slo& slo, StepEngine& engine,
                        const std::atomic<bool>* cancel = nullptr);

}  // namespace xpb::llm
