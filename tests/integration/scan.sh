#!/usr/bin/env bash
# `vigil-agent scan` contract (shared/DESIGN.md): one JSON document {policy, root, level, results,
# summary}, exit 0 when nothing fails, 2 when a check fails, 1 on error; --level, --format text,
# and the shipped baseline loading with its catalogues.
set -euo pipefail
agent=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { set +e; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }

mkdir -p "$tmp/rules/policies" "$tmp/rules/frameworks" "$tmp/root/etc/ssh" "$tmp/root/proc/sys/net/ipv4"
cat >"$tmp/rules/frameworks/fw.yaml" <<'YAML'
framework: {id: fw, title: Test}
controls:
  - {id: ssh, title: SSH, group: server, levels: [1, 2, 3, 4, 5], verified: true}
YAML
cat >"$tmp/rules/policies/p.yaml" <<'YAML'
policy: {id: test-policy, title: Test policy, version: "2"}
checks:
  - id: root-login
    title: SSH root login is disabled
    rationale: r
    remediation: m
    level: 1
    compliance: {fw: [ssh]}
    condition:
      setting: {path: /etc/ssh/sshd_config, format: sshd, key: PermitRootLogin, value: "no", default: prohibit-password}
  - id: forwarding
    title: {vi: "Chuyển tiếp IPv4 bị tắt", en: IPv4 forwarding is off}
    rationale: r
    remediation: {vi: "Đặt net.ipv4.ip_forward = 0", en: "Set net.ipv4.ip_forward = 0"}
    level: 3
    compliance: {fw: ssh}
    condition:
      sysctl: {key: net.ipv4.ip_forward, value: 0}
YAML
printf 'PermitRootLogin no\n' >"$tmp/root/etc/ssh/sshd_config"
printf '0\n' >"$tmp/root/proc/sys/net/ipv4/ip_forward"
echo scanned-host >"$tmp/root/etc/hostname"

# Everything passes: exit 0, the document as specified.
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root"
[ "$rc" -eq 0 ] || { cat "$tmp/err"; fail "passing scan: exit $rc"; }
python3 - "$tmp/out" "$tmp/root" <<'PY' || fail "passing scan document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["policy"] == "test-policy", d["policy"]
assert d["root"] == sys.argv[2], d["root"]
assert d["level"] is None
assert d["summary"] == {"pass": 2, "fail": 0, "error": 0, "not_applicable": 0, "score": 1.0}, d["summary"]
r = d["results"][0]
assert r["event"]["kind"] == "state" and r["event"]["dataset"] == "compliance.check", r["event"]
assert r["rule"] == {"id": "root-login", "name": "SSH root login is disabled"}, r["rule"]
assert r["vigil"]["check"]["result"] == "pass"
assert "sshd_config:1: PermitRootLogin no" in r["vigil"]["check"]["evidence"], r["vigil"]["check"]["evidence"]
assert r["vigil"]["check"]["level"] == 1 and r["vigil"]["policy"]["id"] == "test-policy"
assert r["vigil"]["compliance"]["fw"] == ["ssh"]
assert r["host"]["name"] == "scanned-host"
assert r["@timestamp"] and r["event"]["id"]
PY

# One check fails: exit 2, evidence is the offending value.
printf '1\n' >"$tmp/root/proc/sys/net/ipv4/ip_forward"
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root"
[ "$rc" -eq 2 ] || fail "failing scan: exit $rc, wanted 2"
python3 - "$tmp/out" <<'PY' || fail "failing scan document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["summary"]["fail"] == 1 and d["summary"]["score"] == 0.5, d["summary"]
r = [x for x in d["results"] if x["rule"]["id"] == "forwarding"][0]
assert r["vigil"]["check"]["result"] == "fail"
assert r["vigil"]["check"]["evidence"] == "net.ipv4.ip_forward = 1 (expected == 0)", r["vigil"]["check"]["evidence"]
PY

# --level 2 leaves out the level-3 check: nothing fails.
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --level 2
[ "$rc" -eq 0 ] || fail "--level 2: exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["level"]==2 and len(d["results"])==1, d' "$tmp/out" \
  || fail "--level 2 document"

# A file that cannot be read: error, exit 1, never pass.
rm "$tmp/root/etc/ssh/sshd_config" && mkdir "$tmp/root/etc/ssh/sshd_config"
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --level 1
[ "$rc" -eq 1 ] || fail "unreadable file: exit $rc, wanted 1"
grep -q '"result": "error"' "$tmp/out" || fail "unreadable file: no error result"

