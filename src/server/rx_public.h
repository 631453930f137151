/*
 * rx_public.h - the public endpoints (rx_public.c), as the rest of the server sees them.
 */
#ifndef RX_PUBLIC_H
#define RX_PUBLIC_H

#include <stddef.h>

#include "rx_http.h"

extern const struct rx_route rx_public_routes[];
extern const size_t rx_public_nroutes;

#endif
