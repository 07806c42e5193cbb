"""The one error type users see: a one-line message, exit code 2, no traceback."""


class BplabError(Exception):
    """Bad input from the user (file, option, config, model file).

    The CLI prints ``str(error)`` on one line and exits with code 2.
    """


def first_line(exc: BaseException) -> str:
    """An exception's message cut to one line (at most 200 characters) for a one-line error; its type when empty."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def printable(message: str) -> str:
    """A message as one printable line: a line break or another control character that came in with the
    user's input (a key in a file, an option) is written as its escape, so the error stays one line."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in message
    )


class SpecError(BplabError):
    """An invalid model description; the message names the offending layer."""


class DataError(BplabError):
    """A data set that cannot be found or read; the message names the file."""
