/*
 * rx_records.h - the authoritative records (户籍, 房产, 居住证, 社保) and the
 * check of a family's claims against them (product.md, "Apply without
 * proofs (无证明)"; issue #5; docs/records.md is the contract).
 *
 * Two halves:
 *
 *   1. Tables.  rx_records_parse() reads one of hukou.csv, property.csv,
 *      permits.csv or insurance.csv from a buffer into an immutable,
 *      indexed table: validated whole (every ID number by
 *      rx_idcard_parse(), every address unit against the district's
 *      units, duplicates, cross-row rules) and either returned whole or
 *      refused with the first error, naming the file, the physical line,
 *      the column and what was expected.  An error never shows an ID
 *      number in full, only masked (rx_idcard_mask: **************002X).
 *
 *   2. The check.  rx_records_check() takes what a family states (struct
 *      rx_records_claim) and returns the verified facts exactly as a row of
 *      students.csv holds them (struct rx_records_facts), plus one finding
 *      per claim: a stable reason code with a sentence in Simplified Chinese
 *      and in English.  A claim that is not confirmed leaves its fact empty
 *      and sends the application to manual review; it never blocks it.
 *      For that review, rx_records_evidence() shows what each table holds
 *      about the people and the certificate the claim names, ID numbers
 *      masked.
 *
 * Invariants:
 *   - No I/O, no globals, no printing.  Parsers take a buffer the caller
 *     owns (pure, fuzzable).
 *   - A table is immutable once returned: any number of threads may run
 *     rx_records_check() on the same tables at once.  To replace a table,
 *     parse the new one, swap the pointer in struct rx_records, then free
 *     the old one when no check uses it any more.
 *   - ID numbers in memory: a table keeps each person's normalised number
 *     packed as a 64-bit integer (its 17 digits; the check character
 *     follows from them), which is the number itself in another encoding.
 *     It never leaves the process: no finding, error, fact or evidence
 *     holds one, and rx_records_table_free() wipes the rows before
 *     freeing them.
 *     Anything that stores records on disk seals the uploaded file
 *     (rx_pii_seal) and parses it again on start (10^6 rows in well under
 *     a second).
 *
 * Left out on purpose ("bloat"): looking up a record the family did not
 * claim for a fact (a fact not claimed stays empty; the family edits the
 * application; the staff's evidence shows rows but never sets a fact);
 * fuzzy matching of addresses (units are ids); incremental updates of a
 * table (an upload replaces the table whole); checking
 * siblings, special needs and priority groups, which other offices settle
 * (reported as `unchecked`).
 */
#ifndef RX_RECORDS_H
#define RX_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rx_err.h"
#include "engine/rx_engine.h" /* RX_DATE_NONE, struct rx_policy */
#include "io/rx_csv.h"        /* RX_ID_MAX */
#include "people/rx_idcard.h" /* RX_IDCARD_LEN */

/* ============================================================== tables */

/* The four record files. */
enum rx_records_kind {
    RX_RECORDS_HUKOU = 0,     /* hukou.csv: household registration (户籍), public security */
    RX_RECORDS_PROPERTY = 1,  /* property.csv: real-estate titles (房产), housing bureau */
    RX_RECORDS_PERMITS = 2,   /* permits.csv: residence permits (居住证) */
    RX_RECORDS_INSURANCE = 3, /* insurance.csv: social insurance (社保), human resources */
    RX_RECORDS_COUNT
};

/* The file name of a kind ("hukou.csv"), used as err->source; NULL if out of range. */
const char *rx_records_file_name(enum rx_records_kind kind);

/* The district's address units, as their ids (borrowed for the call only). */
struct rx_records_units {
    const char *const *id; /* unique ids, any order */
    uint32_t n;
};

/* One parsed record file: opaque and immutable. */
struct rx_records_table;

#define RX_RECORDS_CERT_MAX 128    /* bytes of a normalised certificate number */
#define RX_RECORDS_MAX_MONTHS 1200 /* insurance months */

/*
 * Parse one record file buf[0..len) of the given kind.  Every unit must be
 * one of units; every ID number must pass rx_idcard_parse() with
 * today_days (days since 1970-01-01, China Standard Time).  On success
 * sets *out to a new table (free it with rx_records_table_free) and
 * returns 0.  On error returns -RX_E_INVAL / -RX_E_REF (unknown unit) /
 * -RX_E_DUP (same person twice, naming both lines) / -RX_E_RANGE /
 * -RX_E_NOMEM with err->source = the file name, err->line = the physical
 * line, err->field = the column; *out is untouched and nothing is kept.
 * Rows are checked top-down (the first bad field wins), rules between rows
 * after the last one.  No message or field holds a run of 10 or more
 * digits: such runs are masked like rx_idcard_mask (the CSV reader quotes
 * a bad header name as found, and a header merged with the first row
 * holds a whole number).  An id in units that is not a valid id (rx_csv_id_ok) or is listed twice
 * is -RX_E_INVAL with source "address_units".
 */
