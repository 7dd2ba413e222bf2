"""The one place that turns a core class into a ``torch.nn.Module`` shell.

The core classes (``agnostic_ml``: distances, miners, reducers, regularizers, losses) are plain
Python objects that hold configuration and call array-API functions. PML's users treat these
objects as ``nn.Module`` s: they assign one as a submodule, put them in ``nn.ModuleDict``, call
``.to(device)``, save ``state_dict()`` (learnable weights, memory banks) and register hooks.
This module generates, for every core class ``C``, a class ``shell(C)`` that inherits from
``C`` *and* ``nn.Module`` (``class shell(C)(C, shell(parent of C)...)``, down to
:class:`ShellModule`), so that:

- the core's ``__init__`` runs unchanged; it calls ``super().__init__()`` first, which reaches
  ``nn.Module.__init__`` (see ``agnostic_ml._component``);
- calling the object goes through ``nn.Module.__call__`` (forward hooks fire) into the core's
  ``forward``;
- a core component assigned as an attribute (the default ``LpDistance()`` a loss builds, or a
  core object a user passes) becomes its shell and is registered as a submodule; a dict or list
  of components becomes an ``nn.ModuleDict`` / ``nn.ModuleList``;
- :meth:`~agnostic_ml._component.Component.new_parameter` makes ``nn.Parameter`` s initialised
  by the ``torch.nn.init`` function PML uses;
- state arrays declared by the core class (``_state_arrays``) are buffers, also while they are
  still ``None`` before the first batch: ``load_state_dict`` allocates them; state scalars
  (``_state_scalars``) are the module's extra state.

The class hierarchy mirrors the core's, so ``isinstance(shell(BatchHardMiner)(), shell(BaseMiner))``
and ``isinstance(..., agnostic_ml.miners.BaseMiner)`` both hold. Configuration stays plain
attributes with PML's names (``loss.margin = 0.1`` works). Core classes never define
``__eq__``, so two shells with equal configuration keep distinct identity hashes and each
one's parameters appear in ``named_parameters()``.
"""

from __future__ import annotations

import types
from typing import Any, Callable

import math

import numpy as np
import torch
from torch import nn

from agnostic_ml._component import PARAMETER_INITS, Component

__all__ = ["ShellModule", "shell_class", "to_shell", "export_shells", "ModuleDict"]

_SHELLS: dict[type, type] = {}
#: Shells of classes no public adapter module exports live here, so that pickle finds them.
generated = types.SimpleNamespace()


def _torch_init(name: str) -> Callable[[torch.Tensor, Any], None]:
    def normal(t: torch.Tensor, g: Any) -> None:
        nn.init.normal_(t, generator=g)

    def kaiming_normal_fan_out(t: torch.Tensor, g: Any) -> None:
        nn.init.kaiming_normal_(t, mode="fan_out", generator=g)

    def kaiming_uniform_a_sqrt5(t: torch.Tensor, g: Any) -> None:
        nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g)

    def xavier_normal(t: torch.Tensor, g: Any) -> None:
        nn.init.xavier_normal_(t, generator=g)

    def uniform_pm1(t: torch.Tensor, g: Any) -> None:
        nn.init.uniform_(t, -1.0, 1.0, generator=g)

    table = {
        "normal": normal,
        "kaiming_normal_fan_out": kaiming_normal_fan_out,
        "kaiming_uniform_a_sqrt5": kaiming_uniform_a_sqrt5,
        "xavier_normal": xavier_normal,
        "uniform_pm1": uniform_pm1,
    }
    assert set(table) == set(PARAMETER_INITS), "every core init needs its torch.nn.init twin"
    return table[name]


def _generator(rng: Any) -> torch.Generator | None:
    if rng is None or isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return torch.Generator().manual_seed(int(rng))
    if isinstance(rng, np.random.Generator):
        return torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
    raise TypeError(f"rng must be None, an int seed, a torch.Generator or a numpy Generator, got {type(rng).__name__}")


class ModuleDict(nn.ModuleDict):
    """``nn.ModuleDict`` with ``dict.get``, so that core code written for a dict keeps working."""

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


