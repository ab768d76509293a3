"""`python -m xpubench ...` (and the `xpubench` script pip installs): the xpubench command
line itself, the binary that ships inside the package, with the same arguments, output and
exit status."""
import os
import sys
from pathlib import Path


def cli_path() -> Path:
    """The xpubench binary of this package: xpubench/bin/xpubench (a wheel's, or a link to the
    build's in build/python)."""
    return Path(__file__).absolute().parent / "bin" / "xpubench"


def main() -> None:
    exe = cli_path()
    if not exe.exists():
        sys.exit(f"xpubench: the command-line binary is missing from the package ({exe})")
    os.execv(str(exe), [str(exe), *sys.argv[1:]])


if __name__ == "__main__":
    main()
