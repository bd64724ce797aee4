#!/bin/sh
# Builds every fuzz target and runs each for a short period (default 30 s)
# on a scratch copy of its seed corpus, one at a time, under nice. Exits
# non-zero on the first crash, hang or out-of-memory; the input that did it
# is in fuzz/artifacts/<target>/.
#
# Usage: fuzz/smoke.sh [seconds]
# Needs: a nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -eu

SECONDS_EACH=${1:-30}
TARGETS="smtp_command smtp_session smtp_session_data address_parse classification footer imap_session"

cd "$(dirname "$0")"
nice -n 19 cargo +nightly fuzz build

for target in $TARGETS; do
    work="work/smoke/$target"
    rm -rf "$work"
    mkdir -p "$work"
    echo "== $target (${SECONDS_EACH}s)"
    # New inputs go to the scratch directory (first); the seeds are read only.
    if ! nice -n 19 cargo +nightly fuzz run "$target" "$work" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -timeout=10 -print_final_stats=1 2>"work/smoke/$target.log"; then
        tail -n 60 "work/smoke/$target.log" >&2
        echo "fuzz target $target failed; see fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units|#[0-9]+ +DONE)' "work/smoke/$target.log" || true
done
echo "all fuzz targets ran clean"
