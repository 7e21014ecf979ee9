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

"""Depth node faults over real rclpy and DDS: clock jumps, settings that cannot fit, reports."""

from __future__ import annotations

import time

from helpers import right_info_with_tx, wait_for
from raiv_stereo.core.calibration import rectified_pinhole
from raiv_stereo.params import depth as depth_params
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from test_depth_node import _header_ns, _stamp, LOSSLESS_INPUT, Rig


def _lines(rig: Rig, fragment: str) -> list[str]:
    with rig.lock:
        return [m.msg for m in rig.logs if 'depth_node' in m.name and fragment in m.msg]


# --- item 6: the clock jumps back ---------------------------------------------------------------

def test_pairs_sync_again_after_the_stamps_jump_back(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({**LOSSLESS_INPUT, 'queue_size': 5}, outputs=('depth/image_rect',))
    late = 1_000_000  # stamps far ahead: the run before the bag restarted
    rig.exchange('depth/image_rect', calibration, left, right, _stamp(late))
    # Right images lost: three queues fill with more unmatched, later stamps than they hold.
    for i in range(1, 8):
        rig.publish(calibration, left, right, _stamp(late + i), skip=('right/image_raw',))
    time.sleep(0.5)
    # The bag restarts: stamps 100 s earlier. Every pair syncs again, in order.
    for i in range(1, 4):
        msg = rig.exchange('depth/image_rect', calibration, left, right, _stamp(i))
        assert _header_ns(msg) == _stamp(i)
    line = rig.wait_log('input stamps jumped back', 'pairing starts again')
    assert 'jumped back 100000.' in line and rig.namespace in line  # 1e6 frames of 0.1 s
    assert len(_lines(rig, 'jumped back')) == 1  # one line, though four topics saw it


# --- item 7: settings that cannot fit the images ------------------------------------------------

def test_search_window_wider_than_the_images_is_refused_at_set_time(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',))
    rig.exchange('disparity', calibration, left, right, _stamp(1))
    result = rig.node.set_parameters_atomically([Parameter('min_disparity', value=1024),
                                                 Parameter('num_disparities', value=16)])
    assert not result.successful
    assert 'with the last images (800x650)' in result.reason
    assert 'min_disparity 1024 + num_disparities 16' in result.reason
    assert 'allow at most 794' in result.reason
    assert rig.node.get_parameter('min_disparity').value == -1
    # A near limit whose disparities cannot fit is refused the same way, with the limit that fits.
    result = rig.node.set_parameters_atomically([Parameter('min_depth_mm', value=30.0)])
    assert not result.successful and 'raise min_depth_mm to' in result.reason
    msg = rig.exchange('disparity', calibration, left, right, _stamp(2))
    assert (msg.min_disparity, msg.max_disparity) == (10, 105)


def test_settings_that_cannot_fit_explained_per_frame(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    # Accepted at start (no image seen yet), then every frame explains itself.
    rig = rig_factory({'min_disparity': 1024, 'num_disparities': 16}, outputs=('disparity',))
    rig.publish(calibration, left, right, _stamp(1))
    line = rig.wait_log('frame dropped: configuration error', 'min_disparity 1024')
    assert 'lower min_disparity or num_disparities' in line and 'unexpected' not in line
    assert not _lines(rig, 'unexpected')


def test_tiny_images_and_absurd_baseline_are_configuration_errors_each_logged(
        rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',))
    # A 1x1 pair, then (within the 5 s throttle) a right Tx of -1e12: two different problems,
    # both logged, both named.
    tiny = rectified_pinhole(calibration.focal_px, calibration.baseline_m, 1, 1, 0.0, 0.0)
    rig.publish(tiny, left[:1, :1].copy(), right[:1, :1].copy(), _stamp(1))
    line = rig.wait_log('frame dropped: configuration error', 'too small to match')
    assert '1x1 px' in line
    rig.publish(calibration, left, right, _stamp(2),
                right_info=right_info_with_tx(calibration, -1e12))
    line = rig.wait_log('frame dropped: configuration error', 'P[0,3] (Tx) = -1e+12')
    assert 'right/camera_info' in line
    assert not _lines(rig, 'unexpected')
    rig.exchange('disparity', calibration, left, right, _stamp(3))


# --- item 8: what the silent-topic diagnosis says -----------------------------------------------

def test_silent_topic_with_reliable_overrides_says_so(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(LOSSLESS_INPUT, outputs=('disparity',))
    line = rig.publish_until_log(
        lambda i: rig.publish(calibration, left, right, _stamp(i), skip=('right/camera_info',)),
        'no synchronized stereo pair', f'{rig.namespace}/right/camera_info is silent')
    assert 'subscribes best-effort' not in line
    assert 'this node subscribes reliably' in line


def test_best_effort_publishers_and_a_default_depth_node_name_the_qos_mismatch(
        rig_factory, scene_pair):
    # The node subscribes reliably by default: a best-effort driver is never delivered, and the
    # diagnosis says why and how to subscribe best-effort.
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',), publisher_qos=qos_profile_sensor_data)
    line = rig.publish_until_log(
        lambda i: rig.publish(calibration, left, right, _stamp(i)),
        'no messages on any input topic', 'QoS mismatch')
    assert f'{rig.namespace}/left/image_raw' in line
    assert 'subscribes reliably (its default)' in line
    assert 'input_qos:=best_effort' in line
    assert 'qos_overrides.<topic>.subscription.reliability:=best_effort' in line
    assert 'is the camera node running' not in line
    assert rig.count('disparity') == 0


def test_silent_right_camera_gets_no_approximate_sync_hint(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(LOSSLESS_INPUT, outputs=('disparity',))
    rig.exchange('disparity', calibration, left, right, _stamp(1))
    line = rig.publish_until_log(  # the right camera stops; the rest goes on
        lambda i: rig.publish(calibration, left, right, _stamp(1 + i),
                              skip=('right/image_raw',)),
        'no synchronized stereo pair', f'{rig.namespace}/right/image_raw is silent')
    assert 'sync:=approximate' not in line and 'ms apart' not in line


# --- item 9: the newest pair of a burst comes out promptly --------------------------------------

def test_last_pair_of_a_burst_comes_out_within_two_processing_times(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(LOSSLESS_INPUT, outputs=('depth/image_rect',))
    rig.exchange('depth/image_rect', calibration, left, right, _stamp(0))
    burst = 40
    for i in range(1, burst + 1):
        rig.publish(calibration, left, right, _stamp(i))
    published_s = time.monotonic()
    rig.wait_for_stamp('depth/image_rect', _stamp(burst), timeout_s=60.0)
    latency_s = time.monotonic() - published_s
    processing_s = max(rig.node.stats().processing_ms[-3:]) / 1000.0
    # At most the pair in progress and then the newest; a queue would take the whole burst.
    assert latency_s <= 2.0 * processing_s + 0.2, (latency_s, processing_s)
    with rig.lock:
        processed = len(rig.received['depth/image_rect'])
    assert processed <= burst // 2


# --- item 10: a pair too large ------------------------------------------------------------------

def test_images_above_the_size_limit_are_refused_before_conversion(
        rig_factory, scene_pair, monkeypatch):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',))
    monkeypatch.setattr(depth_params, 'MAX_IMAGE_PIXELS', 800 * 650 - 1, raising=False)
    rig.publish(calibration, left, right, _stamp(1))
    line = rig.wait_log('frame dropped', 'is 800x650 (520000 pixels), above the 519999 pixels')
    assert 'left/image_raw' in line and 'send smaller images' in line
    monkeypatch.setattr(depth_params, 'MAX_IMAGE_PIXELS', 800 * 650)
    rig.exchange('disparity', calibration, left, right, _stamp(2))
    wait_for(lambda: rig.count('disparity') == 1, 1.0, 'one disparity')
