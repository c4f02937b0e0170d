"""The house keeps its layers and its types: the import contracts and mypy, run as tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT


def _tool(name: str) -> str:
    """A console script of the test extras, beside this Python or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return found


def test_imports_run_one_way() -> None:
    done = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_mypy_is_clean() -> None:
    done = subprocess.run([_tool("mypy"), "--no-incremental"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_layers_are_packages() -> None:
    """The tree shows the layers: no module of logic sits loose at the top."""
    top = sorted(p.name for p in (ROOT / "otbot").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "config.py", "effects.py"]
