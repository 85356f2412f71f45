from .visitor_counter import *  # noqa: F403
