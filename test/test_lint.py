# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Lint the package the ROS way (like ament_flake8 / ament_pep257), with ruff."""

import importlib.util
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

# pycodestyle + pyflakes at ROS's 99 columns, and pep257 docstrings on the package's code.
RUFF_ARGS = [
    'check', '--no-cache', '--line-length', '99', '--select', 'E,F,W,D,B,UP',
    '--ignore', 'D105,D107,D203,D212,D413,UP006,UP007,UP035,UP045',
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
