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

"""StreamSource over loopback: round trips, stamps, calibration, and every injected fault."""

import logging
import os
import re
import socket
import subprocess
import sys
import time

import cv2
from helpers import free_port, PACKAGE_ROOT, textured_pair, wait_for
import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.core.calibration_io import save_camera_info_yaml
from raiv_stereo.sources import open_source, stream_protocol as sp
from raiv_stereo.sources.stream import ClockMapper, StreamSource


def _pair(seed=0, height=60, width=80, channels=3):
    return textured_pair(height, width, channels, shift_px=4, seed=seed)


@pytest.fixture
def source():
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=1.0)
    yield src
    src.close()


def _read(src, timeout_s=5.0):
    return wait_for(src.read, timeout_s, 'a frame from the stream', poll_s=0.005)


class Peer:
    """A hand-driven sender: raw socket, so tests can send anything."""

    def __init__(self, src, token='', hello=True, name='test'):
        self.sock = socket.create_connection(src.address, timeout=3.0)
        self.decoder = sp.FrameDecoder()
        if hello:
            self.send(sp.encode_hello(token, name))

    def send(self, buffers):
        sp.send_parts(self.sock, buffers)

    def send_bytes(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Return the next message from the source, or None when it closed the connection."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return None
            messages = self.decoder.feed(data)
            if messages:
                return messages[0]

    def welcomed(self):
        message = self.reply()
        return message is not None and message.type == sp.WELCOME

    def closed_by_source(self):
        """Wait until the source closes; return the REJECT reason it gave (or '')."""
        reason = ''
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return reason
                for message in self.decoder.feed(data):
                    if message.type == sp.REJECT:
                        reason = sp.decode_reject(message)[1]
        except ConnectionResetError:
            return reason

    def frame(self, sequence, left, right, codec='raw', capture_ns=None):
        capture_ns = time.time_ns() if capture_ns is None else capture_ns
        self.send(sp.encode_frame(sequence, capture_ns, left, right, codec))
        return capture_ns

    def close(self):
        self.sock.close()


def _serves_a_good_sender(src, token='', seed=99):
    """After a fault: a fresh, well-behaved sender is admitted and its pair comes out exact."""
    peer = Peer(src, token=token)
    try:
        assert peer.welcomed()
        left, right = _pair(seed)
        peer.frame(1000 + seed, left, right)
        frame = _read(src)
        while frame.sequence != 1000 + seed:
            frame = _read(src)
        np.testing.assert_array_equal(frame.left, left)
        np.testing.assert_array_equal(frame.right, right)
    finally:
        peer.close()
    return True


@pytest.mark.parametrize('codec', ['raw', 'png', 'jpeg'])
def test_round_trip(source, codec):
    peer = Peer(source)
    assert peer.welcomed()
    left, right = _pair(1)
    before_ns = time.time_ns()
    capture_ns = peer.frame(7, left, right, codec)
    frame = _read(source)
    assert frame.sequence == 7
    assert capture_ns <= frame.capture_time_ns <= time.time_ns()
    assert frame.capture_time_ns >= before_ns  # the host time of arrival, mapped
    if codec == 'jpeg':
        assert frame.left.shape == left.shape and frame.left.dtype == np.uint8
    else:
        np.testing.assert_array_equal(frame.left, left)
        np.testing.assert_array_equal(frame.right, right)
    assert source.read() is None  # each pair is handed out once
    peer.close()


def test_gray_pairs_keep_one_channel(source):
    peer = Peer(source)
    assert peer.welcomed()
    left, right = _pair(2, channels=1)
    peer.frame(0, left, right, 'png')
    np.testing.assert_array_equal(_read(source).right, right)


def test_order_and_monotonic_stamps_across_reconnects(source):
    sequences, stamps = [], []
    for connection in range(2):
        peer = Peer(source, name=f'dev{connection}')
        assert peer.welcomed()
        for index in range(10):
            peer.frame(connection * 100 + index, *_pair(index, 16, 20))
            frame = _read(source)
            sequences.append(frame.sequence)
            stamps.append(frame.capture_time_ns)
        peer.send(sp.encode_message(sp.BYE))
        assert peer.closed_by_source() == ''
        peer.close()
    assert sequences == list(range(10)) + list(range(100, 110))
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert source.counters['connections'] == 2
    assert source.counters['protocol_errors'] == 0


def test_device_clock_is_mapped_to_host_time(source):
    peer = Peer(source)
    assert peer.welcomed()
    device_offset_ns = -3_600 * 10**9  # the device clock runs an hour behind
    stamps = []
    for index in range(5):
        peer.frame(index, *_pair(index, 8, 8), capture_ns=time.time_ns() + device_offset_ns)
        stamps.append(_read(source).capture_time_ns)
    now_ns = time.time_ns()
    assert all(now_ns - 10 * 10**9 < stamp <= now_ns for stamp in stamps)  # not an hour off
    assert stamps == sorted(stamps)


def test_clock_mapper_takes_the_least_delayed_frame_and_stays_monotonic():
    mapper = ClockMapper(window=8)
    rng = np.random.default_rng(3)
    offset_ns, stamps = 5 * 10**12, []
    for index in range(50):
        capture = index * 100_000_000
        delay = 2_000_000 + int(rng.integers(0, 30_000_000))
        stamps.append(mapper.to_host_ns(capture, capture + offset_ns + delay))
        assert stamps[-1] <= capture + offset_ns + delay  # never after arrival
        assert stamps[-1] - (capture + offset_ns) <= delay
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert mapper.offset_ns - offset_ns < 10_000_000
    # the device restarts and its clock starts again from 0: re-estimated, still monotonic
    last = stamps[-1]
    stamp = mapper.to_host_ns(0, last + 100_000_000)
    assert last < stamp <= last + 100_000_000


def test_calibration_is_delivered(source):
    calibration = raiv_nominal(focal_length_mm=4.0).with_size(80, 60)
    peer = Peer(source)
    assert peer.welcomed()
    peer.send(sp.encode_calibration(calibration.to_dict()))
    peer.frame(0, *_pair())
    _read(source)
    assert source.calibration is not None
    assert source.calibration.key == calibration.key
    assert source.calibration.baseline_mm == pytest.approx(65.0)


def test_invalid_calibration_resets_the_connection(source):
    peer = Peer(source)
    assert peer.welcomed()
    peer.send(sp.encode_json(sp.CALIBRATION, {'left': {}, 'right': 3}))
    assert 'CALIBRATION must be a JSON object with "left" and "right"' in peer.closed_by_source()
    assert source.calibration is None
    assert _serves_a_good_sender(source)


def test_oversized_length_is_refused(source, caplog):
    peer = Peer(source)
    assert peer.welcomed()
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        peer.send_bytes(sp.HEADER.pack(sp.MAGIC, 1, sp.FRAME, 0, 0xFFFFFFF0, 0))
        assert 'exceeds the limit' in peer.closed_by_source()
        wait_for(lambda: 'exceeds the limit' in caplog.text)
    assert 'connection reset' in caplog.text
    assert source.counters['protocol_errors'] == 1
    assert 'exceeds the limit' in source.status
    assert _serves_a_good_sender(source)


def test_unknown_version_is_refused(source):
    peer = Peer(source, hello=False)
    peer.send_bytes(sp.HEADER.pack(sp.MAGIC, 7, sp.HELLO, 0, 2, zlib_crc(b'{}')) + b'{}')
    assert 'unknown protocol version 7' in peer.closed_by_source()
    assert _serves_a_good_sender(source)


def zlib_crc(data):
    import zlib
    return zlib.crc32(data)


def test_bad_crc_is_refused_and_no_frame_published(source):
    peer = Peer(source)
    assert peer.welcomed()
    data = bytearray(sp.to_bytes(sp.encode_frame(5, time.time_ns(), *_pair())))
    data[200] ^= 0xFF
    peer.send_bytes(bytes(data))
    assert 'corrupted' in peer.closed_by_source()
    assert source.read() is None
    assert _serves_a_good_sender(source)


def test_truncated_image_is_refused(source):
    left, right = _pair()
    png = cv2.imencode('.png', left)[1].tobytes()[:-40]
    parts = [sp.FRAME_HEAD.pack(1, time.time_ns())]
    for data in (png, cv2.imencode('.png', right)[1].tobytes()):
        parts += [sp.IMAGE_HEAD.pack(sp.CODEC_PNG, 80, 60, 3, len(data)), data]
    peer = Peer(source)
    assert peer.welcomed()
    peer.send(sp.encode_message(sp.FRAME, parts))
    assert 'left png' in peer.closed_by_source()
    assert source.read() is None
    assert _serves_a_good_sender(source)


def test_garbage_bytes_are_refused(source):
    peer = Peer(source, hello=False)
    peer.send_bytes(b'GET / HTTP/1.1\r\nHost: robot\r\n\r\n' + os.urandom(100))
    assert 'bad magic' in peer.closed_by_source()
    assert _serves_a_good_sender(source)


def test_frames_before_hello_are_refused(source):
    peer = Peer(source, hello=False)
    peer.frame(0, *_pair())
    assert 'unexpected FRAME' in peer.closed_by_source()
    assert source.read() is None
    assert _serves_a_good_sender(source)


def test_fuzzed_streams_never_publish_a_half_frame(source):
    rng = np.random.default_rng(12345)
    left, right = _pair(4, 24, 32)
    valid = {codec: sp.to_bytes(sp.encode_frame(1, time.time_ns(), left, right, codec))
             for codec in ('raw', 'png')}
    hello = sp.to_bytes(sp.encode_hello())
    for case in range(60):
        data = bytearray(valid['png' if case % 2 else 'raw'])
        kind = case % 4
        if kind == 0:  # random bytes flipped anywhere (header included)
            for _ in range(int(rng.integers(1, 5))):
                data[int(rng.integers(0, len(data)))] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncated
            data = data[:int(rng.integers(1, len(data)))]
        elif kind == 2:  # pure noise
            data = bytearray(rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8))
        else:  # a valid frame followed by noise
            data += bytearray(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
        sock = socket.create_connection(source.address, timeout=3.0)
        try:
            sock.sendall(hello + bytes(data))
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            sock.close()
        frame = source.read()
        if frame is not None:  # only intact pairs ever come out
            np.testing.assert_array_equal(frame.left, left)
            np.testing.assert_array_equal(frame.right, right)
    assert source.counters['protocol_errors'] >= 20
    assert source.connected_senders == 0
    assert _serves_a_good_sender(source)


def test_stall_mid_frame_times_out():
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=0.3)
    try:
        peer = Peer(src)
        assert peer.welcomed()
        data = sp.to_bytes(sp.encode_frame(0, time.time_ns(), *_pair()))
        peer.send_bytes(data[:len(data) // 2])
        start = time.monotonic()
        assert 'stalled mid-message' in peer.closed_by_source()
        assert time.monotonic() - start > 0.2  # not before the 0.3 s timeout
        assert src.counters['timeouts'] == 1
        assert src.read() is None
        assert _serves_a_good_sender(src)
    finally:
        src.close()


def test_trickling_peer_is_timed_out():
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=0.2)
    try:
        peer = Peer(src)
        assert peer.welcomed()
        data = sp.to_bytes(sp.encode_frame(0, time.time_ns(), *_pair()))
        start = time.monotonic()
        with pytest.raises(OSError):
            for index in range(40):  # one byte every 0.05 s: never silent for 0.2 s
                peer.send_bytes(data[index:index + 1])
                time.sleep(0.05)
        reason = peer.closed_by_source()
        assert 'one message took over' in reason or reason == ''
        assert time.monotonic() - start > 0.7  # bytes kept it alive past 0.2 s
        assert src.counters['timeouts'] == 1
        assert _serves_a_good_sender(src)
    finally:
        src.close()


def test_silent_connection_without_hello_times_out():
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=0.3)
    try:
        peer = Peer(src, hello=False)
        assert 'no complete HELLO within 0.3 s' in peer.closed_by_source()
        assert _serves_a_good_sender(src)
    finally:
        src.close()


