"""Safe stand-ins for the NumPy globals NVIDIA's pickles name: plain numbers and small numeric arrays only.

NVIDIA's networks keep a few NumPy values in their `__dict__`: float64/bool scalars (weight gains,
sampling rates) in every StyleGAN pickle, and small int64 arrays (StyleGAN3's `size`, `in_size`,
`out_size`). Handing pickle the real `numpy.dtype` is not safe: pickle then calls the dtype's
`__setstate__` with whatever state the file holds, which can declare object fields (hidden by flags)
so that a scalar built from the file's bytes holds a pointer the file chose. Here a dtype is rebuilt
from a plain type code ('f8', 'i8', 'b1', ...) and its state may only set the byte order; scalars and
arrays are decoded from bytes of exactly the right length.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .pickle_scan import PickleRefused

TYPE_CODE = re.compile(r"([biufc])(\d{1,2})")
ITEM_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}
BYTE_ORDERS = ("<", ">", "=", "|")
MAX_ARRAY_ELEMENTS = 2 ** 16    # arrays in a network's attributes are tiny; weights travel as tensors
MAX_ARRAY_DIMS = 8


class PlainDtype:
    """Stand-in for `numpy.dtype(code)`: a numeric type code whose pickled state may set only its byte order."""

    def __init__(self, code: str):
        self.code = code
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        """NumPy pickles a plain dtype's state as (3, byteorder, None, None, None, -1, -1, 0)."""
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in BYTE_ORDERS
                and state[2:5] == (None, None, None) and state[5:] == (-1, -1, 0)):
            raise PickleRefused("a NumPy dtype's state declares fields, objects or flags (only plain numbers "
                                "are allowed)")
        self.byteorder = state[1]

    def numpy(self) -> np.dtype:
        return np.dtype(self.byteorder + self.code)


def make_dtype(spec: Any, align: Any = False, copy: Any = True) -> PlainDtype:
    """Stand-in for numpy.dtype: only the type codes of plain numbers (no objects, fields, subarrays)."""
    match = TYPE_CODE.fullmatch(spec) if isinstance(spec, str) else None
    if match is None or int(match.group(2)) not in ITEM_SIZES[match.group(1)]:
        shown = repr(spec[:20]) if isinstance(spec, str) else f"a {type(spec).__name__}"
        raise PickleRefused(f"a NumPy dtype is {shown}, not a plain number type")
    return PlainDtype(spec)


def make_scalar(dtype: Any, data: Any = None) -> np.generic:
    """Stand-in for numpy's scalar reconstructor: a number decoded from exactly its bytes."""
    if not isinstance(dtype, PlainDtype) or not isinstance(data, bytes) or len(data) != dtype.numpy().itemsize:
        raise PickleRefused("a NumPy scalar is not a plain number stored in its own bytes")
    return np.frombuffer(data, dtype=dtype.numpy())[0]


class NdarrayName:
    """Stand-in for the name `numpy.ndarray`: only `reconstruct_array` may use it; calling it is refused."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise PickleRefused("the pickle calls numpy.ndarray itself, which NumPy's own pickles never do")


class PickledArray(np.ndarray):
    """A NumPy array whose pickled state is checked before NumPy sees it: a plain dtype, a bounded shape
    and exactly the bytes that shape needs."""

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise PickleRefused("a NumPy array's state is not NumPy's")
        _, shape, dtype, fortran_order, data = state
        dtype = _checked_array(shape, dtype, data)
        if not isinstance(fortran_order, bool):
            raise PickleRefused("a NumPy array's memory order is not a bool")
        super().__setstate__((1, shape, dtype, fortran_order, data))


def reconstruct_array(cls: Any, shape: Any, typecode: Any) -> PickledArray:
    """Stand-in for numpy's `_reconstruct`: the empty array that pickle then fills (protocols 2-4)."""
    if cls is not NdarrayName or shape != (0,) or typecode not in (b"b", "b"):
        raise PickleRefused("a NumPy array is reconstructed in a way NumPy never pickles")
    return np.ndarray.__new__(PickledArray, (0,), np.int8)


def array_from_buffer(buffer: Any, dtype: Any, shape: Any, order: Any = "C") -> PickledArray:
    """Stand-in for numpy's `_frombuffer` (protocol 5): a copy of exactly the bytes the shape needs (a
    PickledArray too, so that a later BUILD on it is checked the same way)."""
    if order not in ("C", "F"):
        raise PickleRefused("a NumPy array's memory order is neither 'C' nor 'F'")
    if isinstance(buffer, bytearray):
        buffer = bytes(buffer)
    numpy_dtype = _checked_array(shape, dtype, buffer)
    array = np.ndarray.__new__(PickledArray, shape, numpy_dtype, order=order)
    array[...] = np.frombuffer(buffer, dtype=numpy_dtype).reshape(shape, order=order)
    return array


def _checked_array(shape: Any, dtype: Any, data: Any) -> np.dtype:
    if not (isinstance(shape, tuple) and len(shape) <= MAX_ARRAY_DIMS
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise PickleRefused("a NumPy array's shape is not a short tuple of sizes")
    elements = math.prod(shape) if shape else 1
    if elements > MAX_ARRAY_ELEMENTS:
        raise PickleRefused(f"a NumPy array has {elements} elements (at most {MAX_ARRAY_ELEMENTS}; weights are "
                            f"stored as tensors)")
    if not isinstance(dtype, PlainDtype):
        raise PickleRefused("a NumPy array's dtype is not a plain number type")
    numpy_dtype = dtype.numpy()
    if not isinstance(data, bytes) or len(data) != elements * numpy_dtype.itemsize:
        raise PickleRefused("a NumPy array's data is not exactly the bytes its shape needs")
    return numpy_dtype
