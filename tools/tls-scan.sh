#!/usr/bin/env bash
# Grades Ward's TLS with testssl.sh (Debian package `testssl.sh`) on every
# listener: the implicit-TLS ports directly, the STARTTLS ports with
# `--starttls smtp` / `--starttls imap`. Ward runs on loopback with a
# certificate for "localhost" from a throwaway CA (passed to testssl with
# --add-ca), as a production certificate from a public CA would be trusted.
# Prints each finding rated LOW or worse, per listener.
#
#   cargo build -p ward && tools/tls-scan.sh
#
# Environment: WARD_BIN (target/debug/ward), PORT_BASE (13000), KEEP=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARD=${WARD_BIN:-$ROOT/target/debug/ward}
BASE=${PORT_BASE:-13000}
command -v testssl >/dev/null || { echo "apt-get install testssl.sh" >&2; exit 1; }
[ -x "$WARD" ] || { echo "no $WARD: cargo build -p ward" >&2; exit 1; }
WORK=$(mktemp -d /tmp/ward-tls-scan.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 30 -subj "/CN=Ward scan CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out leaf.key
openssl req -new -key leaf.key -out leaf.csr -subj /CN=localhost
cat > leaf.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost
crlDistributionPoints=URI:http://ca.example.invalid/scan.crl
authorityInfoAccess=OCSP;URI:http://ocsp.example.invalid/
EXT
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem \
    -days 365 -extfile leaf.ext 2>/dev/null
cat > ward.toml <<CONF
[server]
hostname = "localhost"
data_dir = "$WORK/data"
[tls]
certificate = "$WORK/leaf.pem"
private_key = "$WORK/leaf.key"
[listen]
smtp = ["127.0.0.1:$((BASE + 25))"]
submission = ["127.0.0.1:$((BASE + 587))"]
submissions = ["127.0.0.1:$((BASE + 465))"]
imap = ["127.0.0.1:$((BASE + 143))"]
imaps = ["127.0.0.1:$((BASE + 993))"]
[admin]
socket = "$WORK/admin.sock"
CONF
"$WARD" serve --config ward.toml > ward.log 2>&1 &
PID=$!
for _ in $(seq 100); do [ -S admin.sock ] && break; sleep 0.1; done
for spec in "submissions $((BASE + 465))" "imaps $((BASE + 993))" \
            "smtp $((BASE + 25)) smtp" "submission $((BASE + 587)) smtp" "imap $((BASE + 143)) imap"; do
    set -- $spec
    extra=(); [ -n "${3:-}" ] && extra=(--starttls "$3")
    timeout 900 testssl --quiet --color 0 --add-ca ca.pem --ip 127.0.0.1 "${extra[@]}" \
        --jsonfile "$1.json" --warnings batch "localhost:$2" > "$1.txt" 2>&1 || true
    python3 - "$1" <<'PY'
import json, sys
from collections import Counter
name = sys.argv[1]
findings = json.load(open(f"{name}.json"))
counts = Counter(f["severity"] for f in findings)
print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
for f in findings:
    if f["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN"):
        print(f"    {f['severity']:<8} {f['id']}: {f['finding'][:100]}")
PY
done
