from .renderpool import *  # noqa: F403
