#!/usr/bin/env bash
# Relay benchmark (issue 7): messages relayed per second to a loopback TLS
# sink at 1, 10 and 50 destination connections, Ward against Debian's
# Postfix doing the same work to the same sink, in one run.
#
# The sink is tools/relay-sink: STARTTLS with a certificate for `localhost`
# from a throwaway CA made here, MAIL refused before TLS, every message
# accepted and dropped (no disk writes), counted, and checked for repeated
# Message-IDs. Both relays verify its certificate against that CA for the
# name `localhost` (Ward: [tls] extra_ca_file; Postfix:
# smtp_tls_security_level = verify, smtp_tls_verify_cert_match = hostname).
#
# For each concurrency C and each server, on a fresh instance:
#   1. with the sink down, MESSAGES messages of SIZE octets are submitted
#      with tools/smtp-load (Ward: submission port, STARTTLS, AUTH as the
#      demo user eric, to a recipient of an SMTP-connected organisation
#      whose gateway is localhost:SINK_PORT; Postfix: its smtpd, STARTTLS,
#      relayhost [localhost]:SINK_PORT). Each server tries the gateway, is
#      refused, and holds the mail (Ward backs the destination off and
#      retries after an hour, Postfix marks it dead and defers the mail for
#      an hour);
#   2. the sink is started, the clock starts (t0) and the queue is released
#      (`ward queue flush "Relay Bench"`, by the organisation's name, which
#      also clears the relay's back-off; `postqueue -f`);
#   3. the run ends when the sink has accepted all MESSAGES; the sink notes
#      the time of the last one (tN). Rate = MESSAGES / (tN - t0). The time
#      from t0 to the first message, and how long `ward queue flush` took,
#      are reported too.
# Ward relays with [relay] max_connections_per_destination = C, Postfix with
# default/smtp_destination_concurrency_limit = C and
# initial_destination_concurrency = C, once for each POSTFIX_REUSE value:
# `no` is Postfix's default (a new connection and TLS handshake for every
# delivery), `yes` sets smtp_tls_connection_reuse (cached TLS connections
# through tlsproxy). Afterwards it checks that each server's queue is empty,
# counts duplicates at the sink and the warnings or errors each server
# logged after t0.
#
# Needs: root (Postfix's master starts as root), `apt-get install postfix`
# (with "No configuration": this script never touches /etc/postfix or the
# system instance), openssl, and the binaries built first:
#   cargo build --release -p ward -p smtp-load -p relay-sink
#   sudo tools/bench-relay.sh
#
# Every Postfix instance is private (its own config_directory, queue and
# data under a temporary folder, `postfix -c DIR`, listening only on
# 127.0.0.1:POSTFIX_PORT, inet_interfaces = loopback-only); every process
# is stopped by PID on exit. Every wait is bounded: MAX_SECONDS per relay
# run, counted loops elsewhere.
#
# Environment: MESSAGES (5000), SIZE (5120), CONCURRENCIES ("1 10 50"),
# POSTFIX_REUSE ("yes no"; empty: no Postfix runs), LOAD_SESSIONS (10:
# sessions used to fill each queue), SINK_ARGS (extra relay-sink options,
# e.g. --no-pipelining), WARD_BIN, LOAD_BIN, SINK_BIN (the binaries),
# MAX_SECONDS per relay run (420), SINK_PORT (10025), WARD_PORT (13587,
# Ward's submission port), POSTFIX_PORT (10588, Postfix's smtpd), KEEP=1 to
# keep the temporary folder.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARD=${WARD_BIN:-$ROOT/target/release/ward}
LOAD=${LOAD_BIN:-$ROOT/target/release/smtp-load}
SINK=${SINK_BIN:-$ROOT/target/release/relay-sink}
MESSAGES=${MESSAGES:-5000}
SIZE=${SIZE:-5120}
CONCURRENCIES=${CONCURRENCIES:-"1 10 50"}
LOAD_SESSIONS=${LOAD_SESSIONS:-10}
MAX_SECONDS=${MAX_SECONDS:-420}
SINK_PORT=${SINK_PORT:-10025}
WARD_PORT=${WARD_PORT:-13587}
POSTFIX_PORT=${POSTFIX_PORT:-10588}
POSTFIX_REUSE=${POSTFIX_REUSE-"yes no"}

