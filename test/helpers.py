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

"""What the tests share: the ROS session fixture, waits with deadlines, ports, textured pairs."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import signal
import socket
import time
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from raiv_stereo.ros.conversions import camera_info_msg, stamp_to_ns
from raiv_stereo.ros.spin import BackgroundSpinner
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
LINTED_PATHS = [str(PACKAGE_ROOT / path) for path in ('raiv_stereo', 'test', 'launch', 'setup.py')]
"""What the ament linters check: the package's code, never a virtual environment beside it."""
CAMERA_TOPICS = {'left': (Image, 'left/image_raw'), 'right': (Image, 'right/image_raw'),
                 'left_info': (CameraInfo, 'left/camera_info'),
                 'right_info': (CameraInfo, 'right/camera_info')}


def wait_for(condition, timeout_s: float = 10.0, what: str = 'the condition', spin=None,
             poll_s: float = 0.01):
    """
    Return `condition()`'s first truthy value; fail naming `what` after `timeout_s`.

    With `spin` (an executor) it is spun between polls, so callbacks run in this thread.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout_s:g} s waiting for {what}')
        if spin is not None:
            spin.spin_once(timeout_sec=poll_s)
        else:
            time.sleep(poll_s)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def textured_pair(height: int, width: int, channels: int = 3, shift_px: int = 8,
                  seed: int = 0, cell_px: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (left, right): random texture, and it moved `shift_px` left (disparity shift_px).

    `cell_px` > 1 smooths the texture (random cells that size, cubic-resized) for matching.
    """
    rng = np.random.default_rng(seed)
    cells = (max(height // cell_px, 1), max(width // cell_px, 1))
    shape = cells if channels == 1 else (*cells, channels)
    left = rng.integers(0, 256, shape, dtype=np.uint8)
    if cell_px > 1:
        left = cv2.resize(left, (width, height), interpolation=cv2.INTER_CUBIC)
    return left, np.roll(left, -shift_px, axis=1)


class ScenePair(NamedTuple):
    """A rendered stereo pair with the true depth of every left pixel."""

    calibration: object
    left: np.ndarray
    right: np.ndarray
    truth_m: np.ndarray


def right_info_with_tx(calibration, tx: float) -> CameraInfo:
    """Return the right CameraInfo of `calibration` with P's Tx (P[0,3]) set to `tx`."""
    msg = camera_info_msg(calibration.right)
    p = list(msg.p)
    p[3] = tx
    msg.p = p
    return msg


def interrupt(process, timeout_s: float = 20.0) -> str:
    """Send the process SIGINT (Ctrl-C) and return its output once it has ended."""
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=timeout_s)[0]


def interrupt_group_twice(process, first_s: float, second_s: float,
                          timeout_s: float = 20.0) -> str:
    """SIGINT the process group after first_s, again second_s later; return the output."""
    time.sleep(first_s)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(second_s)
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        pass  # already gone
    try:
        return process.communicate(timeout=timeout_s)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stamp_key(msg) -> int:
    """Return a message's header stamp in nanoseconds."""
    return stamp_to_ns(msg.header.stamp)


class Ros:
    """
    One rclpy context (its own, in the test run's domain) with an executor.

    Spin it in the test thread (`spin_until`) or in the background (`spin_in_background`);
    `close` destroys the nodes and shuts the context down.
    """

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list = []
        self._spinner: BackgroundSpinner | None = None

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str, namespace: str = ''):
        return self.add(rclpy.create_node(name, namespace=namespace, context=self.context))

    def camera(self, namespace: str, **params):
        from raiv_stereo.ros.camera_node import CameraNode
        return self.add(CameraNode(context=self.context, namespace=namespace,
                                   parameter_overrides=_overrides(params)))

    def depth(self, namespace: str, **params):
        from raiv_stereo.ros.depth_node import DepthNode
        return self.add(DepthNode(context=self.context, namespace=namespace,
                                  parameter_overrides=_overrides(params)))

    def collector(self, namespace: str) -> dict[str, list]:
        """Subscribe to the camera topics in `namespace`; return lists filled as messages come."""
        node = self.node('collector', namespace)
        received: dict[str, list] = {key: [] for key in CAMERA_TOPICS}
        for key, (msg_type, topic) in CAMERA_TOPICS.items():
            node.create_subscription(msg_type, topic, received[key].append, 10)
        # Finite sources publish from the first spin: see their publishers (up to 5 s; a camera
        # started later in another process is not there yet) before spinning.
        with contextlib.suppress(AssertionError):
            wait_for(lambda: all(node.count_publishers(topic)
                                 for _, topic in CAMERA_TOPICS.values()), 5.0)
        return received

    def spin_until(self, predicate, timeout_s: float = 10.0) -> bool:
        """Spin in this thread until `predicate()`; return whether it came true in time."""
        try:
            wait_for(predicate, timeout_s, spin=self.executor, poll_s=0.02)
        except AssertionError:
            return False
        return True

    def spin_in_background(self) -> None:
        """Spin the executor in a thread until close()."""
        self._spinner = BackgroundSpinner(self.executor, self.context)

    def call(self, client, request, timeout_s: float = 5.0):
        """Call a service and return its response (spinning here)."""
        assert client.wait_for_service(timeout_sec=timeout_s), client.srv_name
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout_s), f'no answer from {client.srv_name}'
        return future.result()

    def destroy_nodes(self) -> None:
        """Destroy the nodes added so far (they stop publishing); the session stays usable."""
        assert self._spinner is None, 'destroy_nodes() needs the executor spun in this thread'
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.nodes.clear()

    def close(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
        else:
            self.executor.shutdown()
        for node in self.nodes:
            node.destroy_node()
        self.context.try_shutdown()


def _overrides(params: dict) -> list[Parameter]:
    return [Parameter(name, value=value) for name, value in params.items()]


def ros_session_fixture(scope: str = 'function'):
    """
    Return the `ros_session` fixture: a Ros session, closed when `scope` ends.

    conftest.py gives every test its own (scope 'function'). A module whose tests share nodes
    or a module-scoped fixture's context redeclares it for the module:
    `ros_session = ros_session_fixture('module')`.
    """
    @pytest.fixture(scope=scope, name='ros_session')
    def fixture():
        """Yield a Ros session (own context, this run's domain); close it afterwards."""
        session = Ros()
        try:
            yield session
        finally:
            session.close()
    return fixture
