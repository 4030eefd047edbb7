/* Names and texts of enum sn_status (defined in plugin.h). */
#ifndef SN_CORE_STATUS_H
#define SN_CORE_STATUS_H

#include <sentineld/plugin.h>

/* "SN_EINVAL" style name; "SN_UNKNOWN" for out-of-range values. */
const char *sn_status_name(enum sn_status s);
/* Human text for the status. */
const char *sn_status_str(enum sn_status s);

#endif