int rx_records_parse(enum rx_records_kind kind, const char *buf, size_t len,
                     const struct rx_records_units *units, int32_t today_days,
                     struct rx_records_table **out, struct rx_err *err);

/* Wipe and free a table; NULL is fine. */
void rx_records_table_free(struct rx_records_table *t);

/* The kind a table was parsed as. */
enum rx_records_kind rx_records_table_kind(const struct rx_records_table *t);

/* Data rows in the table (a property with two owners counts two). */
uint32_t rx_records_table_rows(const struct rx_records_table *t);

/*
 * Normalise a property certificate number (不动产权证书号) the way both the
 * file and the claim are compared: spaces (U+0020, U+3000) dropped,
 * full-width ASCII forms (U+FF01..U+FF5E, e.g. "（") turned into ASCII,
 * ASCII letters uppercased, so "京（2020）朝阳区不动产权第 0001234 号"
 * equals "京(2020)朝阳区不动产权第0001234号".  s must be valid UTF-8
 * without control characters, 1..RX_RECORDS_CERT_MAX bytes once
 * normalised.  0, or -1 (out then holds "").
 */
int rx_records_cert_normalize(const char *s, char out[RX_RECORDS_CERT_MAX + 1]);

/* The tables a check uses, borrowed; NULL = that file is not imported yet. */
struct rx_records {
    const struct rx_records_table *table[RX_RECORDS_COUNT]; /* indexed by kind */
};

/* ============================================================ the claim */

/* Which of the claim's guardians holds a permit or pays insurance. */
enum rx_records_holder {
    RX_HOLDER_NONE = 0,      /* not claimed (a zeroed claim claims nothing) */
    RX_HOLDER_GUARDIAN1 = 1, /* guardian_id[0] */
    RX_HOLDER_GUARDIAN2 = 2, /* guardian_id[1] */
};

/* What a family states for one child.  Strings are borrowed; NULL = "". */
struct rx_records_claim {
    const char *child_id;       /* the child's ID number (18 characters, 'x' or 'X') */
    const char *guardian_id[2]; /* guardian 1 (required) and guardian 2 (optional) */
    const char *residence_unit; /* address unit id where the child lives; "" = not claimed */
    bool hukou;                 /* the child's hukou is in the district (looked up by child_id) */
    const char *property_cert;  /* certificate number of a home owned by a guardian or the
                                   child; "" = no property claimed */
    uint8_t permit;             /* enum rx_records_holder: whose residence permit */
    uint8_t insurance;          /* enum rx_records_holder: whose social insurance */
    /* Settled by other offices, reported as `unchecked` when claimed: */
    bool sibling;        /* a sibling is enrolled at a school (sibling_schools) */
    bool special_needs;  /* special_needs other than none */
    bool priority_group; /* a policy-priority group (政策性照顾) */
};

/* The dates a check needs, days since 1970-01-01 (China Standard Time). */
struct rx_records_dates {
    int32_t today;           /* date of the check: ID numbers' birth dates on or before it */
    int32_t permit_valid_on; /* a permit counts when valid_until >= this day;
                                RX_DATE_NONE = today */
    int32_t hukou_since_max; /* the policy's latest hukou_since date (see
                                rx_records_policy_items); RX_DATE_NONE = none */
};

/* ============================================================ the result */

/* The verified facts, as the matching columns of students.csv hold them. */
struct rx_records_facts {
    char residence_unit[RX_ID_MAX + 1]; /* "" = not verified */
    char hukou_unit[RX_ID_MAX + 1];     /* "" = none verified */
    int32_t hukou_since;                /* RX_DATE_NONE with no hukou */
    char property_unit[RX_ID_MAX + 1];  /* "" = none verified */
    bool residence_permit;              /* a valid permit verified */
    uint16_t insurance_months;          /* 0 unless verified */
};

