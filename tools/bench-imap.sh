#!/usr/bin/env bash
# IMAP benchmark (issue 8): Ward against Debian's Dovecot, both over
# implicit TLS on loopback, in one run, driven by tools/imap-load.
#
# 1. Populates the same MESSAGES messages of SIZE octets into one INBOX on
#    each server (`imap-load --populate`, APPEND over TLS).
# 2. Holds IDLE sessions in IDLE against Ward and reads its VmRSS before,
#    during and after; then the same against Dovecot, summing the RSS (and
#    PSS) of the imap and imap-login processes of this Dovecot instance
#    (children of its master, by PID).
# 3. Runs the mixed workload (`imap-load --mixed MIXED_OPS`: fetch headers
#    and flags of ten messages, fetch one body, flag it, APPEND, mark it
#    \Deleted, UID EXPUNGE it, and every tenth round LOGOUT, LOGIN and
#    SELECT) at each of CONCURRENCIES sessions, Ward then Dovecot for each,
#    and prints operations per second and the ratio Ward / Dovecot.
# 4. APPENDs BIG messages of BIG_SIZE octets into a second user's INBOX on
#    Ward (on Dovecot it writes the same messages straight into that user's
#    maildir and lets a first, unmeasured SELECT index them) and times
#    `SELECT` plus `FETCH 1:* (UID FLAGS)` (`imap-load --select-all
#    SELECT_RUNS`, one session; the median).
# It prints Markdown tables.
#
# Needs: root (Dovecot's master starts as root and drops to its users),
# Debian's dovecot-imapd (the system instance is never configured or
# started: this script runs a private one), openssl, and the binaries:
#   cargo build --release -p ward -p imap-load
#   sudo tools/bench-imap.sh
#
# Ward runs from a config file in a temporary folder (its data and admin
# socket there, listeners on 127.0.0.1:WARD_PORT_BASE+143/+993/...), with
# `--demo`: the demo user eric.brown holds the mixed-workload mailbox and
# anna.jones the large one. Dovecot runs with its own config, base_dir,
# state_dir and maildirs there (`dovecot -c CONF -F`), listening only on
# 127.0.0.1:DOVECOT_PORT (implicit TLS; port 143 disabled), mail_fsync =
# always so that, as on Ward, an APPEND's OK means the message is on disk.
# Both servers are stopped by PID on exit.
#
# Every step is bounded: each imap-load run by --max-seconds (and the whole
# command by `timeout`), every wait by a counted loop.
#
# Environment: MESSAGES (2000), SIZE (5120), MIXED_OPS (12000),
# CONCURRENCIES ("1 10 50"), IDLE (1000), IDLE_SECONDS (20), BIG (100000),
# BIG_SIZE (2048), SELECT_RUNS (5), POP_CONCURRENCY (20), MAX_SECONDS per
# imap-load run (600), WARD_PORT_BASE (16000), DOVECOT_PORT (16900),
# DOVECOT_SCHEME (PLAIN; ARGON2ID stores Dovecot's passwords hashed as
# Ward's are, and as its auth cache is off every login then pays for it;
# not used for the published figures), DOVECOT_BIG_BY_APPEND (0: write
# the large maildir directly; 1: APPEND it, which takes long), KEEP=1 to
# keep the temporary folder.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARD=${WARD_BIN:-$ROOT/target/release/ward}
LOAD=${LOAD_BIN:-$ROOT/target/release/imap-load}
MESSAGES=${MESSAGES:-2000}
SIZE=${SIZE:-5120}
MIXED_OPS=${MIXED_OPS:-12000}
CONCURRENCIES=${CONCURRENCIES:-"1 10 50"}
IDLE=${IDLE:-1000}
IDLE_SECONDS=${IDLE_SECONDS:-20}
BIG=${BIG:-100000}
BIG_SIZE=${BIG_SIZE:-2048}
SELECT_RUNS=${SELECT_RUNS:-5}
POP_CONCURRENCY=${POP_CONCURRENCY:-20}
MAX_SECONDS=${MAX_SECONDS:-600}
BASE=${WARD_PORT_BASE:-16000}
DOVECOT_PORT=${DOVECOT_PORT:-16900}
DOVECOT_SCHEME=${DOVECOT_SCHEME:-PLAIN}
DOVECOT_BIG_BY_APPEND=${DOVECOT_BIG_BY_APPEND:-0}

