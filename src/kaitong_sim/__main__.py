"""``python -m kaitong_sim [--host H] [--port P]`` (also ``kaitong-sim`` and ``kaitong simulator``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kaitong-sim", description="Run the Alibaba Cloud Marketplace simulator (see its README)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args(argv)
    from kaitong_sim.server import run_simulator

    run_simulator(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