def to_shell(value: Any) -> Any:
    """The ``nn.Module`` form of a core component (unchanged if it already is a module).

    A core instance is *adopted*: a shell instance of the matching shell class receives a copy
    of its attribute dict (nested components converted too), so later changes to the original
    core object do not reach the shell. Dicts (with str keys) and lists/tuples whose values
    are all components become ``ModuleDict`` / ``nn.ModuleList``. Anything else is returned as is.
    """
    if isinstance(value, nn.Module):
        return value
    if isinstance(value, Component):
        cls = shell_class(type(value))
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        # The instance may narrow its class's list (MarginLoss: beta is learnable only with learn_beta).
        params = set(getattr(value, "_learnable", ()))
        for k, v in vars(value).items():
            if k in params and isinstance(v, np.ndarray):
                v = nn.Parameter(torch.from_numpy(np.array(v)))
            setattr(new, k, v)
        return new
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        if all(isinstance(v, (Component, nn.Module)) for v in value.values()):
            return ModuleDict({k: to_shell(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (Component, nn.Module)) for v in value):
        return nn.ModuleList([to_shell(v) for v in value])
    return value


def _state_arrays(obj: Any) -> tuple[str, ...]:
    return tuple(getattr(type(obj), "_state_arrays", ()))


class ShellModule(nn.Module):
    """The torch half of every shell: attribute conversion, parameters, buffers, state loading."""

    def __setattr__(self, name: str, value: Any) -> None:
        value = to_shell(value)
        if name in _state_arrays(self) and "_buffers" in self.__dict__:
            if value is None or isinstance(value, torch.Tensor):
                if name not in self._buffers:
                    self.__dict__.pop(name, None)
                    self.register_buffer(name, value)
                else:
                    self._buffers[name] = value
                return
            self._buffers.pop(name, None)  # host (NumPy) state: a plain attribute
        nn.Module.__setattr__(self, name, value)

    def new_parameter(
        self,
        shape: tuple[int, ...],
        init: str | Callable[[Any], Any] = "normal",
        *,
        rng: Any = None,
        value: float | None = None,
    ) -> nn.Parameter:
        """A float32 ``nn.Parameter``; ``init`` names a ``torch.nn.init`` function or is PML's ``weight_init_func``."""
        shape = tuple(int(s) for s in shape)
        param = nn.Parameter(torch.empty(shape, dtype=torch.get_default_dtype()))
        with torch.no_grad():
            if value is not None:
                param.fill_(value)
            elif callable(init):
                init(param)
            else:
                if init not in PARAMETER_INITS:
                    raise ValueError(f"init must be one of {sorted(PARAMETER_INITS)} or a callable, got {init!r}")
                _torch_init(init)(param, _generator(rng))
        return param

    def new_state_array(self, shape: tuple[int, ...], kind: str = "float") -> torch.Tensor:
        """A zero CPU tensor (float32 or int64) to register as a buffer, as PML's queues are."""
        if kind not in ("float", "int"):
            raise ValueError(f"kind must be 'float' or 'int', got {kind!r}")
        return torch.zeros(tuple(int(s) for s in shape), dtype=torch.float32 if kind == "float" else torch.int64)

    def _move_parameter(self, p: torch.Tensor, device: Any) -> torch.Tensor:
        """Move a parameter to the embeddings' device in place (PML's behaviour; its dtype never changes).

        Moving ``.data`` keeps the ``nn.Parameter`` object, so an optimizer built before the
        move keeps updating it.
        """
        with torch.no_grad():
            p.data = p.data.to(device)
        return p

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        lazy_missing = []
        for name in _state_arrays(self):
            key = prefix + name
            current = self._buffers.get(name)
            if key in state_dict and current is None:
                loaded = state_dict[key]
                self._buffers[name] = torch.empty_like(loaded)
            elif key not in state_dict:
                lazy_missing.append((name, key))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if type(self)._state_scalars and prefix + "_extra_state" in missing_keys:
            # A state_dict written by PML (or before the scalars existed): keep the current position.
            missing_keys.remove(prefix + "_extra_state")
        for name, key in lazy_missing:
            # A state array saved while it was still None (nothing stored yet): empty it here too.
            if key in missing_keys:
                missing_keys.remove(key)
            self._buffers[name] = None
        self.after_state_load()


def _get_extra_state(self: Any) -> dict[str, Any]:
    return {name: getattr(self, name) for name in type(self)._state_scalars}


def _set_extra_state(self: Any, state: dict[str, Any]) -> None:
    for name in type(self)._state_scalars:
        if name in state:
            object.__setattr__(self, name, state[name])


def shell_class(core_cls: type, module: str | None = None) -> type:
    """The shell class of a core component class (created once, then cached).

    ``module`` names the public adapter module that exports it (for pickling and repr);
    shells of classes no module exports live in :data:`generated`.
    """
    if isinstance(core_cls, type) and issubclass(core_cls, nn.Module):
        return core_cls
    if not (isinstance(core_cls, type) and issubclass(core_cls, Component)):
        raise TypeError(f"{core_cls!r} is not an agnostic_ml component class")
    cls = _SHELLS.get(core_cls)
    if cls is None:
        parents = [shell_class(b) for b in core_cls.__bases__ if issubclass(b, Component) and b is not Component]
        bases = (core_cls, *parents) if parents else (core_cls, ShellModule)
        body: dict[str, Any] = {
            # ShellModule comes after the core classes in the MRO; the methods that the core
            # also defines must be put on the shell class itself to take precedence.
            "__call__": nn.Module.__call__,
            "new_parameter": ShellModule.new_parameter,
            "_move_parameter": ShellModule._move_parameter,
            "new_state_array": ShellModule.new_state_array,
            "__doc__": core_cls.__doc__,
            "__module__": __name__,
            "__qualname__": f"generated.{_generated_name(core_cls)}",
        }
        if core_cls._state_scalars:
            body["get_extra_state"] = _get_extra_state
            body["set_extra_state"] = _set_extra_state
        cls = type(core_cls.__name__, bases, body)
        setattr(generated, _generated_name(core_cls), cls)
        _SHELLS[core_cls] = cls
    if module is not None:
        cls.__module__ = module
        cls.__qualname__ = core_cls.__name__
    return cls


def _generated_name(core_cls: type) -> str:
    return f"{core_cls.__module__.replace('.', '_')}__{core_cls.__qualname__.replace('.', '_')}"


def export_shells(core_module: types.ModuleType, module: str) -> dict[str, Any]:
    """``{name: shell}`` for every name in ``core_module.__all__`` (non-components unchanged)."""
    out: dict[str, Any] = {}
    for name in core_module.__all__:
        obj = getattr(core_module, name)
        if isinstance(obj, type) and issubclass(obj, Component):
            out[name] = shell_class(obj, module)
        else:
            out[name] = obj
    return out
