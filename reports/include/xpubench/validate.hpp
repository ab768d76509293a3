// Checks a result document against the JSON Schema of `xpubench.result/1` (embedded in the
// library from reports/result.schema.json) and against the run rules the schema cannot say:
// statistics must agree with the raw samples they summarise, ids must be unique, a simulated
// clock may not produce "measured" metrics, a statistic the samples cannot give must be null,
// a record that is not valid must say why.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

struct Problem {
  std::string where;  // JSON pointer into the document, e.g. /benchmarks/3/metrics/0/stats
  std::string what;
};

// The embedded schema document.
XPB_API const nlohmann::json& result_schema();

// Validates `instance` against `schema` (the subset of JSON Schema 2020-12 that our schema
// uses: type, enum, const, required, properties, additionalProperties, items, minItems,
// minimum, maximum, minLength, pattern, $ref to #/$defs, oneOf, anyOf; other keywords are
// ignored as annotations). Problems point at the offending value; a missing required key is
// reported at the key's own pointer. Throws std::invalid_argument for a broken schema (an
// unresolvable $ref, an invalid pattern), never for a bad instance.
XPB_API std::vector<Problem> validate_against_schema(const nlohmann::json& instance,
                                             const nlohmann::json& schema);

// Schema plus run rules.
XPB_API std::vector<Problem> validate_result(const nlohmann::json& doc);

}  // namespace xpb
