"""nepflow's one error type: a one-line message naming the file or config key."""


class NepflowError(Exception):
    """An error in the user's input or environment, reported as one line.

    The message names the file or config key and what was expected. Entry
    scripts turn it into a one-line ``ERROR: ...`` on stderr and a non-zero exit.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
