"""LF modules: the one writer (LFs -> importable Python source) and the one loader (file or module -> LFs).

The studio saves with :func:`lfs_to_code`; the studio's check of a saved module, notebooks and the
pipeline's ``lfs:`` key all load with :func:`load_lf_module`, so an LF module means the same thing
everywhere: a Python file or module path whose ``LFS`` list (or only ``*_LFS`` list, or the named
attribute) holds uniquely named LFs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import keyword
import os
import re
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from snorkel.labeling import LabelingFunction

from workbench._internal.validation import lf_name
from workbench.labeling._lf import (
    PredicateLF,
    VectorizedLF,
    check_unique_names,
    global_names,
    lf_fingerprint,
    predicate_lf,
)


class LFSaveError(ValueError):
    """An LF cannot be written as importable code; the message names the LF and the reason."""


_LITERAL_TYPES = (str, bytes, int, float, bool, type(None), list, tuple, dict, set, frozenset)


def _literal_code(value: Any) -> str | None:
    """Python source that evaluates to ``value`` for plain data (literals, containers, sets), else None."""
    if type(value) in (set, frozenset):
        items = [_literal_code(v) for v in value]
        return None if None in items else f"{type(value).__name__}([{', '.join(sorted(items))}])"
    if type(value) not in _LITERAL_TYPES:
        return None
    code = repr(value)
    try:
        rebuilt = ast.literal_eval(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None  # e.g. nan
    return code if rebuilt == value and type(rebuilt) is type(value) else None


def _importable_name(value: Any) -> tuple[str, str] | None:
    """(module, attribute) from which ``value`` itself can be imported, else None."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not module or module == "__main__" or not qualname or "<" in qualname:
        return None
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return (module, qualname) if obj is value and "." not in qualname else None


def _importable_lf(lf: Any) -> tuple[str, str] | None:
    """(module, attribute) when the LF object is defined at the top of an importable module."""
    func = lf.func if isinstance(lf, VectorizedLF) else getattr(lf, "predicate", None) or getattr(lf, "_f", None)
    module = getattr(func, "__module__", None)
    if not module or module == "__main__":
        return None
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for attr, value in vars(mod).items():
        if value is lf:
            return module, attr
    return None


