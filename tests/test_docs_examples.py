"""The ```python blocks of README.md and docs/*.md run as written.

Each document's blocks run in order, in one script (later blocks use names earlier ones
define, as a reader pasting them would), in a temporary folder holding a copy of the repository's
``studies/``. An HTML comment right before a block (only blank lines between) changes that:

* ``<!-- docs-test: skip REASON -->``: not run (a cluster, a GPU, a server that runs until
  interrupted); the reason is required.
* ``<!-- docs-test: after paretoopt ARGS -->``: the command is run first (``python -m
  paretoopt.cli ARGS`` in the same folder), for a block that reads a study the surrounding text
  created with that command.

A block that fails, or a marker that is malformed, fails the test of its document."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->")


@dataclass
class Block:
    line: int
    code: str
    skip: str | None
    setup: list[list[str]]


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").splitlines()
        markers = []
        while before and _MARKER.fullmatch(before[-1].strip()):
            markers.insert(0, _MARKER.fullmatch(before.pop().strip()).group("body"))
            while before and not before[-1].strip():
                before.pop()
        skip, setup = None, []
        for body in markers:
            kind, _, rest = body.partition(" ")
            if kind == "skip":
                assert rest.strip(), f"{path.name}: a docs-test skip needs a reason"
                skip = rest.strip()
            elif kind == "after":
                args = shlex.split(rest)
                assert args and args[0] == "paretoopt", f"{path.name}: 'after' takes a paretoopt command"
                setup.append(args[1:])
            else:
                raise AssertionError(f"{path.name}: unknown docs-test marker {body!r}")
        out.append(Block(text[: m.start()].count("\n") + 2, m.group("code"), skip, setup))
    return out


def test_markers_parse_and_every_document_is_found():
    found = {p.name: blocks(p) for p in DOCUMENTS}
    assert sum(len(b) for b in found.values()) >= 8  # README and docs hold examples
    for name, bs in found.items():
        for b in bs:
            assert b.skip is None or not b.setup, f"{name}:{b.line}: skipped and set up"


@pytest.mark.slow
@pytest.mark.parametrize(
    "doc", [p for p in DOCUMENTS if any(b.skip is None for b in blocks(p))], ids=lambda p: p.name
)
def test_python_blocks_run_as_written(doc: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "studies", tmp_path / "studies")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("PARETOOPT_STORAGE", None)
    parts = [f"# {doc.name}, run by tests/test_docs_examples.py\n"]
    for b in blocks(doc):
        for args in b.setup:
            proc = subprocess.run(
                [sys.executable, "-m", "paretoopt.cli", *args, "--no-progress"] if args[0] == "run"
                else [sys.executable, "-m", "paretoopt.cli", *args],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert proc.returncode == 0, (
                f"{doc.name}:{b.line} setup paretoopt {shlex.join(args)}:\n{proc.stderr[-3000:]}"
            )
        if b.skip is None:
            parts.append(f"# --- {doc.name} line {b.line}\n{b.code}")
        else:
            parts.append(f"# --- {doc.name} line {b.line}: skipped ({b.skip})\n")
    script = tmp_path / f"doc_{doc.stem}.py"
    script.write_text("\n".join(parts), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, f"{doc.name}: its python blocks failed:\n{proc.stderr[-4000:]}"
