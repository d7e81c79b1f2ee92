/* aoeraid status, add, fail, remove, writemostly, replace, speed, grow and check: the control socket
 * client. */
#ifndef AOERAID_STATUS_CMD_H
#define AOERAID_STATUS_CMD_H

int status_main(const char *progname, int argc, char **argv);
int add_main(const char *progname, int argc, char **argv);
int fail_main(const char *progname, int argc, char **argv);
int remove_main(const char *progname, int argc, char **argv);
int writemostly_main(const char *progname, int argc, char **argv);
int replace_main(const char *progname, int argc, char **argv);
int speed_main(const char *progname, int argc, char **argv);
int wait_main(const char *progname, int argc, char **argv);
int grow_main(const char *progname, int argc, char **argv);
int check_main(const char *progname, int argc, char **argv);

#endif
