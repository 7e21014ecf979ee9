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

"""Stage means over a window, from two snapshots of a StageTimes that is never reset."""

import pytest
from raiv_stereo.ros.stage_times import stages_between, StageTimes


def test_stages_between_gives_the_means_of_the_window_alone():
    times = StageTimes()
    for _ in range(4):  # warm-up pairs: 10 ms each
        times.add('match', 0.010)
        times.pair_done()
    before = times.snapshot()
    for seconds in (0.002, 0.004):  # the window: 3 ms on average
        times.add('match', seconds)
        times.add('publish', 0.001)
        times.pair_done()
    window = stages_between(before, times.snapshot())
    assert window['pairs'] == 2
    assert window['match'] == pytest.approx(3.0)
    assert window['publish'] == pytest.approx(1.0)
    assert stages_between(before, before) == {'pairs': 0.0, 'match': 0.0}
