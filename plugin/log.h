/* Notices and warnings of nbdkit-aoeraid-plugin (errors go through nbdkit_error). */
#ifndef AOERAID_LOG_H
#define AOERAID_LOG_H

/* Call in .after_fork: if nbdkit went into the background (its stderr is /dev/null),
 * later lines go to syslog, where nbdkit sends its own errors then. */
void log_after_fork(void);
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
