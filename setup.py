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
    'ros-ament-index-python',
    'numpy',
    'opencv-python-headless',
    'pyyaml',
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
    ],
    install_requires=['setuptools'],
    extras_require={
        'noros': NO_ROS,
        'test': ['pytest', 'ruff'],
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
            'camera_node = raiv_stereo.ros.camera_node:main',
            'depth_node = raiv_stereo.ros.depth_node:main',
            'stereo_node = raiv_stereo.ros.stereo_node:main',
            'raiv-stereo = raiv_stereo.cli:main',
            'raiv-stereo-sender = raiv_stereo.device.sender:main',
        ],
    },
)
