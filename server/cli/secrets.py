"""`tenaz secrets generate-key | rotate`: the keys that encrypt destination tokens at rest.

`generate-key` prints a new key for TENAZ_SECRET_KEY. `rotate` re-encrypts every
stored token with the first key of TENAZ_SECRET_KEY, the middle step of a key
rotation (see jobs/secrets.py). Both work without a server; `rotate` opens the
database like the process commands do.
"""

from __future__ import annotations

import argparse

from jobs.settings import Settings
from server.cli.output import Output, cell


async def generate_key(args: argparse.Namespace, out: Output) -> None:
    from jobs.secrets import generate_key

    out.console.file.write(generate_key() + "\n")
    out.note("put it in TENAZ_SECRET_KEY of every Tenaz process that shares the database")


async def rotate(args: argparse.Namespace, out: Output) -> None:
    from jobs.database import open_database
    from jobs.runtime import open_runtime

    settings = Settings.from_env()
    async with open_database(settings) as url, open_runtime(settings, url) as runtime:
        changed = await runtime.destinations.rotate_secrets()
        changed += await runtime.alerts.rotate_secrets()
        changed += await runtime.webhook_sources.rotate_secrets()
    out.print(
        cell(
            f"re-encrypted {changed} destination, alert channel and webhook source secret(s)"
            " with the first key"
        )
    )
