"""The result schema checked by an independent implementation (python-jsonschema): the schema
is itself valid JSON Schema 2020-12, the good sample documents pass it, and each bad sample is
rejected where tests/data/results/bad/expected.json says (schema/) or, for the run rules that
only `xpubench validate` checks, passes the schema (rules/)."""
import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "reports" / "result.schema.json"
RESULTS = ROOT / "tests" / "data" / "results"
EXPECTED = json.loads((RESULTS / "bad" / "expected.json").read_text())


def load(path):
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def validator():
    schema = load(SCHEMA_FILE)
    return jsonschema.Draft202012Validator(schema)


def pointer(error):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in error.absolute_path)


def test_schema_is_valid_json_schema_2020_12():
    schema = load(SCHEMA_FILE)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_fits_the_embedding_limits():
    text = SCHEMA_FILE.read_text()
    # harness/CMakeLists.txt embeds the file as R"xpbschema(...)xpbschema".
    assert ")xpbschema\"" not in text
    assert len(text.encode()) < 60 * 1024


@pytest.mark.parametrize("path", sorted((RESULTS / "good").glob("*.json")), ids=lambda p: p.name)
def test_good_documents_are_accepted(validator, path):
    errors = [f"{pointer(e)}: {e.message}" for e in validator.iter_errors(load(path))]
    assert errors == []


SCHEMA_CASES = sorted(k for k in EXPECTED if k.startswith("schema/"))
RULE_CASES = sorted(k for k in EXPECTED if k.startswith("rules/"))


def test_every_bad_sample_is_listed_and_every_listed_one_exists():
    on_disk = {str(p.relative_to(RESULTS / "bad")) for p in (RESULTS / "bad").glob("*/*.json")}
    assert on_disk == set(EXPECTED)
    assert SCHEMA_CASES and RULE_CASES


@pytest.mark.parametrize("name", SCHEMA_CASES)
def test_bad_documents_are_rejected_at_the_expected_place(validator, name):
    errors = list(validator.iter_errors(load(RESULTS / "bad" / name)))
    assert errors, f"{name} was accepted"
    want = EXPECTED[name]["pointer"]
    # python-jsonschema reports a missing key at the object that lacks it; xpubench reports it
    # at the key itself. Either way the place is on the path to the expected pointer.
    places = [pointer(e) for e in errors]
    assert any(want == p or want.startswith(p + "/") for p in places), places


@pytest.mark.parametrize("name", RULE_CASES)
def test_run_rule_violations_are_beyond_the_schema(validator, name):
    """These documents are schema-valid on purpose: only the run rules catch them."""
    errors = [f"{pointer(e)}: {e.message}" for e in validator.iter_errors(load(RESULTS / "bad" / name))]
    assert errors == []
