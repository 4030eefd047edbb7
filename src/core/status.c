/* Names and texts for enum sn_status, generated from SN_STATUS_MAP. */
#include "core/status.h"

const char *
sn_status_name(enum sn_status s)
{
    switch (s) {
#define X(name, text)                                                          \
    case SN_##name:                                                            \
        return "SN_" #name;
        SN_STATUS_MAP(X)
#undef X
    default:
        return "SN_UNKNOWN";
    }
}

const char *
sn_status_str(enum sn_status s)
{
    switch (s) {
#define X(name, text)                                                          \
    case SN_##name:                                                            \
        return text;
        SN_STATUS_MAP(X)
#undef X
    default:
        return "unknown status";
    }
}
