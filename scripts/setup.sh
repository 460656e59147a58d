#!/usr/bin/env bash
# Creates .venv and installs Nghe Dân with Rasa 3.6 on Python 3.11. Idempotent: a second run with
# unchanged requirements only checks a stamp. Rasa 3.6.21 declares python<3.11 and `pip install
# rasa` on 3.11 silently picks rasa 1.10, so: first its dependency pins (verified together on 3.11)
# with ours in one resolve, then rasa and rasa-sdk themselves without dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=.venv
STAMP=$VENV/.nghedan-installed

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "Python 3.11 is required (looked for '$PYTHON'; set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
want=$(cat requirements/rasa-deps.txt requirements/app.txt pyproject.toml scripts/setup.sh \
  | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/nghedan" ]; then
  exit 0
fi

install_chromium() {  # the desk's browser tests drive Debian's chromium with Playwright
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      chromium fonts-noto-core >/dev/null
  else
    echo "chromium not found: browser tests will skip (install Debian's chromium)." >&2
  fi
}

quiet_pip() {  # this machine's pip config names local indexes that may be empty: drop that noise
  "$VENV/bin/pip" "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

echo "Setting up $VENV (first time: a few minutes)..."
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
quiet_pip install --quiet --disable-pip-version-check \
  -r requirements/rasa-deps.txt -r requirements/app.txt
quiet_pip install --quiet --disable-pip-version-check \
  --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
quiet_pip install --quiet --disable-pip-version-check --no-deps -e .
"$VENV/bin/python" -c "import rasa, rasa_sdk, telegram, sqlalchemy, bot"
install_chromium
echo "$want" > "$STAMP"
echo "Environment ready: $VENV"