say() { printf '[bench-imap %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (Dovecot's master must start as root)"
[ -x "$WARD" ] || die "no $WARD: cargo build --release -p ward"
[ -x "$LOAD" ] || die "no $LOAD: cargo build --release -p imap-load"
[ -x /usr/sbin/dovecot ] || die "no dovecot: apt-get install dovecot-imapd"
command -v openssl >/dev/null || die "no openssl"
getent passwd dovecot >/dev/null && getent passwd dovenull >/dev/null ||
    die "no dovecot/dovenull users (they come with the dovecot-core package)"

# Both servers hold IDLE sessions plus their own files; imap-load holds them
# too. Dovecot's master inherits this limit.
ulimit -n "$(( IDLE * 3 + 4096 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt "$(( IDLE * 2 + 200 ))" ] || die "ulimit -n $(ulimit -n) is too low for $IDLE idle sessions"

WORK=$(mktemp -d /tmp/ward-bench-imap.XXXXXX)
chmod 755 "$WORK" # Dovecot's unprivileged processes must reach their folders.
WARD_PID=
DOVECOT_PID=
IDLE_PID=

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
    stop_pid "$IDLE_PID" imap-load
    stop_pid "$WARD_PID" ward
    stop_pid "$DOVECOT_PID" "dovecot master"
    if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- Ward ---------------------------------------------------------------

mkdir -p "$WORK/ward"
WARD_IMAPS=$(( BASE + 993 ))
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
imaps = ["127.0.0.1:$WARD_IMAPS"]

[admin]
socket = "$WORK/ward/admin.sock"

[log]
level = "warn"
EOF

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
for _ in $(seq 40); do ss -ltn | grep -q "127.0.0.1:$WARD_IMAPS " && break; sleep 0.5; done
ss -ltn | grep -q "127.0.0.1:$WARD_IMAPS " || die "ward does not listen on $WARD_IMAPS"
password_of() { grep "user  *$1@" "$WORK/ward/stdout.txt" | sed 's/.*password: //'; }
ERIC=eric.brown@greenstonechambers.co.uk.cjsm.net
ANNA=anna.jones@greenstonechambers.co.uk.cjsm.net
ERIC_PW=$(password_of eric.brown)
ANNA_PW=$(password_of anna.jones)
[ -n "$ERIC_PW" ] && [ -n "$ANNA_PW" ] || die "no demo passwords on ward's stdout"
WARD_CERT=$WORK/ward/data/tls/cert.pem

# ---- Dovecot (private instance) -----------------------------------------

DV=$WORK/dovecot
mkdir -p "$DV/run" "$DV/state" "$DV/home/bench" "$DV/home/big"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
chown -R "$NOBODY_UID:$NOBODY_GID" "$DV/home"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$DV/key.pem" -out "$DV/cert.pem" 2>/dev/null
DV_PASS=benchpass
if [ "$DOVECOT_SCHEME" = PLAIN ]; then
    DV_HASH="{PLAIN}$DV_PASS"
else
    DV_HASH=$(doveadm pw -s "$DOVECOT_SCHEME" -p "$DV_PASS")
