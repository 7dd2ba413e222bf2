"""Shared benchmark machinery: one fresh child process per case, timing, peak memory, JSON, tables.

The method is the one used for PML's baseline (``/work/shared/reference/pml-perf-baseline.md``),
so that our figures and PML's can be compared:

* **Every case runs in a fresh child process.** The benchmark script re-invokes itself with
  ``--worker SPEC``; the parent sets ``RLIMIT_AS`` (address-space cap, default 16 GiB) in the
  child before ``exec``. An allocation failure in the child is reported as ``OOM`` together with
  the size that failed (when the library says it) and the resident-set peak reached so far.
* **Time**: ``time.perf_counter()`` around one call (plus a device synchronisation for GPU cases);
  one warm-up call, then the median of adaptive repeats: enough to fill ``target_s`` (1.5 s),
  at least 3 and at most 15; warm-up > 5 s: 3 repeats; warm-up > 25 s: the warm-up is one of the
  3 samples (marked ``3w``); warm-up > ``single_shot_s`` (if set): the warm-up is the only sample
  (marked ``1w``; not in the PML baseline, used so that 200k-query cases fit in a run).
  The random state (``random``, NumPy's global one, torch, CuPy) is re-seeded before every call.
* **Memory**: after the inputs are built and BLAS/OpenMP are initialised with a tiny 64 x 64
  product, the child resets its peak RSS (``echo 5 > /proc/self/clear_refs``); after the calls it
  reads ``VmHWM`` from ``/proc/self/status``. *peak RSS* is that value (interpreter and libraries
  included); *delta RSS* = peak - resident set at the reset, i.e. the working memory of the
  operation. The parent also stores the child's lifetime ``ru_maxrss`` (``os.wait4``). For
  NumPy-only cases the ``tracemalloc`` peak of one extra untimed call can be added. GPU cases
  report the allocator's peak (torch ``max_memory_allocated``, CuPy pool high-water mark).
* **Other load**: the number of cores that *other* processes used while a case ran
  (machine busy time from ``/proc/stat`` minus the child's CPU time, over its wall time) is stored
  with every row; ``--quiet-wait S`` waits up to S seconds for a quiet machine before each case.

A benchmark script provides ``build(spec) -> Prepared`` (run in the child) and uses
:func:`run_case` in the parent. Nothing here imports torch, faiss or the library under test.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import platform
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import metadata
from typing import Any, Callable, Iterable, Sequence

MiB = 1 << 20
GiB = 1 << 30
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_repo_to_path() -> None:
    """Make ``import agnostic_ml`` work from a source checkout."""
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)


# --------------------------------------------------------------------------------------------
# What a case is
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Prepared:
    """A case, ready to time (built inside the child process).

    call : the timed callable (no arguments); its return value is passed to ``describe``.
    describe : optional, called once on the warm-up output, untimed and outside the memory
        window; returns a JSON-able dict stored as ``info`` (tuple counts, metrics, recall...).
    sync : optional, called after every call inside the timed region (GPU synchronisation).
    tracemalloc : measure the tracemalloc peak of one extra untimed call (NumPy-only cases).
    gpu_reset / gpu_peak : optional GPU allocator peak tracking (bytes).
    info : static information about the case (versions, thread counts, sizes).
    """

    call: Callable[[], Any]
    describe: Callable[[Any], dict] | None = None
    sync: Callable[[], None] | None = None
    tracemalloc: bool = False
    gpu_reset: Callable[[], None] | None = None
    gpu_peak: Callable[[], int] | None = None
    info: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Timing:
    target_s: float = 1.5
    min_reps: int = 3
    max_reps: int = 15
    long_s: float = 5.0
    very_long_s: float = 25.0
    single_shot_s: float | None = None
    clock: str = "wall"  # "wall" (perf_counter) or "cpu" (process_time: all threads of the child)

    def plan(self, warm_s: float) -> tuple[int, bool, str]:
        """Return (number of extra calls, whether the warm-up counts as a sample, label)."""
        if self.single_shot_s is not None and warm_s > self.single_shot_s:
            return 0, True, "1w"
        if warm_s > self.very_long_s:
            return 2, True, "3w"
        if warm_s > self.long_s:
            return 3, False, "3"
        n = int(math.ceil(self.target_s / max(warm_s, 1e-9)))
        n = max(self.min_reps, min(self.max_reps, n))
        return n, False, str(n)


QUICK_TIMING = Timing(target_s=0.5, min_reps=3, max_reps=5, single_shot_s=20.0)
FULL_TIMING = Timing(single_shot_s=120.0)
LIMIT_TIMING = Timing(target_s=1.0, min_reps=20, max_reps=50)


# --------------------------------------------------------------------------------------------
# Child side
# --------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def reseed(seed: int = 0) -> None:
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "cupy" in sys.modules:
        try:
            sys.modules["cupy"].random.seed(seed)
        except Exception:  # noqa: BLE001 - no GPU visible
            pass


def _warm_blas() -> None:
    import numpy as np

    a = np.ones((64, 64), dtype=np.float32)
    (a @ a).sum()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        t = torch.ones((64, 64), dtype=torch.float32)
        (t @ t).sum()


_OOM_PATTERNS = (
    "can't allocate memory",
    "out of memory",
    "unable to allocate",
    "cannot allocate memory",
    "bad_alloc",
    "std::bad_alloc",
    "failed to allocate",
    "memoryerror",
)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    msg = (type(exc).__name__ + ": " + str(exc)).lower()
    return any(p in msg for p in _OOM_PATTERNS)


def _requested_bytes(msg: str) -> int | None:
    m = re.search(r"allocate (\d+) bytes", msg)
    if m:
        return int(m.group(1))
    m = re.search(r"([\d.]+)\s*(KiB|MiB|GiB|TiB)", msg)
    if m:
        scale = {"KiB": 1 << 10, "MiB": MiB, "GiB": GiB, "TiB": 1 << 40}[m.group(2)]
        return int(float(m.group(1)) * scale)
    return None


def worker_main(build: Callable[[dict], Prepared], argv: Sequence[str]) -> int:
    """Entry point of the child: ``script.py --worker SPEC_JSON --result-file PATH``."""
    p = argparse.ArgumentParser()
    p.add_argument("--worker", required=True)
    p.add_argument("--result-file", required=True)
    a, _ = p.parse_known_args(argv)
    spec = json.loads(a.worker)
    timing = Timing(**spec.get("timing", {}))
    res: dict[str, Any] = {"status": "ok", "spec": spec}
    rss0 = None
    stage = "setup"
    try:
        prepared = build(spec)
        res["info"] = dict(prepared.info)
        _warm_blas()
        gc.collect()
        rss0 = _status_kib("VmRSS")
        res["clear_refs"] = _reset_peak_rss()
        if prepared.gpu_reset:
            prepared.gpu_reset()
        sync = prepared.sync or (lambda: None)

        stage = "warm-up"
        reseed(spec.get("seed", 0))
        c0, t0 = time.process_time(), time.perf_counter()
        out = prepared.call()
        sync()
        warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
        hwm_warm = _status_kib("VmHWM")
        gpu_peak = prepared.gpu_peak() if prepared.gpu_peak else None
        if prepared.describe is not None:
            try:  # a failing sanity check must not lose the timing
                res["info"].update(prepared.describe(out))
            except Exception as exc:  # noqa: BLE001
                res["info"]["describe_error"] = f"{type(exc).__name__}: {exc}"[:500]
        del out
        gc.collect()
        _reset_peak_rss()
        if prepared.gpu_reset:
            prepared.gpu_reset()

        stage = "timed calls"
        extra, warm_counts, label = timing.plan(warm)
        samples = [warm] if warm_counts else []
        cpu_samples = [warm_cpu] if warm_counts else []
        for _ in range(extra):
            reseed(spec.get("seed", 0))
            c0, t0 = time.process_time(), time.perf_counter()
            out = prepared.call()
            sync()
            samples.append(time.perf_counter() - t0)
            cpu_samples.append(time.process_time() - c0)
            del out
        hwm = _status_kib("VmHWM")
        if prepared.gpu_peak:
            gpu_peak = max(gpu_peak or 0, prepared.gpu_peak())
        chosen = cpu_samples if timing.clock == "cpu" else samples
        res.update(
            median_s=statistics.median(chosen),
            min_s=min(chosen),
            clock=timing.clock,
            wall_median_s=statistics.median(samples),
            cpu_median_s=statistics.median(cpu_samples),
            warmup_s=warm,
            reps=label,
            samples_s=samples,
            cpu_samples_s=cpu_samples,
        )
        if hwm is not None and hwm_warm is not None and rss0 is not None:
            peak = max(hwm, hwm_warm)
            res.update(peak_rss=peak * 1024, delta_rss=(peak - rss0) * 1024)
        if gpu_peak is not None:
            res["gpu_peak"] = int(gpu_peak)
        if prepared.tracemalloc and warm < 5.0:
            stage = "tracemalloc"
            import tracemalloc

            tracemalloc.start()
            out = prepared.call()
            res["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del out
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        msg = f"{type(exc).__name__}: {exc}"
        hwm = _status_kib("VmHWM")
        res.update(status="OOM" if _is_oom(exc) else "ERROR", stage=stage, message=msg[:2000])
        if res["status"] == "OOM":
            req = _requested_bytes(msg)
            if req:
                res["requested"] = req
        else:
            res["traceback"] = traceback.format_exc()[-4000:]
        if hwm is not None:
            res["peak_rss"] = hwm * 1024
    with open(a.result_file, "w") as f:
        json.dump(res, f)
    return 0


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _proc_stat_busy() -> tuple[float, float]:
    """Return (busy seconds, total seconds) summed over all CPUs."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(vals[:8]) - idle) / tick, sum(vals[:8]) / tick


