#!/usr/bin/env bash
# `make run` writes a `.env` for development the first time, so that every `manage.py` command works afterwards
# without setting anything by hand (settings.py reads `.env`; the environment still wins). It never touches a
# `.env` that exists.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ -e .env ]; then
    exit 0
fi
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
umask 077
cat > .env <<ENV
# Written by \`make run\` for development (scripts/dev-env.sh); .env.example lists every setting.
DEBUG=1
SECRET_KEY=${SECRET}
LIGHTNING_DEV_BACKEND_ALLOWED=1
ENV
echo "dev-env: wrote .env (DEBUG=1, a random SECRET_KEY, the development Lightning backend)"
