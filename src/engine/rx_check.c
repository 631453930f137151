/*
 * rx_check.c - the engine's own checks of an intake (rx_intake_check).
 *
 * The io layer reports bad files with file and line; these checks guard
 * the engine against any caller (the server, tests, a fuzzer) and report
 * the record: source = "schools" | "units" | "catchments" | "students",
 * line = 1-based record number.  Duplicate student ids are found while
 * sorting (rx_allocate.c), where it costs nothing extra.
 */
#include <stdlib.h>
#include <string.h>

#include "rx_engine.h"

struct idstr {
    const char *id;
    uint32_t idx;
};

static int cmp_idstr(const void *x, const void *y)
{
    return strcmp(((const struct idstr *)x)->id, ((const struct idstr *)y)->id);
}

static int check_unique(const char *source, const char *(*id_at)(const void *, uint32_t),
                        const void *arr, uint32_t n, struct rx_err *err)
{
    struct idstr *v = malloc(((size_t)n + 1) * sizeof(*v));
    if (!v)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        v[i] = (struct idstr){id_at(arr, i), i};
    qsort(v, n, sizeof(*v), cmp_idstr);
    int rc = 0;
    for (uint32_t i = 1; i < n && !rc; i++)
        if (strcmp(v[i].id, v[i - 1].id) == 0) {
            const uint32_t a = v[i].idx > v[i - 1].idx ? v[i].idx : v[i - 1].idx;
            const uint32_t b = v[i].idx > v[i - 1].idx ? v[i - 1].idx : v[i].idx;
            rc = rx_err_set(err, -RX_E_DUP, source, a + 1, "id",
                            "duplicate id '%s' (also record %u)", v[i].id, b + 1);
        }
    free(v);
    return rc;
}

static const char *school_id(const void *a, uint32_t i)
{
    return ((const struct rx_school *)a)[i].id;
}
static const char *unit_id(const void *a, uint32_t i)
{
    return ((const struct rx_unit *)a)[i].id;
}
static const char *catchment_id(const void *a, uint32_t i)
{
    return ((const struct rx_catchment *)a)[i].id;
}

static bool range_ok(const struct rx_intake *in, uint32_t first, uint32_t count)
{
    return count == 0 || ((uint64_t)first + count <= in->nrefs);
}

static int check_students(const struct rx_intake *in, const struct rx_policy *pol, uint32_t *stamp,
                          struct rx_err *err);

struct tagged {
    uint32_t tag, idx;
};

static int cmp_tagged(const void *x, const void *y)
{
    const struct tagged *a = x, *b = y;
    return a->tag != b->tag ? (a->tag < b->tag ? -1 : 1) : (a->idx > b->idx) - (a->idx < b->idx);
}

static bool same_list(const struct rx_intake *in, uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(in->refs + a, in->refs + b, na * sizeof(uint32_t)) == 0);
}

/* Linked siblings: 2 to 4 per tag, sharing residence_unit, private_choices
 * and catchment_order (docs/formats.md); the error names the first record
 * of the tag, or the member that differs from it. */
static int check_linked(const struct rx_intake *in, struct rx_err *err)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < in->nstudents; i++)
        m += in->students[i].linked != RX_NONE;
    if (!m)
        return 0;
    struct tagged *v = malloc((size_t)m * sizeof(*v));
    if (!v)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    m = 0;
    for (uint32_t i = 0; i < in->nstudents; i++)
        if (in->students[i].linked != RX_NONE)
            v[m++] = (struct tagged){in->students[i].linked, i};
    qsort(v, m, sizeof(*v), cmp_tagged);
    int rc = 0;
    for (uint32_t a = 0; a < m && !rc;) {
        uint32_t b = a + 1;
        while (b < m && v[b].tag == v[a].tag)
            b++;
        if (b - a < 2 || b - a > 4)
            rc = rx_err_set(err, -RX_E_INVAL, "students", v[a].idx + 1, "linked_siblings",
                            "expected 2 to 4 linked siblings per tag, found %u", b - a);
        const struct rx_student *l = &in->students[v[a].idx];
        for (uint32_t q = a + 1; q < b && !rc; q++) {
            const struct rx_student *x = &in->students[v[q].idx];
            if (x->residence != l->residence ||
                !same_list(in, x->priv_first, x->priv_count, l->priv_first, l->priv_count) ||
                !same_list(in, x->order_first, x->order_count, l->order_first, l->order_count))
                rc = rx_err_set(err, -RX_E_INVAL, "students", v[q].idx + 1, "linked_siblings",
                                "linked siblings must share residence_unit, private_choices and "
                                "catchment_order");
        }
        a = b;
    }
    free(v);
    return rc;
}

