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

"""Device -> ROS over loopback: the real sender process streams to the camera node."""

import socket
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.ros.conversions import msg_to_image, stamp_to_ns
from raiv_stereo.sources import stream_protocol as sp


def _closed_by_peer(connection: socket.socket) -> bool:
    """Return True once the other end has closed or reset the connection."""
    try:
        return connection.recv(65536) == b''
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.fixture(autouse=True)
def ros_home(tmp_path, monkeypatch):
    """Keep stream_token: auto's token in a folder of this test (senders inherit it)."""
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    return tmp_path / 'ros_home'


def _sender(port, count=12):
    """Start the real sender on this host: it takes the token the node stored (ROS_HOME)."""
    return subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--sample', '--sample-scale',
         '0.25', '--host', '127.0.0.1', '--port', str(port), '--codec', 'png',
         '--rate-hz', '20', '--count', str(count), '-q'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sender_to_camera_node_round_trip_survives_a_garbage_peer(free_port, ros_session):
    port = free_port
    camera = ros_session.camera('stream_rt', source='stream', **{
        'stream.mode': 'listen', 'stream.host': '127.0.0.1', 'stream.port': port,
        'stream.timeout_s': 2.0})
    received = ros_session.collector('stream_rt')
    # A stranger sends garbage first: the connection is reset, the node keeps serving.
    with socket.create_connection(('127.0.0.1', port), timeout=0.05) as stranger:
        stranger.sendall(b'GET / HTTP/1.1\r\n\r\n' + bytes(range(256)) * 8)
        assert ros_session.spin_until(lambda: _closed_by_peer(stranger), 10.0), \
            'the camera node kept a garbage connection open'
    assert camera._source.counters['protocol_errors'] >= 1
    sender = _sender(port)
    try:
        arrived = ros_session.spin_until(
            lambda: len(received['left_info']) >= 5 and len(received['right']) >= 5, 20.0)
    finally:
        sender.wait(timeout=20)
    assert arrived, f'no pairs from the sender: {sender.stdout.read()}'
    assert sender.returncode == 0

    lefts = {stamp_to_ns(msg.header.stamp): msg for msg in received['left']}
    rights = {stamp_to_ns(msg.header.stamp): msg for msg in received['right']}
    paired = sorted(set(lefts) & set(rights))
    assert len(paired) >= 5
    assert paired == sorted(paired) and len(set(paired)) == len(paired)
    # Stamps are the device's capture times mapped to this host's clock: close to now.
    assert abs(paired[-1] - time.time_ns()) < 10 * 10**9
    left = msg_to_image(lefts[paired[-1]])
    assert left.shape == (325, 400, 3)
    assert float(np.std(left)) > 10.0   # the textured scene, not a blank frame
    # The calibration the device sent becomes the CameraInfo (nominal model at 400x325):
    # f = 2.8 mm / 3 um / 4, centre ((400 - 1) / 2, (325 - 1) / 2), Tx = -f * 0.065 m.
    fx = 2800.0 / 3.0 / 4.0
    info = received['right_info'][-1]
    assert (info.width, info.height) == (400, 325)
    np.testing.assert_allclose(np.reshape(info.p, (3, 4)), [[fx, 0, 199.5, -fx * 0.065],
                                                            [0, fx, 162.0, 0], [0, 0, 1, 0]])


def _reject_reason(connection: socket.socket) -> str:
    """Return the REJECT reason the node sent before closing ('' if none)."""
    decoder, reason = sp.FrameDecoder(), ''
    connection.settimeout(10.0)
    try:
        while data := connection.recv(65536):
            for message in decoder.feed(data):
                if message.type == sp.REJECT:
                    reason = sp.decode_reject(message)[1]
    except (ConnectionResetError, TimeoutError):
        pass
    return reason


def test_oversized_calibration_is_refused_and_the_node_serves_the_next_sender(
        free_port, ros_home, ros_session):
    port = free_port
    camera = ros_session.camera('stream_big', source='stream', **{  # stream.token: auto
        'stream.host': '127.0.0.1', 'stream.port': port, 'stream.timeout_s': 2.0})
    token = (ros_home / 'raiv_stereo' / 'stream_token').read_text().strip()
    received = ros_session.collector('stream_big')
    # The attack of issue 26: a 1600000x1300000 calibration, then a frame.
    with socket.create_connection(('127.0.0.1', port), timeout=5.0) as attacker:
        sp.send_parts(attacker, sp.encode_hello(token, 'attacker'))
        assert sp.FrameDecoder().feed(attacker.recv(65536))[0].type == sp.WELCOME
        sp.send_parts(attacker, sp.encode_calibration(
            raiv_nominal().with_size(1600000, 1300000).to_dict()))
        left = np.zeros((130, 160, 3), np.uint8)
        sp.send_parts(attacker, sp.encode_frame(0, 1, left, left))
        assert 'protocol limit of 2048x2048' in _reject_reason(attacker)
    assert camera._source.counters['protocol_errors'] == 1
    sender = _sender(port, count=8)
    try:
        arrived = ros_session.spin_until(lambda: len(received['right_info']) >= 3, 20.0)
    finally:
        output, _ = sender.communicate(timeout=30)
    assert arrived and sender.returncode == 0, output
    assert (received['right_info'][-1].width, received['right_info'][-1].height) == (400, 325)


def test_camera_node_drops_a_frame_on_any_error_and_keeps_publishing(free_port, ros_session):
    port = free_port
    camera = ros_session.camera('stream_err', source='stream', **{
        'stream.host': '127.0.0.1', 'stream.port': port, 'stream.timeout_s': 2.0})
    received = ros_session.collector('stream_err')
    prepare, faults = camera._prepare, []

    def fault_once(image, name, *args):
        """Fault injection: OpenCV fails on the first image (as an allocation would)."""
        if not faults:
            faults.append(name)
            raise cv2.error('injected: Insufficient memory')
        return prepare(image, name, *args)
    camera._prepare = fault_once
    sender = _sender(port, count=10)
    try:
        arrived = ros_session.spin_until(lambda: len(received['left']) >= 3, 20.0)
    finally:
        output, _ = sender.communicate(timeout=30)
    assert faults == ['left'], 'the fault was never injected'
    assert arrived, f'the node stopped publishing after an OpenCV error: {output}'