@pytest.mark.parametrize('token', ['', 'wrong'])
def test_wrong_or_missing_token_is_refused(token):
    src = StreamSource(host='127.0.0.1', port=0, token='s3cret')
    try:
        peer = Peer(src, token=token)
        message = peer.reply()
        assert message.type == sp.REJECT
        code, reason = sp.decode_reject(message)
        assert code == sp.REJECT_AUTH
        assert ('no token' if not token else 'wrong token') in reason
        assert peer.reply() is None
        assert src.counters['rejected'] == 1
        assert _serves_a_good_sender(src, token='s3cret')
    finally:
        src.close()


def test_second_sender_is_refused_until_the_first_leaves(source):
    first = Peer(source, name='first')
    assert first.welcomed()
    second = Peer(source, name='second')
    message = second.reply()
    assert message.type == sp.REJECT
    code, reason = sp.decode_reject(message)
    assert code == sp.REJECT_BUSY and 'stream.max_senders 1' in reason
    first.frame(1, *_pair())
    assert _read(source).sequence == 1  # the first keeps streaming
    first.close()
    wait_for(lambda: source.connected_senders == 0)
    assert _serves_a_good_sender(source)


def test_two_senders_when_configured():
    src = StreamSource(host='127.0.0.1', port=0, max_senders=2)
    try:
        peers = [Peer(src, name=f'd{i}') for i in range(2)]
        assert all(peer.welcomed() for peer in peers)
        assert src.connected_senders == 2
    finally:
        src.close()


