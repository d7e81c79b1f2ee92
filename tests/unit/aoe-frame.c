/* Unit tests for the AoE codec (aoe/frame.c): round trips of all four commands, and every
 * malformed or truncated frame kind rejected and counted. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static void hdr(struct aoe_msg *m, uint8_t cmd, uint8_t flags)
{
  memset(m, 0, sizeof *m);
  memcpy(m->h.dst, mac_a, 6);
  memcpy(m->h.src, mac_b, 6);
  m->h.flags = flags;
  m->h.shelf = 0x1234;
  m->h.slot = 7;
  m->h.cmd = cmd;
  m->h.tag = 0x80abcdefu;
}

static void check_hdr(const struct aoe_msg *a, const struct aoe_msg *b)
{
  cr_assert_arr_eq(a->h.dst, b->h.dst, 6);
  cr_assert_arr_eq(a->h.src, b->h.src, 6);
  cr_assert_eq(a->h.flags, b->h.flags);
  cr_assert_eq(a->h.shelf, b->h.shelf);
  cr_assert_eq(a->h.slot, b->h.slot);
  cr_assert_eq(a->h.cmd, b->h.cmd);
  cr_assert_eq(a->h.tag, b->h.tag);
}

Test(codec, ata_write_round_trip)
{
  uint8_t data[1024], f[2048];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 7 + 3);
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_ATA, 0);
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48 | AOE_AFLAG_WRITE, .scnt = 2,
                              .cmdstat = ATA_WRITE_EXT, .lba = 0xba9876543210ull,
                              .data = data, .datalen = sizeof data };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(len, AOE_ATA_HDR_LEN + sizeof data);
  cr_assert_eq(f[12], 0x88);
  cr_assert_eq(f[13], 0xa2);
  cr_assert_eq(f[14], 0x10);
  cr_assert_eq(f[28], 0x10, "LBA is little-endian");
  cr_assert_eq(f[33], 0xba);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  check_hdr(&m, &d);
  cr_assert_eq(d.u.ata.aflags, m.u.ata.aflags);
  cr_assert_eq(d.u.ata.scnt, 2);
  cr_assert_eq(d.u.ata.cmdstat, ATA_WRITE_EXT);
  cr_assert_eq(d.u.ata.lba, 0xba9876543210ull);
  cr_assert_eq(d.u.ata.datalen, sizeof data);
  cr_assert_arr_eq(d.u.ata.data, data, sizeof data);
}

Test(codec, ata_read_request_is_padded)
{
  uint8_t f[128];
  memset(f, 0xee, sizeof f);
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_ATA, 0);
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .scnt = 17, .cmdstat = ATA_READ_EXT,
                              .lba = 5 };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(len, AOE_MIN_FRAME);
  for (size_t i = AOE_ATA_HDR_LEN; i < AOE_MIN_FRAME; i++)
    cr_assert_eq(f[i], 0, "padding byte %zu is zero", i);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  cr_assert_eq(d.u.ata.lba, 5);
  cr_assert_eq(d.u.ata.scnt, 17);
}

Test(codec, ata_response_round_trip)
{
  uint8_t f[128];
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_ATA, AOE_FLAG_RESP);
  m.u.ata = (struct aoe_ata){ .cmdstat = 0x41, .feature = ATA_ERR_ABRT };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(aoe_parse(f, len, 1, &d), AOE_PARSE_OK);
  cr_assert_eq(d.u.ata.cmdstat, 0x41);
  cr_assert_eq(d.u.ata.feature, ATA_ERR_ABRT);
}

Test(codec, config_round_trip)
{
  uint8_t f[2048];
  const char *s = "array=a1 member=2";
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_CONFIG, AOE_FLAG_RESP);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .firmware = 0x4019, .scnt = 17, .version = 1,
                              .ccmd = AOE_CCMD_SET, .len = (uint16_t)strlen(s),
                              .str = (const uint8_t *)s };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(len, AOE_MIN_FRAME);
  cr_assert_eq(aoe_parse(f, len, 1, &d), AOE_PARSE_OK);
  check_hdr(&m, &d);
  cr_assert_eq(d.u.cfg.bufcnt, 16);
  cr_assert_eq(d.u.cfg.firmware, 0x4019);
  cr_assert_eq(d.u.cfg.scnt, 17);
  cr_assert_eq(d.u.cfg.version, 1);
  cr_assert_eq(d.u.cfg.ccmd, AOE_CCMD_SET);
  cr_assert_eq(d.u.cfg.len, strlen(s));
  cr_assert_arr_eq(d.u.cfg.str, s, strlen(s));
}

/* Discovery's broadcast and a keepalive are the same Query Config read, addressed
 * differently: a request (R clear) a target parses, 60 bytes. */
