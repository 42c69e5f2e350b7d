"""Extensions of WeasyPrint's private API, installed only around our renders."""

from compile.writers.pdf import loading  # noqa: F401 - WeasyPrint imported without running gcc, before any module here
