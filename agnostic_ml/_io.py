"""Atomic file outputs: a file the library writes is either the old one or the complete new one.

Every file agnostic-ml writes (``agnostic-ml mine -o``, evaluate's JSON, the torch
adapter's checkpoints, logs and plots) goes through :func:`atomic_write`:

1. the data is written to a temporary file *in the target's folder* (same file system,
   so the final rename is atomic). On Linux it is an unnamed ``O_TMPFILE`` file, which
   the kernel removes by itself if the process dies: a kill leaves nothing behind.
   Elsewhere (or where the file system refuses ``O_TMPFILE``) it is a hidden
   ``.<name>.<random>.tmp`` file, removed on any Python-level failure;
2. the data is flushed and ``fsync``-ed;
3. the file is renamed over the target (``os.replace``), and the folder is ``fsync``-ed
   so that the rename itself survives a crash.

If anything fails before step 3 (a full disk, a file-size limit, an exception in the
caller's writer, Ctrl-C, a kill), the target is untouched: an earlier good file of the
same name survives and no half-written file ever carries the final name. (After a
``SIGKILL`` in the fallback mode, a hidden ``.tmp`` file can remain; the unnamed
``O_TMPFILE`` mode has no such leftover.)

:func:`check_writable` checks a target *before* the expensive work that produces its
content, so that a typo in an output folder fails in a second, not after mining.

Examples
--------
>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_write(folder / "metrics.json", "w") as f:
...     json.dump({"precision_at_1": 0.5}, f)
>>> (folder / "metrics.json").read_text()
'{"precision_at_1": 0.5}'
>>> try:
...     with atomic_write(folder / "metrics.json", "w") as f:
...         _ = f.write("{half a")
...         raise RuntimeError("the writer failed")
... except RuntimeError:
...     pass
>>> (folder / "metrics.json").read_text()  # the earlier good file is intact
'{"precision_at_1": 0.5}'
>>> sorted(p.name for p in folder.iterdir())  # and no temporary file is left
['metrics.json']
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_with",
    "atomic_save_npz",
    "check_writable",
]

PathLike = str | os.PathLike

_MODES = {"wb": "wb", "w": "w", "wt": "w"}
# O_TMPFILE needs a file system that supports it and /proc to give the file a name later.
_TMPFILE_OK = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
_TMPFILE_REFUSED = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS, errno.ENOTSUP}


def _target(path: PathLike) -> Path:
    """The file to replace: ``path`` with symlinks resolved (writing through a link updates
    the file it points to, as ``open(path, "w")`` does)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    p = Path(os.fspath(path)).expanduser()
    if str(p) == "" or p.name in ("", ".", ".."):
        raise IsADirectoryError(f"{str(path)!r} names a folder, not a file")
    return Path(os.path.realpath(p))


def check_writable(path: PathLike, *, what: str = "output") -> Path:
    """Check that ``path`` can be written atomically, before any work is done; return it resolved.

    Raises an ``OSError`` subclass with a one-line message naming ``what`` and the path:
    ``FileNotFoundError`` (the folder does not exist), ``NotADirectoryError`` (a parent is
    a file), ``IsADirectoryError`` (``path`` is a folder), ``PermissionError`` or the
    operating system's error (a file cannot be created in the folder: read-only,
    permissions, quota). It probes by creating (and removing) a temporary file in the
    folder, so the answer is the file system's, not a guess from permission bits.

    >>> import tempfile
    >>> check_writable(tempfile.gettempdir() + "/no/such/folder/out.npz", what="-o")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: -o: folder '.../no/such/folder' does not exist
    """
    target = _target(path)
    folder = target.parent
    if target.is_dir():
        raise IsADirectoryError(f"{what}: {str(path)!r} is a folder; give a file name")
    if not folder.exists():
        raise FileNotFoundError(f"{what}: folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{what}: {str(folder)!r} is not a folder")
    try:
        fd, tmp = _open_temp(folder, target.name)
    except OSError as exc:
        raise type(exc)(f"{what}: cannot create a file in folder {str(folder)!r} ({exc.strerror or exc})") from None
    os.close(fd)
    if tmp is not None:
        _unlink_quietly(tmp)
    return target


def _open_temp(folder: Path, name: str) -> tuple[int, Path | None]:
    """A new file in ``folder`` open for writing: ``(fd, None)`` for an unnamed O_TMPFILE
    file, ``(fd, path)`` for a hidden named one."""
    if _tmpfile_works(folder):
        try:
            return os.open(folder, os.O_TMPFILE | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o666), None
        except OSError as exc:
            if exc.errno not in _TMPFILE_REFUSED:
                raise
    return _open_named(folder, name)


def _open_named(folder: Path, name: str) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {str(folder / name)!r}")


# st_dev -> whether an O_TMPFILE file can be created *and later linked* there. Some file
# systems and sandboxes (e.g. gVisor) create O_TMPFILE files but refuse the link (EXDEV),
# which would lose the data at the end; this is a capability of the file system, probed
# once per device, and it never changes what is written.
_TMPFILE_BY_DEV: dict[int, bool] = {}


