"""An outage is logged once when it begins and once when it ends, however many parts of the worker
wait it out, and each waits with backoff until the database answers."""

import logging
import threading

from django.db import OperationalError

from kaitong.jobs.worker import Outage


class Database:
    """Down for the first ``refusals`` probes."""

    def __init__(self, refusals: int) -> None:
        self.refusals, self.probes = refusals, 0
        self.lock = threading.Lock()

    def probe(self) -> None:
        with self.lock:
            self.probes += 1
            if self.probes <= self.refusals:
                raise OperationalError("connection refused")


def test_one_outage_two_waiters_two_log_lines(caplog):
    database, slept, both_waiting = Database(refusals=6), [], threading.Barrier(2)

    def sleep(seconds: float) -> None:
        if seconds == 1:  # a waiter's first wait: both have seen the outage before either probes
            both_waiting.wait()
        slept.append(seconds)

    outage = Outage(probe=database.probe, sleep=sleep)
    error = OperationalError("connection failed: connection to server at 127.0.0.1 refused\nmore detail")
    with caplog.at_level(logging.WARNING, logger="kaitong.jobs"):
        waiters = [threading.Thread(target=outage.ride_out, args=(error,)) for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert (
        lines[0].startswith("database unavailable (OperationalError: connection failed")
        and "retrying in 1 s" in lines[0]
    )
    assert "more detail" not in lines[0]
    assert lines[1].startswith("database is back after")
    assert database.probes == 8  # six refused, then each waiter's probe answered
    assert sorted(slept)[:2] == [1, 1] and max(slept) > 1  # each backs off


def test_a_second_outage_is_logged_again(caplog):
    outage = Outage(probe=lambda: None, sleep=lambda seconds: None)
    with caplog.at_level(logging.WARNING, logger="kaitong.jobs"):
        outage.ride_out(OperationalError("database is locked"))
        outage.ride_out(OperationalError("database is locked"))
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "database unavailable",
        "database is back after 0 s; carrying on",
        "database unavailable",
        "database is back after 0 s; carrying on",
    ]
