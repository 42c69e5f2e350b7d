"""Extensions of WeasyPrint's private API, installed only around our renders."""
