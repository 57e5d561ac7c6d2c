"""Strict configs: YAML files load into frozen dataclasses, `key.sub=value` overrides, one-line errors.

Every runnable thing has one frozen dataclass with a docstring under each field. `load_config` reads a YAML
file into it and refuses anything it does not understand, before any work starts:

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo:
...     learning_rate: float = param(3e-4, gt=0)
...     '''Adam step size.'''
>>> build_config(Demo, {"learning_rate": 1e-3}, source="demo").learning_rate
0.001
>>> build_config(Demo, {"lr": 1e-3}, source="demo.yaml")
Traceback (most recent call last):
  ...
core.config.ConfigError: unknown key 'lr' in demo.yaml; did you mean 'learning_rate'? valid keys: learning_rate
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from core.errors import ArenaError

T = TypeVar("T")


class ConfigError(ArenaError):
    """A config that cannot be used: unknown key, wrong type, value out of range, missing file."""


def param(default: Any = dataclasses.MISSING, *, ge=None, gt=None, le=None, lt=None, **kwargs) -> Any:
    """A dataclass field with bounds checked at load time (`ge`/`gt`/`le`/`lt`)."""
    bounds = {k: v for k, v in {"ge": ge, "gt": gt, "le": le, "lt": lt}.items() if v is not None}
    return field(default=default, metadata=bounds, **kwargs)


def section(cls: type) -> Any:
    """A nested config section with its own defaults."""
    return field(default_factory=cls)


@dataclass(frozen=True)
class TrackingConfig:
    """Where a run's figures go. `metrics.jsonl` in the run dir is always written."""

    mode: Literal["offline", "online", "disabled"] = "offline"
    """W&B mode: `offline` writes under the run dir (sync later with `wandb sync`), `online` needs an account."""
    project: str = "arena"
    """W&B project name."""
    entity: str = ""
    """W&B entity (team or user); empty uses your default."""
    group: str = ""
    """W&B group, e.g. to gather seeds of one experiment."""
    tags: tuple[str, ...] = ()
    """W&B tags."""
    log_every: int = param(1, ge=1)
    """Send one in this many log calls to W&B and metrics.jsonl (1 = every call)."""


@dataclass(frozen=True)
class RunConfig:
    """What every run shares: its name, seed, device and checkpoint policy."""

    name: str = ""
    """Run dir name under `runs_dir`; empty picks `<algo>-<env>-<seed>-<time>`."""
    runs_dir: str = "runs"
    """Folder that holds run dirs."""
    seed: int = param(1, ge=0)
    """Seed of every random stream in the run (envs, nets, sampling)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the learner's tensors live: `auto` takes CUDA when present."""
    torch_threads: int = param(0, ge=0)
    """torch intra-op threads; 0 leaves torch's default (under MPI each rank takes its share)."""
    checkpoint_every: int = param(10_000, ge=1)
    """Steps (the algorithm's own unit, see its docs) between checkpoints; one is also written at the end."""
    keep_checkpoints: int = param(3, ge=1)
    """How many recent checkpoints stay on disk."""

    def __post_init__(self) -> None:
        # the name is joined to runs_dir: `../x` or `a/b` would write somewhere else than runs/<name>
        if self.name and (self.name in (".", "..") or Path(self.name).name != self.name or "\\" in self.name):
            raise ValueError(f"run.name {self.name!r} must be one plain folder name (no '/', '..')")


@dataclass(frozen=True)
class DistributedConfig:
    """`mpirun -n N arena selfplay CONFIG`: how learner and actor ranks share the work (ignored by `arena train`)."""

    learners: int = param(1, ge=1)
    """Learner ranks (0..L-1); they keep identical weights by averaging gradients. The other ranks are actors."""
    publish_every: int = param(10, ge=1)
    """Learner updates between weight publications (each publication is a new weight version); PPO: always 1."""
    max_staleness: int = param(4, ge=0)
    """Actors ahead of the learner by this many versions wait; AlphaZero also drops samples that old (PPO is
    synchronous: one rollout per version; DQN keeps every transition)."""
    actor_device: Literal["cpu", "cuda"] = "cpu"
    """Where actors run their net (learners use run.device)."""


# ---------------------------------------------------------------------------------------------------------------
# Field docs, for --help and error messages.


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (Python keeps none at runtime, so read the source)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, [*body[1:], None], strict=True):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def describe_config(cls: type, prefix: str = "") -> list[str]:
    """One line per leaf field: `key.sub (type, default): doc`, for `--help` listings."""
    lines = []
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            lines.extend(describe_config(hint, prefix=f"{key}."))
            continue
        default = _default_of(f)
        lines.append(f"{key} ({_type_name(hint)}, default {default!r}): {docs.get(f.name, '')}")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Building a config from plain data, strictly.


