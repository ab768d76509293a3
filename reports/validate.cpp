#include "xpubench/validate.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>

#include "xpubench/integrity.hpp"
#include "xpubench/result.hpp"

namespace xpb {
namespace {

static const char* kSchemaText =
#include "result_schema.inc"
    ;

using json = nlohmann::json;

// RFC 6901: '~' and '/' inside a key would otherwise be read as structure.
std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string child(const std::string& where, const std::string& key) { return where + "/" + pointer_token(key); }
std::string child(const std::string& where, std::size_t i) { return where + "/" + std::to_string(i); }

std::string type_of(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "unknown";
  }
}

// JSON Schema counts 1.0 as an integer: integer-ness is a property of the value, not of how
// it was written.
bool has_type(const json& j, const std::string& t) {
  if (t == "null") return j.is_null();
  if (t == "boolean") return j.is_boolean();
  if (t == "object") return j.is_object();
  if (t == "array") return j.is_array();
  if (t == "string") return j.is_string();
  if (t == "number") return j.is_number();
  if (t == "integer") {
    if (j.is_number_integer()) return true;
    if (!j.is_number_float()) return false;
    const double d = j.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

// minLength counts Unicode code points, not bytes.
std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// JSON Schema equality: numbers compare by value whatever their representation, which
// nlohmann's operator== already does, recursively.
bool json_equal(const json& a, const json& b) { return a == b; }

// A value in a few words. Containers by their size only: dump() recurses through them.
std::string brief(const json& j) {
  if (j.is_array()) return "an array of " + std::to_string(j.size()) + " values";
  if (j.is_object()) return "an object of " + std::to_string(j.size()) + " keys";
  auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// The longest string checked against a schema pattern (the patterns are for short fields).
constexpr std::size_t kMaxPatternText = 256;

std::string number_text(double d) { return json(d).dump(); }

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  void check(const json& inst, const json& schema, const std::string& where, std::vector<Problem>& out,
             int depth = 0) {
    if (depth > 256) {
      out.push_back({where, "schema nests too deeply (a $ref cycle?)"});
      return;
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) out.push_back({where, "no value is allowed here"});
      return;
    }
    if (!schema.is_object()) return;

    if (auto it = schema.find("$ref"); it != schema.end()) check(inst, resolve(*it), where, out, depth + 1);

    if (auto it = schema.find("type"); it != schema.end()) {
      bool ok = false;
      std::string wanted;
      if (it->is_string()) {
        ok = has_type(inst, it->get<std::string>());
        wanted = it->get<std::string>();
      } else if (it->is_array()) {
        for (const auto& t : *it) {
          if (!t.is_string()) continue;
          ok = ok || has_type(inst, t.get<std::string>());
          wanted += (wanted.empty() ? "" : " or ") + t.get<std::string>();
        }
      }
      if (!ok) {
        out.push_back({where, "expected " + wanted + ", got " + type_of(inst)});
        return;  // every other keyword would only repeat the same mistake
      }
    }

    if (auto it = schema.find("const"); it != schema.end() && !json_equal(inst, *it))
      out.push_back({where, "expected " + brief(*it) + ", got " + brief(inst)});

    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
      const bool found = std::any_of(it->begin(), it->end(), [&](const json& v) { return json_equal(inst, v); });
      if (!found) {
        std::string list;
        for (const auto& v : *it) list += (list.empty() ? "" : ", ") + brief(v);
        out.push_back({where, brief(inst) + " is not one of: " + list});
      }
    }

    if (inst.is_number()) check_number(inst.get<double>(), schema, where, out);
    if (inst.is_string()) check_string(inst.get_ref<const std::string&>(), schema, where, out);
    if (inst.is_array()) check_array(inst, schema, where, out, depth);
    if (inst.is_object()) check_object(inst, schema, where, out, depth);

    if (auto it = schema.find("anyOf"); it != schema.end() && it->is_array()) {
      std::vector<std::vector<Problem>> branches;
      bool any = false;
      for (const auto& s : *it) {
        branches.emplace_back();
        check(inst, s, where, branches.back(), depth + 1);
        if (branches.back().empty()) {
          any = true;
          break;
        }
      }
      if (!any) report_no_match(branches, where, out);
    }

    if (auto it = schema.find("oneOf"); it != schema.end() && it->is_array()) {
      std::vector<std::vector<Problem>> branches;
      std::vector<std::size_t> matching;
      for (const auto& s : *it) {
        branches.emplace_back();
        check(inst, s, where, branches.back(), depth + 1);
        if (branches.back().empty()) matching.push_back(branches.size() - 1);
      }
      if (matching.empty()) report_no_match(branches, where, out);
      else if (matching.size() > 1)
        out.push_back({where, "matches " + std::to_string(matching.size()) +
                                  " of the alternatives of oneOf; exactly one must match"});
    }
  }

 private:
  const json& resolve(const json& ref) {
    if (!ref.is_string()) throw std::invalid_argument("schema: $ref must be a string");
    const auto& text = ref.get_ref<const std::string&>();
    if (text.rfind("#", 0) != 0)
      throw std::invalid_argument("schema: only local references (#/...) are supported, got " + text);
    try {
      return root_.at(json::json_pointer(text.substr(1)));
    } catch (const json::exception&) {
      throw std::invalid_argument("schema: $ref " + text + " points at nothing");
    }
  }

  void check_number(double v, const json& schema, const std::string& where, std::vector<Problem>& out) {
    if (auto it = schema.find("minimum"); it != schema.end() && it->is_number() && v < it->get<double>())
      out.push_back({where, number_text(v) + " is below the minimum " + it->dump()});
    if (auto it = schema.find("maximum"); it != schema.end() && it->is_number() && v > it->get<double>())
      out.push_back({where, number_text(v) + " is above the maximum " + it->dump()});
  }

  void check_string(const std::string& s, const json& schema, const std::string& where, std::vector<Problem>& out) {
    if (auto it = schema.find("minLength"); it != schema.end() && it->is_number_integer() &&
                                            code_points(s) < it->get<std::size_t>())
      out.push_back({where, "shorter than " + it->dump() + " character(s)"});
    if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
      // JSON Schema patterns are unanchored: a match anywhere in the string counts. The
      // schema's patterns are for short fields (timestamps); libstdc++'s regex recurses per
      // character, so a long string is refused without being matched.
      if (s.size() > kMaxPatternText) {
        out.push_back({where, "a string of " + std::to_string(s.size()) + " bytes where the pattern " +
                                  it->get<std::string>() + " is expected (at most " +
                                  std::to_string(kMaxPatternText) + ")"});
        return;
      }
      if (!std::regex_search(s, regex(it->get_ref<const std::string&>())))
        out.push_back({where, brief(json(s)) + " does not match the pattern " + it->get<std::string>()});
    }
  }

