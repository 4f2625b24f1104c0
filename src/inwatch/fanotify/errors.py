"""What the fanotify backend raises.

Every refusal of the kernel is an :class:`OSError` with ``errno``, the path
(``filename``) and a ``hint`` saying what to do; the subclasses let a caller
catch the cases that have a different remedy::

    OSError
     └── FanotifyError                 any fanotify syscall failure (.hint)
          ├── FanotifyPermissionError  EPERM: a capability is missing
          │                            (also a PermissionError)
          ├── UnsupportedEventError    EINVAL: the mark cannot report those
          │                            events (a mount mark and directory events,
          │                            a bit this kernel does not know)
          └── NoFileHandlesError       ENODEV/EXDEV/EOPNOTSUPP/ESTALE: the
                                       filesystem has no usable file handles

    ValueError
     └── FanotifyParseError            bytes that are not fanotify records
"""

from __future__ import annotations

import os

__all__ = [
    "FanotifyError",
    "FanotifyParseError",
    "FanotifyPermissionError",
    "NoFileHandlesError",
    "UnsupportedEventError",
]


class FanotifyError(OSError):
    """A fanotify syscall failed; ``hint`` says what would work."""

    def __init__(
        self, err: int, message: str, filename: str | bytes | None = None, *, hint: str = ""
    ) -> None:
        super().__init__(err, message, filename)
        self.hint = hint

    def __str__(self) -> str:
        name = self.filename
        where = f": {os.fsdecode(name)!r}" if name is not None else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"[Errno {self.errno}] {self.strerror}{where}{hint}"


class FanotifyPermissionError(FanotifyError, PermissionError):
    """EPERM: the process lacks the capability the call needs."""


class UnsupportedEventError(FanotifyError):
    """EINVAL: this mark (or this kernel) cannot report the events asked for."""


class NoFileHandlesError(FanotifyError):
    """The filesystem cannot encode file handles, or one handle cannot be decoded."""


class FanotifyParseError(ValueError):
    """The bytes read are not a sequence of ``fanotify_event_metadata`` records."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset
