"""`tenaz sources` as operators run it: real subprocesses against the test gRPC server."""

from __future__ import annotations

from typing import Any

import pytest

from tests import checkout_payloads as pay
from tests.acceptance import test_cli
from tests.acceptance.test_cli import Cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

cli = test_cli.cli


async def test_sources_are_created_from_the_environment_listed_and_deleted(
    cli: Cli, meta: str
) -> None:
    await cli(
        "sources", "create-hotmart", "loja-hotmart", "--destination", meta,
        "--event", "PURCHASE_BILLET_PRINTED=", TENAZ_SOURCE_SECRET=pay.HOTTOK,
    )  # fmt: skip
    created = await cli(
        "sources", "create-generic", "loja-propria", "--event", "venda.paga=Purchase",
        "--field", "event_type=/tipo", "--field", "event_id=/venda/id",
        TENAZ_SOURCE_SECRET=pay.GENERIC_SECRET,
    )  # fmt: skip
    assert "/webhooks/generic/loja-propria" in created.out
    # No secret in the environment and no terminal to type it: refused, nothing created.
    refused = await cli("sources", "create-kiwify", "loja-kiwify", expect=1)
    assert "TENAZ_SOURCE_SECRET" in refused.err

    listed = await cli("sources", "list", "--json")
    sources: Any = listed.json()["sources"]
    assert pay.HOTTOK not in listed.out and pay.GENERIC_SECRET not in listed.out
    assert [s["name"] for s in sources] == ["loja-hotmart", "loja-propria"]
    assert sources[0]["path"] == "/webhooks/hotmart/loja-hotmart"
    assert sources[0]["secret_set"] is True and "secret" not in sources[0]
    assert sources[0]["destinations"] == [meta]
    assert sources[0]["event_names"] == {"PURCHASE_BILLET_PRINTED": ""}
    assert sources[1]["fields"] == {"event_type": "/tipo", "event_id": "/venda/id"}
    text = (await cli("sources", "list")).out
    assert "loja-hotmart" in text and "PURCHASE_BILLET_PRINTED=-" in text

    await cli("sources", "delete", "loja-hotmart")
    left: Any = (await cli("sources", "list", "--json")).json()["sources"]
    assert [s["name"] for s in left] == ["loja-propria"]
    await cli("sources", "delete", "loja-hotmart", expect=1)
