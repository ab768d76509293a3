#include "xpubench/result.hpp"

#include <cmath>
#include <ctime>
#include <string>

namespace xpb {
namespace {

// Millisecond precision: records of a quick suite start within the same second, and their
// order should survive a round trip through the document.
std::string iso8601_utc(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds < 0) unix_seconds = 0;
  auto whole = static_cast<std::time_t>(unix_seconds);
  auto millis = static_cast<int>(std::lround((unix_seconds - static_cast<double>(whole)) * 1000.0));
  if (millis == 1000) {
    ++whole;
    millis = 0;
  }
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, millis);
  return out;
}

// Keys and string values go into the id bare, except the three characters that would make
// two different parameter sets render alike.
std::string escape_id_part(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '%': out += "%25"; break;
      case ',': out += "%2C"; break;
      case '=': out += "%3D"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> finite_only(const std::vector<double>& v, std::size_t& dropped) {
  std::vector<double> out;
  out.reserve(v.size());
  dropped = 0;
  for (double x : v) {
    if (std::isfinite(x)) out.push_back(x);
    else ++dropped;
  }
  return out;
}

// nlohmann writes NaN and infinity as null, which would silently turn a broken figure into a
// missing one. Free-form objects get their non-finite numbers replaced by null here on
// purpose, and every place is reported so the record can say it cannot be trusted.
void null_non_finite(nlohmann::json& j, const std::string& where, std::vector<std::string>& found) {
  if (j.is_number_float()) {
    if (!std::isfinite(j.get<double>())) {
      found.push_back(where);
      j = nullptr;
    }
  } else if (j.is_object()) {
    for (auto& [k, v] : j.items()) null_non_finite(v, where + "/" + k, found);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) null_non_finite(j[i], where + "/" + std::to_string(i), found);
  }
}

bool finite_stats(const Stats& s) {
  for (const auto& x : {s.median, s.mean, s.stddev, s.cv, s.min, s.max, s.p50, s.p90, s.p99, s.ci95_lo, s.ci95_hi})
    if (x && !std::isfinite(*x)) return false;
  return true;
}

}  // namespace

std::string_view name(Direction d) {
  switch (d) {
    case Direction::higher_is_better: return "higher_is_better";
    case Direction::lower_is_better: return "lower_is_better";
    case Direction::none: return "none";
  }
  return "none";
}

Metric::Metric(std::string name_, std::string unit_, Direction direction_, Source source_)
    : name(std::move(name_)), unit(std::move(unit_)), direction(direction_), source(source_) {}

Metric Metric::of(std::string name_, std::string unit_, Direction dir, Source source_, std::vector<double> values,
                  std::string note_) {
  Metric m(std::move(name_), std::move(unit_), dir, source_);
  m.samples = std::move(values);
  m.stats = summarize(m.samples);
  m.note = std::move(note_);
  return m;
}

// Every number in the document is finite (see BenchmarkRecord::to_json): non-finite samples are
// left out, the statistics are recomputed from what remains, and the note says so.
nlohmann::json Metric::to_json() const {
  std::size_t dropped = 0;
  const auto kept = finite_only(samples, dropped);
  const Stats s = (dropped > 0 || !finite_stats(stats) || stats.n != samples.size()) ? summarize(kept) : stats;
  std::string why = note;
  if (dropped > 0) {
    if (!why.empty()) why += "; ";
    why += std::to_string(dropped) + " of " + std::to_string(samples.size()) +
           " samples were not finite (NaN or infinity) and were left out";
  }
  nlohmann::json j = {{"name", name},
                      {"unit", unit},
                      {"direction", xpb::name(direction)},
                      {"source", xpb::name(source)},
                      {"samples", kept},
                      {"stats", xpb::to_json(s)}};
  if (!why.empty()) j["note"] = why;
  return j;
}

nlohmann::json BenchmarkRecord::to_json() const {
  std::vector<std::string> broken;
  auto metrics_json = nlohmann::json::array();
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    for (double x : metrics[i].samples)
      if (!std::isfinite(x)) {
        broken.push_back("metric " + metrics[i].name);
        break;
      }
    metrics_json.push_back(metrics[i].to_json());
  }
  auto clean = [&](const nlohmann::json& j, const char* key) {
    auto out = j.is_object() ? j : nlohmann::json::object();
    null_non_finite(out, key, broken);
    return out;
  };
  auto params_json = clean(params, "params");
  auto conformance_json = clean(conformance, "conformance");
  auto timing_json = clean(timing, "timing");
  auto details_json = clean(details, "details");
  auto energy_json = clean(energy, "energy");
  if (energy_json.empty() || !energy_json.contains("available"))
    energy_json = {{"available", false}, {"reason", "no energy figure was taken for this benchmark"}};

  Outcome o = outcome;
  if (!broken.empty()) {
    std::string list;
    for (const auto& b : broken) list += (list.empty() ? "" : ", ") + b;
    const std::string why = "non-finite figures (NaN or infinity) in " + list;
    if (o.status == Status::passed) o = Outcome::with(Status::mistrusted, why);
    else o.reason += (o.reason.empty() ? "" : "; ") + why;
  }
  if (o.status != Status::passed && o.reason.empty()) o.reason = "no reason was given";

  return {{"id", id.empty() ? benchmark_id(workload, device, params) : id},
          {"workload", workload},
          {"device", device},
          {"params", std::move(params_json)},
          {"status", name(o.status)},
          {"reason", o.reason},
          {"valid", valid},
          {"invalid_reason", valid ? nlohmann::json(nullptr) : nlohmann::json(invalid_reason.empty() ? "no reason was given" : invalid_reason)},
          {"conformance", std::move(conformance_json)},
          {"metrics", std::move(metrics_json)},
          {"timing", std::move(timing_json)},
          {"energy", std::move(energy_json)},
          {"details", std::move(details_json)},
          {"started", iso8601_utc(started_unix)},
          {"wall_seconds", std::isfinite(wall_seconds) && wall_seconds > 0 ? wall_seconds : 0.0}};
}

std::string benchmark_id(std::string_view workload, std::string_view device, const nlohmann::json& params) {
  std::string id = std::string(workload) + "/" + std::string(device);
  if (!params.is_object() || params.empty()) return id;
  id += '/';
  bool first = true;
  // nlohmann's default object is a std::map, so items() is already in key order.
  for (const auto& [key, value] : params.items()) {
    if (!first) id += ',';
    first = false;
    id += escape_id_part(key);
    id += '=';
    id += value.is_string() ? escape_id_part(value.get<std::string>())
                            : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return id;
}

nlohmann::json to_json(const EnergyReading& e) {
  bool finite = std::isfinite(e.joules) && std::isfinite(e.seconds);
  for (const auto& [domain, joules] : e.domains) finite = finite && std::isfinite(joules);
  if (!e.available || !finite) {
    nlohmann::json j = {{"available", false}};
    if (!e.source.empty()) j["source"] = e.source;
    j["reason"] = !e.available ? (e.reason.empty() ? "no energy sensor was read" : e.reason)
                               : "the sensor gave a non-finite reading";
    return j;
  }
  auto domains = nlohmann::json::object();
  for (const auto& [domain, joules] : e.domains) domains[domain] = joules;
  return {{"available", true}, {"source", e.source.empty() ? "unknown" : e.source},
          {"joules", e.joules}, {"seconds", e.seconds}, {"domains", domains}};
}

}  // namespace xpb
