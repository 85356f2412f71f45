from .security import *  # noqa: F403