Test(codec, query_config_read_broadcast_and_keepalive)
{
  static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  uint8_t f[AOE_MIN_FRAME];
  struct aoe_msg d;
  size_t len = aoe_encode_query(f, sizeof f, mac_a, mac_b, 12, 3);
  cr_assert_eq(len, AOE_MIN_FRAME);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  cr_assert_arr_eq(d.h.dst, mac_a, 6);
  cr_assert_arr_eq(d.h.src, mac_b, 6);
  cr_assert_eq(d.h.flags, 0);
  cr_assert_eq(d.h.shelf, 12);
  cr_assert_eq(d.h.slot, 3);
  cr_assert_eq(d.h.cmd, AOE_CMD_CONFIG);
  cr_assert_eq(d.u.cfg.ccmd, AOE_CCMD_READ);
  cr_assert_eq(d.u.cfg.len, 0);
  cr_assert_eq(f[14] >> 4, AOE_VERSION);
  cr_assert_eq(f[12] << 8 | f[13], AOE_ETHERTYPE);
  len = aoe_encode_query(f, sizeof f, bcast, mac_b, 0xffff, 0xff);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  cr_assert_arr_eq(d.h.dst, bcast, 6);
  cr_assert_eq(d.h.shelf, 0xffff);
  cr_assert_eq(d.h.slot, 0xff);
  cr_assert_eq(aoe_encode_query(f, AOE_MIN_FRAME - 1, mac_a, mac_b, 1, 1), 0);
}

Test(codec, config_longest_string)
{
  uint8_t f[AOE_CFG_HDR_LEN + AOE_CFG_MAX], s[AOE_CFG_MAX];
  memset(s, 'x', sizeof s);
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_CONFIG, 0);
  m.u.cfg = (struct aoe_cfg){ .len = AOE_CFG_MAX, .str = s };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(len, sizeof f);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  cr_assert_eq(d.u.cfg.len, AOE_CFG_MAX);
  m.u.cfg.len = AOE_CFG_MAX + 1;
  cr_assert_eq(aoe_encode(f, sizeof f, &m), 0, "a string over 1024 bytes is not encoded");
}

Test(codec, mask_round_trip)
{
  uint8_t f[128], dirs[16] = { 0, AOE_DCMD_ADD, 2, 0, 0, 0, 0, 1, 0, AOE_DCMD_DEL, 2, 0, 0, 0, 0, 2 };
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_MASK, 0);
  m.u.mask = (struct aoe_mask){ .mcmd = AOE_MCMD_EDIT, .merror = 0, .ndir = 2, .dirs = dirs };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(len, AOE_MIN_FRAME);
  cr_assert_eq(aoe_parse(f, len, 0, &d), AOE_PARSE_OK);
  check_hdr(&m, &d);
  cr_assert_eq(d.u.mask.mcmd, AOE_MCMD_EDIT);
  cr_assert_eq(d.u.mask.ndir, 2);
  cr_assert_arr_eq(d.u.mask.dirs, dirs, sizeof dirs);
}

Test(codec, reserve_round_trip)
{
  uint8_t f[128], macs[12];
  memcpy(macs, mac_a, 6);
  memcpy(macs + 6, mac_b, 6);
  struct aoe_msg m, d;
  hdr(&m, AOE_CMD_RESERVE, AOE_FLAG_RESP);
  m.u.rr = (struct aoe_rr){ .rcmd = AOE_RCMD_FORCE, .nmacs = 2, .macs = macs };
  size_t len = aoe_encode(f, sizeof f, &m);
  cr_assert_eq(aoe_parse(f, len, 1, &d), AOE_PARSE_OK);
  check_hdr(&m, &d);
  cr_assert_eq(d.u.rr.rcmd, AOE_RCMD_FORCE);
  cr_assert_eq(d.u.rr.nmacs, 2);
  cr_assert_arr_eq(d.u.rr.macs, macs, 12);
}

Test(codec, encode_refuses_small_buffer)
{
  uint8_t f[59];
  struct aoe_msg m;
  hdr(&m, AOE_CMD_CONFIG, 0);
  cr_assert_eq(aoe_encode(f, sizeof f, &m), 0);
  hdr(&m, 9, 0);
  uint8_t g[128];
  cr_assert_eq(aoe_encode(g, sizeof g, &m), 0, "unknown command is not encoded");
}

