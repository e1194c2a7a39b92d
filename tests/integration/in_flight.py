#!/usr/bin/env python3
"""Batches in flight (real processes on 127.0.0.1): two agents build a backlog while the collector
is down, one with `collector.batches_in_flight: 2` (the default), one with 1. When the collector
comes back each delivers every line exactly once, the first with two batches posted at once and
the second with one (the agent.health record each sends as it stops says how many posts were
under way at the same moment), and the collector is stopped once more during their deliveries.

Usage: in_flight.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import time

from vigil_harness import Harness

LINES = 10_000
h = Harness("vigil-inflight.")
try:
    h.init_collector()
    h.start_collector()
    agents = {}
    for name, depth in (("two", 2), ("one", 1)):
        agents[name] = h.enroll_agent(name, "raw", collector_extra=f", batch_max_records: 100, "
                                      f"batches_in_flight: {depth}")
    h.stop_collector()
    for name, (d, log_path) in agents.items():
        with open(log_path, "a") as f:
            for i in range(LINES):
                f.write(f"{name} line {i:06d} of the in-flight test\n")
        h.start_agent(d)
    time.sleep(2)  # the lines reach the spools while no collector answers

    def stored(name):
        return h.stored(f"json_extract(body, '$.event.original') LIKE '{name} line %'")

    h.start_collector()
    h.wait_for(60, lambda: stored("two")[0] >= LINES // 4, "a quarter of the lines of the agent with two in flight")
    h.stop_collector()  # posts in flight fail, or were stored and are sent again
    mid_delivery = stored("two")[0] < LINES
    time.sleep(0.5)
    h.start_collector()
    for name in agents:
        h.wait_for(120, lambda n=name: stored(n)[0] >= LINES, f"{LINES} lines of the agent '{name}'")
    time.sleep(1)
    peaks = {}
    for name, (d, _) in agents.items():
        count, distinct = stored(name)
        if (count, distinct) != (LINES, LINES):
            h.fail(f"{name}: stored {count} records ({distinct} distinct) of {LINES} lines")
        h.stop_agent(d)  # its last agent.health record goes out as it stops
        ship = h.last_health(name)["vigil"]["ship"]
        peaks[name] = ship["in_flight_peak"]
        if ship["batches"] < LINES // 100:
            h.fail(f"{name}: {ship['batches']} batches acknowledged for {LINES} lines of 100 per batch")
    if peaks != {"two": 2, "one": 1}:
        h.fail(f"batches posted at once: {peaks}, expected two: 2, one: 1")
    print(f"in flight: {LINES} lines stored once from each agent across a collector restart "
          f"({'in the middle of' if mid_delivery else 'after'} the deliveries); posts under way at once {peaks}")
finally:
    h.close()