def machine_load(window_s: float = 1.0) -> float:
    """Cores in use on the machine, averaged over ``window_s``."""
    b0, _ = _proc_stat_busy()
    time.sleep(window_s)
    b1, _ = _proc_stat_busy()
    return (b1 - b0) / window_s


def wait_for_quiet(max_wait_s: float, threshold: float = 0.3) -> tuple[float, float]:
    """Wait (at most ``max_wait_s``) until other processes use < ``threshold`` cores."""
    t0 = time.monotonic()
    load = machine_load(0.5)
    while load >= threshold and time.monotonic() - t0 < max_wait_s:
        load = machine_load(1.0)
    return time.monotonic() - t0, load


def _set_limits(mem_limit: int | None) -> Callable[[], None]:
    def pre() -> None:
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    return pre


def run_case(
    script: str,
    spec: dict,
    *,
    timeout: float,
    mem_limit: int | None,
    quiet_wait: float = 0.0,
    env: dict | None = None,
) -> dict:
    """Run one case in a fresh child of ``script`` and return its result dict."""
    waited = 0.0
    if quiet_wait > 0:
        waited, _ = wait_for_quiet(quiet_wait)
    with tempfile.TemporaryDirectory(prefix="aml-bench-") as tmp:
        res_path = os.path.join(tmp, "result.json")
        err_path = os.path.join(tmp, "stderr.txt")
        cmd = [sys.executable, script, "--worker", json.dumps(spec), "--result-file", res_path]
        busy0, _ = _proc_stat_busy()
        t0 = time.monotonic()
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                cmd,
                stdout=err,
                stderr=subprocess.STDOUT,
                preexec_fn=_set_limits(mem_limit),
                env=env,
                cwd=REPO_ROOT,
            )
            timed_out = False
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() - t0 > timeout:
                    timed_out = True
                    proc.kill()  # only the child we started
                    pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        busy1, _ = _proc_stat_busy()
        child_cpu = ru.ru_utime + ru.ru_stime
        res: dict[str, Any]
        if timed_out:
            res = {"status": "TIMEOUT", "message": f"killed after {timeout:.0f} s", "spec": spec}
        elif os.path.exists(res_path):
            with open(res_path) as f:
                res = json.load(f)
        else:
            code = proc.returncode
            why = f"exit code {code}"
            if code < 0:
                sig = -code
                why = f"killed by {signal.Signals(sig).name}"
                if sig == signal.SIGKILL:
                    why += " (likely the kernel OOM killer)"
            with open(err_path, "rb") as f:
                tail = f.read()[-1500:].decode("utf-8", "replace")
            is_oom = any(p in tail.lower() for p in _OOM_PATTERNS) or code == -signal.SIGKILL
            res = {"status": "OOM" if is_oom else "CRASH", "message": why, "stderr": tail, "spec": spec}
        res["lifetime_maxrss"] = ru.ru_maxrss * 1024
        res["wall_s"] = wall
        res["other_cores"] = max(0.0, (busy1 - busy0 - child_cpu) / max(wall, 1e-9))
        if waited:
            res["quiet_wait_s"] = waited
        if res.get("status") == "ERROR":
            with open(err_path, "rb") as f:
                res.setdefault("stderr", f.read()[-1500:].decode("utf-8", "replace"))
        return res


