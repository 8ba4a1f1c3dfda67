/*
 * links: the link half of extraction (internal to extract/).  Collects
 * URLs from <a href> and from plain text, scores each by its anchor
 * text, its surrounding words and the URL itself, and keeps the best.
 * Links are never fetched.
 */
#ifndef EXTRACT_LINKS_H
#define EXTRACT_LINKS_H

#include "extract/extract.h"

/* Links below EXTRACT_LINK_MIN (extract.h) are not confirmation links;
 * they are reported so a user can see what was considered. */

/* Fill res->links / res->nlinks from in (HTML anchors first, then URLs
 * in the text and, for SMS, the body).  Returns the number of links. */
size_t	links_run(const struct extract_input *in, struct extract_result *res);

#endif
