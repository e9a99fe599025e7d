"""Reading the intent file: every problem at once, each with file, line and key; YAML
refused safely; the baseline directory read and checked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from exporter.core.intent import IntentError
from exporter.sources.intent import load_intent, locate

BROKEN = textwrap.dedent(
    """\
    apiVersion: netfence.io/v1alpha1
    kind: Intent
    teams:
      namespace_label: team
      colour: blue
    guardrails:
      - name: ok
        namespace_selector: {}
        require_default_deny: [ingress]
      - name: broken
        namespace_selector:
          matchLabels: {env: prod}
        severity: urgent
        forbid_exposure:
          - internet
          - moon
        exceptions:
          - namespace: legacy
            reason: migrating
            owner: ops
            expires: next week
    baseline:
      directory: nowhere
      extra: 1
    """
)


def test_every_problem_has_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "intent.yaml"
    path.write_text(BROKEN)
    with pytest.raises(IntentError) as err:
        load_intent(path)
    got = [(p.line, p.key) for p in err.value.problems]
    assert got == [
        (5, "teams.colour"),
        (13, "guardrails[1].severity"),
        (16, "guardrails[1].forbid_exposure[1]"),
        (21, "guardrails[1].exceptions[0].expires"),
        (24, "baseline.extra"),
        (23, "baseline.directory"),
    ]
    first = str(err.value.problems[0])
    assert first.startswith(f"{path}:5: teams.colour: unknown key")


def test_locate_finds_keys_and_items_in_block_yaml() -> None:
    assert locate(BROKEN, ("guardrails", 1, "name")) == 10
    assert locate(BROKEN, ("guardrails", 0, "require_default_deny")) == 9
    assert locate(BROKEN, ("guardrails", 1, "namespace_selector", "matchLabels")) == 12
    assert locate(BROKEN, ("baseline", "directory")) == 23
    # not there: the deepest part found
    assert locate(BROKEN, ("guardrails", 1, "missing")) == 10
    assert locate(BROKEN, ("nothing",)) is None


def test_duplicate_keys_and_bad_yaml_are_refused(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("teams: {}\nteams: {}\n")
    with pytest.raises(IntentError, match="duplicate mapping key"):
        load_intent(dup)
    bad = tmp_path / "bad.yaml"
    bad.write_text("guardrails: [\n")
    with pytest.raises(IntentError, match="invalid YAML"):
        load_intent(bad)
    with pytest.raises(IntentError, match="cannot read"):
        load_intent(tmp_path / "absent.yaml")


def test_baseline_directory_is_relative_to_the_file_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "intent.yaml"
    path.write_text("baseline:\n  directory: base\n")
    with pytest.raises(IntentError) as err:
        load_intent(path)
    [problem] = err.value.problems
    assert (problem.line, problem.key) == (2, "baseline.directory")
    assert "is not a directory" in problem.message

    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "objects.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    )
    with pytest.raises(IntentError, match="ConfigMap c is not a policy kind"):
        load_intent(path)

    (tmp_path / "base" / "objects.yaml").unlink()
    (tmp_path / "base" / "p.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    )
    loaded = load_intent(path)
    assert [b.label for b in loaded.baseline] == ["NetworkPolicy/p"]


def test_the_demo_intent_loads() -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "intent" / "intent.yaml"
    loaded = load_intent(demo)
    assert [g.name for g in loaded.intent.guardrails] == [
        "prod-default-deny-ingress",
        "sensitive-not-broadly-exposed",
        "payments-egress-allowlist",
        "prod-every-pod-selected",
    ]
    assert sorted(b.label for b in loaded.baseline) == [
        "NetworkPolicy/allow-dns-egress",
        "NetworkPolicy/default-deny-all",
    ]
