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

"""The depth node's pure parts: input checks, output messages, diagnostics, pair-order guard."""

from collections import deque
import threading

from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
import pytest
from raiv_stereo.core.calibration import CalibrationError, raiv_nominal
from raiv_stereo.core.matching.sgbm import CONFIDENCE_MATCHED
from raiv_stereo.core.pair_order import PairOrderGuard
from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros import conversions
from raiv_stereo.ros.depth_inputs import (
    CalibrationCache,
    check_size,
    drop_queued_after,
    fit_problem,
    InputError,
    stereo_images,
    TopicWatch,
)
from raiv_stereo.ros.depth_outputs import (
    depth_camera_info,
    depth_image_msg,
    depth_status,
    FrameStats,
    output_header,
    report_values,
    valid_share,
)
from std_msgs.msg import Header

TOPICS = ['/left/image_raw', '/right/image_raw', '/left/camera_info', '/right/camera_info']


def _infos(width_px=160, height_px=130):
    """Return the left and right CameraInfo of the nominal rig at this size."""
    calibration = raiv_nominal().scaled(width_px / raiv_nominal().image_size[0])
    return (conversions.camera_info_msg(calibration.left, Header()),
            conversions.camera_info_msg(calibration.right, Header()))


# --- inputs ------------------------------------------------------------------------------------

def test_check_size_refuses_only_above_the_pixel_limit():
    check_size('/left/image_raw', 4096, 4096)
    with pytest.raises(InputError, match=r'/left/image_raw is 4097x4096 .* send smaller'):
        check_size('/left/image_raw', 4097, 4096)


def test_stereo_images_name_the_topic_whose_size_differs():
    left_info, _ = _infos()
    grey = np.zeros((130, 160), np.uint8)
    left = conversions.image_to_msg(grey, 'mono8')
    pair = stereo_images(left, conversions.image_to_msg(grey, 'mono8'), left_info, TOPICS)
    assert [image.shape for image in pair] == [(130, 160), (130, 160)]
    colour = conversions.image_to_msg(np.zeros((130, 160, 3), np.uint8), 'bgr8')
    assert stereo_images(left, colour, left_info, TOPICS)[0].shape == (130, 160, 3)  # both BGR
    small = conversions.image_to_msg(np.zeros((65, 80), np.uint8), 'mono8')
    with pytest.raises(InputError, match=r'/left/image_raw is 160x130 but /right/image_raw is '
                                         r'80x65; publish both cameras at the same size'):
        stereo_images(left, small, left_info, TOPICS)
    with pytest.raises(InputError, match=r'/left/image_raw is 80x65 but /left/camera_info '
                                         r'describes 160x130'):
        stereo_images(small, small, left_info, TOPICS)


def test_calibration_cache_rebuilds_on_new_content_and_explains_a_bad_pair():
    cache = CalibrationCache()
    left_info, right_info = _infos()
    first = cache.get(left_info, right_info, False, TOPICS[2:])
    assert cache.get(*_infos(), False, TOPICS[2:]) is first  # same content: the cached one
    assert cache.last is first and first.baseline_m == pytest.approx(0.065)
    rectified = cache.get(left_info, right_info, True, TOPICS[2:])
    assert rectified is not first and rectified.focal_px == pytest.approx(first.focal_px)
    right_info.p[3] = -right_info.p[3]  # Tx of the wrong sign
    with pytest.raises(CalibrationError, match=r'/left/camera_info and /right/camera_info do not '
                                               r'describe a usable stereo pair'):
        cache.get(left_info, right_info, False, TOPICS[2:])
    assert cache.last is rectified  # the last usable one stays


def test_fit_problem_names_the_right_camera_info_for_a_depth_range_that_does_not_fit():
    calibration = raiv_nominal().scaled(0.1)
    values = depth_params.default_values()
    assert fit_problem(values, calibration, TOPICS[3]) is None
    values.update(min_depth_mm=10.0, min_disparity=-1, num_disparities=0)
    problem = fit_problem(values, calibration, TOPICS[3])
    assert 'raise min_depth_mm' in problem and \
        f'the baseline comes from {TOPICS[3]}: P[0,3] (Tx) = ' in problem


def test_after_a_clock_jump_later_stamps_are_forgotten_and_dropped_from_the_queues():
    watch = TopicWatch('/left/image_raw', newest_ns=300)
    watch.history.extend([(1.0, 100), (2.0, 200), (3.0, 300)])
    watch.forget_after(150)
    assert list(watch.history) == [(1.0, 100)] and watch.newest_ns is None

    class Synchronizer:
        lock = threading.Lock()
        queues = [{100: 'a', 200: 'b'}, {300: 'c'}, {}, {50: 'd'}]

    assert drop_queued_after(Synchronizer, 150) == 2
    assert Synchronizer.queues == [{100: 'a'}, {}, {}, {50: 'd'}]


