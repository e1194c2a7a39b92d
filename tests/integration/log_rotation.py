#!/usr/bin/env python3
"""Log rotation while the agent runs (real processes on 127.0.0.1): the agent tails a log that
is rotated by rename + create (as logrotate does by default), by copytruncate, truncated in
place, rotated while the agent is stopped, and rotated by rename + create and compressed the way
logrotate's delaycompress leaves it (a .1 file, then .2.gz): every line written reaches the store
exactly once, and the compressed rotations are never read.

Usage: log_rotation.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import gzip
import os
import shutil
import time

from vigil_harness import Harness

h = Harness("vigil-rotation.")
try:
    h.init_collector()
    h.start_collector()
    agent, log_path = h.enroll_agent("rotating", "raw")
    h.start_agent(agent)
    written = 0

    def write_lines(n, path=None):
        global written
        with open(path or log_path, "a") as f:
            for _ in range(n):
                written += 1
                f.write(f"rotation line {written:06d}\n")
                f.flush()

    def stored():
        return h.stored("json_extract(body, '$.event.original') LIKE 'rotation line %'")

    def settle(what):
        h.wait_for(60, lambda: stored()[0] >= written, f"{written} lines after {what}")

    write_lines(500)
    settle("the first writes")

    # 1. rename + create; the writer keeps writing to the renamed file for a moment (as a
    #    daemon does until it reopens), then to the new one.
    os.rename(log_path, log_path + ".1")
    write_lines(200, log_path + ".1")
    open(log_path, "w").close()
    write_lines(300)
    settle("rename + create")

    # 2. copytruncate: copy, then truncate in place (nothing written between the two here).
    shutil.copy(log_path, log_path + ".copy")
    with open(log_path, "r+") as f:
        f.truncate(0)
    write_lines(300)
    settle("copytruncate")

    # 3. truncated in place and rewritten (shorter than before).
    with open(log_path, "r+") as f:
        f.truncate(0)
    write_lines(50)
    settle("truncation")

    # 4. rotated while the agent is stopped, with lines on both sides of the rotation.
    h.stop_agent(agent)
    write_lines(100)
    os.rename(log_path + ".1", log_path + ".2")
    os.rename(log_path, log_path + ".1")
    write_lines(100, log_path + ".1")
    open(log_path, "w").close()
    write_lines(150)
    h.start_agent(agent)
    settle("a rotation while stopped")

    # 5. delaycompress: .1 becomes .2.gz; the compressed copy is not read again.
    with open(log_path + ".1", "rb") as src, gzip.open(log_path + ".2.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.remove(log_path + ".2")
    os.rename(log_path, log_path + ".1")
    open(log_path, "w").close()
    write_lines(250)
    settle("delaycompress")

    time.sleep(3)  # anything read twice would arrive by now
    count, distinct = stored()
    if count != written or distinct != written:
        h.fail(f"stored {count} records, {distinct} distinct, of {written} lines written")
    # The agent followed the log's directory with inotify (its health, sent at each stop, says so).
    h.stop_agent(agent)
    h.wait_for(30, lambda: h.stored("json_extract(body, '$.event.dataset') = 'agent.health' AND "
                                    "json_extract(body, '$.vigil.health.logs.watched_dirs') >= 1")[0] >= 1,
               "a health report with an inotify watch")
    print(f"log rotation: {written} lines through rename+create, copytruncate, truncation, a rotation "
          "while stopped and delaycompress, each stored exactly once")
finally:
    h.close()
