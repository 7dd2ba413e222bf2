"""Every ```python block of README.md and docs/**/*.md runs, so that the examples cannot rot.

The blocks of one page run in order in one namespace (a page's later examples use the
names its earlier ones defined), in a fresh temporary working directory. Functions named
``test_*`` that a block defines are called after it, as pytest would (the testing-kit page
defines hypothesis tests). A block that imports torch or ``agnostic_ml_torch`` is skipped,
visibly, when torch is not installed. A block opts out only with a marker line naming the
reason::

    # docs-test: skip (reads pairs.npz written by the shell command above)

A block that is a script for the reader to save (to run it with ``torchrun``, say) is
written to that file in the working directory instead of being run; a later block runs it::

    # docs-test: save as ddp_example.py
"""

from __future__ import annotations

import importlib.util
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
SKIP_MARKER = re.compile(r"^\s*#\s*docs-test:\s*skip\b(?P<rest>.*)$", re.M)
SAVE_MARKER = re.compile(r"^\s*#\s*docs-test:\s*save as\s+(?P<name>[\w.-]+)\s*$", re.M)
TORCH_USE = re.compile(r"^\s*(import torch\b|from torch\b|import agnostic_ml_torch\b|from agnostic_ml_torch\b)", re.M)


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the first code line
    code: str
    skip_reason: str | None = None
    save_as: str | None = None  # a file name: the block is written there, not run

    @property
    def needs_torch(self) -> bool:
        return bool(TORCH_USE.search(self.code))


def python_blocks(text: str, page: str) -> list[Block]:
    """The ```python blocks of a Markdown text (info string ``python`` or ``py``)."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, info = m.group("fence"), m.group("indent"), m.group("info").strip()
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        lang = info.split()[0].lower() if info else ""
        if lang in ("python", "py"):
            body = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
            code = textwrap.dedent("\n".join(body))
            skip = SKIP_MARKER.search(code)
            reason = None
            if skip:
                rest = skip.group("rest").strip()
                reason = rest.strip("():- ").strip()
                if not reason:
                    raise ValueError(f"{page}:{i + 1}: a docs-test skip marker must give a reason, e.g. '# docs-test: skip (why)'")
            save = SAVE_MARKER.search(code)
            blocks.append(Block(page, i + 2, code, reason, save.group("name") if save else None))
        i = j + 1
    return blocks


def pages() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in found if p.is_file() and not any(part.startswith("_") for part in p.relative_to(ROOT).parts)]


def _page_blocks() -> list[tuple[str, list[Block]]]:
    out = []
    for p in pages():
        rel = p.relative_to(ROOT).as_posix()
        blocks = python_blocks(p.read_text(encoding="utf-8"), rel)
        if blocks:
            out.append((rel, blocks))
    return out


PAGE_BLOCKS = _page_blocks()
HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_the_pages_have_examples() -> None:
    assert len(PAGE_BLOCKS) >= 3, [p for p, _ in PAGE_BLOCKS]
    assert sum(len(b) for _, b in PAGE_BLOCKS) >= 10


@pytest.mark.parametrize("page, blocks", PAGE_BLOCKS, ids=[p for p, _ in PAGE_BLOCKS])
def test_page_examples_run(page: str, blocks: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs_example__"}
    skipped: list[str] = []
    ran = 0
    for block in blocks:
        where = f"{block.page}:{block.line}"
        if block.skip_reason is not None:
            skipped.append(f"{where} ({block.skip_reason})")
            continue
        if block.needs_torch and not HAS_TORCH:
            skipped.append(f"{where} (needs torch, which is not installed)")
            continue
        if block.save_as is not None:
            (tmp_path / block.save_as).write_text(block.code, encoding="utf-8")
            continue
        before = set(namespace)
        # Pad with newlines so that tracebacks give the line numbers of the Markdown file.
        code = compile("\n" * (block.line - 1) + block.code, os.path.join(str(ROOT), block.page), "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point
        for name in sorted(set(namespace) - before):
            if name.startswith("test_") and callable(namespace[name]):
                namespace[name]()
        ran += 1
    if skipped:
        pytest.skip(f"{page}: ran {ran} block(s); skipped " + "; ".join(skipped))


def test_extractor_finds_blocks_and_requires_a_skip_reason() -> None:
    text = "x\n```python\na = 1\n```\n\n  ```py\n  b = a + 1\n  ```\n```bash\nls\n```\n"
    blocks = python_blocks(text, "t.md")
    assert [(b.line, b.code.strip()) for b in blocks] == [(3, "a = 1"), (7, "b = a + 1")]
    ok = python_blocks("```python\n# docs-test: skip (needs a file)\nopen('x')\n```\n", "t.md")
    assert ok[0].skip_reason == "needs a file"
    with pytest.raises(ValueError, match="must give a reason"):
        python_blocks("```python\n# docs-test: skip\nopen('x')\n```\n", "t.md")
    assert python_blocks("```python\nimport torch\n```\n", "t.md")[0].needs_torch
    saved = python_blocks("```python\n# docs-test: save as run_me.py\nprint(1)\n```\n", "t.md")[0]
    assert saved.save_as == "run_me.py" and saved.skip_reason is None
