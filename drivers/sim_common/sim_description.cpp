#include "sim_description.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>

#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"

namespace xpb::sim {
namespace {

const std::set<std::string> kKinds = {"claim", "measurement", "fact", "assumption", "derived"};

[[noreturn]] void fail(const std::string& file, const YAML::Node& at, const std::string& what) {
  const YAML::Mark m = at.Mark();
  if (m.is_null()) throw InputError(file + ": " + what);
  throw InputError(file, m.line + 1, m.column + 1, what);
}

std::string text(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsScalar()) fail(file, n, what + ": expected a string");
  // It goes into every result document, which is JSON: UTF-8 only.
  if (!valid_utf8(n.Scalar())) fail(file, n, what + ": expected UTF-8 text");
  return n.Scalar();
}

// Keys of a mapping, each once (yaml-cpp keeps the last of two equal keys silently).
void each_key(const YAML::Node& map, const std::string& file, const std::string& what,
              const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f) {
  if (!map.IsMap()) fail(file, map, what + ": expected a mapping");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = text(kv.first, file, "a key of " + what);
    if (!seen.insert(key).second) fail(file, kv.first, "'" + key + "' is given twice in " + what);
    f(key, kv.first, kv.second);
  }
}

Parameter parse_parameter(const ParameterSpec& spec, const YAML::Node& n, const std::string& file,
                          const std::map<std::string, std::string>& sources) {
  Parameter p;
  bool has_value = false;
  each_key(n, file, "parameter '" + spec.name + "'", [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
    if (key == "value") {
      has_value = true;
      if (spec.type == ParameterSpec::Type::text) {
        p.value = text(v, file, "the value of '" + spec.name + "'");
        return;
      }
      if (spec.type == ParameterSpec::Type::names) {
        if (!v.IsSequence()) fail(file, v, "parameter '" + spec.name + "': expected a list of names as its value");
        p.value = nlohmann::json::array();
        for (const auto& item : v) p.value.push_back(text(item, file, "an entry of '" + spec.name + "'"));
        return;
      }
      double x = 0;
      if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x))
        fail(file, v, "parameter '" + spec.name + "': expected a number as its value, got '" + (v.IsScalar() ? v.Scalar() : "a structure") + "'");
      if (x < spec.min || x > spec.max) {
        std::ostringstream os;
        os << "parameter '" << spec.name << "': " << x << " " << spec.unit << " is outside " << spec.min << " .. " << spec.max;
        fail(file, v, os.str());
      }
      p.value = x;
    } else if (key == "unit") {
      p.unit = text(v, file, "the unit of '" + spec.name + "'");
      if (p.unit != spec.unit) fail(file, v, "parameter '" + spec.name + "' is in " + spec.unit + ", not '" + p.unit + "'");
    } else if (key == "kind") {
      p.kind = text(v, file, "the kind of '" + spec.name + "'");
      if (kKinds.count(p.kind) == 0)
        fail(file, v, "parameter '" + spec.name + "': kind '" + p.kind + "' is not one of claim, measurement, fact, assumption, derived");
    } else if (key == "source") {
      p.source = text(v, file, "the source of '" + spec.name + "'");
      if (sources.count(p.source) == 0) fail(file, v, "parameter '" + spec.name + "': source '" + p.source + "' is not listed under sources");
    } else if (key == "note") {
      p.note = text(v, file, "the note of '" + spec.name + "'");
    } else {
      fail(file, k, "parameter '" + spec.name + "': unknown field '" + key + "' (expected value, unit, kind, source, note)");
    }
  });
  if (!has_value) fail(file, n, "parameter '" + spec.name + "' has no value");
  if (p.unit.empty()) fail(file, n, "parameter '" + spec.name + "' has no unit (expected " + spec.unit + ")");
  if (p.kind.empty()) fail(file, n, "parameter '" + spec.name + "' has no kind (claim, measurement, fact, assumption or derived)");
  if (p.source.empty()) fail(file, n, "parameter '" + spec.name + "' has no source");
  return p;
}

}  // namespace

