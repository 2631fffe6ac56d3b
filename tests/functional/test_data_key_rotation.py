"""``kaitong rotate-data-key``: every registered sealed value moves to the current data key.

No model of kaitong holds a sealed value yet (the SLS grant will, registering itself in its AppConfig);
these tests register the SPI inbox's two free text columns as if they held one, ``remote_addr`` as the
key id and ``message`` as the blob, which is all the rotation needs to see."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from kaitong.marketplace.models import SpiCall
from kaitong.sealing import registry, seal, unseal

pytestmark = pytest.mark.django_db

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def context_of(call):
    return f"test.spi:{call.instance_id}"


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    registry.register_sealed("marketplace.SpiCall", "remote_addr", "message", context_of)
    registry.register_sealed("marketplace.SpiCall", "remote_addr", "message", context_of)  # ready() twice


def keys(settings, value):
    settings.ENV = settings.ENV.model_copy(update={"data_key": value})


def sealed_rows(count, *, start=0):
    """``count`` rows, each holding secret-<n> sealed under the current key; and one with nothing sealed."""
    for n in range(start, start + count):
        sealed = seal(f"secret-{n}", context=f"test.spi:i{n}")
        SpiCall.objects.create(
            received_at=NOW, action="a", instance_id=f"i{n}", params={}, remote_addr=sealed.key_id, message=sealed.blob
        )


def rotate(**options):
    out = io.StringIO()
    call_command("rotate_data_key", stdout=out, **options)
    return out.getvalue()


def opened():
    return {
        row.instance_id: (row.remote_addr, unseal(row.remote_addr, row.message, context=context_of(row)))
        for row in SpiCall.objects.exclude(message="")
    }


def test_rotation_reseals_everything_under_the_new_key_in_batches_and_again_changes_nothing(settings):
    keys(settings, K1)
    sealed_rows(5)
    SpiCall.objects.create(received_at=NOW, action="a", instance_id="none", params={})  # nothing sealed
    keys(settings, f"{K2},{K1}")
    sealed_rows(2, start=5)  # sealed after the new key came first: already current
    before = {row.pk: row.message for row in SpiCall.objects.all()}

    out = rotate(batch_size=2)

    assert "marketplace.SpiCall.message: 5 re-sealed, 2 already under k2" in out
    assert "done: 5 re-sealed under data key k2" in out
    assert opened() == {f"i{n}": ("k2", f"secret-{n}") for n in range(7)}
    after = {row.pk: row.message for row in SpiCall.objects.all()}
    assert sum(before[pk] != after[pk] for pk in before) == 5
    # The old key can go now: everything opens without it.
    keys(settings, K2)
    assert rotate().splitlines()[0] == "marketplace.SpiCall.message: 0 re-sealed, 7 already under k2"
    assert opened() == {f"i{n}": ("k2", f"secret-{n}") for n in range(7)}


def test_a_value_under_a_key_no_longer_held_stops_the_rotation_before_any_change(settings):
    keys(settings, K1)
    sealed_rows(3)
    keys(settings, K2)
    before = list(SpiCall.objects.values_list("remote_addr", "message"))
    with pytest.raises(CommandError, match="data key id 'k1', which KAITONG_DATA_KEY does not hold"):
        rotate()
    assert list(SpiCall.objects.values_list("remote_addr", "message")) == before


def test_a_value_that_does_not_open_names_its_row(settings):
    keys(settings, K1)
    sealed_rows(1)
    SpiCall.objects.filter(instance_id="i0").update(instance_id="moved")  # its context changed
    keys(settings, f"{K2},{K1}")
    with pytest.raises(CommandError, match=r"marketplace.SpiCall.message of row \d+: .*another context"):
        rotate()


def test_a_registration_of_a_missing_field_is_named(settings):
    registry.register_sealed("marketplace.SpiCall", "no_such_field", "message", context_of)
    with pytest.raises(CommandError, match=r"marketplace\.SpiCall\.message .*no_such_field"):
        rotate()


def test_nothing_registered_says_so(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    assert rotate().startswith("no sealed fields are registered")


def test_the_cli_makes_a_new_key_without_any_configuration(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "kaitong.cli", "rotate-data-key", "--new-key", "2027-01"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key_id, encoded = done.stdout.strip().split(":")
    assert key_id == "2027-01" and len(base64.b64decode(encoded)) == 32
    assert "put it first in KAITONG_DATA_KEY" in done.stderr
