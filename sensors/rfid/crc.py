"""CRC-16 variants used by the reader protocols.

Two different CRC-16s live here, and the difference matters:

* ``crc16_mcrf4xx``: the Chafon family (UHFReader18/288). Reflected polynomial
  0x8408, initial value 0xFFFF, no final xor (CRC-16/MCRF4XX, check value
  0x6F91 for ``b"123456789"``). Sent least-significant byte first.
* ``crc16_p3``: MYLAPS/AMB P3. Polynomial 0x1021, initial value 0xFFFF, MSB
  first, but in the decoder's *table form*: ``crc = T[crc >> 8] ^ (crc << 8) ^
  byte``. That is not the textbook CRC-16/CCITT-FALSE (the byte is folded in
  after the shift, not before the lookup), and only this form validates the
  1,388 frames of the real capture ``data/mylaps-p3/amb.out``. It is computed
  over the unescaped frame, 0x8E to 0x8F inclusive, with the CRC field zeroed,
  and stored little-endian.
"""

from __future__ import annotations


def _p3_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table.append(crc)
    return tuple(table)


def _mcrf4xx_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_P3_TABLE = _p3_table()
_MCRF4XX_TABLE = _mcrf4xx_table()


def crc16_mcrf4xx(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MCRF4XX of ``data`` (Chafon frames: computed over Len..Data)."""
    crc = 0xFFFF
    table = _MCRF4XX_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc16_p3(data: bytes | bytearray | memoryview) -> int:
    """The P3 decoder's CRC-16 (table form, see the module note) of ``data``."""
    crc = 0xFFFF
    table = _P3_TABLE
    for byte in data:
        crc = (table[crc >> 8] ^ (crc << 8) ^ byte) & 0xFFFF
    return crc
