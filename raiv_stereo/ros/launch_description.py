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

"""The launch descriptions behind launch/*.launch.py (needs ROS's `launch` and `launch_ros`)."""

from __future__ import annotations

import os
import tempfile

from ament_index_python.packages import (
    get_package_prefix,
    get_package_share_directory,
    PackageNotFoundError,
)
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.logging import get_logger as launch_logger
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from raiv_stereo.params import launch as launch_config
import yaml

PACKAGE = 'raiv_stereo'


def _parameter_file(content: dict) -> str:
    """Write node-specific parameters to a YAML file for --params-file, as launch_ros does."""
    with tempfile.NamedTemporaryFile('w', prefix='raiv_stereo_', suffix='.yaml',
                                     delete=False) as stream:
        yaml.safe_dump(content, stream)
    return stream.name


def _remove(path: str) -> None:
    """Delete a parameter file this launch wrote (it has been read, or never will be)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _rviz_installed() -> bool:
    try:
        get_package_prefix('rviz2')
    except PackageNotFoundError:
        return False
    return True


def _nodes(context: LaunchContext, camera: bool, depth: bool) -> list:
    """Resolve the launch arguments and build the node actions they describe."""
    logger = launch_logger('raiv_stereo')
    names = [a.name for a in launch_config.launch_arguments(camera, depth)]
    args = {name: LaunchConfiguration(name).perform(context) for name in names}
    # Node parameters given as launch arguments (min_disparity:=32); anything else is a warning.
    camera_extra, depth_extra, warnings = launch_config.node_parameter_arguments(
        dict(context.launch_configurations), camera, depth)
    for warning in warnings:
        logger.warning(warning)
    start_rviz, rviz_note = launch_config.rviz_plan(args, _rviz_installed()) if depth \
        else (False, '')
    if rviz_note:
        logger.warning(rviz_note)
    overrides = [args['params_file']] if args['params_file'] else []
    namespace = args['namespace']
    env = launch_config.node_environment(args)
    ros_arguments = launch_config.log_arguments(args)
    actions = []
    if camera and depth and launch_config.wants_composed(args):
        # Both in one process; each node reads its own section of the file, which goes when the
        # process ends or the launch does.
        content = launch_config.composed_parameters(args, camera_extra, depth_extra)
        path = _parameter_file(content)
        stereo = Node(
            package=PACKAGE, executable='stereo_node', namespace=namespace,
            parameters=[path, *overrides],
            ros_arguments=ros_arguments, additional_env=env, output='screen')
        actions += [stereo, RegisterEventHandler(OnProcessExit(
            target_action=stereo, on_exit=lambda event, context: _remove(path))),
            RegisterEventHandler(OnShutdown(on_shutdown=lambda event, context: _remove(path)))]
    else:
        camera_params, depth_params = \
            launch_config.pipeline_parameters(args, camera_extra, depth_extra) \
            if camera and depth else \
            (camera and launch_config.camera_parameters(args, camera_extra),
             depth and launch_config.depth_parameters(args, depth_extra))
        if camera:
            actions.append(Node(
                package=PACKAGE, executable='camera_node', name='camera_node',
                namespace=namespace, parameters=[camera_params, *overrides],
                ros_arguments=ros_arguments, additional_env=env, output='screen'))
        if depth:
            actions.append(Node(
                package=PACKAGE, executable='depth_node', name='depth_node',
                namespace=namespace, parameters=[depth_params, *overrides],
                ros_arguments=ros_arguments, additional_env=env, output='screen'))
    if start_rviz:
        rviz_config = os.path.join(get_package_share_directory(PACKAGE), 'config', 'depth.rviz')
        actions.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                            namespace=namespace, arguments=['-d', rviz_config],
                            parameters=[{'use_sim_time': launch_config.wants_sim_time(args)}],
                            ros_arguments=ros_arguments, output='screen'))
    return actions


def build(camera: bool = True, depth: bool = True) -> LaunchDescription:
    """Return a launch description with the camera driver and/or the depth node."""
    declared = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                      **({'choices': list(a.choices)} if a.choices else {}))
                for a in launch_config.launch_arguments(camera, depth)]
    return LaunchDescription(
        declared + [OpaqueFunction(function=_nodes, kwargs={'camera': camera, 'depth': depth})])
