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
Launch arguments -> node parameters, in plain Python (no `launch` import), so it is unit-tested.

The launch files and `raiv-stereo demo` both use this module, so a launch argument means the same
thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
import difflib
import importlib.util
import os
from pathlib import Path
from typing import Any, Mapping

from raiv_stereo import sources
from raiv_stereo.core import rig
from raiv_stereo.core.calibration import focal_px_from_lens
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.params.spec import as_text, from_text, ParamSpec, value_problem

NAMESPACE = 'raiv'
"""The nodes' namespace at launch (and in the demo and viewer): /raiv/left/image_raw, ..."""
FASTDDS_PROFILE = 'fastdds_large_images.xml'
"""In config/: the Fast DDS profile for processes that publish large images."""
FASTDDS_PROFILE_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'

RAIV_SDK_MODULE = 'qCU_Data'  # = sources.raiv.DATA_MODULE; not imported: launch stays light
"""The RAiV device's data-pipeline module; importable only on the camera itself."""


def default_source() -> str:
    """Return the real camera: 'raiv' on the device (its SDK importable), else 'stream' from it."""
    return 'raiv' if importlib.util.find_spec(RAIV_SDK_MODULE) is not None else 'stream'


@dataclass(frozen=True)
class LaunchArgument:
    """One launch argument: its default (as a launch string), description and allowed values."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


CAMERA_SETTINGS = ('baseline_mm', 'focal_length_mm', 'pixel_size_um', 'calibration_file',
                   'left_calibration_file', 'right_calibration_file', 'rate_hz', 'camera_name',
                   'publish_tf')
"""Camera node parameters that are launch arguments of the same name (camera_params specs)."""
DEPTH_SETTINGS = ('min_depth_mm', 'max_depth_mm', 'scale', 'sgbm_resolution', 'depth_format',
                  'sync', 'sync_slop_s')
"""Depth node parameters that are launch arguments of the same name (depth_params specs)."""


def _setting(spec: ParamSpec) -> LaunchArgument:
    """Return the launch argument of a node setting: default, description, limits from its spec."""
    choices = ('true', 'false') if isinstance(spec.default, bool) else \
        spec.choices if isinstance(spec.default, str) else None
    limits = '' if choices or not spec.limits_text() else f' ({spec.limits_text()})'
    return LaunchArgument(spec.name, as_text(spec.default), spec.description + limits, choices)


def launch_arguments(camera: bool = True, depth: bool = True) -> list[LaunchArgument]:
    """Return the launch arguments for a launch file with the camera and/or the depth node."""
    common = [
        LaunchArgument('namespace', NAMESPACE,
                       'ROS namespace of the nodes and their topics'),
        LaunchArgument('params_file', '',
                       'YAML parameter file applied last: overrides any node parameter'),
        LaunchArgument('fastdds_profile', 'default',
                       "Fast DDS profile of the nodes' processes: 'default' = "
                       f'config/{FASTDDS_PROFILE} (a 16 MB shared-memory segment: large '
                       "images reach other processes whole and at once), '' = Fast DDS's own, "
                       'or a path; FASTDDS_DEFAULT_PROFILES_FILE, when set, wins'),
        LaunchArgument('use_sim_time', 'false',
                       'every node (RViz too) follows /clock, as when replaying a bag with '
                       '`ros2 bag play --clock`', ('true', 'false')),
        LaunchArgument('log_level', 'info', 'log level of every node', LOG_LEVELS),
    ]
    camera_args = [
        LaunchArgument('source', 'auto',
                       "frame source: 'auto' = the real camera ('raiv' on the device, else "
                       "'stream' waiting for the device to connect); 'sample' = built-in "
                       'synthetic scene; or images, video, camera, bag. Each source takes its '
                       'options as <source>.<option>:=value (e.g. bag.path:=/data/run1)',
                       ('auto',) + sources.KINDS),
        *(_setting(camera_params.BY_NAME[name]) for name in CAMERA_SETTINGS),
    ]
    depth_args = [
        *(_setting(depth_params.BY_NAME[name]) for name in DEPTH_SETTINGS),
        LaunchArgument('input_qos', depth_params.INPUT_RELIABILITY,
                       "reliability of the depth node's image and camera_info subscriptions: "
                       "'reliable' (large images between processes arrive whole) or "
                       "'best_effort' (for best-effort publishers); another value than the "
                       "node's own becomes qos_overrides.<topic>.subscription.reliability",
                       depth_params.INPUT_RELIABILITIES),
        LaunchArgument('rviz', 'false', 'start RViz with config/depth.rviz', ('true', 'false')),
    ]
    both = [LaunchArgument('composed', 'false',
                           "'true' = camera and depth node in one process (stereo_node): the "
                           'raw pairs cross no process boundary, whatever the RMW; '
                           "'false' = two processes", ('true', 'false')),
            LaunchArgument('camera_resolution', 'working',
                           "size of the camera node's images: 'working' = the matcher's (scale "
                           'x the sensor size, CameraInfo K and P scaled; the depth node then '
                           "matches what arrives, as the maker's examples do), 'full' = the "
                           "sensor's, for other subscribers that need it (the depth node "
                           'scales down)', CAMERA_RESOLUTIONS)] \
        if camera and depth else []
    return common + (camera_args if camera else []) + (depth_args if depth else []) + both


LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')
CAMERA_RESOLUTIONS = ('working', 'full')
INPUT_TOPICS = ('left/image_raw', 'right/image_raw', 'left/camera_info', 'right/camera_info')


def input_qos_overrides(namespace: str, reliability: str) -> dict[str, str]:
    """
    Return qos_overrides parameters setting the depth node's input subscriptions' reliability.

    Empty when it is the node's own (depth_params.INPUT_RELIABILITY): one default, stated once.
    """
    if reliability == depth_params.INPUT_RELIABILITY:
        return {}
    prefix = _namespace_prefix(namespace)
    return {f'qos_overrides.{prefix}/{topic}.subscription.reliability': reliability
            for topic in INPUT_TOPICS}


def _namespace_prefix(namespace: str) -> str:
    """Return '/a/b' for 'a/b', '/a/b/' or '/a/b', and '' for the root namespace."""
    namespace = namespace.strip('/')
    return f'/{namespace}' if namespace else ''


class LaunchArgumentError(ValueError):
    """A launch argument that cannot become a node parameter; the message says which and why."""


def _values(args: Mapping[str, str], specs: Mapping[str, ParamSpec],
            names: tuple[str, ...]) -> dict[str, Any]:
    """Return these launch arguments as typed node parameter values (refused as the node does)."""
    try:
        return {name: from_text(specs[name], args[name]) for name in names}
    except ValueError as error:
        raise LaunchArgumentError(str(error)) from None


def _refuse(problems: list[str]) -> None:
    """Raise the node's own words for these values, if it would refuse them."""
    if problems:
        raise LaunchArgumentError('; '.join(problems))


