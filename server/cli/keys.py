"""`tenaz keys create | list | revoke`: API keys, straight in the database.

Keys are how one reaches the API, so making the first one cannot need the
API: these commands open the database (TENAZ_DATABASE_URL, or the embedded
one) like `tenaz migrate` does. A key's secret is printed once, on stdout, at
creation; listings show only its prefix, and its scope in the user's language.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from jobs.scopes import ADMIN
from jobs.settings import Settings
from server.cli.output import Output, cell, local_time, scope_label, table

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

# The database driver is imported by the commands that use it, not at start:
# every other command would pay for it on each run.


@contextlib.asynccontextmanager
async def _pool() -> AsyncIterator[AsyncConnectionPool]:
    from jobs.database import open_database, open_pool

    settings = Settings.from_env()
    # A fresh installation has no tables yet; migrating is idempotent and locked.
    async with open_database(settings) as url, open_pool(url, settings) as pool:
        yield pool


async def create(args: argparse.Namespace, out: Output) -> None:
    from jobs import keys

    async with _pool() as pool:
        key = await keys.create_key(
            pool, workspace=args.workspace, name=args.name, scope=args.scope
        )
    out.console.file.write(key.secret + "\n")
    out.note(
        f"{key.scope} API key for workspace {key.workspace.name!r}; it is shown only this once."
    )


async def list_(args: argparse.Namespace, out: Output) -> None:
    from jobs import keys

    async with _pool() as pool:
        found = await keys.list_keys(pool, workspace=args.workspace or None)
    if out.as_json:
        out.json(
            [
                {
                    "prefix": key.prefix,
                    "workspace": key.workspace,
                    "name": key.name,
                    "scope": key.scope,
                    "created_at": key.created_at.isoformat(),
                    "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                }
                for key in found
            ]
        )
        return
    if not found:
        out.note("no API keys yet: tenaz keys create --workspace NAME")
        return
    grid = table("prefix", "workspace", "name", "scope", "created", "revoked")
    for key in found:
        grid.add_row(
            cell(key.prefix),
            cell(key.workspace),
            cell(key.name),
            cell(scope_label(key.scope, out.lang), "bold" if key.scope == ADMIN else ""),
            cell(local_time(key.created_at)),
            cell(local_time(key.revoked_at), "red" if key.revoked_at else "dim"),
        )
    out.print(grid)


async def revoke(args: argparse.Namespace, out: Output) -> None:
    from jobs import keys

    async with _pool() as pool:
        key = await keys.revoke_key(pool, args.prefix, workspace=args.workspace or None)
    if out.as_json:
        out.json({"prefix": key.prefix, "workspace": key.workspace, "revoked": True})
        return
    out.print(cell(f"revoked {key.prefix} of workspace {key.workspace!r}"))
    # The server remembers a checked key for a few seconds to spare a query per call;
    # dashboard sessions are looked up on every request.
    out.note("servers refuse it within 10 seconds; its dashboard sessions have ended")