def skipped(spec: dict, why: str, status: str = "SKIP") -> dict:
    return {"status": status, "message": why, "spec": spec, "skipped": True}


# --------------------------------------------------------------------------------------------
# Options, machine description, output
# --------------------------------------------------------------------------------------------


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    p.add_argument("--json", metavar="PATH", help="write all results (and the machine) to PATH")
    p.add_argument("--timeout", type=float, default=None, help="seconds per case (child is killed)")
    p.add_argument(
        "--mem-limit-gb",
        type=float,
        default=16.0,
        help="RLIMIT_AS of each child in GiB (default 16, as in PML's baseline; 0 = none)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each case, wait up to this many seconds for other load < 0.3 cores",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set OMP/MKL/OpenBLAS thread counts of every child (torch, faiss, BLAS); default: library defaults",
    )
    p.add_argument(
        "--torch-thp",
        action="store_true",
        help="set THP_MEM_ALLOC_ENABLE=1 in the children (torch then uses transparent huge pages for "
        "large tensors, as NumPy does; applies to ours-on-torch and PML alike)",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what the tables report: wall time (default, as PML's baseline) or the child's CPU time "
        "(process_time, all its threads; less sensitive to other load, use with --threads 1)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="print each case as it finishes")


def child_env(threads: int | None, torch_thp: bool = False) -> dict | None:
    """Environment of the children: the parent's, with thread counts pinned if asked.

    ``torch_thp`` sets ``THP_MEM_ALLOC_ENABLE=1``: torch's CPU allocator then asks for
    transparent huge pages (``madvise``) for large blocks, as NumPy does by default. Without
    it, on kernels where THP is in ``madvise`` mode, every fresh large torch tensor is
    faulted in 4 KiB pages: measured 3-4x slower than NumPy for writing a fresh 58 MB int64
    array (torch 2.13), which dominates miners that return millions of triplets.
    """
    if not threads and not torch_thp:
        return None
    env = dict(os.environ)
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[var] = str(threads)
    if torch_thp:
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    return env


def csv_list(s: str | None) -> list[str] | None:
    if s is None:
        return None
    return [x.strip() for x in s.split(",") if x.strip()]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_total = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_total = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total": mem_total,
        "loadavg": os.getloadavg(),
        "versions": {
            d: _version(d)
            for d in (
                "numpy",
                "torch",
                "pytorch-metric-learning",
                "faiss-cpu",
                "faiss-gpu",
                "cupy-cuda12x",
                "cupy-cuda11x",
                "array-api-compat",
                "scikit-learn",
            )
        },
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ},
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_json(path: str, payload: dict) -> None:
    with open(path, "w") as f:
        json.dump(payload, f, indent=1, default=str)


def fmt_num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "-"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    dec = max(0, digits - 1 - mag)
    s = f"{x:.{dec}f}"
    return s


def fmt_ms(res: dict | None) -> str:
    if res is None:
        return "-"
    if res.get("status") != "ok":
        return status_cell(res)
    return fmt_num(res["median_s"] * 1e3)


def fmt_mib(nbytes: float | None) -> str:
    if nbytes is None:
        return "-"
    return fmt_num(nbytes / MiB, 2)


def fmt_ratio(a: dict | None, b: dict | None) -> str:
    r = ratio(a, b)
    return "-" if r is None else fmt_num(r, 2) + "x"


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or a.get("status") != "ok" or b.get("status") != "ok":
        return None
    return a["median_s"] / b["median_s"]


def status_cell(res: dict) -> str:
    st = res.get("status", "?")
    if st == "SKIP" and res.get("predicted_oom"):
        return "OOM (pred.)"
    return st


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]], note: str | None = None) -> str:
    """Print (and return) a Markdown table."""
    rows = [list(map(str, r)) for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    lines = [f"\n#### {title}\n"]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    if note:
        lines.append("\n" + note)
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def progress(res: dict, label: str, verbose: bool) -> None:
    if not verbose:
        print(".", end="", flush=True)
        return
    st = res.get("status")
    if st == "ok":
        extra = f"{fmt_num(res['median_s'] * 1e3)} ms ({res['reps']}), delta RSS {fmt_mib(res.get('delta_rss'))} MiB"
    else:
        extra = f"{st}: {res.get('message', '')[:200]}"
    oc = res.get("other_cores")
    oc_s = f", other cores {oc:.2f}" if oc is not None else ""
    print(f"  {label}: {extra}{oc_s}", flush=True)


def goal_line(passed: bool | None, text: str) -> str:
    tag = {True: "PASS", False: "MISS", None: "N/A "}[passed]
    line = f"{tag}  {text}"
    print(line, flush=True)
    return line


def report_header(args: argparse.Namespace, title: str) -> dict:
    """Print the run's header (clock, threads, machine, versions) and return the machine dict.

    Shared by every benchmark script so their outputs start the same way.
    """
    machine = machine_info()
    machine["threads_option"] = args.threads
    machine["clock"] = args.clock
    machine["torch_thp"] = args.torch_thp
    print(f"clock: {args.clock} time{' (child CPU time, all threads)' if args.clock == 'cpu' else ''}; threads: {args.threads or 'library defaults'}")
    if args.clock == "cpu" and args.threads != 1:
        print("warning: --clock cpu sums the CPU time of all threads; use --threads 1 to compare with wall-clock figures")
    print(f"# agnostic-ml {title} benchmark ({'quick' if args.quick else 'full'})")
    print(f"machine: {machine['cpu']}, {machine['affinity']} usable cores, loadavg {machine['loadavg']}")
    print(f"versions: {machine['versions']}")
    return machine
