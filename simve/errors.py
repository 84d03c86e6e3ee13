"""The one exception type the package raises for bad input.

Its message is a single line that says what went wrong and what to do about it; the CLI
prints it as ``simve: error: <message>`` and exits non-zero, without a traceback.
"""


class SimveError(Exception):
    """Bad input or missing resources, explained in one line."""
