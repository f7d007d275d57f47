"""Locate the command-line tools of the deployment checks (installed by scripts/install.sh)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def promtool() -> str:
    """promtool from the virtual environment (scripts/install_deploy_tools.sh), else from PATH."""
    candidates = [Path(sys.executable).parent / "promtool"]
    found = next((str(c) for c in candidates if os.access(c, os.X_OK)), None) or shutil.which("promtool")
    if not found:
        pytest.fail("promtool is missing: run scripts/install.sh (it calls scripts/install_deploy_tools.sh)")
    return found
