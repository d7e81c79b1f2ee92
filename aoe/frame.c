/* aoe/frame.c: the AoE wire codec.  Every read is bounded by the received length. */
#include <errno.h>
#include <string.h>

#include "frame.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
  p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}

const char *aoe_parse_result_name(enum aoe_parse_result r)
{
  static const char *const names[AOE_PARSE_NRESULTS] = {
    "ok", "short", "ethertype", "version", "flags", "count", "command",
  };
  return r < AOE_PARSE_NRESULTS ? names[r] : "?";
}

static enum aoe_parse_result parse_ata(const uint8_t *f, size_t len, struct aoe_ata *a,
                                       int is_error)
{
  if (len < AOE_ATA_HDR_LEN) {
    memset(a, 0, sizeof *a);
    return is_error ? AOE_PARSE_OK : AOE_PARSE_SHORT;
  }
  a->aflags = f[24];
  a->feature = f[25];
  a->scnt = f[26];
  a->cmdstat = f[27];
  a->lba = 0;
  for (int i = 0; i < 6; i++)
    a->lba |= (uint64_t)f[28 + i] << (8 * i);
  a->data = f + AOE_ATA_HDR_LEN;
  a->datalen = len - AOE_ATA_HDR_LEN;
  return AOE_PARSE_OK;
}

static enum aoe_parse_result parse_cfg(const uint8_t *f, size_t len, struct aoe_cfg *c,
                                       int is_error)
{
  if (len < AOE_CFG_HDR_LEN) {
    memset(c, 0, sizeof *c);
    return is_error ? AOE_PARSE_OK : AOE_PARSE_SHORT;
  }
  c->bufcnt = get16(f + 24);
  c->firmware = get16(f + 26);
  c->scnt = f[28];
  c->version = f[29] >> 4;
  c->ccmd = f[29] & 0x0f;
  c->len = get16(f + 30);
  c->str = f + AOE_CFG_HDR_LEN;
  if (c->len > AOE_CFG_MAX || c->len > len - AOE_CFG_HDR_LEN || c->ccmd > AOE_CCMD_FORCE)
    return is_error ? (c->len = 0, AOE_PARSE_OK) : AOE_PARSE_COUNT;
  return AOE_PARSE_OK;
}

static enum aoe_parse_result parse_mask(const uint8_t *f, size_t len, struct aoe_mask *m,
                                        int is_error)
{
  if (len < AOE_MASK_HDR_LEN) {
    memset(m, 0, sizeof *m);
    return is_error ? AOE_PARSE_OK : AOE_PARSE_SHORT;
  }
  m->mcmd = f[25];
  m->merror = f[26];
  m->ndir = f[27];
  m->dirs = f + AOE_MASK_HDR_LEN;
  if ((size_t)m->ndir * 8 > len - AOE_MASK_HDR_LEN)
    return is_error ? (m->ndir = 0, AOE_PARSE_OK) : AOE_PARSE_COUNT;
  return AOE_PARSE_OK;
}

static enum aoe_parse_result parse_rr(const uint8_t *f, size_t len, struct aoe_rr *r,
                                      int is_error)
{
  if (len < AOE_RR_HDR_LEN) {
    memset(r, 0, sizeof *r);
    return is_error ? AOE_PARSE_OK : AOE_PARSE_SHORT;
  }
  r->rcmd = f[24];
  r->nmacs = f[25];
  r->macs = f + AOE_RR_HDR_LEN;
  if ((size_t)r->nmacs * 6 > len - AOE_RR_HDR_LEN)
    return is_error ? (r->nmacs = 0, AOE_PARSE_OK) : AOE_PARSE_COUNT;
  return AOE_PARSE_OK;
}

