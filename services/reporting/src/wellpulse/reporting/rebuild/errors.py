"""What stops a rebuild, each worded as what to fix."""


class RebuildError(Exception):
    """The rebuild cannot go on; the message says why and what to do. Nothing live was changed."""
