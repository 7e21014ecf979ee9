"""raiv_stereo: disparity and depth from the RAiV stereo camera or any calibrated stereo pair."""

__version__ = '0.1.0'
