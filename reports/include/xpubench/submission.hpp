// The run rules of a submission (docs/SUBMITTING.md): what `xpubench validate --submission`
// checks beyond validate_result's schema, statistics and integrity, so that figures from two
// vendors mean the same thing. A submission is the standard suite as shipped, complete, not
// --quick, with no --set (so every seed and size is the suite's), every benchmark valid and
// none failed, on a fully described machine, signed; as a directory, with the machine's own
// description, the run's log and the public key beside it.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/validate.hpp"

namespace xpb {

struct SubmissionRules {
  // File name -> SHA-256 of the text of the standard suite and every suite it includes, as
  // this xpubench ships them (the run must have read exactly these).
  std::map<std::string, std::string> shipped_suites;
};

// The rules with the shipped suites found on the suite search path (the installed suites or the
// source tree's). Throws InputError when the standard suite cannot be found.
XPB_API SubmissionRules shipped_submission_rules();

// Every rule a result breaks, each with its place; empty for a valid submission.
XPB_API std::vector<Problem> check_submission(const nlohmann::json& doc, const SubmissionRules& rules);

// A submission directory: result.json (signed), system.json (`xpubench info --json` on the
// same machine), logs/ (the run's output, not empty) and exactly one *.pub, the key that
// signed result.json. Problems name the file.
XPB_API std::vector<Problem> check_submission_dir(const std::filesystem::path& dir, const SubmissionRules& rules);

}  // namespace xpb
