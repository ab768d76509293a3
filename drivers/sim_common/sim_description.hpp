// The description of a simulated device (DESIGN.md §4): every parameter of its timing, energy
// and numeric model with its value, unit, the kind of fact it is and where it comes from, read
// from a YAML file in the driver's folder (embedded at build time) or a user's own
// (`--device hc1-sim,description=FILE`). A simulated figure is traceable to these.
//
// The file:
//   name: Taalas HC1 (simulated)              what the device is called in results
//   summary: one paragraph                    what is modelled, in words
//   sources:                                  id -> citation (title, publisher, date, URL)
//     taalas-2026: "..."
//   parameters:
//     decode_tokens_per_s:
//       value: 17000                          a number; a string or a list of them where the spec says
//       unit: tokens/s                        must equal the unit the driver expects
//       kind: claim                           claim | measurement | fact | assumption | derived
//       source: taalas-2026                   an id of `sources`
//       note: "..."                           optional: why this value, what it stands for
// Every parameter the driver declares must be there, and nothing else: a misspelt name is an
// error, never a silently kept default. Errors are InputError "FILE:LINE:COLUMN: what".
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xpb::sim {

// What the driver expects of one parameter.
struct ParameterSpec {
  enum class Type { number, text, names };  // names: a list of strings
  std::string name;
  std::string unit;
  double min = 0, max = 0;  // the accepted range of a number (inclusive)
  Type type = Type::number;
};

struct Parameter {
  nlohmann::json value;  // a number, a string, or an array of strings
  std::string unit, kind, source, note;
};

struct SimDescription {
  std::string file;  // the path it was read from, or "built in: <driver>/<file>"
  std::string name, summary;
  std::map<std::string, std::string> sources;
  std::map<std::string, Parameter> parameters;

  // The value of a parameter the driver declared (std::out_of_range for one it did not: a
  // programming error).
  double number(const std::string& name) const;
  std::string text(const std::string& name) const;
  std::vector<std::string> names(const std::string& name) const;
  // The whole description for the result document: file, name, summary, every parameter with
  // its unit, kind, source id and note, and the sources.
  nlohmann::json to_json() const;
};

// Parses `text` (the contents of `file`, named in errors) against `specs`. Throws InputError.
SimDescription parse_description(const std::string& text, const std::string& file, const std::vector<ParameterSpec>& specs);
// Reads and parses a file. Throws InputError when it cannot be read or is wrong.
SimDescription load_description(const std::string& path, const std::vector<ParameterSpec>& specs);

// Sets number parameters from device options (`--device photonic-sim,dac_bits=6`), each checked
// against its spec like a file's value; the parameter becomes an `assumption` whose source is
// the option ("device-option"). Options that name no number parameter are left to the driver
// (mode, description). Throws InputError naming the option.
void apply_options(SimDescription& d, const std::map<std::string, std::string>& options,
                   const std::vector<ParameterSpec>& specs);
// The option names apply_options takes: every number parameter of `specs`.
std::vector<std::string> option_names(const std::vector<ParameterSpec>& specs);

}  // namespace xpb::sim