fi
{
    echo "bench:$DV_HASH:$NOBODY_UID:$NOBODY_GID::$DV/home/bench::"
    echo "big:$DV_HASH:$NOBODY_UID:$NOBODY_GID::$DV/home/big::"
} >"$DV/users"
chmod 644 "$DV/users"
DV_PROCS=$(( IDLE + 300 ))
cat >"$DV/dovecot.conf" <<EOF
# Private benchmark instance; see tools/bench-imap.sh.
base_dir = $DV/run
state_dir = $DV/state
instance_name = ward-bench-dovecot
listen = 127.0.0.1
protocols = imap
log_path = $DV/dovecot.log
info_log_path = $DV/info.log
ssl = required
ssl_cert = <$DV/cert.pem
ssl_key = <$DV/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = $DV/users
}
userdb {
  driver = passwd-file
  args = $DV/users
}
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:~/Maildir
# As on Ward, an APPEND's OK means the message is on disk.
mail_fsync = always
default_client_limit = $(( DV_PROCS * 2 ))
default_process_limit = $DV_PROCS
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $DOVECOT_PORT
    ssl = yes
  }
  process_limit = $DV_PROCS
  client_limit = $(( DV_PROCS * 2 ))
}
service imap {
  process_limit = $DV_PROCS
}
service anvil {
  client_limit = $(( DV_PROCS * 3 ))
}
protocol imap {
  mail_max_userip_connections = $(( IDLE + 1000 ))
}
EOF
say "starting dovecot -c $DV/dovecot.conf"
/usr/sbin/dovecot -c "$DV/dovecot.conf" -F </dev/null >"$DV/stdout.txt" 2>&1 &
DOVECOT_PID=$!
for _ in $(seq 40); do ss -ltn | grep -q "127.0.0.1:$DOVECOT_PORT " && break; sleep 0.5; done
kill -0 "$DOVECOT_PID" 2>/dev/null || die "dovecot exited: $(cat "$DV/stdout.txt"; tail -5 "$DV/dovecot.log" 2>/dev/null)"
ss -ltn | grep -q "127.0.0.1:$DOVECOT_PORT " || die "dovecot does not listen on $DOVECOT_PORT"

# ---- Helpers --------------------------------------------------------------

ward_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$WARD_PID/status"; }
# Sums over the imap and imap-login children of our Dovecot master: VmRSS
# (counts shared pages once per process) and Pss (shares them out).
dovecot_mem() {
    local rss=0 pss=0 n=0 pid comm r p
    for pid in $(pgrep -P "$DOVECOT_PID" || true); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        case $comm in imap | imap-login) ;; *) continue ;; esac
        r=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        p=$(awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        rss=$(( rss + ${r:-0} )); pss=$(( pss + ${p:-0} )); n=$(( n + 1 ))
    done
    echo "$n $rss $pss"
}
ward_pss() { awk '$1 == "Pss:" { print $2 }' "/proc/$WARD_PID/smaps_rollup"; }

# Sets WHO to imap-load's server and login options for SERVER.
who_is() {
    case $1 in
        ward-eric) WHO=(--port "$WARD_IMAPS" --ca-file "$WARD_CERT" --user "$ERIC" --password "$ERIC_PW") ;;
        ward-anna) WHO=(--port "$WARD_IMAPS" --ca-file "$WARD_CERT" --user "$ANNA" --password "$ANNA_PW") ;;
        dovecot-bench) WHO=(--port "$DOVECOT_PORT" --ca-file "$DV/cert.pem" --user bench --password "$DV_PASS") ;;
        dovecot-big) WHO=(--port "$DOVECOT_PORT" --ca-file "$DV/cert.pem" --user big --password "$DV_PASS") ;;
        *) die "unknown server $1" ;;
    esac
}