say() { printf '[bench-relay %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (Postfix's master must start as root)"
[ -x "$WARD" ] || die "no $WARD: cargo build --release -p ward"
[ -x "$LOAD" ] || die "no $LOAD: cargo build --release -p smtp-load"
[ -x "$SINK" ] || die "no $SINK: cargo build --release -p relay-sink"
command -v postfix >/dev/null || die "no postfix: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix (choose 'No configuration')"
command -v openssl >/dev/null || die "no openssl"
for port in "$SINK_PORT" "$WARD_PORT" "$POSTFIX_PORT"; do
    if ss -ltn | grep -q "127.0.0.1:$port "; then die "port $port is in use"; fi
done

WORK=$(mktemp -d /tmp/ward-bench-relay.XXXXXX)
chmod 755 "$WORK" # Postfix's unprivileged daemons must reach their queue.
WARD_PID=
POSTFIX_PID=
SINK_PID=

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
    stop_pid "$SINK_PID" relay-sink
    if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# Seconds from t0 to the last message, both in ms ("n/a" if none arrived).
secs() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > a) printf "%.2f", (b - a) / 1000; else print "n/a" }'; }

# ---- Certificates --------------------------------------------------------

# A throwaway CA and a certificate for localhost from it (P-256, as Ward's).
CA=$WORK/ca.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bench-relay throwaway CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$WORK/ca.key" -out "$CA" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -keyout "$WORK/sink.key" -out "$WORK/sink.csr" 2>/dev/null
cat >"$WORK/leaf.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
EOF
openssl x509 -req -in "$WORK/sink.csr" -CA "$CA" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 2 -extfile "$WORK/leaf.ext" -out "$WORK/sink.pem" 2>/dev/null
openssl verify -CAfile "$CA" "$WORK/sink.pem" >/dev/null || die "the sink certificate does not verify"

# ---- The sink ------------------------------------------------------------

# Starts a fresh sink (counts from zero) and waits until it listens.
start_sink() {
    local name=$1
    SINK_STATUS=$WORK/$name.sink-status
    SINK_OUT=$WORK/$name.sink-out
    "$SINK" --listen "127.0.0.1:$SINK_PORT" --cert "$WORK/sink.pem" --key "$WORK/sink.key" \
        --status-file "$SINK_STATUS" --max-seconds $(( MAX_SECONDS + 120 )) ${SINK_ARGS:-} \
        >"$SINK_OUT" 2>"$WORK/$name.sink-err" &
    SINK_PID=$!
    for _ in $(seq 100); do
        grep -q '^ready' "$SINK_OUT" 2>/dev/null && [ -s "$SINK_STATUS" ] && return 0
        kill -0 "$SINK_PID" 2>/dev/null || die "relay-sink exited: $(cat "$WORK/$name.sink-err")"
        sleep 0.1
    done
    die "relay-sink did not start"
}

# Waits (bounded) until the sink has MESSAGES, then a little longer for
# stragglers (duplicates); prints the sink's last status line.
await_sink() {
    local deadline=$(( $(date +%s) + MAX_SECONDS )) line n
    while :; do
        line=$(cat "$SINK_STATUS" 2>/dev/null || true)
        n=$(field messages "$line")
        [ "${n:-0}" -ge "$MESSAGES" ] && break
        [ "$(date +%s)" -lt "$deadline" ] || { say "timed out with ${n:-0} of $MESSAGES at the sink"; break; }
        sleep 0.05
    done
    sleep 2
    cat "$SINK_STATUS"
}

# ---- Ward ----------------------------------------------------------------