def test_compression_policy_refuses_other_codecs():
    src = StreamSource(host='127.0.0.1', port=0, compression='png')
    try:
        peer = Peer(src)
        assert peer.welcomed()
        peer.frame(0, *_pair(), codec='raw')
        assert 'allows only png' in peer.closed_by_source()
        peer = Peer(src)
        assert peer.welcomed()
        left, right = _pair()
        peer.frame(1, left, right, codec='png')
        np.testing.assert_array_equal(_read(src).left, left)
    finally:
        src.close()


def test_open_source_options_and_prompt_close():
    options = {'stream.mode': 'listen', 'stream.host': '127.0.0.1', 'stream.port': 0,
               'stream.token': '', 'stream.timeout_s': 2.0, 'stream.max_senders': 1,
               'stream.compression': 'any', 'rate_hz': 10.0}
    src = open_source('stream', options, raiv_nominal())
    assert isinstance(src, StreamSource) and src.timeout_s == 2.0
    assert 'listening on 127.0.0.1' in src.status
    peer = Peer(src)
    assert peer.welcomed()
    assert 'streaming from test' in src.status
    start = time.monotonic()
    src.close()
    # Prompt: it does not wait out the 2 s stream timeout of the connected sender.
    assert time.monotonic() - start < 1.9
    assert peer.reply() is None  # its socket was closed too
    # the port is free again
    StreamSource(host='127.0.0.1', port=src.address[1]).close()


