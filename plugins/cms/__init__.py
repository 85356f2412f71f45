from .cms import *  # noqa: F403
