/*
 * latent.c — the parts of the API every object shares: version, status strings,
 * the per-thread last error, and logging.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define STR2(x) #x
#define STR(x) STR2(x)

int latent_version(void) { return LATENT_VERSION; }

const char *latent_version_string(void)
{
    return STR(LATENT_VERSION_MAJOR) "." STR(LATENT_VERSION_MINOR) "." STR(LATENT_VERSION_PATCH);
}

const char *latent_status_str(latent_status status)
{
    switch (status) {
    case LATENT_OK: return "ok";
    case LATENT_EINVAL: return "invalid argument";
    case LATENT_ENOMEM: return "out of memory";
    case LATENT_EIO: return "input/output error";
    case LATENT_EFORMAT: return "malformed file";
    case LATENT_EUNSUPPORTED: return "unsupported";
    case LATENT_ENOTFOUND: return "not found";
    case LATENT_ERANGE: return "buffer too small";
    }
    return "unknown status";
}

/* ---- last error: per thread, so contexts in several threads do not mix messages ---- */

static _Thread_local char last_error[512];

const char *latent_last_error(void) { return last_error; }

/* ---- logging ---- */

static latent_log_fn log_fn;
static void *log_user;
static latent_log_level log_max = LATENT_LOG_WARN;

void latent_set_log(latent_log_fn fn, void *user, latent_log_level max_level)
{
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

static void emit(latent_log_level level, const char *msg)
{
    if (level > log_max)
        return;
    if (log_fn) {
        log_fn(level, msg, log_user);
        return;
    }
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "latent: %s: %s\n", names[level], msg);
}

void lt_log(latent_log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, buf);
}

latent_status lt_fail(latent_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    emit(LATENT_LOG_DEBUG, last_error);
    return status;
}

latent_status lt_fail_prefix(latent_status status, const char *fmt, ...)
{
    char prefix[256], old[sizeof last_error];
    memcpy(old, last_error, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
    emit(LATENT_LOG_DEBUG, last_error);
    return status;
}