enum aoe_parse_result aoe_parse(const uint8_t *f, size_t len, int want_response,
                                struct aoe_msg *out)
{
  if (len < AOE_HDR_LEN)
    return AOE_PARSE_SHORT;
  if (get16(f + 12) != AOE_ETHERTYPE)
    return AOE_PARSE_ETHERTYPE;
  /* vblade's start-up announce (aoead) sets the flags byte to Resp alone: version 0. */
  int announce0 = f[14] == AOE_FLAG_RESP && f[19] == AOE_CMD_CONFIG &&
                  len >= AOE_CFG_HDR_LEN && f[29] >> 4 == AOE_VERSION;
  if (f[14] >> 4 != AOE_VERSION && !announce0)
    return AOE_PARSE_VERSION;
  struct aoe_hdr *h = &out->h;
  h->version = f[14] >> 4;
  memcpy(h->dst, f, 6);
  memcpy(h->src, f + 6, 6);
  h->flags = f[14] & 0x0f;
  h->error = f[15];
  h->shelf = get16(f + 16);
  h->slot = f[18];
  h->cmd = f[19];
  h->tag = get32(f + 20);
  int is_resp = !!(h->flags & AOE_FLAG_RESP);
  int is_error = !!(h->flags & AOE_FLAG_ERR);
  if (is_resp != !!want_response || (h->flags & AOE_FLAG_RESERVED) || (is_error && !is_resp))
    return AOE_PARSE_FLAGS;
  switch (h->cmd) {
  case AOE_CMD_ATA: return parse_ata(f, len, &out->u.ata, is_error);
  case AOE_CMD_CONFIG: return parse_cfg(f, len, &out->u.cfg, is_error);
  case AOE_CMD_MASK: return parse_mask(f, len, &out->u.mask, is_error);
  case AOE_CMD_RESERVE: return parse_rr(f, len, &out->u.rr, is_error);
  default: return AOE_PARSE_COMMAND;
  }
}

enum aoe_parse_result aoe_parse_counted(const uint8_t *f, size_t len, int want_response,
                                        struct aoe_msg *out,
                                        uint64_t counts[AOE_PARSE_NRESULTS])
{
  enum aoe_parse_result r = aoe_parse(f, len, want_response, out);
  counts[r]++;
  return r;
}

static void encode_hdr(uint8_t *b, const struct aoe_hdr *h)
{
  memcpy(b, h->dst, 6);
  memcpy(b + 6, h->src, 6);
  put16(b + 12, AOE_ETHERTYPE);
  b[14] = (uint8_t)(AOE_VERSION << 4 | (h->flags & 0x0f));
  b[15] = h->error;
  put16(b + 16, h->shelf);
  b[18] = h->slot;
  b[19] = h->cmd;
  put32(b + 20, h->tag);
}

void aoe_encode_ata_hdr(uint8_t *b, const struct aoe_hdr *h, const struct aoe_ata *a)
{
  encode_hdr(b, h);
  b[24] = a->aflags;
  b[25] = a->feature;
  b[26] = a->scnt;
  b[27] = a->cmdstat;
  for (int i = 0; i < 6; i++)
    b[28 + i] = (a->lba >> (8 * i)) & 0xff;
  b[34] = b[35] = 0;
}

size_t aoe_encode_query(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
                        unsigned shelf, unsigned slot)
{
  struct aoe_msg m;
  memset(&m, 0, sizeof m);
  memcpy(m.h.dst, dst, 6);
  memcpy(m.h.src, src, 6);
  m.h.shelf = (uint16_t)shelf;
  m.h.slot = (uint8_t)slot;
  m.h.cmd = AOE_CMD_CONFIG;
  m.h.tag = 0x80000000u;        /* a query's reply is matched on shelf.slot and path, not tag */
  m.u.cfg.ccmd = AOE_CCMD_READ;
  return aoe_encode(buf, cap, &m);
}

/* Header length and variable part of M: what aoe_encode must copy after the header. */
static int encode_layout(const struct aoe_msg *m, size_t *hdrlen, const uint8_t **var,
                         size_t *varlen)
{
  switch (m->h.cmd) {
  case AOE_CMD_ATA:
    *hdrlen = AOE_ATA_HDR_LEN; *var = m->u.ata.data; *varlen = m->u.ata.datalen;
    return 0;
  case AOE_CMD_CONFIG:
    if (m->u.cfg.len > AOE_CFG_MAX)
      return -1;
    *hdrlen = AOE_CFG_HDR_LEN; *var = m->u.cfg.str; *varlen = m->u.cfg.len;
    return 0;
  case AOE_CMD_MASK:
    *hdrlen = AOE_MASK_HDR_LEN; *var = m->u.mask.dirs; *varlen = (size_t)m->u.mask.ndir * 8;
    return 0;
  case AOE_CMD_RESERVE:
    *hdrlen = AOE_RR_HDR_LEN; *var = m->u.rr.macs; *varlen = (size_t)m->u.rr.nmacs * 6;
    return 0;
  default:
    return -1;
  }
}

