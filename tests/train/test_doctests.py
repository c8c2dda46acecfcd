"""The runnable examples in `nebula_hub.train`'s docstrings (what `pytest --doctest-modules nebula_hub/train` runs)."""

import doctest
import importlib
import pkgutil

import pytest

import nebula_hub.train


MODULES = sorted(
    f"nebula_hub.train.{m.name}" for m in pkgutil.iter_modules(nebula_hub.train.__path__) if m.name != "__main__"
)


@pytest.mark.parametrize("name", ["nebula_hub.train", *MODULES])
def test_docstring_examples_run(name):
    # No option flags: the same strictness as `pytest --doctest-modules` without a doctest_optionflags setting.
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest example(s) failed in {name}"
