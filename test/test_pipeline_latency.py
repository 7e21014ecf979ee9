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

"""What keeps camera->depth latency and the camera's CPU down: output order, process tuning."""

import os
from pathlib import Path
import signal
import statistics
import subprocess
import sys
import threading

import cv2
from helpers import wait_for
from raiv_stereo.ros import camera_node, memory, process_tuning, spin
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_depth_is_written_before_the_disparity_of_its_pair(rig_factory, scene_pair):
    """Depth users wait for no DisparityImage: DDS's source timestamps show the write order."""
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=())
    lock = threading.Lock()
    written: dict[str, dict[int, int]] = {'depth': {}, 'disparity': {}}

    def keep(name: str):
        def callback(msg, info) -> None:  # with MessageInfo: the writer's source timestamp
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            with lock:
                written[name][stamp] = info['source_timestamp']
        return callback

    rig.io.create_subscription(Image, 'depth/image_rect', keep('depth'), 10)
    rig.io.create_subscription(DisparityImage, 'disparity', keep('disparity'), 10)

    def both(stamp_ns: int) -> bool:
        with lock:
            return stamp_ns in written['depth'] and stamp_ns in written['disparity']

    stamps = [1_700_000_000_000_000_000 + i * 100_000_000 for i in range(1, 4)]
    for stamp_ns in stamps:  # one pair at a time: none replaced by the next
        for _ in range(5):  # best-effort input: send again until it is processed
            rig.publish(calibration, left, right, stamp_ns)
            try:
                wait_for(lambda stamp_ns=stamp_ns: both(stamp_ns), 3.0, 'depth and disparity')
                break
            except AssertionError:
                continue
    with lock:
        done = [ns for ns in stamps if ns in written['depth'] and ns in written['disparity']]
        assert len(done) >= 2, written
        for ns in done:
            assert written['depth'][ns] < written['disparity'][ns], (ns, written)


def test_the_camera_process_runs_opencv_on_one_thread(monkeypatch):
    """camera_node's main() asks for it (and the EventsExecutor); others keep OpenCV's."""
    before, switch_interval = cv2.getNumThreads(), sys.getswitchinterval()
    calls = []
    monkeypatch.setattr(memory, 'keep_freed_memory', lambda: True)  # process-wide: not here
    monkeypatch.setattr(camera_node, 'tune_process', lambda **kwargs: calls.append(kwargs))
    runs = []
    monkeypatch.setattr(camera_node, 'run_nodes', lambda *args, **kwargs: runs.append(kwargs))
    camera_node.main([])
    assert calls == [{'depth_worker': False, 'camera_only': True}]
    assert runs == [{'events_executor': True}]
    assert type(spin._executor(True)).__name__ == 'EventsExecutor'  # this rclpy has it
    try:
        cv2.setNumThreads(2)
        process_tuning.tune_process(depth_worker=False)  # the viewer
        assert cv2.getNumThreads() == 2
        process_tuning.tune_process(depth_worker=True)  # depth_node, stereo_node
        assert cv2.getNumThreads() == 2
        process_tuning.tune_process(depth_worker=False, camera_only=True)
        assert cv2.getNumThreads() == process_tuning.CAMERA_OPENCV_THREADS == 1
    finally:
        cv2.setNumThreads(before)
        sys.setswitchinterval(switch_interval)


def test_the_camera_executable_publishes_and_takes_a_new_rate(ros_session):
    """On rclpy's EventsExecutor: pairs flow, set_parameters answers, the new rate applies."""
    script = 'import sys; from raiv_stereo.ros.entry import camera_node; sys.exit(camera_node())'
    namespace = f'/events_camera_{os.getpid()}'  # one camera per listener, whatever else runs
    process = subprocess.Popen(
        [sys.executable, '-c', script, '--ros-args', '-r', f'__ns:={namespace}', '-p',
         'source:=sample', '-p', 'scale:=0.25', '-p', 'rate_hz:=20.0'], cwd=PACKAGE_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        node = ros_session.node('rate_listener', namespace)
        stamps: list[int] = []
        node.create_subscription(
            CameraInfo, 'left/camera_info',
            lambda msg: stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec),
            10)
        assert ros_session.spin_until(lambda: len(stamps) >= 12, timeout_s=30.0), stamps
        fast = statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:], strict=False))
        client = node.create_client(SetParameters, 'camera_node/set_parameters')
        request = SetParameters.Request(
            parameters=[Parameter('rate_hz', value=2.0).to_parameter_msg()])
        assert ros_session.call(client, request, timeout_s=10.0).results[0].successful
        ros_session.spin_until(lambda: False, timeout_s=0.6)  # the old timer's last pairs
        count = len(stamps)
        assert ros_session.spin_until(lambda: len(stamps) >= count + 4, timeout_s=15.0)
        slow = statistics.median(b - a for a, b in zip(stamps[count:], stamps[count + 1:],
                                                       strict=False))
        assert fast < 0.2e9 < 0.4e9 < slow, (fast, slow)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output
    assert 'Traceback' not in output, output
