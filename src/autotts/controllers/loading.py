"""Building controllers from a registry name or a Python file (``FILE.py`` or ``FILE.py:Class``).

A file may define a :class:`Controller` subclass, or a class written for the published harness
(``solve(question)``), which is wrapped so it runs unchanged through the upstream adapter.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from ..env.core import Episode
from ..env.upstream import solve_upstream
from .base import Controller, get_controller_class

UPSTREAM_POOL = 128  # the upstream adapter's ceiling is the whole pool


class ControllerLoadError(ValueError):
    pass


class UpstreamController(Controller):
    """Runs a published-harness method object through :class:`~autotts.env.upstream.UpstreamQuestion`.

    The method class is built with ``config={"beta": β}`` when its constructor takes ``config``
    (as the published discovered controllers do), else with no arguments."""

    max_branches = UPSTREAM_POOL
    method_class: type = object

    def __init__(self, beta: float = 1.0, **overrides: Any):
        super().__init__(beta)
        params = inspect.signature(self.method_class).parameters
        if "config" in params:
            self.method = self.method_class(config={"beta": self.beta, **overrides})
        else:
            self.method = self.method_class(**overrides)

    def run(self, episode: Episode) -> str | None:
        return solve_upstream(self.method, episode)


def _import_file(path: Path) -> Any:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"autotts_user_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ControllerLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ControllerLoadError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module


def controller_classes_in(module: Any) -> list[type]:
    """Controller classes defined in ``module`` itself: Controller subclasses first, else classes
    with a ``solve`` method (upstream style)."""
    own = [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__]
    native = [c for c in own if issubclass(c, Controller)]
    if native:
        return native
    return [c for c in own if callable(getattr(c, "solve", None)) and not inspect.isabstract(c)]


def load_file_controller(ref: str) -> type[Controller]:
    """``path.py`` or ``path.py:ClassName`` -> a Controller class."""
    path_text, _, class_name = ref.partition(":") if ref.count(":") == 1 and not ref.endswith(":") else (ref, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise ControllerLoadError(f"{path}: no such controller file")
    module = _import_file(path)
    if class_name:
        cls = getattr(module, class_name, None)
        if not inspect.isclass(cls):
            raise ControllerLoadError(f"{path}: defines no class {class_name!r}")
    else:
        found = controller_classes_in(module)
        if len(found) != 1:
            names = ", ".join(c.__name__ for c in found) or "none"
            raise ControllerLoadError(
                f"{path}: expected exactly one controller class, found {len(found)} ({names}); "
                "name one with FILE.py:Class"
            )
        cls = found[0]
    if issubclass(cls, Controller):
        return cls
    if callable(getattr(cls, "solve", None)):
        wrapper = type(cls.__name__, (UpstreamController,), {"method_class": cls, "name": cls.__name__})
        return wrapper
    raise ControllerLoadError(f"{path}: {cls.__name__} is neither a Controller nor has solve(question)")


def resolve_controller(ref: str) -> type[Controller]:
    """A registry name, or a controller file reference."""
    if ref.endswith(".py") or ".py:" in ref:
        return load_file_controller(ref)
    return get_controller_class(ref)