# Text format.
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --format text
grep -q "^FAIL *forwarding (level 3) IPv4 forwarding is off$" "$tmp/out" || { cat "$tmp/out"; fail "text format"; }
grep -q "^    fix: Set net.ipv4.ip_forward = 0$" "$tmp/out" || { cat "$tmp/out"; fail "text format: remediation"; }
# In Vietnamese: the words, the titles and the remediation (a plain string serves both languages).
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --format text --lang vi
[ "$rc" -eq 2 ] || fail "text format in Vietnamese: exit $rc"
grep -q "^KHÔNG ĐẠT *forwarding (cấp độ 3) Chuyển tiếp IPv4 bị tắt$" "$tmp/out" || { cat "$tmp/out"; fail "vi text format"; }
grep -q "^    khắc phục: Đặt net.ipv4.ip_forward = 0$" "$tmp/out" || { cat "$tmp/out"; fail "vi remediation"; }
grep -q "^LỖI *root-login (cấp độ 1) SSH root login is disabled$" "$tmp/out" || { cat "$tmp/out"; fail "vi plain title"; }
grep -q "^đạt 0, không đạt 1, lỗi 1, không áp dụng 0, điểm 0.000$" "$tmp/out" || { cat "$tmp/out"; fail "vi summary"; }
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --format text --lang fr
[ "$rc" -ne 0 ] && grep -q "lang" "$tmp/err" || fail "--lang fr accepted"

# JSON lines: the same results, one compliance.check event per line (what the inbox takes).
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root"
cp "$tmp/out" "$tmp/doc.json"
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root" --format jsonl
python3 - "$tmp/doc.json" "$tmp/out" <<'PY' || fail "jsonl format"
import json, sys
doc = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(lines) == len(doc["results"]), (len(lines), len(doc["results"]))
assert all(l["event"]["dataset"] == "compliance.check" for l in lines)
assert [l["rule"]["id"] for l in lines] == [r["rule"]["id"] for r in doc["results"]]
assert [l["vigil"]["check"]["result"] for l in lines] == [r["vigil"]["check"]["result"] for r in doc["results"]]
# Both languages travel: the Vietnamese beside the English where they differ.
fwd = next(l for l in lines if l["rule"]["id"] == "forwarding")
assert fwd["rule"]["name"] == "IPv4 forwarding is off" and fwd["vigil"]["rule"]["name_vi"] == "Chuyển tiếp IPv4 bị tắt", fwd
assert fwd["vigil"]["check"]["remediation_vi"] == "Đặt net.ipv4.ip_forward = 0", fwd
root = next(l for l in lines if l["rule"]["id"] == "root-login")
assert "rule" not in root["vigil"], root
PY

# An invalid policy: exit 1 with file:line:column.
sed -i 's/compliance: {fw: ssh}/compliance: {fw: shh}/' "$tmp/rules/policies/p.yaml"
run "$agent" scan --policy "$tmp/rules/policies/p.yaml" --root "$tmp/root"
[ "$rc" -eq 1 ] || fail "invalid policy: exit $rc"
grep -q "p.yaml:16:22: error: forwarding.compliance.fw: unknown control 'shh'" "$tmp/err" || { cat "$tmp/err"; fail "invalid policy message"; }

# The shipped baseline loads with its catalogues and scans an empty image (errors, exit 2 or 1, valid JSON).
mkdir -p "$tmp/empty"
run "$agent" scan --policy "$src/rules/policies/debian-baseline.yaml" --root "$tmp/empty"
[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || { cat "$tmp/err"; fail "baseline on empty root: exit $rc"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["results"])>=60 and d["summary"]["pass"]<len(d["results"]), d["summary"]' \
  "$tmp/out" || fail "baseline document"
run "$agent" scan --policy "$src/rules/policies/debian-baseline.yaml" --root "$tmp/empty" --format text --lang vi
grep -q "^chính sách debian-baseline .*thư mục gốc" "$tmp/out" || { head -3 "$tmp/out"; fail "baseline in Vietnamese"; }
grep -q "ssh-permit-root-login (cấp độ 1) Đăng nhập" "$tmp/out" || { grep ssh-permit-root "$tmp/out"; fail "baseline titles in Vietnamese"; }
echo "scan: all checks passed"
