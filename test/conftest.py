"""Test setup: keep DDS on this host and give every test run its own ROS domain."""

import os
import random

# Set before rclpy is imported anywhere: rcl reads these at init.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
if 'RAIV_TEST_DOMAIN_ID' not in os.environ:
    # One domain per pytest run (0..101 are safe on Linux); parallel runs do not cross-talk.
    os.environ['RAIV_TEST_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_DOMAIN_ID'] = os.environ['RAIV_TEST_DOMAIN_ID']