# --- outputs -----------------------------------------------------------------------------------

def test_depth_image_is_mm_in_16uc1_and_metres_in_32fc1():
    depth_m = np.array([[1.5, np.nan], [0.25, 2.0]], np.float32)
    header = output_header(conversions.ns_to_stamp(5), 'left_optical')
    mm = depth_image_msg(depth_m, '16UC1', header)
    assert mm.encoding == '16UC1' and mm.header.frame_id == 'left_optical'
    np.testing.assert_array_equal(conversions.msg_to_image(mm), [[1500, 0], [250, 2000]])
    metres = conversions.msg_to_image(depth_image_msg(depth_m, '32FC1', header))
    np.testing.assert_array_equal(metres, depth_m)


def test_depth_camera_info_is_the_rectified_pinhole_of_the_working_size():
    working = raiv_nominal().scaled(0.5)
    info, K = depth_camera_info(working.left.P, 800, 650, Header(frame_id='f'))
    np.testing.assert_array_equal(K, working.left.P[:3, :3])
    assert (info.width, info.height, info.header.frame_id) == (800, 650, 'f')
    assert list(info.d) == [0.0] * 5 and list(info.r) == list(np.eye(3).ravel())
    assert info.p[3] == 0.0 and info.p[0] == pytest.approx(K[0, 0])


def test_valid_share_counts_only_inside_the_window():
    depth_m = np.full((4, 6), np.nan)
    depth_m[1:3, 2:4] = 1.0
    assert valid_share(depth_m, (2, 1, 4, 3)) == 1.0
    assert valid_share(depth_m, (0, 0, 6, 4)) == pytest.approx(4 / 24)
    assert valid_share(depth_m, (3, 3, 3, 3)) == 0.0


def test_report_values_give_medians_counters_and_the_order():
    stats = FrameStats(processing_ms=deque([10.0, 30.0, 20.0]), valid_share=deque([0.5, 1.0]),
                       frames=3, rejected=2)
    values = report_values(stats, dropped_frames=4, fps=2.5, pair_order='as given')
    assert values['processing ms (median)'] == '20.0'
    assert values['core ms (median)'] == 'nan'
    assert values['valid pixels %'] == '75.0'
    assert (values['fps'], values['frames'], values['dropped frames'],
            values['rejected frames'], values['left/right order']) == \
        ('2.50', '3', '4', '2', 'as given')


@pytest.mark.parametrize('verdict, on_swapped, fps, level, message', [
    ('swapped', 'swap', 5.0, DiagnosticStatus.WARN, 'swapped: exchanged by this node'),
    ('swapped', 'stop', 0.0, DiagnosticStatus.ERROR, 'swapped: no depth published'),
    ('as given', 'stop', 4.0, DiagnosticStatus.OK, '4.0 fps'),
    ('as given', 'stop', 0.0, DiagnosticStatus.WARN, 'no frames processed: bad Tx'),
])
def test_depth_status_level_follows_order_then_frames(verdict, on_swapped, fps, level, message):
    status = depth_status({'fps': f'{fps:.2f}'}, fps, verdict, on_swapped, 'bad Tx', '/depth')
    assert status.level == level and status.message.endswith(message)
    assert status.name == 'raiv_stereo: depth_node' and status.hardware_id == '/depth'
    assert [(kv.key, kv.value) for kv in status.values] == [('fps', f'{fps:.2f}')]


# --- pair order --------------------------------------------------------------------------------

def test_pair_order_guard_decides_then_rechecks_only_while_swapped():
    matched, unmatched = np.full(10, CONFIDENCE_MATCHED), np.zeros(10)
    calls = []

    def swapped():
        calls.append(1)
        return unmatched, matched

    guard = PairOrderGuard(recheck_every=2)
    assert [guard.observe(swapped) for _ in range(3)] == [None, None, 'decided']
    assert guard.check.verdict == 'swapped'
    assert [guard.observe(lambda: (matched, unmatched)) for _ in range(6)] == \
        [None] * 5 + ['in order again']  # every 2nd pair, three of them
    assert guard.check.verdict == 'as given' and len(calls) == 3
    assert guard.observe(swapped) is None and len(calls) == 3  # in order: no more matching
