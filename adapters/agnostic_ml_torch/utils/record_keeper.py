"""A small record keeper: rows of numbers per group, saved as CSV (and sent to TensorBoard).

PML's logging presets need the ``record-keeper`` package (CSV, SQLite and TensorBoard).
This module is the part the hooks use, with no extra dependency:

* a *group* (``"loss_histories"``, ``"accuracies_..._VAL_vs_self"``) is a list of rows, each a
  ``{column: number}`` dict with a *step* column (``"iteration"`` or ``"epoch"``);
* rows stay ordered by step: a row with the step of the last row is merged into it, and a
  row with an *earlier* step first drops the rows from that step on (a run restarted or
  resumed from epoch ``e`` rewrites the history after ``e`` instead of duplicating it);
* :meth:`RecordKeeper.save_records` writes each changed group to ``<folder>/<group>.csv``,
  atomically (a failed write leaves the previous CSV whole);
* the CSV files already in the folder are read back at construction, so a resumed run
  continues its history (and the best-epoch bookkeeping that depends on it);
* with a ``tensorboard_writer`` every value also goes to ``add_scalar("<group>/<column>",
  value, step)``.

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> rk = RecordKeeper(folder)
>>> rk.add_row("loss_histories", {"iteration": 0, "metric_loss": 0.5})
>>> rk.add_row("loss_histories", {"iteration": 50, "metric_loss": 0.25})
>>> rk.save_records()
>>> print(open(folder + "/loss_histories.csv").read().strip())
iteration,metric_loss
0,0.5
50,0.25
>>> RecordKeeper(folder).get_column("loss_histories", "metric_loss")
[0.5, 0.25]
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch

from agnostic_ml._io import atomic_write_text

from . import common_functions as c_f

__all__ = ["RecordKeeper", "CSVWriter", "scalar_or_none", "recordable_attributes"]

_STEP_COLUMNS = ("iteration", "epoch")


def scalar_or_none(v: Any) -> float | int | None:
    """``v`` as a Python number if it is one (bool, int, float, 0-d / 1-element tensor or array)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, torch.Tensor):
        if v.numel() != 1 or v.is_complex():
            return None
        return v.detach().reshape(()).item()
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "size", None) == 1:
        try:
            out = item()
        except (TypeError, ValueError):
            return None
        return out if isinstance(out, (int, float)) else None
    return None


