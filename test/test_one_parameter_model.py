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
One spec per setting: the node, the command line and the launch arguments refuse alike.

A bad value gets the same words everywhere, and the rules between settings live in one table.
"""

import re

from helpers import wait_for
import pytest
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.params.launch import (
    camera_parameters,
    depth_parameters,
    launch_arguments,
    LaunchArgumentError,
)
from raiv_stereo.params.spec import as_text
from raiv_stereo.ros.camera_node import CameraNode, CameraSetupError
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.tools import cli, offline
from rcl_interfaces.msg import Log
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def _cli_error(capsys, *argv: str) -> str:
    """Run the command in this process; return its one error line."""
    assert cli.main(list(argv)) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _launch_error(make, args: dict) -> str:
    with pytest.raises(LaunchArgumentError) as error:
        make(args)
    return str(error.value)


def _depth_node_refusal(context, values: dict) -> str:
    """Set these values on a running depth node at once; return its reason for refusing."""
    node = DepthNode(context=context, namespace='/one_spec')
    try:
        result = node.set_parameters_atomically(
            [Parameter(name, value=value) for name, value in values.items()])
        assert not result.successful
        return result.reason
    finally:
        node.destroy_node()


@pytest.mark.parametrize('values, cli_argv, message, node_message', [
    # An empty depth range, a working scale above 1 and a resolution that does not exist. A
    # value outside a descriptor's range is refused by rclpy itself, before the node's check
    # (a whole number for a double is stored as a double first): its words, the same limits.
    ({'min_depth_mm': 500.0, 'max_depth_mm': 500.0},
     ('range', '--min-depth-mm', '500', '--max-depth-mm', '500'),
     'min_depth_mm (500) must be below max_depth_mm (500)', None),
    ({'scale': 3}, ('depth', 'l.png', 'r.png', '--out', 'o', '--scale', '3'),
     'scale is 3; allowed 0.25..1', 'scale out of range Min: 0.25, Max: 1.0, value: 3.0'),
    ({'scale': 3}, ('check-calibration', 'l.png', 'r.png', '--scale', '3'),
     'scale is 3; allowed 0.25..1', 'scale out of range Min: 0.25, Max: 1.0, value: 3.0'),
    ({'min_depth_mm': 5.0}, ('demo', '--min-depth-mm', '5'),
     'min_depth_mm is 5; allowed 10..1e+06', 'min_depth_mm out of range Min: 10.0'),
    ({'sgbm_resolution': 'quarter'}, ('demo', '--sgbm-resolution', 'quarter'),
     "sgbm_resolution is 'quarter'; choose one of full, half_rows, half", None),
])
def test_a_bad_depth_setting_gets_the_same_words_everywhere(ros_session, capsys, values,
                                                            cli_argv, message, node_message):
    assert (node_message or message) in _depth_node_refusal(ros_session.context, values)
    assert _cli_error(capsys, *cli_argv) == f'raiv-stereo {cli_argv[0]}: error: {message}'
    launch_args = {name: str(value) for name, value in values.items()}
    assert _launch_error(depth_parameters, launch_args) == message


def test_a_lens_that_is_not_a_raiv_lens_gets_the_same_words_everywhere(ros_session, capsys):
    message = 'focal_length_mm is 5; choose one of 2.8, 3.6, 4, 6, 8, 12, 16, 25'
    with pytest.raises(CameraSetupError, match=re.escape(message)):
        CameraNode(context=ros_session.context, namespace='/one_spec',
                   parameter_overrides=[Parameter('focal_length_mm', value=5.0)])
    for command in ('range', 'depth', 'demo', 'check-calibration'):
        argv = {'depth': ('l.png', 'r.png', '--out', 'o'),
                'check-calibration': ('l.png', 'r.png')}.get(command, ())
        assert _cli_error(capsys, command, *argv, '--focal-length-mm', '5') == \
            f'raiv-stereo {command}: error: {message}'
    assert _launch_error(camera_parameters, {'focal_length_mm': '5'}) == message


def test_command_line_defaults_are_the_nodes():
    parser = cli.build_parser()
    depth_args = parser.parse_args(['depth', 'l.png', 'r.png', '--out', 'o'])
    node = depth_params.default_values()
    assert depth_args.min_depth_mm is None  # unset: the lens preset's range, filled later
    offline.fill_lens_defaults(depth_args)
    for name in ('mask_out_of_range', 'min_depth_mm', 'max_depth_mm', 'block_size',
                 'sgbm_mode', 'subpixel', 'post_filter'):
        assert getattr(depth_args, name) == node[name], name
    assert depth_args.mask_out_of_range is True  # was off in the CLI, on in the node
    assert parser.parse_args(['depth', 'l', 'r', '--out', 'o',
                              '--no-mask-out-of-range']).mask_out_of_range is False
    # Settings that passed the table are what the matcher gets, defaults included.
    assert depth_params.matcher_settings({}) == MatcherSettings()


LAUNCH_ONLY_VALUES = {'source': 'auto'}
"""Launch argument defaults that are no node value: 'auto' is resolved at launch (raiv or
stream), while the camera node alone starts on the sample scene."""


@pytest.mark.parametrize('camera, depth, table', [
    (True, False, camera_params.BY_NAME), (False, True, depth_params.BY_NAME)])
def test_every_launch_argument_defaults_to_its_node_parameter(camera, depth, table):
    compared = []
    for argument in launch_arguments(camera, depth):
        if argument.name in table and argument.name not in LAUNCH_ONLY_VALUES:
            assert argument.default == as_text(table[argument.name].default), argument.name
            compared.append(argument.name)
    assert len(compared) >= 7
    for name, value in LAUNCH_ONLY_VALUES.items():
        assert {a.name: a.default for a in launch_arguments()}[name] == value


def test_one_default_per_behaviour_at_launch_in_the_node_and_on_the_command_line():
    node = depth_params.default_values()
    # What the launch files hand the depth node by default is the node's own default.
    given = depth_parameters({})
    assert {k: v for k, v in given.items() if k != 'use_sim_time'} == \
        {name: node[name] for name in given if name != 'use_sim_time'}
    # Input reliability: the launch argument's default is the node's, so no qos_overrides.
    assert {a.name: a.default for a in launch_arguments()}['input_qos'] == \
        depth_params.INPUT_RELIABILITY == 'reliable'
    assert not [name for name in given if name.startswith('qos_overrides.')]
    # SGBM resolution: one default (half) for the node, launch, demo, picture and bench.
    assert node['sgbm_resolution'] == 'half'
    assert cli.build_parser().parse_args(['demo']).sgbm_resolution == node['sgbm_resolution']
    assert MatcherSettings().sgbm_resolution == node['sgbm_resolution']
    import inspect

    from raiv_stereo.tools import picture
    from raiv_stereo.tools.bench.pipeline import PipelineConfig
    assert inspect.signature(picture.sample_picture).parameters['sgbm_resolution'].default == \
        node['sgbm_resolution']
    assert PipelineConfig('bgr8', 1.0).sgbm_resolution == node['sgbm_resolution']


@pytest.mark.parametrize('argv, message', [
    (('view', '--seconds', '-1'), 'seconds is -1; allowed 0..1e+06'),
    (('view', '--interval-s', '0'), 'interval_s is 0; allowed 0.05..3600'),
    (('demo', '--seconds', '0'), 'seconds is 0; allowed 0.1..86400'),
    (('demo', '--evaluate-frames', '-2'), 'evaluate_frames is -2; allowed 0..1000'),
])
def test_command_only_settings_are_refused_before_anything_starts(capsys, argv, message):
    assert _cli_error(capsys, *argv) == f'raiv-stereo {argv[0]}: error: {message}'


def test_the_depth_table_names_each_mistake_and_the_rules_between_settings():
    problems = depth_params.depth_settings_problems
    assert problems({}) == []
    assert problems({'block_size': 4, 'sgbm_mode': 'fast'}) == [
        'block_size is 4; allowed 1..31, step 2',
        "sgbm_mode is 'fast'; choose one of sgbm, sgbm_3way, hh, hh4"]
    assert problems({'min_depth_mm': 900.0, 'max_depth_mm': 600.0, 'p1': 100, 'p2': 50}) == [
        'min_depth_mm (900) must be below max_depth_mm (600)',
        'p1 (100) must be below p2 (50) (OpenCV SGBM), or both 0 for the defaults from '
        'block_size']
    assert problems({'num_disparities': 48}) == []  # alone: min_disparity from the range
    assert problems({'min_disparity': 1000, 'num_disparities': 48}) == [
        'search window min_disparity + num_disparities (1048) is beyond 1040 px']
    assert problems({'min_depht_mm': 500.0}) == [
        "unknown parameter 'min_depht_mm'; did you mean 'min_depth_mm'?"]


@pytest.mark.parametrize('make, typo, meant', [
    (DepthNode, 'min_depht_mm', 'min_depth_mm'), (CameraNode, 'rate_hx', 'rate_hz'),
    (CameraNode, 'stream.prot', 'stream.port'), (CameraNode, 'stream_port', 'stream.port')])
def test_a_misspelt_parameter_given_at_start_is_named_with_the_closest_one(
        ros_session, make, typo, meant):
    # rclpy keeps an override the node never declares without a word; the node says so.
    listener = rclpy.create_node('typo_listener', context=ros_session.context)
    logs = []
    listener.create_subscription(
        Log, '/rosout', logs.append,
        QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL))
    executor = SingleThreadedExecutor(context=ros_session.context)
    executor.add_node(listener)
    node = make(context=ros_session.context, namespace='/typo',
                parameter_overrides=[Parameter(typo, value=500.0)])
    try:
        expected = f"'{typo}' is not a parameter of {node.get_name()}: ignored; " \
            f"did you mean '{meant}'?"
        wait_for(lambda: any(m.msg == expected and m.level == Log.WARN for m in logs),
                 spin=executor)
    finally:
        executor.shutdown()
        node.destroy_node()
        listener.destroy_node()
