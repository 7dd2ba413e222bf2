"""``agnostic-ml mine``: mine pairs or triplets from embeddings.npy + labels.npy into an .npz."""

from __future__ import annotations

import argparse
import time

from ._args import add_device_argument, add_param_argument
from ._errors import CLIError
from ._files import load_embeddings, load_labels, output_path, to_device, write_output
from ._format import describe_tuples, miner_label, tuple_keys
from ._parser import Command
from ._registry import make_miner, parse_params

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--miner", required=True, metavar="NAME",
                   help="miner class name, e.g. MultiSimilarityMiner (or package.module:Class, file.py:Class)")
    add_param_argument(p)
    p.add_argument("embeddings", help="embeddings, a 2-D .npy array (n, d)")
    p.add_argument("labels", help="labels, a 1-D .npy array (n,)")
    p.add_argument("-o", "--output", metavar="TUPLES.npz",
                   help="write the index tuples here (.npz; written atomically, checked before mining)")
    p.add_argument("--ref-emb", metavar="REF.npy", help="reference embeddings (m, d)")
    p.add_argument("--ref-labels", metavar="REF_LABELS.npy", help="reference labels (m,)")
    add_device_argument(p)
    p.add_argument("--seed", type=int, default=None, help="seed for miners that draw at random")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._array_api import to_numpy

    if (args.ref_emb is None) != (args.ref_labels is None):
        raise CLIError("--ref-emb and --ref-labels go together: give both or neither")
    out_path = output_path(args.output, "-o", suffix=".npz") if args.output else None
    params = parse_params(args.param)
    miner = make_miner(args.miner, params, seed=args.seed)
    emb = load_embeddings(args.embeddings, "embeddings")
    labels = load_labels(args.labels, "labels", emb.shape[0])
    ref = ref_labels = None
    if args.ref_emb is not None:
        ref = load_embeddings(args.ref_emb, "--ref-emb")
        if ref.shape[1] != emb.shape[1]:
            raise CLIError(f"--ref-emb has dimension {ref.shape[1]} but the embeddings have {emb.shape[1]}")
        if ref.dtype != emb.dtype:
            ref = ref.astype(np.result_type(ref.dtype, emb.dtype))
            emb = emb.astype(ref.dtype)
        ref_labels = load_labels(args.ref_labels, "--ref-labels", ref.shape[0])
    emb_d = to_device(emb, args.device)
    ref_d = None if ref is None else to_device(ref, args.device)

    start = time.perf_counter()
    out = miner(emb_d, labels, ref_d, ref_labels)
    host = [np.asarray(to_numpy(t), dtype=np.int64) for t in out]
    elapsed = time.perf_counter() - start

    summary, _ = describe_tuples(out)
    where = "the reference set" if ref is not None else "the batch itself"
    seeded = f" (rng seed {args.seed})" if args.seed is not None and hasattr(miner, "rng") else ""
    print(f"{miner_label(miner, params)}{seeded} on {emb.shape[0]} embeddings "
          f"({emb.shape[1]}-D, {emb.dtype}, {args.device}); positives/negatives from {where}")
    print(summary)
    anchors = np.unique(np.concatenate([host[0], host[2]])) if len(host) == 4 else np.unique(host[0])
    print(f"anchors used: {anchors.size} of {emb.shape[0]}; mined in {elapsed:.3f} s")
    if out_path is not None:
        keys = tuple_keys(out)
        arrays = dict(zip(keys, host))
        write_output(out_path, "-o", lambda f: np.savez(f, **arrays))
        print(f"wrote {out_path} (keys {', '.join(keys)})")
    return 0


COMMAND = Command(
    name="mine",
    help="mine pairs or triplets from embeddings.npy + labels.npy",
    description=(
        "Mine index tuples with one miner and write them to an .npz file: keys a, p, n "
        "(triplets) or a1, p, a2, n (pairs). Anchors index the embeddings; positives "
        "and negatives index the reference set (the embeddings themselves by default)."
    ),
    epilog=(
        "--param values are Python literals (0.2, 'semihard', (0.1, 0.5), True), else strings. "
        "distance= takes cosine, lp, dot, snr or a call such as lp(p=1, power=2). "
        "Example: agnostic-ml mine --miner TripletMarginMiner --param type_of_triplets=semihard "
        "emb.npy labels.npy -o tuples.npz"
    ),
    add_arguments=add_arguments,
    run=run,
)
