/* JSON text, shared by the plugin's status and the aoeraid command. */
#ifndef AOERAID_PLUGIN_JSON_H
#define AOERAID_PLUGIN_JSON_H

#include <stdio.h>

/* S as a JSON string, its quotes included, to OUT: quotes, backslashes and control bytes
 * escaped, bytes that are no UTF-8 as U+FFFD. */
void json_string(FILE *out, const char *s);

#endif
