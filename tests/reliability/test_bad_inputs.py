"""The bad-input catalogue (``bad_input_cases.CASES``): every case raises its named error.

Cases that take arrays run on every backend of the plugin's ``backend`` fixture (the four
CPU backends, and torch_cuda / CuPy where a GPU is present), inside the backend's context
(the strictest array-api-strict flags included); the others run once. A case
passes when its call raises the expected exception type with a message that matches the
case's regex (``re.search``). ``test_catalogue_size`` keeps the catalogue from shrinking
unnoticed and prints its counts per area (``pytest -s``).
"""

from __future__ import annotations

import collections
import re

import pytest

from bad_input_cases import CASES, CLI_FILES, Case, write_cli_files

# The opt-out cases feed NaN to NumPy arithmetic on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
ARRAY_CASES = [c for c in CASES if c.arrays]
CONFIG_CASES = [c for c in CASES if not c.arrays]
CPU = ("numpy", "torch", "array_api_strict", "array_api_strict_strictest")


@pytest.fixture(scope="module", autouse=True)
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    write_cli_files(tmp_path_factory.mktemp("cli_inputs"))


def _check(case: Case, *args: object) -> None:
    with pytest.raises(case.exc) as info:
        case.call(*args)
    message = str(info.value)
    assert re.search(case.match, message), f"{case.id}: message {message!r} does not match {case.match!r}"


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.id for c in ARRAY_CASES])
def test_bad_array_input(backend, case: Case) -> None:
    _check(case, backend)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_bad_setting_or_host_input(case: Case) -> None:
    assert CLI_FILES or case.area != "cli"
    _check(case)


def test_catalogue_size() -> None:
    counts = collections.Counter(c.area for c in CASES)
    print("bad-input catalogue:", dict(counts), "total", len(CASES),
          f"({len(ARRAY_CASES)} array cases x {len(CPU)} backends + {len(CONFIG_CASES)} others)")
    assert set(counts) == {"distances", "tuples", "reducers", "miners", "losses", "regularizers", "accuracy", "testing_kit", "cli"}
    assert len(CASES) >= 600
