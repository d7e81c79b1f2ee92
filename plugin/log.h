/* Notices and warnings of nbdkit-aoeraid-plugin (errors go through nbdkit_error). */
#ifndef AOERAID_LOG_H
#define AOERAID_LOG_H

/* Call in .after_fork: if nbdkit went into the background (its stderr is /dev/null),
 * later lines go to syslog, where nbdkit sends its own errors then. */
void log_after_fork(void);
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The one warning for a shelf the admin removed that carries array NAME again (its
 * superblock could not be wiped): left out, and how to use it again (CONTROL: the control
 * socket, NULL when none).  PREFIX ("scan: " or "") starts the line. */
void log_removed_shelf(const char *prefix, unsigned shelf, unsigned slot, const char *name,
                       const char *control);

#endif
