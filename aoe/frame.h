/* aoe/frame.h: the AoE wire codec (internal to aoe/, used by its unit tests).
 *
 * Encoding and decoding of the four AoE commands: ATA, Query Config, MAC Mask List and
 * Reserve/Release.  Decoded fields are in host order; variable parts (ATA data, config
 * string, mask directives, reserve MACs) point into the frame and are bounded by its
 * received length.  Offsets and field meanings: docs/design.md "## aoe/" and the AoE
 * specification r1. */
#ifndef AOE_FRAME_H
#define AOE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define AOE_ETHERTYPE    0x88a2
#define AOE_VERSION      1
#define AOE_HDR_LEN      24     /* Ethernet + AoE common header */
#define AOE_ATA_HDR_LEN  36     /* ... + ATA argument; data follows */
#define AOE_CFG_HDR_LEN  32     /* ... + Query Config argument; string follows */
#define AOE_MASK_HDR_LEN 28     /* ... + mask argument; 8-byte directives follow */
#define AOE_RR_HDR_LEN   26     /* ... + reserve argument; 6-byte MACs follow */
#define AOE_MIN_FRAME    60     /* Ethernet minimum without FCS: shorter frames are padded */
#define AOE_CFG_MAX      1024   /* longest config string */
#define AOE_SECTOR       512

/* Common header flags (low nibble of byte 14; the version is the high nibble). */
#define AOE_FLAG_RESP    0x08
#define AOE_FLAG_ERR     0x04
#define AOE_FLAG_RESERVED 0x03

/* AoE error codes carried in byte 15 when AOE_FLAG_ERR is set. */
enum aoe_error {
  AOE_ERR_BADCMD = 1, AOE_ERR_BADARG = 2, AOE_ERR_DEVUNAVAIL = 3,
  AOE_ERR_CFGSET = 4, AOE_ERR_UNSUPVER = 5, AOE_ERR_RESERVED = 6,
};

enum aoe_cmd { AOE_CMD_ATA = 0, AOE_CMD_CONFIG = 1, AOE_CMD_MASK = 2, AOE_CMD_RESERVE = 3 };

/* ATA argument flags and the ATA commands the initiator uses. */
#define AOE_AFLAG_LBA48  0x40
#define AOE_AFLAG_DEV    0x10
#define AOE_AFLAG_ASYNC  0x02
#define AOE_AFLAG_WRITE  0x01
#define ATA_READ_EXT     0x24
#define ATA_WRITE_EXT    0x34
#define ATA_READ         0x20
#define ATA_WRITE        0x30
#define ATA_FLUSH        0xe7
#define ATA_FLUSH_EXT    0xea
#define ATA_IDENTIFY     0xec
#define ATA_STATUS_FAIL  0xa9   /* BSY | DF | DRQ | ERR: any of them means the command failed */
#define ATA_ERR_ABRT     0x04

/* Query Config sub-commands. */
enum aoe_ccmd { AOE_CCMD_READ = 0, AOE_CCMD_TEST = 1, AOE_CCMD_PREFIX = 2, AOE_CCMD_SET = 3,
                AOE_CCMD_FORCE = 4 };
/* Reserve/Release sub-commands; a release is a SET with no MACs. */
enum aoe_rcmd { AOE_RCMD_READ = 0, AOE_RCMD_SET = 1, AOE_RCMD_FORCE = 2 };
/* MAC Mask List sub-commands and directive commands. */
enum aoe_mcmd { AOE_MCMD_READ = 0, AOE_MCMD_EDIT = 1 };
enum aoe_dcmd { AOE_DCMD_NONE = 0, AOE_DCMD_ADD = 1, AOE_DCMD_DEL = 2 };

struct aoe_hdr {
  uint8_t dst[6], src[6];
  uint8_t version;              /* high nibble of byte 14: AOE_VERSION (0: see aoe_parse) */
  uint8_t flags;                /* low nibble of byte 14: AOE_FLAG_* */
  uint8_t error;
  uint16_t shelf;
  uint8_t slot, cmd;
  uint32_t tag;
};

struct aoe_ata {
  uint8_t aflags, feature, scnt, cmdstat;
  uint64_t lba;                 /* 48 bits */
  const uint8_t *data;          /* bytes after the ATA header */
  size_t datalen;
};

