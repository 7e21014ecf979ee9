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

"""The core and the offline tools import and run without ROS: only ros/ imports rclpy."""

import ast
import json
import subprocess
import sys

from helpers import PACKAGE_ROOT
import pytest

ROS_MODULES = ('rclpy', 'rcl_interfaces', 'builtin_interfaces', 'std_msgs', 'sensor_msgs',
               'stereo_msgs', 'diagnostic_msgs', 'geometry_msgs', 'message_filters',
               'cv_bridge', 'tf2_ros', 'launch', 'launch_ros', 'ament_index_python')

# Run in a fresh interpreter: a finder ahead of all others refuses (and records) every ROS
# module, then each module outside raiv_stereo/ros is imported and the `range` command runs.
PROBE = """
import importlib, json, pkgutil, sys
blocked, attempts = set(sys.argv[1].split(',')), []
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in blocked:
            attempts.append(name)
            raise ImportError(f'{name} is blocked: the core must not need ROS')
sys.meta_path.insert(0, Refuse())
import raiv_stereo
modules = [m.name for m in pkgutil.walk_packages(raiv_stereo.__path__, 'raiv_stereo.')
           if not m.name.startswith('raiv_stereo.ros')]
failures = {}
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:
        failures[name] = repr(error)
from raiv_stereo.tools import cli
rc = cli.main(['range'])
print(json.dumps({'modules': modules, 'failures': failures, 'attempts': attempts, 'rc': rc}))
"""


def test_core_and_offline_tools_never_import_ros():
    result = subprocess.run([sys.executable, '-c', PROBE, ','.join(ROS_MODULES)],
                            cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    root = PACKAGE_ROOT / 'raiv_stereo'
    parts = [p.relative_to(root).with_suffix('').parts for p in root.rglob('*.py')]
    expected = {'.'.join(('raiv_stereo', *part)).removesuffix('.__init__')
                for part in parts if part[0] != 'ros' and part != ('__init__',)}
    assert set(report['modules']) == expected  # every core module was tried
    assert report['failures'] == {} and report['attempts'] == [], report
    assert report['rc'] == 0


CORE_PROBE = """
import importlib, json, pkgutil, sys
import raiv_stereo.core
for module in pkgutil.walk_packages(raiv_stereo.core.__path__, 'raiv_stereo.core.'):
    importlib.import_module(module.name)
print(json.dumps(sorted(name for name in sys.modules if name.startswith('raiv_stereo.')
                        and not name.startswith('raiv_stereo.core'))))
"""


def test_the_core_states_its_own_defaults_and_imports_no_other_layer():
    # The rig and the matcher own their defaults; params, sources and ros build on the core.
    result = subprocess.run([sys.executable, '-c', CORE_PROBE], cwd=PACKAGE_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# What issue 24 asked for: the ROS client library and message packages, named in
# raiv_stereo/__init__.py's docstring as imported only under raiv_stereo/ros/.
ROS_PACKAGES = {'rclpy', 'sensor_msgs', 'stereo_msgs', 'std_msgs', 'geometry_msgs',
                'diagnostic_msgs', 'rcl_interfaces', 'builtin_interfaces', 'tf2_ros',
                'message_filters', 'cv_bridge', 'launch', 'launch_ros'}


def ros_imports_outside_ros(root) -> list[str]:
    """Return `path:line module` of every import of a ROS package outside root/ros/."""
    found = []
    for path in sorted(root.rglob('*.py')):
        if path.relative_to(root).parts[0] == 'ros':
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f'{path.relative_to(root)}:{node.lineno} {name}' for name in names
                      if name.split('.')[0] in ROS_PACKAGES]
    return found


def test_no_module_outside_ros_imports_a_ros_package_anywhere(tmp_path):
    root = PACKAGE_ROOT / 'raiv_stereo'
    assert ros_imports_outside_ros(root) == []
    # The scan sees imports inside functions too (where issue 24 found them).
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'late.py').write_text('def run():\n    from rclpy.node import Node\n')
    assert ros_imports_outside_ros(tmp_path) == ['tools/late.py:2 rclpy.node']


HELP_PROBE = """
import sys
blocked = set(sys.argv[1].split(','))
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in blocked:
            raise ImportError(f'{name} is blocked: --help must not need ROS')
sys.meta_path.insert(0, Refuse())
from raiv_stereo.tools import cli
cli.main(sys.argv[2:])
"""


@pytest.mark.parametrize('command', [['--help'], ['depth', '--help'], ['demo', '--help'],
                                     ['view', '--help'], ['bench', '--help']])
def test_help_works_without_ros(command):
    result = subprocess.run([sys.executable, '-c', HELP_PROBE, ','.join(ROS_MODULES), *command],
                            cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: raiv-stereo'), result.stdout
