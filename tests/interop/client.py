#!/usr/bin/python3
"""An independent gRPC client for mqbroker, built with a stock toolchain.

Generates Python stubs from sdk/c/proto/mq/v1/broker.proto with
grpc_tools.protoc into a temp dir, then calls every RPC of mq.v1.Broker through
grpc.insecure_channel. Record batches are built here (Kafka RecordBatch v2 with
this file's own CRC32C), so nothing is shared with the C codec but the spec.

Usage: client.py --addr HOST:PORT --topic T --partitions N --proto-dir DIR
                 [--heartbeat-interval-ms MS]   (the broker's group.heartbeat.interval.ms)
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

# Wire codes (docs/protocol.md section 3: the magnitude of mq_err_t).
INVALID_ARG = 2
UNKNOWN_TOPIC = 5
CORRUPT_MESSAGE = 10
OUT_OF_ORDER_SEQUENCE = 26
PRODUCER_FENCED = 27
UNKNOWN_PRODUCER = 28
UNKNOWN_MEMBER = 33
FENCED_MEMBER_EPOCH = 34
STALE_MEMBER_EPOCH = 35
INVALID_SESSION_TIMEOUT = 37
UNSUPPORTED_ASSIGNOR = 38
INVALID_GROUP_ID = 39

failures = []
checked = [0]


def check(cond, what):
    checked[0] += 1
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


def build_batch(records, base_ts, producer_id=-1, producer_epoch=-1, base_sequence=-1):
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
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, base_ts, base_ts + n - 1, producer_id,
                            producer_epoch, base_sequence, n)
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


# ---- InitProducerId and idempotent Produce (protocol.md 2.5, 2.2 step 4) -------

def run_idempotence(args, pb2, stub):
    topic = args.topic
    part = 1 if args.partitions > 1 else 0

    def init(pid, epoch):
        return stub.InitProducerId(pb2.InitProducerIdRequest(producer_id=pid,
                                                             producer_epoch=epoch), timeout=20)

    def produce(batch):
        resp = stub.Produce(pb2.ProduceRequest(acks=-1, timeout_ms=10000, batches=[
            pb2.PartitionBatch(topic=topic, partition=part, records=batch)]), timeout=20)
        r = resp.results[0]
        return r.error_code, r.base_offset

    def latest():
        resp = stub.ListOffsets(pb2.ListOffsetsRequest(partitions=[
            pb2.ListOffsetsPartition(topic=topic, partition=part, timestamp=-1)]), timeout=20)
        return resp.results[0].offset

    start = latest()
    r = init(-1, -1)
    if not check(r.error_code == 0 and r.producer_id >= 0 and 0 <= r.producer_epoch <= 32767,
                 "InitProducerId(-1, -1) gives an id and epoch (got error %d %s, id %d, epoch %d)"
                 % (r.error_code, r.error_message, r.producer_id, r.producer_epoch)):
        return
    pid, epoch = r.producer_id, r.producer_epoch
    now = int(time.time() * 1000)
    recs = [(b"idem-%d" % i, b"value %d" % i) for i in range(5)]
    a = build_batch(recs[:3], now, pid, epoch, 0)
    b = build_batch(recs[3:], now + 10, pid, epoch, 3)

    code, off_a = produce(a)
    check(code == 0 and off_a == start, "idempotent batch stored at %d (got error %d, offset %d)"
          % (start, code, off_a))
    code, again = produce(a)
    check(code == 0 and again == off_a,
          "a resent batch returns its original offset %d (got error %d, offset %d)"
          % (off_a, code, again))
    code, off_b = produce(b)
    check(code == 0 and off_b == off_a + 3, "next sequence stored at %d (got error %d, offset %d)"
          % (off_a + 3, code, off_b))
    code, again = produce(a)
    check(code == 0 and again == off_a,
          "an older batch resent after the next one still returns %d (got error %d, offset %d)"
          % (off_a, code, again))
    code, _ = produce(build_batch(recs[:1], now, pid, epoch, 42))
    check(code == OUT_OF_ORDER_SEQUENCE,
          "a sequence gap is OUT_OF_ORDER_SEQUENCE %d (got %d)" % (OUT_OF_ORDER_SEQUENCE, code))
    check(latest() == start + 5, "retries and refused batches stored nothing (log end %d, got %d)"
          % (start + 5, latest()))

    # Epochs: a bump keeps the id; the old epoch is fenced; bad requests are named.
    r = init(pid, epoch)
    check(r.error_code == 0 and r.producer_id == pid and r.producer_epoch == epoch + 1,
          "InitProducerId(id, epoch) bumps the epoch to %d, same id (got error %d, id %d, "
          "epoch %d)" % (epoch + 1, r.error_code, r.producer_id, r.producer_epoch))
    r2 = init(pid, epoch)
    check(r2.error_code == PRODUCER_FENCED,
          "InitProducerId with the old epoch is PRODUCER_FENCED (got %d)" % r2.error_code)
    r2 = init(pid + 10000000, 0)
    check(r2.error_code == UNKNOWN_PRODUCER,
          "InitProducerId with an id never handed out is UNKNOWN_PRODUCER (got %d)" % r2.error_code)
    r2 = init(-1, 0)
    check(r2.error_code == INVALID_ARG,
          "InitProducerId with only one field -1 is INVALID_ARG (got %d)" % r2.error_code)
    code, off_c = produce(build_batch(recs[:1], now + 20, pid, epoch + 1, 0))
    check(code == 0 and off_c == start + 5, "the new epoch starts at sequence 0 (got error %d, "
          "offset %d)" % (code, off_c))
    code, _ = produce(build_batch(recs[:1], now + 30, pid, epoch, 5))
    check(code == PRODUCER_FENCED,
          "a batch under the old epoch is PRODUCER_FENCED %d (got %d)" % (PRODUCER_FENCED, code))

    resp = stub.Fetch(pb2.FetchRequest(max_wait_ms=0, min_bytes=0, partitions=[
        pb2.FetchPartition(topic=topic, partition=part, fetch_offset=start,
                           partition_max_bytes=1 << 20)]), timeout=20)
    got = list(parse_batches(resp.partitions[0].records))
    check([base for base, _, _ in got] == [start, start + 3, start + 5],
          "the log holds each idempotent batch once (got bases %s)" % [g[0] for g in got])
    for base, stored, _ in got:
        spid, sepoch = struct.unpack_from(">qh", stored, 43)
        check(spid == pid, "stored batch at %d keeps producer id %d (got %d)" % (base, pid, spid))


# ---- consumer groups (protocol.md 2.6-2.10) ---------------------------------------

def tp_map(tps):
    """repeated TopicPartitions -> {topic: [partitions]}."""
    return {tp.topic: list(tp.partitions) for tp in tps}


def tp_list(pb2, m):
    return [pb2.TopicPartitions(topic=t, partitions=sorted(p)) for t, p in sorted(m.items()) if p]


def run_groups(args, pb2, stub):
    topic = args.topic
    group = "interop-group"
    every = list(range(args.partitions))
    if not check(args.partitions >= 2, "the group checks need a topic of 2 or more partitions"):
        return

    def join(member_id="", topics=(topic,), **kw):
        req = dict(group_id=group, member_id=member_id, topics=list(topics),
                   session_timeout_ms=-1, rebalance_timeout_ms=-1, assignor="")
        req.update(kw)
        return stub.JoinGroup(pb2.JoinGroupRequest(**req), timeout=20)

    def heartbeat(member_id, epoch, owned, wait_ms=0):
        return stub.Heartbeat(pb2.HeartbeatRequest(
            group_id=group, member_id=member_id, member_epoch=epoch,
            owned=tp_list(pb2, owned), max_wait_ms=wait_ms), timeout=20)

    def commit(member_id, epoch, parts, metadata=""):
        return stub.CommitOffsets(pb2.CommitOffsetsRequest(
            group_id=group, member_id=member_id, member_epoch=epoch,
            partitions=[pb2.CommitOffsetPartition(topic=topic, partition=p, offset=o,
                                                  metadata=metadata) for p, o in parts]),
            timeout=20)

    def leave(member_id, epoch):
        return stub.LeaveGroup(pb2.LeaveGroupRequest(group_id=group, member_id=member_id,
                                                     member_epoch=epoch), timeout=20)

    # JoinGroup refusals name the bad field.
    for what, kw, code in [
            ("a bad group id", dict(group_id="bad group!"), INVALID_GROUP_ID),
            ("a session timeout below the minimum", dict(session_timeout_ms=1),
             INVALID_SESSION_TIMEOUT),
            ("an unknown assignor", dict(assignor="nope"), UNSUPPORTED_ASSIGNOR),
            ("an empty subscription", dict(topics=()), INVALID_ARG),
            ("an unknown member id", dict(member_id="no-such-member"), UNKNOWN_MEMBER)]:
        r = join(**kw)
        check(r.error_code == code and r.error_message,
              "JoinGroup with %s is error %d with a message (got %d %r)"
              % (what, code, r.error_code, r.error_message))

    # The first member gets every partition at once.
    j1 = join()
    if not check(j1.error_code == 0, "JoinGroup error 0 (got %d %s)"
                 % (j1.error_code, j1.error_message)):
        return
    m1, e1 = j1.member_id, j1.member_epoch
    check(len(m1) == 22, "member id is 22 characters (got %r)" % m1)
    check(e1 >= 1, "member epoch >= 1 (got %d)" % e1)
    check(j1.heartbeat_interval_ms == args.heartbeat_interval_ms,
          "heartbeat_interval_ms is the broker's %d (got %d)"
          % (args.heartbeat_interval_ms, j1.heartbeat_interval_ms))
    own1 = tp_map(j1.assignment)
    check(own1 == {topic: every}, "the only member gets %s ascending (got %s)"
          % ({topic: every}, own1))

    h = heartbeat(m1, e1, own1)
    check(h.error_code == 0 and h.member_epoch == e1 and tp_map(h.assignment) == own1
          and not h.revoke, "Heartbeat of a stable member: same epoch and assignment, nothing "
          "to revoke (got error %d epoch %d %s revoke %s)"
          % (h.error_code, h.member_epoch, tp_map(h.assignment), tp_map(h.revoke)))
    t0 = time.monotonic()
    h = heartbeat(m1, e1, own1, wait_ms=300)
    took = time.monotonic() - t0
    check(h.error_code == 0 and took >= 0.25,
          "an unchanged member's Heartbeat is held for max_wait_ms (error %d, took %.3f s)"
          % (h.error_code, took))

    # A second member: the first is told to revoke, confirms, and the second gets it.
    j2 = join()
    if not check(j2.error_code == 0, "second JoinGroup error 0 (got %d %s)"
                 % (j2.error_code, j2.error_message)):
        return
    m2, e2 = j2.member_id, j2.member_epoch
    own2 = tp_map(j2.assignment)
    check(m2 != m1, "the second member gets its own id")
    check(not own2.get(topic), "a partition still owned is not given (got %s)" % own2)
    h = heartbeat(m1, e1, own1, wait_ms=args.heartbeat_interval_ms)
    keep, revoke = tp_map(h.assignment).get(topic, []), tp_map(h.revoke).get(topic, [])
    if not check(h.error_code == 0 and len(revoke) >= 1 and sorted(keep + revoke) == every,
                 "the first member is told to revoke part of its partitions (got error %d, "
                 "keep %s, revoke %s)" % (h.error_code, keep, revoke)):
        return
    # Commit what is revoked before giving it up (still owned at this epoch).
    gone = revoke[0]
    c = commit(m1, e1, [(gone, 2)], metadata="interop")
    check(c.error_code == 0 and [x.error_code for x in c.results] == [0],
          "CommitOffsets of an owned partition is stored (got %d %s)"
          % (c.error_code, [(x.error_code, x.error_message) for x in c.results]))
    h = heartbeat(m1, e1, {topic: keep})
    check(h.error_code == 0 and h.member_epoch > e1 and not h.revoke,
          "after confirming, the first member's epoch moves up (got error %d, %d -> %d)"
          % (h.error_code, e1, h.member_epoch))
    e1 = h.member_epoch
    h = heartbeat(m2, e2, own2, wait_ms=args.heartbeat_interval_ms)
    got2 = tp_map(h.assignment).get(topic, [])
    check(h.error_code == 0 and sorted(got2) == sorted(revoke),
          "the second member gets the revoked partitions %s (got error %d, %s)"
          % (revoke, h.error_code, got2))
    e2 = h.member_epoch

    # Fencing of commits.
    c = commit(m1, e1, [(keep[0], 1), (gone, 5)])
    check(c.error_code == 0 and [x.error_code for x in c.results] == [0, STALE_MEMBER_EPOCH],
          "a commit of a partition the member no longer owns is STALE_MEMBER_EPOCH (got %d %s)"
          % (c.error_code, [x.error_code for x in c.results]))
    c = commit(m1, e1 + 10, [(keep[0], 1)])
    check(c.error_code == FENCED_MEMBER_EPOCH and [x.error_code for x in c.results] ==
          [FENCED_MEMBER_EPOCH], "a commit with an epoch above the member's is "
          "FENCED_MEMBER_EPOCH (got %d %s)" % (c.error_code, [x.error_code for x in c.results]))
    c = commit("no-such-member", 1, [(keep[0], 1)])
    check(c.error_code == UNKNOWN_MEMBER, "a commit from an unknown member is UNKNOWN_MEMBER "
          "(got %d)" % c.error_code)
    c = commit("", -1, [(keep[0], 1)])
    check(c.error_code == UNKNOWN_MEMBER, "a commit from outside a group with members is "
          "UNKNOWN_MEMBER (got %d)" % c.error_code)

    # Fetch carries the member fields; a fenced epoch is refused per partition.
    def fetch_as(member_id, epoch, part):
        resp = stub.Fetch(pb2.FetchRequest(max_wait_ms=0, min_bytes=0, group_id=group,
                                           member_id=member_id, member_epoch=epoch, partitions=[
            pb2.FetchPartition(topic=topic, partition=part, fetch_offset=0,
                               partition_max_bytes=1 << 20)]), timeout=20)
        return resp.partitions[0].error_code
    check(fetch_as(m2, e2, gone) == 0, "Fetch by the owner with its epoch is allowed")
    code = fetch_as(m2, e2 + 10, gone)
    check(code == FENCED_MEMBER_EPOCH, "Fetch with an epoch above the member's is "
          "FENCED_MEMBER_EPOCH (got %d)" % code)

    # FetchOffsets: request order, -1 when nothing was committed; no membership needed.
    now = int(time.time() * 1000)
    f = stub.FetchOffsets(pb2.FetchOffsetsRequest(group_id=group, partitions=[
        pb2.TopicPartitions(topic=topic, partitions=list(reversed(every)))]), timeout=20)
    check(f.error_code == 0, "FetchOffsets error 0 (got %d)" % f.error_code)
    want = []
    for p in reversed(every):
        if p == gone:
            want.append((p, 2, "interop", True))
        elif p == keep[0]:
            want.append((p, 1, "", True))
        else:
            want.append((p, -1, "", False))
    got = [(x.partition, x.offset, x.metadata, x.commit_time_ms > 0) for x in f.results]
    check(got == want, "FetchOffsets answers %s (got %s)" % (want, got))
    for x in f.results:
        if x.commit_time_ms > 0:
            check(abs(x.commit_time_ms - now) < 60000, "commit_time_ms is the broker's time of the "
                  "commit (got %d, now %d)" % (x.commit_time_ms, now))
        else:
            check(x.commit_time_ms == -1, "commit_time_ms is -1 without a commit (got %d)"
                  % x.commit_time_ms)
    f = stub.FetchOffsets(pb2.FetchOffsetsRequest(group_id=group), timeout=20)
    got = sorted((x.partition, x.offset) for x in f.results)
    check(got == sorted([(gone, 2), (keep[0], 1)]),
          "FetchOffsets with no partitions lists the committed ones (got %s)" % got)
    f = stub.FetchOffsets(pb2.FetchOffsetsRequest(group_id="interop-nobody", partitions=[
        pb2.TopicPartitions(topic=topic, partitions=[0])]), timeout=20)
    check(f.error_code == 0 and [x.offset for x in f.results] == [-1],
          "an unknown group has no offsets and no error (got %d %s)"
          % (f.error_code, [x.offset for x in f.results]))
    f = stub.FetchOffsets(pb2.FetchOffsetsRequest(group_id="bad group!"), timeout=20)
    check(f.error_code == INVALID_GROUP_ID, "FetchOffsets with a bad group id is "
          "INVALID_GROUP_ID (got %d)" % f.error_code)

    # LeaveGroup: then the member is unknown; an empty group takes manual commits.
    r = leave(m1, e1)
    check(r.error_code == 0, "LeaveGroup error 0 (got %d %s)" % (r.error_code, r.error_message))
    r = leave(m1, e1)
    check(r.error_code == UNKNOWN_MEMBER, "a second LeaveGroup is UNKNOWN_MEMBER (got %d)"
          % r.error_code)
    h = heartbeat(m1, e1, {})
    check(h.error_code == UNKNOWN_MEMBER, "Heartbeat after leaving is UNKNOWN_MEMBER (got %d)"
          % h.error_code)
    r = leave(m2, e2)
    check(r.error_code == 0, "the last member leaves (got %d)" % r.error_code)
    c = commit("", -1, [(0, 0)])
    check(c.error_code == 0 and [x.error_code for x in c.results] == [0],
          "a manual commit to a group without members is stored (got %d %s)"
          % (c.error_code, [x.error_code for x in c.results]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--heartbeat-interval-ms", type=int, default=3000)
    args = ap.parse_args()

    out_dir = tempfile.mkdtemp(prefix="mq-interop-")
    try:
        pb2, pb2_grpc = load_stubs(args.proto_dir, out_dir)
        with grpc.insecure_channel(args.addr) as channel:
            stub = pb2_grpc.BrokerStub(channel)
            run(args, pb2, stub, channel)
            run_idempotence(args, pb2, stub)
            run_groups(args, pb2, stub)
    except grpc.RpcError as e:
        failures.append("RPC failed: %s %s" % (e.code(), e.details()))
        print("FAIL: RPC failed: %s %s" % (e.code(), e.details()), file=sys.stderr)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("interop: all %d checks passed" % checked[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
