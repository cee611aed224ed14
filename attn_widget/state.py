"""The view state: which slice is shown and how (layer, head or mean, case, gamma, ...).

One value type, one :meth:`ViewState.check`, used by the widget's traits, the
figure export and the saved page alike, so a rule (a range, a format) is
written once. "Mean of heads" has one encoding everywhere: ``head=None`` in
Python, ``null`` on the wire and in the view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

__all__ = [
    "GAMMA_MAX",
    "GAMMA_MIN",
    "MEAN",
    "Selection",
    "Shaped",
    "ViewState",
    "Window",
    "check_gamma",
    "check_index",
    "check_selection",
    "check_window",
    "selection_help",
    "with_overrides",
]

# The head of the mean of heads.
MEAN = None

# The contrast exponent's one range: the view's slider, the traits, the
# figures and the command line all take gamma in GAMMA_MIN..GAMMA_MAX.
GAMMA_MIN = 0.1
GAMMA_MAX = 5.0

# The view-state fields an export may override (everything else is a figure option).
STATE_FIELDS = ("layer", "head", "case", "gamma", "selection", "window")

# {"kind": "query"|"key", "index": i} or {"kind": "cell", "q": i, "k": j}
Selection = dict[str, Any]
Window = tuple[int, int, int, int]  # half-open rows and columns (q0, q1, k0, k1)


class Shaped(Protocol):
    """What the checks read of a source: its counts and each case's shape."""

    n_layers: int
    n_heads: int

    @property
    def n_cases(self) -> int: ...

    def shape(self, case: int = 0) -> tuple[int, int]: ...


def check_index(name: str, value: Any, count: int, *, negative: bool = False) -> int:
    """``value`` as an index ``0..count-1`` of ``name`` (layer, head, case), else a ValueError.

    With ``negative=True`` (what Python callers get: the widget's traits, the
    figures) ``-count..-1`` count from the end, as numpy does, and come back
    normalised: ``-1`` is ``count - 1``. The view never sends negative indices,
    so its requests are checked without.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    lo = -count if negative else 0
    if not lo <= value < count:
        note = f" (or -{count}..-1, counting from the end)" if negative else ""
        raise ValueError(f"{name}: expected 0..{count - 1}, got {value}{note}")
    return int(value) % count if count else int(value)


def check_gamma(value: Any) -> float:
    """The contrast exponent: a finite number in ``GAMMA_MIN..GAMMA_MAX`` (the slider's range)."""
    expected = (
        f"gamma: expected a finite number > 0 in {GAMMA_MIN:g}..{GAMMA_MAX:g} "
        "(the contrast slider's range)"
    )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{expected}, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and GAMMA_MIN <= number <= GAMMA_MAX):
        raise ValueError(f"{expected}, got {value!r}")
    return number


def selection_help(q: int, k: int) -> str:
    return (
        "selection: expected None, {'kind': 'query'|'key', 'index': i} or "
        f"{{'kind': 'cell', 'q': i, 'k': j}} inside the {q} x {k} matrix"
    )


def check_selection(selection: Any, q: int, k: int) -> Selection | None:
    """The locked selection in its one form, checked against a ``q x k`` matrix.

    ``None`` (or an empty dict) is no selection; anything that is not a dict
    of the two forms (a bare index, a tuple) is a ValueError that shows them.
    """
    if selection is None or (isinstance(selection, Mapping) and not selection):
        return None
    expected = f"{selection_help(q, k)}; got {selection!r}"
    if not isinstance(selection, Mapping):
        raise ValueError(expected)

    def index(name: str, limit: int) -> int:
        value = selection.get(name)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ValueError(expected)
        if not 0 <= value < limit:
            raise ValueError(expected)
        return int(value)

    kind = selection.get("kind")
    if kind == "query":
        return {"kind": "query", "index": index("index", q)}
    if kind == "key":
        return {"kind": "key", "index": index("index", k)}
    if kind == "cell":
        return {"kind": "cell", "q": index("q", q), "k": index("k", k)}
    raise ValueError(expected)


def check_window(value: Any, q: int, k: int) -> Window | None:
    """A zoomed view's rows and columns, half-open ``(q0, q1, k0, k1)`` inside the matrix."""
    if value is None:
        return None
    expected = (
        f"window: expected (q0, q1, k0, k1) with 0 <= q0 < q1 <= {q} and 0 <= k0 < k1 <= {k} "
        "(half-open rows and columns)"
    )
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 4:
        raise ValueError(f"{expected}, got {value!r}")
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{expected}, got {tuple(value)!r}")
    q0, q1, k0, k1 = (int(v) for v in value)
    if not (0 <= q0 < q1 <= q and 0 <= k0 < k1 <= k):
        raise ValueError(f"{expected}, got {(q0, q1, k0, k1)!r}")
    return q0, q1, k0, k1


@dataclass(frozen=True)
class ViewState:
    """What the view shows: one slice of one source, and how.

    ``head=None`` is the mean of heads. ``selection`` is the locked token or
    cell (see :func:`check_selection`); ``window`` the zoomed rows and columns
    (None: the whole matrix).
    """

    layer: int = 0
    head: int | None = 0
    case: int = 0
    gamma: float = 1.0
    selection: Selection | None = None
    window: Window | None = None

    def check(self, source: Shaped) -> ViewState:
        """This state checked against ``source``, in its one normal form; else a ValueError.

        Negative layer, head and case count from the end (``-1``: the last), as
        in numpy; the state that comes back holds them as ``0..n-1``.
        """
        layer = check_index("layer", self.layer, source.n_layers, negative=True)
        case = check_index("case", self.case, source.n_cases, negative=True)
        head = (
            None
            if self.head is MEAN
            else check_index("head", self.head, source.n_heads, negative=True)
        )
        q, k = source.shape(case)
        return replace(
            self,
            layer=layer,
            head=head,
            case=case,
            gamma=check_gamma(self.gamma),
            selection=check_selection(self.selection, q, k),
            window=check_window(self.window, q, k),
        )

    @property
    def mean(self) -> bool:
        return self.head is MEAN


def with_overrides(
    state: ViewState, options: Mapping[str, Any]
) -> tuple[ViewState, dict[str, Any]]:
    """``state`` with the view-state fields of ``options`` put in, and the other options.

    What an export call gives (``export_pdf(path, gamma=2, layer=-1)``) wins
    over what the view shows, for that export only. ``head="mean"`` (or
    ``None`` given explicitly) is the mean of heads. A different case drops
    the selection and the window, which belong to the view's case, unless
    they are given too. Nothing is checked here: :meth:`ViewState.check` does.
    """
    rest = {name: value for name, value in options.items() if name not in STATE_FIELDS}
    fields = {name: options[name] for name in STATE_FIELDS if name in options}
    if "head" in fields and (fields["head"] is None or fields["head"] == "mean"):
        fields["head"] = MEAN
    if "case" in fields and fields["case"] != state.case:
        fields.setdefault("selection", None)
        fields.setdefault("window", None)
    return replace(state, **fields), rest
