#!/usr/bin/env bash
# Install LNbits, the wallet server the Lightning tests run against, into its own virtual environment
# (.venv-lnbits): LNbits pins pydantic 1, fastapi and lnurl 0.x, which cannot live beside the app's packages.
# A stamp file makes re-runs instant; change LNBITS_VERSION (or delete the stamp) to reinstall.
#
# Makefile rule the lead may use instead of calling this by hand:
#   lnbits:
#   	bash scripts/install-lnbits.sh
set -euo pipefail

LNBITS_VERSION=1.6.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-lnbits"
STAMP="$VENV/.installed-lnbits-$LNBITS_VERSION"
PYTHON="${LNBITS_PYTHON:-$(command -v python3.11 2>/dev/null || echo python3)}"

say() { printf 'install-lnbits: %s\n' "$*"; }

if [ -f "$STAMP" ]; then
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi

say "installing lnbits==$LNBITS_VERSION (a few minutes the first time)"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip
# bolt11 (an LNbits dependency) breaks with bitstring 5.
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "lnbits==$LNBITS_VERSION" "bitstring<5"
# Importing lnbits loads its settings, which write an auth key into LNBITS_DATA_FOLDER (default `./data`, relative
# to the working folder: the repository when make runs this). Import it inside a throwaway folder instead.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
(cd "$SCRATCH" && LNBITS_DATA_FOLDER="$SCRATCH/data" "$VENV/bin/python" -c \
    "import lnbits, os; assert os.path.isdir(os.path.join(os.path.dirname(lnbits.__file__), 'static'))")

rm -f "$VENV"/.installed-lnbits-*
touch "$STAMP"
say "done: $("$VENV/bin/python" -m pip show lnbits 2>/dev/null | grep '^Version')"
