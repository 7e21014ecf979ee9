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

"""ament_python package setup: the ROS 2 layout plus a pip path for machines without ROS."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'raiv_stereo'

# The ROS 2 core from PyPI wheels, for machines with no ROS install. Never install_requires:
# on a ROS machine these would shadow the distribution's own rclpy and messages.
NO_ROS = [
    'ros-rclpy[fastrtps]',
    'ros-sensor-msgs',
    'ros-stereo-msgs',
    'ros-std-msgs',
    'ros-diagnostic-msgs',
    'ros-geometry-msgs',
    'ros-ament-index-python',
    'numpy',
    'opencv-contrib-python-headless',  # the headless wheel plus ximgproc (post_filter: wls)
    'pyyaml',
    'rosbags',  # raiv-stereo depth --bag and the camera node's bag source (pure Python)
]

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.rviz') +
         glob('config/*.xml')),
        ('share/' + package_name + '/urdf', glob('urdf/*.xacro')),
    ],
    install_requires=['setuptools'],
    extras_require={
        'noros': NO_ROS,
        # The ament linters' Python side: a ROS install has them (test_depend); without ROS,
        # ament_flake8/pep257 come from PyPI with the flake8 plugins ament_flake8 runs.
        'test': ['pytest', 'hypothesis', 'ruff', 'xacro', 'ros-ament-flake8', 'ros-ament-pep257',
                 'flake8', 'flake8-blind-except', 'flake8-builtins', 'flake8-class-newline',
                 'flake8-comprehensions', 'flake8-deprecated', 'flake8-docstrings',
                 'flake8-import-order', 'flake8-quotes', 'pydocstyle'],
    },
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='raiv_stereo developers',
    maintainer_email='raiv-stereo@example.com',
    description='Disparity and depth from the RAiV stereo camera or any calibrated stereo pair.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'camera_node = raiv_stereo.ros.entry:camera_node',
            'depth_node = raiv_stereo.ros.entry:depth_node',
            'stereo_node = raiv_stereo.ros.entry:stereo_node',
            'raiv-stereo = raiv_stereo.tools.cli:main',
            'raiv-stereo-sender = raiv_stereo.device.sender:main',
        ],
    },
)
