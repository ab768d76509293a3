"""The pipeline examples in ci/ are valid YAML and every xpubench command in them is one the CLI
accepts: its subcommand exists and each option it passes is one that subcommand (or xpubench
itself) lists in --help. A renamed flag breaks this test, not a user's pipeline."""
import re
import shlex
from pathlib import Path

import yaml

CI = Path(__file__).resolve().parents[2] / "ci"


def commands(text):
    """Each `$XPB ...` command of a file, its continuation lines joined."""
    text = text.replace("\\\n", " ")
    for line in text.splitlines():
        at = line.find("$XPB ")
        if at >= 0:
            yield shlex.split(line[at + len("$XPB "):].split("|")[0])


def test_the_examples_parse_and_name_the_gate():
    files = sorted(CI.glob("*.yml"))
    assert {f.name for f in files} >= {"github-actions.yml", "gitlab-ci.yml"}
    for f in files:
        doc = yaml.safe_load(f.read_text())
        assert isinstance(doc, dict), f
        text = f.read_text()
        assert "--fail-on-regression" in text and "conform" in text and "junit" in text, f
        assert "--format html" in text and "--report html" in text, f  # the report a person opens


def test_every_command_in_the_examples_is_one_the_cli_accepts(cli):
    top = cli("--help").stdout
    seen = 0
    for f in sorted(CI.glob("*.yml")):
        for argv in commands(f.read_text()):
            # Global options (--plugin FILE) come before the subcommand.
            i = 0
            while i < len(argv) and argv[i].startswith("--"):
                assert argv[i] in top, f"{f.name}: {argv[i]} is not an xpubench option"
                i += 2
            sub = argv[i]
            helptext = cli(sub, "--help").stdout
            assert helptext, f"{f.name}: no subcommand {sub}"
            for word in argv[i + 1:]:
                if word.startswith("--"):
                    assert re.search(re.escape(word.split("=")[0]) + r"\b", helptext), \
                        f"{f.name}: `{sub}` has no option {word}"
            seen += 1
    assert seen >= 8
