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

"""ament_copyright, as `ros2 pkg create` sets it up, and the project's own header on every file."""

from pathlib import Path

from helpers import LINTED_PATHS
import pytest


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    copyright_check = pytest.importorskip(
        'ament_copyright.main', reason='ament_copyright is not installed: a ROS install has it '
        '(ros-<distro>-ament-copyright); it is not on PyPI')
    rc = copyright_check.main(argv=LINTED_PATHS)
    assert rc == 0, 'Found errors'


@pytest.mark.copyright
def test_every_file_is_the_projects_own_under_apache():
    # The project's code is its own: one copyright holder, one licence, no copied notices.
    files = [f for p in map(Path, LINTED_PATHS) for f in ([p] if p.is_file() else p.rglob('*.py'))]
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding='utf-8')
        assert text.startswith('# Copyright 2026 raiv_stereo developers\n#\n'
                               '# Licensed under the Apache License, Version 2.0'), path
        assert 'Redistribution and use in ' 'source and binary forms' not in text, path  # BSD