struct aoe_cfg {
  uint16_t bufcnt, firmware;
  uint8_t scnt, version, ccmd;
  uint16_t len;                 /* string length */
  const uint8_t *str;
};

struct aoe_mask_dir { uint8_t dcmd; uint8_t mac[6]; };

struct aoe_mask {
  uint8_t mcmd, merror, ndir;
  const uint8_t *dirs;          /* ndir directives of 8 bytes: reserved, dcmd, mac[6] */
};

struct aoe_rr {
  uint8_t rcmd, nmacs;
  const uint8_t *macs;          /* nmacs * 6 bytes */
};

struct aoe_msg {
  struct aoe_hdr h;
  union {
    struct aoe_ata ata;
    struct aoe_cfg cfg;
    struct aoe_mask mask;
    struct aoe_rr rr;
  } u;
};

/* Why a frame was rejected; aoe_parse returns one of these and the caller counts it. */
enum aoe_parse_result {
  AOE_PARSE_OK = 0,
  AOE_PARSE_SHORT,              /* shorter than the header its command needs */
  AOE_PARSE_ETHERTYPE,          /* not 0x88A2 */
  AOE_PARSE_VERSION,            /* AoE version other than 1 */
  AOE_PARSE_FLAGS,              /* response bit not as expected, or reserved bits set */
  AOE_PARSE_COUNT,              /* a count or length reaching past the frame or out of range */
  AOE_PARSE_COMMAND,            /* unknown AoE command */
  AOE_PARSE_NRESULTS
};

const char *aoe_parse_result_name(enum aoe_parse_result);

/* Decode LEN bytes at FRAME.  WANT_RESPONSE selects whether the R flag must be set (an
 * initiator reading replies) or clear (a target reading requests).  Never reads past LEN.
 * Error replies (E set) are accepted with only the common header and whatever of the
 * command's argument fits.  One frame of version 0 is accepted: a Query Config response
 * whose own argument says version 1, as vblade announces itself when it starts (its
 * header's version nibble left 0); h.version says so. */
enum aoe_parse_result aoe_parse(const uint8_t *frame, size_t len, int want_response,
                                struct aoe_msg *out);

/* aoe_parse that also counts the result in COUNTS (indexed by enum aoe_parse_result). */
enum aoe_parse_result aoe_parse_counted(const uint8_t *frame, size_t len, int want_response,
                                        struct aoe_msg *out,
                                        uint64_t counts[AOE_PARSE_NRESULTS]);

/* Encode M into BUF of CAP bytes, padding to AOE_MIN_FRAME with zeros.  Variable parts are
 * copied from M's pointers.  Returns the frame length, or 0 if CAP is too small or a count
 * is out of range. */
size_t aoe_encode(uint8_t *buf, size_t cap, const struct aoe_msg *m);

/* A Query Config read from SRC to DST for shelf.slot SHELF.SLOT (0xffff.0xff: every
 * shelf): discovery broadcasts it, keepalives send it to one path.  Returns the frame
 * length (AOE_MIN_FRAME), or 0 if CAP is too small. */
size_t aoe_encode_query(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
                        unsigned shelf, unsigned slot);

/* Write only the common and ATA headers (36 bytes) for the hot path, where the caller
 * places the data itself. */
void aoe_encode_ata_hdr(uint8_t *buf, const struct aoe_hdr *h, const struct aoe_ata *a);

/* What IDENTIFY DEVICE data says about a disk. */
struct aoe_ident {
  uint64_t sectors;
  int lba48;
  int flush_ext;                /* FLUSH CACHE EXT advertised (word 83 bit 13) */
  int flush;                    /* FLUSH CACHE advertised (word 83 bit 12) */
  int write_cache;              /* a volatile write cache, enabled (word 85 bit 5, when
                                   word 87 says words 85-87 are valid) */
  char serial[21], model[41], fwrev[9];
};

/* Parse the 512 bytes of IDENTIFY data; strings are byte-swapped back and trimmed. */
void aoe_ident_parse(const uint8_t id[AOE_SECTOR], struct aoe_ident *out);

/* Map an AoE error code to a positive errno and a short description. */
int aoe_error_errno(unsigned aoe_err);
const char *aoe_error_name(unsigned aoe_err);

#endif
