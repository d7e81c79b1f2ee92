# tests/crash-writer.py: what a server crash may and may not take away.
#
#   python3 crash-writer.py write URI STATE REGION SEED [MB/S]
#                                     write until the server dies or STATE.stop exists;
#                                     STATE.going is made once the first write is acknowledged
#   python3 crash-writer.py check URI STATE    every sector as the writes left it
#
# write keeps 16 writes in flight (4 KiB to 64 KiB, at random 512-byte aligned offsets in
# the first REGION bytes, never two in flight over the same sector, as a filesystem
# behaves), each sector stamped with its offset and the write's sequence number.  When the
# connection dies it saves in STATE, per write, whether it was acknowledged.  check reads
# the region back: a sector must hold what the last acknowledged write covering it put
# there (what the last check found, zeros at first), or what any later unacknowledged write
# (cut short by the crash, or answered EIO before it) put there; anything else (a lost
# acknowledged write, stale or torn data) fails.  It saves what it found for the next round.
import json
import os
import random
import struct
import sys
import time

import nbd

SECTOR = 512


def stamp(sector, seq):
    return struct.pack("<QQ", sector, seq) + bytes([seq & 0xFF]) * (SECTOR - 16)


def load(state, region):
    try:
        with open(state) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"region": region, "last": [0] * (region // SECTOR), "seq": 0,
                "done": [], "cut": []}


def save(state, st):
    with open(state, "w") as f:
        json.dump(st, f)


def write(uri, state, region, seed, mbps=0):
    st = load(state, region)
    if st["done"] or st["cut"]:
        print("crash-writer: the last writes were not checked yet: run check first")
        return 2
    rnd = random.Random(seed)
    h = nbd.NBD()
    h.connect_uri(uri)
    busy = set()                      # sectors under a write in flight
    inflight = {}                     # cookie -> (first sector, sectors, seq)
    done, cut = [], []
    seq, start = st["seq"], time.monotonic()
    issued = 0                        # bytes, for the rate limit
    stop = state + ".stop"
    try:
        while True:
            going = not os.path.exists(stop) and time.monotonic() < start + 200
            if not going and not inflight:
                break
            while going and len(inflight) < 16:
                if mbps and issued > mbps * 1e6 * (time.monotonic() - start):
                    break
                n = rnd.choice([8, 16, 32, 64, 128])
                first = rnd.randrange(0, region // SECTOR - n)
                if any(s in busy for s in range(first, first + n)):
                    continue
                seq += 1
                buf = b"".join(stamp(s, seq) for s in range(first, first + n))
                inflight[h.aio_pwrite(buf, first * SECTOR)] = (first, n, seq)
                busy.update(range(first, first + n))
                issued += n * SECTOR
            h.poll(10)
            for cookie in list(inflight):
                try:
                    if not h.aio_command_completed(cookie):
                        continue
                    done.append(inflight[cookie])
                    if len(done) == 1:    # for writer_start: the writes are under way
                        open(state + ".going", "w").close()
                except nbd.Error:
                    cut.append(inflight[cookie])
                first, n, _ = inflight.pop(cookie)
                busy.difference_update(range(first, first + n))
    except nbd.Error as e:
        print(f"crash-writer: the connection ended: {e}")
    cut.extend(inflight.values())
    st.update(seq=seq, done=done, cut=cut)
    save(state, st)
    print(f"crash-writer: {len(done)} writes acknowledged, {len(cut)} cut short")
    return 0 if done else 1


def check(uri, state):
    st = load(state, 0)
    nsec = st["region"] // SECTOR
    last = st["last"]                 # acknowledged: the writer waited for each in order
    for first, n, seq in st["done"]:
        for s in range(first, first + n):
            last[s] = max(last[s], seq)
    maybe = {}                        # every cut write of a sector: a client that got EIO
    for first, n, seq in st["cut"]:   # may write it again, and be cut again (a stop during
        for s in range(first, first + n):   # a hold answers EIO before the connection ends)
            maybe.setdefault(s, []).append(seq)
    h = nbd.NBD()
    h.connect_uri(uri)
    bad = 0
    step = 2048                       # sectors per read: 1 MiB
    for base in range(0, nsec, step):
        data = h.pread(min(step, nsec - base) * SECTOR, base * SECTOR)
        for i in range(len(data) // SECTOR):
            s = base + i
            got = data[i * SECTOR:(i + 1) * SECTOR]
            ok = [q for q in [last[s]] + maybe.get(s, []) if q >= last[s]]
            found = [q for q in ok if got == (bytes(SECTOR) if q == 0 else stamp(s, q))]
            if found:
                last[s] = found[0]
                continue
            bad += 1
            if bad <= 5:
                sec, seq = struct.unpack("<QQ", got[:16])
                print(f"crash-writer: sector {s}: holds sector {sec} seq {seq}, "
                      f"want seq {last[s]}" + "".join(f" or {q}" for q in maybe.get(s, [])))
    h.shutdown()
    st.update(last=last, done=[], cut=[])
    save(state, st)
    print(f"crash-writer: {nsec} sectors checked, {bad} wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        sys.exit(write(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                       float(sys.argv[6]) if len(sys.argv) > 6 else 0))
    sys.exit(check(sys.argv[2], sys.argv[3]))
