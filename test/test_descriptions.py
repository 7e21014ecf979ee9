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

"""Parameter and launch argument descriptions say what a setting does; figures live in doc/."""

import re

from raiv_stereo.params import camera, depth, launch

MEASURED = re.compile(r'\bfps\b|frames/s|\d\s*%|\d(\.\d+)?x the time|\bmeasured\b', re.I)
"""Frame rates, shares and time ratios: what doc/benchmarks.md reports, run by run."""
MAX_DESCRIPTION_CHARS = 300


def _descriptions():
    for spec in (*depth.PARAMETERS, *camera.PARAMETERS):
        yield f'parameter {spec.name}', spec.description
    for argument in launch.launch_arguments():
        yield f'launch argument {argument.name}', argument.description


def test_descriptions_carry_no_measured_figures():
    found = [f'{name}: {text}' for name, text in _descriptions() if MEASURED.search(text)]
    assert not found, 'move these figures to doc/benchmarks.md:\n' + '\n'.join(found)


def test_descriptions_are_short():
    long = [f'{name} ({len(text)} chars)' for name, text in _descriptions()
            if len(text) > MAX_DESCRIPTION_CHARS]
    assert not long, long