# Runs imap-load against one server; keeps and shows its full output.
# load NAME SERVER ARGS...: SERVER as for who_is.
load() {
    local out=$WORK/$1.txt server=$2
    shift 2
    who_is "$server"
    say "$server: imap-load $*"
    timeout $(( MAX_SECONDS + 400 )) "$LOAD" "${WHO[@]}" --max-seconds "$MAX_SECONDS" "$@" \
        >"$out" 2>&1 || say "imap-load exit status $? ($server)"
    sed 's/^/    /' "$out" >&2
}
ops_of() { sed -n 's/^operations per second: //p' "$WORK/$1.txt"; }
secs_of() { sed -n 's/^seconds: //p' "$WORK/$1.txt"; }
failures_of() {
    awk '/^failed \(/ { n += substr($2, 2) + 0 } /^imap-load: / { n++ } END { print n + 0 }' "$WORK/$1.txt"
}
median_of() { sed -n 's/^median select+fetch-all seconds: //p' "$WORK/$1.txt"; }
first_of() { sed -n 's/^select+fetch-all run 1: \([0-9.]*\) s/\1/p' "$WORK/$1.txt"; }
ratio() { awk -v w="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.2f", w / p; else print "n/a" }'; }
mb() { awk -v k="$1" 'BEGIN { if (k != "") printf "%.1f", k / 1024; else print "?" }'; }

# Holds IDLE sessions on SERVER while MEASURE (a command) is run once they
# are all in IDLE; sets HELD and MEASURED.
hold_idle() {
    local server=$1 measure=$2 out=$WORK/idle-$1.txt
    who_is "$server"
    say "$server: opening $IDLE sessions in IDLE"
    "$LOAD" "${WHO[@]}" --idle "$IDLE" --idle-seconds "$IDLE_SECONDS" \
        --max-seconds "$MAX_SECONDS" >"$out" 2>&1 &
    IDLE_PID=$!
    MEASURED=
    for _ in $(seq $(( MAX_SECONDS * 2 ))); do
        if grep -q '^holding' "$out"; then sleep 2; MEASURED=$($measure); break; fi
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.5
    done
    wait "$IDLE_PID" || say "imap-load exit status $? ($server idle)"
    IDLE_PID=
    sed 's/^/    /' "$out" >&2
    HELD=$(sed -n 's/^holding \([0-9]*\) sessions.*/\1/p' "$out")
}

# ---- 1. The same messages in both ------------------------------------------

STARTED=$(date +%s)
load pop-ward ward-eric --populate "$MESSAGES" --size "$SIZE" --concurrency 10
load pop-dovecot dovecot-bench --populate "$MESSAGES" --size "$SIZE" --concurrency 10
sleep 2

# ---- 2. Idle sessions ------------------------------------------------------

RSS_FRESH=$(ward_kb VmRSS)
PSS_FRESH=$(ward_pss)
ward_measure() { echo "$(ward_kb VmRSS) $(ward_pss)"; }
hold_idle ward-eric ward_measure
W_HELD=${HELD:-0}
read -r RSS_IDLE PSS_IDLE <<<"${MEASURED:-? ?}"
sleep 3
RSS_AFTER_IDLE=$(ward_kb VmRSS)

read -r DV_N0 DV_RSS0 DV_PSS0 <<<"$(dovecot_mem)"
hold_idle dovecot-bench dovecot_mem
D_HELD=${HELD:-0}
read -r DV_N1 DV_RSS1 DV_PSS1 <<<"${MEASURED:-? ? ?}"
# Dovecot's processes exit as the sessions close.
for _ in $(seq 60); do
    [ "$(dovecot_mem | cut -d' ' -f1)" -le "$(( DV_N0 + 2 ))" ] && break
    sleep 0.5
done
sleep 2

# ---- 3. Mixed workload -------------------------------------------------------

declare -A W_OPS D_OPS W_FAIL D_FAIL
for c in $CONCURRENCIES; do
    load "mixed-ward-c$c" ward-eric --mixed "$MIXED_OPS" --concurrency "$c" --size "$SIZE"
    W_OPS[$c]=$(ops_of "mixed-ward-c$c"); W_FAIL[$c]=$(failures_of "mixed-ward-c$c")
    sleep 2
    load "mixed-dovecot-c$c" dovecot-bench --mixed "$MIXED_OPS" --concurrency "$c" --size "$SIZE"
    D_OPS[$c]=$(ops_of "mixed-dovecot-c$c"); D_FAIL[$c]=$(failures_of "mixed-dovecot-c$c")
    sleep 2
done
RSS_MIXED=$(ward_kb VmRSS)

