"""Minimal stand-ins for ROS Python modules that cannot be installed without a ROS install.

Used only by raiv_stereo.ros.compat when `import message_filters` / `import cv_bridge` fails.
"""
