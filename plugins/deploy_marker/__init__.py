from .deploy_marker import *  # noqa: F403
