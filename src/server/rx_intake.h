/*
 * rx_intake.h - the intake run, results day and appeals (rx_intake.c),
 * as the rest of the server sees them.
 */
#ifndef RX_INTAKE_H
#define RX_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/rx_err.h"
#include "../store/rx_store.h"
#include "rx_http.h"

struct rx_server;

/* At start: the data directory's paths, the ceremony's state, results
 * day from the store when published; the deadline sweeper. */
int rx_intake_open(struct rx_server *s, struct rx_err *err);
void rx_intake_close(struct rx_server *s);

/* The list is frozen (the lottery's freeze): setup and reviews are over. */
bool rx_intake_frozen(struct rx_server *s);
/* The result is published: results day, late applications. */
bool rx_intake_published(struct rx_server *s);
/* Replies 409 intake_frozen and returns true once frozen. */
bool rx_intake_refuse_frozen(struct rx_req *r);

/* On results day: the child holds a seat (offered or accepted) at school. */
bool rx_intake_seat_at(struct rx_server *s, const char *pseudonym, const char *school);

/* A child's seat on results day, as a copy (for the admission notice). */
struct rx_offer_view {
    char receipt[32];
    char school[64], school_name[256]; /* "" when no seat */
    char status[16];                   /* none, offered, accepted, declined, expired */
    char round[16];                    /* private, catchment, overflow, rolling, manual */
    char deadline[32];                 /* an offered seat's deadline, else "" */
    char digest[65];                   /* the published result's digest */
};
/* 0 with *out filled, -1 when nothing is published or the child is not in the result. */
int rx_intake_offer_view(struct rx_server *s, const char *pseudonym, struct rx_offer_view *out);

/* The bureau's signing key pair: PREFIX.key (0600) and PREFIX.pub. */
const char *rx_intake_key_prefix(struct rx_server *s);

/* The publication bundle's directory once published, else NULL. */
const char *rx_intake_publication_dir(struct rx_server *s);

/* A late child's application, submitted after publication: placed by
 * rolling admission (once; nothing when it is not late or placed). */
void rx_intake_place_late(struct rx_server *s, const struct rx_application *a);

extern const struct rx_route rx_intake_routes[];
extern const size_t rx_intake_nroutes;

#endif
