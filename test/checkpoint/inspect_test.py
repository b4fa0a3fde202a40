#!/usr/bin/env python3
"""`mqsentry inspect` through the real CLI: text and JSON of a good file (exit 0), and
damaged, truncated, hostile and future-version files each refused with one line naming
what is wrong, exit status non-zero and below 128.

usage: inspect_test.py MQSENTRY MAKE_SAMPLE
"""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

MQSENTRY, MAKE_SAMPLE = sys.argv[1], sys.argv[2]
failures = 0


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def inspect(path, *flags):
    return subprocess.run([MQSENTRY, "inspect", path, *flags], capture_output=True, text=True)


def records(data):
    """(offset, length, type) of each record."""
    out, at = [], 16
    while at + 12 <= len(data):
        length, rtype = struct.unpack_from("<II", data, at)
        out.append((at, length, rtype))
        at += 12 + length
    return out


def refused(data, want, name):
    with tempfile.NamedTemporaryFile(suffix=".mqck", delete=False) as f:
        f.write(data)
    r = inspect(f.name)
    os.unlink(f.name)
    lines = r.stderr.strip().splitlines()
    check(0 < r.returncode < 128, f"{name}: exit {r.returncode} in 1..127")
    check(len(lines) == 1 and want in lines[0],
          f"{name}: one line containing {want!r}: {r.stderr.strip()!r}")
    check(r.stdout == "", f"{name}: nothing on stdout (no partial result)")


with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "sample.mqck")
    subprocess.run([MAKE_SAMPLE, path], check=True)
    good = open(path, "rb").read()

    r = inspect(path)
    check(r.returncode == 0, f"text: exit 0 ({r.stderr.strip()})")
    check("2 IPC namespaces, 4 queues, 4 messages, 16 bytes" in r.stdout, "text: totals line")
    check("/alpha" in r.stdout and "(unlinked)" in r.stdout, "text: queue table")
    check("prio 5" not in r.stdout, "text: no messages without --messages")
    check("IPC namespace 2: a nested namespace" in r.stdout, "text: not-restored section")
    r = inspect(path, "--messages")
    check('[1] prio 5 size 6 "sec\\x00nd"' in r.stdout, "text --messages: escaped first bytes")

    r = inspect(path, "--format=json")
    check(r.returncode == 0, "json: exit 0")
    j = json.loads(r.stdout)
    check(j["totals"]["queues"] == "4" and j["totals"]["messages"] == "4", "json: totals")
    own = [n for n in j["ipc_namespaces"] if n["own"]]
    check(len(own) == 1 and own[0]["namespace"]["id"] == "1", "json: own namespace")
    names = [q["name"] for q in own[0]["queues"]]
    check(names == ["/alpha", "", "/beta"], f"json: names {names}")
    check(all(q["record"]["queue"]["messages"] == [] for q in own[0]["queues"]),
          "json: no messages without --messages")
    check(len(j["not_restored"]) == 4, "json: not_restored")
    j = json.loads(inspect(path, "--format", "json", "--messages").stdout)
    msgs = j["ipc_namespaces"][0]["queues"][0]["record"]["queue"]["messages"]
    check([(m.get("priority", 0), base64.b64decode(m.get("payload", ""))) for m in msgs]
          == [(5, b"first"), (5, b"sec\0nd"), (1, b"third")], "json --messages: payloads in order")

    # Damage.
    refused(good[: len(good) // 2], "truncated", "truncation")
    refused(good[:-4], "truncated: the record's CRC-32C is missing", "truncation before a CRC")
    rec = records(good)
    refused(good[: rec[-1][0]], "the file ends before its end record (truncated)",
            "truncation at a record boundary")
    flipped = bytearray(good)
    flipped[rec[3][0] + 14] ^= 0x10
    refused(bytes(flipped), f"offset {rec[3][0]} (record 4, ", "bit flip")
    refused(b"\x89PNG\r\n\x1a\n" + good[8:], "not an mqsentry checkpoint", "wrong magic")
    future = bytearray(good)
    struct.pack_into("<I", future, 8, 7)
    struct.pack_into("<I", future, 12, crc32c(bytes(future[:12])))
    refused(bytes(future), "format version 7 is not supported (this build reads versions 1 "
            "to 2; written by a newer mqsentry)", "future version")

    # Queue times (format version 2).
    r = inspect(path)
    check("atime 2023-11-14 22:15:00  mtime 2023-11-14 22:14:10  ctime 2023-11-14 22:15:00 UTC"
          in r.stdout, "text: queue times")
    check("checkpoint " + path + ": format 2," in r.stdout, "text: format 2")
    j = json.loads(inspect(path, "--format=json").stdout)
    times = j["ipc_namespaces"][0]["queues"][0]["record"]["queue"]["times"]
    check(times == {"atime": "1700000100", "mtime": "1700000050", "ctime": "1700000100"},
          f"json: queue times {times}")
    check(j["format_version"] == 2, "json: format_version 2")

    def as_version_1(data):
        old = bytearray(data)
        struct.pack_into("<I", old, 8, 1)
        struct.pack_into("<I", old, 12, crc32c(bytes(old[:12])))
        return bytes(old)

    refused(as_version_1(good), "times in a format version 1 file (they were added in version 2)",
            "times in a version-1 file")
    notimes = os.path.join(d, "notimes.mqck")
    subprocess.run([MAKE_SAMPLE, notimes, "--no-times"], check=True)
    v1 = as_version_1(open(notimes, "rb").read())
    with open(notimes, "wb") as f:
        f.write(v1)
    r = inspect(notimes)
    check(r.returncode == 0 and ": format 1," in r.stdout
          and "times not recorded (format version 1)" in r.stdout,
          f"version-1 file without times: read ({r.stderr.strip()})")
    hostile = os.path.join(d, "hostile.mqck")
    subprocess.run([MAKE_SAMPLE, hostile, "--hostile-time"], check=True)
    refused(open(hostile, "rb").read(),
            "ipc_namespaces[0].queues[0].times: atime 253402300800 is outside "
            "-62135596800..253402300799", "time past year 9999")
    huge = bytearray(good)
    struct.pack_into("<I", huge, rec[1][0], 0x40000000)
    refused(bytes(huge), "record length 1073741824 > limit 33554432", "oversize record")
    refused(b"", "empty file", "empty file")
    r = subprocess.run([MQSENTRY, "inspect", os.path.join(d, "missing")], capture_output=True,
                       text=True)
    check(0 < r.returncode < 128 and "No such file" in r.stderr, "missing file")

print(f"{failures} failures")
sys.exit(1 if failures else 0)
