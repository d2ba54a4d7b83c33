"""Rounding of ``mean ± standard error`` for display by the Particle Data Group (PDG) convention."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

#: Default significant digits of a value printed without an error (zero or unknown error).
EXACT_DIGITS = 4
#: Values whose leading digit lies outside 10^-3 .. 10^4 print as ``(m ± e)e<k>``.
_PLAIN_EXPONENTS = range(-3, 5)


@dataclass(frozen=True)
class Rounded:
    """A value (and optionally its error) rounded for display.

    ``value`` / ``error`` are the mantissas as decimal strings, ``exponent`` the common power of
    ten (0 when printed plainly): the number is ``value × 10^exponent``.
    """

    value: str
    error: str | None = None
    exponent: int = 0

    @property
    def text(self) -> str:
        """``"1.23 ± 0.04"``, ``"(1.23 ± 0.04)e-5"``, ``"12.30"`` or ``"1.230e6"``."""
        if self.error is None:
            return self.value if self.exponent == 0 else f"{self.value}e{self.exponent}"
        body = f"{self.value} ± {self.error}"
        return body if self.exponent == 0 else f"({body})e{self.exponent}"

    @property
    def latex(self) -> str:
        r"""siunitx input: ``\num{1.23 \pm 0.04 e-5}``."""
        body = self.value if self.error is None else f"{self.value} \\pm {self.error}"
        if self.exponent:
            body += f" e{self.exponent}"
        return f"\\num{{{body}}}"

    @property
    def html(self) -> str:
        """``"(1.23 ± 0.04) × 10<sup>-5</sup>"`` (already escaped)."""
        if self.error is None:
            body = self.value
            return body if self.exponent == 0 else f"{body} × 10<sup>{self.exponent}</sup>"
        body = f"{self.value} ± {self.error}"
        return body if self.exponent == 0 else f"({body}) × 10<sup>{self.exponent}</sup>"


def _decimal(x: float) -> Decimal:
    # repr() is the shortest string that round-trips: 0.035 stays 0.035, not 0.03499999...
    return Decimal(repr(float(x)))


def _quantize(d: Decimal, exponent: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = max(28, d.adjusted() - exponent + 3)
        q = d.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    return q.copy_abs() if q.is_zero() else q  # no "-0.00"


def pdg_error_digits(stderr: float) -> tuple[Decimal, int]:
    """The PDG rounding of an error: ``(rounded error, exponent of its last kept digit)``.

    The three leading digits (truncated) decide: 100-354 keep two significant digits, 355-949
    keep one, 950-999 round up to 1000 and keep two (``0.0962 -> 0.10``). ``stderr > 0``.
    """
    err = _decimal(stderr)
    if not err > 0 or not err.is_finite():
        raise ValueError(f"the error must be finite and > 0, got {stderr!r}")
    lead = err.adjusted()  # power of ten of the leading digit
    three = int(err.scaleb(2 - lead).to_integral_value(rounding=ROUND_FLOOR))
    if three >= 950:
        return _quantize(Decimal(1).scaleb(lead + 1), lead), lead
    keep = 2 if three <= 354 else 1
    last = lead - keep + 1
    return _quantize(err, last), last


def _mantissa(d: Decimal, exponent: int) -> str:
    m = d.scaleb(-exponent)
    return format(m.copy_abs() if m.is_zero() else m, "f")


def round_to_error(value: float, stderr: float | None = None, *, exact_digits: int = EXACT_DIGITS) -> Rounded:
    """Round ``value ± stderr`` for display by the PDG convention (see :func:`pdg_error_digits`).

    The value is rounded to the decimal place of the error's last kept digit. A zero, missing or
    non-finite error prints the value to ``exact_digits`` significant digits. Numbers whose
    leading digit lies outside ``10^-3 .. 10^4`` share a power of ten, ``(1.23 ± 0.04)e-5``.
    A non-finite value prints as ``nan`` / ``inf`` / ``-inf``.
    """
    if value is None or not math.isfinite(float(value)):
        return Rounded("nan" if value is None or math.isnan(float(value)) else repr(float(value)))
    v = _decimal(value)
    if stderr is not None and float(stderr) < 0:
        raise ValueError(f"a standard error cannot be negative, got {stderr!r}")
    if stderr is None or not math.isfinite(float(stderr)) or float(stderr) == 0.0:
        if v.is_zero():
            return Rounded("0")
        last = v.adjusted() - exact_digits + 1
        r = _quantize(v, last)
        if r.adjusted() > v.adjusted():  # 9.9996 -> 10.000: drop the extra digit
            last += 1
            r = _quantize(v, last)
        lead = r.adjusted()
        exponent = 0 if lead in _PLAIN_EXPONENTS else lead
        return Rounded(_mantissa(r, exponent), None, exponent)
    err, last = pdg_error_digits(float(stderr))
    r = _quantize(v, last)
    lead = max(err.adjusted(), r.adjusted() if not r.is_zero() else err.adjusted())
    exponent = 0 if lead in _PLAIN_EXPONENTS else lead
    return Rounded(_mantissa(r, exponent), _mantissa(err, exponent), exponent)


__all__ = ["EXACT_DIGITS", "Rounded", "pdg_error_digits", "round_to_error"]
