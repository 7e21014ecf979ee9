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
The message_filters and cv_bridge stand-ins: the API and behaviour the nodes rely on.

Synchronizers are driven with real messages, directly and through real rclpy nodes over DDS.
"""

import importlib.util
import inspect
import threading

import cv2
from helpers import wait_for
import numpy as np
import pytest
from raiv_stereo.ros import compat
from raiv_stereo.ros.conversions import image_to_msg, ns_to_stamp, stamp_to_ns
from raiv_stereo.ros.standins import cv_bridge as cv_bridge_standin, message_filters as mf
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header


def test_compat_uses_standins_only_when_the_real_module_is_missing():
    for name in ('message_filters', 'cv_bridge'):
        real = importlib.util.find_spec(name) is not None
        assert (name in compat.STANDINS_IN_USE) == (not real)
    if 'message_filters' in compat.STANDINS_IN_USE:
        assert compat.message_filters is mf
    if 'cv_bridge' in compat.STANDINS_IN_USE:
        assert compat.CvBridge is cv_bridge_standin.CvBridge
        assert compat.CvBridgeError is cv_bridge_standin.CvBridgeError
    assert issubclass(compat.CvBridgeError, TypeError)  # as the real one


def test_subscriber_signature_as_the_depth_node_calls_it():
    # Node, type and topic positional; the QoS (default depth 10) and rclpy's options by keyword.
    params = inspect.signature(mf.Subscriber.__init__).parameters
    assert list(params) == ['self', 'node', 'msg_type', 'topic', 'qos_profile', 'kwargs']
    assert params['topic'].kind is inspect.Parameter.POSITIONAL_ONLY
    assert params['qos_profile'].kind is inspect.Parameter.KEYWORD_ONLY
    assert params['qos_profile'].default == 10
    bridge = inspect.signature(cv_bridge_standin.CvBridge.imgmsg_to_cv2).parameters
    assert bridge['desired_encoding'].default == 'passthrough'
    bridge = inspect.signature(cv_bridge_standin.CvBridge.cv2_to_imgmsg).parameters
    assert list(bridge) == ['self', 'cvim', 'encoding', 'header']


# --- Pairing by stamp: real messages through SimpleFilter inputs, as Subscribers feed them.

MS = 1_000_000
BASE_NS = 1_700_000_000_000_000_000


def _info(ms: float, tag: str) -> CameraInfo:
    """Return a real message stamped `ms` after BASE_NS, tagged in frame_id."""
    return CameraInfo(header=Header(stamp=ns_to_stamp(BASE_NS + round(ms * MS)), frame_id=tag))


def _synced(sync_class, n_inputs: int, *args):
    """Return the inputs and the list of frame_id tuples the synchronizer puts out."""
    inputs = [mf.SimpleFilter() for _ in range(n_inputs)]
    out = []
    sync_class(inputs, *args).registerCallback(
        lambda *msgs: out.append(tuple(m.header.frame_id for m in msgs)))
    return inputs, out


def test_exact_sync_pairs_four_inputs_on_equal_stamps_only():
    inputs, out = _synced(mf.TimeSynchronizer, 4, 5)
    for i, source in enumerate(inputs[:3]):
        source.signalMessage(_info(0, f'a{i}'))
    inputs[3].signalMessage(_info(0.001, 'late'))  # 1 us off: not the same stamp
    assert out == []
    inputs[3].signalMessage(_info(0, 'a3'))
    assert out == [('a0', 'a1', 'a2', 'a3')]
    for i, source in enumerate(inputs[:3]):  # the 1 us-off message pairs with its own stamp
        source.signalMessage(_info(0.001, f'b{i}'))
    assert out[-1] == ('b0', 'b1', 'b2', 'late')


def test_approximate_sync_pairs_within_slop_and_picks_the_closest():
    inputs, out = _synced(mf.ApproximateTimeSynchronizer, 2, 10, 0.05)
    for ms, tag in ((970, 'r970'), (1010, 'r1010'), (1040, 'r1040')):
        inputs[1].signalMessage(_info(ms, tag))
    inputs[0].signalMessage(_info(1000, 'l1000'))
    assert out == [('l1000', 'r1010')]  # 10 ms beats 30 ms and 40 ms
    inputs[0].signalMessage(_info(1100, 'l1100'))
    assert out == [('l1000', 'r1010')]  # 60 ms from r1040: beyond the slop, no pair
    inputs[0].signalMessage(_info(1090, 'l1090'))
    assert out[-1] == ('l1090', 'r1040')  # exactly the slop: paired


def test_approximate_sync_takes_the_tightest_set_of_four():
    # Closest-to-the-new-message alone would take r=+40 with i=-40 (80 ms spread, refused);
    # the set spanning 45 ms is there and goes out.
    inputs, out = _synced(mf.ApproximateTimeSynchronizer, 4, 10, 0.05)
    inputs[1].signalMessage(_info(-40, 'r-40'))
    inputs[1].signalMessage(_info(41, 'r+41'))
    inputs[2].signalMessage(_info(45, 'i+45'))
    inputs[3].signalMessage(_info(30, 'j+30'))
    inputs[0].signalMessage(_info(0, 'l0'))
    assert out == [('l0', 'r+41', 'i+45', 'j+30')]
    # Of the sets within the slop, the one spanning least: 25 ms, not (-20, +25) over 45 ms.
    inputs, out = _synced(mf.ApproximateTimeSynchronizer, 3, 10, 0.05)
    for ms in (-20, 20):
        inputs[1].signalMessage(_info(ms, f'r{ms:+d}'))
    for ms in (-25, 25):
        inputs[2].signalMessage(_info(ms, f'i{ms:+d}'))
    inputs[0].signalMessage(_info(0, 'l0'))
    assert out == [('l0', 'r-20', 'i-25')]


def test_sync_slop_of_the_depth_node_pairs_a_30_ms_offset():
    for slop_s, expected in ((0.05, 1), (0.02, 0)):
        inputs, out = _synced(mf.ApproximateTimeSynchronizer, 4, 5, slop_s)
        for i, source in enumerate(inputs):
            source.signalMessage(_info(30 if i % 2 else 0, f'm{i}'))
        assert len(out) == expected


BOTH_KINDS = pytest.mark.parametrize('slop', [None, 0.001], ids=['exact', 'approximate'])


def _pair_stream(slop, queue_size: int, right_order_ms: tuple[int, ...]):
    """Feed left 0, 100, 200 ms, then right in `right_order_ms`; return inputs and outputs."""
    inputs, out = (_synced(mf.TimeSynchronizer, 2, queue_size) if slop is None else
                   _synced(mf.ApproximateTimeSynchronizer, 2, queue_size, slop))
    for ms in (0, 100, 200):
        inputs[0].signalMessage(_info(ms, f'l{ms}'))
    for ms in right_order_ms:
        inputs[1].signalMessage(_info(ms, f'r{ms}'))
    return inputs, out


@BOTH_KINDS
def test_queue_bound_evicts_the_oldest_stamp(slop):
    _, out = _pair_stream(slop, 2, (0, 100, 200))
    assert out == [('l100', 'r100'), ('l200', 'r200')]  # l0 fell out of the queue of 2


@BOTH_KINDS
def test_out_of_order_arrival_still_pairs(slop):
    inputs, out = _pair_stream(slop, 5, (200, 0, 100))
    assert out == [('l200', 'r200'), ('l0', 'r0'), ('l100', 'r100')]
    # A matched message is used once: a repeat of r200 finds no partner left.
    inputs[1].signalMessage(_info(200, 'again'))
    assert len(out) == 3


def test_bad_synchronizer_settings_are_refused():
    with pytest.raises(ValueError, match='queue_size must be at least 1'):
        mf.TimeSynchronizer([mf.SimpleFilter()], 0)
    with pytest.raises(ValueError, match='slop must be a non-negative'):
        mf.ApproximateTimeSynchronizer([mf.SimpleFilter()], 5, -0.1)


def test_synchronizers_are_thread_safe():
    count = 300
    for make in (lambda fs: mf.TimeSynchronizer(fs, count),
                 lambda fs: mf.ApproximateTimeSynchronizer(fs, count, 0.001)):
        collector = []
        m0, m1 = mf.SimpleFilter(), mf.SimpleFilter()
        make([m0, m1]).registerCallback(
            lambda a, b, out=collector: out.append((a.header.frame_id, b.header.frame_id)))

        def feed(f, side):
            for i in range(count):
                f.signalMessage(_info(i * 10, f'{side}{i:03d}'))

        threads = [threading.Thread(target=feed, args=(m0, 'l')),
                   threading.Thread(target=feed, args=(m1, 'r'))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(collector) == [(f'l{i:03d}', f'r{i:03d}') for i in range(count)]


# --- Real rclpy nodes and DDS: one node publishes left/right, another synchronises.

def test_synchronizers_with_real_nodes(ros_session):
    pub_node = rclpy.create_node('standins_pub', namespace='/standins_test',
                                 context=ros_session.context)
    sub_node = rclpy.create_node('standins_sync', namespace='/standins_test',
                                 context=ros_session.context)
    executor = SingleThreadedExecutor(context=ros_session.context)
    try:
        executor.add_node(pub_node)
        executor.add_node(sub_node)
        qos = QoSProfile(depth=50)
        pubs = [pub_node.create_publisher(Image, f'{side}/image_raw', qos)
                for side in ('left', 'right')]
        subs = [mf.Subscriber(sub_node, Image, f'{side}/image_raw', qos_profile=qos)
                for side in ('left', 'right')]
        assert subs[0].getTopic() == 'left/image_raw'
        assert subs[0].sub.topic_name == '/standins_test/left/image_raw'  # the rclpy subscription
        exact, approx = [], []
        mf.TimeSynchronizer(subs, 20).registerCallback(
            lambda left, right: exact.append((stamp_to_ns(left.header.stamp),
                                              stamp_to_ns(right.header.stamp))))
        mf.ApproximateTimeSynchronizer(subs, 20, 0.01).registerCallback(
            lambda left, right: approx.append((stamp_to_ns(left.header.stamp),
                                               stamp_to_ns(right.header.stamp))))
        wait_for(lambda: all(p.get_subscription_count() for p in pubs), spin=executor)

        base_ns = 1_700_000_000_000_000_000
        ms = 1_000_000
        image = np.arange(12, dtype=np.uint8).reshape(3, 4)
        # (left offset, right offset): 5 equal pairs, 5 pairs 4 ms apart, 1 pair 30 ms apart.
        offsets = [(0, 0)] * 5 + [(0, 4 * ms)] * 5 + [(0, 30 * ms)]
        expected_exact, expected_approx = [], []
        for i, (dl, dr) in enumerate(offsets):
            t = base_ns + i * 100 * ms
            for pub, d in zip(pubs, (dl, dr), strict=True):
                header = Header(stamp=ns_to_stamp(t + d), frame_id='left_optical')
                pub.publish(image_to_msg(image, 'mono8', header))
            if dl == dr:
                expected_exact.append((t + dl, t + dr))
            if abs(dr - dl) < 10 * ms:
                expected_approx.append((t + dl, t + dr))
        wait_for(lambda: len(approx) >= len(expected_approx) and
                 len(exact) >= len(expected_exact), spin=executor)
        executor.spin_once(timeout_sec=0.3)  # anything extra would show up now
        assert sorted(exact) == expected_exact
        assert sorted(approx) == expected_approx
        assert len(expected_exact) == 5 and len(expected_approx) == 10
    finally:
        executor.shutdown()
        sub_node.destroy_node()
        pub_node.destroy_node()


# --- cv_bridge stand-in: the behaviour conversions.msg_to_image relies on -----------------------

_BRIDGE = cv_bridge_standin.CvBridge()
_ENCODINGS = {  # encoding -> (dtype, channels): every one the package reads or writes
    'mono8': (np.uint8, 1), 'bgr8': (np.uint8, 3), 'rgb8': (np.uint8, 3),
    'bgra8': (np.uint8, 4), 'rgba8': (np.uint8, 4), 'mono16': (np.uint16, 1),
    'bgr16': (np.uint16, 3), '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
    '8UC3': (np.uint8, 3), '16SC1': (np.int16, 1), '64FC2': (np.float64, 2)}


def _pixels(dtype, channels, height=5, width=7):
    shape = (height, width) if channels == 1 else (height, width, channels)
    values = np.arange(np.prod(shape)) * 37 % 251 + 3
    if np.dtype(dtype).kind == 'f':
        values = values * 0.125 - 10.0
    elif np.dtype(dtype).itemsize > 1:
        values = values * 257  # both bytes differ, so a wrong byte order shows
    return values.astype(dtype).reshape(shape)


def _message(pixels, encoding, big_endian=False, pad=0):
    """Return an Image of pixels in either byte order with `pad` bytes after every row."""
    wire = pixels.astype(pixels.dtype.newbyteorder('>' if big_endian else '<'))
    rows = np.ascontiguousarray(wire).reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.pad(rows, ((0, 0), (0, pad)), constant_values=0xEE)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=big_endian, step=padded.shape[1])
    msg.data.frombytes(padded.tobytes())
    return msg


@pytest.mark.parametrize('encoding', sorted(_ENCODINGS))
def test_bridge_round_trips_every_encoding_the_package_uses(encoding):
    dtype, channels = _ENCODINGS[encoding]
    pixels = _pixels(dtype, channels)
    msg = _BRIDGE.cv2_to_imgmsg(pixels, encoding)
    assert (msg.encoding, msg.height, msg.width) == (encoding, 5, 7)
    assert msg.step == 7 * channels * np.dtype(dtype).itemsize and not msg.is_bigendian
    assert len(msg.data) == msg.step * 5
    back = _BRIDGE.imgmsg_to_cv2(msg)
    assert back.dtype == dtype and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)
    # Padded rows (also by a part of a pixel) and big-endian data read the same pixels.
    for big_endian in (False, True):
        for pad in (0, 1, 3, 16):
            read = _BRIDGE.imgmsg_to_cv2(_message(pixels, encoding, big_endian, pad))
            assert read.dtype.isnative and read.dtype == dtype
            np.testing.assert_array_equal(read, pixels)


def test_bridge_passthrough_names_the_opencv_type_and_keeps_big_endian_arrays():
    assert _BRIDGE.cv2_to_imgmsg(np.zeros((2, 4, 3), np.uint8)).encoding == '8UC3'
    assert _BRIDGE.cv2_to_imgmsg(np.zeros((2, 2), np.float32)).encoding == '32FC1'
    big = np.array([[1, 258]], dtype='>u2')
    msg = _BRIDGE.cv2_to_imgmsg(big, 'mono16')
    assert msg.is_bigendian and bytes(msg.data) == b'\x00\x01\x01\x02'
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg), [[1, 258]])
    depth = np.array([[1.5, -2.0]], dtype='>f4')
    msg = _BRIDGE.cv2_to_imgmsg(depth, '32FC1')
    assert msg.is_bigendian and bytes(msg.data) == depth.tobytes()
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg), [[1.5, -2.0]])
    strided = np.arange(48, dtype=np.uint8).reshape(4, 12)[:, ::3]  # not contiguous
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(_BRIDGE.cv2_to_imgmsg(strided)), strided)
    header = Header(frame_id='cam')
    assert _BRIDGE.cv2_to_imgmsg(strided, 'mono8', header).header.frame_id == 'cam'


def test_bridge_converts_colour_orders_and_scales_8_and_16_bits():
    bgr = _pixels(np.uint8, 3)
    msg = _BRIDGE.cv2_to_imgmsg(bgr, 'bgr8')
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg, 'rgb8'), bgr[:, :, ::-1])
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg, 'mono8'),
                                  cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    bgra = _BRIDGE.imgmsg_to_cv2(msg, 'bgra8')
    np.testing.assert_array_equal(bgra[..., :3], bgr)
    assert (bgra[..., 3] == 255).all()
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg, 'rgb16'),
                                  bgr[:, :, ::-1].astype(np.uint16) * 257)
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(msg, '8UC3'), bgr)  # same channels
    mono16 = _BRIDGE.cv2_to_imgmsg(np.array([[0, 128, 257, 65535]], np.uint16), 'mono16')
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(mono16, 'mono8'), [[0, 0, 1, 255]])
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(mono16, '16UC1'), [[0, 128, 257, 65535]])
    as_float = _BRIDGE.imgmsg_to_cv2(mono16, '32FC1')  # 16 -> 32 bits keeps values
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(as_float, [[0, 128, 257, 65535]])
    swapped = _message(np.array([[1, 2]], np.uint16), 'mono16', big_endian=True)
    np.testing.assert_array_equal(_BRIDGE.imgmsg_to_cv2(swapped, 'bgr16'),
                                  [[[1, 1, 1], [2, 2, 2]]])


@pytest.mark.parametrize('encoding, desired, message', [
    ('32FC1', 'mono8', "'32FC1' carries no colour order, so it cannot become"),
    ('mono16', '32FC3', "'mono16' has 1 channel.* and '32FC3' 3; only colour encodings"),
    ('8UC3', '8UC1', "'8UC3' has 3 channel.* and '8UC1' 1"),
    ('mono8', 'bayer_rggb8', "'bayer_rggb8' is not handled"),
])
def test_bridge_refuses_conversions_it_cannot_make(encoding, desired, message):
    dtype, channels = {'32FC1': (np.float32, 1), 'mono16': (np.uint16, 1),
                       '8UC3': (np.uint8, 3), 'mono8': (np.uint8, 1)}[encoding]
    msg = _BRIDGE.cv2_to_imgmsg(_pixels(dtype, channels), encoding)
    with pytest.raises(cv_bridge_standin.CvBridgeError, match=message):
        _BRIDGE.imgmsg_to_cv2(msg, desired)


def test_bridge_refuses_bad_sizes_and_types_with_the_numbers():
    error = cv_bridge_standin.CvBridgeError
    short = Image(height=5, width=7, encoding='bgr8', step=21)
    short.data.frombytes(bytes(104))
    with pytest.raises(error, match='step 21 needs 105 bytes of data, the message has 104'):
        _BRIDGE.imgmsg_to_cv2(short)
    narrow = Image(height=2, width=4, encoding='32FC1', step=15)
    narrow.data.frombytes(bytes(30))
    with pytest.raises(error, match='needs rows of at least 16 bytes, but step is 15'):
        _BRIDGE.imgmsg_to_cv2(narrow)
    with pytest.raises(error, match="'yuv422' is not handled"):
        _BRIDGE.imgmsg_to_cv2(Image(encoding='yuv422', width=1, height=1, step=2, data=[0, 0]))
    with pytest.raises(error, match="the array is 8UC3 but encoding 'mono8' is 8UC1"):
        _BRIDGE.cv2_to_imgmsg(np.zeros((2, 4, 3), np.uint8), 'mono8')
    with pytest.raises(error, match="the array is 16UC1 but encoding 'mono8' is 8UC1"):
        _BRIDGE.cv2_to_imgmsg(np.zeros((2, 4), np.uint16), 'mono8')
    with pytest.raises(error, match='uint32 array with 1 channel.* has no image encoding'):
        _BRIDGE.cv2_to_imgmsg(np.zeros((2, 4), np.uint32))
    with pytest.raises(error, match='2 or 3 dimensions, this one 1'):
        _BRIDGE.cv2_to_imgmsg(np.zeros(4, np.uint8))
    with pytest.raises(TypeError, match='takes a numpy array, not a list'):
        _BRIDGE.cv2_to_imgmsg([[1, 2]])
