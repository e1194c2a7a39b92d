#!/usr/bin/env bash
# `vigil-collector init`: the PKI checked with the openssl command line, file modes, the CA pin,
# and a collector.yaml that check-config accepts.
set -euo pipefail
collector=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$collector" init --dir "$tmp/c" --host collector.example.gov.vn --host 127.0.0.1 \
      --agents-listen 127.0.0.1:18443 --console-listen 127.0.0.1:19443)
echo "$out"
pin=$(echo "$out" | sed -n 's/^ca-pin: //p')
[[ "$pin" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "ca-pin line: '$pin'"

# The pin is the SHA-256 of the CA's SubjectPublicKeyInfo in DER.
want=$(openssl x509 -in "$tmp/c/pki/ca.crt" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
[ "$pin" = "sha256:$want" ] || fail "pin $pin != sha256:$want"

openssl verify -CAfile "$tmp/c/pki/ca.crt" "$tmp/c/pki/server.crt" | grep -q ': OK' || fail "server cert does not verify"
sans=$(openssl x509 -in "$tmp/c/pki/server.crt" -noout -ext subjectAltName)
echo "$sans" | grep -q "DNS:collector.example.gov.vn" || fail "SAN DNS missing: $sans"
echo "$sans" | grep -q "IP Address:127.0.0.1" || fail "SAN IP missing: $sans"
openssl x509 -in "$tmp/c/pki/server.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Server Authentication" \
  || fail "server EKU"
openssl x509 -in "$tmp/c/pki/ca.crt" -noout -ext basicConstraints | grep -q "CA:TRUE" || fail "CA basicConstraints"
# Keys match their certificates.
[ "$(openssl x509 -in "$tmp/c/pki/server.crt" -noout -pubkey)" = "$(openssl pkey -in "$tmp/c/pki/server.key" -pubout)" ] \
  || fail "server key does not match its certificate"

for f in pki/ca.key pki/server.key vigilctl.yaml pki/admin-token.sha256 pki/bundle-signing.key; do
  [ "$(stat -c %a "$tmp/c/$f")" = "600" ] || fail "$f mode $(stat -c %a "$tmp/c/$f"), wanted 600"
done
grep -q "^console: https://collector.example.gov.vn:19443$" "$tmp/c/vigilctl.yaml" || fail "vigilctl console URL"
token=$(sed -n 's/^token: //p' "$tmp/c/vigilctl.yaml")
[ ${#token} -ge 40 ] || fail "admin token too short"
[ "$(cat "$tmp/c/pki/admin-token.sha256")" = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" ] || fail "token hash"
grep -q "$token" "$tmp/c/collector.yaml" && fail "token leaked into collector.yaml"

"$collector" check-config -c "$tmp/c/collector.yaml" || fail "init's collector.yaml rejected"

# The bundle signing key: Ed25519, its public half beside it; 'signing-key create' keeps it, and
# makes one for a PKI from before (as a package upgrade does).
openssl pkey -in "$tmp/c/pki/bundle-signing.key" -noout -text | grep -q "ED25519" || fail "signing key is not Ed25519"
[ "$(openssl pkey -in "$tmp/c/pki/bundle-signing.key" -pubout)" = "$(cat "$tmp/c/pki/bundle-signing.pub")" ] \
  || fail "bundle-signing.pub is not the signing key's public half"
before=$(sha256sum < "$tmp/c/pki/bundle-signing.key")
"$collector" signing-key create --dir "$tmp/c" | grep -q "exists already" || fail "signing-key create on a key"
[ "$before" = "$(sha256sum < "$tmp/c/pki/bundle-signing.key")" ] || fail "signing-key create replaced the key"
rm "$tmp/c/pki/bundle-signing.key" "$tmp/c/pki/bundle-signing.pub"
"$collector" signing-key create -c "$tmp/c/collector.yaml" | grep -q "written" || fail "signing-key create"
[ "$(stat -c %a "$tmp/c/pki/bundle-signing.key")" = "600" ] || fail "new signing key mode"
if "$collector" signing-key create --dir "$tmp/nothing" 2>"$tmp/err"; then fail "signing-key create without a PKI"; fi
grep -q "init" "$tmp/err" || fail "signing-key create without a PKI: message"

# A second init refuses to replace the CA without --force.
if "$collector" init --dir "$tmp/c" >/dev/null 2>"$tmp/err"; then fail "second init replaced the CA"; fi
grep -q -- "--force" "$tmp/err" || fail "second init message"
"$collector" init --dir "$tmp/c" --force | grep -q '^ca-pin: sha256:' || fail "init --force"
echo "collector_init: all checks passed"
