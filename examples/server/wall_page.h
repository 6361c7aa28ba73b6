/*
 * wall_page.h — the sixteen-segment wall as one self-contained web page: an SVG drawn
 * as examples/wall/svg.c draws it (same plate, lean, segment geometry and colours), kept
 * live by an EventSource whose messages are frames in the `frames` backend's format
 * (cols*rows masks, row-major, 5 hex digits each, space-separated). No external script,
 * style or font; the browser's EventSource reconnects by itself and the server sends the
 * current frame first on every connection, so a reconnect never shows a stale wall.
 */
#ifndef LATENT_SERVER_WALL_PAGE_H
#define LATENT_SERVER_WALL_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* The page for a cols x rows wall whose frames come from `events_path`. */
void wall_page_html(strbuf *sb, int cols, int rows, const char *events_path);

/* One server-sent event carrying a frame: "id: N\ndata: 0001f 00000 ...\n\n". */
void wall_frame_event(strbuf *sb, unsigned long id, const uint32_t *masks, size_t n);

#endif
