/* What an NBD client is told when one of its requests fails.  nbdkit passes only some
 * errnos on (EPERM/EROFS, EIO, ENOMEM, EINVAL, ENOSPC, ESHUTDOWN, ENOTSUP, EOVERFLOW) and
 * turns the rest into EINVAL, "your request was wrong": a dead shelf's ETIMEDOUT or a
 * member's ENODEV would reach the client so.  Every data request's outcome goes through
 * reply_result. */
#ifndef AOERAID_REPLY_H
#define AOERAID_REPLY_H

/* The errno a client is told for a request that failed with ERR (positive, the real
 * reason): ERR itself when it means the same to a client (ENOMEM: try again; EROFS:
 * read-only; ENOSPC: out of space; ENOTSUP: a fast zero refused; ESHUTDOWN: the server
 * stops; EINVAL: a range the array does not hold), else EIO, as md answers a bio it
 * could not carry out whatever a member said. */
int reply_errno(int err);

/* Answer request WHAT ("pread", "flush"...) with RC (0 or -errno, as raid_read): 0, or -1
 * with the client's errno set (nbdkit_set_error).  When that is not RC's, one line logs
 * the real reason (raid/ logs its own, naming the members); limited as logburst.h says,
 * a client hammering a dead array floods no log. */
int reply_result(const char *what, int rc);
/* Call every second or so: says how many failed requests were left out of the log when
 * that is due, a flood that stopped included. */
void reply_log_tick(void);
/* The plugin closes: says how many were left out since the last such line, whatever the
 * interval (the monitor that ticked may have stopped long before: a fenced array). */
void reply_log_close(void);

#endif