/* The claims a finding is about, named after their students.csv column. */
#define RX_RECORDS_ITEM_MAP(X)                                                                     \
    X(RESIDENCE_UNIT, "residence_unit", "居住地址", "residence")                                   \
    X(HUKOU_UNIT, "hukou_unit", "户籍", "household registration (hukou)")                          \
    X(PROPERTY_UNIT, "property_unit", "房产", "property")                                          \
    X(RESIDENCE_PERMIT, "residence_permit", "居住证", "residence permit")                          \
    X(INSURANCE_MONTHS, "insurance_months", "社保", "social insurance")                            \
    X(SIBLING_SCHOOLS, "sibling_schools", "兄弟姐妹在读", "sibling enrolled")                      \
    X(SPECIAL_NEEDS, "special_needs", "特殊教育需要", "special needs")                             \
    X(PRIORITY_GROUP, "priority_group", "政策性照顾", "policy-priority group")

enum rx_records_item {
#define RX__ITEM_ENUM(name, key, zh, en) RX_ITEM_##name,
    RX_RECORDS_ITEM_MAP(RX__ITEM_ENUM)
#undef RX__ITEM_ENUM
        RX_ITEM_COUNT
};

/* What a finding means for the application. */
enum rx_records_outcome {
    RX_OUTCOME_OK = 0,         /* the claim matched: its fact is set */
    RX_OUTCOME_INFO = 1,       /* a note on a verified fact; the policy's conditions decide */
    RX_OUTCOME_UNVERIFIED = 2, /* not confirmed: fact left empty, manual review */
    RX_OUTCOME_UNCHECKED = 3,  /* not this module's to check: another office settles it */
};

/*
 * The reason codes: X(NAME, code, outcome, Chinese sentence, English
 * sentence).  Codes are stable (the API, the store and the pages use
 * them); sentences may be reworded.
 */
#define RX_RECORDS_REASON_MAP(X)                                                                   \
    X(OK, "ok", OK, "与登记记录一致", "matches the records")                                       \
    X(UNCHECKED, "unchecked", UNCHECKED, "此项不在本平台核对，由主管部门另行确认",                 \
      "not checked against these records: the office in charge confirms it")                       \
    X(NOT_IMPORTED, "records_not_imported", UNVERIFIED, "相关部门的记录尚未导入，暂时无法核对",    \
      "the records for this claim have not been imported yet, so it could not be checked")         \
    X(HUKOU_NOT_FOUND, "hukou_not_found", UNVERIFIED, "户籍记录中没有该儿童",                      \
      "the household registration (hukou) records have no entry for the child")                    \
    X(HUKOU_MOVED_RECENTLY, "hukou_moved_recently", INFO, "户籍迁入日期晚于政策规定的日期",        \
      "the hukou was registered at this address after the date the policy sets")                   \
    X(HUKOU_NOT_WITH_GUARDIAN, "hukou_not_with_guardian", INFO,                                    \
      "儿童的户籍与申报的监护人不在同一户",                                                        \
      "the child's hukou is not in the same household as a guardian")                              \
    X(PROPERTY_NOT_FOUND, "property_not_found", UNVERIFIED, "不动产权证书号未找到",                \
      "property certificate number not found")                                                     \
    X(OWNER_NOT_GUARDIAN, "owner_not_guardian", UNVERIFIED, "房产所有人不是监护人",                \
      "the owner of the property is not a guardian")                                               \
    X(PERMIT_NOT_FOUND, "permit_not_found", UNVERIFIED, "未找到该监护人的居住证记录",              \
      "no residence permit on record for this guardian")                                           \
    X(PERMIT_EXPIRED, "permit_expired", UNVERIFIED, "居住证已过有效期",                            \
      "the residence permit has expired")                                                          \
    X(INSURANCE_NOT_FOUND, "insurance_not_found", UNVERIFIED, "未找到该监护人的社保记录",          \
      "no social insurance on record for this guardian")                                           \
    X(RESIDENCE_MISMATCH, "residence_mismatch", UNVERIFIED,                                        \
      "申报的居住地址与已核实的户籍、房产或居住证地址不一致",                                      \
      "the claimed residence is not the address of the verified hukou, property or residence "     \
      "permit")                                                                                    \
    X(RESIDENCE_NOT_FOUND, "residence_not_found", UNVERIFIED,                                      \
      "没有已核实的户籍、房产或居住证记录可以证明申报的居住地址",                                  \
      "no verified hukou, property or residence permit record confirms the claimed residence")

enum rx_records_reason {
#define RX__REASON_ENUM(name, code, outcome, zh, en) RX_REASON_##name,
    RX_RECORDS_REASON_MAP(RX__REASON_ENUM)
#undef RX__REASON_ENUM
        RX_REASON_COUNT
};

