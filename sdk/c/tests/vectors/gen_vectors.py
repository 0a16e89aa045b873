#!/usr/bin/env python3
"""Generates mq's wire test vectors with an implementation independent of the
C codec: Python 3 standard library only, its own CRC32C table and varints.

    gen_vectors.py            write the .bin files and vectors.json here
    gen_vectors.py --check    regenerate in memory, compare with the files

The uncompressed batches are pinned byte for byte: the C tests build the same
records and must produce exactly these bytes. The lz4 and zstd batches are
compressed by the `lz4` and `zstd` command-line tools (frame format), so their
bytes depend on the tool version; other implementations should only check that
they decode to the records in vectors.json. docs/protocol.md describes the
layout and how to use these files.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- CRC32C (Castagnoli), reflected polynomial 0x82F63B78 -------------------

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# RFC 3720 (iSCSI) appendix B.4 check values: the table code must hit them.
assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA
assert crc32c(b"\xff" * 32) == 0x62A8AB43
assert crc32c(bytes(range(32))) == 0x46DD794E
assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C

# ---- zig-zag varints --------------------------------------------------------


def uvarint(u):
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def varint(v):
    """Kafka varint (32-bit, zig-zag)."""
    assert -(2**31) <= v < 2**31
    return uvarint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)


def varlong(v):
    """Kafka varlong (64-bit, zig-zag)."""
    assert -(2**63) <= v < 2**63
    return uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


# ---- RecordBatch v2 ---------------------------------------------------------

COMPRESSION = {"none": 0, "lz4": 3, "zstd": 4}
LOG_APPEND_TIME = 0x08


def nullable(b):
    return varint(-1) if b is None else varint(len(b)) + b


def encode_record(offset_delta, ts_delta, key, value, headers):
    body = bytearray()
    body += b"\x00"  # attributes, unused
    body += varlong(ts_delta)
    body += varint(offset_delta)
    body += nullable(key)
    body += nullable(value)
    body += varint(len(headers))
    for hk, hv in headers:
        body += varint(len(hk)) + hk
        body += nullable(hv)
    return varint(len(body)) + bytes(body)


def compress(codec, data):
    if codec == "lz4":
        cmd = ["lz4", "-q", "-c", "-z"]
    else:
        cmd = ["zstd", "-q", "-c", "-3"]
    if not shutil.which(cmd[0]):
        raise RuntimeError(cmd[0] + " command-line tool not found")
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout


def encode_batch(spec):
    recs = spec["records"]
    base_ts = recs[0]["timestamp"]
    records = b"".join(
        encode_record(i, r["timestamp"] - base_ts, r["key"], r["value"], r["headers"])
        for i, r in enumerate(recs)
    )
    codec = spec.get("compression", "none")
    if codec != "none":
        records = compress(codec, records)
    attributes = COMPRESSION[codec]
    max_ts = max(r["timestamp"] for r in recs)
    if spec.get("log_append_time") is not None:
        attributes |= LOG_APPEND_TIME
        max_ts = spec["log_append_time"]
    # Everything after the CRC field, which the CRC covers.
    count = spec.get("record_count", len(recs))  # may lie on purpose
    tail = struct.pack(
        ">hiqqqhii",
        attributes,
        count - 1,
        base_ts,
        max_ts,
        spec["producer_id"],
        spec["producer_epoch"],
        spec["base_sequence"],
        count,
    )
    tail += records
    crc = crc32c(tail)
    if spec.get("corrupt_crc"):
        crc ^= 0xFFFFFFFF
    batch_length = 4 + 1 + 4 + len(tail)  # leader epoch, magic, crc, rest
    head = struct.pack(">qiibI", spec.get("base_offset", 0), batch_length, -1, 2, crc)
    return head + tail, crc, base_ts, max_ts


T0 = 1700000000000  # 2023-11-14T22:13:20Z in ms

SIMPLE = [
    {"timestamp": T0, "key": b"key-0", "value": b"value-0", "headers": [(b"trace", b"abc")]},
    {"timestamp": T0 + 10, "key": None, "value": b"value-1", "headers": []},
    {"timestamp": T0 - 3, "key": b"k2", "value": None, "headers": [(b"h1", None), (b"h2", b"")]},
]
SINGLE = [{"timestamp": T0, "key": b"", "value": b"hello", "headers": []}]
HEADERS = [
    {
        "timestamp": T0,
        "key": bytes(range(256)),
        "value": b"v" * 300,
        "headers": [(b"a", b"1"), (b"bin", bytes([0, 255, 128, 127])), (b"big", b"h" * 200)],
    },
    {
        "timestamp": T0 + 1000000,
        "key": b"\x00",
        "value": b"",
        "headers": [(b"", b"empty key"), (b"n", None), (b"x" * 130, b"y")],
    },
]
COMPRESSIBLE = [
    {
        "timestamp": T0 + i,
        "key": b"key-%d" % i,
        "value": (b"payload %03d " % i) * 8,
        "headers": [(b"i", b"%d" % i)] if i % 2 else [],
    }
    for i in range(20)
]

# name, description, spec, expected C error when parsing/validating (None = valid)
BATCHES = [
    ("batch_simple", "3 records: key+value+header, null key, null value + null/empty header values; negative timestamp delta",
     {"records": SIMPLE, "producer_id": 1000, "producer_epoch": 2, "base_sequence": 7}, None),
    ("batch_single", "1 record with an empty (not null) key; no idempotence (producer fields -1)",
     {"records": SINGLE, "producer_id": -1, "producer_epoch": -1, "base_sequence": -1}, None),
    ("batch_headers", "2 records with multi-byte varint lengths (300-byte value, 256-byte key, 130-byte header key), binary bytes, empty header key",
     {"records": HEADERS, "producer_id": 9007199254740993, "producer_epoch": 32767, "base_sequence": 2147483000}, None),
    ("batch_offset", "batch_single after the broker assigned base offset 1234567 and log-append time; CRC recomputed for the time only",
     {"records": SINGLE, "producer_id": -1, "producer_epoch": -1, "base_sequence": -1,
      "base_offset": 1234567, "log_append_time": T0 + 777}, None),
    ("batch_lz4", "20 records, records compressed as one LZ4 frame (lz4 CLI); decode-only",
     {"records": COMPRESSIBLE, "producer_id": 5, "producer_epoch": 0, "base_sequence": 0, "compression": "lz4"}, None),
    ("batch_zstd", "20 records, records compressed as one zstd frame (zstd CLI); decode-only",
     {"records": COMPRESSIBLE, "producer_id": 5, "producer_epoch": 0, "base_sequence": 20, "compression": "zstd"}, None),
    ("batch_bad_crc", "batch_simple with the CRC inverted",
     {"records": SIMPLE, "producer_id": 1000, "producer_epoch": 2, "base_sequence": 7, "corrupt_crc": True},
     "MQ_ERR_CORRUPT_MESSAGE"),
    ("batch_bad_count", "batch_simple claiming 4 records (lastOffsetDelta 3, CRC valid) but holding 3",
     {"records": SIMPLE, "producer_id": 1000, "producer_epoch": 2, "base_sequence": 7, "record_count": 4},
     "MQ_ERR_INVALID_BATCH"),
]

VARINTS = [0, 1, -1, 63, -64, 64, -65, 300, -300, 8191, 8192, 2**31 - 1, -(2**31)]
VARLONGS = VARINTS + [2**31, -(2**31) - 1, 1700000000000, 2**63 - 1, -(2**63)]
BAD_VARINTS = [
    ("", "empty"),
    ("80", "truncated"),
    ("ffffffff", "truncated after 4 bytes"),
    ("ffffffffff01", "6 bytes: longer than a 32-bit varint may be"),
    ("ffffffff1f", "5th byte carries bits beyond 32"),
]
BAD_VARLONGS = [
    ("", "empty"),
    ("ff", "truncated"),
    ("ffffffffffffffffffff01", "11 bytes: longer than 10"),
    ("ffffffffffffffffff02", "10th byte carries bits beyond 64"),
]


def hx(b):
    return None if b is None else b.hex()


def build():
    files = {}
    batches = []
    for name, desc, spec, err in BATCHES:
        data, crc, base_ts, max_ts = encode_batch(spec)
        fname = name + ".bin"
        files[fname] = data
        log_append = spec.get("log_append_time")
        records = []
        for i, r in enumerate(spec["records"]):
            records.append({
                "offset": spec.get("base_offset", 0) + i,
                "offset_delta": i,
                "timestamp": log_append if log_append is not None else r["timestamp"],
                "timestamp_delta": r["timestamp"] - base_ts,
                "key_hex": hx(r["key"]),
                "value_hex": hx(r["value"]),
                "headers": [{"key_hex": hx(k), "value_hex": hx(v)} for k, v in r["headers"]],
            })
        codec = spec.get("compression", "none")
        batches.append({
            "file": fname,
            "description": desc,
            "expect_error": err,
            "byte_exact": codec == "none",
            "size": len(data),
            "base_offset": spec.get("base_offset", 0),
            "partition_leader_epoch": -1,
            "magic": 2,
            "crc": "%08x" % crc,
            "compression": codec,
            "attributes": struct.unpack(">h", data[21:23])[0],
            "last_offset_delta": spec.get("record_count", len(spec["records"])) - 1,
            "base_timestamp": base_ts,
            "max_timestamp": max_ts,
            "producer_id": spec["producer_id"],
            "producer_epoch": spec["producer_epoch"],
            "base_sequence": spec["base_sequence"],
            "record_count": spec.get("record_count", len(spec["records"])),
            "records": records,
        })
    doc = {
        "comment": "mq wire test vectors; generated by gen_vectors.py; see docs/protocol.md",
        "crc32c": [{"input_hex": d.hex(), "crc": "%08x" % crc32c(d)}
                   for d in [b"", b"123456789", bytes(32), b"\xff" * 32, bytes(range(32)),
                             b"The quick brown fox jumps over the lazy dog"]],
        "varint": [{"value": v, "hex": varint(v).hex()} for v in VARINTS],
        "varlong": [{"value": v, "hex": varlong(v).hex()} for v in VARLONGS],
        "varint_invalid": [{"hex": h, "why": w} for h, w in BAD_VARINTS],
        "varlong_invalid": [{"hex": h, "why": w} for h, w in BAD_VARLONGS],
        "batches": batches,
    }
    files["vectors.json"] = (json.dumps(doc, indent=1) + "\n").encode()
    return files


def main():
    check = "--check" in sys.argv[1:]
    files = build()
    bad = 0
    for name, data in sorted(files.items()):
        path = os.path.join(HERE, name)
        if not check:
            with open(path, "wb") as f:
                f.write(data)
            continue
        if "lz4" in name or "zstd" in name:
            continue  # tool-version dependent bytes
        with open(path, "rb") as f:
            old = f.read()
        if name == "vectors.json":
            # compressed entries differ in size/crc with the tool version
            strip = lambda d: [b for b in json.loads(d)["batches"] if b["byte_exact"]]
            same = strip(old) == strip(data)
        else:
            same = old == data
        if not same:
            print("differs: " + name)
            bad += 1
    if check:
        print("vectors: %d differ" % bad if bad else "vectors: all match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
