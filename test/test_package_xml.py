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

"""package.xml names every package the code imports, under its rosdep key."""

import ast
import sys
import xml.etree.ElementTree as ET

from helpers import PACKAGE_ROOT

ROSDEP_KEYS = {'cv2': 'python3-opencv', 'numpy': 'python3-numpy', 'yaml': 'python3-yaml',
               'pytest': 'python3-pytest', 'hypothesis': 'python3-hypothesis'}
"""Python modules whose rosdep key is not their own name (ros/rosdistro rosdep/python.yaml)."""
NOT_DEPENDENCIES = {'raiv_stereo', 'qCU_Data', 'qCU_CCtrl', 'cv2.ximgproc', 'rosbags'}
"""This package itself, the RAiV SDK that only exists on the camera, and rosbags: optional
(bags without ROS; the noros extra installs it, and a ROS install has ros2 bag)."""


def imported_modules(folder: str = 'raiv_stereo') -> set[str]:
    modules = set()
    local = {path.stem for path in (PACKAGE_ROOT / folder).rglob('*.py')}
    for path in (PACKAGE_ROOT / folder).rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split('.')[0])
    return {m for m in modules if m not in sys.stdlib_module_names and
            m not in NOT_DEPENDENCIES and m not in local}


def test_every_import_is_an_exec_depend():
    root = ET.parse(PACKAGE_ROOT / 'package.xml').getroot()
    exec_depends = {e.text for e in root.iter('exec_depend')}
    missing = {ROSDEP_KEYS.get(m, m) for m in imported_modules()} - exec_depends
    assert not missing, f'package.xml lacks <exec_depend> for {sorted(missing)}'
    # The linters the test files run are test_depends, as ros2 pkg create writes them.
    test_depends = {e.text for e in root.iter('test_depend')}
    assert {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'} <= test_depends


def test_every_test_import_is_a_dependency():
    # colcon test on a ROS machine installs test_depends by rosdep: a test import missing
    # there fails (the fuzz tests import hypothesis).
    root = ET.parse(PACKAGE_ROOT / 'package.xml').getroot()
    depends = {e.text for tag in ('exec_depend', 'test_depend') for e in root.iter(tag)}
    missing = {ROSDEP_KEYS.get(m, m) for m in imported_modules('test')} - depends
    assert not missing, f'package.xml lacks <test_depend> for {sorted(missing)}'
