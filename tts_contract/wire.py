"""Values to tensors and back: the API packs with `pack`, the engine reads with `unpack`.

`pack` adds the leading batch dimension of 1 and the dtype of the spec; `unpack` removes it and
gives plain Python values for scalars (str, int, float, bool) and numpy arrays for the rest. Checks
of ranges and meaning belong to the engine's parser; here only the shape of the wire is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tts_contract.tensors import INPUT_BY_FIELD, INPUTS, OUTPUT_BY_NAME, TensorSpec


class WireError(ValueError):
    """A tensor does not have the shape or content its spec says: the request's fault."""


def pack_value(spec: TensorSpec, value: Any) -> np.ndarray:
    """One value as its tensor, with the leading batch dimension of 1."""
    if spec.dtype.is_bytes:
        return np.array([[str(value).encode("utf-8")]], dtype=np.object_)
    if spec.scalar:
        return np.array([[value]], dtype=spec.dtype.numpy)
    array: np.ndarray = np.ascontiguousarray(value, dtype=spec.dtype.numpy)
    if len(spec.dims) == 1:
        array = array.reshape(-1)
    if array.ndim != len(spec.dims):
        raise WireError(f"{spec.name} must have {len(spec.dims)} dimensions, got shape {list(array.shape)}")
    return array[np.newaxis]


def pack(fields: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Input tensors of one request from its field values; None values are not sent."""
    unknown = set(fields) - set(INPUT_BY_FIELD)
    if unknown:
        raise KeyError(f"not contract inputs: {sorted(unknown)}")
    return {INPUT_BY_FIELD[f].name: pack_value(INPUT_BY_FIELD[f], v) for f, v in fields.items() if v is not None}


def _scalar(spec: TensorSpec, array: np.ndarray) -> Any:
    flat = np.asarray(array).reshape(-1)
    if flat.size != 1:
        raise WireError(f"{spec.name} must hold one value, got {flat.size}")
    value = flat[0]
    if spec.dtype.is_bytes:
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise WireError(f"{spec.name} is not valid UTF-8") from exc
        return str(value)
    if spec.dtype.numpy is np.bool_:
        return bool(value)
    if np.issubdtype(spec.dtype.numpy, np.integer):
        return int(value)
    return float(value)


def unpack_value(spec: TensorSpec, array: np.ndarray) -> Any:
    """A tensor as its value: the batch dimension of 1 removed, scalars as Python values."""
    if spec.scalar:
        return _scalar(spec, array)
    array = np.asarray(array)
    if array.ndim == len(spec.dims) + 1:
        if array.shape[0] != 1:
            raise WireError(f"{spec.name} must carry one request (leading dimension 1), got {list(array.shape)}")
        array = array[0]
    if array.ndim != len(spec.dims):
        raise WireError(f"{spec.name} must have {len(spec.dims) + 1} dimensions [1, ...], got {list(array.shape)}")
    return array


def unpack(arrays: Mapping[str, np.ndarray | None], specs: Iterable[TensorSpec] = INPUTS) -> dict[str, Any]:
    """Field name -> value of every input present in `arrays` (absent or None: not in the result)."""
    return {spec.field: unpack_value(spec, a) for spec in specs if (a := arrays.get(spec.name)) is not None}


def output(name: str, value: Any) -> np.ndarray:
    """One output tensor of a response, with the leading batch dimension of 1."""
    return pack_value(OUTPUT_BY_NAME[name], value)
