from .statistics_page import *  # noqa: F403