DOMAIN=relaybench.org.uk
RCPT=sink.user@$DOMAIN.cjsm.net
ward_cli() { "$WARD" "$@" --config "$WDIR/ward.toml"; }

# One Ward run at destination concurrency $1; sets W_* for it.
ward_run() {
    local c=$1
    WDIR=$WORK/ward-c$c
    mkdir -p "$WDIR"
    cat >"$WDIR/ward.toml" <<EOF
[server]
hostname = "localhost"
data_dir = "data"
shutdown_grace_seconds = 5

[community]
suffix = "cjsm.net"

[relay]
# One failed attempt while the sink is down, then nothing until the flush.
retry_schedule = ["1h"]
delay_notice_after = "1d"
max_connections = $(( c > 50 ? c : 50 ))
max_connections_per_destination = $c

[tls]
extra_ca_file = "$CA"

[listen]
submission = ["127.0.0.1:$WARD_PORT"]

[admin]
socket = "$WDIR/admin.sock"

[log]
level = "warn"
EOF
    say "ward C=$c: starting"
    "$WARD" serve --demo --config "$WDIR/ward.toml" >"$WDIR/stdout.txt" 2>"$WDIR/ward.log" &
    WARD_PID=$!
    for _ in $(seq 120); do
        grep -q 'submission, STARTTLS' "$WDIR/stdout.txt" 2>/dev/null && break
        kill -0 "$WARD_PID" 2>/dev/null || die "ward exited: $(tail -5 "$WDIR/ward.log")"
        sleep 0.5
    done
    grep -q 'submission, STARTTLS' "$WDIR/stdout.txt" || die "ward did not start in 60 s"
    local eric=eric.brown@greenstonechambers.co.uk.cjsm.net pw
    pw=$(grep "user  *eric.brown@" "$WDIR/stdout.txt" | sed 's/.*password: //')
    [ -n "$pw" ] || die "no demo password on ward's stdout"

    ward_cli org apply --domain "$DOMAIN" --name "Relay Bench" --connection smtp \
        --gateway localhost --gateway-port "$SINK_PORT" --reason "relay benchmark" --users 5 \
        --sponsor "Jo Bloggs|CPS|jo@cps.gov.uk|Lawyer" --signatory-name Sam \
        --signatory-position Partner --signatory-address "sam@$DOMAIN" --accept-terms 1.0 \
        --address1 "1 High Street" --postcode "LS1 1AA" --telephone "0113 496 0000" \
        --location "West Yorkshire" --business-type "Benchmark" \
        >"$WDIR/apply.txt" 2>&1 || die "org apply: $(cat "$WDIR/apply.txt")"
    ward_cli org approve 1 --first-name Sam --last-name Smith \
        --existing-address "sam.smith@$DOMAIN" >"$WDIR/approve.txt" 2>&1 ||
        die "org approve: $(cat "$WDIR/approve.txt")"

    say "ward C=$c: queueing $MESSAGES messages of $SIZE octets (sink down)"
    timeout $(( MAX_SECONDS + 300 )) "$LOAD" --port "$WARD_PORT" --starttls --ca-file "$WDIR/data/tls/cert.pem" \
        --auth "$eric:$pw" --from "$eric" --to "$RCPT" --messages "$MESSAGES" \
        --concurrency "$LOAD_SESSIONS" --size "$SIZE" --max-seconds "$MAX_SECONDS" \
        >"$WDIR/load.txt" 2>&1 || die "submission failed: $(tail -5 "$WDIR/load.txt")"
    grep -q "accepted $MESSAGES failures 0" "$WDIR/load.txt" || die "submission: $(cat "$WDIR/load.txt")"
    # The relay has tried, been refused and backed the destination off.
    local queued=
    for _ in $(seq 60); do
        queued=$(ward_cli status | sed -n 's/^ *queue  *\([0-9]*\) message.*/\1/p')
        [ "$queued" = "$MESSAGES" ] && grep -q 'backed off' "$WDIR/ward.log" && break
        sleep 0.5
    done
    [ "$queued" = "$MESSAGES" ] || die "ward's queue holds ${queued:-?} messages, not $MESSAGES"
    sleep 3

    start_sink "ward-c$c"
    local log_before t0 status t_last
    log_before=$(wc -l <"$WDIR/ward.log")
    say "ward C=$c: flush"
    t0=$(now_ms)
    # By the organisation's name: the relay's back-off is cleared only for a
    # flush naming the gateway or the organisation (see docs/benchmarks.md).
    ward_cli queue flush "Relay Bench" >"$WDIR/flush.txt"
    local t_flushed
    t_flushed=$(now_ms)
    grep -q "^$MESSAGES queued message(s) will be tried now" "$WDIR/flush.txt" ||
        say "ward C=$c: flush said: $(cat "$WDIR/flush.txt")"
    status=$(await_sink)
    t_last=$(field last_ms "$status")
    local left=?
    for _ in $(seq 40); do
        left=$(ward_cli status | sed -n 's/^ *queue  *\([0-9]*\) message.*/\1/p')
        [ "$left" = 0 ] && break
        sleep 0.5
    done
    W_MSGS[$c]=$(field messages "$status")
    W_DUP[$c]=$(field duplicates "$status")
    W_CONN[$c]=$(field connections "$status")
    W_SECS[$c]=$(secs "$t0" "$t_last")
    W_FIRST[$c]=$(secs "$t0" "$(field first_ms "$status")")
    W_FLUSH[$c]=$(secs "$t0" "$t_flushed")
    W_RATE[$c]=$(awk -v n="${W_MSGS[$c]}" -v a="$t0" -v b="$t_last" -v want="$MESSAGES" \
        'BEGIN { if (n >= want && b > a) printf "%.0f", want * 1000 / (b - a); else print "n/a" }')
    W_LEFT[$c]=$left
    W_LOG[$c]=$(tail -n +$(( log_before + 1 )) "$WDIR/ward.log" | grep -cE 'WARN|ERROR' || true)
    tail -n +$(( log_before + 1 )) "$WDIR/ward.log" | grep -E 'WARN|ERROR' | head -5 >&2 || true
    say "ward C=$c: $status; ${W_SECS[$c]} s, ${W_RATE[$c]} msg/s; flush command took ${W_FLUSH[$c]} s, first message after ${W_FIRST[$c]} s; queue left $left"
    stop_pid "$WARD_PID" ward
    WARD_PID=
    stop_pid "$SINK_PID" relay-sink
    SINK_PID=
}