int rx_intake_check(const struct rx_intake *in, const struct rx_policy *pol, struct rx_err *err)
{
    if (pol->ncategories > RX_MAX_CATEGORIES || pol->npoints > RX_MAX_POINTS_TERMS ||
        pol->ngroups > RX_MAX_GROUPS)
        return rx_err_set(err, -RX_E_RANGE, "policy", 0, NULL,
                          "too many categories, terms or groups");
    if (pol->overflow_radius < 1 || pol->overflow_radius > 50)
        return rx_err_set(err, -RX_E_RANGE, "policy", 0, "overflow_radius",
                          "expected 1..50, found %u", pol->overflow_radius);
    for (unsigned k = 0; k < pol->ncategories; k++)
        for (unsigned j = 0; j < pol->categories[k].ncond; j++)
            if (pol->categories[k].cond[j].fact >= RX_FACT_COUNT)
                return rx_err_set(err, -RX_E_INVAL, "policy", 0, pol->categories[k].name,
                                  "unknown fact %u", pol->categories[k].cond[j].fact);
    for (uint32_t s = 0; s < in->nschools; s++) {
        const struct rx_school *sc = &in->schools[s];
        if (!sc->id || !sc->id[0])
            return rx_err_set(err, -RX_E_INVAL, "schools", s + 1, "id",
                              "expected an id, found none");
        if (sc->sector > RX_SECTOR_SPECIAL)
            return rx_err_set(err, -RX_E_INVAL, "schools", s + 1, "sector",
                              "expected public, private or special");
        if (sc->seats < 0)
            return rx_err_set(err, -RX_E_RANGE, "schools", s + 1, "seats",
                              "expected seats >= 0, found %d", sc->seats);
    }
    for (uint32_t u = 0; u < in->nunits; u++) {
        if (!in->units[u].id || !in->units[u].id[0])
            return rx_err_set(err, -RX_E_INVAL, "units", u + 1, "id", "expected an id, found none");
        if (in->units[u].catchment != RX_NONE && in->units[u].catchment >= in->ncatchments)
            return rx_err_set(err, -RX_E_REF, "units", u + 1, "catchment",
                              "catchment index %u out of range", in->units[u].catchment);
    }
    for (uint32_t c = 0; c < in->ncatchments; c++) {
        const struct rx_catchment *ca = &in->catchments[c];
        if (!ca->id || !ca->id[0])
            return rx_err_set(err, -RX_E_INVAL, "catchments", c + 1, "id",
                              "expected an id, found none");
        if (ca->count == 0 || !range_ok(in, ca->first, ca->count))
            return rx_err_set(err, -RX_E_INVAL, "catchments", c + 1, "schools",
                              "expected at least one school");
        for (uint32_t k = 0; k < ca->count; k++) {
            const uint32_t s = in->refs[ca->first + k];
            if (s >= in->nschools)
                return rx_err_set(err, -RX_E_REF, "catchments", c + 1, "schools",
                                  "school index %u out of range", s);
            if (in->schools[s].sector != RX_SECTOR_PUBLIC)
                return rx_err_set(err, -RX_E_INVAL, "catchments", c + 1, "schools",
                                  "expected public schools, found '%s' (%s)", in->schools[s].id,
                                  in->schools[s].sector == RX_SECTOR_PRIVATE ? "private"
                                                                             : "special");
            for (uint32_t q = 0; q < k; q++)
                if (in->refs[ca->first + q] == s)
                    return rx_err_set(err, -RX_E_DUP, "catchments", c + 1, "schools",
                                      "school '%s' listed twice", in->schools[s].id);
        }
    }
    /* stamp[s] == c + 1: school s is in catchment c (the one being checked) */
    uint32_t *stamp = calloc((size_t)in->nschools + 1, sizeof(uint32_t));
    if (!stamp)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = check_students(in, pol, stamp, err);
    free(stamp);
    if (rc)
        return rc;
    if ((rc = check_linked(in, err)) != 0)
        return rc;
    rc = check_unique("schools", school_id, in->schools, in->nschools, err);
    if (!rc)
        rc = check_unique("units", unit_id, in->units, in->nunits, err);
    if (!rc)
        rc = check_unique("catchments", catchment_id, in->catchments, in->ncatchments, err);
    return rc;
}