def _function_def(func: Callable, why: str) -> tuple[str, bool]:
    """(dedented source of ``func`` without its decorators, whether it had any)."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise LFSaveError(f"{why}: the source of {getattr(func, '__name__', func)!r} is not available ({exc}); "
                          "define it in a notebook cell or a .py file") from exc
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != func.__name__:
        raise LFSaveError(f"{why}: {getattr(func, '__name__', func)!r} is not a plain `def` (a lambda?); "
                          "define it with def so its source can be saved")
    lines = source.splitlines()
    return "\n".join(lines[node.lineno - 1 : node.end_lineno]) + "\n", bool(node.decorator_list)


class _ModuleWriter:
    """Collects imports, data, helper functions and LF definitions for one saved module."""

    def __init__(self, lfs: Sequence[Any]):
        self.lfs = list(lfs)
        self.imports: dict[str, str] = {}  # bound name -> import statement
        self.constants: dict[str, str] = {}
        self.helpers: dict[str, str] = {}
        self.blocks: list[str] = []
        self.bound: dict[str, Any] = {}  # every top-level name -> the object it stands for
        self.var_of: dict[int, str] = {}
        for lf in self.lfs:  # LF variables first: other LFs' code may call them by name
            var = self.lf_var(lf)
            self.bound[var] = lf
            self.var_of[id(lf)] = var

    def bind(self, name: str, value: Any, why: str) -> bool:
        """Reserve ``name`` for ``value``; False if it is already bound to the same object."""
        if name in self.bound:
            if self.bound[name] is value or (_literal_code(value) is not None and _literal_code(value) == _literal_code(self.bound[name])):
                return False
            raise LFSaveError(f"{why}: the name {name!r} stands for two different things in the saved module; rename one")
        self.bound[name] = value
        return True

    def add_import(self, name: str, statement: str, value: Any, why: str) -> None:
        if self.bind(name, value, why):
            self.imports[name] = statement

    def lf_var(self, lf: Any) -> str:
        name = lf_name(lf)
        var = re.sub(r"\W", "_", name)
        if not var or var[0].isdigit() or keyword.iskeyword(var):
            var = f"lf_{var}"
        base, i = var, 2
        while var in self.bound and self.bound[var] is not lf:
            var, i = f"{base}_{i}", i + 1
        return var

    def add_global(self, gname: str, value: Any, why: str) -> None:
        if any(value is lf for lf in self.lfs):
            if self.var_of.get(id(value)) != gname:
                raise LFSaveError(f"{why}: it calls LF {lf_name(value)!r} through the name {gname!r}; "
                                  f"name the LF variable {self.var_of.get(id(value))!r} or call a helper function instead")
            return
        if isinstance(value, types.ModuleType):
            stmt = f"import {value.__name__}" if value.__name__ == gname else f"import {value.__name__} as {gname}"
            if "." in value.__name__ and value.__name__ != gname:
                parent, _, leaf = value.__name__.rpartition(".")
                stmt = f"from {parent} import {leaf}" if leaf == gname else f"from {parent} import {leaf} as {gname}"
            self.add_import(gname, stmt, value, why)
            return
        literal = _literal_code(value)
        if literal is not None:
            if self.bind(gname, value, why):
                self.constants[gname] = f"{gname} = {literal}"
            return
        if isinstance(value, re.Pattern):
            if self.bind(gname, value, why):
                self.add_global("re", re, why)
                self.constants[gname] = f"{gname} = re.compile({value.pattern!r}, {int(value.flags)})"
            return
        importable = _importable_name(value)
        if importable is not None:
            module, attr = importable
            self.add_import(gname, f"from {module} import {attr}" + (f" as {gname}" if attr != gname else ""), value, why)
            return
        if isinstance(value, types.FunctionType):
            if self.bind(gname, value, why):
                self.helpers[gname] = self.function_code(value, f"{why} (helper {gname!r})", allow_decorators=False, name=gname)
            return
        raise LFSaveError(f"{why}: it reads the global {gname!r}, a {type(value).__name__}, which cannot be written as code; "
                          "save only literals (lists, dicts, strings, numbers), compiled regexes, modules, functions and "
                          "importable objects, or move it into a module")

    def function_code(self, func: Callable, why: str, allow_decorators: bool = True, name: str | None = None) -> str:
        if func.__code__.co_freevars:
            raise LFSaveError(f"{why}: {func.__name__!r} reads {list(func.__code__.co_freevars)} from an enclosing function; "
                              "save_lfs cannot rebuild closures: define it at the top level")
        if name is not None and name != func.__name__:
            raise LFSaveError(f"{why}: the function {func.__name__!r} is used under the name {name!r}; call it by its own name")
        source, decorated = _function_def(func, why)
        if decorated and not allow_decorators:
            raise LFSaveError(f"{why}: helper {func.__name__!r} is decorated; save_lfs copies plain functions only")
        # A name that is neither a global nor a builtin fails the same way in the saved module.
        for gname in sorted(global_names(func.__code__)):
            if gname in func.__globals__:
                self.add_global(gname, func.__globals__[gname], why)
        return source

    def add_lf(self, lf: Any) -> None:
        name = lf_name(lf)
        why = f"LF {name!r}"
        var = self.var_of[id(lf)]
        importable = _importable_lf(lf)
        if isinstance(lf, VectorizedLF) and lf.builder:
            self.add_import(lf.builder, f"from workbench.labeling import {lf.builder}", getattr(importlib.import_module("workbench.labeling"), lf.builder), why)
            self.bind(var, lf, why)
            self.blocks.append(f"{var} = {lf.to_code()}")
            return
        if importable is not None:
            module, attr = importable
            self.imports[var] = f"from {module} import {attr}" + (f" as {var}" if attr != var else "")
            return
        if isinstance(lf, PredicateLF):
            func, wrap = lf.predicate, lambda f: f"predicate_lf({name!r}, {f}, label={lf.label})"
            self.add_import("predicate_lf", "from workbench.labeling import predicate_lf", predicate_lf, why)
        elif isinstance(lf, VectorizedLF):
            func, wrap = lf.func, lambda f: f"vectorized_lf(name={name!r}, labels={list(lf.labels)!r})({f})"
            self.add_import("vectorized_lf", "from workbench.labeling import vectorized_lf", importlib.import_module("workbench.labeling").vectorized_lf, why)
        elif isinstance(lf, LabelingFunction):
            if lf._pre:
                raise LFSaveError(f"{why} has preprocessors; save_lfs writes LFs without preprocessors only")
            func = lf._f
            resources = ""
            if lf._resources:
                code = _literal_code(dict(lf._resources))
                if code is None:
                    raise LFSaveError(f"{why}: its resources are not plain data, so they cannot be saved")
                resources = f", resources={code}"
            wrap = lambda f: f"labeling_function(name={name!r}{resources})({f})"  # noqa: E731
            from snorkel.labeling import labeling_function

            self.add_import("labeling_function", "from snorkel.labeling import labeling_function", labeling_function, why)
        else:
            raise LFSaveError(f"{why}: unknown LF type {type(lf).__name__}")
        if not isinstance(func, types.FunctionType):
            raise LFSaveError(f"{why}: its function {func!r} is not a plain Python function")
        body = self.function_code(func, why)
        if func.__name__ != var:
            self.bind(func.__name__, func, why)
        self.bind(var, lf, why)
        self.blocks.append(body + f"{var} = {wrap(func.__name__)}")

    def render(self, header: str | None, active: Sequence[Any] | None) -> str:
        """The module's source; without ``header`` no docstring, without ``active`` no ``LFS``/``ALL_LFS`` lists."""
        parts = []
        if header is not None:
            header = header.strip().replace("\\", "\\\\").replace('"""', "'''")
            parts.append(f'"""{header}\n"""\n')
        parts.append("\n".join(sorted(set(self.imports.values()), key=lambda stmt: (stmt.startswith("from"), stmt))))
        if self.constants:
            parts.append("\n".join(self.constants.values()))
        parts.extend(self.helpers.values())
        one_liner = False
        for block in self.blocks:  # consecutive builder calls stay together; functions get blank lines
            single = "\n" not in block.strip()
            if single and one_liner:
                parts[-1] += "\n" + block
            else:
                parts.append(block)
            one_liner = single
        if active is not None:
            parts.append(f"#: The LFs that were switched on (and healthy) in the studio, in order: apply these.\n"
                         f"LFS = [{', '.join(self.var_of[id(lf)] for lf in active)}]")
            parts.append(f"#: Every LF in the studio, switched off or failing ones included.\n"
                         f"ALL_LFS = [{', '.join(self.var_of[id(lf)] for lf in self.lfs)}]")
        return "\n\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def lfs_to_code(lfs: Sequence[Any], active: Sequence[Any] | None = None, header: str = "Labeling functions.",
                comments: Mapping[str, str] | None = None) -> str:
    """Python source of a module defining ``lfs``, with ``LFS`` (the ``active`` ones) and ``ALL_LFS``.

    ``comments`` maps LF names to a one-line comment written above that LF's definition.

    Builder LFs are written as builder calls (:meth:`VectorizedLF.to_code`); LFs importable from
    a module are imported; row-wise and vectorized LFs defined in a notebook are written as
    their source, with the data, helper functions and modules they read from globals.

    Raises
    ------
    LFSaveError
        Naming the LF and what cannot be written (a closure, a lambda, a DataFrame global, ...).

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> print(lfs_to_code([keyword_lf("kw_sub", ["subscribe"], 1)]).splitlines()[-1])
    ALL_LFS = [kw_sub]
    """
    lfs = list(lfs)
    writer = _ModuleWriter(lfs)
    for lf in lfs:
        before = len(writer.blocks)
        writer.add_lf(lf)
        comment = (comments or {}).get(lf_name(lf))
        if comment and len(writer.blocks) > before:  # an imported LF has no block of its own
            writer.blocks[-1] = "".join(f"# {line}\n" for line in comment.splitlines()) + writer.blocks[-1]
    return writer.render(header, lfs if active is None else list(active))