/* A valid frame of each command, for the truncation tests. */
static size_t sample(uint8_t cmd, uint8_t *f, size_t cap)
{
  static const uint8_t macs[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  struct aoe_msg m;
  hdr(&m, cmd, AOE_FLAG_RESP);
  if (cmd == AOE_CMD_ATA)
    m.u.ata = (struct aoe_ata){ .scnt = 1, .data = macs, .datalen = 12 };
  else if (cmd == AOE_CMD_CONFIG)
    m.u.cfg = (struct aoe_cfg){ .len = 12, .str = macs };
  else if (cmd == AOE_CMD_MASK)
    m.u.mask = (struct aoe_mask){ .ndir = 1, .dirs = macs };
  else
    m.u.rr = (struct aoe_rr){ .nmacs = 2, .macs = macs };
  return aoe_encode(f, cap, &m);
}

Test(reject, every_truncation_is_short_and_counted)
{
  static const size_t need[4] = { AOE_ATA_HDR_LEN, AOE_CFG_HDR_LEN, AOE_MASK_HDR_LEN,
                                  AOE_RR_HDR_LEN };
  for (uint8_t cmd = 0; cmd < 4; cmd++) {
    uint8_t f[128];
    sample(cmd, f, sizeof f);
    for (size_t len = 0; len < need[cmd]; len++) {
      uint64_t counts[AOE_PARSE_NRESULTS] = { 0 };
      struct aoe_msg d;
      cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_SHORT,
                   "command %u cut to %zu bytes", cmd, len);
      cr_assert_eq(counts[AOE_PARSE_SHORT], 1);
    }
  }
}

Test(reject, counts_reaching_past_the_frame)
{
  uint8_t f[128];
  struct aoe_msg d;
  uint64_t counts[AOE_PARSE_NRESULTS] = { 0 };
  /* Config: string of 12 bytes, frame cut to 12 - 1 bytes of it. */
  sample(AOE_CMD_CONFIG, f, sizeof f);
  cr_assert_eq(aoe_parse_counted(f, AOE_CFG_HDR_LEN + 11, 1, &d, counts), AOE_PARSE_COUNT);
  f[30] = 0x04; f[31] = 0x01;                 /* 1025 > 1024 */
  cr_assert_eq(aoe_parse_counted(f, sizeof f, 1, &d, counts), AOE_PARSE_COUNT);
  sample(AOE_CMD_CONFIG, f, sizeof f);
  f[29] = 0x15;                               /* ccmd 5 does not exist */
  cr_assert_eq(aoe_parse_counted(f, 60, 1, &d, counts), AOE_PARSE_COUNT);
  /* Mask: one directive of 8 bytes, frame cut inside it; then a directive count of 5. */
  sample(AOE_CMD_MASK, f, sizeof f);
  cr_assert_eq(aoe_parse_counted(f, AOE_MASK_HDR_LEN + 7, 1, &d, counts), AOE_PARSE_COUNT);
  f[27] = 5;
  cr_assert_eq(aoe_parse_counted(f, 60, 1, &d, counts), AOE_PARSE_COUNT);
  /* Reserve: 2 MACs, frame cut inside the second; then a MAC count of 6 in 60 bytes. */
  sample(AOE_CMD_RESERVE, f, sizeof f);
  cr_assert_eq(aoe_parse_counted(f, AOE_RR_HDR_LEN + 11, 1, &d, counts), AOE_PARSE_COUNT);
  f[25] = 6;
  cr_assert_eq(aoe_parse_counted(f, 60, 1, &d, counts), AOE_PARSE_COUNT);
  cr_assert_eq(counts[AOE_PARSE_COUNT], 7);
  cr_assert_eq(counts[AOE_PARSE_OK], 0);
}

