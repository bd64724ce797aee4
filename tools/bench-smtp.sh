#!/usr/bin/env bash
# SMTP acceptance benchmark (issue 6): Ward against Debian's Postfix, both
# requiring TLS, on loopback, in one run.
#
# For each concurrency (1, 10, 50) it sends MESSAGES messages of SIZE octets
# with tools/smtp-load, first to Ward (submission port, STARTTLS, AUTH PLAIN
# as the demo user eric, to the local mailbox of anna: stored and fsynced
# before the 250), then to Postfix (STARTTLS required, no AUTH, mynetworks
# 127.0.0.0/8; each message is written to its queue file and fsynced by
# cleanup before the 250, then discarded by qmgr). It also reads Ward's
# resident memory (VmRSS) freshly started and while it holds IDLE idle TLS
# sessions, and finally kills Ward (SIGKILL) and counts anna's INBOX in the
# stopped store (tools/mailbox-count) to check that every accepted message
# was stored. It prints a Markdown table.
#
# Needs: root (Postfix's master starts as root), `apt-get install postfix`
# (with "No configuration": this script never touches /etc/postfix or the
# system instance), openssl, and the two binaries built first:
#   cargo build --release -p ward -p smtp-load -p mailbox-count
#   sudo tools/bench-smtp.sh
#
# The Postfix instance is private: its own config_directory, queue and data
# under a temporary folder, started with `postfix -c DIR`, listening only on
# 127.0.0.1:POSTFIX_PORT (inet_interfaces = loopback-only; the port-25
# service is commented out). Both servers are stopped by PID on exit.
#
# Every step is bounded: each smtp-load run by --max-seconds, waits by
# counted loops, the store count by `timeout`.
#
# Environment: MESSAGES (20000), SIZE (5120), CONCURRENCIES ("1 10 50"),
# IDLE (1000), IDLE_SECONDS (15), MAX_SECONDS per run (900), WARD_PORT_BASE
# (12000: ward uses BASE+525, +587, +465, +143, +993), POSTFIX_PORT (10587),
# KEEP=1 to keep the temporary folder.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARD=${WARD_BIN:-$ROOT/target/release/ward}
LOAD=${LOAD_BIN:-$ROOT/target/release/smtp-load}
COUNT=${COUNT_BIN:-$ROOT/target/release/mailbox-count}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-5120}
CONCURRENCIES=${CONCURRENCIES:-"1 10 50"}
IDLE=${IDLE:-1000}
IDLE_SECONDS=${IDLE_SECONDS:-15}
MAX_SECONDS=${MAX_SECONDS:-900}
BASE=${WARD_PORT_BASE:-12000}
POSTFIX_PORT=${POSTFIX_PORT:-10587}

say() { printf '[bench-smtp %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (Postfix's master must start as root)"
[ -x "$WARD" ] || die "no $WARD: cargo build --release -p ward"
[ -x "$LOAD" ] || die "no $LOAD: cargo build --release -p smtp-load"
[ -x "$COUNT" ] || die "no $COUNT: cargo build --release -p mailbox-count"
command -v postfix >/dev/null || die "no postfix: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix (choose 'No configuration')"
command -v openssl >/dev/null || die "no openssl"

# Ward holds IDLE sessions plus its own files.
ulimit -n "$(( IDLE + 4096 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt "$(( IDLE + 200 ))" ] || die "ulimit -n $(ulimit -n) is too low for $IDLE idle sessions"

WORK=$(mktemp -d /tmp/ward-bench-smtp.XXXXXX)
chmod 755 "$WORK" # Postfix's unprivileged daemons must reach their queue.
WARD_PID=
POSTFIX_PID=