def test_connect_mode_reconnects_to_a_listening_sender():
    listener = socket.create_server(('127.0.0.1', 0))
    listener.settimeout(3.0)
    port = listener.getsockname()[1]
    src = StreamSource(mode='connect', host='127.0.0.1', port=port, timeout_s=1.0)
    try:
        for round_index in range(2):
            sock, _ = listener.accept()
            sock.settimeout(3.0)
            sp.send_parts(sock, sp.encode_hello(sender='device'))
            assert sp.FrameDecoder().feed(sock.recv(65536))[0].type == sp.WELCOME
            left, right = _pair(round_index)
            sp.send_parts(sock, sp.encode_frame(round_index, time.time_ns(), left, right))
            np.testing.assert_array_equal(_read(src).left, left)
            sock.close()  # the device goes away; the source connects again
    finally:
        src.close()
        listener.close()


def _run_sender(*args, timeout_s=20):
    return subprocess.run([sys.executable, '-m', 'raiv_stereo.device.sender', *args],
                          cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=timeout_s)


def test_sender_without_sdk_says_so_and_exits_2():
    result = _run_sender('--host', '127.0.0.1', '--port', '1')
    assert result.returncode == 2
    assert 'qCU_Data' in result.stderr and '--from-files' in result.stderr


def test_end_to_end_sender_from_files(source, tmp_path):
    pairs = []
    for index in range(4):
        left, right = _pair(index + 10, 40, 56)
        cv2.imwrite(str(tmp_path / f'left_{index:02d}.png'), left)
        cv2.imwrite(str(tmp_path / f'right_{index:02d}.png'), right)
        pairs.append((left, right))
    calibration = raiv_nominal().with_size(56, 40)
    save_camera_info_yaml(tmp_path / 'l.yaml', calibration.left, 'raiv_left')
    save_camera_info_yaml(tmp_path / 'r.yaml', calibration.right, 'raiv_right')
    sender = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--from-files',
         str(tmp_path / 'left_*.png'), str(tmp_path / 'right_*.png'), '--host', '127.0.0.1',
         '--port', str(source.address[1]), '--codec', 'png', '--rate-hz', '10',
         '--calibration', str(tmp_path / 'l.yaml'), str(tmp_path / 'r.yaml')],
        cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    frames = []
    try:
        def four_received() -> bool:
            frame = source.read()
            if frame is not None:
                frames.append(frame)
            return source.counters['frames_received'] >= 4
        wait_for(four_received, 20.0, 'four pairs from the sender', poll_s=0.002)
        returncode = sender.wait(timeout=10.0)
    finally:
        if sender.poll() is None:
            sender.kill()
        output = sender.communicate()[0]
    frame = source.read()
    frames += [frame] if frame is not None else []
    assert returncode == 0, output
    assert 'sent 4 pairs' in output
    # read() hands out the newest pair: a slow poll may skip one, never reorder or mix them
    assert source.counters['frames_received'] == 4, source.status
    sequences = [frame.sequence for frame in frames]
    assert sequences == sorted(set(sequences)) and sequences[-1] == 3
    assert len(frames) >= 3
    for frame in frames:
        np.testing.assert_array_equal(frame.left, pairs[frame.sequence][0])
        np.testing.assert_array_equal(frame.right, pairs[frame.sequence][1])
    stamps = [frame.capture_time_ns for frame in frames]
    assert stamps == sorted(stamps) and stamps[-1] <= time.time_ns()
    assert source.calibration.image_size == (56, 40)
    assert source.calibration.baseline_mm == pytest.approx(65.0)