Test(reject, wrong_ethertype_version_flags_command)
{
  uint8_t f[128];
  struct aoe_msg d;
  uint64_t counts[AOE_PARSE_NRESULTS] = { 0 };
  size_t len = sample(AOE_CMD_ATA, f, sizeof f);
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_OK);
  f[13] = 0xa3;
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_ETHERTYPE);
  f[13] = 0xa2;
  f[14] = 0x28;                               /* version 2 */
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_VERSION);
  f[14] = 0x18;
  cr_assert_eq(aoe_parse_counted(f, len, 0, &d, counts), AOE_PARSE_FLAGS,
               "a response where a request is expected");
  f[14] = 0x10;
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_FLAGS,
               "a request where a response is expected");
  f[14] = 0x19;
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_FLAGS, "reserved bit");
  f[14] = 0x14;
  cr_assert_eq(aoe_parse_counted(f, len, 0, &d, counts), AOE_PARSE_FLAGS, "error without R");
  f[14] = 0x18;
  f[19] = 4;
  cr_assert_eq(aoe_parse_counted(f, len, 1, &d, counts), AOE_PARSE_COMMAND);
  cr_assert_eq(counts[AOE_PARSE_OK], 1);
  cr_assert_eq(counts[AOE_PARSE_ETHERTYPE], 1);
  cr_assert_eq(counts[AOE_PARSE_VERSION], 1);
  cr_assert_eq(counts[AOE_PARSE_FLAGS], 4);
  cr_assert_eq(counts[AOE_PARSE_COMMAND], 1);
}

/* vblade announces itself when it starts with a Query Config reply broadcast from its
 * aoead(), whose flags byte is Resp alone: version 0.  That frame, and no other of version
 * 0, is accepted (h.version 0), so the initiator sees a shelf restart. */
Test(codec, vblade_announce_of_version_0)
{
  static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  /* captured from vblade 25 starting as e1.1: bufcnt 16, firmware 0x4019, scnt 2 */
  uint8_t f[AOE_MIN_FRAME] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x17, 0x31, 0xc4, 0xc7, 0x64, 0x88, 0xa2,
    0x08, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x10, 0x40, 0x19, 0x02, 0x10, 0x00, 0x00 };
  struct aoe_msg d;
  uint64_t counts[AOE_PARSE_NRESULTS] = { 0 };
  cr_assert_eq(aoe_parse_counted(f, 32, 1, &d, counts), AOE_PARSE_OK);
  cr_assert_eq(d.h.version, 0);
  cr_assert_arr_eq(d.h.dst, bcast, 6);
  cr_assert_eq(d.h.flags, AOE_FLAG_RESP);
  cr_assert_eq(d.h.shelf, 1);
  cr_assert_eq(d.h.slot, 1);
  cr_assert_eq(d.h.cmd, AOE_CMD_CONFIG);
  cr_assert_eq(d.u.cfg.bufcnt, 16);
  cr_assert_eq(d.u.cfg.version, 1);
  cr_assert_eq(aoe_parse(f, sizeof f, 1, &d), AOE_PARSE_OK, "padded to 60 bytes");
  cr_assert_eq(aoe_parse(f, 31, 1, &d), AOE_PARSE_VERSION, "no config argument");
  f[29] = 0x00;                                 /* the argument's version 0 too */
  cr_assert_eq(aoe_parse(f, 32, 1, &d), AOE_PARSE_VERSION);
  f[29] = 0x10;
  f[19] = AOE_CMD_RESERVE;                      /* not a Query Config */
  cr_assert_eq(aoe_parse(f, 32, 1, &d), AOE_PARSE_VERSION);
  f[19] = AOE_CMD_CONFIG;
  f[14] = 0x0c;                                 /* an error reply */
  cr_assert_eq(aoe_parse(f, 32, 1, &d), AOE_PARSE_VERSION);
  f[14] = 0x00;                                 /* a request */
  cr_assert_eq(aoe_parse(f, 32, 0, &d), AOE_PARSE_VERSION);
  f[14] = 0x18;                                 /* a version-1 reply says so */
  cr_assert_eq(aoe_parse(f, 32, 1, &d), AOE_PARSE_OK);
  cr_assert_eq(d.h.version, AOE_VERSION);
}

Test(reject, error_reply_needs_only_the_header)
{
  uint8_t f[128];
  struct aoe_msg d;
  sample(AOE_CMD_ATA, f, sizeof f);
  f[14] = 0x1c;                               /* R | E */
  f[15] = AOE_ERR_BADARG;
  cr_assert_eq(aoe_parse(f, AOE_HDR_LEN, 1, &d), AOE_PARSE_OK);
  cr_assert_eq(d.h.flags & AOE_FLAG_ERR, AOE_FLAG_ERR);
  cr_assert_eq(d.h.error, AOE_ERR_BADARG);
  cr_assert_eq(d.u.ata.datalen, 0);
}

