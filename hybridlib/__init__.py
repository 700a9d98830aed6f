"""hybridlib: an open implementation of "A Hybrid Method for 3D Human Pose Estimation"."""

__version__ = "0.1.0"
