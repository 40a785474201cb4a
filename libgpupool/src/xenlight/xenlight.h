/*
 * driver_xen.h - the libxl seam of the xen driver (driver_xen.c): every libxl
 * call the driver makes, as function pointers, so that tests can replace
 * libxl (gp_xen_set_libxl()).  Not installed.
 */
#ifndef GPUPOOL_DRIVER_XEN_H
#define GPUPOOL_DRIVER_XEN_H

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

#endif /* GPUPOOL_DRIVER_XEN_H */
