/* The control socket: a Unix socket the `aoeraid` command talks to.  One request line per
 * connection ("status", "status json"), the answer, then close.  A line longer than 255
 * bytes, one not whole within a second, or one holding control bytes is answered with an
 * error line and never reaches the handler; no client holds its thread longer than a
 * second to send its line and one to take the answer.  Up to 16 clients are served at
 * once, each in a thread of its own (the handler is called from several threads at once:
 * it serialises what must be).  While all 16 are taken (commands queued behind a slow
 * one), the accept thread reads the next client's line itself: a quick request (status,
 * which never waits) is answered there, any other with one line, "busy: ... try again",
 * so that status stays answerable however many commands queue. */
#ifndef AOERAID_CONTROL_H
#define AOERAID_CONTROL_H

#include <stdbool.h>
#include <stdio.h>

struct control;

/* Writes the answer to one request line to out; returns 0, or -1 for an unknown request
 * (after writing an error line). */
typedef int control_request_fn(const char *request, FILE *out);
/* true for a request the handler answers without waiting (status): served even while
 * every client thread is taken. */
typedef bool control_quick_fn(const char *request);

/* Bind and listen on path (replacing a stale socket).  No thread yet. NULL + errno. */
struct control *control_open(const char *path, control_request_fn *handler,
                             control_quick_fn *quick);
int control_start(struct control *c);      /* start the accept thread (after the fork) */
/* Stop the accept thread, wait for the clients being served, unlink the socket. */
void control_close(struct control *c);

#endif
