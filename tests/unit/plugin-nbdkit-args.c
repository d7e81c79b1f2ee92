/* nbdkit's command line read as nbdkit's getopt_long reads it (plugin/nbdkit-args.c): -r
 * makes the plugin assemble read-only, an option's argument that looks like -r does not. */
#include <stdbool.h>
#include <stddef.h>

#include <criterion/criterion.h>

#include "../../plugin/nbdkit-args.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof(v)[0]))
/* nbdkit_args_readonly on a literal command line, getopt's default order. */
#define BY(...) ({ char *const v_[] = { "nbdkit", __VA_ARGS__ }; \
                   nbdkit_args_readonly(ARGC(v_), v_, false); })
#define RO(...) cr_expect_str_eq(BY(__VA_ARGS__) ?: "(null)", "nbdkit -r")
#define RW(...) cr_expect_null(BY(__VA_ARGS__))

Test(nbdkit_args, plain)
{
  RW("-f", "aoeraid", "name=vol");
  RO("-r", "aoeraid", "name=vol");
  RO("--readonly", "aoeraid", "name=vol");
  RO("--read-only", "aoeraid", "name=vol");
  RW("aoeraid", "name=vol", "readonly=false");
  RW("aoeraid", "r=1");                 /* a parameter, not an option */
}

Test(nbdkit_args, bundles)
{
  RO("-fr", "aoeraid", "name=vol");
  RO("-rfv", "aoeraid", "name=vol");
  RO("-vfr", "-U", "/tmp/s", "aoeraid");
  RW("-fv", "aoeraid");
}

Test(nbdkit_args, short_option_arguments)
{
  RW("-e", "-r", "aoeraid");            /* the export name "-r" */
  RW("-U", "-r", "aoeraid");
  RW("-D", "-r", "aoeraid");
  RW("-fP", "-r", "aoeraid");           /* -P at the end of a bundle takes the next */
  RW("-Pr", "aoeraid");                 /* the pidfile "r" */
  RW("-fer", "aoeraid");                /* -e takes the rest: the export name "r" */
  RW("-t4r", "aoeraid");
  RO("-p", "10809", "-r", "aoeraid");
  RO("-rp10809", "aoeraid");            /* -r, then -p with the rest */
  RO("-i", "::1", "-u", "nobody", "-g", "disk", "-fr", "aoeraid");
}

Test(nbdkit_args, long_option_arguments)
{
  RW("--run", "nbdcopy -r $uri out", "aoeraid");
  RW("--run", "-r", "aoeraid");
  RW("--run=-r", "aoeraid");
  RW("--exportname", "--readonly", "aoeraid");
  RW("--log=-r", "--tls", "-r", "aoeraid");
  RW("--unix", "-r", "--pidfile", "-r", "--threads", "-r", "aoeraid");
  RO("--run", "true", "-r", "aoeraid");
  RO("--run=nbdinfo $uri", "--readonly", "aoeraid");
  RO("--filter", "cache", "--read-only", "aoeraid");
}

Test(nbdkit_args, abbreviations)
{
  RO("--reado", "aoeraid");
  RO("--read", "aoeraid");              /* read-only and readonly, both -r */
  RW("--ru", "x -r", "aoeraid");        /* --run, abbreviated, takes "x -r" */
  RW("--pid", "-r", "aoeraid");
}

Test(nbdkit_args, double_dash)
{
  RW("-f", "--", "aoeraid", "-r");
  RW("--", "-r");
  RO("-r", "--", "aoeraid");
}

/* getopt finds options after the plugin name, unless POSIXLY_CORRECT is set */
Test(nbdkit_args, order)
{
  char *const after[] = { "nbdkit", "-f", "aoeraid", "name=vol", "-r" };

  cr_expect_str_eq(nbdkit_args_readonly(ARGC(after), after, false) ?: "", "nbdkit -r");
  cr_expect_null(nbdkit_args_readonly(ARGC(after), after, true));
  char *const before[] = { "nbdkit", "-r", "aoeraid", "name=vol" };
  cr_expect_str_eq(nbdkit_args_readonly(ARGC(before), before, true) ?: "", "nbdkit -r");
}

/* nbdkit's readonly filter makes the export read-only unless readonly-file= switches it */
Test(nbdkit_args, readonly_filter)
{
  const char *filter = "nbdkit --filter=readonly";

  cr_expect_str_eq(BY("--filter=readonly", "aoeraid", "name=vol") ?: "", filter);
  cr_expect_str_eq(BY("--filter", "readonly", "aoeraid") ?: "", filter);
  cr_expect_str_eq(BY("--filter=/usr/lib/nbdkit/filters/nbdkit-readonly-filter.so",
                      "aoeraid") ?: "", filter);
  RW("--filter=readonly", "aoeraid", "readonly-file=/run/ro");
  RW("--filter=cache", "aoeraid");
  RW("--run", "--filter=readonly", "aoeraid");
  RO("--filter=readonly", "-r", "aoeraid", "readonly-file=/run/ro");
}
