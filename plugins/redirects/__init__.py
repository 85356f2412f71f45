from .redirects import *  # noqa: F403
