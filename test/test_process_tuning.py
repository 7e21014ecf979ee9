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

"""Process-wide tuning happens in main() and the in-process tools, not in node constructors."""

import sys

from raiv_stereo.ros import memory, process_tuning


def test_nodes_leave_process_state_alone_and_tune_process_sets_it(ros_session, monkeypatch):
    calls = []
    monkeypatch.setattr(memory, 'keep_freed_memory', lambda: calls.append('mallopt') or True)
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        ros_session.camera('/tuning', source='sample', scale=0.25)
        ros_session.depth('/tuning')
        assert sys.getswitchinterval() == 0.005 and calls == []  # constructors: no tuning

        process_tuning.tune_process(depth_worker=False)  # camera_node's main()
        assert sys.getswitchinterval() == 0.005 and calls == ['mallopt']
        process_tuning.tune_process(depth_worker=True)  # depth_node's and stereo_node's main()
        assert sys.getswitchinterval() == process_tuning.GIL_SWITCH_INTERVAL_S
        assert calls == ['mallopt', 'mallopt']
    finally:
        sys.setswitchinterval(before)
