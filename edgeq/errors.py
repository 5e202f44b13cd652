"""The project's exception types. Each message names the file, op, layer or budget so a user can act on it."""


class EdgeqError(Exception):
    """Base of every error edgeq raises on purpose."""


class UsageError(EdgeqError):
    """A file, folder or option the user gave cannot be used as given (missing, wrong kind, out of range)."""


class InputDataError(UsageError):
    """Input data (inputs, calibration or test sets, labels) that would give a wrong result: NaN, wrong layout,
    wrong range, labels that do not match."""


class ModelFormatError(EdgeqError):
    """The model file is truncated, corrupt or not a TFLite flatbuffer."""


class UnsupportedModelError(EdgeqError):
    """The model is well formed but uses an op, type or option edgeq cannot deploy."""


class GraphInvariantError(EdgeqError):
    """The IR violates an invariant (a bug in a frontend or pass, caught by ir.verify)."""


class BudgetError(EdgeqError):
    """The model does not fit the target's flash or RAM; the message says by how much."""


class ToolchainError(EdgeqError):
    """A required tool (arm-none-eabi-gcc, make, CMSIS-NN, QEMU) is missing or a build failed."""


class EmulatorError(EdgeqError):
    """The emulated firmware did not produce its outputs."""


class EmulatorTimeout(EmulatorError):
    """The emulator ran past its time limit (a hang, or a limit set too low)."""


class FirmwareFault(EmulatorError):
    """The firmware hit a Cortex-M fault; `fault` names which (HardFault, MemManage, BusFault, UsageFault)."""

    def __init__(self, message: str, fault: str):
        super().__init__(message)
        self.fault = fault


class BackendUnavailable(EdgeqError):
    """An emulator backend (e.g. Renode) is not installed on this machine."""
