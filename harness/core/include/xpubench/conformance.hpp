// Running the catalogue's conformance cases (op_catalogue.hpp) on a device against `ref`:
// the same graph, the same seeded inputs, outputs compared within the case's tolerance. The
// tests of every driver and `xpubench conform` use this.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/export.hpp"
#include "xpubench/op_catalogue.hpp"

namespace xpb {

struct XPB_API CaseResult {
  std::string name;
  Op op;
  DType dtype;
  // passed; failed (with the first element out of tolerance); unsupported (the device refused
  // the graph, with its reason); skipped (ref could not run it).
  Outcome outcome;
  double max_abs_error = 0;  // largest |device - ref| over the compared outputs
  double rms_rel_error = 0;  // RMS(device - ref) / RMS(ref), of the float outputs (infinite when ref's are all 0 and the device's are not)
  std::string tolerance_why;

  XPB_API nlohmann::json to_json() const;
};

// Compiles the case on both devices (with `opts` on the device), runs it c.iterations times on
// each, and compares every output. Never throws for a device's refusal; a run error fails.
XPB_API CaseResult run_conformance_case(Device& device, Device& reference, const ConformanceCase& c,
                                        const CompileOptions& opts = {});

}  // namespace xpb
