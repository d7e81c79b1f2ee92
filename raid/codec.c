/* Parity math over ISA-L.
 *
 * The generator matrix is (k+m) x k with the identity on top.  RAID5 and
 * RAID6 use ISA-L's Vandermonde rows (gf_gen_rs_matrix), whose first two
 * parity rows are exactly xor_gen's P and pq_gen's Q (md's Q: poly 0x11d,
 * generator 2), so full stripes take the fast xor_gen/pq_gen paths when
 * the buffers are aligned.  k+m erasure coding uses the Cauchy matrix,
 * every square submatrix of which is invertible: any m losses decode.
 */
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>
#include <isa-l/raid.h>

#include "raid-int.h"

int
codec_init (struct raid_codec *c, unsigned k, unsigned m, int rs)
{
  memset (c, 0, sizeof *c);
  c->k = k;
  c->m = m;
  c->rs = rs;
  c->matrix = malloc ((size_t) (k + m) * k);
  c->enc_tables = malloc ((size_t) 32 * k * m);
  c->cache = calloc (DECODE_CACHE, sizeof *c->cache);
  pthread_mutex_init (&c->cache_lock, NULL);
  if (!c->matrix || !c->enc_tables || !c->cache) {
    codec_free (c);
    return -1;
  }
  if (rs)
    gf_gen_rs_matrix (c->matrix, k + m, k);
  else
    gf_gen_cauchy1_matrix (c->matrix, k + m, k);
  ec_init_tables (k, m, c->matrix + k * k, c->enc_tables);
  return 0;
}

void
codec_free (struct raid_codec *c)
{
  if (c->cache)
    pthread_mutex_destroy (&c->cache_lock);
  free (c->matrix);
  free (c->enc_tables);
  free (c->cache);
  c->matrix = c->enc_tables = NULL;
  c->cache = NULL;
}

static int
all_aligned (uint8_t **v, unsigned n, uintptr_t align)
{
  for (unsigned i = 0; i < n; i++)
    if ((uintptr_t) v[i] & (align - 1))
      return 0;
  return 1;
}

void
codec_encode (const struct raid_codec *c, uint32_t len, uint8_t **data, uint8_t **parity)
{
  void *v[RAID_MAX_MEMBERS + RAID_MAX_PARITY];
  unsigned k = c->k, i;

  if (c->rs && c->m <= 2 && k >= 2) {
    for (i = 0; i < k; i++)
      v[i] = data[i];
    for (i = 0; i < c->m; i++)
      v[k + i] = parity[i];
    /* The AVX paths use aligned loads: only aligned buffers may take them. */
    if (c->m == 1 && len % 32 == 0 && all_aligned ((uint8_t **) v, k + 1, 32)) {
      xor_gen (k + 1, len, v);
      return;
    }
    if (c->m == 2 && len % 64 == 0 && all_aligned ((uint8_t **) v, k + 2, 64)) {
      pq_gen (k + 2, len, v);
      return;
    }
  }
  ec_encode_data (len, k, c->m, c->enc_tables, data, parity);
}

void
codec_update (const struct raid_codec *c, uint32_t len, unsigned i, uint8_t *delta,
              uint8_t **parity)
{
  ec_encode_data_update (len, c->k, c->m, i, c->enc_tables, delta, parity);
}

/* Build the decode tables for survivors surv[0..k-1] and outputs
 * out[0..nout-1]: generator row x times the inverse of the survivors' rows
 * maps the survivors to chunk x.  -1 when the rows are singular. */
static int
decode_tables_build (const struct raid_codec *c, const unsigned *surv, const unsigned *out,
                     unsigned nout, uint8_t *tables)
{
  unsigned k = c->k, i, j, r;
  uint8_t sub[RAID_MAX_MEMBERS * RAID_MAX_MEMBERS], inv[RAID_MAX_MEMBERS * RAID_MAX_MEMBERS];
  uint8_t rows[RAID_MAX_PARITY * RAID_MAX_MEMBERS];

  for (r = 0; r < k; r++)
    memcpy (&sub[r * k], &c->matrix[surv[r] * k], k);
  if (gf_invert_matrix (sub, inv, k) != 0)
    return -1;
  for (j = 0; j < nout; j++) {
    const uint8_t *g = &c->matrix[out[j] * k];
    for (r = 0; r < k; r++) {
      uint8_t s = 0;
      for (i = 0; i < k; i++)
        s ^= gf_mul (g[i], inv[i * k + r]);
      rows[j * k + r] = s;
    }
  }
  ec_init_tables (k, nout, rows, tables);
  return 0;
}