def build_config(cls: type[T], data: Mapping[str, Any] | None, *, source: str, where: str = "") -> T:
    """Build `cls` from a mapping, refusing unknown keys, wrong types and out-of-range values."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}{_at(where)}: expected a mapping of keys, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    values = {}
    for key, raw in data.items():
        if key not in fields:
            raise ConfigError(_unknown_key(str(key), list(fields), source, where))
        values[key] = _coerce(raw, hints[key], fields[key], source, _join(where, key))
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        if isinstance(error, ArenaError):
            raise
        raise ConfigError(f"{source}{_at(where)}: {error}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config as plain YAML-safe data (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def apply_overrides(config: T, overrides: Sequence[str]) -> T:
    """Apply `key.sub=value` overrides (values parsed as YAML) to a built config, checking each strictly."""
    data = config_to_dict(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        source = f"override '{item}'"
        if not sep or not key:
            raise ConfigError(f"{source}: expected key.sub=value")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError as error:
            raise ConfigError(f"{source}: cannot parse value {text!r}: {_first_line(error)}") from None
        node: dict[str, Any] = data
        klass: type = type(config)
        parts = key.split(".")
        for depth, part in enumerate(parts):
            fields = {f.name: f for f in dataclasses.fields(klass)}
            if part not in fields:
                raise ConfigError(_unknown_key(part, list(fields), source, ".".join(parts[:depth])))
            if depth == len(parts) - 1:
                node[part] = value
            else:
                klass = typing.get_type_hints(klass)[part]
                if not dataclasses.is_dataclass(klass):
                    raise ConfigError(f"{source}: '{'.'.join(parts[: depth + 1])}' is a value, not a section")
                node = node[part]
        config = build_config(type(config), data, source=source)
    return config


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{self.name}: duplicate key '{key}' at line {line} (first given at line {seen[key]})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, *, what: str = "config file") -> Any:
    """The data of a YAML file, or ConfigError naming the file: missing, not UTF-8, bad syntax, duplicate key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at line {line})") from None
    loader = _StrictLoader(text)
    loader.name = str(path)  # PyYAML would say "<unicode string>" in its messages
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_first_line(error)}") from None
    finally:
        loader.dispose()


def load_config(cls: type[T], path: str | Path | None, overrides: Sequence[str] = ()) -> T:
    """Read a YAML file (or none, for the embedded defaults) into `cls`, then apply CLI overrides."""
    data: Any = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        data = read_yaml(path)
        if data is None:  # an empty file is more likely a mistake than a wish for the defaults
            raise ConfigError(f"{path} is empty; leave the file out to use the defaults, or give at least its algo")
    config = build_config(cls, data, source=source)
    return apply_overrides(config, overrides)


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (what the run actually used), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------------------------


def _coerce(raw: Any, hint: Any, f: dataclasses.Field | None, source: str, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build_config(hint, raw, source=source, where=where)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(raw, arg, f, source, where)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin is Literal:
        if raw not in args:
            valid = ", ".join(repr(a) for a in args)
            near = difflib.get_close_matches(str(raw), [str(a) for a in args], n=1)
            hint_text = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"{source}{_at(where)}: {_show(raw)} is not one of {valid}{hint_text}")
        return raw
    if origin in (tuple, list):
        if not isinstance(raw, list | tuple):
            raise ConfigError(f"{source}{_at(where)}: expected a list, got {_show(raw)}")
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, None, source, f"{where}[{i}]") for i, v in enumerate(raw)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}{_at(where)}: expected a mapping, got {_show(raw)}")
        return dict(raw)
    if hint is Any:
        return raw
    value = _scalar(raw, hint, source, where)
    _check_bounds(value, f, source, where)
    return value


def _scalar(raw: Any, hint: type, source: str, where: str) -> Any:
    # YAML reads `1e-3` as a string (YAML 1.1), so floats accept numeric strings too.
    if hint is bool:
        if isinstance(raw, bool):
            return raw
    elif hint is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
    elif hint is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
    elif isinstance(raw, hint):
        return raw
    raise ConfigError(f"{source}{_at(where)}: expected {_type_name(hint)}, got {_show(raw)}")


def _check_bounds(value: Any, f: dataclasses.Field | None, source: str, where: str) -> None:
    if f is None:
        return
    checks = {"ge": (">=", lambda a, b: a >= b), "gt": (">", lambda a, b: a > b)}
    checks |= {"le": ("<=", lambda a, b: a <= b), "lt": ("<", lambda a, b: a < b)}
    for name, (symbol, ok) in checks.items():
        if name in f.metadata and value is not None and not ok(value, f.metadata[name]):
            raise ConfigError(f"{source}{_at(where)}: {value!r} is out of range; must be {symbol} {f.metadata[name]}")


def _unknown_key(key: str, valid: list[str], source: str, where: str) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not near:  # `lr` for `learning_rate`: initials count as a close match too
        near = [v for v in valid if "".join(w[0] for w in v.split("_")) == key.replace("_", "")][:1]
    hint = f"; did you mean '{near[0]}'?" if near else ";"
    return f"unknown key '{key}' in {source}{_at(where)}{hint} valid keys: {', '.join(valid)}"


def _at(where: str) -> str:
    return f" [{where}]" if where else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "nothing"


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())
