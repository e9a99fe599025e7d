"""Control mapping files: the shipped set loads; bad files are refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.control_files import ControlFileError, load_controls
from reports.controls import Evidence


def test_shipped_mapping_names_the_issue_controls() -> None:
    ids = {(c.framework.split()[0], c.id) for c in load_controls()}
    for want in [
        ("CIS", "5.3.2"),
        ("NIST", "SC-7"),
        ("NIST", "SC-7(5)"),
        ("NIST", "AC-4"),
        ("PCI", "1.2.7"),
        ("PCI", "1.3.1"),
        ("PCI", "1.3.2"),
        ("PCI", "11.4.5"),
        ("ISO/IEC", "A.8.20"),
        ("ISO/IEC", "A.8.22"),
        ("SOC", "CC6.6"),
        ("NSA/CISA", "Network separation"),
    ]:
        assert want in ids


def test_user_file_overrides_and_disables(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "framework: PCI DSS v4.0\n"
        "controls:\n"
        "  - id: '1.3.1'\n"
        "    title: inbound to our CDE\n"
        "    scope: {namespaces: [payments, 'card-*']}\n"
        "    evidence: [default-deny-ingress]\n"
        "  - id: '11.4.5'\n"
        "    enabled: false\n"
    )
    cs = {c.id: c for c in load_controls([f]) if c.framework == "PCI DSS v4.0"}
    assert cs["1.3.1"].title == "inbound to our CDE"
    assert cs["1.3.1"].evidence == (Evidence.DEFAULT_DENY_INGRESS,)
    assert cs["1.3.1"].scope.matches("card-eu", None) is True
    assert "11.4.5" not in cs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "framework: X\ncontrols:\n  - id: a\n    title: t\n    evidence: [bogus]\n",
            "bad.yaml: controls[0].evidence[0]: unknown evidence 'bogus'",
        ),
        (
            "framework: X\ncontrols:\n  - id: a\n    title: t\n    evidnce: [exposures]\n",
            "bad.yaml: controls[0].evidnce: unknown key",
        ),
        (
            "framework: X\ncontrols:\n  - id: a\n    title: t\n    evidence: [exposures]\n"
            "    scope: cde\n",
            "bad.yaml: controls[0].scope: unknown scope 'cde'",
        ),
        (
            "framework: X\nscopes:\n  cde: {namespaceSelector: {matchLabels: {a: [1]}}}\n"
            "controls: []\n",
            "namespaceSelector.matchLabels[a]: value must be a string",
        ),
        ("framework: X\nframework: Y\ncontrols: []\n", "bad.yaml: cannot be read"),
        ("!!python/object:os.system {}\n", "bad.yaml"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ControlFileError) as err:
        load_controls([f], shipped=False)
    assert message in str(err.value)
