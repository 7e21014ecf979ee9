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

"""The launch files through the real `ros2 launch` (needs launch_ros and this package built)."""

import glob
import os
import shutil
import subprocess
import tempfile
import time

from helpers import interrupt_group_twice
import pytest

pytest.importorskip('launch_ros')
if shutil.which('ros2') is None:
    pytest.skip('needs the ros2 command', allow_module_level=True)
try:
    from ament_index_python.packages import get_package_prefix

    get_package_prefix('raiv_stereo')
except Exception:  # noqa: BLE001 - not built into a sourced workspace
    pytest.skip('needs raiv_stereo built and sourced (colcon)', allow_module_level=True)


def _launch(*arguments: str, until: str, timeout_s: float = 40.0) -> str:
    """Run ros2 launch until a line contains `until`, then Ctrl-C twice; return the output."""
    process = subprocess.Popen(['ros2', 'launch', 'raiv_stereo', *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines = []
    deadline = time.monotonic() + timeout_s
    try:
        for line in process.stdout:
            lines.append(line)
            if until in line or time.monotonic() > deadline:
                break
    finally:
        lines.append(interrupt_group_twice(process, 0.0, 0.3, timeout_s=30.0))
    return ''.join(lines)


def _leftover_parameter_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), 'raiv_stereo_*.yaml')))


def test_composed_launch_leaves_no_parameter_file_and_stops_cleanly():
    before = _leftover_parameter_files()
    output = _launch('depth.launch.py', 'composed:=true', 'source:=sample',
                     f'namespace:=launch_{os.getpid()}', until='left/right order')
    assert 'process has finished cleanly' in output and 'process has died' not in output, \
        output
    assert _leftover_parameter_files() <= before


def test_rviz_without_rviz2_leaves_no_orphan_and_unknown_arguments_are_named():
    if shutil.which('rviz2'):
        pytest.skip('rviz2 is installed here')
    output = _launch('depth.launch.py', 'rviz:=true', 'source:=sample', 'min_depht_mm:=400',
                     f'namespace:=rviz_{os.getpid()}', until='left/right order')
    assert "'rviz2' is not installed: starting without RViz" in output, output
    assert "launch argument 'min_depht_mm' is unknown and ignored; did you mean " \
        "'min_depth_mm'?" in output
    assert output.count('process has finished cleanly') == 2, output
