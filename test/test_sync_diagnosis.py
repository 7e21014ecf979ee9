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

"""The depth node's sync diagnosis and error reporter, as plain functions (no DDS)."""

from __future__ import annotations

from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros.error_reporter import ErrorReporter, message_kind
from raiv_stereo.ros.sync_diagnosis import diagnose_sync, TopicState

NAMES = ('/a/left/image_raw', '/a/right/image_raw', '/a/left/camera_info',
         '/a/right/camera_info')
NOW_S = 100.0
WARNING_S = 3.0


def _topics(stamps_per_topic, period_s=0.1, reliable=False, publishers=('reliable',)):
    """Topics whose i-th message arrived i periods before NOW_S with the given stamps (ns)."""
    return [TopicState(name, [(NOW_S - period_s * (len(stamps) - i), stamp)
                              for i, stamp in enumerate(stamps)],
                       reliable=reliable, publishers=publishers)
            for name, stamps in zip(NAMES, stamps_per_topic, strict=True)]


def _diagnose(topics, sync='exact', slop_s=0.01, waited_s=5.0, busy=None):
    return diagnose_sync(topics, NOW_S, waited_s, 60.0, sync, slop_s, WARNING_S, busy)


FRAMES = [i * 100_000_000 for i in range(30)]


def test_nothing_said_before_the_warning_time():
    assert _diagnose(_topics([FRAMES] * 4), waited_s=2.9) is None


def test_offset_stamps_get_the_approximate_hint_with_a_slop():
    shifted = [s + 5_000_000 for s in FRAMES]
    diagnosis = _diagnose(_topics([FRAMES, shifted, FRAMES, shifted]))
    assert diagnosis.kind == 'no sync'
    assert '5.000 ms apart' in diagnosis.message
    assert 'set sync:=approximate with sync_slop_s above 0.0075' in diagnosis.message
    approximate = _diagnose(_topics([FRAMES, shifted, FRAMES, shifted]), sync='approximate',
                            slop_s=0.004)
    assert 'beyond sync_slop_s (0.004 s): raise it above 0.0075' in approximate.message


def test_a_silent_right_camera_gets_no_offset_and_no_approximate_hint():
    # The right camera sent until 5 s ago; its old stamps must not read as an offset.
    topics = _topics([FRAMES, FRAMES[:5], FRAMES, FRAMES])
    topics[1] = TopicState(NAMES[1], [(NOW_S - 20.0 + i * 0.1, s)
                                      for i, s in enumerate(FRAMES[:5])],
                           publishers=('reliable',))
    diagnosis = _diagnose(topics)
    assert f'{NAMES[1]} is silent' in diagnosis.message
    assert 'sync:=approximate' not in diagnosis.message
    assert 'ms apart' not in diagnosis.message


def test_silent_topic_text_follows_the_subscription_qos():
    stamps = [FRAMES, FRAMES, FRAMES, []]
    best_effort = _diagnose(_topics(stamps, publishers=('reliable',))).message
    assert 'this node subscribes best-effort (matches any publisher)' in best_effort
    reliable = _diagnose(_topics(stamps, reliable=True, publishers=('reliable',))).message
    assert 'best-effort' not in reliable and 'this node subscribes reliably' in reliable
    mismatch = _diagnose(_topics(stamps, reliable=True, publishers=('best_effort',))).message
    assert 'QoS mismatch' in mismatch and 'input_qos:=best_effort' in mismatch
    assert 'qos_overrides./a/right/camera_info.subscription.reliability:=best_effort' in mismatch
    nobody = _diagnose(_topics(stamps, publishers=())).message
    assert 'no publisher: check the topic name' in nobody


def test_best_effort_publishers_on_every_topic_are_a_qos_mismatch_not_a_missing_camera():
    silent = _topics([[], [], [], []], reliable=True, publishers=('best_effort',))
    diagnosis = _diagnose(silent)  # 5 s: publishers are there, no need to wait for a slow start
    assert diagnosis.kind == 'qos mismatch'
    assert all(name in diagnosis.message for name in NAMES)
    assert 'subscribes reliably (its default)' in diagnosis.message
    assert 'input_qos:=best_effort' in diagnosis.message
    assert 'qos_overrides.<topic>.subscription.reliability:=best_effort' in diagnosis.message
    # A best-effort subscription matches them: silence then has another cause.
    assert _diagnose(_topics([[], [], [], []], publishers=('best_effort',))).kind == 'no input'
    # One reliable publisher among them serves a reliable subscription.
    mixed = _topics([[], [], [], []], reliable=True, publishers=('best_effort', 'reliable'))
    assert _diagnose(mixed).kind == 'no input'