/* Tables for a loss pattern, from the cache or built (setup costs
 * microseconds, a 4 KiB decode less). */
static int
decode_tables_get (struct raid_codec *c, const unsigned *surv, const unsigned *out,
                   unsigned nout, uint8_t *tables)
{
  uint32_t smask = 0, omask = 0;
  size_t bytes = (size_t) 32 * c->k * nout;
  unsigned i;

  for (i = 0; i < c->k; i++)
    smask |= 1u << surv[i];
  for (i = 0; i < nout; i++)
    omask |= 1u << out[i];
  pthread_mutex_lock (&c->cache_lock);
  for (i = 0; i < DECODE_CACHE; i++)
    if (c->cache[i].survivors == smask && c->cache[i].outputs == omask) {
      memcpy (tables, c->cache[i].tables, bytes);
      pthread_mutex_unlock (&c->cache_lock);
      return 0;
    }
  pthread_mutex_unlock (&c->cache_lock);
  if (decode_tables_build (c, surv, out, nout, tables) == -1)
    return -1;
  pthread_mutex_lock (&c->cache_lock);
  i = c->cache_next++ % DECODE_CACHE;
  c->cache[i].survivors = smask;
  c->cache[i].outputs = omask;
  memcpy (c->cache[i].tables, tables, bytes);
  pthread_mutex_unlock (&c->cache_lock);
  return 0;
}

/* One column lost whose row is the XOR of the survivors' (a data chunk or P of md's
 * RAID5 and RAID6, rebuilt from data and P, Q not among them): xor_gen does it at memory
 * speed where the table-driven decode multiplies by 1 in GF(2^8).  1 when it did. */
static int
recover_by_xor (const struct raid_codec *c, uint32_t len, uint8_t **in, const unsigned *surv,
                uint8_t *out, unsigned outidx)
{
  void *v[RAID_MAX_MEMBERS + 1];
  unsigned k = c->k;

  if (!c->rs || k < 2 || outidx > k || surv[k - 1] > k || len % 32)
    return 0;
  for (unsigned i = 0; i < k; i++)
    v[i] = in[i];
  v[k] = out;
  /* The AVX paths use aligned loads: only aligned buffers may take them. */
  if (!all_aligned ((uint8_t **) v, k + 1, 32))
    return 0;
  xor_gen (k + 1, len, v);
  return 1;
}

int
codec_recover (struct raid_codec *c, uint32_t len, uint8_t **cols, const uint8_t *valid,
               const uint8_t *want)
{
  unsigned k = c->k, n = c->k + c->m, i, nsurv = 0, nout = 0;
  unsigned surv[RAID_MAX_MEMBERS], outidx[RAID_MAX_PARITY];
  uint8_t tables[32 * RAID_MAX_PARITY * RAID_MAX_MEMBERS];
  uint8_t *in[RAID_MAX_MEMBERS], *out[RAID_MAX_PARITY];

  for (i = 0; i < n; i++) {
    if (valid[i] && nsurv < k)
      surv[nsurv++] = i;
    else if (!valid[i] && want[i]) {
      if (nout == RAID_MAX_PARITY)
        return -1;
      outidx[nout++] = i;
    }
  }
  if (nsurv < k)
    return -1;
  if (nout == 0)
    return 0;
  for (i = 0; i < k; i++)
    in[i] = cols[surv[i]];
  for (i = 0; i < nout; i++)
    out[i] = cols[outidx[i]];
  if (nout == 1 && recover_by_xor (c, len, in, surv, out[0], outidx[0]))
    return 0;
  if (decode_tables_get (c, surv, outidx, nout, tables) == -1)
    return -1;
  ec_encode_data (len, k, nout, tables, in, out);
  return 0;
}
