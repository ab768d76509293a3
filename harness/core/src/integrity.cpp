#include "xpubench/integrity.hpp"

#include <sodium.h>

#include <stdexcept>

namespace xpb {
namespace {

void init_sodium() {
  static const int rc = sodium_init();  // thread-safe, idempotent; -1 only when no entropy source
  if (rc < 0) throw std::runtime_error("libsodium could not be initialised (no source of randomness)");
}

std::string to_base64(const unsigned char* data, std::size_t n) {
  std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

// Decoded bytes, or nothing when the text is not base64 of exactly `n` bytes.
std::optional<std::vector<unsigned char>> from_base64(const std::string& text, std::size_t n) {
  std::vector<unsigned char> out(n + 1);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), " \n\r\t", &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != n || end != text.data() + text.size())
    return std::nullopt;
  out.resize(n);
  return out;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string digest_of_text(const std::string& text) { return sha256_hex(text).substr(0, 16); }

// The canonical text and the parts' digests from one serialisation: the canonical text of an
// object is its members' texts in key order (nlohmann keeps objects sorted, as dump() writes
// them), and each part's digest is over its own text, so nothing is serialised twice.
struct Canonical {
  std::string text;
  nlohmann::json parts = nlohmann::json::object();
};

Canonical canonical_of(const nlohmann::json& doc) {
  Canonical c;
  c.parts["benchmarks"] = nlohmann::json::array();
  if (!doc.is_object()) {
    c.text = dump(doc);
    return c;
  }
  auto records = nlohmann::json::array();
  c.text = "{";
  for (const auto& [key, value] : doc.items()) {
    if (key == "integrity") continue;
    if (c.text.size() > 1) c.text += ',';
    c.text += dump(nlohmann::json(key)) + ':';
    if (key == "benchmarks" && value.is_array()) {
      c.text += '[';
      for (const auto& r : value) {
        const std::string record = dump(r);
        if (c.text.back() != '[') c.text += ',';
        c.text += record;
        auto metrics = nlohmann::json::array();
        if (r.is_object() && r.contains("metrics") && r["metrics"].is_array())
          for (const auto& m : r["metrics"]) metrics.push_back(digest_of_text(dump(m)));
        records.push_back({{"record", digest_of_text(record)}, {"metrics", metrics}});
      }
      c.text += ']';
    } else {
      const std::string text = dump(value);
      c.text += text;
      if (key == "schema" || key == "run" || key == "system" || key == "devices") c.parts[key] = digest_of_text(text);
    }
  }
  c.text += '}';
  c.parts["benchmarks"] = records;
  return c;
}

std::string text_of(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

std::string canonical_json(const nlohmann::json& doc) { return canonical_of(doc).text; }

std::string sha256_hex(const std::string& text) {
  init_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

nlohmann::json integrity_of(const nlohmann::json& doc) {
  auto c = canonical_of(doc);
  return {{"algorithm", "sha256"}, {"sha256", sha256_hex(c.text)}, {"parts", std::move(c.parts)}};
}

IntegrityReport verify_integrity(const nlohmann::json& doc, const std::optional<std::string>& trusted_public_key) {
  IntegrityReport r;
  const nlohmann::json none = nlohmann::json::object();
  const auto& stored = doc.is_object() && doc.contains("integrity") && doc["integrity"].is_object() ? doc["integrity"] : none;
  const std::string sha = text_of(stored, "sha256");
  if (sha.empty()) {
    r.problems.push_back("integrity: the document carries no sha256 (a journal of an unfinished run, or written "
                         "before xpubench recorded one)");
    return r;
  }
  r.has_integrity = true;
  const auto now = integrity_of(doc);
  r.intact = now["sha256"] == sha;
  if (!r.intact) {
    // Name what changed, from the parts' digests.
    const auto& was = stored.contains("parts") && stored["parts"].is_object() ? stored["parts"] : none;
    const auto& is = now["parts"];
    std::size_t named = 0;
    for (const char* key : {"schema", "run", "system", "devices"})
      if (was.contains(key) && is.contains(key) && was[key] != is[key]) {
        r.problems.push_back(std::string(key) + ": changed since the document was written");
        ++named;
      }
    const auto& was_b = was.contains("benchmarks") && was["benchmarks"].is_array() ? was["benchmarks"] : nlohmann::json::array();
    const auto& is_b = is["benchmarks"];
    if (was_b.size() != is_b.size()) {
      r.problems.push_back("benchmarks: " + std::to_string(was_b.size()) + " when written, " +
                           std::to_string(is_b.size()) + " now");
      ++named;
    }
    for (std::size_t i = 0; i < std::min(was_b.size(), is_b.size()); ++i) {
      if (!was_b[i].is_object() || was_b[i].value("record", "") == is_b[i]["record"]) continue;
      const auto& rec = doc["benchmarks"][i];
      const std::string where = "benchmarks/" + std::to_string(i) + " (" + text_of(rec, "id") + ")";
      const auto& was_m = was_b[i].contains("metrics") && was_b[i]["metrics"].is_array() ? was_b[i]["metrics"]
                                                                                         : nlohmann::json::array();
      const auto& is_m = is_b[i]["metrics"];
      bool metric_named = false;
      for (std::size_t j = 0; j < std::min(was_m.size(), is_m.size()); ++j)
        if (was_m[j] != is_m[j]) {
          r.problems.push_back(where + ": metric '" + text_of(rec["metrics"][j], "name") +
                               "' changed (its samples or statistics)");
          metric_named = true;
        }
      if (was_m.size() != is_m.size()) {
        r.problems.push_back(where + ": " + std::to_string(was_m.size()) + " metrics when written, " +
                             std::to_string(is_m.size()) + " now");
        metric_named = true;
      }
      if (!metric_named) r.problems.push_back(where + ": changed outside its metrics (status, parameters, details, ...)");
      ++named;
    }
    if (named == 0) r.problems.push_back("the document's sha256 does not match its content (" + sha + " recorded)");
  }
  if (stored.contains("signature") && stored["signature"].is_object()) {
    r.is_signed = true;
    const auto& sig = stored["signature"];
    r.public_key = text_of(sig, "public_key");
    const auto key = from_base64(r.public_key, crypto_sign_PUBLICKEYBYTES);
    const auto value = from_base64(text_of(sig, "value"), crypto_sign_BYTES);
    init_sodium();
    if (text_of(sig, "algorithm") != "ed25519" || !key || !value) {
      r.problems.push_back("signature: not an Ed25519 signature with a base64 public key and value");
    } else {
      r.signature_valid = crypto_sign_verify_detached(value->data(), reinterpret_cast<const unsigned char*>(sha.data()),
                                                      sha.size(), key->data()) == 0;
      if (!r.signature_valid) r.problems.push_back("signature: does not verify over the recorded sha256 with its public key");
    }
  }
  if (trusted_public_key) {
    if (!r.is_signed) {
      r.trusted_signer = false;
      r.problems.push_back("signature: the document is not signed, and a signer was required");
    } else if (r.public_key != *trusted_public_key) {
      r.trusted_signer = false;
      r.problems.push_back("signature: signed by " + r.public_key + ", not by the key given");
    }
  }
  return r;
}

KeyPair generate_key_pair() {
  init_sodium();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  KeyPair k{to_base64(pk, sizeof pk), to_base64(sk, sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return k;
}

nlohmann::json sign_result(nlohmann::json doc, const std::string& secret_key) {
  if (doc.is_object() && doc.contains("integrity")) {
    const auto check = verify_integrity(doc);
    if (check.has_integrity && !check.intact) {
      std::string list;
      for (const auto& p : check.problems) list += "; " + p;
      throw std::invalid_argument("the document was changed since xpubench wrote it, so it is not signed" + list);
    }
  }
  auto sk = from_base64(secret_key, crypto_sign_SECRETKEYBYTES);
  if (!sk) throw std::invalid_argument("not an Ed25519 secret key (base64 of 64 bytes, as `xpubench keygen` writes)");
  init_sodium();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(pk, sk->data());
  auto integrity = integrity_of(doc);
  const std::string sha = integrity["sha256"];
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(sha.data()), sha.size(), sk->data());
  sodium_memzero(sk->data(), sk->size());
  integrity["signature"] = {{"algorithm", "ed25519"}, {"public_key", to_base64(pk, sizeof pk)},
                            {"value", to_base64(sig, sizeof sig)}};
  doc["integrity"] = integrity;
  return doc;
}

}  // namespace xpb