# Stops a process we started: SIGTERM, then up to 30 s, then SIGKILL.
stop_pid() {
    local pid=$1 name=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    say "$name did not stop in 30 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    stop_pid "$WARD_PID" ward
    stop_pid "$POSTFIX_PID" "postfix master"
    if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- Ward ---------------------------------------------------------------

mkdir -p "$WORK/ward"
cat >"$WORK/ward/ward.toml" <<EOF
[server]
hostname = "localhost"
data_dir = "data"
shutdown_grace_seconds = 5
max_connections = $(( IDLE + 1000 ))
max_connections_per_ip = $(( IDLE + 500 ))

[community]
suffix = "cjsm.net"

[listen]
smtp = ["127.0.0.1:$(( BASE + 525 ))"]
submission = ["127.0.0.1:$(( BASE + 587 ))"]
submissions = ["127.0.0.1:$(( BASE + 465 ))"]
imap = ["127.0.0.1:$(( BASE + 143 ))"]
imaps = ["127.0.0.1:$(( BASE + 993 ))"]

[log]
level = "warn"
EOF
WARD_SUBMISSION=$(( BASE + 587 ))

say "starting ward"
"$WARD" serve --demo --config "$WORK/ward/ward.toml" \
    >"$WORK/ward/stdout.txt" 2>"$WORK/ward/ward.log" &
WARD_PID=$!
for _ in $(seq 120); do
    grep -q 'submission, STARTTLS' "$WORK/ward/stdout.txt" 2>/dev/null && break
    kill -0 "$WARD_PID" 2>/dev/null || die "ward exited: $(tail -5 "$WORK/ward/ward.log")"
    sleep 0.5
done
grep -q 'submission, STARTTLS' "$WORK/ward/stdout.txt" || die "ward did not start in 60 s"
password_of() { grep "user  *$1@" "$WORK/ward/stdout.txt" | sed 's/.*password: //'; }
ERIC=eric.brown@greenstonechambers.co.uk.cjsm.net
ANNA=anna.jones@greenstonechambers.co.uk.cjsm.net
ERIC_PW=$(password_of eric.brown)
[ -n "$ERIC_PW" ] || die "no demo passwords on ward's stdout"
WARD_CERT=$WORK/ward/data/tls/cert.pem

# ---- Postfix (private instance) -----------------------------------------

PF=$WORK/postfix
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
chown postfix "$PF/data"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$PF/etc/key.pem" -out "$PF/etc/cert.pem" 2>/dev/null
cp /etc/postfix/master.cf "$PF/etc/master.cf"
cat >"$PF/etc/main.cf" <<EOF
# Private benchmark instance; see tools/bench-smtp.sh.
compatibility_level = 3.6
config_directory = $PF/etc
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_sasl_auth_enable = no
# TLS required, as on Ward.
smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = $PF/etc/cert.pem
smtpd_tls_key_file = $PF/etc/key.pem
smtpd_tls_loglevel = 0
# Accepted mail is queued (fsynced) and then discarded: no final delivery.
default_transport = discard
relay_transport = discard
local_transport = discard
biff = no
default_process_limit = 200
EOF
postconf -c "$PF/etc" -M# smtp/inet
postconf -c "$PF/etc" -M "127.0.0.1:$POSTFIX_PORT/inet=127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd"
postconf -c "$PF/etc" -F '*/*/chroot = n'
say "starting postfix -c $PF/etc"
postfix -c "$PF/etc" start </dev/null >"$PF/start.txt" 2>&1 || die "postfix did not start: $(cat "$PF/start.txt"; tail -5 "$PF/maillog" 2>/dev/null)"
for _ in $(seq 40); do [ -s "$PF/queue/pid/master.pid" ] && break; sleep 0.5; done
POSTFIX_PID=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
kill -0 "$POSTFIX_PID" 2>/dev/null || die "no postfix master"
for _ in $(seq 40); do ss -ltn | grep -q "127.0.0.1:$POSTFIX_PORT " && break; sleep 0.5; done
ss -ltn | grep -q "127.0.0.1:$POSTFIX_PORT " || die "postfix does not listen on $POSTFIX_PORT"

# Files still in Postfix's queue (waiting for qmgr to discard them).
postfix_backlog() {
    find "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" "$PF/queue/maildrop" -type f 2>/dev/null | wc -l
}

# ---- Runs ----------------------------------------------------------------

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$WARD_PID/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$WARD_PID/status"; }

# Runs smtp-load and prints its rate; keeps its full output.
load() {
    local name=$1 c=$2 out=$WORK/$1-c$2.txt
    shift 2
    say "$name: $MESSAGES messages of $SIZE octets over $c sessions"
    timeout $(( MAX_SECONDS + 300 )) "$LOAD" "$@" --starttls \
        --messages "$MESSAGES" --concurrency "$c" --size "$SIZE" \
        --max-seconds "$MAX_SECONDS" >"$out" 2>&1 || true
    cat "$out" >&2
    local line
    line=$(grep '^RESULT ' "$out" || echo "RESULT accepted=0 failures=? rate=0")
    echo "$line"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

sleep 2
RSS_FRESH=$(rss_kb)
say "ward fresh: VmRSS $RSS_FRESH kB; opening $IDLE idle TLS sessions"
"$LOAD" --port "$WARD_SUBMISSION" --starttls --ca-file "$WARD_CERT" \
    --idle "$IDLE" --idle-seconds "$IDLE_SECONDS" --max-seconds 300 \
    >"$WORK/idle.txt" 2>&1 &
IDLE_PID=$!
RSS_IDLE=
for _ in $(seq 600); do
    if grep -q '^holding' "$WORK/idle.txt"; then sleep 2; RSS_IDLE=$(rss_kb); break; fi
    kill -0 "$IDLE_PID" 2>/dev/null || break
    sleep 0.5
done
wait "$IDLE_PID" || true
cat "$WORK/idle.txt" >&2
IDLE_HELD=$(sed -n 's/^idle sessions held: //p' "$WORK/idle.txt")
sleep 2
RSS_AFTER_IDLE=$(rss_kb)

declare -A W_RATE P_RATE W_FAIL P_FAIL W_ACC W_RSS
WARD_TOTAL=0
POSTFIX_TOTAL=0
for c in $CONCURRENCIES; do
    r=$(load ward "$c" --port "$WARD_SUBMISSION" --ca-file "$WARD_CERT" \
        --auth "$ERIC:$ERIC_PW" --from "$ERIC" --to "$ANNA")
    W_RATE[$c]=$(field rate "$r"); W_FAIL[$c]=$(field failures "$r"); W_ACC[$c]=$(field accepted "$r")
    W_RSS[$c]=$(rss_kb)
    WARD_TOTAL=$(( WARD_TOTAL + ${W_ACC[$c]:-0} ))
    sleep 2
    r=$(load postfix "$c" --port "$POSTFIX_PORT" --ca-file "$PF/etc/cert.pem" \
        --from load@sender.invalid --to sink@bench.invalid)
    P_RATE[$c]=$(field rate "$r"); P_FAIL[$c]=$(field failures "$r")
    a=$(field accepted "$r"); POSTFIX_TOTAL=$(( POSTFIX_TOTAL + ${a:-0} ))
    # Let qmgr drain its backlog so it does not compete with the next run.
    for _ in $(seq 240); do [ "$(postfix_backlog)" = 0 ] && break; sleep 0.5; done
    say "postfix backlog now $(postfix_backlog) files"
    sleep 2
done
RSS_END=$(rss_kb)
HWM_END=$(hwm_kb)

# Every message Ward accepted must be in anna's INBOX (nothing else is sent
# there). Ward is killed with SIGKILL, so nothing it held in memory survives,
# and the stopped store is opened directly.
say "killing ward (pid $WARD_PID) with SIGKILL to count what it stored"
kill -KILL "$WARD_PID" 2>/dev/null || true
for _ in $(seq 60); do kill -0 "$WARD_PID" 2>/dev/null || break; sleep 0.5; done
WARD_PID=
STORED=$(timeout 300 "$COUNT" --store "$WORK/ward/data/store" "$ANNA" || echo "?")
# Postfix's qmgr logs one from= line per queued message.
POSTFIX_QUEUED=$(grep -c 'postfix/qmgr.*from=<load@sender.invalid>' "$PF/maillog" || true)

# The disk's own pace: 1,000 synchronous 4 KiB writes in the work folder.
FSYNC_RATE=$(dd if=/dev/zero of="$WORK/dsync.probe" bs=4k count=1000 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int(1000 / $(i - 1)) }')
rm -f "$WORK/dsync.probe"

# ---- Report --------------------------------------------------------------

ratio() { awk -v w="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.2f", w / p; else print "n/a" }'; }
echo
echo "SMTP acceptance: $MESSAGES messages of $SIZE octets per run, STARTTLS, loopback, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| sessions | Ward msgs/s | Postfix msgs/s | Ward / Postfix | failures (Ward / Postfix) | Ward VmRSS after its run (kB) |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in $CONCURRENCIES; do
    echo "| $c | ${W_RATE[$c]} | ${P_RATE[$c]} | $(ratio "${W_RATE[$c]}" "${P_RATE[$c]}") | ${W_FAIL[$c]} / ${P_FAIL[$c]} | ${W_RSS[$c]} |"
done
echo
echo "| Ward resident memory (VmRSS) | kB |"
echo "|---|---:|"
echo "| freshly started (demo community) | $RSS_FRESH |"
echo "| with ${IDLE_HELD:-?} idle TLS sessions (STARTTLS + EHLO) | $RSS_IDLE |"
echo "| after they closed | $RSS_AFTER_IDLE |"
echo "| after all runs | $RSS_END (peak VmHWM $HWM_END) |"
echo
echo "Ward accepted $WARD_TOTAL messages in all; after SIGKILL its store holds ${STORED:-?} in anna's INBOX."
echo "Disk: about ${FSYNC_RATE:-?} synchronous 4 KiB writes per second (dd oflag=dsync)."
echo "Postfix accepted $POSTFIX_TOTAL messages in all; its qmgr logged $POSTFIX_QUEUED queued from the load sender."