/* One finding: a claim and what the records say about it. */
struct rx_records_finding {
    uint8_t reason; /* enum rx_records_reason */
    uint8_t item;   /* enum rx_records_item: the claim it is about */
    int32_t date;   /* hukou_moved_recently: the hukou's since; permit_expired: its
                       valid_until; else RX_DATE_NONE */
};

/* At most this many findings per check (two or three per claim, in fact). */
#define RX_RECORDS_MAX_FINDINGS 16

/* ============================================================= checking */

/*
 * Check a claim against the records (any table may be NULL: its claims
 * are `records_not_imported`).  Fills *facts and findings[0..*nfindings),
 * in this order: hukou_unit, property_unit, residence_permit,
 * insurance_months, residence_unit (which depends on the first three),
 * then the unchecked claims.  Each claim made gets an `ok` finding when
 * it matched, or the reason it did not; verified hukou facts may get
 * `hukou_moved_recently` and `hukou_not_with_guardian` notes besides.
 * A claim not made gets no finding and an empty fact.
 *
 * The residence rule: the claimed residence_unit is verified when it
 * equals a unit the check verified for this child: the hukou's, the
 * property's or the valid residence permit's; otherwise it is
 * `residence_mismatch` (a verified unit differs) or `residence_not_found`
 * (none was verified), and the fact stays empty.
 *
 * Returns 0, or -RX_E_INVAL when the claim itself is malformed (err->field
 * "child_id_number", "guardian1_id_number", "guardian2_id_number",
 * "residence_unit", "property_cert", "residence_permit" or
 * "insurance_months"; no number shown): an invalid ID number, no guardian 1,
 * a guardian who is the child or the other guardian, a holder naming a
 * guardian not given, a unit that is not an id, a certificate that does
 * not normalise.  The server validates these when the family types them.
 * *facts and the findings are set only on success.
 */
int rx_records_check(const struct rx_records *rec, const struct rx_records_claim *claim,
                     const struct rx_records_dates *dates, struct rx_records_facts *facts,
                     struct rx_records_finding findings[RX_RECORDS_MAX_FINDINGS],
                     unsigned *nfindings, struct rx_err *err);

/* true when a finding is `unverified`: the application goes to manual review. */
bool rx_records_need_review(const struct rx_records_finding *findings, unsigned n);

/* ============================================================= evidence */

/* Owners of a certificate shown in the evidence; nowners tells how many there are. */
#define RX_RECORDS_EVIDENCE_OWNERS 8

/* Who an owner of the claimed certificate is, relative to the claim. */
enum rx_records_role {
    RX_PERSON_OTHER = 0,     /* none of the people named in the claim */
    RX_PERSON_GUARDIAN1 = 1, /* guardian_id[0] */
    RX_PERSON_GUARDIAN2 = 2, /* guardian_id[1] */
    RX_PERSON_CHILD = 3,     /* child_id */
};

/* The role's name: "other", "guardian1", "guardian2", "child"; NULL if out of range. */
const char *rx_records_role_name(enum rx_records_role role);

/* One person's row in hukou.csv. */
struct rx_records_hukou_row {
    bool found;               /* the person has a row; else the rest is empty */
    uint32_t line;            /* its physical line in hukou.csv; 0 = not found */
    char unit[RX_ID_MAX + 1]; /* address unit of the registration; "" = not found */
    int32_t since;            /* date registered there (迁入日期); RX_DATE_NONE = not found */
    char household[RX_ID_MAX + 1]; /* household number (户号); "" = none in the file or not
                                      found.  Any run of 10+ digits (or X) is masked like an ID
                                      number (only the last 4 kept): compare
                                      households with same_household, not by this text */
    bool same_household;           /* guardians only: both the child's and this row have a
                                      household number and it is the same (the check's
                                      hukou_not_with_guardian rule); always false for the child */
};

/* One guardian's row in permits.csv. */
struct rx_records_permit_row {
    bool found;               /* the guardian has a permit on record; else the rest is empty */
    uint32_t line;            /* its physical line in permits.csv; 0 = not found */
    char unit[RX_ID_MAX + 1]; /* address unit of the residence on the permit */
    int32_t valid_until;      /* last day it is valid; RX_DATE_NONE = not found */
    bool valid;               /* valid_until >= the today_days given (the check may use the
                                 policy's date instead: rx_records_dates.permit_valid_on) */
};

/* One guardian's row in insurance.csv. */
struct rx_records_insurance_row {
    bool found;      /* the guardian has a row; else months is 0 */
    uint32_t line;   /* its physical line in insurance.csv; 0 = not found */
    uint16_t months; /* continuous months paid, 0..RX_RECORDS_MAX_MONTHS */
};