# ---- 4. The large mailbox ------------------------------------------------------

load big-ward ward-anna --populate "$BIG" --size "$BIG_SIZE" \
    --concurrency "$POP_CONCURRENCY" --reply-timeout 120
if [ "$DOVECOT_BIG_BY_APPEND" = 1 ]; then
    load big-dovecot dovecot-big --populate "$BIG" --size "$BIG_SIZE" \
        --concurrency "$POP_CONCURRENCY" --reply-timeout 120
    DV_BIG_HOW="APPENDed over $POP_CONCURRENCY sessions: $(ops_of big-dovecot)/s in $(secs_of big-dovecot) s ($(failures_of big-dovecot) failures)"
else
    # Dovecot APPENDs to one maildir at a few dozen per second here (each
    # waits for the uidlist lock and several fsyncs), so the same messages
    # are written straight into the maildir (LF line ends, as Dovecot stores
    # them, with S= and W= sizes in the names) and the first SELECT indexes
    # them; that first run is reported apart.
    say "dovecot-big: writing $BIG messages into the maildir"
    t0=$(date +%s.%N)
    mkdir -p "$DV/home/big/Maildir/cur" "$DV/home/big/Maildir/new" "$DV/home/big/Maildir/tmp"
    timeout 600 awk -v n="$BIG" -v size="$BIG_SIZE" -v dir="$DV/home/big/Maildir/cur" -v now="$(date +%s)" '
    BEGIN {
        line = "The quick brown fox jumps over the lazy dog; case papers follow.\r\n"
        for (i = 0; i < n; i++) {
            # The message imap-load --populate would APPEND (message() in
            # tools/imap-load/src/workload.rs).
            m = "From: Load Tool <load@example.cjsm.net>\r\nTo: Reader <reader@example.cjsm.net>\r\n" \
                "Subject: load message " i "\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n" \
                "Message-ID: <load." i ".0@imap-load>\r\nMIME-Version: 1.0\r\n" \
                "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            while (length(m) + length(line) <= size) m = m line
            while (length(m) < size - 2) m = m "x"
            m = m "\r\n"
            crlf = length(m)
            gsub(/\r\n/, "\n", m)
            f = dir "/" (now + 0) "." "M" i "P" n ".bench,S=" length(m) ",W=" crlf ":2,"
            printf "%s", m > f
            close(f)
        }
    }' || die "could not write the maildir"
    chown -R "$NOBODY_UID:$NOBODY_GID" "$DV/home/big"
    DV_BIG_HOW="written into the maildir in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, indexed by the first SELECT"
fi
sleep 2
# One unmeasured SELECT + FETCH on each first (on Dovecot, after writing
# the maildir directly, it builds the index), then the measured runs.
load select1-ward ward-anna --select-all 1 --reply-timeout 300
load select1-dovecot dovecot-big --select-all 1 --reply-timeout 300
load select-ward ward-anna --select-all "$SELECT_RUNS" --reply-timeout 300
load select-dovecot dovecot-big --select-all "$SELECT_RUNS" --reply-timeout 300
RSS_END=$(ward_kb VmRSS)
HWM_END=$(ward_kb VmHWM)
FINISHED=$(date +%s)

# The disk's own pace: 1,000 synchronous 4 KiB writes in the work folder.
FSYNC_RATE=$(dd if=/dev/zero of="$WORK/dsync.probe" bs=4k count=1000 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int(1000 / $(i - 1)) }')
rm -f "$WORK/dsync.probe"

# ---- Report --------------------------------------------------------------

WARD_LOG_LINES=$(grep -c . "$WORK/ward/ward.log" || true)
DV_ERRORS=$(grep -ciE 'error|panic|fatal' "$DV/dovecot.log" 2>/dev/null || true)
echo
echo "IMAP over implicit TLS, loopback, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'); run took $(( FINISHED - STARTED )) s"
echo "Dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1), password scheme $DOVECOT_SCHEME, mail_fsync = always, maildir"
echo
echo "Populate: $MESSAGES messages of $SIZE octets over 10 sessions:" \
    "Ward $(ops_of pop-ward) APPEND/s ($(failures_of pop-ward) failures)," \
    "Dovecot $(ops_of pop-dovecot) APPEND/s ($(failures_of pop-dovecot) failures)"