  void check_array(const json& inst, const json& schema, const std::string& where, std::vector<Problem>& out,
                   int depth) {
    if (auto it = schema.find("minItems"); it != schema.end() && it->is_number_integer() &&
                                           inst.size() < it->get<std::size_t>())
      out.push_back({where, "has " + std::to_string(inst.size()) + " item(s), at least " + it->dump() + " expected"});
    if (auto it = schema.find("items"); it != schema.end())
      for (std::size_t i = 0; i < inst.size(); ++i) check(inst[i], *it, child(where, i), out, depth + 1);
  }

  void check_object(const json& inst, const json& schema, const std::string& where, std::vector<Problem>& out,
                    int depth) {
    if (auto it = schema.find("required"); it != schema.end() && it->is_array())
      for (const auto& key : *it)
        if (key.is_string() && !inst.contains(key.get<std::string>()))
          out.push_back({child(where, key.get<std::string>()), "required key is missing"});
    const auto props = schema.find("properties");
    const bool have_props = props != schema.end() && props->is_object();
    const auto extra = schema.find("additionalProperties");
    for (const auto& [key, value] : inst.items()) {
      if (have_props) {
        if (auto p = props->find(key); p != props->end()) {
          check(value, *p, child(where, key), out, depth + 1);
          continue;
        }
      }
      if (extra == schema.end()) continue;
      if (extra->is_boolean() && !extra->get<bool>()) {
        out.push_back({child(where, key), "unexpected key"});
        continue;
      }
      check(value, *extra, child(where, key), out, depth + 1);
    }
  }