def test_sender_reconnects_after_the_receiver_restarts(tmp_path):
    left, right = _pair(5, 20, 24)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    first = StreamSource(host='127.0.0.1', port=0)
    port = first.address[1]
    sender = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--from-files',
         str(tmp_path / 'left.png'), str(tmp_path / 'right.png'), '--loop', '--host',
         '127.0.0.1', '--port', str(port), '--rate-hz', '20', '-q'],
        cwd=PACKAGE_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        np.testing.assert_array_equal(_read(first, 5.0).left, left)
        first.close()  # the robot side goes away ...
        second = StreamSource(host='127.0.0.1', port=port)  # ... and comes back
        try:
            np.testing.assert_array_equal(_read(second, 5.0).right, right)
        finally:
            second.close()
    finally:
        sender.kill()
        sender.wait()


def test_sender_exits_3_on_a_wrong_token(tmp_path):
    left, right = _pair(6, 20, 24)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    src = StreamSource(host='127.0.0.1', port=0, token='right-token')
    try:
        result = _run_sender('--from-files', str(tmp_path), '--host', '127.0.0.1', '--port',
                             str(src.address[1]), '--token', 'wrong')
        assert result.returncode == 3
        assert 'wrong token' in result.stderr
    finally:
        src.close()


def test_sender_skips_an_unreadable_file(source, tmp_path):
    left, right = _pair(7, 20, 24)
    (tmp_path / 'left_0.png').write_bytes(b'not an image')
    cv2.imwrite(str(tmp_path / 'right_0.png'), right)
    cv2.imwrite(str(tmp_path / 'left_1.png'), left)
    cv2.imwrite(str(tmp_path / 'right_1.png'), right)
    result = _run_sender('--from-files', str(tmp_path), '--host', '127.0.0.1', '--port',
                         str(source.address[1]), '--rate-hz', '0')
    assert result.returncode == 0, result.stderr
    assert 'left_0.png: it is not an image OpenCV reads' in result.stderr
    assert 'sent 1 pairs' in result.stderr
    frame = _read(source)
    assert frame.sequence == 0
    np.testing.assert_array_equal(frame.left, left)


def test_port_in_use_is_a_clear_source_error(source):
    from raiv_stereo.sources import SourceError
    with pytest.raises(SourceError, match=f'cannot listen on 127.0.0.1:{source.address[1]}'):
        StreamSource(host='127.0.0.1', port=source.address[1])


def test_calibration_size_mismatch_is_logged(source, caplog):
    peer = Peer(source)
    assert peer.welcomed()
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        peer.send(sp.encode_calibration(raiv_nominal().to_dict()))
        peer.frame(0, *_pair(height=65, width=80))  # 1600x1300 / 20: same shape, other size
        _read(source)
    assert 'sends 80x65 pairs but its calibration is for 1600x1300' in caplog.text
    assert source.calibration.image_size == (1600, 1300)


@pytest.mark.parametrize('calibration_first', [True, False])
def test_calibration_of_another_shape_than_the_frames_is_refused(source, calibration_first):
    peer = Peer(source)
    assert peer.welcomed()
    if calibration_first:
        peer.send(sp.encode_calibration(raiv_nominal().to_dict()))  # 1600x1300
    peer.frame(0, *_pair())  # 80x60
    if not calibration_first:
        _read(source)
        peer.send(sp.encode_calibration(raiv_nominal().to_dict()))
    reason = peer.closed_by_source()
    assert 'calibration is for 1600x1300 images but the frames are 80x60' in reason
    assert source.calibration is None  # never handed to the node
    assert _serves_a_good_sender(source)


def test_sender_scale_resizes_pairs_and_calibration(source, tmp_path):
    left, right = _pair(8, 40, 56)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    calibration = raiv_nominal().with_size(56, 40)
    save_camera_info_yaml(tmp_path / 'l.yaml', calibration.left, 'raiv_left')
    save_camera_info_yaml(tmp_path / 'r.yaml', calibration.right, 'raiv_right')
    result = _run_sender('--from-files', str(tmp_path / 'left.png'), str(tmp_path / 'right.png'),
                         '--host', '127.0.0.1', '--port', str(source.address[1]),
                         '--scale', '0.5', '--calibration', str(tmp_path / 'l.yaml'),
                         str(tmp_path / 'r.yaml'))
    assert result.returncode == 0, result.stderr
    frame = _read(source)
    np.testing.assert_array_equal(
        frame.left, cv2.resize(left, (28, 20), interpolation=cv2.INTER_AREA))
    assert source.calibration.image_size == (28, 20)
    assert source.calibration.focal_px == pytest.approx(calibration.focal_px / 2)


