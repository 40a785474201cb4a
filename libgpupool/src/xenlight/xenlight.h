/*
 * xenlight/xenlight.h - libxenlight, loaded on first use (xenlight.c): the
 * seam of every libxl call libgpupool makes, as function pointers, so that
 * tests can replace libxl (gp_xen_set_libxl()), and a session type that
 * keeps libxl's messages.  Depends on core only.  Not installed.
 */
#ifndef GPUPOOL_XENLIGHT_H
#define GPUPOOL_XENLIGHT_H

/* Pinned libxl API.  The issue asked for 0x041700, but Xen 4.17's libxl.h
 * accepts only the listed stable versions up to 0x041400 (#error "Unknown
 * LIBXL_API_VERSION" otherwise); 0x041400 is the newest API 4.17 provides. */
#ifndef LIBXL_API_VERSION
#define LIBXL_API_VERSION 0x041400
#endif
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>

struct gp_xen_libxl {
    int (*ctx_alloc)(libxl_ctx **lx, xentoollog_logger *lg);
    void (*ctx_free)(libxl_ctx *lx);
    int (*get_physinfo)(libxl_ctx *lx, libxl_physinfo *pi);
    libxl_cputopology *(*get_cpu_topology)(libxl_ctx *lx, int *n);
    void (*cputopology_list_free)(libxl_cputopology *l, int n);
    libxl_numainfo *(*get_numainfo)(libxl_ctx *lx, int *n);
    void (*numainfo_list_free)(libxl_numainfo *l, int n);
    libxl_pcitopology *(*get_pci_topology)(libxl_ctx *lx, int *n);
    void (*pcitopology_list_free)(libxl_pcitopology *l, int n);
    libxl_cpupoolinfo *(*list_cpupool)(libxl_ctx *lx, int *n);
    void (*cpupoolinfo_list_free)(libxl_cpupoolinfo *l, int n);
    libxl_dominfo *(*list_domain)(libxl_ctx *lx, int *n);
    void (*dominfo_list_free)(libxl_dominfo *l, int n);
    char *(*domid_to_name)(libxl_ctx *lx, uint32_t domid);
    libxl_vcpuinfo *(*list_vcpu)(libxl_ctx *lx, uint32_t domid, int *nv, int *ncpus);
    void (*vcpuinfo_list_free)(libxl_vcpuinfo *l, int n);
    int (*set_vcpuaffinity)(libxl_ctx *lx, uint32_t domid, uint32_t vcpu,
                            const libxl_bitmap *hard, const libxl_bitmap *soft);
    int (*pci_assignable_add)(libxl_ctx *lx, libxl_device_pci *pci, int rebind);
    int (*pci_assignable_remove)(libxl_ctx *lx, libxl_device_pci *pci, int rebind);
    libxl_device_pci *(*pci_assignable_list)(libxl_ctx *lx, int *n);
    void (*pci_assignable_list_free)(libxl_device_pci *l, int n);
    int (*pci_add)(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci);
    int (*pci_remove)(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci);
    int (*pci_destroy)(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci);
    libxl_device_pci *(*pci_list)(libxl_ctx *lx, uint32_t domid, int *n);
    void (*pci_list_free)(libxl_device_pci *l, int n);
    /* libxl_domain_get_nodeaffinity (nodemap allocated by the caller);
     * NULL: not available (the node affinity is then unknown). */
    int (*get_nodeaffinity)(libxl_ctx *lx, uint32_t domid, libxl_bitmap *nodemap);
    /* dom0 side (sysfs): bound driver of a function (NULL = none; caller
     * frees) and binding one (0 or -errno). */
    char *(*pci_driver)(const char *pci_id);
    int (*pci_bind)(const char *pci_id, const char *driver);
};

#include "core/core.h"

/* ---- libxl, loaded on first use -------------------------------------------------- *
 *
 * libxenlight and its dependencies are loaded (dlopen) when the xen driver is
 * first opened, not at process start: a read command on a planning host, the
 * sim or xapi driver, and the XAPI plugin do not pay for them.  The headers
 * still come from libxen-dev 4.17, so every type and signature is checked at
 * compile time; the soname pins the ABI. */
#define GP_XL_SONAME "libxenlight.so.4.17"
#define GP_XL_SYMS(X)                                                                    \
    X(libxl_ctx_alloc) X(libxl_ctx_free) X(libxl_get_physinfo) X(libxl_physinfo_init)     \
    X(libxl_physinfo_dispose) X(libxl_get_cpu_topology) X(libxl_cputopology_list_free)    \
    X(libxl_get_numainfo) X(libxl_numainfo_list_free) X(libxl_get_pci_topology)         \
    X(libxl_pcitopology_list_free) X(libxl_list_cpupool) X(libxl_cpupoolinfo_list_free)  \
    X(libxl_list_domain) X(libxl_dominfo_list_free) X(libxl_domid_to_name)              \
    X(libxl_list_vcpu) X(libxl_vcpuinfo_list_free) X(libxl_set_vcpuaffinity)            \
    X(libxl_device_pci_assignable_add) X(libxl_device_pci_assignable_remove)            \
    X(libxl_device_pci_assignable_list) X(libxl_device_pci_assignable_list_free)        \
    X(libxl_device_pci_add) X(libxl_device_pci_remove) X(libxl_device_pci_destroy)      \
    X(libxl_device_pci_list) X(libxl_device_pci_list_free) X(libxl_device_pci_init)     \
    X(libxl_device_pci_dispose) X(libxl_error_to_string) X(libxl_bitmap_init)             \
    X(libxl_domain_get_nodeaffinity)

