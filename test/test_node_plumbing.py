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

"""Process tuning in main(), not in node constructors; camera errors throttled per kind."""

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


def test_camera_errors_are_throttled_per_kind(ros_session):
    """As in the depth node: a new kind of error is logged at once, a repeat in the period not."""
    from rcl_interfaces.msg import Log

    camera = ros_session.camera('/throttle', source='sample', scale=0.25, rate_hz=1.0)
    lines: list = []
    listener = ros_session.node('rosout_listener')
    listener.create_subscription(Log, '/rosout', lambda msg: lines.append(msg.msg), 50)
    ros_session.spin_until(lambda: False, timeout_s=1.0)  # discovery
    camera._error('dropped a frame: left file a.png is 12 bytes')
    camera._error('dropped a frame: left file a.png is 13 bytes')  # same kind: throttled
    camera._error('auto_exposure: the device refused exposure 40')  # another kind: logged
    ros_session.spin_until(lambda: len(lines) >= 2, timeout_s=5.0)
    ros_session.spin_until(lambda: False, timeout_s=0.5)
    ours = [line for line in lines if 'a.png' in line or 'auto_exposure' in line]
    assert ours == ['dropped a frame: left file a.png is 12 bytes',
                    'auto_exposure: the device refused exposure 40']
