#include "xpubench/conformance.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "xpubench/quant.hpp"

namespace xpb {
namespace {

// Nine significant digits: enough to tell apart the two values an error message compares.
std::string digits(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::vector<std::byte> read_all(const Executable& exe, const Graph& g, TensorId id) {
  std::vector<std::byte> out(g.tensor(id).bytes());
  exe.read(id, out);
  return out;
}

// The elements of a float tensor as doubles (f64, f32, f16, bf16).
std::vector<double> as_doubles(const std::vector<std::byte>& bytes, DType t) {
  std::vector<double> out;
  if (t == DType::f64) {
    out.resize(bytes.size() / 8);
    std::memcpy(out.data(), bytes.data(), out.size() * 8);
    return out;
  }
  const std::size_t n = bytes.size() / traits(t).block_bytes * traits(t).block_elements;
  std::vector<float> f(n);
  decode_row(t, bytes.data(), f.data(), n);
  out.assign(f.begin(), f.end());
  return out;
}

bool is_float_output(DType t) { return t == DType::f64 || t == DType::f32 || t == DType::f16 || t == DType::bf16; }

}  // namespace

nlohmann::json CaseResult::to_json() const {
  nlohmann::json j = {{"case", name},
                      {"op", xpb::name(op)},
                      {"dtype", xpb::name(dtype)},
                      {"status", xpb::name(outcome.status)},
                      {"max_abs_error", max_abs_error},
                      {"rms_rel_error", rms_rel_error},
                      {"tolerance", tolerance_why}};
  if (!outcome.passed()) j["reason"] = outcome.reason;
  return j;
}

CaseResult run_conformance_case(Device& device, Device& reference, const ConformanceCase& c, const CompileOptions& opts) {
  CaseResult r{c.name, c.op, c.dtype, Outcome::ok(), 0, 0, c.tolerance.why};
  auto dev = device.compile(c.graph, opts);
  if (!dev.outcome.passed()) {
    r.outcome = dev.outcome.status == Status::invalid || dev.outcome.status == Status::failed
                    ? Outcome::with(Status::failed, "the device could not compile the case: " + dev.outcome.reason)
                    : Outcome::with(Status::unsupported, dev.outcome.reason);
    return r;
  }
  if (!dev.exe) {
    r.outcome = Outcome::with(Status::failed, "the device compiled the case but returned no executable");
    return r;
  }
  auto ref = reference.compile(c.graph, CompileOptions{});
  if (!ref.outcome.passed() || !ref.exe) {
    r.outcome = Outcome::with(Status::skipped, "ref could not compile the case: " +
                                                   (ref.exe ? ref.outcome.reason : std::string("no executable")));
    return r;
  }
  const RunArgs args{c.iterations, c.dims, nullptr};
  const auto got_run = dev.exe->run(args);
  if (!got_run.error.empty()) {
    r.outcome = Outcome::with(Status::failed, "the run failed: " + got_run.error);
    return r;
  }
  const auto want_run = ref.exe->run(args);
  if (!want_run.error.empty()) {
    r.outcome = Outcome::with(Status::skipped, "ref's run failed: " + want_run.error);
    return r;
  }
  double err_sq = 0, want_sq = 0;
  for (TensorId id : c.outputs) {
    const TensorDesc& t = c.graph.tensor(id);
    const auto got = read_all(*dev.exe, c.graph, id), want = read_all(*ref.exe, c.graph, id);
    if (!is_float_output(t.dtype)) {
      if (got != want) {
        std::size_t at = 0;
        while (at < got.size() && got[at] == want[at]) ++at;
        r.outcome = Outcome::with(Status::failed, "output '" + t.name + "' differs from ref at byte " + std::to_string(at) +
                                                      " (integers must be equal)");
        return r;
      }
      continue;
    }
    const auto g = as_doubles(got, t.dtype), w = as_doubles(want, t.dtype);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double e = std::fabs(g[i] - w[i]);
      if (!(e <= c.tolerance.abs + c.tolerance.rel * std::fabs(w[i])) && r.outcome.passed())
        r.outcome = Outcome::with(Status::failed, "output '" + t.name + "' element " + std::to_string(i) + ": " +
                                                      digits(g[i]) + " against ref's " + digits(w[i]) +
                                                      " (tolerance: " + c.tolerance.why + ")");
      if (!std::isfinite(e)) r.max_abs_error = INFINITY;
      else r.max_abs_error = std::max(r.max_abs_error, e);
      err_sq += (g[i] - w[i]) * (g[i] - w[i]);
      want_sq += w[i] * w[i];
    }
  }
  // Relative to ref's RMS; against outputs that are all zero, any difference is infinitely large.
  r.rms_rel_error = want_sq > 0 ? std::sqrt(err_sq / want_sq) : err_sq == 0 ? 0.0 : INFINITY;
  if (r.outcome.passed() && c.tolerance.rms_rel > 0 && !(r.rms_rel_error <= c.tolerance.rms_rel))
    r.outcome = Outcome::with(Status::failed, "RMS error " + digits(r.rms_rel_error) + " of ref's RMS exceeds " +
                                                  digits(c.tolerance.rms_rel) + " (" + c.tolerance.why + ")");
  return r;
}

}  // namespace xpb
