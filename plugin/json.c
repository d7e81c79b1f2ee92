/* JSON text: one escape for the plugin's status and the aoeraid command. */
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* The length of the UTF-8 sequence S starts with (1 to 4 bytes), or 0 when it is none:
 * a stray continuation byte, a cut or overlong sequence, a surrogate, past U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s)
{
  size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
  uint32_t cp = s[0] & (0x7f >> len);

  if (s[0] < 0xc2 || s[0] > 0xf4)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

/* S as a JSON string, its quotes included.  The array's name comes from its superblock,
 * which an older aoeraid wrote with any printable bytes (and examine reads any shelf's): a quote or backslash is escaped,
 * and a byte that is no UTF-8 (JSON is UTF-8 text) reads as U+FFFD. */
void json_string(FILE *out, const char *s)
{
  const unsigned char *c = (const unsigned char *)s;

  fputc('"', out);
  while (*c) {
    size_t len = *c < 0x80 ? 1 : utf8_sequence(c);
    if (*c == '"' || *c == '\\')
      fprintf(out, "\\%c", *c);
    else if (*c < 0x20 || *c == 0x7f)
      fprintf(out, "\\u%04x", *c);
    else if (!len)
      fputs("\\ufffd", out);
    else
      fwrite(c, 1, len, out);
    c += len ? len : 1;
  }
  fputc('"', out);
}