double SimDescription::number(const std::string& n) const { return parameters.at(n).value.get<double>(); }

std::string SimDescription::text(const std::string& n) const { return parameters.at(n).value.get<std::string>(); }

std::vector<std::string> SimDescription::names(const std::string& n) const {
  return parameters.at(n).value.get<std::vector<std::string>>();
}

nlohmann::json SimDescription::to_json() const {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, p] : parameters) {
    params[k] = {{"value", p.value}, {"unit", p.unit}, {"kind", p.kind}, {"source", p.source}};
    if (!p.note.empty()) params[k]["note"] = p.note;
  }
  return {{"file", file}, {"name", name}, {"summary", summary}, {"parameters", params}, {"sources", sources}};
}

SimDescription parse_description(const std::string& text_in, const std::string& file, const std::vector<ParameterSpec>& specs) {
  YAML::Node root;
  try {
    root = YAML::Load(text_in);
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  SimDescription d;
  d.file = file;
  YAML::Node params;
  each_key(root, file, "the description", [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
    if (key == "name") d.name = text(v, file, "name");
    else if (key == "summary") d.summary = text(v, file, "summary");
    else if (key == "sources")
      each_key(v, file, "sources", [&](const std::string& id, const YAML::Node&, const YAML::Node& cite) {
        d.sources[id] = text(cite, file, "source '" + id + "'");
      });
    else if (key == "parameters") params = v;
    else fail(file, k, "unknown key '" + key + "' (expected name, summary, sources, parameters)");
  });
  if (d.name.empty()) fail(file, root, "the description has no name");
  if (!params) fail(file, root, "the description has no parameters");
  std::map<std::string, const ParameterSpec*> by_name;
  for (const auto& s : specs) by_name[s.name] = &s;
  each_key(params, file, "parameters", [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
    auto it = by_name.find(key);
    if (it == by_name.end()) fail(file, k, "unknown parameter '" + key + "'");
    d.parameters[key] = parse_parameter(*it->second, v, file, d.sources);
  });
  std::string missing;
  for (const auto& s : specs)
    if (d.parameters.count(s.name) == 0) missing += (missing.empty() ? "" : ", ") + s.name;
  if (!missing.empty()) fail(file, params, "missing parameters: " + missing);
  return d;
}

SimDescription load_description(const std::string& path, const std::vector<ParameterSpec>& specs) {
  // A FIFO or device node would block the read or never end: only regular files.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(path + ": expected a device description file (YAML), " +
                     (std::filesystem::exists(path, ec) ? "got something that is not a regular file" : "no such file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read the device description");
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw InputError(path + ": cannot read the device description");
  return parse_description(os.str(), path, specs);
}

void apply_options(SimDescription& d, const std::map<std::string, std::string>& options,
                   const std::vector<ParameterSpec>& specs) {
  for (const auto& spec : specs) {
    auto it = options.find(spec.name);
    if (it == options.end() || spec.type != ParameterSpec::Type::number) continue;
    const std::string& text = it->second;
    char* end = nullptr;
    const double x = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(x))
      throw InputError("device option " + spec.name + "=" + text + ": expected a number in " + spec.unit);
    if (x < spec.min || x > spec.max) {
      std::ostringstream os;
      os << "device option " << spec.name << "=" << text << ": outside " << spec.min << " .. " << spec.max << " " << spec.unit;
      throw InputError(os.str());
    }
    Parameter& p = d.parameters.at(spec.name);
    p.note = "set by the device option " + spec.name + "=" + text + " (the description said " + p.value.dump() + ", " +
             p.kind + ", " + p.source + ")";
    p.value = x;
    p.kind = "assumption";
    p.source = "device-option";
    d.sources["device-option"] = "a value given on the command line after the device id (--device ID,NAME=VALUE)";
  }
}

std::vector<std::string> option_names(const std::vector<ParameterSpec>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs)
    if (s.type == ParameterSpec::Type::number) out.push_back(s.name);
  return out;
}

}  // namespace xpb::sim