def lf_to_code(lf: Any) -> str:
    """Python source that defines ``lf`` under a variable named after it: imports, data, helpers, definition.

    What "copy as code" gives for an LF, to paste into a notebook cell; the same writer as
    :func:`lfs_to_code`, without the module docstring and the ``LFS`` lists.

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> print(lf_to_code(keyword_lf("kw_sub", ["subscribe"], 1)))  # doctest: +NORMALIZE_WHITESPACE
    from workbench.labeling import keyword_lf
    <BLANKLINE>
    <BLANKLINE>
    kw_sub = keyword_lf(name='kw_sub', keywords=['subscribe'], label=1, text_column='text', case_sensitive=False, whole_word=True)
    """
    writer = _ModuleWriter([lf])
    writer.add_lf(lf)
    return writer.render(None, None)


class LFModuleError(ValueError):
    """An LF module that cannot be loaded; ``part`` is ``"module"`` or ``"attribute"`` (which input is wrong)."""

    def __init__(self, message: str, part: str = "module"):
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class LFModule:
    """A loaded LF module: the module object, its LF list, the attribute that held it, its source file."""

    module: types.ModuleType
    lfs: list
    attribute: str
    path: Path


def execute_lf_source(source: str, path: str | os.PathLike, *, register: bool = True) -> types.ModuleType:
    """Run ``source`` as a fresh private module named after ``path`` and return it.

    A private copy: reloading a real module in place would swap the LF objects under everyone
    else holding them (the studio, a notebook), and a stale bytecode cache could hide an edit.
    ``register`` puts it in ``sys.modules`` (decorators such as dataclasses look their module up there).
    """
    path = Path(path).resolve()
    name = f"_workbench_lfs_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    if register:
        sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        if register:
            sys.modules.pop(name, None)
        raise
    return module


