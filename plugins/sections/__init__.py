from .sections import *  # noqa: F403
