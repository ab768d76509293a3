// Renderers of a `xpubench conform` report (conform.hpp): the table a person reads and the JUnit
// XML a CI system reads.
#pragma once
#include <string>

#include "xpubench/conform.hpp"
#include "xpubench/export.hpp"

namespace xpb {

// The ABI checks one per line; the op cases as one line per op x dtype (cases passed / all,
// the worst error, or the first failure with its reason); the workload checks one per line;
// then the verdict.
XPB_API std::string render_conform_table(const ConformReport& report);

// JUnit XML: one <testsuite> per kind (abi, op, workload), one <testcase> per row. A row that
// fails the device is a <failure> with the reason; a refusal of something not claimed and a
// skip are <skipped> with the reason. Every string from the device is escaped.
XPB_API std::string render_conform_junit(const ConformReport& report);

}  // namespace xpb
