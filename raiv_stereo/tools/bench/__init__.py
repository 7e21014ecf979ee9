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


"""
`raiv-stereo bench`: our core and node pipeline beside plain OpenCV, and accuracy.

One module per concern: baseline (plain OpenCV), timing, accuracy (rig, datasets, family),
pipeline (nodes through DDS), report (Markdown and plots), cli (options and the run).
"""

from raiv_stereo.tools.bench.cli import add_parsers, run, run_bench

__all__ = ['add_parsers', 'run', 'run_bench']
