"""Read TFRecord files and protobuf messages without TensorFlow.

TFRecord framing, per record: ``uint64 length`` (little-endian), ``uint32
masked_crc32c(length bytes)``, ``length`` bytes of data, ``uint32
masked_crc32c(data)``. The mask is ``((crc >> 15) | (crc << 17)) + 0xa282ead8``
(mod 2**32). CRC-32C is the Castagnoli polynomial (reflected 0x82F63B78).

Protobuf wire format: a message is a sequence of (key, value) where key =
varint ``field_number << 3 | wire_type``; wire types 0 varint, 1 fixed 64-bit,
2 length-delimited, 5 fixed 32-bit (3/4, groups, are not supported).
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

from nasframe.errors import DataError

_POLY = 0x82F63B78
_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)
_TABLE = tuple(_TABLE)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def iter_records(path: str | Path, verify: bool = True, progress=None) -> Iterator[bytes]:
    """Yield the data of every record; ``DataError`` on a truncated file or a CRC mismatch.

    The length CRC is always checked (it catches a file that is not a
    TFRecord at the first record); ``verify`` also checks every data CRC (pure
    Python, about 1 s per few MB). ``progress`` is called with the bytes read.
    """
    path = Path(path)
    with open(path, "rb") as f:
        offset = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DataError(f"{path} is truncated at byte {offset} (incomplete record header); re-download it")
            length_bytes = header[:8]
            (length,), (length_crc,) = struct.unpack("<Q", length_bytes), struct.unpack("<I", header[8:])
            if masked_crc32c(length_bytes) != length_crc:
                raise DataError(f"{path} is not a TFRecord file or is corrupt (bad length checksum at byte "
                                f"{offset}); re-download it")
            data = f.read(length)
            footer = f.read(4)
            if len(data) < length or len(footer) < 4:
                raise DataError(f"{path} is truncated at byte {offset} (record of {length} bytes); re-download it")
            if verify and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise DataError(f"{path} is corrupt (bad data checksum in the record at byte {offset}); "
                                "re-download it")
            offset += 16 + length
            if progress is not None:
                progress(16 + length)
            yield data


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """Yield (field number, wire type, value) of a serialized protobuf message.

    Values: int for varint, bytes for length-delimited, the raw 8 or 4 bytes
    for fixed-width fields (decode with ``struct``). ``ValueError`` on bad input.
    """
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (field {field})")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        yield field, wire, value


def as_double(raw: bytes) -> float:
    return struct.unpack("<d", raw)[0]


def as_int32(value: int) -> int:
    """A varint-encoded int32 (negative values arrive as 64-bit two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value