echo
echo "Mixed workload, $MIXED_OPS operations per run:"
echo
echo "| sessions | Ward ops/s | Dovecot ops/s | Ward / Dovecot | failures (Ward / Dovecot) |"
echo "|---:|---:|---:|---:|---:|"
for c in $CONCURRENCIES; do
    echo "| $c | ${W_OPS[$c]:-?} | ${D_OPS[$c]:-?} | $(ratio "${W_OPS[$c]:-0}" "${D_OPS[$c]:-0}") | ${W_FAIL[$c]} / ${D_FAIL[$c]} |"
done
echo
echo "Sessions in IDLE (SELECT INBOX of $MESSAGES, then IDLE): Ward held $W_HELD of $IDLE, Dovecot $D_HELD of $IDLE"
echo
echo "| memory | Ward VmRSS | Ward PSS | Dovecot imap + imap-login RSS sum | PSS sum | processes |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| before (after the populate) | $(mb "$RSS_FRESH") MB | $(mb "$PSS_FRESH") MB | $(mb "$DV_RSS0") MB | $(mb "$DV_PSS0") MB | $DV_N0 |"
echo "| with the sessions in IDLE | $(mb "$RSS_IDLE") MB | $(mb "$PSS_IDLE") MB | $(mb "$DV_RSS1") MB | $(mb "$DV_PSS1") MB | $DV_N1 |"
echo "| Ward after they closed | $(mb "$RSS_AFTER_IDLE") MB | | | | |"
echo "| Ward after the mixed runs | $(mb "$RSS_MIXED") MB | | | | |"
echo "| Ward at the end (peak VmHWM) | $(mb "$RSS_END") MB ($(mb "$HWM_END") MB) | | | | |"
echo
echo "Large mailbox: $BIG messages of $BIG_SIZE octets. Ward: APPENDed over $POP_CONCURRENCY sessions:" \
    "$(ops_of big-ward)/s in $(secs_of big-ward) s ($(failures_of big-ward) failures). Dovecot: $DV_BIG_HOW."
echo
echo "| SELECT + FETCH 1:* (UID FLAGS) | Ward | Dovecot | Ward / Dovecot |"
echo "|---|---:|---:|---:|"
echo "| median of $SELECT_RUNS runs | $(median_of select-ward) s | $(median_of select-dovecot) s | $(ratio "$(median_of select-ward)" "$(median_of select-dovecot)") |"
echo "| first of the $SELECT_RUNS | $(first_of select-ward) s | $(first_of select-dovecot) s | $(ratio "$(first_of select-ward)" "$(first_of select-dovecot)") |"
echo "| unmeasured run before them (Dovecot: indexing) | $(first_of select1-ward) s | $(first_of select1-dovecot) s | |"
echo "| failures | $(( $(failures_of select1-ward) + $(failures_of select-ward) )) | $(( $(failures_of select1-dovecot) + $(failures_of select-dovecot) )) | |"
echo
echo "Disk: about ${FSYNC_RATE:-?} synchronous 4 KiB writes per second (dd oflag=dsync) at the end; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Ward's log (level warn): $WARD_LOG_LINES lines; Dovecot's log: $DV_ERRORS lines with error/panic/fatal."
if [ "$WARD_LOG_LINES" -gt 0 ]; then
    echo "Ward's log, first 20 lines:"
    head -20 "$WORK/ward/ward.log" | sed 's/^/    /'
fi
if [ "${DV_ERRORS:-0}" -gt 0 ]; then
    echo "Dovecot's log, first 20 such lines:"
    grep -iE 'error|panic|fatal' "$DV/dovecot.log" | head -20 | sed 's/^/    /'
fi
