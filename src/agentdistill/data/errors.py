"""The one error type of the data part: it names the file, line and field so bad data is fixed at its source."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad task data or an unknown set name; message reads `file:line: field: problem`."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        where = ""
        if self.file is not None:
            where = self.file + (f":{line}" if line is not None else "") + ": "
        if field is not None:
            where += f"field '{field}': "
        super().__init__(where + message)