  // The alternative that was most likely meant is the one that got furthest: problems only
  // inside the value (a missing key) beat a problem with the value itself (a wrong type),
  // then fewer problems beat more. Its problems say more than "matches none".
  static void report_no_match(const std::vector<std::vector<Problem>>& branches, const std::string& where,
                              std::vector<Problem>& out) {
    out.push_back({where, "matches none of the " + std::to_string(branches.size()) + " allowed forms"});
    if (branches.empty()) return;
    auto rank = [&](const std::vector<Problem>& b) {
      const auto here = std::count_if(b.begin(), b.end(), [&](const Problem& p) { return p.where == where; });
      return std::make_pair(here, b.size());
    };
    const auto best = std::min_element(branches.begin(), branches.end(),
                                       [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    for (const auto& p : *best) out.push_back({p.where, "(closest form) " + p.what});
  }

  const std::regex& regex(const std::string& pattern) {
    auto it = regexes_.find(pattern);
    if (it == regexes_.end()) {
      try {
        it = regexes_.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("schema: invalid pattern " + pattern + ": " + e.what());
      }
    }
    return it->second;
  }

  const json& root_;
  std::map<std::string, std::regex> regexes_;
};

// The statistics a document claims, recomputed from its raw samples. Independent of
// stats.cpp on purpose: a shared bug would otherwise confirm itself.
struct Recomputed {
  double median, mean, min, max, p90, p99;
  std::optional<double> stddev, cv;     // from 2 samples; cv while the mean is not 0
  std::optional<double> ci_lo, ci_hi;   // from 6 samples
};

// Ranks (1-based) of the distribution-free 95% CI of the median: the largest j with
// P(B <= j - 1) <= 0.025 for B ~ Binomial(n, 1/2), summed with lgamma (stats.cpp uses a
// recurrence: the two must agree).
std::pair<std::size_t, std::size_t> ci_ranks(std::size_t n) {
  const double nn = static_cast<double>(n);
  double cdf = 0;
  std::size_t j = 1;
  for (std::size_t k = 0; k <= n / 2; ++k) {
    const double kk = static_cast<double>(k);
    cdf += std::exp(std::lgamma(nn + 1) - std::lgamma(kk + 1) - std::lgamma(nn - kk + 1) + nn * std::log(0.5));
    if (cdf > 0.025) break;
    j = k + 1;
  }
  return {std::max<std::size_t>(j, 1), n - std::max<std::size_t>(j, 1) + 1};
}

double percentile_type7(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
  const auto lo = static_cast<std::size_t>(h);
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Recomputed recompute(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  const std::size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  const double mean = sum / static_cast<double>(n);
  Recomputed r{median, mean, v.front(), v.back(), percentile_type7(v, 0.9), percentile_type7(v, 0.99), {}, {}, {}, {}};
  if (n >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    r.stddev = std::sqrt(ss / static_cast<double>(n - 1));
    if (mean != 0) r.cv = *r.stddev / std::fabs(mean);
  }
  if (n >= 6) {
    const auto [lo, hi] = ci_ranks(n);
    r.ci_lo = v[lo - 1];
    r.ci_hi = v[hi - 1];
  }
  return r;
}

// Relative to the magnitude of the samples, not of the figure: a median near zero between a
// large negative and a large positive sample is only as exact as the samples are large.
bool close(double claimed, double recomputed, double scale) {
  return std::fabs(claimed - recomputed) <= 1e-9 * std::max({std::fabs(claimed), std::fabs(recomputed), scale});
}

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_member(const json& j, const char* key) {
  const json* m = member(j, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string();
}

void check_metric_stats(const json& metric, const std::string& where, std::vector<Problem>& out) {
  const json* samples = member(metric, "samples");
  const json* stats = member(metric, "stats");
  if (samples == nullptr || stats == nullptr || !samples->is_array() || !stats->is_object()) return;
  std::vector<double> values;
  for (const auto& s : *samples) {
    if (!s.is_number()) return;  // the schema reports it
    values.push_back(s.get<double>());
  }
  const std::string at = child(where, "stats");
  if (const json* n = member(*stats, "n"); n != nullptr && n->is_number()) {
    if (n->get<double>() != static_cast<double>(values.size())) {
      out.push_back({child(at, "n"), "n is " + n->dump() + " but the metric has " + std::to_string(values.size()) +
                                         " sample(s)"});
      return;
    }
  }
  // Statistics the samples cannot give must be null, never a number that looks like one.
  auto must_be_null = [&](const char* key, const std::string& why) {
    const json* v = member(*stats, key);
    if (v != nullptr && !v->is_null()) out.push_back({child(at, key), std::string(key) + " must be null: " + why});
  };
  if (values.empty())
    for (const char* key : {"median", "mean", "stddev", "cv", "min", "max", "p50", "p90", "p99", "ci95_lo", "ci95_hi"})
      must_be_null(key, "a metric without samples has no value");
  if (values.size() == 1)
    for (const char* key : {"stddev", "cv"}) must_be_null(key, "one sample has no spread");
  if (values.size() < 6)
    for (const char* key : {"ci95_lo", "ci95_hi"})
      must_be_null(key, "no distribution-free 95% confidence interval of the median exists below 6 samples");
  // And what they can give must be there: a null median over real samples hides a figure.
  auto must_be_number = [&](const char* key) {
    const json* v = member(*stats, key);
    if (v != nullptr && v->is_null())
      out.push_back({child(at, key), std::string(key) + " is null but the metric has " + std::to_string(values.size()) +
                                         " sample(s)"});
  };
  if (!values.empty())
    for (const char* key : {"median", "mean", "min", "max", "p50", "p90", "p99"}) must_be_number(key);
  if (values.size() >= 2) must_be_number("stddev");
  if (values.size() >= 6)
    for (const char* key : {"ci95_lo", "ci95_hi"}) must_be_number(key);
  if (values.empty()) return;
  const auto r = recompute(values);
  const double scale = std::max(std::fabs(r.min), std::fabs(r.max));
  const std::pair<const char*, double> claims[] = {{"median", r.median}, {"p50", r.median}, {"mean", r.mean},
                                                   {"min", r.min},       {"max", r.max},     {"p90", r.p90},
                                                   {"p99", r.p99}};
  auto compare = [&](const char* key, double want, double within) {
    const json* got = member(*stats, key);
    if (got == nullptr || !got->is_number()) return;
    if (!close(got->get<double>(), want, within))
      out.push_back({child(at, key), std::string(key) + " " + got->dump() + " does not match " + number_text(want) +
                                         " recomputed from the " + std::to_string(values.size()) +
                                         " samples (figures edited after the run?)"});
  };
  for (const auto& [key, want] : claims) compare(key, want, scale);
  if (r.stddev) compare("stddev", *r.stddev, scale);
  if (r.cv) compare("cv", *r.cv, 0);  // a ratio: relative to itself
  if (r.ci_lo) compare("ci95_lo", *r.ci_lo, scale);
  if (r.ci_hi) compare("ci95_hi", *r.ci_hi, scale);
}

void check_run_rules(const json& doc, std::vector<Problem>& out) {
  if (const json* run = member(doc, "run"); run != nullptr) {
    const std::string status = string_member(*run, "status");
    const json* finished = member(*run, "finished");
    if (finished != nullptr && !status.empty()) {
      if (status == "incomplete" && !finished->is_null())
        out.push_back({"/run/finished", "an incomplete run has no finish time"});
      if (status != "incomplete" && finished->is_null())
        out.push_back({"/run/finished", "a " + status + " run must say when it finished"});
    }
  }

  std::vector<std::string> device_ids;
  if (const json* devices = member(doc, "devices"); devices != nullptr && devices->is_array())
    for (const auto& d : *devices)
      if (auto id = string_member(d, "id"); !id.empty()) device_ids.push_back(id);

  const json* benchmarks = member(doc, "benchmarks");
  if (benchmarks == nullptr || !benchmarks->is_array()) return;
  const json* run = member(doc, "run");
  const bool complete = run != nullptr && string_member(*run, "status") == "complete";
  std::map<std::string, std::size_t> first_seen;
  for (std::size_t i = 0; i < benchmarks->size(); ++i) {
    const json& b = (*benchmarks)[i];
    const std::string at = child("/benchmarks", i);
    if (!b.is_object()) continue;

    if (const json* id = member(b, "id"); id != nullptr && id->is_string()) {
      auto [it, fresh] = first_seen.emplace(id->get<std::string>(), i);
      if (!fresh)
        out.push_back({child(at, "id"), "duplicate id " + id->get<std::string>() + " (first at /benchmarks/" +
                                            std::to_string(it->second) + ")"});
    }

    if (const json* device = member(b, "device"); device != nullptr && device->is_string()) {
      const auto& d = device->get_ref<const std::string&>();
      if (std::find(device_ids.begin(), device_ids.end(), d) == device_ids.end())
        out.push_back({child(at, "device"), "device " + d + " is not listed in /devices"});
    }

    const json* status = member(b, "status");
    const json* reason = member(b, "reason");
    if (complete && status != nullptr && *status == "interrupted")
      out.push_back({child(at, "status"), "an interrupted benchmark in a run whose status is complete"});
    if (status != nullptr && status->is_string() && reason != nullptr && reason->is_string()) {
      const bool passed = *status == "passed";
      if (passed && !reason->get_ref<const std::string&>().empty())
        out.push_back({child(at, "reason"), "a passed benchmark has no reason; got " + brief(*reason)});
      if (!passed && reason->get_ref<const std::string&>().empty())
        out.push_back({child(at, "reason"), "a " + status->get<std::string>() + " benchmark must say why"});
    }

    if (const json* valid = member(b, "valid"); valid != nullptr && valid->is_boolean()) {
      const json* why = member(b, "invalid_reason");
      if (!valid->get<bool>() && (why == nullptr || !why->is_string() || why->get_ref<const std::string&>().empty()))
        out.push_back({child(at, "invalid_reason"), "a record that is not valid must say why"});
      if (valid->get<bool>() && why != nullptr && !why->is_null())
        out.push_back({child(at, "invalid_reason"), "a valid record has no invalid_reason"});
    }

    const json* timing = member(b, "timing");
    const bool simulated_clock = timing != nullptr && string_member(*timing, "source") == "simulated";
    const json* metrics = member(b, "metrics");
    if (metrics == nullptr || !metrics->is_array()) continue;
    for (std::size_t k = 0; k < metrics->size(); ++k) {
      const json& m = (*metrics)[k];
      const std::string mat = child(child(at, "metrics"), k);
      if (simulated_clock && string_member(m, "source") == "measured")
        out.push_back({child(mat, "source"), "a figure timed on a simulated clock cannot be \"measured\""});
      check_metric_stats(m, mat, out);
    }
  }
}

}  // namespace

const nlohmann::json& result_schema() {
  // Parsed once, on first use; a schema that does not parse is a build defect, not a user error.
  static const json schema = [] {
    try {
      return json::parse(kSchemaText);
    } catch (const json::parse_error& e) {
      throw std::logic_error(std::string("the embedded result schema is not valid JSON: ") + e.what());
    }
  }();
  return schema;
}

std::vector<Problem> validate_against_schema(const nlohmann::json& instance, const nlohmann::json& schema) {
  std::vector<Problem> out;
  Validator(schema).check(instance, schema, "", out);
  return out;
}

std::vector<Problem> validate_result(const nlohmann::json& doc) {
  auto problems = validate_against_schema(doc, result_schema());
  if (doc.is_object()) check_run_rules(doc, problems);
  // A document that carries its SHA-256 must still match it (a journal carries none).
  if (doc.is_object() && doc.contains("integrity") && doc["integrity"].is_object())
    for (const auto& p : verify_integrity(doc).problems) problems.push_back({"/integrity", p});
  return problems;
}

}  // namespace xpb