def test_sender_listen_mode_with_a_connecting_source(tmp_path):
    left, right = _pair(9, 20, 24)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    port = free_port()  # for the sender to listen on
    sender = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--from-files',
         str(tmp_path / 'left.png'), str(tmp_path / 'right.png'), '--loop', '--mode', 'listen',
         '--host', '127.0.0.1', '--port', str(port), '--rate-hz', '20', '-q'],
        cwd=PACKAGE_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    src = StreamSource(mode='connect', host='127.0.0.1', port=port, timeout_s=2.0)
    try:
        frame = _read(src, 8.0)
        np.testing.assert_array_equal(frame.left, left)
        np.testing.assert_array_equal(frame.right, right)
        assert 'streaming from' in src.status
    finally:
        src.close()
        sender.kill()
        sender.wait()


# --- attacks (issue 26): each is refused with REJECT, the source lives, a good sender gets in

def _json_message(message_type, text):
    return sp.encode_message(message_type, [text.encode('utf-8')])


def _calibration_dict(**left_changes):
    data = raiv_nominal().with_size(80, 60).to_dict()
    data['left'].update(left_changes)
    return data


def test_oversized_calibration_is_refused(source, caplog):
    peer = Peer(source)
    assert peer.welcomed()
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        big = raiv_nominal().with_size(1600000, 1300000).to_dict()
        peer.send(sp.encode_calibration(big))
        peer.frame(0, *_pair())
        reason = peer.closed_by_source()
    assert 'image size 1600000x1300000 is not whole pixels within the protocol limit' in reason
    assert source.calibration is None and source.read() is None
    assert 'Traceback' not in caplog.text
    assert _serves_a_good_sender(source)


DEEP = 100000  # nesting levels; the parser's recursion limit is about 1000


@pytest.mark.parametrize('kind, message, expected', [
    ('nested HELLO', _json_message(sp.HELLO, '[' * 30000 + ']' * 30000),
     'HELLO payload nests JSON deeper than'),
    ('nested HELLO object', _json_message(sp.HELLO, '{"token": ' + '[' * 20 + ']' * 20 + '}'),
     'HELLO payload nests JSON deeper than'),
    ('lone surrogate token', _json_message(sp.HELLO, '{"token": "\\ud800", "sender": "x"}'),
     'HELLO "token" is not valid Unicode'),
    ('huge protocol number', _json_message(sp.HELLO, '{"protocol": 1e999}'),
     'HELLO "protocol" must be an integer'),
])
def test_malformed_hello_is_a_protocol_error(source, caplog, kind, message, expected):
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        peer = Peer(source, hello=False)
        peer.send(message)
        assert expected in peer.closed_by_source(), kind
        wait_for(lambda: expected in caplog.text)
    lines = [r for r in caplog.records if expected in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback
    assert source.counters['protocol_errors'] == 1
    assert _serves_a_good_sender(source)


@pytest.mark.parametrize('kind, text, expected', [
    ('width 1e999', None, 'image size inf'),
    ('nested', '{"left": ' + '[' * DEEP + ']' * DEEP + '}', 'nests JSON deeper than'),
    ('nested object', '{"left": {"K": [[[[[[[[[1]]]]]]]]]}, "right": {}}', 'nests JSON deeper'),
    ('NaN in K', None, 'only finite numbers'),
    ('huge integer', None, 'only finite numbers'),
])
def test_malformed_calibration_is_a_protocol_error(source, caplog, kind, text, expected):
    good = json_text(_calibration_dict())
    if kind == 'width 1e999':
        text = good.replace('"width":80', '"width":1e999')
    elif kind == 'NaN in K':
        text = re.sub(r'"K":\[[^,]+,', '"K":[NaN,', good, count=1)
    elif kind == 'huge integer':
        text = re.sub(r'"K":\[[^,]+,', '"K":[' + '9' * 400 + ',', good, count=1)
    peer = Peer(source)
    assert peer.welcomed()
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        peer.send(sp.encode_message(sp.CALIBRATION, [text.encode()]))
        assert expected in peer.closed_by_source(), kind
    assert source.calibration is None
    assert 'Traceback' not in caplog.text and 'unexpected error' not in caplog.text
    assert _serves_a_good_sender(source)


def json_text(data):
    import json
    return json.dumps(data, separators=(',', ':'))


def test_trickled_hello_is_dropped_at_the_stream_timeout():
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=0.3)
    try:
        peer = Peer(src, hello=False)
        hello = sp.to_bytes(sp.encode_hello('', 'slow'))
        sent = 0
        peer.sock.settimeout(0.05)
        reason = None
        try:
            for sent in range(len(hello) - 1):  # one byte every 50 ms: never 0.3 s silent
                peer.send_bytes(hello[sent:sent + 1])
                try:
                    if not peer.sock.recv(65536, socket.MSG_PEEK):
                        break
                    break  # the REJECT arrived
                except TimeoutError:
                    pass
        except OSError:
            pass
        peer.sock.settimeout(3.0)
        reason = peer.closed_by_source()
        # Dropped after about 0.3 s / 50 ms = 6 bytes, long before the HELLO's last byte.
        assert sent < len(hello) // 2, f'alive after {sent} of {len(hello)} bytes'
        assert reason in ('timed out: sent no complete HELLO within 0.3 s (stream.timeout_s)', '')
        assert src.counters['timeouts'] == 1
        assert _serves_a_good_sender(src)
    finally:
        src.close()


