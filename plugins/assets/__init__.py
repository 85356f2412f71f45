from .assets import *  # noqa: F403
