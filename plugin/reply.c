/* What an NBD client is told when one of its requests fails (see reply.h). */
#include <errno.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "reply.h"

int reply_errno(int err)
{
  switch (err) {
  case EIO: case ENOMEM: case EROFS: case EPERM: case ENOSPC: case ENOTSUP:
  case ESHUTDOWN: case EINVAL:
    return err;
  default:                      /* ETIMEDOUT, ENODEV, ECANCELED, EAGAIN...: not done */
    return EIO;
  }
}

int reply_result(const char *what, int rc)
{
  if (rc >= 0)
    return 0;
  int told = reply_errno(-rc);
  if (told != -rc)
    nbdkit_error("%s failed: %s; the client is told: %s", what, strerror(-rc), strerror(told));
  nbdkit_set_error(told);
  return -1;
}
