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

"""ament_flake8, as `ros2 pkg create --build-type ament_python` sets it up."""

from helpers import LINTED_PATHS
import pytest

flake8 = pytest.importorskip(
    'ament_flake8.main', reason='ament_flake8 is not installed (a ROS install has it; without '
    "ROS: pip install '.[noros,test]')")


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    rc, errors = flake8.main_with_errors(argv=LINTED_PATHS)
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