def _choice(args: Mapping[str, str], argument: LaunchArgument) -> str:
    value = str(args[argument.name]).strip()
    if argument.choices and value not in argument.choices:
        raise LaunchArgumentError(
            f'{argument.name}:={value!r} is not one of: {", ".join(argument.choices)}')
    return value


def _with_defaults(args: Mapping[str, str], camera: bool, depth: bool) -> dict[str, str]:
    merged = {a.name: a.default for a in launch_arguments(camera, depth)}
    merged.update({k: str(v) for k, v in args.items()})
    return merged


def _settings(extra: Mapping[str, Any] | None, table: Mapping[str, Any]) -> dict[str, Any]:
    """Return the node settings among `extra` (node parameters given as launch arguments)."""
    return {name: value for name, value in (extra or {}).items() if name in table}


def camera_parameters(args: Mapping[str, str],
                      extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """
    Return the camera node's parameters for these launch arguments (strings, as from launch).

    `extra`: other node parameters given as launch arguments (node_parameter_arguments), checked
    with the rest: a source's options (bag.path:=...) are what make that source usable.
    """
    merged = _with_defaults(args, camera=True, depth=False)
    by_name = {a.name: a for a in launch_arguments(camera=True, depth=False)}
    source = _choice(merged, by_name['source'])
    values = _values(merged, camera_params.BY_NAME, CAMERA_SETTINGS)
    values['source'] = default_source() if source == 'auto' else source
    _refuse(camera_params.camera_settings_problems(
        {**values, **_settings(extra, camera_params.BY_NAME)}))
    return {**values, 'use_sim_time': wants_sim_time(merged), **(extra or {})}


def depth_parameters(args: Mapping[str, str],
                     extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the depth node's parameters for these launch arguments (`extra` as above)."""
    merged = _with_defaults(args, camera=False, depth=True)
    by_name = {a.name: a for a in launch_arguments(camera=False, depth=True)}
    values = _values(merged, depth_params.BY_NAME, DEPTH_SETTINGS)
    _refuse(depth_params.depth_settings_problems(
        {**values, **_settings(extra, depth_params.BY_NAME)}))
    return {
        **values,
        'use_sim_time': wants_sim_time(merged),
        **input_qos_overrides(merged['namespace'], _choice(merged, by_name['input_qos'])),
        **(extra or {}),
    }


def pipeline_parameters(args: Mapping[str, str], camera_extra: Mapping[str, Any] | None = None,
                        depth_extra: Mapping[str, Any] | None = None
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    Return (camera node, depth node) parameters for a launch of both nodes.

    camera_resolution 'working' moves the downscaling into the camera node (its `scale`), so a
    quarter of the bytes cross DDS and the depth node works at scale 1 on what arrives. A lens
    given without a depth range gets its preset's range.
    """
    camera, depth = camera_parameters(args, camera_extra), depth_parameters(args, depth_extra)
    if 'focal_length_mm' in args and not {'min_depth_mm', 'max_depth_mm'} & set(args):
        # Another lens without a range: the lens preset's (config/lens_*.yaml), as the CLI does.
        depth['min_depth_mm'], depth['max_depth_mm'] = lens_depth_range_mm(
            camera['focal_length_mm'], rig.WORKING_SCALE, camera['baseline_mm'],
            camera['pixel_size_um'])
    merged = _with_defaults(args, camera=True, depth=True)
    by_name = {a.name: a for a in launch_arguments(camera=True, depth=True)}
    if _choice(merged, by_name['camera_resolution']) == 'working':
        camera['scale'], depth['scale'] = depth['scale'], 1.0
    return camera, depth


def composed_parameters(args: Mapping[str, str], camera_extra: Mapping[str, Any] | None = None,
                        depth_extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the parameter file content of stereo_node: one section per node name."""
    prefix = _namespace_prefix(str(args.get('namespace', NAMESPACE)))
    nodes = pipeline_parameters(args, camera_extra, depth_extra)
    return {f'{prefix}/{name}': {'ros__parameters': params}
            for name, params in zip(('camera_node', 'depth_node'), nodes, strict=True)}


def packaged_fastdds_profile() -> str:
    """Return config/fastdds_large_images.xml: the source tree's, else the installed share's."""
    source = Path(__file__).resolve().parents[2] / 'config' / FASTDDS_PROFILE
    if source.is_file():
        return str(source)
    from ament_index_python.packages import get_package_share_directory

    return os.path.join(get_package_share_directory('raiv_stereo'), 'config', FASTDDS_PROFILE)


def node_environment(args: Mapping[str, str],
                     environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Return the environment variables the nodes' processes get (the Fast DDS profile)."""
    choice = str(args.get('fastdds_profile', 'default')).strip()
    if not choice or FASTDDS_PROFILE_VARIABLE in environ:
        return {}
    path = packaged_fastdds_profile() if choice == 'default' else os.path.expanduser(choice)
    if not os.path.isfile(path):
        raise LaunchArgumentError(
            f'fastdds_profile:={choice!r}: {path} is not a file; give a Fast DDS XML profile, '
            "'default' or ''")
    return {FASTDDS_PROFILE_VARIABLE: path}


def wants_composed(args: Mapping[str, str]) -> bool:
    """Return True when camera and depth node are to share one process."""
    return _flag(args, 'composed', 'false')


def wants_sim_time(args: Mapping[str, str]) -> bool:
    """Return True when the nodes are to follow /clock (use_sim_time)."""
    return _flag(args, 'use_sim_time', 'false')


def log_arguments(args: Mapping[str, str]) -> list[str]:
    """Return the ROS arguments that set every node's log level."""
    level = str(args.get('log_level', 'info')).strip().lower()
    if level not in LOG_LEVELS:
        raise LaunchArgumentError(f'log_level:={level!r} is not one of: {", ".join(LOG_LEVELS)}')
    return ['--log-level', level]


def wants_rviz(args: Mapping[str, str]) -> bool:
    """Return True when the rviz launch argument asks for RViz."""
    return _flag(args, 'rviz', 'false')


def _flag(args: Mapping[str, str], name: str, default: str) -> bool:
    value = str(args.get(name, default)).strip().lower()
    if value not in ('true', 'false'):
        raise LaunchArgumentError(f'{name}:={value!r} must be true or false')
    return value == 'true'


def lens_depth_range_mm(focal_length_mm: float, scale: float,
                        baseline_mm: float = rig.BASELINE_MM,
                        pixel_size_um: float = rig.PIXEL_SIZE_UM) -> tuple[float, float]:
    """
    Return the (min, max) depth a lens suits at a working scale, rounded to 10 mm.

    The maker's 300-3000 mm for the 2.8 mm lens at scale 0.5 is a disparity band of 101.1..10.1 px:
    about 96 disparities to search (speed) and at least 10 px at the far end (depth resolution).
    Every lens and scale keeps that band, so the range grows with the focal length in pixels.
    """
    f_b_px_mm = focal_px_from_lens(focal_length_mm, pixel_size_um) * scale * baseline_mm
    reference = focal_px_from_lens(rig.FOCAL_LENGTH_MM, rig.PIXEL_SIZE_UM) * \
        rig.WORKING_SCALE * rig.BASELINE_MM
    near_px = reference / rig.MIN_DEPTH_MM
    far_px = reference / rig.MAX_DEPTH_MM
    return round(f_b_px_mm / near_px, -1), round(f_b_px_mm / far_px, -1)


def launch_arguments_markdown() -> str:
    """Return the launch arguments as a Markdown table (for the README)."""
    rows = ['| Argument | Default | Description |', '|---|---|---|']
    for argument in launch_arguments():
        allowed = f' (one of: {", ".join(argument.choices)})' if argument.choices else ''
        default = argument.default or "''"
        rows.append(f'| `{argument.name}` | `{default}` | '
                    f'{argument.description}{allowed} |')
    return '\n'.join(rows) + '\n'


def node_parameter_arguments(given: Mapping[str, str], camera: bool = True, depth: bool = True
                             ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """
    Return (camera, depth) parameters from launch arguments that are not declared, and warnings.

    `ros2 launch ... min_disparity:=32` sets that node parameter (every setting a node's hint
    names can be given where the node was launched); qos_overrides.* go to both nodes. Anything
    else would be silently ignored by launch: each gets a warning naming the closest argument.
    """
    declared = {a.name for a in launch_arguments(camera, depth)}
    tables = [(table, params) for wanted, table, params in (
        (camera, camera_params.BY_NAME, {}), (depth, depth_params.BY_NAME, {})) if wanted]
    warnings = []
    for name, text in sorted(given.items()):
        if name in declared:
            continue
        if name.startswith('qos_overrides.'):
            for _, params in tables:
                params[name] = _yaml_value(str(text))
            continue
        owners = [(table[name], params) for table, params in tables if name in table]
        if not owners:
            known = sorted(declared | {n for table, _ in tables for n in table})
            close = difflib.get_close_matches(name, known, n=1)
            warnings.append(f"launch argument '{name}' is unknown and ignored" +
                            (f"; did you mean '{close[0]}'?" if close else
                             '; `ros2 launch ... --show-args` lists them'))
            continue
        for spec, params in owners:
            params[name] = _parameter_value(spec, name, str(text))
    camera_extra = tables[0][1] if camera else {}
    depth_extra = tables[-1][1] if depth else {}
    return camera_extra, depth_extra, warnings


def _parameter_value(spec: ParamSpec, name: str, text: str) -> Any:
    """Return a launch argument's text as the node parameter's type, refused as the node does."""
    try:
        value = from_text(spec, text)
    except ValueError as error:
        raise LaunchArgumentError(f'{name}:={text}: {error}') from None
    problem = value_problem(spec, value)
    if problem:
        raise LaunchArgumentError(f'{name}:={text}: {problem}')
    return value


def _yaml_value(text: str) -> Any:
    """Return a qos_overrides value as ROS parses `-p` values (numbers, booleans, strings)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def rviz_plan(args: Mapping[str, str], rviz_installed: bool) -> tuple[bool, str]:
    """
    Return whether to start RViz and what to tell the user (empty when nothing to say).

    Decided before anything starts: a missing rviz2 once ended `ros2 launch` with the nodes left
    running as orphans.
    """
    if not wants_rviz(args):
        return False, ''
    if rviz_installed:
        return True, ''
    return False, ("rviz:=true, but the package 'rviz2' is not installed: starting without RViz "
                   '(install ros-$ROS_DISTRO-rviz2, or run rviz2 -d config/depth.rviz on another '
                   'machine in this ROS domain)')
