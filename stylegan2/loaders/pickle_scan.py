"""Walk a pickle's opcodes before anything unpickles it, and refuse what could exhaust or crash the reader.

Python's unpicklers (the C one behind the NVIDIA reader, torch's weights_only one) trust the sizes a
stream declares: a 9-byte file can ask for a memo of 2**32 entries or a 4 GB string, a tuple nested a
million deep crashes the interpreter when it is hashed as a dict key, and a few tuples that share each
other ("billion laughs") or a thousand integer keys that collide take hours to hash. This pass reads the
opcodes with an abstract stack (each value only knows its nesting depth, how many nodes hashing it
visits and, for small plain values, the value itself) and checks every declared length against the
bytes that are really there, memo indices against the entries stored so far, nesting depth, container
sizes and the total hashing work, without allocating anything the file only declares.
"""
from __future__ import annotations

import contextlib
import gc
import mmap
import struct
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable, Dict, List, Optional, Tuple, Union

Buffer = Union[bytes, mmap.mmap]  # anything with len(), indexing, slicing and find()

MAX_DEPTH = 100                 # Nesting levels; real StyleGAN snapshots use about 25.
MAX_OPCODES = 500_000           # Objects the stream may create; a 1024 px NVIDIA snapshot has ~50 000.
MAX_CONTAINER_ITEMS = 200_000   # Items in one list, tuple, dict or set.
MAX_HASH_NODES = 10_000         # Nodes hashing one key visits (nested tuples).
MAX_HASH_WORK = 20_000_000      # Nodes hashed plus collisions probed over the whole stream (about a second).
MAX_LINE = 4096                 # Text arguments (protocol 0/1 opcodes, GLOBAL names).
MAX_NUMBER_TEXT = 32            # Digits of a text INT/LONG/FLOAT.
MAX_LONG_BYTES = 16             # Bytes of a binary LONG1/LONG4 (128-bit integers).
CONCRETE_TEXT = 256             # Strings and bytes up to this length are kept as values.
MAX_KEPT_ITEMS = 100_000        # Lists and tuples up to this length keep their items (for `result`).


class PickleRefused(Exception):
    """The stream declares something no weights file needs and that could exhaust or crash the reader."""


class PickleTruncated(Exception):
    """The stream ends (or its declared lengths point) past the end of the data."""


@dataclass
class PickleScan:
    """What a checked stream holds: where it ends, its top object when it is plain data, its references,
    and the calls to watched globals with their arguments (each plain, or NOT_PLAIN)."""

    end: int
    result: Any
    persistent_ids: List[Any] = field(default_factory=list)
    globals: List[Tuple[str, str]] = field(default_factory=list)
    calls: List[Tuple[Tuple[str, str], List[Any]]] = field(default_factory=list)
    opcodes: int = 0
    max_depth: int = 0