# ---- Postfix -------------------------------------------------------------

postfix_count() { find "$PF/queue/$1" -type f 2>/dev/null | wc -l; }

# One Postfix run at destination concurrency $1, reusing TLS connections
# ($2 = yes: smtp_tls_connection_reuse through tlsproxy) or not ($2 = no,
# Postfix's default: a new connection and handshake per delivery); sets
# P_*[C,REUSE].
postfix_run() {
    local c=$1 reuse=$2 k="$1,$2"
    PF=$WORK/postfix-c$c-reuse-$reuse
    mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
    chown postfix "$PF/data"
    cp "$WORK/sink.pem" "$PF/etc/cert.pem"
    cp "$WORK/sink.key" "$PF/etc/key.pem"
    cp /etc/postfix/master.cf "$PF/etc/master.cf"
    cat >"$PF/etc/main.cf" <<EOF
# Private benchmark instance; see tools/bench-relay.sh.
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
smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = $PF/etc/cert.pem
smtpd_tls_key_file = $PF/etc/key.pem
smtpd_tls_loglevel = 0
# Everything goes to the sink, over verified TLS (as Ward relays).
relayhost = [localhost]:$SINK_PORT
default_transport = smtp
relay_transport = smtp
smtp_host_lookup = native
smtp_tls_security_level = verify
smtp_tls_CAfile = $WORK/ca.pem
smtp_tls_verify_cert_match = hostname
smtp_tls_loglevel = 0
smtp_tls_connection_reuse = $reuse
# C connections to the destination from the start.
initial_destination_concurrency = $c
smtp_initial_destination_concurrency = $c
default_destination_concurrency_limit = $c
smtp_destination_concurrency_limit = $c
default_process_limit = $(( c + 100 ))
# While the sink is down: one attempt, then nothing until postqueue -f.
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
delay_warning_time = 0h
biff = no
EOF
    postconf -c "$PF/etc" -M# smtp/inet
    postconf -c "$PF/etc" -M "127.0.0.1:$POSTFIX_PORT/inet=127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd"
    # Debian's master.cf has tlsproxy commented out; reuse needs it.
    postconf -c "$PF/etc" -M "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"
    postconf -c "$PF/etc" -F '*/*/chroot = n'
    say "postfix C=$c reuse=$reuse: starting postfix -c $PF/etc"
    postfix -c "$PF/etc" start </dev/null >"$PF/start.txt" 2>&1 ||
        die "postfix did not start: $(cat "$PF/start.txt"; tail -5 "$PF/maillog" 2>/dev/null)"
    for _ in $(seq 40); do [ -s "$PF/queue/pid/master.pid" ] && break; sleep 0.5; done
    POSTFIX_PID=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
    kill -0 "$POSTFIX_PID" 2>/dev/null || die "no postfix master"
    for _ in $(seq 40); do ss -ltn | grep -q "127.0.0.1:$POSTFIX_PORT " && break; sleep 0.5; done
    ss -ltn | grep -q "127.0.0.1:$POSTFIX_PORT " || die "postfix does not listen on $POSTFIX_PORT"

    say "postfix C=$c reuse=$reuse: queueing $MESSAGES messages of $SIZE octets (sink down)"
    timeout $(( MAX_SECONDS + 300 )) "$LOAD" --port "$POSTFIX_PORT" --starttls --ca-file "$CA" \
        --from load@sender.invalid --to sink.user@relaybench.invalid --messages "$MESSAGES" \
        --concurrency "$LOAD_SESSIONS" --size "$SIZE" --max-seconds "$MAX_SECONDS" \
        >"$PF/load.txt" 2>&1 || die "submission failed: $(tail -5 "$PF/load.txt")"
    grep -q "accepted $MESSAGES failures 0" "$PF/load.txt" || die "submission: $(cat "$PF/load.txt")"
    # Every message tried (refused) and deferred.
    local deferred=0
    for _ in $(seq 240); do
        deferred=$(postfix_count deferred)
        [ "$deferred" = "$MESSAGES" ] && [ "$(postfix_count active)" = 0 ] &&
            [ "$(postfix_count incoming)" = 0 ] && break
        sleep 0.5
    done
    [ "$deferred" = "$MESSAGES" ] || die "postfix deferred $deferred of $MESSAGES"
    sleep 3

    start_sink "postfix-c$c-reuse-$reuse"
    local log_before t0 status t_last
    log_before=$(wc -l <"$PF/maillog")
    say "postfix C=$c reuse=$reuse: postqueue -f"
    t0=$(now_ms)
    postqueue -c "$PF/etc" -f
    status=$(await_sink)
    t_last=$(field last_ms "$status")
    local left=?
    for _ in $(seq 40); do
        left=$(( $(postfix_count deferred) + $(postfix_count active) + $(postfix_count incoming) ))
        [ "$left" = 0 ] && break
        sleep 0.5
    done
    P_MSGS[$k]=$(field messages "$status")
    P_DUP[$k]=$(field duplicates "$status")
    P_CONN[$k]=$(field connections "$status")
    P_SECS[$k]=$(secs "$t0" "$t_last")
    P_FIRST[$k]=$(secs "$t0" "$(field first_ms "$status")")
    P_RATE[$k]=$(awk -v n="${P_MSGS[$k]}" -v a="$t0" -v b="$t_last" -v want="$MESSAGES" \
        'BEGIN { if (n >= want && b > a) printf "%.0f", want * 1000 / (b - a); else print "n/a" }')
    P_LEFT[$k]=$left
    P_SENT[$k]=$(tail -n +$(( log_before + 1 )) "$PF/maillog" | grep -c 'status=sent' || true)
    P_LOG[$k]=$(tail -n +$(( log_before + 1 )) "$PF/maillog" | grep -cE 'warning:|error:|fatal:|panic:|status=deferred|status=bounced' || true)
    tail -n +$(( log_before + 1 )) "$PF/maillog" |
        grep -E 'warning:|error:|fatal:|panic:|status=deferred|status=bounced' | head -5 >&2 || true
    say "postfix C=$c reuse=$reuse: $status; ${P_SECS[$k]} s, ${P_RATE[$k]} msg/s; first message after ${P_FIRST[$k]} s; queue left $left; sent ${P_SENT[$k]}"
    postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
    for _ in $(seq 60); do kill -0 "$POSTFIX_PID" 2>/dev/null || break; sleep 0.5; done
    stop_pid "$POSTFIX_PID" "postfix master"
    POSTFIX_PID=
    stop_pid "$SINK_PID" relay-sink
    SINK_PID=
}

