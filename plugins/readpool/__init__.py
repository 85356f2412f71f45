from .readpool import *  # noqa: F403