def test_pending_connections_are_capped_and_never_lock_a_sender_out(caplog):
    src = StreamSource(host='127.0.0.1', port=0, timeout_s=30.0)
    start = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
            strangers = [Peer(src, hello=False) for _ in range(4 + 20)]
            # The 20 oldest were dropped with REJECT busy, to keep at most 4 waiting.
            for stranger in strangers[:20]:
                message = stranger.reply()
                assert message is not None and message.type == sp.REJECT
                assert sp.decode_reject(message)[0] == sp.REJECT_BUSY
                assert stranger.reply() is None
            # (the I/O thread drops the oldest, then adds the newest: wait for both)
            wait_for(lambda: src.counters['rejected'] == 20 and len(src._connections) == 4)
            # A real sender says HELLO at once: it gets in although 4 strangers wait (30 s).
            assert _serves_a_good_sender(src)
            assert len(src._connections) <= 4
        refused = [r for r in caplog.records if 'waiting for their HELLO' in r.getMessage()]
        # Rate-limited: one line per LOG_THROTTLE_S (5 s) for 21 refusals.
        allowed = 1 + int((time.monotonic() - start) / 5.0)
        assert 1 <= len(refused) <= allowed, [r.getMessage() for r in refused]
        assert 'held back' in refused[-1].getMessage() or len(refused) == 1
        for stranger in strangers:
            stranger.close()
    finally:
        src.close()


