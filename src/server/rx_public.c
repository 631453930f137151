/*
 * rx_public.c - the public side of an intake: the published cutoffs, and
 * the signed admission notice (录取通知书) and its check.
 */
#include "rx_public.h"
#include "rx_srv.h"

static void h_none(struct rx_req *r)
{
    rx_reply_error(r, 404, "not_found", NULL, "no such resource");
}

const struct rx_route rx_public_routes[] = {
    {"GET", "/api/public/none", h_none, 0},
};
const size_t rx_public_nroutes = sizeof(rx_public_routes) / sizeof(rx_public_routes[0]);
