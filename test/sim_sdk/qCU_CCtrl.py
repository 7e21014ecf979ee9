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
Simulated RAiV camera control (qCU_CCtrl) for tests: ranges, exposure/gain, failure codes.

`state` is the device: qCU_Data's images get brighter with it. Every accepted write is appended
to `writes` and, when RAIV_SIM_STATE_FILE is set, to that file as 'exposure gain' lines (for a
node in another process). RAIV_SIM_CTRL_CODE makes set_expo_gain fail with that return code.
"""

from __future__ import annotations

import os

RANGES = [100, 10000, 0, 24]  # exposure_min, exposure_max, gain_min, gain_max (maker's example)
CODE_OUT_OF_RANGE = -22
state = {'exposure': int(os.environ.get('RAIV_SIM_EXPOSURE', '2000')), 'gain': 0}
writes: list[tuple[int, int]] = []
fail_code = int(os.environ.get('RAIV_SIM_CTRL_CODE', '0'))


class qCU_CCtrl:  # noqa: N801 (the SDK's name)
    """One control object; the maker creates one per use."""

    def get_cam_ctrl_ranges(self):
        """Return [exposure_min, exposure_max, gain_min, gain_max]."""
        return list(RANGES)

    def get_expo_gain(self):
        """Return (exposure, gain, return code)."""
        return state['exposure'], state['gain'], 0

    def set_expo_gain(self, exposure, gain):
        """Set both; return 0, fail_code, or CODE_OUT_OF_RANGE outside RANGES."""
        if fail_code:
            return fail_code
        if not (RANGES[0] <= exposure <= RANGES[1] and RANGES[2] <= gain <= RANGES[3]):
            return CODE_OUT_OF_RANGE
        state.update(exposure=int(exposure), gain=int(gain))
        writes.append((int(exposure), int(gain)))
        path = os.environ.get('RAIV_SIM_STATE_FILE')
        if path:
            with open(path, 'a', encoding='utf-8') as stream:
                stream.write(f'{exposure} {gain}\n')
        return 0
