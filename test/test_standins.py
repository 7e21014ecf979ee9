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


# --- cv_bridge stand-in specifics (the real module's behaviour).

def test_cv_bridge_standin_matches_the_real_api():
    bridge = cv_bridge_standin.CvBridge()
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert bridge.cv2_to_imgmsg(image).encoding == '8UC3'  # passthrough names the cv type
    assert bridge.cv2_to_imgmsg(np.zeros((2, 2), np.float32)).encoding == '32FC1'
    with pytest.raises(cv_bridge_standin.CvBridgeError,
                       match='encoding specified as mono8, but image has incompatible type 8UC3'):
        bridge.cv2_to_imgmsg(image, 'mono8')
    with pytest.raises(TypeError, match='not a numpy array'):
        bridge.cv2_to_imgmsg([[1, 2]])
    msg = bridge.cv2_to_imgmsg(image, 'rgb8')
    np.testing.assert_array_equal(bridge.imgmsg_to_cv2(msg, 'bgr8'), image[:, :, ::-1])
    with pytest.raises(cv_bridge_standin.CvBridgeError, match='Unrecognized image encoding'):
        bridge.imgmsg_to_cv2(Image(encoding='nonsense', width=1, height=1, step=1, data=[0]))
    big = np.array([[1, 258]], dtype='>u2')
    msg = bridge.cv2_to_imgmsg(big, 'mono16')
    assert msg.is_bigendian and bytes(msg.data) == b'\x00\x01\x01\x02'
    np.testing.assert_array_equal(bridge.imgmsg_to_cv2(msg), [[1, 258]])
    mono16 = bridge.cv2_to_imgmsg(np.array([[1000]], np.uint16), 'mono16')
    with pytest.raises(cv_bridge_standin.CvBridgeError, match='is a color format but'):
        bridge.imgmsg_to_cv2(mono16, '32FC3')
    np.testing.assert_array_equal(bridge.imgmsg_to_cv2(mono16, '16UC1'), [[1000]])