size_t aoe_encode(uint8_t *b, size_t cap, const struct aoe_msg *m)
{
  size_t hdrlen, varlen;
  const uint8_t *var;
  if (encode_layout(m, &hdrlen, &var, &varlen) < 0 || (varlen && !var))
    return 0;
  size_t len = hdrlen + varlen;
  size_t padded = len < AOE_MIN_FRAME ? AOE_MIN_FRAME : len;
  if (padded > cap)
    return 0;
  memset(b, 0, hdrlen);
  switch (m->h.cmd) {
  case AOE_CMD_ATA:
    aoe_encode_ata_hdr(b, &m->h, &m->u.ata);
    break;
  case AOE_CMD_CONFIG:
    encode_hdr(b, &m->h);
    put16(b + 24, m->u.cfg.bufcnt);
    put16(b + 26, m->u.cfg.firmware);
    b[28] = m->u.cfg.scnt;
    b[29] = (uint8_t)(m->u.cfg.version << 4 | (m->u.cfg.ccmd & 0x0f));
    put16(b + 30, m->u.cfg.len);
    break;
  case AOE_CMD_MASK:
    encode_hdr(b, &m->h);
    b[25] = m->u.mask.mcmd;
    b[26] = m->u.mask.merror;
    b[27] = m->u.mask.ndir;
    break;
  case AOE_CMD_RESERVE:
    encode_hdr(b, &m->h);
    b[24] = m->u.rr.rcmd;
    b[25] = m->u.rr.nmacs;
    break;
  }
  if (varlen)
    memcpy(b + hdrlen, var, varlen);
  memset(b + len, 0, padded - len);
  return padded;
}

/* IDENTIFY strings are 16-bit words with the first character in the high byte. */
static void ident_string(const uint8_t *id, int word, int nwords, char *out)
{
  int n = 0;
  for (int i = 0; i < nwords; i++) {
    out[n++] = (char)id[2 * (word + i) + 1];
    out[n++] = (char)id[2 * (word + i)];
  }
  while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
    n--;
  out[n] = '\0';
  for (int i = 0; i < n; i++)
    if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
      out[i] = '?';
}

static unsigned ident_word(const uint8_t *id, int w) { return id[2 * w] | id[2 * w + 1] << 8; }

void aoe_ident_parse(const uint8_t id[AOE_SECTOR], struct aoe_ident *out)
{
  unsigned w83 = ident_word(id, 83), w86 = ident_word(id, 86);
  out->lba48 = !!((w83 | w86) & (1u << 10));
  out->flush_ext = !!(w83 & (1u << 13));
  out->flush = !!(w83 & (1u << 12));
  /* as libata's ata_id_wcache_enabled: word 87 bits 15:14 == 01 validate words 85-87 */
  out->write_cache = (ident_word(id, 87) & 0xc000) == 0x4000 && (ident_word(id, 85) & (1u << 5));
  out->sectors = 0;
  if (out->lba48)
    for (int i = 0; i < 4; i++)
      out->sectors |= (uint64_t)ident_word(id, 100 + i) << (16 * i);
  else
    out->sectors = ident_word(id, 60) | (uint64_t)ident_word(id, 61) << 16;
  ident_string(id, 10, 10, out->serial);
  ident_string(id, 27, 20, out->model);
  ident_string(id, 23, 4, out->fwrev);
}

int aoe_error_errno(unsigned e)
{
  switch (e) {
  case AOE_ERR_BADCMD: return EOPNOTSUPP;
  case AOE_ERR_BADARG: return EINVAL;
  case AOE_ERR_DEVUNAVAIL: return ENXIO;
  case AOE_ERR_CFGSET: return EEXIST;
  case AOE_ERR_UNSUPVER: return EPROTONOSUPPORT;
  case AOE_ERR_RESERVED: return EBADE;    /* Linux's reservation conflict */
  default: return EIO;
  }
}

const char *aoe_error_name(unsigned e)
{
  switch (e) {
  case AOE_ERR_BADCMD: return "unrecognized command code";
  case AOE_ERR_BADARG: return "bad argument parameter";
  case AOE_ERR_DEVUNAVAIL: return "device unavailable";
  case AOE_ERR_CFGSET: return "config string present";
  case AOE_ERR_UNSUPVER: return "unsupported version";
  case AOE_ERR_RESERVED: return "target is reserved";
  default: return "unknown AoE error";
  }
}
