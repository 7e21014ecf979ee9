"""Lint the package the ROS way (like ament_flake8 / ament_pep257), with ruff."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

# pycodestyle + pyflakes at ROS's 99 columns, and pep257 docstrings on the package's code.
RUFF_ARGS = [
    'check', '--no-cache', '--line-length', '99', '--select', 'E,F,W,D,B,UP',
    '--ignore', 'D105,D107,D203,D213,D413,UP006,UP007,UP035,UP045',
    '--config', 'lint.per-file-ignores = {"test/*" = ["D100", "D101", "D102", "D103"]}',
    '--target-version', 'py310',
    'raiv_stereo', 'test', 'launch', 'setup.py',
]


@pytest.mark.linter
def test_ruff():
    # The ruff of this interpreter's environment first (a venv need not be activated).
    if importlib.util.find_spec('ruff') is not None:
        ruff = [sys.executable, '-m', 'ruff']
    elif shutil.which('ruff'):
        ruff = [shutil.which('ruff')]
    else:
        pytest.skip('ruff is not installed (pip install ruff, or the [test] extra)')
    result = subprocess.run([*ruff, *RUFF_ARGS], cwd=PACKAGE_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f'ruff found problems:\n{result.stdout}{result.stderr}'
