#!/usr/bin/env python3
"""File integrity monitoring beside AIDE (issue 20's targets), in one run, one table.

The tree, generated once into DIR/tree: FILES regular files (default 100,000) of TOTAL bytes in all
(default 1 GiB), shaped like a web root beside /etc: about 85 % of the files under www/ (sites,
their assets, uploads) and the rest under etc/, 40-80 files per directory. Sizes are drawn with a
fixed seed from a mixture (most files 100 B - 8 KiB, some up to 64 KiB, a few up to 1 MiB and one
in a thousand up to 16 MiB), then all scaled by one factor so that they add up to TOTAL exactly
(0.48 at the defaults: median 752 B, 99th percentile 214 KiB, largest 7.4 MiB, a quarter of the
bytes in files over 1 MiB):
the same sizes, names and layout on every run with the same --files and --total. Contents are
slices of one random block (hashing cost does not depend on the bytes). A rerun with --keep and the
same --dir reuses the tree.

Commands, each a child of /usr/bin/time -f %M for its peak RSS (a child of this script directly
would carry this script's RSS over), wall time taken around it here, output to files in DIR:
  baseline  vigil-agent fim baseline --path TREE --out BASELINE
            aide --config AIDE_CONF --init          rule VigilRule = p+i+n+u+g+s+m+sha256 on the
                                                    tree (the attributes Vigil records: permissions,
                                                    inode, link count, owner, group, size, mtime;
                                                    SHA-256 the only hash), num_workers=1 (Debian
                                                    12's default), database not gzipped, the
                                                    database's own checksums off (database_attrs=E)
  check     vigil-agent fim check --path TREE --baseline BASELINE --out FILE
                                                    an unchanged tree: mtime/size/ctime/inode/owner/
                                                    mode compared first, a file hashed only when one
                                                    of them changed
            aide --config AIDE_CONF --check         its database_out from --init copied to database_in
            vigil-agent fim check ... --full        shown beside, no target: every file re-hashed as
                                                    AIDE does
  floors    find TREE -type f -print0 | xargs -0 sha256sum    the raw hashing floor
            find TREE -type f -print0 | xargs -0 cat          the read floor (into /dev/null)
            find TREE -printf '%s %i %m %U %G %T@\\n'          the walk + stat floor (what a check
                                                              of an unchanged tree cannot avoid)
Page cache: the tree fits in memory. For each command, a first run after the tree's data pages
were evicted (posix_fadvise DONTNEED on every file; dentries and inodes stay cached: "cold-ish",
no root needed and nothing else on the host touched), then one warm-up run, then RUNS (default 3)
warm runs, whose median wall time counts; the tools alternate so that both see the same cache.
Peak RSS is the largest over the runs. Both tools must agree on the number of entries and of files
(AIDE's from its database and its report, Vigil's from its summary line), and both must call the
tree unchanged (exit 0), or the run fails.

Targets (issue 20): baseline >= 2x faster than aide --init at <= 40 MiB peak RSS; check of an
unchanged tree >= 3x faster than aide --check.

Time: at the default size on 2 cores about 4 minutes (220 s measured with a compile running beside
it; generating the tree takes seconds, AIDE's ten runs most of the rest: its --check takes 15-20 s
warm), plus a minute or two to remove the tree; every run is stopped after 15 minutes. Disk:
TOTAL, a 4 KiB block of slack a file and ~200 MiB for databases; FILES inodes. Runs as root or not
(nothing outside DIR is touched; the page cache is dropped for the tree's files only).

Usage: bench/fim_vs_aide.py BUILD_DIR [--files 100000] [--total 1GiB] [--dir DIR] [--runs 3] [--keep]
       (BUILD_DIR: a release build with agent/vigil-agent, e.g. cmake --preset release &&
       cmake --build build/release --target vigil-agent; needs aide: packaging/install-deps.sh)
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SPEED_TARGET_BASELINE = 2.0
SPEED_TARGET_CHECK = 3.0
RSS_TARGET_MIB = 40.0
SEED = 20
MARKER = ".vigil-fim-bench"
RUN_TIMEOUT_S = 900


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"{text}: expected a size such as 1GiB, 512MiB or 1000000")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


def parse_args():
    p = argparse.ArgumentParser(description="vigil-agent fim beside AIDE: baseline and check of one generated tree.")
    p.add_argument("build", metavar="BUILD_DIR", help="release build directory (e.g. build/release)")
    p.add_argument("--files", type=int, default=100_000, help="regular files in the tree (100,000)")
    p.add_argument("--total", type=parse_size, default=1 << 30, help="bytes in all, e.g. 1GiB (the default)")
    p.add_argument("--dir", help="work directory (default: a new one under /tmp); removed at the end unless --keep")
    p.add_argument("--runs", type=int, default=3, help="warm runs of each command; the median counts (3)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (a rerun with --dir reuses the tree)")
    a = p.parse_args()
    if a.files < 1 or a.total < a.files or a.runs < 1:
        p.error("--files >= 1, --total >= --files bytes and --runs >= 1")
    return a


# ---------------------------------------------------------------------------------------------
# The tree

def tree_sizes(files, total):
    """FILES sizes adding up to TOTAL, many small and a few large, the same for the same arguments."""
    rng = random.Random(SEED)
    raw = []
    for _ in range(files):
        u = rng.random()
        lo, hi = (100, 8 << 10) if u < 0.80 else (8 << 10, 64 << 10) if u < 0.97 else \
                 (64 << 10, 1 << 20) if u < 0.999 else (1 << 20, 16 << 20)
        raw.append(lo * (hi / lo) ** rng.random())  # log-uniform within the band
    scale = total / sum(raw)
    sizes = [max(1, int(s * scale)) for s in raw]
    sizes[max(range(files), key=lambda i: sizes[i])] += total - sum(sizes)
    return sizes


def tree_paths(files):
    """Relative file paths: www/site<k>/{assets/{css,js,img},uploads/<year>/<month>,app/<module>} and
    etc/<package>[.d], 40-80 entries a directory, the same for the same FILES."""
    rng = random.Random(SEED + 1)
    web_files = files * 85 // 100
    dirs = []
    n = 0
    site = 0
    while n < web_files:
        base = f"www/site{site:03d}"
        for sub in ["public", "assets/css", "assets/js", "assets/img", "app/controllers", "app/views",
                    "app/models", "vendor/lib"] + [f"uploads/{2015 + y}/{m:02d}" for y in range(10) for m in range(1, 13)]:
            k = rng.randint(40, 80)
            dirs.append((f"{base}/{sub}", k, "www"))
            n += k
            if n >= web_files:
                break
        site += 1
    n = 0
    pkg = 0
    while n < files - web_files:
        k = rng.randint(40, 80)
        dirs.append((f"etc/pkg{pkg:04d}" + (".d" if pkg % 3 == 0 else ""), k, "etc"))
        n += k
        pkg += 1
    web_ext = [".html", ".php", ".js", ".css", ".png", ".jpg", ".json", ".txt"]
    etc_ext = [".conf", "", ".list", ".yaml", ".pem"]
    paths = []
    left = {"www": web_files, "etc": files - web_files}
    for d, k, kind in dirs:
        k = min(k, left[kind])
        left[kind] -= k
        ext = web_ext if kind == "www" else etc_ext
        paths += [f"{d}/f{i:03d}{ext[(i + len(d)) % len(ext)]}" for i in range(k)]
    return paths


def write_tree(root, files, total):
    sizes = tree_sizes(files, total)
    paths = tree_paths(files)
    # Big files first would put them together; interleave by shuffling which size goes where.
    random.Random(SEED + 2).shuffle(sizes)
    block = os.urandom(8 << 20)
    made = set()
    for i, (rel, size) in enumerate(zip(paths, sizes)):
        d = os.path.dirname(rel)
        if d not in made:
            os.makedirs(os.path.join(root, d), exist_ok=True)
            made.add(d)
        off = (i * 4099) % len(block)
        with open(os.path.join(root, rel), "wb") as f:
            left = size
            while left:
                chunk = block[off:off + left] if off + left <= len(block) else block[off:]
                f.write(chunk)
                left -= len(chunk)
                off = 0
    return sizes, len(made)


def evict(root):
    """Drops the tree's data pages from the page cache (clean pages only, hence the sync first)."""
    os.sync()
    for dirpath, _, names in os.walk(root):
        for n in names:
            fd = os.open(os.path.join(dirpath, n), os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# ---------------------------------------------------------------------------------------------
# Running and measuring

class Command:
    def __init__(self, name, cmd, ok_codes=(0,), shell=False, role="tool"):
        self.name, self.cmd, self.ok_codes, self.shell, self.role = name, cmd, ok_codes, shell, role
        self.first = None      # seconds of the run after eviction
        self.times = []        # warm runs
        self.rss = 0.0         # MiB, largest over the runs
        self.stdout = self.stderr = ""

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None


def run(c, work, measured=True):
    """One run of c under /usr/bin/time; returns wall seconds (fails the benchmark on a bad exit)."""
    out_path, err_path, time_path = (os.path.join(work, f"last.{s}") for s in ("out", "err", "time"))
    argv = ["bash", "-c", c.cmd] if c.shell else c.cmd
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        try:
            p = subprocess.run(["/usr/bin/time", "-o", time_path, "-f", "%M"] + argv, stdout=out, stderr=err,
                               timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            sys.exit(f"{c.name}: still running after {RUN_TIMEOUT_S} s; stopped")
        secs = time.perf_counter() - start
    with open(out_path, errors="replace") as f:
        c.stdout = f.read()
    with open(err_path, errors="replace") as f:
        c.stderr = f.read()
    if p.returncode not in c.ok_codes:
        sys.exit(f"{c.name}: exit {p.returncode}\n  {' '.join(argv)}\n{c.stderr[-1500:]}{c.stdout[-1500:]}")
    with open(time_path) as f:
        words = f.read().split()
    # /usr/bin/time adds "Command exited with non-zero status N" before the figure on a non-zero exit.
    rss_kib = int(words[-1])
    if measured:
        c.rss = max(c.rss, rss_kib / 1024)
    return secs


def measure(commands, tree, work, runs):
    """First run of each after eviction, one warm-up each, then RUNS rounds in turn."""
    for c in commands:
        evict(tree)
        c.first = run(c, work)
        print(f"  {c.name}: first {c.first:.2f} s", flush=True)
    for c in commands:
        run(c, work, measured=False)
    for _ in range(runs):
        for c in commands:
            c.times.append(run(c, work))
    for c in commands:
        print(f"  {c.name}: median {c.median:.2f} s of {[round(t, 2) for t in c.times]}, "
              f"peak RSS {c.rss:.1f} MiB", flush=True)


# ---------------------------------------------------------------------------------------------
# What each tool saw

def vigil_baseline_counts(stderr):
    m = re.search(r"baseline: (\d+) entries \((\d+) files, (\d+) directories", stderr)
    if not m:
        sys.exit(f"vigil-agent fim baseline: no summary line in:\n{stderr[-1000:]}")
    return int(m.group(1)), int(m.group(2))


def vigil_check_counts(stderr):
    m = re.search(r"check: (\d+) entries; (\d+) creations, (\d+) changes, (\d+) deletions, (\d+) unreadable; "
                  r"(\d+) files hashed \([^)]*\), (\d+) hashes reused", stderr)
    if not m:
        sys.exit(f"vigil-agent fim check: no summary line in:\n{stderr[-1000:]}")
    entries, creations, changes, deletions, unreadable, hashed, reused = map(int, m.groups())
    return {"entries": entries, "changed": creations + changes + deletions + unreadable, "files": hashed + reused,
            "hashed": hashed}


def aide_report_entries(stdout):
    m = re.search(r"Number of entries:\s+(\d+)", stdout)
    if not m:
        sys.exit(f"aide: no 'Number of entries' in its report:\n{stdout[-1000:]}")
    return int(m.group(1))


def aide_db_counts(db):
    entries = files = 0
    with open(db, errors="replace") as f:
        for line in f:
            if line.startswith(("@@", "#")) or not line.strip():
                continue
            entries += 1
            perm = line.split(" ", 2)[1]
            if perm.startswith("100"):  # S_IFREG in octal
                files += 1
    return entries, files


def agree(what, pairs):
    if any(value != pairs[0][1] for _, value in pairs):
        sys.exit(f"{what} differ: " + ", ".join(f"{n} {v:,}" for n, v in pairs))


# ---------------------------------------------------------------------------------------------
# The table

def mib(n):
    return n / (1 << 20)


def fmt_bytes(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GiB" else f"{n / scale:.1f} {unit}"
    return f"{n} B"


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main():
    a = parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    build = os.path.abspath(a.build)
    agent = os.path.join(build, "agent", "vigil-agent")
    for prog, why in ((agent, "build it: cmake --build BUILD_DIR --target vigil-agent"),
                      (shutil.which("aide"), "install it: packaging/install-deps.sh (Debian's aide)"),
                      ("/usr/bin/time", "install it: apt-get install time")):
        if not prog or not os.access(prog, os.X_OK):
            sys.exit(f"missing {prog or 'aide'}: {why}")
    cache = open(os.path.join(build, "CMakeCache.txt")).read() if os.path.exists(
        os.path.join(build, "CMakeCache.txt")) else ""
    build_type = (re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache, re.M) or [None, "?"])[1]
    if build_type not in ("Release", "RelWithDebInfo"):
        print(f"warning: {build} is a {build_type or 'typeless'} build; its figures are not the agent's", flush=True)

    created = False
    if a.dir:
        work = os.path.abspath(a.dir)
        if os.path.isdir(work) and os.listdir(work) and not os.path.exists(os.path.join(work, MARKER)):
            sys.exit(f"{work} is not empty and was not made by this script; give a new or empty --dir")
        os.makedirs(work, exist_ok=True)
        created = True
    else:
        work = tempfile.mkdtemp(prefix="vigil-fim-bench.", dir="/tmp")
        created = True
    tree = os.path.join(work, "tree")
    try:
        spec = f"files={a.files} total={a.total} seed={SEED}\n"
        marker = os.path.join(work, MARKER)
        reuse = os.path.exists(marker) and open(marker).read() == spec and os.path.isdir(tree)
        if not reuse:
            st = os.statvfs(work)
            free, inodes = st.f_bavail * st.f_frsize, st.f_favail
            need = a.total + a.files * 4096 + (200 << 20)  # data, a block's slack per file, databases
            if free < need or (inodes and inodes < a.files * 11 // 10 + 10_000):
                sys.exit(f"{work}: {fmt_bytes(free)} and {inodes:,} inodes free; {fmt_bytes(need)} and "
                         f"{a.files * 11 // 10 + 10_000:,} inodes needed (smaller --files/--total, or --dir)")
            shutil.rmtree(tree, ignore_errors=True)
            print(f"generating {a.files:,} files, {fmt_bytes(a.total)} into {tree} ...", flush=True)
            t0 = time.monotonic()
            write_tree(tree, a.files, a.total)
            with open(marker, "w") as f:
                f.write(spec)
            print(f"  done in {time.monotonic() - t0:.0f} s", flush=True)
        else:
            print(f"reusing the tree in {tree}", flush=True)
        sizes = sorted(tree_sizes(a.files, a.total))
        dirs = sum(1 for _ in os.walk(tree))

        aide_dir = os.path.join(work, "aide")
        vigil_dir = os.path.join(work, "vigil")
        for d in (aide_dir, vigil_dir):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        conf = os.path.join(aide_dir, "aide.conf")
        db_in, db_out = os.path.join(aide_dir, "aide.db"), os.path.join(aide_dir, "aide.db.new")
        with open(conf, "w") as f:
            f.write(f"# bench/fim_vs_aide.py: the attributes vigil-agent fim records, SHA-256 only\n"
                    f"database_in=file:{db_in}\n"
                    f"database_out=file:{db_out}\n"
                    f"gzip_dbout=no\n"
                    f"database_attrs=E\n"
                    f"num_workers=1\n"
                    f"report_url=stdout\n"
                    f"VigilRule = p+i+n+u+g+s+m+sha256\n"
                    f"{tree} VigilRule\n")
        baseline = os.path.join(vigil_dir, "baseline")
        check_out = os.path.join(vigil_dir, "check.jsonl")
        q = lambda s: "'" + s.replace("'", "'\\''") + "'"  # noqa: E731

        vigil_base = Command("vigil-agent fim baseline", [agent, "fim", "baseline", "--path", tree, "--out", baseline])
        aide_init = Command("aide --init", ["aide", "--config", conf, "--init"])
        floor_hash = Command("find + xargs sha256sum", f"find {q(tree)} -type f -print0 | xargs -0 sha256sum >/dev/null",
                             shell=True, role="floor")
        floor_read = Command("find + xargs cat", f"find {q(tree)} -type f -print0 | xargs -0 cat >/dev/null",
                             shell=True, role="floor")
        floor_stat = Command("find -printf (stat)", f"find {q(tree)} -printf '%s %i %m %U %G %T@\\n' >/dev/null",
                             shell=True, role="floor")

        print(f"baseline ({a.runs} warm runs each) ...", flush=True)
        measure([vigil_base, aide_init, floor_hash, floor_read], tree, work, a.runs)
        v_entries, v_files = vigil_baseline_counts(vigil_base.stderr)
        a_entries, a_files = aide_db_counts(db_out)
        agree("entries recorded", [("vigil-agent", v_entries), ("aide (database)", a_entries),
                                   ("aide (report)", aide_report_entries(aide_init.stdout)),
                                   ("the tree (files + directories)", a.files + dirs)])
        agree("files recorded", [("vigil-agent", v_files), ("aide", a_files), ("generated", a.files)])
        base_size, db_size = os.path.getsize(baseline), os.path.getsize(db_out)
        shutil.copyfile(db_out, db_in)

        vigil_check = Command("vigil-agent fim check",
                              [agent, "fim", "check", "--path", tree, "--baseline", baseline, "--out", check_out])
        vigil_full = Command("vigil-agent fim check --full", vigil_check.cmd + ["--full"])
        aide_check = Command("aide --check", ["aide", "--config", conf, "--check"])
        print(f"check of the unchanged tree ({a.runs} warm runs each) ...", flush=True)
        measure([vigil_check, aide_check, vigil_full, floor_stat], tree, work, a.runs)
        for c in (vigil_check, vigil_full):
            counts = vigil_check_counts(c.stderr)
            if counts["changed"]:
                sys.exit(f"{c.name}: reported changes on an unchanged tree:\n{c.stderr[-1000:]}")
            agree(f"{c.name}: files checked", [("vigil-agent", counts["files"]), ("generated", a.files)])
            agree(f"{c.name}: entries checked", [("vigil-agent", counts["entries"]), ("aide", a_entries)])
        hashed_default = vigil_check_counts(vigil_check.stderr)["hashed"]
        if "found NO differences" not in aide_check.stdout:
            sys.exit(f"aide --check: differences on an unchanged tree:\n{aide_check.stdout[-1500:]}")
        agree("entries checked", [("aide", aide_report_entries(aide_check.stdout)), ("vigil-agent", v_entries)])

        # The table.
        def verdict(ok):
            return "PASS" if ok else "FAIL"

        base_ratio = aide_init.median / vigil_base.median
        check_ratio = aide_check.median / vigil_check.median
        full_ratio = aide_check.median / vigil_full.median
        mb = mib(a.total)
        tp = lambda c: f"{mb / c.median:,.0f} MiB/s"  # noqa: E731
        s = lambda x: f"{x:.3f}" if x < 1 else f"{x:.2f}"  # noqa: E731
        agent_ver = subprocess.run([agent, "--version"], capture_output=True, text=True).stdout.strip()
        aide_ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "aide"], capture_output=True,
                                  text=True).stdout.strip() or "?"
        fs = subprocess.run(["df", "--output=fstype", work], capture_output=True, text=True).stdout.split()[-1:]
        print()
        print(f"FIM beside AIDE: {a.files:,} files in {dirs:,} directories, {fmt_bytes(a.total)} "
              f"(sizes {fmt_bytes(sizes[0])} .. {fmt_bytes(sizes[-1])}, median {fmt_bytes(sizes[len(sizes) // 2])}), "
              f"{fs[0] if fs else '?'} on {os.cpu_count()} cores (load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after), {'root' if os.geteuid() == 0 else 'not root'}; "
              f"{agent_ver or 'vigil-agent'} ({build_type}), aide {aide_ver} (num_workers=1)")
        print(f"seconds: median of {a.runs} warm runs (page cache warm, after a warm-up); first: the tree's data "
              f"pages evicted before the run; RSS: peak over the runs")
        print()
        header = ["phase", "command", "median s", "first s", "peak RSS", "rate", "AIDE / Vigil", "target", "result"]
        rows = [
            ["baseline", vigil_base.name, s(vigil_base.median), s(vigil_base.first), f"{vigil_base.rss:.1f} MiB",
             tp(vigil_base), "", "", ""],
            ["", aide_init.name, s(aide_init.median), s(aide_init.first), f"{aide_init.rss:.1f} MiB", tp(aide_init),
             f"{base_ratio:.2f}x (first {aide_init.first / vigil_base.first:.2f}x)", f">= {SPEED_TARGET_BASELINE:.0f}x",
             verdict(base_ratio >= SPEED_TARGET_BASELINE)],
            ["", "  Vigil's peak RSS", "", "", f"{vigil_base.rss:.1f} MiB", "", "", f"<= {RSS_TARGET_MIB:.0f} MiB",
             verdict(vigil_base.rss <= RSS_TARGET_MIB)],
            ["", "floor: " + floor_hash.name, s(floor_hash.median), s(floor_hash.first), f"{floor_hash.rss:.1f} MiB",
             tp(floor_hash), "", "", ""],
            ["", "floor: " + floor_read.name, s(floor_read.median), s(floor_read.first), f"{floor_read.rss:.1f} MiB",
             tp(floor_read), "", "", ""],
            ["check", vigil_check.name, s(vigil_check.median), s(vigil_check.first), f"{vigil_check.rss:.1f} MiB",
             f"{hashed_default:,} hashed", "", "", ""],
            ["", aide_check.name, s(aide_check.median), s(aide_check.first), f"{aide_check.rss:.1f} MiB",
             tp(aide_check), f"{check_ratio:.2f}x (first {aide_check.first / vigil_check.first:.2f}x)",
             f">= {SPEED_TARGET_CHECK:.0f}x", verdict(check_ratio >= SPEED_TARGET_CHECK)],
            ["", vigil_full.name, s(vigil_full.median), s(vigil_full.first), f"{vigil_full.rss:.1f} MiB", tp(vigil_full),
             f"{full_ratio:.2f}x (first {aide_check.first / vigil_full.first:.2f}x)", "(none: re-hash)", ""],
            ["", "floor: " + floor_stat.name, s(floor_stat.median), s(floor_stat.first), f"{floor_stat.rss:.1f} MiB",
             "", "", "", ""],
        ]
        print_table(header, rows)
        print()
        print(f"both saw {a_entries:,} entries ({a.files:,} files); both called the unchanged tree unchanged. "
              f"Baseline {fmt_bytes(base_size)}, AIDE database {fmt_bytes(db_size)}. "
              f"Run took {time.monotonic() - started:.0f} s.")
    finally:
        if a.keep:
            print(f"kept {work}")
        elif created:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
