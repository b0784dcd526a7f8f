"""QR codes of generated keys' URLs, as base64 PNG (segno's pure-Python encoder and writer)."""

from __future__ import annotations

import base64
import io

import segno

__all__ = ["QrTooLarge", "barcode_png_base64"]

# segno's default quiet zone, in modules.
_BORDER = 4


class QrTooLarge(ValueError):
    """The text does not fit in the largest QR code (version 40)."""


def barcode_png_base64(url: str, size: int) -> str:
    """A PNG of ``url``'s QR code (error correction M, like Vault's) at most ``size`` pixels wide.

    Vault stretches the symbol to exactly ``size`` by ``size`` pixels; segno scales by whole
    modules so every module stays sharp, which makes the image the largest multiple of the
    symbol's width that fits in ``size`` (and never smaller than one pixel per module).
    """
    try:
        code = segno.make_qr(url, error="m", boost_error=False)
    except segno.DataOverflowError:
        raise QrTooLarge from None
    width = code.symbol_size(scale=1, border=_BORDER)[0]
    scale = max(1, size // width)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=_BORDER)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
