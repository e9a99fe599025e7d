"""The program output the docs quote between `<!-- netfence:begin NAME -->` markers is
what the program prints today: docs/generate.py (`make docs`) writes each block by
running `netfence` in-process, and these tests fail when a committed block differs.

Generated blocks (docs/generate.py BLOCKS):
- README.md `explain-table`: `netfence explain` on the demo, shop/cart -> payments-api.
- docs/json-output.md `scan-json` (summary, a verified and an unknown namespace, a
  finding, an input error), `exposure-json`, `intent-json`, `connectivity-json`,
  `explain-json`.
- docs/diff-output.md `diff-json`, `diff-markdown`: `netfence diff` against a git base
  revision, as JSON and as the pull-request comment.
- docs/history.md `history-table`, `history-at`: `netfence history` over a seeded store.
- examples/demo-cluster/README.md `demo-exposures`: the demo's route and internet
  exposures from `netfence scan`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


GEN = _generator()
USES = {
    doc: [name for name, _start, _end in GEN.blocks_in((ROOT / doc).read_text())]
    for doc in GEN.DOCS
}


def test_every_block_is_known_and_used() -> None:
    used = [name for names in USES.values() for name in names]
    assert set(used) == set(GEN.BLOCKS), "a marker names an unknown block, or a block is unused"
    # no other doc carries markers the generator would not rewrite
    others = [
        p
        for p in [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("examples/**/*.md")]
        if str(p.relative_to(ROOT)) not in GEN.DOCS and "netfence:begin" in p.read_text()
    ]
    assert others == []


@pytest.mark.parametrize(
    ("doc", "name"), [(doc, name) for doc, names in USES.items() for name in names]
)
def test_the_committed_block_is_what_the_program_prints(doc: str, name: str) -> None:
    text = (ROOT / doc).read_text()
    ((_n, start, end),) = [b for b in GEN.blocks_in(text) if b[0] == name]
    committed = text[start:end]
    assert committed == GEN.BLOCKS[name](), f"{doc}: block {name} is stale: run `make docs`"


def test_a_block_shows_real_values() -> None:
    """The generated scan example is the program's answer, not a template: the demo's
    counts and the broken policy's error are in it."""
    block = GEN.BLOCKS["scan-json"]()
    for fact in ('"pods": 46', '"state": "degraded"', '"source": "manifests/payments/broken.yaml"'):
        assert fact in block


def test_the_check_mode_reports_a_stale_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "docs" / "history.md"
    doc.parent.mkdir()
    text = (ROOT / "docs" / "history.md").read_text()
    doc.write_text(text.replace("prod-eu  payments", "prod-eu  shop", 1))
    monkeypatch.setattr(GEN, "ROOT", tmp_path)
    monkeypatch.setattr(GEN, "DOCS", ("docs/history.md",))
    assert GEN.main(["--check"]) == 1
    assert doc.read_text() != text  # --check writes nothing
    assert GEN.main([]) == 0
    assert doc.read_text() == text
