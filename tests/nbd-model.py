# Run by nbdsh (h is the connected handle): random reads, writes, zeroes, flushes and FUA
# writes at unaligned offsets and lengths, checked against a flat model of the same bytes.
# Two regions are exercised: the first 6 MiB (crossing chunk and stripe boundaries) and the
# last 1 MiB of the export.
import errno
import os
import random

# The server advertises a 512-byte minimum block size, which libnbd would enforce on our
# side; the point here is that the server copes with clients that ignore it.
h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
size = h.get_size()
seed = int(os.environ.get("MODEL_SEED", "1"))
ops = int(os.environ.get("MODEL_OPS", "400"))
rnd = random.Random(seed)
regions = [(0, min(6 << 20, size)), (max(0, size - (1 << 20)), size)]
model = {start: bytearray(h.pread(end - start, start)) for start, end in regions}

def pick():
    start, end = rnd.choice(regions)
    off = rnd.randrange(start, end)
    length = rnd.randint(1, min(end - off, rnd.choice([511, 4096, 70000, 300000])))
    return start, off, length

for i in range(ops):
    start, off, length = pick()
    kind = rnd.random()
    if kind < 0.45:
        data = rnd.randbytes(length)
        fua = nbd.CMD_FLAG_FUA if rnd.random() < 0.2 else 0
        h.pwrite(data, off, fua)
        model[start][off - start:off - start + length] = data
    elif kind < 0.55:
        h.zero(length, off)
        model[start][off - start:off - start + length] = bytes(length)
    elif kind < 0.6:
        h.flush()
    else:
        got = h.pread(length, off)
        want = bytes(model[start][off - start:off - start + length])
        if got != want:
            first = next(j for j in range(length) if got[j] != want[j])
            raise SystemExit("op %d: read of %d bytes at %d differs at byte %d (offset %d)"
                             % (i, length, off, first, off + first))

for start, end in regions:
    if h.pread(end - start, start) != bytes(model[start]):
        raise SystemExit("final read of [%d, %d) differs from the model" % (start, end))
print("model: %d ops at unaligned offsets verified (seed %d)" % (ops, seed))

# A fast zero (no faster than writing here) is refused with ENOTSUP and changes nothing;
# strict mode off, so that a server not advertising it gets the request all the same (the
# plugin's can_fast_zero missing, nbdkit 1.32 aborted the whole server on it).
h.set_strict_mode(0)
try:
    h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)
    raise SystemExit("a fast zero was taken: zeros are written as data, it must be refused")
except nbd.Error as e:
    if e.errnum != errno.ENOTSUP:
        raise SystemExit("a fast zero failed with %s, not ENOTSUP" % e.string)
if h.pread(4096, 0) != bytes(model[0][:4096]):
    raise SystemExit("the refused fast zero changed the data")
print("model: a fast zero is refused with ENOTSUP, the data unchanged")
