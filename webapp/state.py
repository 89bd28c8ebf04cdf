"""The state folder: what a dashboard keeps across a restart (SOCKETLAB_STATE_DIR, default `instance/`
in the project folder): the tokens it generated, the join code, the students' tokens.

The folder is made 0700 and every file 0600: it holds secrets. A file is replaced whole (written to
a temporary name beside it, flushed, then renamed over the old one), so a crash or a full disk
leaves the old file or the new one, never half of one. A file that is there but cannot be read or
is not what this module wrote stops the dashboard at start with a sentence naming the file: starting
afresh would silently hand out new tokens (the teacher's printed links would stop working) and
forget every student.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from .startup import StartupProblem

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT = PROJECT / "instance"


class StateDir:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # (two threads replacing one file: the later rename wins whole)

    def read(self, name: str, kind: type = dict) -> Any:
        """The JSON in `name`, or None when there is no such file; a StartupProblem when it is unreadable
        or not a JSON `kind`."""
        file = self.path / name
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._problem(file, getattr(exc, "strerror", None) or str(exc)) from None
        try:
            data = json.loads(text)
        except ValueError:
            raise self._problem(file, "it is not JSON") from None
        if not isinstance(data, kind):
            raise self._problem(file, f"it holds a JSON {type(data).__name__}, not the {kind.__name__} expected")
        return data

    def write(self, name: str, data: Any) -> None:
        """Replace `name` with `data` as JSON, atomically, readable by this user only."""
        with self._lock:
            self._make()
            fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.path)  # (mkstemp makes it 0600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, ensure_ascii=False, indent=1)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path / name)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
            try:  # the rename itself reaches the disk with the folder's entry
                folder = os.open(self.path, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(folder)
            except OSError:
                pass
            finally:
                os.close(folder)

    def _make(self) -> None:
        if self.path.is_dir():
            return
        try:
            self.path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        os.chmod(self.path, 0o700)  # (mkdir's mode goes through the umask; this folder holds secrets)

    def _problem(self, file: Path, why: str) -> StartupProblem:
        return StartupProblem(f"the state file {file} cannot be read ({why}). Fix it, or delete it to start "
                              f"afresh (a deleted tokens.json means new tokens, a deleted students.json means "
                              f"every student joins again); SOCKETLAB_STATE_DIR chooses another folder.")


__all__ = ["DEFAULT", "StateDir"]
