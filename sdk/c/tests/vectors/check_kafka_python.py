#!/usr/bin/env python3
"""Cross-checks the vectors against a third implementation of the format:
kafka-python's RecordBatch v2 code (a by-hand check, not part of the test
suite: kafka-python is not a dependency of mq).

    pip install --target /tmp/kp kafka-python
    PYTHONPATH=/tmp/kp python3 check_kafka_python.py

It decodes every uncompressed vector and compares the records with
vectors.json, and builds batch_simple.bin with kafka-python's builder. The
only expected difference is partitionLeaderEpoch (bytes 12-15, outside the
CRC): kafka-python writes 0 where mq and the Java client write -1.
"""
import json
import os
import sys

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

HERE = os.path.dirname(os.path.abspath(__file__))


def hx(b):
    return None if b is None else bytes(b).hex()


def main():
    vectors = json.load(open(os.path.join(HERE, "vectors.json")))
    bad = 0
    for b in vectors["batches"]:
        if b["compression"] != "none" or b["expect_error"] == "MQ_ERR_INVALID_BATCH":
            continue
        data = open(os.path.join(HERE, b["file"]), "rb").read()
        batch = DefaultRecordBatch(bytearray(data))
        crc_ok = batch.validate_crc()
        got = [
            (r.offset, r.timestamp, hx(r.key), hx(r.value),
             [(k.encode().hex(), hx(v)) for k, v in r.headers])
            for r in batch
        ]
        want = [
            (r["offset"], r["timestamp"], r["key_hex"], r["value_hex"],
             [(h["key_hex"], h["value_hex"]) for h in r["headers"]])
            for r in b["records"]
        ]
        ok = got == want and crc_ok == (b["expect_error"] is None)
        print("%-20s %s" % (b["file"], "ok" if ok else "MISMATCH"))
        bad += not ok

    b = vectors["batches"][0]
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False, producer_id=b["producer_id"],
        producer_epoch=b["producer_epoch"], base_sequence=b["base_sequence"], batch_size=1 << 20)
    for r in b["records"]:
        builder.append(
            r["offset_delta"], r["timestamp"],
            None if r["key_hex"] is None else bytes.fromhex(r["key_hex"]),
            None if r["value_hex"] is None else bytes.fromhex(r["value_hex"]),
            [(bytes.fromhex(h["key_hex"]).decode(),
              None if h["value_hex"] is None else bytes.fromhex(h["value_hex"]))
             for h in r["headers"]])
    built = bytes(builder.build())
    ref = open(os.path.join(HERE, b["file"]), "rb").read()
    diff = [i for i in range(max(len(built), len(ref)))
            if i >= len(built) or i >= len(ref) or built[i] != ref[i]]
    ok = diff == [12, 13, 14, 15]
    print("%-20s %s (differing bytes %s)" % ("build " + b["file"], "ok" if ok else "MISMATCH", diff))
    bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
