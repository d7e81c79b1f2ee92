/* The array's status as the control socket tells it (`aoeraid status`). */
#ifndef AOERAID_STATUS_H
#define AOERAID_STATUS_H

#include <stdio.h>

#include "aoe.h"
#include "raid.h"
#include "params.h"

void status_set(struct aoe_initiator *ini, struct raid_array *array, const struct params *p);
/* A recovery run starts now: the base of the rate and eta `aoeraid status` shows. */
void status_recovery_begin(void);
/* A resync run starts now, and ends (whole or not): the base of its rate and eta. */
void status_resync_begin(void);
void status_resync_end(void);
/* A reshape run starts (or resumes) now: the base of its rate and eta. */
void status_reshape_begin(void);
/* A check or repair starts now: the base of its rate. */
void status_check_begin(void);
/* A replace run starts now: the base of its rate. */
void status_replace_begin(void);
/* control_request_fn: "status" (text) or "status json". */
int status_request(const char *request, FILE *out);

#endif
