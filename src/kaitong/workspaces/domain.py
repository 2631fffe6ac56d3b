"""Pure workspace rules: names, tokens and the DataKit install commands (guance-domain §4)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

NAME_MAX = 64


class WorkspaceNameError(ValueError):
    """Empty, or longer than NAME_MAX characters."""


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > NAME_MAX:
        raise WorkspaceNameError(name)
    return name


TOKEN_RE = re.compile(r"^tkn_[0-9a-f]{32}$")


def new_token() -> str:
    """``tkn_`` + 32 hex digits (128 bits from the OS's CSPRNG)."""
    return "tkn_" + secrets.token_hex(16)


@dataclass(frozen=True)
class InstallCommands:
    linux: str
    windows: str


def datakit_commands(*, dataway_url: str, token: str, install_host: str) -> InstallCommands:
    """The install commands that carry this workspace's token to DataKit through ``DK_DATAWAY``."""
    dataway = f"{dataway_url.rstrip('/')}?token={token}"
    host = install_host.rstrip("/")
    linux = f'DK_DATAWAY="{dataway}" bash -c "$(curl -L {host}/datakit/install.sh)"'
    windows = "\n".join(
        [
            "Remove-Item -ErrorAction SilentlyContinue Env:DK_*;",
            f'$env:DK_DATAWAY="{dataway}";',
            "Set-ExecutionPolicy Bypass -scope Process -Force;",
            f"Import-Module bitstransfer; start-bitstransfer -source {host}/datakit/install.ps1 "
            "-destination .install.ps1;",
            "powershell ./.install.ps1;",
        ]
    )
    return InstallCommands(linux=linux, windows=windows)
