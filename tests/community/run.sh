#!/usr/bin/env bash
# Runs the end-to-end community scenario against an already-built binary:
#   cargo build -p ward && tests/community/run.sh [target/debug/ward]
# Needs python3 with aiosmtpd, openssl, and mbsync (isync). Prints each
# step and "N passed, N failed"; exits non-zero when a step failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ward=${1:-$here/../../target/debug/ward}
exec python3 "$here/scenario.py" --ward "$ward"
