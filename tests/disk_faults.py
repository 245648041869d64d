"""A corpus folder on a full disk or a read-only file system, simulated in this process (the
tests run as root, whom chmod does not stop): OS calls that write under `root` fail as the
kernel would fail them. Reading is untouched."""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _Disk:
    def __init__(self, root: Path, monkeypatch, number: int) -> None:
        self.root = os.path.realpath(root)
        self.number = number
        self.real = {name: getattr(os, name) for name in ("open", "write", "fsync", "mkdir", "replace", "rename", "unlink", "ftruncate", "access")}
        self.real_open = builtins.open
        self.monkeypatch = monkeypatch

    def ours(self, path) -> bool:
        try:
            path = os.fsdecode(path)
        except TypeError:
            return False
        return os.path.realpath(os.path.abspath(path)).startswith(self.root)

    def fd_ours(self, fd) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(self.root)
        except (OSError, TypeError):
            return False

    def fail(self, path=None):
        raise OSError(self.number, os.strerror(self.number), None if path is None or isinstance(path, int) else os.fsdecode(path))


class ReadOnly(_Disk):
    """Every create, write-open, mkdir, rename and unlink under `root` fails with EROFS."""

    def __init__(self, root: Path, monkeypatch) -> None:
        super().__init__(root, monkeypatch, errno.EROFS)
        real = self.real

        def open_(path, flags, *args, **kwargs):
            if flags & _WRITE_FLAGS and self.ours(path):
                self.fail(path)
            return real["open"](path, flags, *args, **kwargs)

        def guarded(name):
            def call(path, *args, **kwargs):
                if self.ours(path):
                    self.fail(path)
                return real[name](path, *args, **kwargs)

            return call

        def file_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(flag in mode for flag in "wax+") and self.ours(file):
                self.fail(file)
            return self.real_open(file, mode, *args, **kwargs)

        def access(path, mode, *args, **kwargs):
            if mode & os.W_OK and self.ours(path):
                return False
            return real["access"](path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(os, "access", access)
        for name in ("mkdir", "replace", "rename", "unlink"):
            monkeypatch.setattr(os, name, guarded(name))
        monkeypatch.setattr(builtins, "open", file_open)
        monkeypatch.setattr(io, "open", file_open)


class FullDisk(_Disk):
    """Files and folders can still be made under `root` (a full disk has inodes left), but no
    byte can be written: os.write fails with ENOSPC, as does writing through a file object
    opened for writing (fsync of what holds no new bytes still succeeds)."""

    def __init__(self, root: Path, monkeypatch, number: int = errno.ENOSPC) -> None:
        super().__init__(root, monkeypatch, number)
        real = self.real

        def write(fd, data):
            if self.fd_ours(fd) and len(data):
                self.fail()
            return real["write"](fd, data)

        def file_open(file, mode="r", *args, **kwargs):
            handle = self.real_open(file, mode, *args, **kwargs)
            ours = self.fd_ours(file) if isinstance(file, int) else isinstance(file, (str, bytes, os.PathLike)) and self.ours(file)
            if ours and any(flag in mode for flag in "wax+"):
                return _FullHandle(handle, self)
            return handle

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(builtins, "open", file_open)
        monkeypatch.setattr(io, "open", file_open)


class _FullHandle:
    def __init__(self, handle, disk: FullDisk) -> None:
        self._handle = handle
        self._disk = disk

    def write(self, data):
        if len(data):
            self._disk.fail(self._handle.name)
        return 0

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()
        return False

    def __iter__(self):
        return iter(self._handle)


def files_under(root: Path) -> dict[str, int]:
    """Every file under `root` with its size (what a failed command must leave as it was)."""
    return {path.relative_to(root).as_posix(): path.stat().st_size for path in sorted(Path(root).rglob("*")) if path.is_file()}
