"""The client commands of `ticket-router` against a real router."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from router.cli import app
from router.serve import Running

runner = CliRunner()


async def invoke(*args: str) -> tuple[int, str]:
    # The router serves from this event loop: run the blocking CLI in a thread.
    result = await asyncio.to_thread(runner.invoke, app, list(args))
    return result.exit_code, result.output


async def test_submit_agents_queues_and_rules(router: Running, tmp_path: Path) -> None:
    target = f"127.0.0.1:{router.port}"
    code, output = await invoke(
        "agents", "upsert", "zoe", "--queue", "billing", "--capacity", "email=2",
        "--skill", "english=5", "--target", target,
    )
    assert code == 0, output
    assert json.loads(output)["agent"]["id"] == "zoe"

    code, output = await invoke(
        "submit", "cli-1", "--subject", "Refund for a double charge",
        "--body", "My invoice was charged twice", "--target", target,
    )
    assert code == 0, output
    reply = json.loads(output)
    assert reply["created"] is True
    assert reply["decision"]["queue"]

    code, output = await invoke("queues", "--target", target)
    assert code == 0 and "billing" in output

    bad = tmp_path / "rules.yaml"
    bad.write_text("default_queue: triage\nrules:\n  - id: x\n    when: {colour: red}\n"
                   "    route_to: billing\n")
    code, output = await invoke("rules", "validate", str(bad), "--target", target)
    assert code == 1
    assert ":4:" in output and "invalid" in output

    code, output = await invoke("rules", "explain", "cli-1", "--target", target)
    assert code == 0, output
    assert "decision" in json.loads(output)

    code, output = await invoke("agents", "status", "nobody", "away", "--target", target)
    assert code == 1 and "NOT_FOUND" in output


async def test_rules_get_prints_the_text_verbatim_to_edit_and_publish(
    router: Running, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{router.port}"
    text = ("# " + "a comment much longer than any terminal is wide, " * 4 + "\n"
            "default_queue: triage\n")
    path = tmp_path / "long.yaml"
    path.write_text(text)
    code, output = await invoke("rules", "publish", str(path), "--target", target)
    assert code == 0, output

    code, output = await invoke("rules", "get", "--target", target)
    assert code == 0, output
    header, printed = output.split("\n", 1)
    assert header.startswith("# version ") and printed == text