def _tmpfile_works(folder: Path) -> bool:
    """Whether ``folder``'s file system supports unnamed temporary files that can be linked."""
    if not _TMPFILE_OK:
        return False
    try:
        dev = os.stat(folder).st_dev
    except OSError:
        return False
    known = _TMPFILE_BY_DEV.get(dev)
    if known is not None:
        return known
    ok = False
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            tmp = _link_name(fd, folder, "probe")
        except OSError:
            pass
        else:
            _unlink_quietly(tmp)
            ok = True
        finally:
            os.close(fd)
        _TMPFILE_BY_DEV[dev] = ok  # only cache an answer the file system gave
    return ok


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # folders cannot be opened for fsync on Windows
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(fd)


def _link_name(fd: int, folder: Path, name: str) -> Path:
    """Give the unnamed O_TMPFILE file ``fd`` a hidden name in ``folder``."""
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            os.link(f"/proc/self/fd/{fd}", tmp, follow_symlinks=True)
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not name a temporary file beside {str(folder / name)!r}")


@contextlib.contextmanager
def atomic_write(
    path: PathLike,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
    durable: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit, make it ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its folder must exist (see :func:`check_writable`). If ``path``
        already exists, its permission bits are kept; otherwise they follow the umask.
    mode : {"wb", "w"}
        Binary (the default) or text.
    encoding, newline
        For text mode, as in :func:`open` (``encoding`` defaults to UTF-8).
    durable : bool, default True
        ``fsync`` the file and its folder, so that the new content survives a power loss.
        ``False`` keeps atomicity against process failures and is faster for scratch files.

    Yields
    ------
    file object
        Write to it; do not close it. If the ``with`` body raises (or the process dies),
        ``path`` is left as it was and the temporary file is removed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.txt"
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("epoch 1: loss 0.25\\n")
    >>> p.read_text()
    'epoch 1: loss 0.25\\n'
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'wb' (binary) or 'w' (text), got {mode!r}")
    binary = _MODES[mode] == "wb"
    if binary and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline apply to text mode (mode='w') only")
    target = _target(path)
    folder, name = target.parent, target.name
    if target.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name")
    try:
        keep_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        keep_mode = None
    fd, tmp = _open_temp(folder, name)
    committed = False
    try:
        if keep_mode is not None and hasattr(os, "fchmod"):
            with contextlib.suppress(OSError):
                os.fchmod(fd, keep_mode)
        f = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding or "utf-8", "newline": newline}))
        fd = -1  # owned by f now
        with f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
            if tmp is None:
                tmp = _link_name(f.fileno(), folder, name)
        os.replace(tmp, target)
        committed = True
        if durable:
            _fsync_folder(folder)
    finally:
        if fd >= 0:
            os.close(fd)
        if not committed and tmp is not None:
            _unlink_quietly(tmp)


def atomic_write_with(path: PathLike, writer: Callable[[IO[bytes]], Any], *, durable: bool = True) -> Path:
    """Call ``writer(file)`` on a binary temporary file, then move it to ``path`` atomically.

    For libraries that write to a file object: ``torch.save(obj, f)``,
    ``figure.savefig(f, format="png")``, ``numpy.save(f, array)``. Returns the resolved path.

    >>> import numpy as np, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> _ = atomic_write_with(p, lambda f: np.save(f, np.arange(3)))
    >>> np.load(p).tolist()
    [0, 1, 2]
    """
    with atomic_write(path, "wb", durable=durable) as f:
        writer(f)
    return _target(path)


def atomic_write_bytes(path: PathLike, data: bytes | bytearray | memoryview, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; return the resolved path."""
    return atomic_write_with(path, lambda f: f.write(data), durable=durable)


def atomic_write_text(
    path: PathLike, text: str, *, encoding: str = "utf-8", newline: str | None = None, durable: bool = True
) -> Path:
    """Write ``text`` to ``path`` atomically; return the resolved path.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_text(p, "hello").read_text()
    'hello'
    """
    with atomic_write(path, "w", encoding=encoding, newline=newline, durable=durable) as f:
        f.write(text)
    return _target(path)


def atomic_save_npz(path: PathLike, arrays: Mapping[str, Any], *, compressed: bool = False, durable: bool = True) -> Path:
    """``numpy.savez(path, **arrays)`` (or ``savez_compressed``), atomically, to exactly ``path``.

    Unlike ``numpy.savez`` on a file name, no ``.npz`` suffix is appended: the caller
    chooses the name.

    >>> import numpy as np, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.npz"
    >>> _ = atomic_save_npz(p, {"a": np.arange(2)})
    >>> np.load(p)["a"].tolist()
    [0, 1]
    """
    import numpy as np

    save = np.savez_compressed if compressed else np.savez
    return atomic_write_with(path, lambda f: save(f, **dict(arrays)), durable=durable)
