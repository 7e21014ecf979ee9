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

"""Ctrl-C as `ros2 launch` and a terminal deliver it: SIGINT to the process group, twice."""

import random
import subprocess
import sys

from helpers import interrupt_group_twice, PACKAGE_ROOT
import pytest

FATAL = ('Traceback', 'terminate called', 'Failed to publish log message to rosout',
         'RCLError', 'InvalidHandle', 'Exception in thread')
NODE_ARGS = {
    'camera_node': ['-p', 'source:=sample', '-p', 'scale:=0.25', '-p', 'rate_hz:=20.0'],
    'depth_node': ['-p', 'scale:=0.25'],
    'stereo_node': ['-p', 'camera_node:source:=sample', '-p', 'camera_node:scale:=0.25'],
}


def _start(executable: str, namespace: str) -> subprocess.Popen:
    """Start an executable as its console script does, as the leader of its process group."""
    script = (f'import sys; from raiv_stereo.ros.entry import {executable}; '
              f'sys.exit({executable}())')
    return subprocess.Popen(
        [sys.executable, '-c', script, '--ros-args', '-r', f'__ns:=/{namespace}',
         *NODE_ARGS[executable]], cwd=PACKAGE_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)


@pytest.mark.parametrize('executable', sorted(NODE_ARGS))
def test_any_number_of_sigints_at_any_moment_end_the_node_with_exit_0(executable):
    # The first signal anywhere from the imports to steady state, the second 0-0.4 s later
    # (launch forwards its own right after the terminal's), four runs per executable.
    rng = random.Random()
    failures = []
    for run in range(4):
        first_s, second_s = rng.uniform(0.05, 2.5), rng.uniform(0.0, 0.4)
        process = _start(executable, f'sigint_{executable}_{run}')
        output = interrupt_group_twice(process, first_s, second_s)
        if process.returncode != 0 or any(text in output for text in FATAL):
            failures.append(f'signals at {first_s:.2f} s and +{second_s:.2f} s: exit '
                            f'{process.returncode}\n{output}')
    assert not failures, '\n'.join(failures)


def test_two_ctrl_c_a_moment_apart_stop_the_demo_cleanly(tmp_path):
    # Issue: two Ctrl-C 0.3 s apart aborted it (rc 134, no summary) 3 runs of 3.
    rng = random.Random()
    failures = []
    for run in range(4):
        first_s = rng.uniform(0.05, 7.0)  # start-up, warm-up and measuring
        demo = subprocess.Popen(
            [sys.executable, '-m', 'raiv_stereo.tools.cli', 'demo', '--seconds', '30', '--scale',
             '0.25', '--namespace', f'sigint_demo_{run}', '--out', str(tmp_path / str(run))],
            cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        output = interrupt_group_twice(demo, first_s, 0.3)
        if demo.returncode != 130 or any(text in output for text in FATAL) or \
                'interrupted' not in output.lower():
            failures.append(f'signals at {first_s:.2f} s and +0.3 s: exit {demo.returncode}\n'
                            f'{output}')
    assert not failures, '\n'.join(failures)
