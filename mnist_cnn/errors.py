"""Exceptions for the mistakes users make and the failures machines have.

Library code raises these with a message that already names the file and the problem, so the CLI
layer can print ``str(error)`` as one line and pick the exit code from the class.
"""


class MnistCnnError(Exception):
    """Base class: a failure the user can understand and act on (exit code 1).

    The message is folded onto one line, whatever the library underneath said.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class UsageError(MnistCnnError):
    """The command line asks for something that cannot be done (exit code 2)."""

    exit_code = 2


class DataError(MnistCnnError):
    """The MNIST files are missing, unreachable or malformed."""


class CheckpointError(MnistCnnError):
    """A checkpoint cannot be read, is unsafe, or does not fit the ConvNet."""


class MissingCheckpointError(CheckpointError, UsageError):
    """No checkpoint where the user pointed: they probably have not trained yet."""

    exit_code = 2


class DeviceError(UsageError):
    """The requested device does not exist on this machine."""


class ImageError(MnistCnnError):
    """One image file cannot be read as a picture."""


class TrainingDiverged(MnistCnnError):
    """The loss became NaN or infinite, so the weights are not worth saving."""
