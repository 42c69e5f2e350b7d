"""The one error of image work, whatever the stage (fetching, caching, decoding): the image fails, its article
stays."""


class FetchError(Exception):
    """Why an image could not be had; the message goes into the report."""
