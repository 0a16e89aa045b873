#!/usr/bin/python3
"""An independent gRPC client for mqbroker, built with a stock toolchain.

Generates Python stubs from sdk/c/proto/mq/v1/broker.proto with
grpc_tools.protoc into a temp dir, then calls every RPC of mq.v1.Broker through
grpc.insecure_channel. Record batches are built here (Kafka RecordBatch v2 with
this file's own CRC32C), so nothing is shared with the C codec but the spec.

Usage: client.py --addr HOST:PORT --topic T --partitions N --proto-dir DIR
Exit 0 when every check passes; otherwise each failure is printed to stderr.
"""
import argparse
import importlib
import os
import shutil
import struct
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

UNKNOWN_TOPIC = 5  # wire code of MQ_ERR_UNKNOWN_TOPIC (-5)
CORRUPT_MESSAGE = 10  # wire code of MQ_ERR_CORRUPT_MESSAGE (-10)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


# ---- CRC32C (Castagnoli, reflected 0x82F63B78) -------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- varints and RecordBatch v2 ------------------------------------------------

def zigzag_varint(n):
    z = (n << 1) ^ (n >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def read_varint(buf, pos):
    shift = 0
    z = 0
    while True:
        b = buf[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
    return (z >> 1) ^ -(z & 1), pos


def build_batch(records, base_ts):
    """records: list of (key bytes, value bytes). Returns the batch bytes."""
    body = bytearray()
    for i, (key, value) in enumerate(records):
        rec = bytearray()
        rec += b"\x00"  # attributes
        rec += zigzag_varint(i)  # timestamp delta
        rec += zigzag_varint(i)  # offset delta
        rec += zigzag_varint(len(key)) + key
        rec += zigzag_varint(len(value)) + value
        rec += zigzag_varint(0)  # headers
        body += zigzag_varint(len(rec)) + rec
    n = len(records)
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, base_ts, base_ts + n - 1, -1, -1, -1, n)
    after_crc += bytes(body)
    crc = crc32c(after_crc)
    batch_length = 4 + 1 + 4 + len(after_crc)  # leader epoch, magic, crc, rest
    return struct.pack(">qiibI", 0, batch_length, -1, 2, crc) + after_crc


def parse_batches(buf):
    """Yields (base_offset, batch bytes, [(offset, key, value)])."""
    pos = 0
    while pos + 12 <= len(buf):
        base_offset, batch_length = struct.unpack_from(">qi", buf, pos)
        end = pos + 12 + batch_length
        batch = buf[pos:end]
        (crc,) = struct.unpack_from(">I", batch, 17)
        check(crc == crc32c(batch[21:]), "fetched batch CRC32C matches")
        (count,) = struct.unpack_from(">i", batch, 57)
        recs = []
        p = 61
        for _ in range(count):
            length, p = read_varint(batch, p)
            rec_end = p + length
            p += 1  # attributes
            _, p = read_varint(batch, p)  # timestamp delta
            odelta, p = read_varint(batch, p)
            klen, p = read_varint(batch, p)
            key = batch[p:p + klen] if klen >= 0 else None
            p += max(klen, 0)
            vlen, p = read_varint(batch, p)
            value = batch[p:p + vlen] if vlen >= 0 else None
            p = rec_end
            recs.append((base_offset + odelta, key, value))
        yield base_offset, bytes(batch), recs
        pos = end


# ---- stubs ---------------------------------------------------------------------

def load_stubs(proto_dir, out_dir):
    rc = protoc.main([
        "grpc_tools.protoc", "-I" + proto_dir, "--python_out=" + out_dir,
        "--grpc_python_out=" + out_dir, "mq/v1/broker.proto"])
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed with %d" % rc)
    sys.path.insert(0, out_dir)
    pb2 = importlib.import_module("mq.v1.broker_pb2")
    pb2_grpc = importlib.import_module("mq.v1.broker_pb2_grpc")
    return pb2, pb2_grpc


# ---- the checks ----------------------------------------------------------------

def run(args, pb2, stub, channel):
    topic = args.topic
    md = stub.Metadata(pb2.MetadataRequest(topics=[topic]), timeout=20)
    check(md.protocol_version == 1, "Metadata protocol_version is 1 (got %d)" % md.protocol_version)
    check(len(md.brokers) >= 1, "Metadata lists a broker")
    names = [t.name for t in md.topics]
    if check(topic in names, "Metadata lists topic %s (got %s)" % (topic, names)):
        t = md.topics[names.index(topic)]
        check(t.error_code == 0, "topic error_code 0 (got %d)" % t.error_code)
        check(len(t.partitions) == args.partitions,
              "topic has %d partitions (got %d)" % (args.partitions, len(t.partitions)))

    now = int(time.time() * 1000)
    batches = []
    for b in range(3):
        recs = [(("key-%d-%d" % (b, i)).encode(), ("value %d %d ".encode() % (b, i)) * 7)
                for i in range(5 + b)]
        batches.append((recs, build_batch(recs, now + b * 100)))

    offsets = []
    for recs, batch in batches:
        req = pb2.ProduceRequest(acks=-1, timeout_ms=10000, batches=[
            pb2.PartitionBatch(topic=topic, partition=0, records=batch)])
        resp = stub.Produce(req, timeout=20)
        if not check(len(resp.results) == 1, "Produce returns one result"):
            return
        r = resp.results[0]
        check(r.error_code == 0, "Produce error_code 0 (got %d %s)" % (r.error_code, r.error_message))
        offsets.append(r.base_offset)
    expect = 0
    for (recs, _), off in zip(batches, offsets):
        check(off == expect, "base offset %d expected, got %d" % (expect, off))
        expect += len(recs)
    total = expect

    fetched = bytearray()
    pos = 0
    while pos < total:
        req = pb2.FetchRequest(max_wait_ms=100, min_bytes=1, max_bytes=1 << 20, partitions=[
            pb2.FetchPartition(topic=topic, partition=0, fetch_offset=pos,
                               partition_max_bytes=1 << 20)])
        resp = stub.Fetch(req, timeout=20)
        p = resp.partitions[0]
        if not check(p.error_code == 0 and len(p.records) > 0,
                     "Fetch at %d returns records (error %d)" % (pos, p.error_code)):
            return
        check(p.high_watermark == total, "high watermark %d (got %d)" % (total, p.high_watermark))
        got = list(parse_batches(p.records))
        fetched += p.records
        last_base, _, last_recs = got[-1]
        pos = last_recs[-1][0] + 1
    got = list(parse_batches(bytes(fetched)))
    check(len(got) == len(batches), "fetched %d batches (got %d)" % (len(batches), len(got)))
    for (recs, sent), off, (base, stored, frecs) in zip(batches, offsets, got):
        check(base == off, "stored batch base offset %d (got %d)" % (off, base))
        check(stored[8:] == sent[8:], "stored batch at %d equals the sent one after the base offset" % off)
        check([(k, v) for _, k, v in frecs] == recs, "records at %d round-trip" % off)

    def list_offset(ts):
        resp = stub.ListOffsets(pb2.ListOffsetsRequest(partitions=[
            pb2.ListOffsetsPartition(topic=topic, partition=0, timestamp=ts)]), timeout=20)
        r = resp.results[0]
        check(r.error_code == 0, "ListOffsets(%d) error 0 (got %d)" % (ts, r.error_code))
        return r.offset

    check(list_offset(-2) == 0, "earliest offset 0")
    check(list_offset(-1) == total, "latest offset %d" % total)
    # The second batch starts at now+100: the first record at or after it.
    check(list_offset(now + 100) == offsets[1],
          "offset for timestamp now+100 is %d (got %d)" % (offsets[1], list_offset(now + 100)))

    # Long poll at the log end comes back empty after about max_wait.
    t0 = time.monotonic()
    resp = stub.Fetch(pb2.FetchRequest(max_wait_ms=300, min_bytes=1, partitions=[
        pb2.FetchPartition(topic=topic, partition=0, fetch_offset=total,
                           partition_max_bytes=1 << 20)]), timeout=20)
    took = time.monotonic() - t0
    check(len(resp.partitions[0].records) == 0, "fetch at the log end is empty")
    check(took >= 0.25, "fetch at the log end waited max_wait (took %.3f s)" % took)

    # Per-partition errors ride in an OK response.
    bad = bytearray(batches[0][1])
    bad[-1] ^= 0xFF
    resp = stub.Produce(pb2.ProduceRequest(acks=1, batches=[
        pb2.PartitionBatch(topic="no-such-topic-interop", partition=0, records=batches[0][1]),
        pb2.PartitionBatch(topic=topic, partition=0, records=bytes(bad))]), timeout=20)
    codes = [r.error_code for r in resp.results]
    check(codes == [UNKNOWN_TOPIC, CORRUPT_MESSAGE],
          "unknown topic and bad CRC give codes %s (got %s)" % ([UNKNOWN_TOPIC, CORRUPT_MESSAGE], codes))

    # An RPC the service does not have is UNIMPLEMENTED.
    nope = channel.unary_unary("/mq.v1.Broker/Nope", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=pb2.MetadataResponse.FromString)
    try:
        nope(pb2.MetadataRequest(), timeout=20)
        check(False, "unknown method fails")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED,
              "unknown method is UNIMPLEMENTED (got %s)" % e.code())

    md = stub.Metadata(pb2.MetadataRequest(topics=["no-such-topic-interop"]), timeout=20)
    check(len(md.topics) == 1 and md.topics[0].error_code == UNKNOWN_TOPIC,
          "Metadata for an unknown topic has error_code %d" % UNKNOWN_TOPIC)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()

    out_dir = tempfile.mkdtemp(prefix="mq-interop-")
    try:
        pb2, pb2_grpc = load_stubs(args.proto_dir, out_dir)
        with grpc.insecure_channel(args.addr) as channel:
            stub = pb2_grpc.BrokerStub(channel)
            run(args, pb2, stub, channel)
    except grpc.RpcError as e:
        failures.append("RPC failed: %s %s" % (e.code(), e.details()))
        print("FAIL: RPC failed: %s %s" % (e.code(), e.details()), file=sys.stderr)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("interop: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
