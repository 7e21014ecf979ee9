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
The message_filters and cv_bridge stand-ins: same API and behaviour as the real modules.

Synchronizers are driven with real messages through real rclpy nodes over DDS, and the
approximate one also with the real package's own unit-test sequence (test/test_approxsync.py
of ros2/message_filters) and its expected output.
"""

import importlib.util
import inspect
import random
import threading

from helpers import wait_for
import numpy as np
import pytest
from raiv_stereo.ros import compat
from raiv_stereo.ros.conversions import image_to_msg, ns_to_stamp, stamp_to_ns
from raiv_stereo.ros.standins import cv_bridge as cv_bridge_standin
from raiv_stereo.ros.standins import message_filters as mf
import rclpy
from rclpy.clock import ROSClock
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from rclpy.time import Time
from sensor_msgs.msg import Image
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


def test_signatures_match_kilted():
    # Kilted: Subscriber(*args, **kwargs), args = (node, msg_type, topic), qos_profile only by
    # keyword (a positional one lands in create_subscription's callback slot), default 10.
    params = inspect.signature(mf.Subscriber.__init__).parameters
    assert list(params) == ['self', 'node', 'msg_type', 'topic', 'qos_profile', 'kwargs']
    assert params['topic'].kind is inspect.Parameter.POSITIONAL_ONLY
    assert params['qos_profile'].kind is inspect.Parameter.KEYWORD_ONLY
    assert params['qos_profile'].default == 10
    assert list(inspect.signature(mf.TimeSynchronizer.__init__).parameters) == [
        'self', 'fs', 'queue_size']
    params = inspect.signature(mf.ApproximateTimeSynchronizer.__init__).parameters
    assert list(params) == ['self', 'fs', 'queue_size', 'slop', 'queue_offset',
                            'allow_headerless', 'sync_arrival_time']
    assert [params[n].default for n in list(params)[4:]] == [False, False, False]
    bridge = inspect.signature(cv_bridge_standin.CvBridge.imgmsg_to_cv2).parameters
    assert bridge['desired_encoding'].default == 'passthrough'
    bridge = inspect.signature(cv_bridge_standin.CvBridge.cv2_to_imgmsg).parameters
    assert list(bridge) == ['self', 'cvim', 'encoding', 'header']


# --- The real package's own unit test (message_filters test/test_approxsync.py), reproduced.

class MockHeader:
    pass


class MockMessage:

    def __init__(self, stamp, data):
        self.header = MockHeader()
        self.header.stamp = stamp
        self.data = data


class MockHeaderlessMessage:

    def __init__(self, data):
        self.data = data


class MockFilter(mf.SimpleFilter):
    pass


def test_approximate_sync_reproduces_the_real_packages_unit_test():
    collector = []

    def cb_collector_2msg(msg1, msg2):
        collector.append((msg1, msg2))

    # Simple case, pairs of messages: they get combined as soon as both are in.
    m0, m1 = MockFilter(), MockFilter()
    ts = mf.ApproximateTimeSynchronizer([m0, m1], 1, 0.1)
    ts.registerCallback(cb_collector_2msg)
    for t in range(10):
        collector.clear()
        msg0 = MockMessage(Time(seconds=t), 33)
        msg1 = MockMessage(Time(seconds=t), 34)
        m0.signalMessage(msg0)
        assert collector == []
        m1.signalMessage(msg1)
        assert collector == [(msg0, msg1)]

    # Scrambled sequences of length N are recombined.
    random.seed(0)
    for n in range(1, 10):
        m0, m1 = MockFilter(), MockFilter()
        seq0 = [MockMessage(Time(seconds=t), random.random()) for t in range(n)]
        seq1 = [MockMessage(Time(seconds=t), random.random()) for t in range(n)]
        ts = mf.ApproximateTimeSynchronizer([m0, m1], n, 0.1)
        ts.registerCallback(cb_collector_2msg)
        collector.clear()
        for msg in random.sample(seq0, n):
            m0.signalMessage(msg)
        assert collector == []
        for msg in random.sample(seq1, n):
            m1.signalMessage(msg)
        assert set(collector) == set(zip(seq0, seq1, strict=True))

    # Headerless messages paired with header-having ones (allow_headerless, by keyword).
    random.seed(0)
    for n in range(1, 10):
        m0, m1 = MockFilter(), MockFilter()
        seq0 = [MockMessage(ROSClock().now() + Duration(seconds=t), random.random())
                for t in range(n)]
        seq1 = [MockHeaderlessMessage(random.random()) for t in range(n)]
        ts = mf.ApproximateTimeSynchronizer([m0, m1], n, 10, allow_headerless=True)
        ts.registerCallback(cb_collector_2msg)
        collector.clear()
        for msg in random.sample(seq0, n):
            m0.signalMessage(msg)
        assert collector == []
        for msg in seq1:
            m1.signalMessage(msg)
        assert set(collector) == set(zip(seq0, seq1, strict=True))


def test_headerless_messages_are_dropped_unless_allowed():
    collector = []
    m0, m1 = MockFilter(), MockFilter()
    ts = mf.ApproximateTimeSynchronizer([m0, m1], 5, 10)
    ts.registerCallback(lambda a, b: collector.append((a, b)))
    m0.signalMessage(MockMessage(ROSClock().now(), 1))
    m1.signalMessage(MockHeaderlessMessage(2))
    assert collector == [] and ts.queues[1] == {}


def test_approximate_sync_picks_the_closest_stamp_within_slop():
    collector = []
    m0, m1 = MockFilter(), MockFilter()
    ts = mf.ApproximateTimeSynchronizer([m0, m1], 10, 0.05)
    ts.registerCallback(lambda a, b: collector.append((a.data, b.data)))
    for data, ms in (('r1', 970), ('r2', 1010), ('r3', 1040)):
        m1.signalMessage(MockMessage(Time(nanoseconds=ms * 1_000_000), data))
    m0.signalMessage(MockMessage(Time(seconds=1), 'l'))
    assert collector == [('l', 'r2')]  # 10 ms beats 30 ms and 40 ms
    m0.signalMessage(MockMessage(Time(nanoseconds=1_200_000_000), 'far'))
    assert collector == [('l', 'r2')]  # 160 ms from r3: over the slop


def test_exact_sync_pairs_equal_stamps_and_evicts_the_oldest():
    collector = []
    m0, m1 = MockFilter(), MockFilter()
    ts = mf.TimeSynchronizer([m0, m1], 2)
    ts.registerCallback(lambda a, b: collector.append((a.data, b.data)))
    stamp = ns_to_stamp
    for i in range(3):
        m0.signalMessage(MockMessage(stamp(i), f'l{i}'))
    assert sorted(ts.queues[0]) == [1, 2]  # queue_size 2: stamp 0 evicted
    m1.signalMessage(MockMessage(stamp(0), 'r0'))
    m1.signalMessage(MockMessage(stamp(2), 'r2'))
    m1.signalMessage(MockMessage(stamp(1), 'r1'))
    assert collector == [('l2', 'r2'), ('l1', 'r1')]


def test_synchronizers_are_thread_safe():
    count = 300
    for make in (lambda fs: mf.TimeSynchronizer(fs, count),
                 lambda fs: mf.ApproximateTimeSynchronizer(fs, count, 0.001)):
        collector = []
        m0, m1 = MockFilter(), MockFilter()
        make([m0, m1]).registerCallback(
            lambda a, b, out=collector: out.append((a.data, b.data)))

        def feed(f, side):
            for i in range(count):
                f.signalMessage(MockMessage(ns_to_stamp(i * 10_000_000), (side, i)))

        threads = [threading.Thread(target=feed, args=(m0, 'l')),
                   threading.Thread(target=feed, args=(m1, 'r'))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(collector) == [(('l', i), ('r', i)) for i in range(count)]


# --- Real rclpy nodes and DDS: one node publishes left/right, another synchronises.

def test_synchronizers_with_real_nodes(ros_context):
    pub_node = rclpy.create_node('standins_pub', namespace='/standins_test',
                                 context=ros_context)
    sub_node = rclpy.create_node('standins_sync', namespace='/standins_test',
                                 context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    try:
        executor.add_node(pub_node)
        executor.add_node(sub_node)
        qos = QoSProfile(depth=50)
        pubs = [pub_node.create_publisher(Image, f'{side}/image_raw', qos)
                for side in ('left', 'right')]
        subs = [mf.Subscriber(sub_node, Image, f'{side}/image_raw', qos_profile=qos)
                for side in ('left', 'right')]
        assert subs[0].getTopic() == 'left/image_raw'
        assert subs[0].topic_name == '/standins_test/left/image_raw'  # rclpy attribute
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
