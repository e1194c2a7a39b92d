#!/usr/bin/env python3
"""`vigil-agent fim baseline` / `fim check` contract (shared/DESIGN.md "File integrity"): a baseline
of a temporary tree, changes of every kind, exactly the expected JSON lines and exit 2; an unchanged
tree exits 0 with no output; a damaged or missing baseline exits 1 naming FILE:LINE.

Usage: fim_cli.py VIGIL_AGENT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

AGENT = sys.argv[1]


def fail(msg, proc=None):
    if proc is not None:
        sys.stderr.write(f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n")
    sys.exit(f"FAIL: {msg}")


def run(*args):
    return subprocess.run([AGENT, "fim", *args], capture_output=True, text=True, timeout=120)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-fim-")
    try:
        check_cli(tmp)
        check_diffs(os.path.join(tmp, "diffs"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("fim_cli: OK")


def check_diffs(tmp):
    """--diff keeps small text files (secrets aside); a check shows what changed inside them."""
    etc = os.path.join(tmp, "etc")
    sudoers = "Defaults env_reset\n" + "".join(f"# line {i}\n" for i in range(10)) + "root ALL=(ALL:ALL) ALL\n"
    write(f"{etc}/sudoers.d/admins", sudoers)
    write(f"{etc}/shadow", "root:$y$j9T$old:19000:0:99999:7:::\n", 0o600)
    write(f"{etc}/ssl/private/site.key", "-----BEGIN PRIVATE KEY-----\nold\n")
    with open(f"{etc}/blob.bin", "wb") as f:
        f.write(b"\x00\x01binary")
    base = os.path.join(tmp, "baseline")
    p = run("baseline", "--path", etc, "--out", base, "--diff")
    if p.returncode != 0 or "1 text files kept" not in p.stderr:
        fail("baseline --diff", p)
    kept = os.listdir(base + ".content")
    if len(kept) != 1 or oct(os.stat(base + ".content").st_mode & 0o777) != "0o700":
        fail(f"kept contents: {kept}", p)
    write(f"{etc}/sudoers.d/admins", sudoers.replace("root ALL=(ALL:ALL) ALL", "intruder ALL=(ALL) NOPASSWD: ALL"))
    write(f"{etc}/shadow", "root:$y$j9T$new:19000:0:99999:7:::\n", 0o600)
    write(f"{etc}/ssl/private/site.key", "-----BEGIN PRIVATE KEY-----\nnew\n")
    p = run("check", "--baseline", base)
    if p.returncode != 2:
        fail("check after changes", p)
    events = {e["file"]["path"]: e for e in map(json.loads, p.stdout.splitlines())}
    admins = events.get(f"{etc}/sudoers.d/admins")
    want = (f"--- a{etc}/sudoers.d/admins\n+++ b{etc}/sudoers.d/admins\n@@ -9,4 +9,4 @@\n # line 7\n # line 8\n"
            " # line 9\n-root ALL=(ALL:ALL) ALL\n+intruder ALL=(ALL) NOPASSWD: ALL\n")
    if not admins or admins.get("vigil", {}).get("fim", {}).get("diff") != want:
        fail(f"the sudoers change's diff: {admins}", p)
    for secret in (f"{etc}/shadow", f"{etc}/ssl/private/site.key"):
        e = events.get(secret)
        if not e or "diff" in e.get("vigil", {}).get("fim", {}) or "new" in json.dumps(e):
            fail(f"a secret's change shows its content: {e}", p)


def check_cli(tmp):
    www = os.path.join(tmp, "www")
    etc = os.path.join(tmp, "etc")
    write(f"{www}/index.html", "<h1>Welcome</h1>\n")
    write(f"{www}/old.php", "<?php echo 'old';\n")
    write(f"{www}/gone.txt", "bye\n")
    write(f"{www}/owned.txt", "mine\n")
    write(f"{www}/app.log", "GET /\n")
    write(f"{www}/cache/page.html", "cached\n")
    write(f"{etc}/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    os.symlink("passwd", f"{etc}/link")
    base = os.path.join(tmp, "state", "baseline")
    os.makedirs(os.path.dirname(base))
    walk = ["--path", www, "--path", etc, "--ignore", "*.log", "--ignore", "cache/**"]

    p = run("baseline", *walk, "--out", base)
    if p.returncode != 0 or not os.path.exists(base):
        fail(f"baseline: exit {p.returncode}", p)
    if oct(os.stat(base).st_mode & 0o777) != "0o600":
        fail("baseline file is not 0600")
    if "entries" not in p.stderr:
        fail("baseline prints no summary", p)

    # Unchanged: exit 0, nothing on stdout; without --path the baseline's roots (and globs) are used.
    for args in (walk, []):
        p = run("check", *args, "--baseline", base)
        if p.returncode != 0 or p.stdout != "":
            fail(f"unchanged tree ({args}): exit {p.returncode}", p)

    # Changes of every kind.
    write(f"{www}/index.html", "<h1>Hacked by nobody</h1>\n")
    os.utime(f"{www}/index.html", (1_700_000_000, 1_700_000_000))
    os.chmod(f"{etc}/passwd", 0o666)
    os.remove(f"{www}/gone.txt")
    os.rename(f"{www}/old.php", f"{www}/new.php")
    write(f"{www}/shell.php", "<?php system($_GET['c']);\n")
    write(f"{www}/a/b/c/deep.php", "<?php\n")
    write(f"{www}/app.log", "POST /shell.php\n")  # ignored
    write(f"{www}/cache/page.html", "changed\n")  # ignored
    os.remove(f"{etc}/link")
    os.symlink("/etc/shadow", f"{etc}/link")
    as_root = os.geteuid() == 0
    if as_root:
        os.chown(f"{www}/owned.txt", 1234, 5678)

    out_file = os.path.join(tmp, "changes.jsonl")
    p = run("check", *walk, "--baseline", base, "--out", out_file)
    if p.returncode != 2:
        fail(f"changed tree: exit {p.returncode}, wanted 2", p)
    with open(out_file) as f:
        lines = f.read().splitlines()
    p2 = run("check", *walk, "--baseline", base, "--out", "-")
    if p2.returncode != 2 or len(p2.stdout.splitlines()) != len(lines):
        fail("--out - differs from --out FILE", p2)

    events = [json.loads(line) for line in lines]
    got = []
    for e in events:
        if e["event"]["dataset"] != "file.integrity" or e["event"]["kind"] != "event":
            fail(f"dataset/kind: {e}")
        if e["event"]["category"] != ["file"] or len(e["event"]["type"]) != 1:
            fail(f"category/type: {e}")
        if not e["file"]["path"].startswith("/") or len(e["event"]["id"]) != 26 or "@timestamp" not in e:
            fail(f"path/id/timestamp: {e}")
        changed = e.get("vigil", {}).get("fim", {}).get("changed", [])
        # The inode of a recreated symlink may be the one just freed: not part of the contract.
        if e["file"]["type"] == "symlink":
            changed = [c for c in changed if c != "inode"]
        got.append((e["event"]["type"][0], os.path.relpath(e["file"]["path"], tmp), tuple(changed)))
    want = [
        ("creation", "www/a", ()),
        ("creation", "www/a/b", ()),
        ("creation", "www/a/b/c", ()),
        ("creation", "www/a/b/c/deep.php", ()),
        ("change", "www/index.html", ("hash", "size", "mtime")),
        ("creation", "www/new.php", ()),
        ("creation", "www/shell.php", ()),
        ("change", "etc/link", ("target",)),
        ("change", "etc/passwd", ("mode",)),
        ("deletion", "www/gone.txt", ()),
        ("deletion", "www/old.php", ()),
    ]
    if as_root:
        want.append(("change", "www/owned.txt", ("owner",)))
    if sorted(got) != sorted(want):
        fail(f"events:\n got  {sorted(got)}\n want {sorted(want)}")
    by_path = {os.path.relpath(e["file"]["path"], tmp): e for e in events}
    idx = by_path["www/index.html"]
    prev = idx["vigil"]["fim"]["previous"]
    if prev["size"] != len("<h1>Welcome</h1>\n") or len(prev["hash"]["sha256"]) != 64:
        fail(f"previous values: {prev}")
    if idx["file"]["hash"]["sha256"] == prev["hash"]["sha256"] or idx["file"]["mtime"] != "2023-11-14T22:13:20Z":
        fail(f"index.html now: {idx['file']}")
    pw = by_path["etc/passwd"]
    if pw["file"]["mode"] != "0666" or pw["vigil"]["fim"]["previous"]["mode"] != "0644":
        fail(f"mode change: {pw}")
    if by_path["etc/link"]["file"]["target_path"] != "/etc/shadow" or \
            by_path["etc/link"]["vigil"]["fim"]["previous"]["target_path"] != "passwd":
        fail(f"symlink change: {by_path['etc/link']}")
    if by_path["www/shell.php"]["file"]["extension"] != "php":
        fail("file.extension")
    if as_root:
        own = by_path["www/owned.txt"]
        if own["file"]["uid"] != "1234" or own["file"]["gid"] != "5678" or own["vigil"]["fim"]["previous"]["uid"] != "0":
            fail(f"owner change: {own}")

    # --full re-hashes everything and reports the same changes.
    p = run("check", *walk, "--baseline", base, "--full")
    if p.returncode != 2 or len(p.stdout.splitlines()) != len(lines):
        fail("--full", p)

    # A new baseline: unchanged again.
    p = run("baseline", *walk, "--out", base, "--max-read-rate", "50MiB")
    if p.returncode != 0:
        fail("re-baseline", p)
    p = run("check", *walk, "--baseline", base)
    if p.returncode != 0 or p.stdout:
        fail("unchanged after re-baseline", p)

    # A damaged baseline: exit 1 and FILE:LINE.
    with open(base) as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    bad = os.path.join(tmp, "bad")
    with open(bad, "w") as f:
        f.write("".join(lines[:5]) + lines[5][:7])  # cut inside the sixth line
    p = run("check", *walk, "--baseline", bad)
    if p.returncode != 1 or f"{bad}:6:" not in p.stderr or p.stdout:
        fail("truncated baseline", p)
    with open(bad, "w") as f:
        f.write("".join(lines[:-1]))  # no end line
    p = run("check", *walk, "--baseline", bad)
    if p.returncode != 1 or f"{bad}:{len(lines) - 1}: truncated" not in p.stderr:
        fail("baseline without its end line", p)
    altered = text.replace("\t644\t", "\t600\t", 1)
    with open(bad, "w") as f:
        f.write(altered)
    p = run("check", *walk, "--baseline", bad)
    if p.returncode != 1 or f"{bad}:{len(lines)}: checksum" not in p.stderr:
        fail("altered baseline", p)
    with open(bad, "wb") as f:
        f.write(os.urandom(4096))
    p = run("check", *walk, "--baseline", bad)
    if p.returncode != 1 or f"{bad}:" not in p.stderr:
        fail("random bytes as baseline", p)
    p = run("check", *walk, "--baseline", os.path.join(tmp, "absent"))
    if p.returncode != 1 or "absent" not in p.stderr:
        fail("missing baseline", p)

    # Bad arguments and missing roots.
    p = run("baseline", "--path", os.path.join(tmp, "nope"), "--out", bad)
    if p.returncode != 1 or "nope" not in p.stderr:
        fail("baseline of a missing path", p)
    p = run("baseline", *walk, "--out", bad, "--max-read-rate", "fast")
    if p.returncode != 1 or "--max-read-rate" not in p.stderr:
        fail("bad --max-read-rate", p)
    p = run("check", *walk, "--baseline", base, "--out", os.path.join(tmp, "no", "such", "dir", "out"))
    if p.returncode != 1 or "cannot write" not in p.stderr:
        fail("unwritable --out", p)

    # A root deleted since the baseline: every entry of it is a deletion.
    shutil.rmtree(etc)
    p = run("check", *walk, "--baseline", base)
    kinds = sorted((json.loads(line)["event"]["type"][0], os.path.relpath(json.loads(line)["file"]["path"], tmp))
                   for line in p.stdout.splitlines())
    if p.returncode != 2 or kinds != [("deletion", "etc"), ("deletion", "etc/link"), ("deletion", "etc/passwd")]:
        fail(f"deleted root: {kinds}", p)


if __name__ == "__main__":
    main()
