from .sitefiles import *  # noqa: F403