Test(reject, parse_never_reads_past_len)
{
  /* The frame sits at the very end of its buffer: any read past LEN would touch the
   * guard bytes, which are set to values that would make a count valid. */
  uint8_t buf[256];
  for (uint8_t cmd = 0; cmd < 4; cmd++) {
    size_t len = sample(cmd, buf, sizeof buf);
    for (size_t cut = 0; cut <= len; cut++) {
      uint8_t copy[256];
      memset(copy, 0xff, sizeof copy);
      memcpy(copy, buf, cut);
      struct aoe_msg d;
      enum aoe_parse_result r = aoe_parse(copy, cut, 1, &d);
      if (r == AOE_PARSE_OK && cmd == AOE_CMD_ATA)
        cr_assert_leq(d.u.ata.datalen, cut);
      if (r == AOE_PARSE_OK && cmd == AOE_CMD_CONFIG)
        cr_assert_leq(AOE_CFG_HDR_LEN + (size_t)d.u.cfg.len, cut);
      if (r == AOE_PARSE_OK && cmd == AOE_CMD_MASK)
        cr_assert_leq(AOE_MASK_HDR_LEN + 8 * (size_t)d.u.mask.ndir, cut);
      if (r == AOE_PARSE_OK && cmd == AOE_CMD_RESERVE)
        cr_assert_leq(AOE_RR_HDR_LEN + 6 * (size_t)d.u.rr.nmacs, cut);
    }
  }
}

static void put_string(uint8_t *id, int word, const char *s, int nwords)
{
  for (int i = 0; i < 2 * nwords; i++) {
    char c = i < (int)strlen(s) ? s[i] : ' ';
    id[2 * word + (i ^ 1)] = (uint8_t)c;
  }
}

Test(identify, lba48_disk)
{
  uint8_t id[512] = { 0 };
  id[2 * 83 + 1] = 0x54;                      /* word 83 = 0x5400: LBA48, FLUSH CACHE */
  id[2 * 86 + 1] = 0x14;
  id[2 * 87 + 1] = 0x40;                      /* word 87 = 0x4000, word 85 = 0 */
  uint64_t sectors = 0x123456789aull;
  for (int i = 0; i < 8; i++)
    id[200 + i] = (uint8_t)(sectors >> (8 * i));
  id[120] = 0xff; id[121] = 0xff; id[122] = 0xff; id[123] = 0x0f;
  put_string(id, 10, "1.1:host", 10);
  put_string(id, 27, "Coraid EtherDrive vblade", 20);
  put_string(id, 23, "V25", 4);
  struct aoe_ident out;
  aoe_ident_parse(id, &out);
  cr_assert(out.lba48);
  cr_assert_eq(out.sectors, sectors);
  cr_assert(out.flush);
  cr_assert_not(out.flush_ext);
  cr_assert_str_eq(out.serial, "1.1:host");
  cr_assert_str_eq(out.model, "Coraid EtherDrive vblade");
  cr_assert_str_eq(out.fwrev, "V25");
  cr_assert_not(out.write_cache, "vblade's words 85-87 (87 = 0x4000) say no write cache");
}

/* Word 85 bit 5: the write cache is on; believed only when word 87 marks 85-87 valid. */
Test(identify, write_cache)
{
  uint8_t id[512] = { 0 };
  struct aoe_ident out;
  id[2 * 85] = 0x20;                          /* word 85 bit 5 */
  aoe_ident_parse(id, &out);
  cr_assert_not(out.write_cache, "word 87 does not validate word 85");
  id[2 * 87 + 1] = 0x40;                      /* word 87 = 0x4000 */
  aoe_ident_parse(id, &out);
  cr_assert(out.write_cache);
  id[2 * 85] = 0x00;
  aoe_ident_parse(id, &out);
  cr_assert_not(out.write_cache, "cache off");
  id[2 * 85] = 0x20;
  id[2 * 87 + 1] = 0xc0;                      /* bits 15:14 = 11: invalid */
  aoe_ident_parse(id, &out);
  cr_assert_not(out.write_cache);
}

Test(identify, lba28_disk)
{
  uint8_t id[512] = { 0 };
  id[120] = 0x00; id[121] = 0x00; id[122] = 0x20; id[123] = 0x00;   /* 0x200000 sectors */
  id[2 * 83 + 1] = 0x30;                      /* FLUSH CACHE and FLUSH CACHE EXT bits */
  struct aoe_ident out;
  aoe_ident_parse(id, &out);
  cr_assert_not(out.lba48);
  cr_assert_eq(out.sectors, 0x200000);
  cr_assert(out.flush_ext);
  cr_assert_str_eq(out.serial, "");
}

