from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kaitong.sealing import commands


class Command(BaseCommand):
    help = "Re-seal every registered sealed value under the current data key (the first of KAITONG_DATA_KEY)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=commands.actions.BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            commands.rotate_data_key(batch_size=options["batch_size"], out=self.stdout)
        except commands.RotationFailed as exc:
            raise CommandError(str(exc)) from None
