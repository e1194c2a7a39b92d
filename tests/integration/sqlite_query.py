#!/usr/bin/env python3
"""Runs one SQL statement on a collector's SQLite database and prints its rows as the sqlite3
shell does by default (columns joined by '|'), with the records view's bodies readable
(vigil_harness.sqlite_connect): for shell tests.

Usage: sqlite_query.py DB SQL
"""
import sys

from vigil_harness import sqlite_connect


def main():
    db, sql = sys.argv[1], sys.argv[2]
    with sqlite_connect(db, timeout=10) as conn:
        for row in conn.execute(sql):
            print("|".join("" if v is None else str(v) for v in row))


if __name__ == "__main__":
    main()
