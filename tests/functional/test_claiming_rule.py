"""The one claiming rule (``kaitong_base.claims``) on a real table: leases, tokens, concurrent claimers.

The ledger's table stands in for any table with ``claimed_until`` and ``claim_token``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from kaitong.billing.models import MeteringRecord
from kaitong_base import claims
from tests.support.billing import ledger_records

T0 = datetime(2026, 11, 21, 0, 10, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def rows(count: int) -> list[int]:
    ledger_records(count, prefix="claim")
    return list(MeteringRecord.objects.order_by("pk").values_list("pk", flat=True))


def claim(*, now: datetime = T0, limit: int = 10, **kwargs) -> claims.Claim:
    return claims.claim(MeteringRecord.objects.all(), now=now, lease=LEASE, limit=limit, **kwargs)


@pytest.mark.django_db
class TestLease:
    def test_a_claimed_row_is_nobody_elses_until_its_lease_runs_out(self):
        (pk,) = rows(1)
        first = claim()
        assert first.ids == [pk]
        assert claim(now=T0 + timedelta(seconds=10)).ids == []
        second = claim(now=T0 + LEASE + timedelta(seconds=1))
        assert second.ids == [pk] and second.token != first.token
        # The stalled first holder finds out: the row is no longer its own.
        assert not claims.held(MeteringRecord.objects.all(), token=first.token).exists()
        assert list(claims.held(MeteringRecord.objects.all(), token=second.token).values_list("pk", flat=True)) == [pk]

    def test_held_sees_only_its_own_tokens_rows(self):
        ids = rows(7)
        a, b = claim(limit=3), claim(limit=3)
        assert a.ids == ids[:3] and b.ids == ids[3:6]
        everything = MeteringRecord.objects.all()
        assert sorted(claims.held(everything, token=a.token).values_list("pk", flat=True)) == a.ids
        assert sorted(claims.held(everything, token=b.token).values_list("pk", flat=True)) == b.ids
        assert sorted(claims.free(everything, now=T0).values_list("pk", flat=True)) == ids[6:]

    def test_choose_keeps_fewer_and_also_is_written_with_the_lease(self):
        ids = rows(5)
        taken = claim(
            fields=("instance_id",), choose=lambda found: [r[0] for r in found if r[0] % 2], also={"attempts": 7}
        )
        assert taken.ids == [pk for pk in ids if pk % 2]
        assert taken.rows[0] == (taken.ids[0], f"claim{ids.index(taken.ids[0]):05d}")
        assert set(MeteringRecord.objects.filter(pk__in=taken.ids).values_list("attempts", flat=True)) == {7}
        assert claim().ids == [pk for pk in ids if not pk % 2]  # the rest were never leased

    def test_lapsed_let_go_and_revoke(self):
        rows(3)
        mine = claim()
        everything = MeteringRecord.objects.all()
        assert not claims.lapsed(everything, now=T0 + LEASE).exists()
        assert claims.lapsed(everything, now=T0 + LEASE + timedelta(seconds=1)).count() == 3
        # A lease that ran out is still the holder's until another claim takes the row.
        assert claims.held(everything, token=mine.token).count() == 3
        first, second, third = mine.ids
        MeteringRecord.objects.filter(pk=first).update(**claims.let_go())
        MeteringRecord.objects.filter(pk=second).update(**claims.revoke())
        assert list(claims.free(everything, now=T0).values_list("pk", flat=True)) == [first, second]
        assert list(claims.held(everything, token=mine.token).values_list("pk", flat=True)) == [third]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_claimers_side_by_side_never_get_the_same_row():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers")
    ids = rows(60)
    # Each claimer's first claim waits inside its transaction until the other is inside its own:
    # only SKIP LOCKED lets the second claim go past the first one's locked rows at the same time.
    both_inside = threading.Barrier(2, timeout=10)
    taken: dict[str, list[int]] = {}
    failures: list[BaseException] = []

    def claimer(name: str) -> None:
        mine: list[int] = []
        waited = False

        def meet(found):
            nonlocal waited
            if not waited:
                waited = True
                both_inside.wait()
            return [row[0] for row in found]

        try:
            while batch := claims.claim(MeteringRecord.objects.all(), now=T0, lease=LEASE, limit=7, choose=meet).ids:
                mine.extend(batch)
            taken[name] = mine
        except BaseException as exc:  # recorded for the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert taken["a"] and taken["b"]
    assert not set(taken["a"]) & set(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == ids
    tokens = MeteringRecord.objects.values_list("claim_token", flat=True).distinct()
    assert len(tokens) >= 2 and "" not in tokens