def recordable_attributes(obj: Any, custom_attr_func: Callable[[Any], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The numbers worth recording about ``obj``.

    ``custom_attr_func(obj)`` when given; otherwise the statistics an object collects: the
    core's ``stats`` dict (``collect_stats=True``), PML's ``_record_these`` and
    ``_record_these_stats`` attribute lists, and the same for each submodule of an
    ``nn.Module`` (named ``<submodule>_<stat>``, e.g. ``reducer_num_past_filter``).
    """
    if custom_attr_func is not None:
        return {k: s for k, v in custom_attr_func(obj).items() if (s := scalar_or_none(v)) is not None}
    out: dict[str, Any] = {}

    def collect(o: Any, prefix: str) -> None:
        stats = o.__dict__.get("stats") if hasattr(o, "__dict__") else None
        if isinstance(stats, Mapping):
            for k, v in stats.items():
                if (s := scalar_or_none(v)) is not None:
                    out[prefix + k] = s
        for list_name in ("_record_these", "_record_these_stats"):
            for name in getattr(o, list_name, None) or ():
                if (s := scalar_or_none(getattr(o, name, None))) is not None:
                    out[prefix + name] = s

    collect(obj, "")
    if isinstance(obj, torch.nn.Module):
        for name, sub in obj.named_modules():
            if name:
                collect(sub, name.replace(".", "_") + "_")
    return out


def _safe_name(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", group)


def _parse(text: str) -> float | int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


class CSVWriter:
    """Writes and reads one CSV file per group in ``folder`` (each write atomic)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(os.fspath(folder))

    def path(self, group: str) -> Path:
        return self.folder / f"{_safe_name(group)}.csv"

    def write(self, group: str, rows: list[dict[str, Any]]) -> Path:
        columns: list[str] = []
        for row in rows:
            for k in row:
                if k not in columns:
                    columns.append(k)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if row.get(c) is None else repr(row[c]) if isinstance(row[c], float) else row[c] for c in columns])
        self.folder.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(self.path(group), buf.getvalue())

    def read_all(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        if not self.folder.is_dir():
            return out
        for p in sorted(self.folder.glob("*.csv")):
            try:
                with open(p, newline="", encoding="utf-8") as f:
                    reader = csv.DictReader(f)
                    rows = [{k: v for k, v in ((k, _parse(t)) for k, t in r.items() if k is not None) if v is not None} for r in reader]
            except (ValueError, csv.Error, UnicodeDecodeError) as exc:
                c_f.LOGGER.warning("ignoring unreadable record file %s (%s)", p, exc)
                continue
            out[p.stem] = rows
        return out


class RecordKeeper:
    """Rows of numbers per group, saved to CSV and optionally TensorBoard (see the module docstring).

    Parameters
    ----------
    csv_folder : str or path
        Where ``<group>.csv`` files go (created when needed).
    tensorboard_writer : optional
        Anything with ``add_scalar(tag, value, step)`` (``torch.utils.tensorboard.SummaryWriter``).
    load_existing : bool, default True
        Read the CSV files already in ``csv_folder``.
    """

    def __init__(self, csv_folder: str | os.PathLike, tensorboard_writer: Any = None, load_existing: bool = True) -> None:
        self.csv_writer = CSVWriter(csv_folder)
        self.tensorboard_writer = tensorboard_writer
        self.records: dict[str, list[dict[str, Any]]] = self.csv_writer.read_all() if load_existing else {}
        self._dirty: set[str] = set()
        self.hash_map: dict[str, str] = {}  # PML's record-keeper maps long group names; ours are used as they are

    @property
    def folder(self) -> Path:
        return self.csv_writer.folder

    # -- writing -------------------------------------------------------------------------------
    def add_row(self, group: str, row: Mapping[str, Any], step: str | None = None) -> None:
        """Add ``row`` (numbers; non-numbers are dropped) to ``group``; ``step`` names its step
        column (default: ``"iteration"`` or ``"epoch"``, whichever the row has)."""
        clean = {str(k): s for k, v in row.items() if (s := scalar_or_none(v)) is not None}
        step = step or next((c for c in _STEP_COLUMNS if c in clean), None)
        if step is None or step not in clean:
            raise ValueError(f"a row of {group!r} needs a step column ({step or ' or '.join(_STEP_COLUMNS)}), got {sorted(clean)}")
        rows = self.records.setdefault(group, [])
        s = clean[step]
        if rows and step in rows[-1]:
            last = rows[-1][step]
            if s == last:
                rows[-1].update(clean)
                self._emit(group, clean, step)
                self._dirty.add(group)
                return
            if s < last:
                rows[:] = [r for r in rows if r.get(step, -math.inf) < s]
        rows.append(dict(clean))
        self._emit(group, clean, step)
        self._dirty.add(group)

    def _emit(self, group: str, row: Mapping[str, Any], step: str) -> None:
        if self.tensorboard_writer is None:
            return
        for k, v in row.items():
            if k != step and not (isinstance(v, float) and math.isnan(v)):
                self.tensorboard_writer.add_scalar(f"{group}/{k}", v, row[step])

    def update_records(
        self,
        record: Mapping[str, Any],
        global_iteration: int,
        custom_attr_func: Callable[[Any], Mapping[str, Any]] | None = None,
        input_group_name_for_non_objects: str | None = None,
        recursive_types: Iterable[type] | None = None,
        parent_name: str | None = None,
    ) -> None:
        """PML record-keeper's call: numbers of ``record`` go to the group ``parent_name``; objects
        in ``record`` each get a group of their key with their :func:`recordable_attributes`.
        The step column is ``"iteration"`` = ``global_iteration``."""
        numbers = {k: v for k, v in record.items() if scalar_or_none(v) is not None}
        group = parent_name or input_group_name_for_non_objects
        if numbers and group:
            self.add_row(group, {"iteration": global_iteration, **numbers}, step="iteration")
        for k, v in record.items():
            if k in numbers:
                continue
            attrs = recordable_attributes(v, custom_attr_func)
            if attrs:
                name = f"{parent_name}_{k}" if parent_name else str(k)
                self.add_row(name, {"iteration": global_iteration, **attrs}, step="iteration")

    def save_records(self) -> None:
        """Write every changed group to its CSV file (atomically)."""
        for group in sorted(self._dirty):
            self.csv_writer.write(group, self.records.get(group, []))
        self._dirty.clear()
        flush = getattr(self.tensorboard_writer, "flush", None)
        if callable(flush):
            flush()

    def drop_rows_after(self, column: str, value: float) -> None:
        """Remove, from every group, the rows whose ``column`` is greater than ``value``."""
        for group, rows in self.records.items():
            kept = [r for r in rows if not (column in r and r[column] > value)]
            if len(kept) != len(rows):
                rows[:] = kept
                self._dirty.add(group)

    # -- reading -------------------------------------------------------------------------------
    def table_exists(self, group: str) -> bool:
        return bool(self.records.get(group))

    def get_records(self, group: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records.get(group, [])]

    def get_column(self, group: str, column: str) -> list[Any]:
        return [r.get(column) for r in self.records.get(group, [])]

    def columns(self, group: str) -> list[str]:
        cols: list[str] = []
        for r in self.records.get(group, []):
            for k in r:
                if k not in cols:
                    cols.append(k)
        return cols

    def close(self) -> None:
        self.save_records()
        close = getattr(self.tensorboard_writer, "close", None)
        if callable(close):
            close()
