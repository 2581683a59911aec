#ifndef FLOCK_CXENLIGHT_SHIM_H
#define FLOCK_CXENLIGHT_SHIM_H

/*
 * libxl, libxl_utils and libxenstore for the Xen driver (FlockXen).
 *
 * LIBXL_API_VERSION is deliberately left undefined, which selects the API of the installed
 * libxl (4.17). With it defined to an older version, libxl.h replaces several functions by
 * function-like macros over static inline wrappers (e.g. libxl_domain_unpause without ao_how);
 * Swift cannot see macros and would bind the real 4-argument functions anyway, so leaving it
 * undefined makes every signature Swift sees exactly the one that is called.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenstore.h>
#include <xentoollog.h>

/* INVALID_DOMID is `~0`, a macro Swift does not import. */
static const uint32_t flock_invalid_domid = INVALID_DOMID;

/*
 * A xentoollog logger that formats each message with vsnprintf and hands the text to a
 * callback: Swift cannot take a va_list-based printf format apart itself.
 */
typedef void (*flock_xtl_callback)(void *context, int level, int errnoval, const char *domain,
                                   const char *message);

typedef struct flock_xtl_logger {
    xentoollog_logger vtable; /* first, so libxl's xentoollog_logger * is this struct */
    flock_xtl_callback callback;
    void *context;
    xentoollog_level minimum;
} flock_xtl_logger;

static inline void flock_xtl_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
                                      const char *context, const char *format, va_list arguments) {
    flock_xtl_logger *self = (flock_xtl_logger *)logger;
    if (level < self->minimum) return;
    char text[2048];
    vsnprintf(text, sizeof text, format, arguments);
    self->callback(self->context, (int)level, errnoval, context, text);
}

static inline void flock_xtl_destroy(xentoollog_logger *logger) { free(logger); }

/* A logger for libxl_ctx_alloc; free it with xtl_logger_destroy after libxl_ctx_free. */
static inline xentoollog_logger *flock_xtl_logger_new(flock_xtl_callback callback, void *context,
                                                      int minimum) {
    flock_xtl_logger *self = calloc(1, sizeof *self);
    if (self == NULL) return NULL;
    self->vtable.vmessage = flock_xtl_vmessage;
    self->vtable.progress = NULL; /* allowed by xentoollog.h: no progress reports */
    self->vtable.destroy = flock_xtl_destroy;
    self->callback = callback;
    self->context = context;
    self->minimum = (xentoollog_level)minimum;
    return &self->vtable;
}

#endif