def lf_module_path(source: str | os.PathLike) -> Path:
    """The source file of an LF module (a ``.py`` path, or a dotted module path), found without running it.

    A dotted path's parent packages are imported to find it, as Python does; the module itself is not.
    """
    text = os.fspath(source)
    if text.endswith(".py") or os.sep in text or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise LFModuleError(f"unknown LF module: no such file {path}")
        return path
    try:
        found = importlib.util.find_spec(text)
    except (ImportError, ValueError) as exc:
        raise LFModuleError(f"unknown LF module {text!r}: {exc}") from exc
    if found is None or not found.origin or not found.origin.endswith(".py"):
        raise LFModuleError(f"unknown LF module {text!r}: no Python source file found for it")
    return Path(found.origin)


def load_lf_module(source: str | os.PathLike, *, attribute: str | None = None) -> LFModule:
    """Load an LF module afresh from a ``.py`` file or a dotted module path.

    The LF list is ``attribute`` if given, else ``LFS``, else the module's only list named
    ``*_LFS`` (like ``YOUTUBE_LFS``). The source file is compiled from its current text on every
    call into a private module, so an edited LF is always the one that runs.

    Raises
    ------
    LFModuleError
        The module cannot be found or imported (naming the exception), has no LF list or
        several, or the list is empty, holds something that is not an LF, or repeats a name.

    Examples
    --------
    >>> loaded = load_lf_module("workbench.data.youtube_lfs")
    >>> loaded.attribute, len(loaded.lfs) > 5
    ('YOUTUBE_LFS', True)
    """
    text = os.fspath(source)
    path = lf_module_path(source)
    try:
        module = execute_lf_source(path.read_text(encoding="utf-8"), path)
    except Exception as exc:
        raise LFModuleError(f"importing {text} raised {type(exc).__name__}: {exc}") from exc

    if attribute is None:
        candidates = ["LFS"] if isinstance(getattr(module, "LFS", None), (list, tuple)) else [
            k for k, v in vars(module).items() if k.endswith("_LFS") and isinstance(v, (list, tuple))]
        if len(candidates) != 1:
            found_lists = f"several lists ({sorted(candidates)})" if candidates else "no LFS list"
            raise LFModuleError(f"{text} has {found_lists}; define LFS = [...] or name the list (attribute)")
        chosen = candidates[0]
    else:
        chosen = attribute
        if not hasattr(module, chosen):
            raise LFModuleError(f"{text} has no {chosen!r}", part="attribute")
    lfs = getattr(module, chosen)
    if not isinstance(lfs, (list, tuple)) or not lfs:
        raise LFModuleError(f"{text}.{chosen} must be a non-empty list of LFs, got {type(lfs).__name__}",
                            part="attribute" if attribute else "module")
    try:
        check_unique_names(lfs)
        for lf in lfs:
            lf_fingerprint(lf)
    except (TypeError, ValueError) as exc:
        raise LFModuleError(f"{text}.{chosen}: {exc}") from exc
    return LFModule(module, list(lfs), chosen, path.resolve())