# ---- Runs ----------------------------------------------------------------

declare -A W_MSGS W_DUP W_CONN W_SECS W_RATE W_LEFT W_LOG W_FIRST W_FLUSH
declare -A P_MSGS P_DUP P_CONN P_SECS P_RATE P_LEFT P_LOG P_SENT P_FIRST
START=$(date +%s)
for c in $CONCURRENCIES; do
    ward_run "$c"
    sleep 2
    for reuse in $POSTFIX_REUSE; do
        postfix_run "$c" "$reuse"
        sleep 2
    done
done

# ---- Report --------------------------------------------------------------

ratio() { awk -v w="$1" -v p="$2" 'BEGIN { if (w ~ /^[0-9.]+$/ && p ~ /^[0-9.]+$/ && p > 0) printf "%.2f", w / p; else print "n/a" }'; }
echo
echo "Relay: $MESSAGES messages of $SIZE octets per run to a loopback STARTTLS sink (verified certificate), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), $(( $(date +%s) - START )) s in all"
echo
# Postfix's figure for (C, REUSE), "n/a" when that variant did not run.
pf() { local v="${2}[$1]"; echo "${!v:-n/a}"; }
echo "| connections | Ward msg/s | Postfix msg/s (TLS connection reuse) | Ward / Postfix | Postfix msg/s (default: no reuse) | Ward / Postfix | seconds (Ward / Postfix reuse / no reuse) |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONCURRENCIES; do
    py=$(pf "$c,yes" P_RATE); pn=$(pf "$c,no" P_RATE)
    echo "| $c | ${W_RATE[$c]} | $py | $(ratio "${W_RATE[$c]}" "$py") | $pn | $(ratio "${W_RATE[$c]}" "$pn") | ${W_SECS[$c]} / $(pf "$c,yes" P_SECS) / $(pf "$c,no" P_SECS) |"
done
echo
echo "Checks (Ward / Postfix reuse / Postfix no reuse):"
echo
echo "| connections | first message after t0 (s) | messages at the sink | duplicates | sink connections | left in queue | warnings or errors logged after t0 |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONCURRENCIES; do
    row="| $c"
    for a in FIRST MSGS DUP CONN LEFT LOG; do
        w="W_$a[$c]"
        row="$row | ${!w:-?} / $(pf "$c,yes" "P_$a") / $(pf "$c,no" "P_$a")"
    done
    echo "$row |"
done
echo
for c in $CONCURRENCIES; do
    echo "Ward C=$c: \`ward queue flush\` returned after ${W_FLUSH[$c]:-?} s."
done
