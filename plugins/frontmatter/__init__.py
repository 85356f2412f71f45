from .frontmatter import *  # noqa: F403
