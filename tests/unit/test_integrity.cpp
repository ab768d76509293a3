// Result integrity: the SHA-256 of the canonical JSON, the parts' digests that name an edit, and
// Ed25519 signing and verification.
#include "xpubench/integrity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace xpb {
namespace {

using json = nlohmann::json;

json document() {
  json doc = {{"schema", "xpubench.result/1"},
              {"run", {{"id", "r1"}, {"status", "complete"}}},
              {"system", {{"hostname", "box"}}},
              {"devices", json::array({{{"id", "cpu"}}})},
              {"benchmarks", json::array()}};
  for (int i = 0; i < 3; ++i)
    doc["benchmarks"].push_back({{"id", "memory.bandwidth/cpu/size=" + std::to_string(i)},
                                 {"status", "passed"},
                                 {"metrics", json::array({{{"name", "bandwidth"}, {"samples", {10.5, 11.25, 10.75}}},
                                                          {{"name", "latency"}, {"samples", {1.5, 1.25}}}})}});
  doc["integrity"] = integrity_of(doc);
  return doc;
}

TEST(Integrity, Sha256IsTheStandardOne) {
  // FIPS 180-2, appendix B.1.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Integrity, TheCanonicalFormIgnoresLayoutKeyOrderAndItsOwnMember) {
  const json doc = document();
  const json reread = json::parse(doc.dump(4));
  EXPECT_EQ(canonical_json(reread), canonical_json(doc));
  json reordered = json::parse(R"({"b": 1, "a": [2.5, 3]})");
  EXPECT_EQ(canonical_json(reordered), R"({"a":[2.5,3],"b":1})");
  EXPECT_EQ(canonical_json(doc).find("integrity"), std::string::npos);
  EXPECT_TRUE(verify_integrity(reread).ok());
}

TEST(Integrity, AnEditedNumberIsDetectedAndItsMetricNamed) {
  json doc = document();
  doc["benchmarks"][1]["metrics"][1]["samples"][0] = 1.51;
  const auto r = verify_integrity(doc);
  EXPECT_FALSE(r.intact);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0], "benchmarks/1 (memory.bandwidth/cpu/size=1): metric 'latency' changed (its samples or statistics)");
}

TEST(Integrity, OtherEditsAreNamedByTheirPart) {
  json status = document();
  status["benchmarks"][2]["status"] = "failed";
  EXPECT_EQ(verify_integrity(status).problems.at(0),
            "benchmarks/2 (memory.bandwidth/cpu/size=2): changed outside its metrics (status, parameters, details, ...)");
  json host = document();
  host["system"]["hostname"] = "other";
  EXPECT_EQ(verify_integrity(host).problems.at(0), "system: changed since the document was written");
  json dropped = document();
  dropped["benchmarks"].erase(0);
  EXPECT_NE(verify_integrity(dropped).problems.at(0).find("benchmarks: 3 when written, 2 now"), std::string::npos);
  json bare = document();
  bare.erase("integrity");
  EXPECT_NE(verify_integrity(bare).problems.at(0).find("carries no sha256"), std::string::npos);
}

TEST(Integrity, ASignatureVerifiesAndAnyChangeOrOtherKeyIsCaught) {
  const auto keys = generate_key_pair();
  const json signed_doc = sign_result(document(), keys.secret_key);
  auto r = verify_integrity(signed_doc, keys.public_key);
  EXPECT_TRUE(r.ok()) << r.problems.at(0);
  EXPECT_TRUE(r.is_signed && r.signature_valid && r.trusted_signer);
  EXPECT_EQ(r.public_key, keys.public_key);

  // An edit with the hashes recomputed by someone without the key: intact, but not signed by it.
  json forged = signed_doc;
  forged["benchmarks"][0]["metrics"][0]["samples"][0] = 99.0;
  const auto signature = forged["integrity"]["signature"];
  forged["integrity"] = integrity_of(forged);
  forged["integrity"]["signature"] = signature;
  r = verify_integrity(forged);
  EXPECT_TRUE(r.intact);
  EXPECT_FALSE(r.signature_valid);
  EXPECT_NE(r.problems.at(0).find("signature: does not verify"), std::string::npos);

  // Signed by another key than the one required.
  const auto other = generate_key_pair();
  r = verify_integrity(sign_result(document(), other.secret_key), keys.public_key);
  EXPECT_FALSE(r.trusted_signer);
  EXPECT_NE(r.problems.at(0).find("not by the key given"), std::string::npos);
  // Not signed at all, when a signer is required.
  EXPECT_NE(verify_integrity(document(), keys.public_key).problems.at(0).find("not signed"), std::string::npos);
}

TEST(Integrity, SigningRefusesAnEditedDocumentOrABadKey) {
  const auto keys = generate_key_pair();
  json edited = document();
  edited["run"]["id"] = "r2";
  try {
    sign_result(edited, keys.secret_key);
    FAIL() << "signed an edited document";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("run: changed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sign_result(document(), keys.public_key), std::invalid_argument);  // 32 bytes, not 64
  EXPECT_THROW(sign_result(document(), "not base64!"), std::invalid_argument);
}

}  // namespace
}  // namespace xpb
