#!/usr/bin/env python3
"""Batch body compression (real processes on 127.0.0.1): three agents deliver to one collector,
one with the default (zstd), one with `collector.compression: gzip`, one with `none`. Every line
of each is stored exactly once, and the agent.health record each sends as it stops shows what
went on the wire: zstd and gzip bodies several times smaller than the raw batches, `none` as
large.

Usage: compression.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
from vigil_harness import Harness

LINES = 2000
h = Harness("vigil-compression.")
try:
    h.init_collector()
    h.start_collector()
    agents = {}
    for name, extra in (("zstd", ""), ("gzip", ", compression: gzip"), ("none", ", compression: none")):
        agents[name] = h.enroll_agent(name, "syslog", collector_extra=extra)
        h.start_agent(agents[name][0])
    for name, (d, log_path) in agents.items():
        with open(log_path, "a") as f:
            for i in range(LINES):
                f.write(f"Nov 27 10:00:{i % 60:02d} {name} sshd[{1000 + i}]: Failed password for user{i} "
                        f"from 192.0.2.{i % 200 + 1} port {20000 + i} ssh2\n")

    def stored(name):
        return h.stored(f"kind = 'event' AND dataset = 'sshd' AND json_extract(body, '$.host.name') = '{name}'")

    for name in agents:
        h.wait_for(60, lambda n=name: stored(n)[0] >= LINES, f"{LINES} lines of the {name} agent")
    for name, (d, _) in agents.items():
        count, distinct = stored(name)
        if (count, distinct) != (LINES, LINES):
            h.fail(f"{name}: stored {count} ({distinct} distinct) of {LINES} lines")
        h.stop_agent(d)  # its last agent.health record goes out as it stops

    def health(name):
        ship = h.last_health(name)["vigil"]["ship"]
        return ship["bytes_raw"], ship["bytes_sent"]

    report = []
    for name in agents:
        raw, sent = health(name)
        if raw < LINES * 100:
            h.fail(f"{name}: only {raw} raw bytes counted for {LINES} lines")
        if name == "none" and sent != raw:
            h.fail(f"none: {sent} bytes sent for {raw} raw")
        if name != "none" and sent * 4 > raw:
            h.fail(f"{name}: {sent} bytes sent for {raw} raw, expected at least 4x smaller")
        report.append(f"{name} {raw / sent:.1f}x")
    if "does not inflate" in h.log_text("collector.log") or "unsupported content encoding" in h.log_text(
            "collector.log"):
        h.fail("the collector refused a body of a well-behaved agent")
    print(f"compression: {LINES} lines stored once from each agent; bytes_raw/bytes_sent " + ", ".join(report))
finally:
    h.close()
