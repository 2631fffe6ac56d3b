"""The ``kaitong`` command: ``demo | serve | worker | migrate | simulator | settle | usage | rotate-data-key |
admin``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence


def _django(settings_module: str = "kaitong.config.settings") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from kaitong.config.env import ConfigError, load_env

    try:
        load_env()
    except ConfigError as exc:
        sys.exit(str(exc))
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace) -> None:
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("database is up to date")


def _metrics_across_processes() -> None:
    """gunicorn's worker processes each count requests; prometheus-client's multiprocess mode adds them
    up at a scrape. It must be on before prometheus-client is first imported, and its folder is this
    server's alone: fresh at start, removed when the server (not one of its workers) exits."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # the operator chose the folder (and its lifetime)
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="kaitong-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    server_pid = os.getpid()

    def remove_when_the_server_exits() -> None:
        # gunicorn's workers are forks of this process and run its exit handlers too: only the server
        # removes the folder (a worker that exits leaves its counts for the others' scrapes).
        if os.getpid() == server_pid:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove_when_the_server_exits)


def cmd_serve(args: argparse.Namespace) -> None:
    _metrics_across_processes()
    _django()
    from django.conf import settings

    from kaitong.config.capacity import keep_threads_for_spi
    from kaitong.config.env import Mode
    from kaitong.marketplace.views import unreadable_request_answer
    from kaitong_base.client_errors import json_client_errors
    from kaitong_base.server import serve

    extra: dict[str, object] = {
        # A request gunicorn cannot read (a request line over 8190 bytes) may be an SPI call: answered in
        # the protocol's JSON, not gunicorn's HTML (kaitong_base/client_errors.py).
        "post_worker_init": json_client_errors(unreadable_request_answer),
    }
    if settings.ENV.mode is Mode.PRODUCTION:
        # gunicorn's own error lines in the same JSON lines as the application's (config/logs.py).
        extra["logger_class"] = "kaitong.config.logs.GunicornJsonLogger"
    serve(
        wsgi="kaitong.config.wsgi",
        name="kaitong",
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        # Other pages may not take every thread of a worker: the SPI always finds one (config/capacity.py).
        wrap=lambda app: keep_threads_for_spi(app, threads=args.threads),
        extra=extra,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    _django()
    from kaitong.jobs.worker import run_worker

    print("kaitong worker: running tasks and periodic duties (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(interval=args.idle)


def cmd_admin(args: argparse.Namespace) -> None:
    """Django's manage.py, for what kaitong has no verb of its own (createsuperuser, shell, …)."""
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kaitong admin", *args.rest])


def cmd_demo(args: argparse.Namespace) -> None:
    os.environ.setdefault("KAITONG_ENV", "demo")
    from kaitong.demo import run_demo

    run_demo(reset=args.reset, host=args.host, port=args.port)


def cmd_simulator(args: argparse.Namespace) -> None:
    """The simulator is a program of its own (``kaitong_sim``) that kaitong never imports: this process
    becomes it, so whoever started ``kaitong simulator`` (the demo, a shell) signals the simulator itself."""
    argv = [sys.executable, "-m", "kaitong_sim", "--host", args.host, "--port", str(args.port)]
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter, arguments we built)


def cmd_settle(args: argparse.Namespace) -> None:
    _django()
    from kaitong.billing.commands import settle

    settle(day=args.day)


def cmd_usage(args: argparse.Namespace) -> None:
    _django()
    from kaitong.billing import commands

    if args.usage_command == "import":
        commands.usage_import(path=args.file)
    else:
        commands.usage_simulate(day=args.day)


def cmd_rotate_data_key(args: argparse.Namespace) -> None:
    if args.new_key:
        # Before Django: a fresh key needs no configuration (it is what the configuration lacks).
        from kaitong.sealing.domain import DataKeyError, new_data_key

        try:
            entry = new_data_key(args.new_key)
        except DataKeyError as exc:
            sys.exit(f"--new-key: {exc}")
        print(entry)
        print(
            "put it first in KAITONG_DATA_KEY (keep the old keys after it), restart, then run "
            "`kaitong rotate-data-key`; drop an old key only after that",
            file=sys.stderr,
        )
        return
    _django()
    from kaitong.sealing import commands

    try:
        commands.rotate_data_key(batch_size=args.batch_size)
    except commands.RotationFailed as exc:
        sys.exit(str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaitong", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run everything on one machine (SQLite, simulator, mail sink)")
    demo.add_argument("--reset", action="store_true", help="start from an empty demo database")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="vendor web port; the others follow it")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve the web app with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) + 1))
    # Threads mostly wait (on the database, on a turn to hash a password); a quarter of them are kept for
    # the SPI. Twelve let a worker absorb a sign-in flood by waiting instead of refusing in a tight loop
    # (docs/decisions/2026-11-30-spi-capacity-under-flood.md).
    serve.add_argument("--threads", type=int, default=12, help="threads per worker (a quarter kept for the SPI)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run queued tasks and the periodic duties")
    worker.add_argument("--idle", type=float, default=1.0, help="seconds to sleep when nothing is due")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("-v", "--verbose", action="store_true")
    migrate.set_defaults(func=cmd_migrate)

    simulator = sub.add_parser("simulator", help="run the Alibaba Cloud Marketplace simulator alone")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8100)
    simulator.set_defaults(func=cmd_simulator)

    settle = sub.add_parser("settle", help="close a day: daily bills and the marketplace push")
    settle.add_argument("--day", required=True, help="YYYY-MM-DD (Asia/Shanghai)")
    settle.set_defaults(func=cmd_settle)

    usage = sub.add_parser("usage", help="usage samples")
    usage_sub = usage.add_subparsers(dest="usage_command", required=True)
    usage_import = usage_sub.add_parser("import", help="import samples from a JSON-lines or CSV file")
    usage_import.add_argument("file")
    usage_simulate = usage_sub.add_parser("simulate", help="feed plausible usage for the demo's workspaces")
    usage_simulate.add_argument("--day", default=None, help="YYYY-MM-DD (default: today)")
    usage.set_defaults(func=cmd_usage)

    rotate = sub.add_parser(
        "rotate-data-key", help="re-seal every sealed secret under the current (first) KAITONG_DATA_KEY"
    )
    rotate.add_argument("--batch-size", type=int, default=500, help="rows per transaction")
    rotate.add_argument("--new-key", metavar="ID", help="only print a fresh key entry with this id, and stop")
    rotate.set_defaults(func=cmd_rotate_data_key)

    admin = sub.add_parser("admin", help="Django management commands, e.g. `kaitong admin createsuperuser`")
    admin.add_argument("rest", nargs=argparse.REMAINDER)
    admin.set_defaults(func=cmd_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
