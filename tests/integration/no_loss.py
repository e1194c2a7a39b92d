#!/usr/bin/env python3
"""Delivery without loss (real processes on 127.0.0.1): an agent tails a log that grows to
100,000 lines while the collector is stopped and restarted five times and the agent is killed
with SIGKILL twice. At the end the store holds every line exactly once.

Usage: no_loss.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR [LINES]
"""
import sys
import time

from vigil_harness import Harness

total = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000
h = Harness("vigil-noloss.")
try:
    h.init_collector()
    h.start_collector()
    agent, log_path = h.enroll_agent("busy", "raw", top_extra="spool: {sync_interval: 100ms}\n")
    h.start_agent(agent)
    written = 0

    def write_lines(n):
        global written
        with open(log_path, "a") as f:
            for _ in range(n):
                written += 1
                f.write(f"line {written:07d} of the no-loss test\n")

    def stored():
        return h.stored("json_extract(body, '$.event.original') LIKE 'line %'")

    chunk = total // 10
    started = time.time()
    # Ten chunks; between them the collector goes down and comes back five times and the agent is
    # SIGKILLed twice (once while the collector is down, once while it delivers).
    plan = ["collector", "none", "agent-while-down", "collector", "none", "collector", "agent", "collector", "none",
            "none"]
    for i, step in enumerate(plan):
        write_lines(chunk if i < 9 else total - written)
        time.sleep(0.3)
        if step == "collector":
            h.stop_collector()
            time.sleep(0.5)
            h.start_collector()
        elif step == "agent-while-down":
            h.stop_collector()
            time.sleep(0.5)
            h.kill_agent(agent)
            h.start_agent(agent)
            time.sleep(0.5)
            h.start_collector()
        elif step == "agent":
            h.kill_agent(agent)
            h.start_agent(agent)
    h.wait_for(300, lambda: stored()[0] >= total, f"{total} lines in the store")
    time.sleep(1)
    count, distinct = stored()
    elapsed = time.time() - started
    if count != total or distinct != total:
        h.fail(f"stored {count} records, {distinct} distinct, of {total} lines")
    restarts = h.log_text("collector.log").count("listening: agents") - 1
    if restarts != 5:
        h.fail(f"expected 5 collector restarts, saw {restarts}")
    print(f"no loss: {total} lines stored exactly once across {restarts} collector restarts and 2 agent SIGKILLs "
          f"in {elapsed:.1f} s")
finally:
    h.close()
