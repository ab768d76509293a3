// Reading a result file into the read model fast: simdjson parses the text (GB/s, against
// nlohmann::json's tens of MB/s, which made a 10,000-benchmark report take seconds), and only
// what the views hold is turned into nlohmann values: a record's timing and energy blocks, its
// bulk, are left behind but for the timing's source and the conformance status.
#include <simdjson.h>

#include "xpubench/error.hpp"
#include "xpubench/result_view.hpp"
#include "xpubench/result_writer.hpp"

namespace xpb {
namespace {

nlohmann::json convert(simdjson::dom::element e) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::ARRAY: {
      // The handle is copied out of its result first: value_unsafe() of a temporary result is a
      // reference into it, gone before a range-for would use it.
      const simdjson::dom::array items = e.get_array().value_unsafe();
      auto out = nlohmann::json::array();
      for (auto item : items) out.push_back(convert(item));
      return out;
    }
    case T::OBJECT: {
      const simdjson::dom::object fields = e.get_object().value_unsafe();
      auto out = nlohmann::json::object();
      for (auto field : fields) out[std::string(field.key)] = convert(field.value);
      return out;
    }
    case T::INT64: {
      // nlohmann reads a non-negative integer as unsigned; so must this, for the views' checks.
      const std::int64_t v = e.get_int64().value_unsafe();
      return v >= 0 ? nlohmann::json(static_cast<std::uint64_t>(v)) : nlohmann::json(v);
    }
    case T::UINT64: return e.get_uint64().value_unsafe();
    case T::DOUBLE: return e.get_double().value_unsafe();
    case T::STRING: return std::string(e.get_string().value_unsafe());
    case T::BOOL: return e.get_bool().value_unsafe();
    case T::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

// A record with what the read model uses (read_benchmark_view).
nlohmann::json slim_record(simdjson::dom::object r) {
  auto out = nlohmann::json::object();
  for (auto field : r) {
    const std::string_view key = field.key;
    if (key == "timing" || key == "conformance") {
      if (field.value.is_object()) {
        auto part = nlohmann::json::object();
        const char* keep = key == "timing" ? "source" : "status";
        const simdjson::dom::object block = field.value.get_object().value_unsafe();
        if (auto v = block[keep]; !v.error()) part[keep] = convert(v.value_unsafe());
        out[std::string(key)] = part;
      }
    } else if (key != "energy") {
      out[std::string(key)] = convert(field.value);
    }
  }
  return out;
}

}  // namespace

ResultView load_result_view(const std::filesystem::path& file) {
  simdjson::padded_string text;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  // Anything simdjson does not take as one JSON object with a schema and a list of benchmarks (a
  // journal, a broken file, a number out of range) goes the careful way, which says what is
  // wrong, where.
  auto careful = [&] {
    const auto doc = load_result(file);
    if (!doc.contains("benchmarks") || !doc["benchmarks"].is_array())
      throw InputError(file.string() + ": not an xpubench result (expected 'benchmarks', a list of records)");
    return read_result_view(doc);
  };
  if (simdjson::padded_string::load(file.string()).get(text) || parser.parse(text).get(root) || !root.is_object())
    return careful();
  const auto doc = root.get_object().value_unsafe();
  simdjson::dom::array benchmarks;
  if (doc["schema"].error() || doc["benchmarks"].get_array().get(benchmarks)) return careful();
  auto slim = nlohmann::json::object();
  for (auto field : doc)
    if (field.key != "benchmarks") slim[std::string(field.key)] = convert(field.value);
  auto records = nlohmann::json::array();
  for (auto r : benchmarks) {
    if (!r.is_object()) {
      records.push_back(convert(r));
      continue;
    }
    const simdjson::dom::object record = r.get_object().value_unsafe();
    records.push_back(slim_record(record));
  }
  slim["benchmarks"] = std::move(records);
  return read_result_view(slim);
}

}  // namespace xpb