def _png_bomb(width, height, inflated_mib):
    """Return a PNG whose IHDR says width x height but whose IDAT inflates to inflated_mib."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + \
            struct.pack('>I', zlib.crc32(kind + data))
    compressor = zlib.compressobj(9)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    idat = block * inflated_mib + compressor.flush()
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + \
        chunk(b'IEND', b'')


def test_png_bomb_is_refused_before_it_inflates(source):
    bomb = _png_bomb(80, 60, 1024)  # 1 GiB of zeros in about 1 MB
    parts = [sp.FRAME_HEAD.pack(1, time.time_ns())]
    for _ in range(2):
        parts += [sp.IMAGE_HEAD.pack(sp.CODEC_PNG, 80, 60, 3, len(bomb)), bomb]
    peer = Peer(source)
    assert peer.welcomed()
    peer.send(sp.encode_message(sp.FRAME, parts))
    assert 'inflates to more than the 14460 bytes its 80x60 header promises' in \
        peer.closed_by_source()
    assert source.read() is None
    assert _serves_a_good_sender(source)


# --- authentication by default

def test_token_auto_is_generated_once_stored_privately_and_required(tmp_path, monkeypatch,
                                                                    caplog):
    from raiv_stereo.sources.stream import resolve_token, token_path
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    options = {'stream.host': '127.0.0.1', 'stream.port': 0}  # stream_token: the default
    with caplog.at_level(logging.INFO, logger='raiv_stereo.stream'):
        src = open_source('stream', options, raiv_nominal())
    try:
        path = token_path()
        assert path == tmp_path / 'raiv_stereo' / 'stream_token'
        token = path.read_text().strip()
        assert len(token) >= 20 and src.token == token
        assert path.stat().st_mode & 0o777 == 0o600
        assert f'raiv-stereo-sender --host 127.0.0.1 --port 0 --token {token}' in caplog.text
        assert 'no stream.token' not in caplog.text
        stranger = Peer(src)  # no token
        code, reason = sp.decode_reject(stranger.reply())
        assert code == sp.REJECT_AUTH and f'the receiver keeps it in {path}' in reason
        assert _serves_a_good_sender(src, token=token)
    finally:
        src.close()
    assert resolve_token('auto', '0.0.0.0', 12345) == token  # the next start keeps it


@pytest.mark.parametrize('value', ['', 'none', 'None'])
def test_no_token_is_an_explicit_choice_warned_once(tmp_path, monkeypatch, caplog, value):
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    with caplog.at_level(logging.WARNING, logger='raiv_stereo.stream'):
        src = open_source('stream', {'stream.host': '127.0.0.1', 'stream.port': 0,
                                     'stream.token': value}, raiv_nominal())
        try:
            assert src.token == ''
            assert _serves_a_good_sender(src)
            assert _serves_a_good_sender(src, token='anything')  # ignored: none is needed
        finally:
            src.close()
    assert len([r for r in caplog.records if 'no stream.token' in r.getMessage()]) == 1
    assert not (tmp_path / 'raiv_stereo').exists()


def test_sender_on_this_host_uses_the_stored_token(tmp_path):
    left, right = _pair(8, 20, 24)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    env = dict(os.environ, ROS_HOME=str(tmp_path / 'ros'))
    (tmp_path / 'ros' / 'raiv_stereo').mkdir(parents=True)
    (tmp_path / 'ros' / 'raiv_stereo' / 'stream_token').write_text('stored-secret\n')
    src = StreamSource(host='127.0.0.1', port=0, token='stored-secret')
    try:
        command = [sys.executable, '-m', 'raiv_stereo.device.sender', '--from-files',
                   str(tmp_path / 'left.png'), str(tmp_path / 'right.png'), '--host',
                   '127.0.0.1', '--port', str(src.address[1]), '--count', '1']
        result = subprocess.run(command, cwd=PACKAGE_ROOT, env=env, capture_output=True,
                                text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(_read(src).left, left)
        # An explicit --token wins; a remote host never gets the stored one (checked in code).
        result = subprocess.run(command + ['--token', 'other'], cwd=PACKAGE_ROOT, env=env,
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 3
    finally:
        src.close()


# --- TLS (stream.tls_cert / --tls-ca)

def _self_signed(folder, name):
    """Write a self-signed certificate for 127.0.0.1 and its key; return their paths."""
    import shutil
    if shutil.which('openssl') is None:
        pytest.skip('the openssl command makes the test certificate')
    cert, key = folder / f'{name}.pem', folder / f'{name}.key'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', str(key), '-out',
                    str(cert), '-days', '2', '-subj', f'/CN={name}', '-addext',
                    'subjectAltName=IP:127.0.0.1'], check=True, capture_output=True, timeout=30)
    return cert, key


def test_tls_stream_carries_pairs_and_refuses_plain_or_untrusted_peers(tmp_path):
    cert, key = _self_signed(tmp_path, 'robot')
    other, _ = _self_signed(tmp_path, 'stranger')
    left, right = _pair(9, 20, 24)
    cv2.imwrite(str(tmp_path / 'left.png'), left)
    cv2.imwrite(str(tmp_path / 'right.png'), right)
    src = open_source('stream', {'stream.host': '127.0.0.1', 'stream.port': 0,
                                 'stream.token': 's3cret', 'stream.tls_cert': str(cert),
                                 'stream.tls_key': str(key)}, raiv_nominal())
    try:
        assert '(TLS)' in src.status
        plain = Peer(src, token='s3cret')  # speaks the protocol without TLS: reset
        assert plain.closed_by_source() == ''
        wait_for(lambda: 'TLS handshake failed' in src.status)
        command = ['--from-files', str(tmp_path / 'left.png'), str(tmp_path / 'right.png'),
                   '--host', '127.0.0.1', '--port', str(src.address[1]), '--token', 's3cret',
                   '--count', '1', '--codec', 'png']
        result = _run_sender(*command, '--tls-ca', str(other))
        assert result.returncode == 3 and "the robot's certificate is not trusted" in \
            result.stderr, result.stderr
        result = _run_sender(*command, '--tls-ca', str(cert))
        assert result.returncode == 0, result.stderr
        frame = _read(src)
        np.testing.assert_array_equal(frame.left, left)
        np.testing.assert_array_equal(frame.right, right)
    finally:
        src.close()


def test_tls_files_that_do_not_load_are_a_clear_source_error(tmp_path):
    from raiv_stereo.sources import SourceError
    (tmp_path / 'bad.pem').write_text('not a certificate')
    with pytest.raises(SourceError, match='cannot load the certificate and its key'):
        StreamSource(host='127.0.0.1', port=0, tls_cert=str(tmp_path / 'bad.pem'))