/* One owner of the claimed certificate (one row of property.csv). */
struct rx_records_owner {
    char id_masked[RX_IDCARD_LEN + 1]; /* the owner's ID number masked: "**************002X" */
    uint8_t role;                      /* enum rx_records_role */
    uint32_t line;                     /* its physical line in property.csv */
};

/*
 * What the record tables hold about the people and the certificate named
 * in a claim, whether or not the claim matched, for staff in manual review
 * ("the evidence side by side").  Plain data, no pointers; no ID number in
 * full, only masked (and no packed one).  Entries for guardian 2 are empty
 * when the claim names none (guardian2 false).  A table not imported has
 * imported == false and every entry of its section empty: "not imported",
 * not "not found".
 */
struct rx_records_evidence {
    bool guardian2; /* the claim names a second guardian */
    struct {
        bool imported; /* hukou.csv is imported */
        struct rx_records_hukou_row child;
        struct rx_records_hukou_row guardian[2]; /* [0] = guardian 1, [1] = guardian 2 */
    } hukou;
    struct {
        bool claimed;             /* the claim names a certificate; else nothing is looked up */
        bool imported;            /* property.csv is imported */
        bool found;               /* the certificate (normalised) has rows */
        char unit[RX_ID_MAX + 1]; /* address unit of the home; "" = not found */
        uint32_t nowners;         /* its owners on record (rows), possibly more than shown */
        uint32_t nshown;          /* owner[0..nshown): min(nowners, RX_RECORDS_EVIDENCE_OWNERS),
                                     the people named in the claim first, then the others, each
                                     group in ID-number order */
        struct rx_records_owner owner[RX_RECORDS_EVIDENCE_OWNERS];
    } property;
    struct {
        bool imported; /* permits.csv is imported */
        struct rx_records_permit_row guardian[2];
    } permits;
    struct {
        bool imported; /* insurance.csv is imported */
        struct rx_records_insurance_row guardian[2];
    } insurance;
};

/*
 * Fill *out with the evidence for a claim: the child's and each guardian's
 * hukou.csv row, the claimed certificate's property.csv rows (each owner
 * masked, with their role), each guardian's permit (valid on today_days or
 * not) and insurance months.  Looks rows up exactly as rx_records_check
 * does, for every person named whatever was claimed (the claim's hukou,
 * permit and insurance flags select nothing here); it sets no fact and
 * makes no finding.  For staff only: it shows records the family may not
 * have claimed.
 *
 * today_days is the day ID numbers' birth dates must not pass (as
 * rx_records_dates.today) and the day permits are judged valid on.
 * Returns 0, or -RX_E_INVAL for a malformed claim with the same err->field
 * as rx_records_check (or a table in the wrong slot); *out is set only on
 * success.  Pure and thread-safe like the check.
 */
int rx_records_evidence(const struct rx_records *rec, const struct rx_records_claim *claim,
                        int32_t today_days, struct rx_records_evidence *out, struct rx_err *err);

/*
 * The claims the policy uses, as a bit set (1u << RX_ITEM_*): the
 * application form asks for these and nothing else.  residence_unit and
 * special_needs always (every round and special-school placement uses
 * them); sibling_schools when the policy gives siblings priority or a
 * condition names them; priority_group when the policy has groups.  When
 * hukou_since_max is not NULL it gets the latest hukou_since date of the
 * policy's conditions and points terms, or RX_DATE_NONE.
 */
unsigned rx_records_policy_items(const struct rx_policy *pol, int32_t *hukou_since_max);

/* ------------------------------------------------------- names, texts */

/* The stable code of a reason ("hukou_not_found"); NULL if out of range. */
const char *rx_records_reason_code(enum rx_records_reason r);

/* Look a reason up by its code; -1 when unknown. */
int rx_records_reason_lookup(const char *code);

/* The outcome of a reason (fixed per code). */
enum rx_records_outcome rx_records_reason_outcome(enum rx_records_reason r);

/* The reason's sentence for families and staff; NULL if out of range. */
const char *rx_records_reason_text(enum rx_records_reason r, bool english);

/* The outcome's name: "ok", "info", "unverified", "unchecked". */
const char *rx_records_outcome_name(enum rx_records_outcome o);

/* The claim's key ("hukou_unit") and its label (户籍 / "household registration (hukou)"). */
const char *rx_records_item_key(enum rx_records_item item);
const char *rx_records_item_label(enum rx_records_item item, bool english);

#endif