class Global:
    """A GLOBAL reference (module, name), as the abstract stack holds it."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Global) and (self.module, self.name) == (other.module, other.name)

    def __hash__(self) -> int:
        return hash((self.module, self.name))

    def __repr__(self) -> str:
        return f"Global({self.module}.{self.name})"


LONG_TEXT = object()            # str, bytes or bytearray longer than CONCRETE_TEXT: not kept.
NOT_PLAIN = object()            # concrete() of something that is not plain data.


class _Node:
    """A container or built object on the abstract stack; shared through the memo like the real one."""

    __slots__ = ("kind", "depth", "nodes", "count", "colliding", "hashes", "items", "made_by")

    def __init__(self, kind: str, depth: int, nodes: int, items: Optional[list] = None, count: int = 0):
        self.kind = kind            # tuple, list, dict, set, frozenset or object
        self.depth = depth          # nesting levels below and including this one
        self.nodes = nodes          # nodes a hash of it visits (1 for unhashable containers)
        self.count = count          # items (dict: keys)
        self.colliding = 0          # keys whose hash is fixed but unknown here (tuples, objects)
        self.hashes: Optional[Dict[int, int]] = None  # keys per hash value, for number keys
        self.items = items          # kept for small lists and tuples (created on the first item), else None
        self.made_by: Optional[str] = None  # the watched global that made it: its state may not be set


HASHABLE_KINDS = ("tuple", "frozenset", "object")
# Globals that hash the items of their argument when called (sets from a list, dicts from pairs).
HASHING_CALLS = {("builtins", "set"), ("__builtin__", "set"), ("builtins", "frozenset"),
                 ("__builtin__", "frozenset"), ("collections", "OrderedDict"), ("collections", "Counter"),
                 ("builtins", "dict"), ("__builtin__", "dict"), ("dnnlib.util", "EasyDict")}


def _depth(value: Any) -> int:
    return value.depth if isinstance(value, _Node) else 0


def _hash_nodes(value: Any) -> int:
    if isinstance(value, _Node):
        return value.nodes if value.kind in HASHABLE_KINDS else 1
    return 1


def _collision_work(target: _Node, key: Any) -> int:
    """Keys with the same hash as `key` already in `target`: what inserting it probes.

    str and bytes hashes are randomised per process, so a file cannot make them collide; numbers hash
    to known values (multiples of 2**61 - 1 all collide), counted exactly; tuples and objects hash to
    fixed values the scan does not compute, so each counts as colliding with all the others.
    """
    if isinstance(key, (str, bytes, bytearray)) or key is LONG_TEXT or isinstance(key, Global):
        return 0
    if isinstance(key, _Node):
        target.colliding += 1
        return target.colliding - 1
    if target.hashes is None:
        target.hashes = {}
    same = target.hashes.get(hash(key), 0)
    target.hashes[hash(key)] = same + 1
    return same


def concrete(value: Any) -> Any:
    """The plain Python value of a scanned value (tuples, lists, numbers, str, bytes, Global), or NOT_PLAIN."""
    if isinstance(value, _Node):
        if value.kind in ("tuple", "list") and value.count == 0:
            return () if value.kind == "tuple" else []
        if value.items is None or value.kind not in ("tuple", "list"):
            return NOT_PLAIN
        items = [concrete(item) for item in value.items]
        if any(item is NOT_PLAIN for item in items):
            return NOT_PLAIN
        return tuple(items) if value.kind == "tuple" else items
    return NOT_PLAIN if value is LONG_TEXT else value


def scan_pickle(data: Buffer, start: int = 0, watch: AbstractSet[Tuple[str, str]] = frozenset()) -> PickleScan:
    """Check the pickle stream starting at `data[start]`; raises PickleRefused or PickleTruncated.

    Calls to the `watch` globals (module, name) are reported in `PickleScan.calls`, and what they return
    is sealed: a BUILD on it (which would call its `__setstate__`, e.g. Tensor.set_()) is refused.
    """
    with _collector_paused():
        return _Scanner(data, start, watch).run()


@contextlib.contextmanager
def _collector_paused():
    """The scan allocates up to MAX_OPCODES small objects and frees them all at the end; the cyclic
    garbage collector's passes over them would triple its time, and they hold no cycles worth collecting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Scanner:
    def __init__(self, data: Buffer, start: int, watch: AbstractSet[Tuple[str, str]]):
        self.data = data
        self.watch = watch
        self.pos = start
        self.size = len(data)
        self.stack: List[Any] = []
        self.marks: List[int] = []
        self.memo: List[Any] = []
        self.hash_work = 0
        self.scan = PickleScan(end=start, result=None)

    def run(self) -> PickleScan:
        while True:
            if self.pos >= self.size:
                raise PickleTruncated(f"the pickle ends at byte {self.size} without its STOP opcode")
            code = self.data[self.pos]
            self.pos += 1
            self.scan.opcodes += 1
            if self.scan.opcodes > MAX_OPCODES:
                raise PickleRefused(f"it has more than {MAX_OPCODES} pickle opcodes")
            if code == 0x2E:  # STOP
                self.scan.end = self.pos
                self.scan.result = concrete(self._pop()) if self.stack else NOT_PLAIN
                return self.scan
            handler = HANDLERS.get(code)
            if handler is None:
                raise PickleRefused(f"it uses pickle opcode {bytes([code])!r} at byte {self.pos - 1}, which "
                                    f"weights files never use")
            handler(self)

    # ------------------------------------------------------------------------------------------------
    # Reading arguments: nothing larger than CONCRETE_TEXT is ever copied out of the buffer.

    def _take(self, n: int, what: str = "an argument") -> int:
        """Skip n bytes of argument, checking they are there; returns where they start."""
        if n > self.size - self.pos:
            raise PickleTruncated(f"{what} at byte {self.pos} declares {n} bytes but only "
                                  f"{self.size - self.pos} remain")
        start = self.pos
        self.pos += n
        return start

    def _unsigned(self, n: int) -> int:
        start = self._take(n)
        return int.from_bytes(self.data[start:start + n], "little")

    def _line(self, limit: int = MAX_LINE) -> bytes:
        end = self.data.find(b"\n", self.pos, self.pos + limit + 1)
        if end < 0:
            if self.size - self.pos <= limit:
                raise PickleTruncated(f"a text argument at byte {self.pos} is not terminated")
            raise PickleRefused(f"a text argument at byte {self.pos} is longer than {limit} bytes")
        line = bytes(self.data[self.pos:end])
        self.pos = end + 1
        return line

    def _sized(self, length_bytes: int, kind: str) -> Any:
        """A length-prefixed str/bytes: its value when short, else LONG_TEXT."""
        n = self._unsigned(length_bytes)
        start = self._take(n, "a string" if kind == "str" else "a bytes object")
        if n > CONCRETE_TEXT:
            return LONG_TEXT
        raw = bytes(self.data[start:start + n])
        if kind == "str":
            try:
                return raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise PickleRefused(f"a string at byte {start} is not valid UTF-8") from None
        return raw

    # ------------------------------------------------------------------------------------------------
    # The abstract stack.

    def _push(self, value: Any) -> None:
        self.stack.append(value)

    def _pop(self) -> Any:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise PickleRefused(f"the pickle pops an empty stack at byte {self.pos - 1} (malformed)")
        return self.stack.pop()

    def _top(self) -> Any:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise PickleRefused(f"the pickle reads an empty stack at byte {self.pos - 1} (malformed)")
        return self.stack[-1]

    def _pop_mark(self) -> list:
        if not self.marks:
            raise PickleRefused(f"the pickle closes a MARK it never opened at byte {self.pos - 1} (malformed)")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def _check_depth(self, depth: int) -> None:
        if depth > self.scan.max_depth:
            self.scan.max_depth = depth
            if depth > MAX_DEPTH:
                raise PickleRefused(f"it nests its data too deeply (more than {MAX_DEPTH} levels)")

    def _check_items(self, count: int) -> None:
        if count > MAX_CONTAINER_ITEMS:
            raise PickleRefused(f"a container holds more than {MAX_CONTAINER_ITEMS} items")

    def _container(self, kind: str, items: list) -> _Node:
        self._check_items(len(items))
        depth = 1 + max(map(_depth, items), default=0)
        self._check_depth(depth)
        nodes = 1
        if kind in HASHABLE_KINDS:
            nodes += sum(map(_hash_nodes, items))
            if nodes > MAX_HASH_NODES:
                raise PickleRefused(f"it builds a {kind} of more than {MAX_HASH_NODES} nested items "
                                    f"(hashing it would take too long)")
        kept = list(items) if items and kind in ("tuple", "list") and len(items) <= MAX_KEPT_ITEMS else None
        return _Node(kind, depth, nodes, kept, len(items))

    def _hash_into(self, target: _Node, keys: list) -> None:
        """Account for hashing `keys` into the dict or set `target`: nodes hashed and collisions probed."""
        self._add_hash_work(sum(_hash_nodes(key) + _collision_work(target, key) for key in keys))

    def _add_hash_work(self, work: int) -> None:
        self.hash_work += work
        if self.hash_work > MAX_HASH_WORK:
            raise PickleRefused("hashing its keys would take too long (colliding or huge keys)")

    def _grow(self, target: Any, items: list, keys: Optional[list] = None) -> None:
        """Items appended or set into the container on the stack: its size, depth and hashing work."""
        if not isinstance(target, _Node) or target.kind == "tuple":
            raise PickleRefused(f"the pickle adds items to something that is not a container at byte "
                                f"{self.pos - 1} (malformed)")
        if target.count == 0 and target.kind == "list":
            target.items = []
        target.count += len(keys) if keys is not None else len(items)
        self._check_items(target.count)
        target.depth = max(target.depth, 1 + max(map(_depth, items), default=0))
        self._check_depth(target.depth)
        if target.items is not None:
            target.items.extend(items)
            if len(target.items) > MAX_KEPT_ITEMS:
                target.items = None
        if keys is not None:
            self._hash_into(target, keys)

    def _built(self, args: list, call: Any = None) -> _Node:
        """The object a REDUCE/NEWOBJ/BINPERSID makes: it may wrap (and hash) its arguments."""
        depth = 1 + max(map(_depth, args), default=0)
        self._check_depth(depth)
        nodes = 1 + sum(map(_hash_nodes, args))
        if nodes > MAX_HASH_NODES:
            raise PickleRefused(f"it builds an object from more than {MAX_HASH_NODES} nested items")
        if isinstance(call, Global) and (call.module, call.name) in HASHING_CALLS:
            for arg in args:
                if isinstance(arg, _Node) and arg.items is not None:
                    self._hash_into(_Node("set", 0, 1), arg.items)
                elif isinstance(arg, _Node):
                    self._add_hash_work(arg.count * (arg.count + 1) // 2 + arg.count)
        return _Node("object", depth, nodes)

    # ------------------------------------------------------------------------------------------------
    # Opcodes.

    def _fixed_int(self, n: int, signed: bool) -> None:
        start = self._take(n)
        self._push(int.from_bytes(self.data[start:start + n], "little", signed=signed))

    def _mark(self) -> None:
        self.marks.append(len(self.stack))
        self._check_depth(len(self.marks))

    def _pop_op(self) -> None:
        if self.marks and len(self.stack) == self.marks[-1]:
            self._pop_mark()
        else:
            self._pop()

    def _text_number(self, kind: type) -> Any:
        text = self._line(MAX_NUMBER_TEXT).rstrip(b"L")
        if kind is int and text in (b"00", b"01"):
            return text == b"01"
        try:
            return kind(text)
        except ValueError:
            raise PickleRefused(f"a number at byte {self.pos} is malformed") from None

    def _binfloat(self) -> float:
        start = self._take(8)
        return struct.unpack(">d", self.data[start:start + 8])[0]

    def _long(self, length_bytes: int) -> int:
        n = self._unsigned(length_bytes)
        if n > MAX_LONG_BYTES:
            raise PickleRefused(f"an integer at byte {self.pos} has {n} bytes (at most {MAX_LONG_BYTES})")
        start = self._take(n)
        return int.from_bytes(self.data[start:start + n], "little", signed=True)

    def _text_string(self) -> Any:
        line = self._line()
        return line.decode("latin-1") if len(line) <= CONCRETE_TEXT else LONG_TEXT

    def _bytearray(self) -> Any:
        value = self._sized(8, "bytes")
        return value if value is LONG_TEXT else bytearray(value)

    def _tuple_n(self, n: int) -> None:
        items = [self._pop() for _ in range(n)][::-1]
        self._push(self._container("tuple", items))

    def _dict(self) -> None:
        items = self._pop_mark()
        node = self._container("dict", [])
        self._grow(node, items, keys=items[0::2])
        self._push(node)

    def _frozenset(self) -> None:
        items = self._pop_mark()
        node = self._container("frozenset", items)
        self._hash_into(_Node("set", 0, 1), items)
        self._push(node)

    def _grow_top(self, items: list) -> None:
        self._grow(self._top(), items)

    def _setitem(self) -> None:
        value, key = self._pop(), self._pop()
        self._grow(self._top(), [key, value], keys=[key])

    def _setitems(self) -> None:
        items = self._pop_mark()
        self._grow(self._top(), items, keys=items[0::2])

    def _additems(self) -> None:
        items = self._pop_mark()
        self._grow(self._top(), items, keys=items)

    def _text_index(self) -> int:
        text = self._line(MAX_NUMBER_TEXT)
        if not text.isdigit():
            raise PickleRefused(f"a memo index at byte {self.pos} is malformed")
        return int(text)

    def _get(self, index: int) -> None:
        if index >= len(self.memo):
            raise PickleRefused(f"it reads memo entry {index}, which it never stored")
        self._push(self.memo[index])

    def _put(self, index: int) -> None:
        """Picklers number memo entries 0, 1, 2, ...: a larger index only serves to make the reader allocate."""
        value = self._top()
        if index > len(self.memo):
            raise PickleRefused(f"it stores memo entry {index} while only {len(self.memo)} exist "
                                f"(a huge memo index makes the reader allocate gigabytes)")
        if index == len(self.memo):
            self.memo.append(value)
        else:
            self.memo[index] = value

    def _global(self) -> None:
        module = self._line(CONCRETE_TEXT).decode("utf-8", "replace")
        name = self._line(CONCRETE_TEXT).decode("utf-8", "replace")
        self._add_global(module, name)

    def _stack_global(self) -> None:
        name, module = self._pop(), self._pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleRefused("a STACK_GLOBAL names its global with something other than short strings")
        self._add_global(module, name)

    def _add_global(self, module: str, name: str) -> None:
        self.scan.globals.append((module, name))
        self._push(Global(module, name))

    def _reduce(self) -> None:
        args, call = self._pop(), self._pop()
        if not isinstance(args, _Node) or args.kind != "tuple":
            raise PickleRefused(f"a call at byte {self.pos - 1} has arguments that are not a tuple")
        items = args.items if args.items is not None else [args] * (args.count > 0)
        self._push(self._watched(call, items, self._built(items, call)))

    def _newobj(self) -> None:
        args, cls = self._pop(), self._pop()
        self._push(self._watched(cls, [args], self._built([args], cls)))

    def _newobj_ex(self) -> None:
        kwargs, args, cls = self._pop(), self._pop(), self._pop()
        self._push(self._watched(cls, [args, kwargs], self._built([args, kwargs], cls)))

    def _watched(self, call: Any, args: list, result: _Node) -> _Node:
        if isinstance(call, Global) and (call.module, call.name) in self.watch:
            self.scan.calls.append(((call.module, call.name), [concrete(arg) for arg in args]))
            result.made_by = f"{call.module}.{call.name}"
        return result

    def _build(self) -> None:
        state = self._pop()
        target = self._top()
        if not isinstance(target, _Node):
            raise PickleRefused(f"the pickle sets the state of a plain value at byte {self.pos - 1} (malformed)")
        if target.made_by is not None:
            raise PickleRefused(f"the pickle changes what '{target.made_by}' rebuilt afterwards (BUILD at byte "
                                f"{self.pos - 1}), which weights files never do")
        target.depth = max(target.depth, 1 + _depth(state))
        self._check_depth(target.depth)

    def _persistent(self, pid: Any) -> None:
        self.scan.persistent_ids.append(concrete(pid))
        self._push(self._built([pid]))

    def _frame(self) -> None:
        """Protocol 4 frames group the opcodes that follow; the reader may buffer a whole frame at once."""
        n = self._unsigned(8)
        if n > self.size - self.pos:
            raise PickleTruncated(f"a frame at byte {self.pos} declares {n} bytes but only "
                                  f"{self.size - self.pos} remain")

    def _proto(self) -> None:
        version = self._unsigned(1)
        if version > 5:
            raise PickleRefused(f"it declares pickle protocol {version}, which does not exist")


# Opcodes a weights file may use, by byte: what each does to the abstract stack. Missing ones (EXT*,
# INST/OBJ of protocols 0-1, out-of-band buffers) are refused.
Handler = Callable[[_Scanner], None]
HANDLERS: Dict[int, Handler] = {code[0]: handler for code, handler in {
    b"(": _Scanner._mark, b"0": _Scanner._pop_op, b"1": lambda s: s._pop_mark(), b"2": lambda s: s._push(s._top()),
    b"N": lambda s: s._push(None), b"\x88": lambda s: s._push(True), b"\x89": lambda s: s._push(False),
    b"J": lambda s: s._fixed_int(4, True), b"K": lambda s: s._fixed_int(1, False),
    b"M": lambda s: s._fixed_int(2, False),
    b"I": lambda s: s._push(s._text_number(int)), b"L": lambda s: s._push(s._text_number(int)),
    b"F": lambda s: s._push(s._text_number(float)), b"G": lambda s: s._push(s._binfloat()),
    b"\x8a": lambda s: s._push(s._long(1)), b"\x8b": lambda s: s._push(s._long(4)),
    b"S": lambda s: s._push(s._text_string()), b"V": lambda s: s._push(s._text_string()),
    b"T": lambda s: s._push(s._sized(4, "bytes")), b"U": lambda s: s._push(s._sized(1, "bytes")),
    b"B": lambda s: s._push(s._sized(4, "bytes")), b"C": lambda s: s._push(s._sized(1, "bytes")),
    b"\x8e": lambda s: s._push(s._sized(8, "bytes")), b"\x96": lambda s: s._push(s._bytearray()),
    b"X": lambda s: s._push(s._sized(4, "str")), b"\x8c": lambda s: s._push(s._sized(1, "str")),
    b"\x8d": lambda s: s._push(s._sized(8, "str")),
    b")": lambda s: s._push(s._container("tuple", [])), b"]": lambda s: s._push(s._container("list", [])),
    b"}": lambda s: s._push(s._container("dict", [])), b"\x8f": lambda s: s._push(s._container("set", [])),
    b"t": lambda s: s._push(s._container("tuple", s._pop_mark())),
    b"l": lambda s: s._push(s._container("list", s._pop_mark())),
    b"\x85": lambda s: s._tuple_n(1), b"\x86": lambda s: s._tuple_n(2), b"\x87": lambda s: s._tuple_n(3),
    b"d": _Scanner._dict, b"\x91": _Scanner._frozenset,
    b"a": lambda s: s._grow_top([s._pop()]), b"e": lambda s: s._grow_top(s._pop_mark()),
    b"s": _Scanner._setitem, b"u": _Scanner._setitems, b"\x90": _Scanner._additems,
    b"g": lambda s: s._get(s._text_index()), b"h": lambda s: s._get(s._unsigned(1)),
    b"j": lambda s: s._get(s._unsigned(4)),
    b"p": lambda s: s._put(s._text_index()), b"q": lambda s: s._put(s._unsigned(1)),
    b"r": lambda s: s._put(s._unsigned(4)), b"\x94": lambda s: s._put(len(s.memo)),
    b"c": _Scanner._global, b"\x93": _Scanner._stack_global,
    b"R": _Scanner._reduce, b"\x81": _Scanner._newobj, b"\x92": _Scanner._newobj_ex, b"b": _Scanner._build,
    b"Q": lambda s: s._persistent(s._pop()), b"P": lambda s: s._persistent(s._text_string()),
    b"\x80": _Scanner._proto, b"\x95": _Scanner._frame,
}.items()}
