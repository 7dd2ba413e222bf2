"""The one place that talks to array-api-compat and array-api-extra.

Algorithms in ``agnostic_ml`` never branch on the backend themselves. Everything that
differs between NumPy, CuPy, torch and array-api-strict, and every gap in the array API
standard, is handled here, each with a generic (pure-standard) fallback and a comment
citing the upstream issue.

Contract ("everything follows the embeddings"): the namespace and device of a call are
those of its embeddings. Host data (Python lists, tuples, NumPy arrays) given for labels
is converted once to that namespace and device; an array of a *different* non-host
namespace raises ``TypeError``.

Signature rule: a helper takes its array arguments first and the namespace as the
keyword ``xp=`` (``topk(x, k, xp=xp)``); only the questions *about* a namespace take it
first (``index_dtype(xp, device)``, ``is_torch(xp)``, ``no_grad(xp)``).

Modules, by topic (in the style of array-api-extra's delegation modules):

- ``_namespace``: namespace and device of the inputs, device comparison, index and
  working dtypes, capabilities, autograd state, and (inside the layer only)
  ``numpy_like(xp)``, the NumPy or CuPy module behind a namespace for their fast paths;
- ``_host``: the edges to and from the host (``follow``, ``to_numpy``,
  ``from_host_indices``);
- ``_creation``: masks and empty index arrays created on a device;
- ``_fast_torch``: the torch namespace that :func:`namespace_and_device` returns for torch
  arrays: array-api-compat's, with native calls for the hot operations whose compat wrappers
  cost microseconds per call (``take``, ``take_along_axis``, ``matmul``, the logical and
  min/max functions), where torch already follows the standard;
- ``_sorting``: ``topk``, ``kth_smallest``, ``sort_values``;
- ``_indexing``: ``nonzero``, ``nonzero_2d``, the gathers, ``repeat``;
- ``_reductions``: ``weighted_bincount``;
- ``_norms``: ``vector_norm`` and square roots with finite gradients at 0;
- ``_products``: ``gram``, ``euclidean_matrix``, ``l2_rank_scores``, ``fill_self``;
- ``_linalg``: ``inv`` (the optional ``linalg`` extension, with a pure-standard fallback);
- ``_params``: ``assign_values`` (a learnable array's values replaced outside autograd).

``at`` (array-api-extra's functional update) is re-exported here, so that no module
outside the layer imports array-api-compat or array-api-extra.
"""

from array_api_extra import at  # functional updates: ``at(x, idx).set(v, copy=True)`` (house rule 5)

from ._creation import empty_indices, eye_mask
from ._host import follow, from_host_indices, to_numpy
from ._indexing import compress, nonzero, nonzero_2d, repeat, take_nonneg, take_rows
from ._namespace import (
    default_floating_dtype,
    floating_work_dtype,
    has_boolean_indexing,
    has_data_dependent_shapes,
    index_dtype,
    infer_namespace,
    is_dask_array,
    is_torch,
    namespace_and_device,
    no_grad,
    requires_grad,
    same_device,
)
from ._linalg import inv
from ._norms import safe_root, safe_sqrt, standard_vector_norm, vector_norm
from ._params import assign_values
from ._products import euclidean_matrix, fill_self, gram, l2_rank_scores
from ._reductions import weighted_bincount
from ._sorting import kth_smallest, searchsorted, sort_values, topk

__all__ = [
    # namespace, device, dtypes, capabilities
    "namespace_and_device",
    "infer_namespace",
    "same_device",
    "is_torch",
    "is_dask_array",
    "has_data_dependent_shapes",
    "has_boolean_indexing",
    "index_dtype",
    "default_floating_dtype",
    "floating_work_dtype",
    "requires_grad",
    "no_grad",
    # host edges
    "follow",
    "to_numpy",
    "from_host_indices",
    # creation and functional updates
    "eye_mask",
    "empty_indices",
    "at",
    # sorting and selection
    "topk",
    "kth_smallest",
    "sort_values",
    "searchsorted",
    # indexing
    "nonzero",
    "nonzero_2d",
    "compress",
    "take_rows",
    "take_nonneg",
    # linear algebra, learnable arrays
    "inv",
    "assign_values",
    "repeat",
    # reductions
    "weighted_bincount",
    # norms
    "vector_norm",
    "standard_vector_norm",
    "safe_sqrt",
    "safe_root",
    # products
    "gram",
    "euclidean_matrix",
    "l2_rank_scores",
    "fill_self",
]
