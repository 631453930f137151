/*
 * rx_console.h - the console endpoints (rx_console.c), as the rest of the server sees them.
 */
#ifndef RX_CONSOLE_H
#define RX_CONSOLE_H

#include <stddef.h>

#include "rx_http.h"

extern const struct rx_route rx_console_routes[];
extern const size_t rx_console_nroutes;

#endif
