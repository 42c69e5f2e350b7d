"""The one error of image work, whatever the stage (fetching, caching, decoding): the image fails, its article
stays."""


class FetchError(Exception):
    """Why an image could not be had; the message goes into the report. `unanswered`: no HTTP answer came from the
    image's host (a timeout or a failed connection before any status line): the host may be down."""

    def __init__(self, message: str, unanswered: bool = False):
        super().__init__(message)
        self.unanswered = unanswered
