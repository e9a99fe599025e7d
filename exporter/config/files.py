"""Reading the YAML files of the configuration, with every problem collected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml_rs


def read_yaml(path: Path, what: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = yaml_rs.loads(path.read_text(encoding="utf-8"), parse_datetime=False)
    except OSError as exc:
        problems.append(f"{what} {path}: cannot read: {exc.strerror or exc}")
        return {}
    except (yaml_rs.YAMLDecodeError, ValueError) as exc:
        problems.append(f"{what} {path}: invalid YAML: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{what} {path}: expected a mapping at the top")
        return {}
    return data
