/*
 * extractcmd: "agentid extract", the extractor run by hand on one SMS text
 * or one RFC 5322 message, printing the codes and links it finds as JSON.
 * Needs no daemon.
 */
#ifndef EXTRACTCMD_H
#define EXTRACTCMD_H

#include <stddef.h>

#include <jansson.h>

#include "cli/cliargs.h"
#include "extract/extract.h"

int	 extractcmd_run(struct cliargs *);

/* True when data starts like an RFC 5322 header block. */
int	 extractcmd_looks_like_mail(const char *data, size_t len);

/* {"codes":[{value,origin,confidence,rule}],"links":[{url,confidence,
 * rule}]}, best first as extract ranked them.  New reference. */
json_t	*extractcmd_json(const struct extract_result *);

#endif
