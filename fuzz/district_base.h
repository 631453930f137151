/*
 * district_base.h - the small district of tests/data/tiny as C strings: the
 * files a district harness keeps fixed while it fuzzes one (generated once
 * from tests/data/tiny; keep the two in step).
 */
#ifndef FUZZ_DISTRICT_BASE_H
#define FUZZ_DISTRICT_BASE_H

static const char base_policy[] =
    "# ruxue district policy, format 1\n"
    "# tests/data/tiny: the small district every io test starts from.\n"
    "[policy]\n"
    "name = Tiny test district\n"
    "intake = 2027-T1\n"
    "cutoff_birth_date = 2020-08-31   # born on or before\n"
    "private_choices = 2\n"
    "tie_breaking = single\n"
    "overflow_radius = 3\n"
    "sibling_priority = yes\n"
    "linked_siblings_extra_seat = yes\n"
    "priority_groups = military, special_needs\n"
    "\n"
    "[category A]\n"
    "label = \346\210\277\346\210\267\344\270\200\350\207\264\n"
    "require = hukou_is_property\n"
    "require = hukou_in_catchment\n"
    "\n"
    "[category B]\n"
    "label = hukou\n"
    "require = hukou_in_catchment\n"
    "\n"
    "[category D]\n"
    "label = migrant\n"
    "require = residence_permit\n"
    "require = insurance_months >= 12\n"
    "require = residence_in_catchment\n"
    "\n"
    "[category E]\n"
    "label = resident\n"
    "require = residence_in_catchment\n"
    "\n"
    "[points]\n"
    "add = 10 if hukou_since <= 2024-08-31\n"
    "add = 1 per insurance_month max 60\n";

static const char base_schools[] =
    "\357\273\277id,name,sector,seats,lat,lon\r\n"
    "P1,East Primary,public,3,31.230000,121.470000\r\n"
    "P2,\"West Primary, Campus 2\",public,2,31.231000,121.460000\r\n"
    "P3,North Primary,public,2,31.240000,121.465000\r\n"
    "R1,Sunrise Private,private,1,31.235000,121.475000\r\n"
    "R2,\"Harbor \"\"Bilingual\"\" Private\",private,2,31.225000,121.455000\r\n"
    "R3,Lake Private,private,1,31.226,121.456\r\n"
    "X1,Special School,special,2,31.232000,121.468000\r\n";

static const char base_catchments[] =
    "id,schools\n"
    "C1,P1\n"
    "C2,P2;P3\n";

static const char base_units[] =
    "id,name,lat,lon,catchment\n"
    "U1,Garden Compound,31.2301,121.4701,C1\n"
    "U2,River Street 1-99,31.2311,121.4601,C2\n"
    "U3,\"Hill Estate\n"
    "Building 3\",31.2395,121.4655,C2\n"
    "U4,Outer Village,31.2,121.4,\n";

static const char base_students[] =
    "id,birth_date,residence_unit,hukou_unit,property_unit,hukou_since,residence_permit,insurance_months,sibling_schools,linked_siblings,special_needs,priority_group,private_choices,catchment_order\n"
    "s01,2020-01-15,U1,U1,U1,2018-03-01,no,0,,,,,R1,\n"
    "s02,2020-02-20,U1,U1,,2023-05-01,no,,,,,,,\n"
    "s03,2020-03-03,U1,,,,yes,24,,,,,,\n"
    "s04,2020-04-04,U1,,,,no,,P1,,,,R1;R2,\n"
    "s05,2020-05-05,U2,U2,U2,2015-01-01,no,,,,,,,P3;P2\n"
    "s06,2020-06-06,U2,U2,U2,2015-01-01,no,,,T1,,,R2,P3;P2\n"
    "s07,2020-06-06,U2,U2,U2,2015-01-01,no,,,T1,,,R2,P3;P2\n"
    "s08,2020-07-07,U3,,,,,,,,,military,,\n"
    "s09,2020-08-31,U3,U3,U3,,no,,,,inclusive,special_needs,,\n"
    "s10,2020-09-01,U1,U1,U1,,no,,,,,,,\n"
    "s11,2019-12-12,U4,,,,yes,36,,,,,R1,\n"
    "s12,2020-05-01,U2,,,,no,,,,special_school,,,\n"
    "s13,\"2020-01-01\",U1,U1,U1,,no,,,,none,,,\n"
    "s14,2020-02-02,,,,,no,,,,,,R3,\n";

#endif