def test_loss_is_told_apart_from_offset():
    every_third = FRAMES[::3]
    diagnosis = _diagnose(_topics([FRAMES, every_third, FRAMES, FRAMES]))
    assert 'messages are lost on the way' in diagnosis.message
    assert 'subscribe reliably (the default' in diagnosis.message
    reliable = _diagnose(_topics([FRAMES, every_third, FRAMES, FRAMES], reliable=True)).message
    assert 'messages are lost on the way' in reliable
    assert 'subscribe reliably' not in reliable and 'subscription.depth' in reliable
    assert 'sync:=approximate' not in diagnosis.message


def test_camera_info_stamped_apart_from_its_image():
    late_info = [s + 1 for s in FRAMES]
    diagnosis = _diagnose(_topics([FRAMES, FRAMES, late_info, FRAMES]))
    assert 'no left camera_info stamp equals a left image stamp' in diagnosis.message


def test_no_input_only_after_a_long_silence_and_busy_wins():
    silent = _topics([[], [], [], []], publishers=())
    assert diagnose_sync(silent, NOW_S, 5.0, 5.0, 'exact', 0.01, WARNING_S) is None
    late = diagnose_sync(silent, NOW_S, 31.0, 31.0, 'exact', 0.01, WARNING_S)
    assert late.kind == 'no input' and 'is the camera node running' in late.message
    # A camera node that is up but whose source delivers nothing yet (a stream source waiting
    # for its sender) is not "not running".
    waiting = _topics([[], [], [], []])
    late = diagnose_sync(waiting, NOW_S, 31.0, 31.0, 'exact', 0.01, WARNING_S)
    assert late.kind == 'no input' and 'is the camera node running' not in late.message
    assert 'left/image_raw: 1 publisher(s), reliable, but nothing arrived' in late.message
    assert 'waits for its sender' in late.message
    busy = _diagnose(silent, waited_s=31.0, busy=('8000x6000', NOW_S - 12.0))
    assert busy.kind == 'busy' and 'busy with a large pair (8000x6000) for 12 s' in busy.message
    assert 'camera node' not in busy.message


def test_error_reporter_throttles_each_kind_alone():
    lines, now = [], [0.0]
    reporter = ErrorReporter(lines.append, 5.0, clock=lambda: now[0])
    assert reporter.report('a', 'first a')
    now[0] = 1.0
    assert not reporter.report('a', 'second a')  # same kind within 5 s
    assert reporter.report('b', 'first b')  # another kind at once
    now[0] = 5.5
    assert reporter.report('a', 'third a')
    assert lines == ['first a', 'first b', 'third a (1 more like this since the last report)']


def test_message_kind_ignores_numbers_only():
    assert message_kind('E', 'fx is 1e9 at 800x650') == message_kind('E', 'fx is 2.5 at 4x3')
    assert message_kind('E', 'fx is 1e9') != message_kind('E', 'Tx is 1e9')
    assert message_kind('E', 'x') != message_kind('F', 'x')


def test_window_problem_names_the_setting_and_the_fix():
    f_px, b_mm = 466.7, 65.0
    assert depth_params.window_problem({}, f_px, b_mm, 800, 650) is None
    explicit = depth_params.window_problem({'min_disparity': 1024, 'num_disparities': 16},
                                           f_px, b_mm, 800, 650)
    assert 'min_disparity 1024 + num_disparities 16 searches up to 1039 px' in explicit
    near = depth_params.window_problem({}, f_px, b_mm, 100, 80)
    assert 'raise min_depth_mm to 389 or more' in near
    assert depth_params.window_problem({'min_depth_mm': 389.0}, f_px, b_mm, 100, 80) is None
    assert 'too small to match' in depth_params.window_problem({}, f_px, b_mm, 1, 1)