Test(errors, aoe_errors_map_to_errno)
{
  cr_assert_eq(aoe_error_errno(AOE_ERR_BADCMD), EOPNOTSUPP);
  cr_assert_eq(aoe_error_errno(AOE_ERR_BADARG), EINVAL);
  cr_assert_eq(aoe_error_errno(AOE_ERR_DEVUNAVAIL), ENXIO);
  cr_assert_eq(aoe_error_errno(AOE_ERR_RESERVED), EBADE);
  cr_assert_eq(aoe_error_errno(AOE_ERR_UNSUPVER), EPROTONOSUPPORT);
  cr_assert_eq(aoe_error_errno(99), EIO);
  cr_assert_str_eq(aoe_error_name(AOE_ERR_RESERVED), "target is reserved");
}

/* ---- fuzz: random and mutated frames of every command ---------------------------------- */

static uint64_t fuzz_rnd(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Every variable part of an accepted frame lies inside its LEN bytes at F. */
static void check_inside(const uint8_t *f, size_t len, const struct aoe_msg *d, unsigned c)
{
  const uint8_t *end = f + len, *p = NULL;
  size_t n = 0;
  switch (d->h.cmd) {
  case AOE_CMD_ATA: p = d->u.ata.data; n = d->u.ata.datalen; break;
  case AOE_CMD_CONFIG: p = d->u.cfg.str; n = d->u.cfg.len; break;
  case AOE_CMD_MASK: p = d->u.mask.dirs; n = (size_t)d->u.mask.ndir * 8; break;
  case AOE_CMD_RESERVE: p = d->u.rr.macs; n = (size_t)d->u.rr.nmacs * 6; break;
  default: cr_assert_fail("case %u: command %u accepted", c, d->h.cmd);
  }
  cr_assert(n == 0 || (p >= f && p <= end && n <= (size_t)(end - p)),
            "case %u: command %u: %zu bytes of its variable part reach past the %zu byte frame",
            c, d->h.cmd, n, len);
  cr_assert(d->h.cmd != AOE_CMD_CONFIG || d->u.cfg.len <= AOE_CFG_MAX);
}

/* A frame of each command (error replies too), mangled: random bytes at random places,
 * the counts set to boundary values, cut anywhere or padded; parsed from a buffer of
 * exactly its length (so that a sanitizer sees any read past it), both as a reply and as
 * a request.  Whatever is accepted stays inside the frame and encodes back. */
Test(fuzz, mangled_frames_stay_inside_their_length)
{
  static const uint8_t counts[] = { 0, 1, 2, 7, 8, 0x7f, 0x80, 0xfe, 0xff };
  uint64_t s = 0xf4a3e5;
  unsigned accepted = 0;
  for (unsigned c = 0; c < 200000; c++) {
    uint8_t f[1600];
    uint8_t cmd = (uint8_t)(c % 4);
    size_t len = sample(cmd, f, sizeof f);
    uint64_t x = fuzz_rnd(&s);
    if (x & 1)
      f[14] |= AOE_FLAG_ERR;
    if (x & 2)                                   /* a boundary count where counts live */
      f[25 + (x >> 8) % 7] = counts[(x >> 16) % sizeof counts];
    for (unsigned n = (x >> 24) % 6; n; n--)
      f[fuzz_rnd(&s) % len] = (uint8_t)fuzz_rnd(&s);
    if (x & 4)
      len = (size_t)(fuzz_rnd(&s) % (len + 1));
    else if (x & 8) {
      size_t more = (size_t)(fuzz_rnd(&s) % (sizeof f - len));
      memset(f + len, (int)(x >> 32), more);
      len += more;
    }
    uint8_t *exact = malloc(len ? len : 1);
    cr_assert_not_null(exact);
    memcpy(exact, f, len);
    for (int want = 0; want < 2; want++) {
      struct aoe_msg d;
      if (aoe_parse(exact, len, want, &d) != AOE_PARSE_OK)
        continue;
      accepted++;
      check_inside(exact, len, &d, c);
      uint8_t again[1600];
      cr_assert_gt(aoe_encode(again, sizeof again, &d), 0, "case %u: accepted, not encodable", c);
    }
    free(exact);
  }
  cr_assert_gt(accepted, 20000, "only %u frames were accepted: the mutations are too crude",
               accepted);
}