/* The loaded functions (xenlight.c). */
struct gp_xl_syms {
#define X(n) __typeof__(n) *n;
    GP_XL_SYMS(X)
#undef X
};
GP_HIDDEN extern struct gp_xl_syms gp_xl_sym;

/* The seam in use: libxl itself, or a test's fake. */
GP_HIDDEN extern const struct gp_xen_libxl *gp_xl_LX;
#define LX gp_xl_LX
/* Replace the seam (tests); NULL restores libxl. */
GP_HIDDEN void gp_xen_set_libxl(const struct gp_xen_libxl *ops);
/* True when libxl can talk to a hypervisor here (probed once per process). */
GP_HIDDEN bool gp_xen_present(void);

/* A logger that keeps libxl's messages instead of printing them. */
#define GPX_MAX_ERRORS 8
typedef struct {
    xentoollog_logger vtable;      /* first: libxl sees a xentoollog_logger */
    char errors[GPX_MAX_ERRORS][512]; /* messages at XTL_ERROR or above, in order */
    int n_errors;                  /* how many were logged (may exceed the array) */
    char last_warning[512];        /* last XTL_WARN message */
} gp_xtl;
GP_HIDDEN void gp_xl_logger_init(gp_xtl *x);

/* A libxl session: one libxl context and its logger. */
typedef struct {
    libxl_ctx *lx;                 /* NULL when closed */
    gp_xtl log;
} gp_xl;
/* Load libxenlight (once per process) and open a libxl context.  who names
 * the user in the message ("xen driver").  Errors: GP_ERR_DRIVER (library
 * missing, libxl_ctx_alloc failed, with libxl's messages). */
GP_HIDDEN int gp_xl_open(gp_xl *s, const char *who, gp_error_info *err);
GP_HIDDEN void gp_xl_close(gp_xl *s);
/* The session's libxl context, its logger emptied: call before each libxl
 * call so that a failure reports that call's messages only. */
GP_HIDDEN libxl_ctx *gp_xl_ctx(gp_xl *s);
/* libxl failed with lrc: GP_ERR_DRIVER with libxl's own messages (every
 * error it logged during the call, in order, as xl prints them after
 * "libxl: error: "), each also as a "libxl-error" param, and "libxl-rc".
 * Returns GP_ERR_DRIVER. */
GP_HIDDEN int gp_xl_fail(gp_xl *s, gp_error_info *err, int lrc, const char *fmt, ...)
    GP_PRINTF(4, 5);

/* Small conversions. */
GP_HIDDEN void gp_xl_uuid_format(const libxl_uuid *u, char out[37]);
/* libxl_device_pci of an SBDF (libxl_device_pci_init'ed).  Errors:
 * GP_ERR_PCI_ID_INVALID. */
GP_HIDDEN int gp_xl_pci_from_id(const char *pci_id, libxl_device_pci *pci, gp_error_info *err);
GP_HIDDEN void gp_xl_pci_to_id(const libxl_device_pci *pci, char out[GP_PCI_ID_LEN]);
GP_HIDDEN bool gp_xl_bitmap_test(const libxl_bitmap *b, unsigned bit);
/* Cpulist "2,3" of the set bits of b below nr_cpus (caller frees; NULL on
 * ENOMEM). */
GP_HIDDEN char *gp_xl_bitmap_join(const libxl_bitmap *b, int nr_cpus);

#endif /* GPUPOOL_XENLIGHT_H */

/* Calls through the loaded table.  xenlight.c itself defines
 * GP_XENLIGHT_IMPL and includes this header a second time after its loader,
 * so that the loader can still name the real symbols. */
#if !defined(GP_XENLIGHT_IMPL) || defined(GP_XENLIGHT_CALLS)
#ifndef GPUPOOL_XENLIGHT_CALLS_H
#define GPUPOOL_XENLIGHT_CALLS_H
#define libxl_ctx_alloc (*gp_xl_sym.libxl_ctx_alloc)
#define libxl_ctx_free (*gp_xl_sym.libxl_ctx_free)
#define libxl_physinfo_init (*gp_xl_sym.libxl_physinfo_init)
#define libxl_physinfo_dispose (*gp_xl_sym.libxl_physinfo_dispose)
#define libxl_set_vcpuaffinity (*gp_xl_sym.libxl_set_vcpuaffinity)
#define libxl_device_pci_add (*gp_xl_sym.libxl_device_pci_add)
#define libxl_device_pci_remove (*gp_xl_sym.libxl_device_pci_remove)
#define libxl_device_pci_destroy (*gp_xl_sym.libxl_device_pci_destroy)
#define libxl_device_pci_init (*gp_xl_sym.libxl_device_pci_init)
#define libxl_device_pci_dispose (*gp_xl_sym.libxl_device_pci_dispose)
#define libxl_error_to_string (*gp_xl_sym.libxl_error_to_string)
#define libxl_bitmap_init (*gp_xl_sym.libxl_bitmap_init)

#endif
#endif
