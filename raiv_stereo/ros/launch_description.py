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

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from raiv_stereo import launch_config
import yaml

PACKAGE = 'raiv_stereo'


def _parameter_file(content: dict) -> str:
    """Write node-specific parameters to a YAML file for --params-file, as launch_ros does."""
    with tempfile.NamedTemporaryFile('w', prefix='raiv_stereo_', suffix='.yaml',
                                     delete=False) as stream:
        yaml.safe_dump(content, stream)
    return stream.name


def _nodes(context: LaunchContext, camera: bool, depth: bool) -> list[Node]:
    """Resolve the launch arguments and build the node actions they describe."""
    names = [a.name for a in launch_config.launch_arguments(camera, depth)]
    args = {name: LaunchConfiguration(name).perform(context) for name in names}
    overrides = [args['params_file']] if args['params_file'] else []
    namespace = args['namespace']
    env = launch_config.node_environment(args)
    ros_arguments = launch_config.log_arguments(args)
    actions = []
    if camera and depth and launch_config.wants_composed(args):
        # Both in one process; each node reads its own section of the file.
        actions.append(Node(
            package=PACKAGE, executable='stereo_node', namespace=namespace,
            parameters=[_parameter_file(launch_config.composed_parameters(args)), *overrides],
            ros_arguments=ros_arguments, additional_env=env, output='screen'))
    else:
        camera_params, depth_params = launch_config.pipeline_parameters(args) \
            if camera and depth else (camera and launch_config.camera_parameters(args),
                                      depth and launch_config.depth_parameters(args))
        if camera:
            actions.append(Node(
                package=PACKAGE, executable='camera_node', name='camera_node',
                namespace=namespace, parameters=[camera_params,
                                                 *overrides], ros_arguments=ros_arguments,
                additional_env=env, output='screen'))
        if depth:
            actions.append(Node(
                package=PACKAGE, executable='depth_node', name='depth_node',
                namespace=namespace, parameters=[depth_params,
                                                 *overrides], ros_arguments=ros_arguments,
                additional_env=env, output='screen'))
    if depth and launch_config.wants_rviz(args):
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
