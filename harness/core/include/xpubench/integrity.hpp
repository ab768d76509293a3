// The integrity of a result document (DESIGN.md §7): a SHA-256 over its canonical JSON, digests
// of its parts to name what changed, and Ed25519 signatures for submissions (libsodium).
//
// The canonical form is the document without its "integrity" member, serialised with keys in
// byte order, no whitespace, numbers as nlohmann::json writes them (the shortest text that reads
// back to the same double) and invalid UTF-8 replaced: what any reader of the file computes
// again from the values alone, however the file was indented. The "integrity" member:
//   {"algorithm": "sha256", "sha256": <hex of the canonical form>,
//    "parts": {"schema", "run", "system", "devices": <digest>,
//              "benchmarks": [{"record": <digest>, "metrics": [<digest>, ...]}, ...]},
//    "signature": {"algorithm": "ed25519", "public_key": <base64>, "value": <base64 of the
//                  signature of the sha256 hex text>}}        (only once signed)
// A part's digest is the first 16 hex digits (64 bits) of the SHA-256 of its canonical form:
// enough to say which record or metric changed; the whole document's own hash is full length.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

// The canonical text of `doc` (without "integrity").
XPB_API std::string canonical_json(const nlohmann::json& doc);

// Lowercase hex SHA-256 of `text`.
XPB_API std::string sha256_hex(const std::string& text);

// The "integrity" member for `doc` as it is now (no signature).
XPB_API nlohmann::json integrity_of(const nlohmann::json& doc);

struct IntegrityReport {
  bool has_integrity = false;  // the document carries an "integrity" member with a sha256
  bool intact = false;         // its sha256 matches the content
  bool is_signed = false;
  bool signature_valid = false;  // the signature verifies over the sha256 with its public key
  bool trusted_signer = true;    // the signer is the key asked for (always, when none was)
  std::string public_key;        // the signer's, base64
  // What is wrong, each naming the place: "benchmarks/3 (memory.bandwidth/cpu/...): metric
  // 'bandwidth' changed", "run: changed", "signature: does not verify".
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Checks `doc` against its own integrity member and, when `trusted_public_key` (base64) is
// given, that it was signed by that key. Never throws for a bad document: everything wrong is
// a problem.
XPB_API IntegrityReport verify_integrity(const nlohmann::json& doc,
                                         const std::optional<std::string>& trusted_public_key = std::nullopt);

// An Ed25519 key pair, base64 (libsodium's original variant).
struct KeyPair {
  std::string public_key, secret_key;
};
XPB_API KeyPair generate_key_pair();

// `doc` with its integrity recomputed and signed by `secret_key` (base64). Refuses (throws
// std::invalid_argument with the problems) a document whose existing sha256 no longer matches
// its content: a vendor signs what xpubench wrote, not what was edited since. Throws
// std::invalid_argument for a key that is not an Ed25519 secret key.
XPB_API nlohmann::json sign_result(nlohmann::json doc, const std::string& secret_key);

}  // namespace xpb
