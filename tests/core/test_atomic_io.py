"""Atomic outputs (``agnostic_ml._io``): a failed or killed write never damages the target.

Each fault test first writes a good file, then makes a second write of the same name fail
part way (an exception in the writer, a file-size limit set with ``RLIMIT_FSIZE`` in a
subprocess, a ``SIGKILL`` while the subprocess is writing) and checks that the good file
is intact and that no temporary file is left (after a ``SIGKILL``, a hidden ``.tmp`` can
remain only where the file system has no linkable ``O_TMPFILE``, and never under the
final name). Both temporary-file modes are tested: the unnamed ``O_TMPFILE`` file where
the file system supports it, and the hidden named file that is the fallback elsewhere.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agnostic_ml import _io
from helpers import sigkill_when_writing
from agnostic_ml._io import (
    atomic_save_npz,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_with,
    check_writable,
)

REPO = Path(__file__).resolve().parents[2]
GOOD = b"good file\n" * 100

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals and resource limits")


@pytest.fixture(params=["tmpfile", "named"])
def temp_mode(request, monkeypatch, tmp_path):
    """Run the test with the unnamed O_TMPFILE mode (skipped where unsupported) and with the named fallback."""
    if request.param == "named":
        monkeypatch.setattr(_io, "_TMPFILE_OK", False)
    elif not _io._tmpfile_works(tmp_path):
        pytest.skip("this file system cannot link O_TMPFILE files; the named fallback is tested instead")
    return request.param


def _tmpfile_supported(folder: Path) -> bool:
    return _io._tmpfile_works(folder)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- writes


def test_text_bytes_callback_and_npz(tmp_path, temp_mode):
    assert atomic_write_text(tmp_path / "a.txt", "héllo\n") == (tmp_path / "a.txt").resolve()
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    atomic_write_with(tmp_path / "c.npy", lambda f: np.save(f, np.arange(5)))
    assert np.load(tmp_path / "c.npy").tolist() == [0, 1, 2, 3, 4]
    atomic_save_npz(tmp_path / "t.npz", {"a": np.arange(3), "p": np.zeros(3, np.int64)})
    with np.load(tmp_path / "t.npz") as got:
        assert sorted(got.files) == ["a", "p"] and got["a"].tolist() == [0, 1, 2]
    atomic_save_npz(tmp_path / "no_suffix", {"a": np.arange(2)}, compressed=True)  # no .npz appended
    assert (tmp_path / "no_suffix").is_file()
    with atomic_write(tmp_path / "d.txt", "w", newline="\r\n") as f:
        f.write("x\n")
    assert (tmp_path / "d.txt").read_bytes() == b"x\r\n"
    assert _listing(tmp_path) == ["a.txt", "b.bin", "c.npy", "d.txt", "no_suffix", "t.npz"]


def test_replaces_an_existing_file_and_keeps_its_permissions(tmp_path, temp_mode):
    p = tmp_path / "out.txt"
    p.write_text("old")
    os.chmod(p, 0o640)
    atomic_write_text(p, "new")
    assert p.read_text() == "new"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640


def test_new_file_permissions_follow_the_umask(tmp_path, temp_mode):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "u.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "u.txt").st_mode) == 0o640


def test_writes_through_a_symlink_to_its_target(tmp_path, temp_mode):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'wb' .* or 'w'"):
        with atomic_write(tmp_path / "x", "a"):
            pass
    with pytest.raises(ValueError, match="text mode"):
        with atomic_write(tmp_path / "x", "wb", encoding="utf-8"):
            pass
    with pytest.raises(IsADirectoryError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "missing" / "x.txt", "x")
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------- check_writable


def test_check_writable(tmp_path):
    assert check_writable(tmp_path / "new.npz") == (tmp_path / "new.npz").resolve()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"^-o: folder '.*missing' does not exist$"):
        check_writable(tmp_path / "missing" / "out.npz", what="-o")
    with pytest.raises(NotADirectoryError, match=r"^-o: '.*file' is not a folder$"):
        check_writable(tmp_path / "file" / "out.npz", what="-o")
    with pytest.raises(IsADirectoryError, match=r"^--output: '.*' is a folder; give a file name$"):
        check_writable(tmp_path, what="--output")
    assert _listing(tmp_path) == ["file"]  # the probe leaves nothing


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only folders")
def test_check_writable_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        with pytest.raises(PermissionError, match=r"^-o: cannot create a file in folder '.*ro'"):
            check_writable(ro / "out.npz", what="-o")
    finally:
        os.chmod(ro, 0o755)


# --------------------------------------------------------------------------- faults


class WriterFailed(Exception):
    pass


def test_exception_in_the_writer_keeps_the_old_file(tmp_path, temp_mode):
    p = tmp_path / "out.bin"
    p.write_bytes(GOOD)

    def writer(f):
        f.write(b"half" * 1000)
        raise WriterFailed

    with pytest.raises(WriterFailed):
        atomic_write_with(p, writer)
    assert p.read_bytes() == GOOD
    assert _listing(tmp_path) == ["out.bin"]


def test_keyboard_interrupt_keeps_the_old_file(tmp_path, temp_mode):
    p = tmp_path / "out.txt"
    p.write_bytes(GOOD)
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(p, "w") as f:
            f.write("partial")
            raise KeyboardInterrupt
    assert p.read_bytes() == GOOD and _listing(tmp_path) == ["out.txt"]


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


_FORCE_NAMED = "import agnostic_ml._io as _io; _io._TMPFILE_OK = False\n"


@posix_only
def test_file_size_limit_mid_write_keeps_the_old_file(tmp_path, temp_mode):
    """RLIMIT_FSIZE makes the kernel refuse the write after 64 KiB of a 4 MiB output."""
    p = tmp_path / "big.npz"
    atomic_save_npz(p, {"good": np.arange(10)})
    before = p.read_bytes()
    code = (
        (_FORCE_NAMED if temp_mode == "named" else "")
        + "import resource, numpy as np, sys\n"
        "from agnostic_ml._io import atomic_save_npz\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "try:\n"
        f"    atomic_save_npz({str(p)!r}, {{'big': np.zeros(1 << 19)}})\n"
        "except OSError as exc:\n"
        "    print('refused:', exc.errno)\n"
        "    sys.exit(3)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert "refused: 27" in res.stdout  # EFBIG
    assert p.read_bytes() == before
    assert _listing(tmp_path) == ["big.npz"]


@posix_only
def test_sigkill_mid_write_keeps_the_old_file(tmp_path, temp_mode):
    p = tmp_path / "ckpt.bin"
    p.write_bytes(GOOD)
    code = (
        (_FORCE_NAMED if temp_mode == "named" else "")
        + "import sys, time\n"
        "from agnostic_ml._io import atomic_write_with\n"
        "def writer(f):\n"
        "    for i in range(10_000):\n"
        "        f.write(b'x' * 65536)\n"
        "        if i == 10:\n"
        "            f.flush(); print('writing', flush=True)\n"
        "        if i > 10:\n"
        "            time.sleep(0.01)\n"
        f"atomic_write_with({str(p)!r}, writer)\n"
        "print('finished', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env())
    sigkill_when_writing(proc)
    assert p.read_bytes() == GOOD
    left = [name for name in _listing(tmp_path) if name != "ckpt.bin"]
    if temp_mode == "tmpfile":
        assert left == []  # the kernel dropped the unnamed file with the process
    else:
        # the named fallback cannot clean up after SIGKILL: only its hidden temporary remains
        assert len(left) == 1 and left[0].startswith(".ckpt.bin.") and left[0].endswith(".tmp"), left


def test_tmpfile_mode_is_used_where_supported(tmp_path):
    """Where O_TMPFILE files can be linked, nothing named exists while writing."""
    if not _tmpfile_supported(tmp_path):
        pytest.skip("this file system cannot link O_TMPFILE files (the named fallback is used)")
    with atomic_write(tmp_path / "x.bin") as f:
        f.write(b"data")
        assert _listing(tmp_path) == []
    assert _listing(tmp_path) == ["x.bin"]
