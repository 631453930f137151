/*
 * rx_policy.c - fact names and policy defaults (rx_policy.h).
 */
#include "rx_policy.h"

#include <string.h>

static const char *const fact_keys[RX_FACT_COUNT] = {
#define RX__FACT_KEY(name, key, text) [RX_FACT_##name] = key,
    RX_FACT_MAP(RX__FACT_KEY)
#undef RX__FACT_KEY
};

static const char *const fact_texts[RX_FACT_COUNT] = {
#define RX__FACT_TEXT(name, key, text) [RX_FACT_##name] = text,
    RX_FACT_MAP(RX__FACT_TEXT)
#undef RX__FACT_TEXT
};

const char *rx_fact_key(enum rx_fact f)
{
    return (unsigned)f < RX_FACT_COUNT ? fact_keys[f] : NULL;
}

const char *rx_fact_text(enum rx_fact f)
{
    return (unsigned)f < RX_FACT_COUNT ? fact_texts[f] : NULL;
}

int rx_fact_lookup(const char *key)
{
    for (int i = 0; i < RX_FACT_COUNT; i++)
        if (strcmp(fact_keys[i], key) == 0)
            return i;
    return -1;
}

void rx_policy_init(struct rx_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->cutoff_birth = 0;
    p->private_choices = 2;
    p->sibling_priority = true;
    p->linked_extra_seat = true;
    p->tiebreak = RX_TIEBREAK_SINGLE;
    p->overflow_radius = 5;
}
