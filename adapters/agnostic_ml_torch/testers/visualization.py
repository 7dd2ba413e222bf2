"""The testers' embedding-space picture: a 2-D projection per split, saved as a PNG.

A tester with a ``visualizer`` (anything with ``fit_transform``, as in PML) projects each
split's embeddings and calls ``visualizer_hook(visualizer, dim_reduced, labels, split_name,
keyname, epoch)``. PML has no default hook, so its projection is computed and dropped; here
the default hook is :class:`EmbeddingPlotWriter`, which draws the projection coloured by
label with matplotlib (Agg, no display needed, no ``pyplot`` global state) and writes
``<folder>/<split>_<keyname>.png`` atomically (the previous picture survives a failed write).

:class:`AutoVisualizer` (``visualizer="auto"``) picks the projection: UMAP when
``umap-learn`` is installed, otherwise scikit-learn's t-SNE up to ``tsne_max_points``
(2000) points, otherwise PCA; every choice is seeded. t-SNE is the costly part: about
6 s for 500 points on one busy CPU core with the 500 iterations used here, roughly
linear in the number of points beyond that, which is why the testers compute no
projection unless asked (``plot_folder=`` or ``visualizer=``).

Examples
--------
>>> import numpy as np, pathlib, tempfile
>>> x = np.random.default_rng(0).normal(size=(30, 5))
>>> viz = AutoVisualizer(method="pca")
>>> xy = viz.fit_transform(x)
>>> xy.shape, viz.last_method
((30, 2), 'PCA')
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = EmbeddingPlotWriter(folder)(viz, xy, np.arange(30) % 3, "val", "embeddings_level0", 1)
>>> path.name, path.read_bytes()[:4] == b"\\x89PNG"
('val_embeddings_level0.png', True)
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from agnostic_ml._io import atomic_write_with

__all__ = ["AutoVisualizer", "EmbeddingPlotWriter", "save_embedding_plot", "visualizer_name"]

_METHODS = ("auto", "umap", "tsne", "pca")


class AutoVisualizer:
    """Project embeddings to 2-D: UMAP if installed, else t-SNE (small sets) or PCA.

    Parameters
    ----------
    method : {"auto", "umap", "tsne", "pca"}
        ``"auto"``: UMAP when ``umap-learn`` imports, else t-SNE for at most
        ``tsne_max_points`` points (scikit-learn's t-SNE is slow beyond a few thousand),
        else PCA. ``"umap"`` raises ``ImportError`` without ``umap-learn``.
    random_state : int
        Seed of UMAP / t-SNE (PCA is deterministic).
    tsne_max_points : int
        Largest set ``"auto"`` gives to t-SNE.
    tsne_iterations : int
        t-SNE optimisation steps (scikit-learn's ``max_iter``, at least 250; its default is 1000).

    Notes
    -----
    ``last_method`` is the method the last call used (``"UMAP"``, ``"TSNE"``, ``"PCA"``, or
    ``"identity"`` for embeddings that already have at most two dimensions).
    """

    def __init__(
        self, method: str = "auto", random_state: int = 0, tsne_max_points: int = 2000, tsne_iterations: int = 500
    ) -> None:
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if int(tsne_iterations) < 250:
            raise ValueError(f"tsne_iterations must be at least 250 (scikit-learn's minimum), got {tsne_iterations!r}")
        self.method = method
        self.random_state = int(random_state)
        self.tsne_max_points = int(tsne_max_points)
        self.tsne_iterations = int(tsne_iterations)
        self.last_method: str | None = None

    def _choose(self, n: int) -> str:
        if self.method != "auto":
            return self.method
        if importlib.util.find_spec("umap") is not None:
            return "umap"
        return "tsne" if n <= self.tsne_max_points else "pca"

    def fit_transform(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {x.shape}")
        n, d = x.shape
        if d <= 2:
            self.last_method = "identity"
            return np.pad(x, ((0, 0), (0, 2 - d)))
        method = self._choose(n)
        if method == "tsne" and n < 5:  # t-SNE needs perplexity < n
            method = "pca"
        if method == "umap":
            try:
                import umap  # noqa: PLC0415
            except ImportError as exc:
                raise ImportError("visualizer method 'umap' needs umap-learn: pip install umap-learn") from exc
            self.last_method = "UMAP"
            return np.asarray(umap.UMAP(n_components=2, random_state=self.random_state).fit_transform(x))
        if method == "tsne":
            from sklearn.manifold import TSNE  # noqa: PLC0415

            self.last_method = "TSNE"
            perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
            kw = dict(n_components=2, perplexity=perplexity, init="pca", random_state=self.random_state)
            try:
                tsne = TSNE(max_iter=self.tsne_iterations, **kw)
            except TypeError:  # scikit-learn < 1.5 calls it n_iter
                tsne = TSNE(n_iter=self.tsne_iterations, **kw)
            return np.asarray(tsne.fit_transform(x))
        from sklearn.decomposition import PCA  # noqa: PLC0415

        self.last_method = "PCA"
        return np.asarray(PCA(n_components=2, svd_solver="full").fit_transform(x))

    def __repr__(self) -> str:
        return f"AutoVisualizer(method={self.method!r}, random_state={self.random_state})"


def visualizer_name(visualizer: Any) -> str:
    """The name in the testers' keys: ``"embeddings"`` for :class:`AutoVisualizer`, else the
    class name (PML's ``visualizer.__class__.__name__``, e.g. ``"UMAP"``)."""
    return "embeddings" if isinstance(visualizer, AutoVisualizer) else type(visualizer).__name__


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)) or "split"


def save_embedding_plot(
    dim_reduced: Any, labels: Any, path: str | os.PathLike, title: str = "", *, dpi: int = 100
) -> Path:
    """Scatter ``dim_reduced`` (N, 2) coloured by ``labels`` into the PNG ``path``, atomically.

    Needs matplotlib (the ``[torch]`` extra installs it). Uses the Agg canvas directly, so
    no display and no ``pyplot`` state are involved. Returns the resolved path.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("writing the embedding-space PNG needs matplotlib: pip install matplotlib") from exc
    xy = np.asarray(dim_reduced, dtype=np.float64)
    lab = np.asarray(labels).reshape(-1)
    if xy.ndim != 2 or xy.shape[1] < 2 or xy.shape[0] != lab.shape[0]:
        raise ValueError(f"dim_reduced must be (N, 2) with N = len(labels) = {lab.shape[0]}, got shape {xy.shape}")
    classes = np.unique(lab)
    fig = Figure(figsize=(6, 6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    cmap = fig_cmap(len(classes))
    for i, c in enumerate(classes):
        sel = lab == c
        ax.scatter(xy[sel, 0], xy[sel, 1], s=8, color=cmap(i % cmap.N), label=str(c))
    if 0 < len(classes) <= 20:
        ax.legend(loc="best", fontsize="small", markerscale=2, title="label")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return atomic_write_with(path, lambda f: fig.savefig(f, format="png"))


def fig_cmap(n: int) -> Any:
    from matplotlib import colormaps  # noqa: PLC0415

    return colormaps["tab10" if n <= 10 else "tab20"]


class EmbeddingPlotWriter:
    """The default ``visualizer_hook``: one PNG per split and label level, replaced on each test.

    Called as PML calls a visualizer hook, ``(visualizer, dim_reduced, labels, split_name,
    keyname, epoch)``; writes ``folder/<split_name>_<keyname>.png`` (``keyname`` is e.g.
    ``embeddings_level0``) and returns its path. ``per_epoch=True`` keeps one file per epoch
    (``..._epoch<e>.png``) instead. The folder is created when missing.
    """

    def __init__(self, folder: str | os.PathLike, per_epoch: bool = False) -> None:
        self.folder = Path(os.fspath(folder))
        self.per_epoch = bool(per_epoch)
        self.written: list[Path] = []

    def __call__(self, visualizer: Any, dim_reduced: Any, labels: Any, split_name: str, keyname: str, epoch: Any) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{_safe(split_name)}_{_safe(keyname)}"
        if self.per_epoch:
            stem += f"_epoch{epoch}"
        method = getattr(visualizer, "last_method", None) or type(visualizer).__name__
        title = f"{split_name}: {method} of the embeddings (epoch {epoch})"
        path = save_embedding_plot(dim_reduced, labels, self.folder / f"{stem}.png", title)
        self.written.append(path)
        return path