static int check_students(const struct rx_intake *in, const struct rx_policy *pol, uint32_t *stamp,
                          struct rx_err *err)
{
    uint32_t stamped = RX_NONE;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_student *st = &in->students[i];
        if (!st->id || !st->id[0])
            return rx_err_set(err, -RX_E_INVAL, "students", i + 1, "id",
                              "expected an id, found none");
        if ((st->residence != RX_NONE && st->residence >= in->nunits) ||
            (st->hukou != RX_NONE && st->hukou >= in->nunits) ||
            (st->property != RX_NONE && st->property >= in->nunits))
            return rx_err_set(err, -RX_E_REF, "students", i + 1, "residence_unit",
                              "address unit index out of range");
        if (st->special > RX_SN_SPECIAL_SCHOOL)
            return rx_err_set(err, -RX_E_INVAL, "students", i + 1, "special_needs",
                              "expected none, inclusive or special_school");
        if (st->group != RX_GROUP_NONE && st->group >= pol->ngroups)
            return rx_err_set(err, -RX_E_REF, "students", i + 1, "priority_group",
                              "group %u is not in the policy (it has %u)", st->group, pol->ngroups);
        if (!range_ok(in, st->sib_first, st->sib_count) ||
            !range_ok(in, st->priv_first, st->priv_count) ||
            !range_ok(in, st->order_first, st->order_count))
            return rx_err_set(err, -RX_E_RANGE, "students", i + 1, NULL, "list out of range");
        for (uint32_t k = 0; k < st->sib_count; k++)
            if (in->refs[st->sib_first + k] >= in->nschools)
                return rx_err_set(err, -RX_E_REF, "students", i + 1, "sibling_schools",
                                  "school index out of range");
        if (st->priv_count > pol->private_choices)
            return rx_err_set(err, -RX_E_RANGE, "students", i + 1, "private_choices",
                              "expected at most %u private choices, found %u", pol->private_choices,
                              st->priv_count);
        for (uint32_t k = 0; k < st->priv_count; k++) {
            const uint32_t s = in->refs[st->priv_first + k];
            if (s >= in->nschools || in->schools[s].sector != RX_SECTOR_PRIVATE)
                return rx_err_set(err, -RX_E_INVAL, "students", i + 1, "private_choices",
                                  "expected private schools, found '%s'",
                                  s < in->nschools ? in->schools[s].id : "?");
            for (uint32_t q = 0; q < k; q++)
                if (in->refs[st->priv_first + q] == s)
                    return rx_err_set(err, -RX_E_DUP, "students", i + 1, "private_choices",
                                      "school '%s' listed twice", in->schools[s].id);
        }
        if (st->order_count) {
            const uint32_t c =
                st->residence == RX_NONE ? RX_NONE : in->units[st->residence].catchment;
            if (c == RX_NONE)
                return rx_err_set(err, -RX_E_INVAL, "students", i + 1, "catchment_order",
                                  "expected no order: the residence is in no catchment");
            const struct rx_catchment *ca = &in->catchments[c];
            if (stamped != c) {
                /* a stamp per catchment, so schools of an earlier one never match */
                for (uint32_t q = 0; q < ca->count; q++)
                    stamp[in->refs[ca->first + q]] = c + 1;
                stamped = c;
            }
            for (uint32_t k = 0; k < st->order_count; k++) {
                const uint32_t s = in->refs[st->order_first + k];
                if (s >= in->nschools || stamp[s] != c + 1)
                    return rx_err_set(err, -RX_E_INVAL, "students", i + 1, "catchment_order",
                                      "expected schools of catchment '%s', found '%s'", ca->id,
                                      s < in->nschools ? in->schools[s].id : "?");
            }
        }
    }
    return 0;
}
