/*
 * validate.c - host-validate: is this host fit for GPU passthrough?
 *
 * One gp_check per check (gpupool.h lists them, docs/host-validate.md
 * explains each), judged from facts discovery already gathers (the host
 * model: libpci, sysfs attributes, hwloc, libxl physinfo) plus the PCI
 * hierarchy of the same source (discover: sysfs device paths, libpci bridge
 * bus numbers, hwloc Bridge objects) and pool membership.  Every check says
 * which fact it read and where from; a fact the source lacks makes the
 * check "unknown", never a guess.  The judging is a pure function of those
 * facts (gp_validate_facts), so tests can feed it a built host.
 */
#include "ops/ops.h"
#include "core/fields.h"

#include <dirent.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024ull * 1024 * 1024)
#define MIB (1024ull * 1024)

/* ---- the list being built ----------------------------------------------------- */

typedef struct {
    gp_check *v;
    size_t n, cap;
    bool nomem;
} ck_list;

/* Append a check; id, evidence and remedy are taken over (NULL = the
 * allocation that made them failed). */
static void ck_add(ck_list *l, gp_check_status st, char *id, const char *subject,
                   const char *title, char *evidence, char *remedy)
{
    gp_check *c;
    if (l->nomem || !id || !evidence || !remedy ||
        gp_array_reserve((void **)&l->v, &l->cap, l->n, sizeof(*l->v)))
        goto nomem;
    c = &l->v[l->n];
    memset(c, 0, sizeof(*c));
    c->status = st;
    c->id = id;
    c->evidence = evidence;
    c->remedy = remedy;
    c->subject = gp_strdup(subject);
    c->title = gp_strdup(title);
    l->n++;
    if (!c->subject || !c->title)
        l->nomem = true;
    return;
nomem:
    l->nomem = true;
    free(id);
    free(evidence);
    free(remedy);
}

void gp_check_list_free(gp_check *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].id);
        free(c[i].subject);
        free(c[i].title);
        free(c[i].evidence);
        free(c[i].remedy);
    }
    free(c);
}

/* "8 GT/s x16", "unknown speed x16", ... */
static void link_text(const gp_pcie_link *l, char *buf, size_t len)
{
    char sp[32], w[16];
    if (l->speed_gts > 0)
        snprintf(sp, sizeof(sp), "%g GT/s", l->speed_gts);
    else
        snprintf(sp, sizeof(sp), "unknown speed");
    if (l->width > 0)
        snprintf(w, sizeof(w), "x%d", l->width);
    else
        snprintf(w, sizeof(w), "unknown width");
    snprintf(buf, len, "%s %s", sp, w);
}

/* Where a GPU's PCI facts came from, for evidence texts. */
static const char *gpu_where(const gp_gpu *g)
{
    if (!g->source)
        return "unknown source";
    if (!strcmp(g->source, "sysfs"))
        return "sysfs";
    if (!strcmp(g->source, "dump"))
        return "lspci dump";
    return "hwloc XML";
}

/* ---- host checks -------------------------------------------------------------- */

static void check_iommu(ck_list *l, const gp_host *h, const gp_validate_env *env)
{
    const char *t = "IOMMU / passthrough available";
    if (h->passthrough != GP_UNKNOWN) {
        bool on = h->passthrough == GP_YES;
        ck_add(l, on ? GP_CHECK_PASS : GP_CHECK_FAIL, gp_strdup("iommu"), "host", t,
               gp_asprintf("libxl_get_physinfo cap_hvm_directio=%d (xl info virt_caps %s "
                           "hvm_directio / pv_directio)", on ? 1 : 0, on ? "lists" : "lacks"),
               gp_strdup(on ? "" : "enable VT-d / AMD-Vi in the firmware and boot Xen with "
                                   "iommu=1 (not iommu=0 / iommu=off)"));
        return;
    }
    if (!env->sysfs_root) {
        ck_add(l, GP_CHECK_UNKNOWN, gp_strdup("iommu"), "host", t,
               gp_asprintf("the source (%s) carries no IOMMU facts: no libxl physinfo, "
                           "no sysfs kernel/iommu_groups",
                           h->pci_source ? h->pci_source : "none"),
               gp_strdup("run host-validate on the host itself (dom0), or capture its "
                         "sysfs tree with /sys/kernel/iommu_groups"));
        return;
    }
    char *dir = gp_asprintf("%s/kernel/iommu_groups", env->sysfs_root);
    if (!dir) {
        l->nomem = true;
        return;
    }
    DIR *d = opendir(dir);
    long groups = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                groups++;
        closedir(d);
    }
    if (groups > 0)
        ck_add(l, GP_CHECK_PASS, gp_strdup("iommu"), "host", t,
               gp_asprintf("%s holds %ld IOMMU groups", dir, groups), gp_strdup(""));
    else if (!d && env->captured)
        ck_add(l, GP_CHECK_UNKNOWN, gp_strdup("iommu"), "host", t,
               gp_asprintf("%s is not in the captured tree", dir),
               gp_strdup("capture /sys/kernel/iommu_groups too, or run on the host"));
    else
        ck_add(l, GP_CHECK_FAIL, gp_strdup("iommu"), "host", t,
               gp_asprintf(d ? "%s is empty: no IOMMU in use" : "%s is absent: no IOMMU in use",
                           dir),
               gp_strdup("enable VT-d / AMD-Vi in the firmware and the kernel (intel_iommu=on "
                         "/ amd_iommu=on); under Xen boot with iommu=1"));
    free(dir);
}

static void check_intremap(ck_list *l, const gp_host *h, const gp_validate_env *env)
{
    const char *t = "interrupt remapping";
    char *ev;
    if (h->passthrough != GP_UNKNOWN)
        ev = gp_asprintf("libxl_physinfo of Xen 4.17 has no interrupt-remapping field "
                         "(it has cap_hvm_directio=%d, cap_hap, cap_shadow, "
                         "cap_iommu_hap_pt_share...): not reported",
                         h->passthrough == GP_YES ? 1 : 0);
    else if (env->sysfs_root)
        ev = gp_strdup("sysfs has no interrupt-remapping attribute; Linux and Xen report it "
                       "only in their boot logs");
    else
        ev = gp_asprintf("the source (%s) carries no interrupt-remapping fact",
                         h->pci_source ? h->pci_source : "none");
    ck_add(l, GP_CHECK_UNKNOWN, gp_strdup("interrupt-remapping"), "host", t, ev,
           gp_strdup("read the boot log: `xl dmesg | grep -i remapping` on Xen (\"Interrupt "
                     "remapping enabled\"; iommu=no-intremap turns it off), `dmesg | grep -i "
                     "remapping` on Linux"));
}

/* ---- per GPU ------------------------------------------------------------------ */

static void check_link(ck_list *l, const gp_gpu *g, const gp_validate_env *env)
{
    const char *t = "negotiated PCIe link vs capable (x16 expected)";
    char cap[48], sta[48], *where;
    char *id = gp_asprintf("gpu-link:%s", g->pci_id);

    link_text(&g->link_cap, cap, sizeof(cap));
    link_text(&g->link_sta, sta, sizeof(sta));
    if (g->source && !strcmp(g->source, "sysfs"))
        where = gp_asprintf("LnkCap / LnkSta of the PCIe capability (libpci), else sysfs "
                            "max_link_speed/max_link_width and current_link_speed/"
                            "current_link_width of %s/bus/pci/devices/%s",
                            env->sysfs_root ? env->sysfs_root : "/sys", g->pci_id);
    else if (g->source && !strcmp(g->source, "dump"))
        where = gp_strdup("LnkCap / LnkSta of the PCIe capability (libpci, lspci dump)");
    else
        where = gp_strdup("hwloc XML: a PCIDev has no LnkCap / LnkSta (pci_link_speed is a "
                          "bandwidth, 0 when unknown)");
    if (!where) {
        free(id);
        l->nomem = true;
        return;
    }
    if (g->link_cap.speed_gts <= 0 || g->link_cap.width <= 0 || g->link_sta.speed_gts <= 0 ||
        g->link_sta.width <= 0) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("capable %s, negotiated %s: %s", cap, sta, where),
               gp_strdup("read the link on the host: lspci -vv -s <pci-id> (LnkCap, LnkSta) "
                         "as root"));
    } else if (g->link_sta.width < g->link_cap.width) {
        ck_add(l, GP_CHECK_FAIL, id, g->pci_id, t,
               gp_asprintf("negotiated %s below capable %s (width downgraded): %s", sta, cap,
                           where),
               gp_strdup("the slot or riser gives fewer lanes than the card has: reseat the "
                         "card, use a slot wired x16, check the firmware's bifurcation "
                         "setting"));
    } else if (g->link_sta.speed_gts < g->link_cap.speed_gts) {
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("negotiated %s below capable %s (speed downgraded): %s", sta, cap,
                           where),
               gp_strdup("GPUs lower the link speed while idle: read LnkSta again under load "
                         "(nvidia-smi -q -d PCIE); if it stays low, check the slot "
                         "generation, the riser and the firmware's PCIe speed setting"));
    } else if (g->link_cap.width < 16) {
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("negotiated %s = capable %s, narrower than x16: %s", sta, cap, where),
               gp_strdup("the card itself is not x16: expect at most its capable bandwidth"));
    } else {
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("negotiated %s = capable %s: %s", sta, cap, where), gp_strdup(""));
    }
    free(where);
}

/* "a > b > c" of a node's chain, root port first. */
static char *chain_text(const gp_pci_node *n)
{
    char *s = gp_strdup("");
    for (size_t i = 0; s && i < n->n_chain; i++) {
        char *t = gp_asprintf("%s%s%s", s, i ? " > " : "", n->chain[i]);
        free(s);
        s = t;
    }
    return s;
}

static void check_path(ck_list *l, const gp_gpu *g, const gp_pci_tree *tree)
{
    const char *t = "path to the CPU: root port or PCIe switch";
    char *id = gp_asprintf("gpu-path:%s", g->pci_id);
    const gp_pci_node *n = gp_pci_tree_find(tree, g->pci_id);

    if (!n || (!n->root && !n->n_chain)) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("%s has no parent bridge or root complex in %s", g->pci_id,
                           tree->how ? tree->how : "the source"),
               gp_strdup("read the tree on the host: lspci -tv"));
        return;
    }
    char *ch = chain_text(n);
    const char *root = n->root ? n->root : "unknown";
    if (!ch) {
        free(id);
        l->nomem = true;
        return;
    }
    if (n->n_chain == 0)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("on the root bus of root complex %s, no bridge between (%s)", root,
                           tree->how),
               gp_strdup(""));
    else if (n->n_chain == 1)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("direct: root port %s of root complex %s (%s)", ch, root, tree->how),
               gp_strdup(""));
    else
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("behind a PCIe switch: %zu bridges, root complex %s > %s (%s)",
                           n->n_chain, root, ch, tree->how),
               gp_asprintf("the devices under switch port %s share the uplink of root port "
                           "%s: for bandwidth-bound work prefer a slot on a root port, for "
                           "peer-to-peer keep peers under one switch; check the uplink with "
                           "lspci -vv -s %s", n->chain[1], n->chain[0], n->chain[0]));
    free(ch);
}

static void check_numa(ck_list *l, const gp_host *h, const gp_gpu *g)
{
    const char *t = "NUMA node known";
    const char *ts = h->topology_source ? h->topology_source : "";
    bool hwloc_topo = !strncmp(ts, "hwloc:", 6) || !strcmp(ts, GP_TOPOLOGY_EMBEDDED);
    bool sysfs = g->source && !strcmp(g->source, "sysfs");
    bool dump = g->source && !strcmp(g->source, "dump");
    const char *where = !strcmp(ts, "libxl") ? "libxl_get_pci_topology, else sysfs numa_node"
        : sysfs && hwloc_topo ? "sysfs numa_node, else hwloc locality"
        : sysfs ? "sysfs numa_node"
        : dump && !hwloc_topo ? "an lspci dump has no NUMA node"
        : "hwloc locality (nodeset of the nearest non-I/O ancestor)";
    char *id = gp_asprintf("gpu-numa:%s", g->pci_id);
    if (g->numa_node >= 0)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("node %d (%s)", g->numa_node, where), gp_strdup(""));
    else
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("node unknown: %s gives none (pci source %s)", where,
                           h->pci_source ? h->pci_source : "none"),
               gp_strdup("without the node gpupool cannot put the VM's vCPUs and memory "
                         "beside the GPU: enable NUMA / SRAT (_PXM) in the firmware, or give "
                         "an hwloc file (--topology) of this host"));
}

static bool gpu_has_companion(const gp_gpu *g, const char *pci_id)
{
    for (size_t i = 0; i < g->n_companions; i++)
        if (!strcmp(g->companions[i].pci_id, pci_id))
            return true;
    return false;
}

static const gp_pci_function *host_function(const gp_host *h, const char *pci_id)
{
    for (size_t i = 0; i < h->n_functions; i++)
        if (!strcmp(h->functions[i].pci_id, pci_id))
            return &h->functions[i];
    return NULL;
}

static void check_group(ck_list *l, const gp_host *h, const gp_gpu *g)
{
    const char *t = "IOMMU group isolated";
    char *id = gp_asprintf("gpu-iommu-group:%s", g->pci_id);
    if (g->iommu_group < 0) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_strdup(g->source && !strcmp(g->source, "sysfs")
                             ? "sysfs has no iommu_group link for it (no IOMMU in use)"
                             : g->source && !strcmp(g->source, "dump")
                             ? "an lspci dump has no IOMMU groups"
                             : "an hwloc XML file has no IOMMU groups"),
               gp_strdup("see the iommu check; read /sys/bus/pci/devices/<pci-id>/iommu_group "
                         "on the host"));
        return;
    }
    char *foreign = gp_strdup(""), *own = gp_strdup("");
    size_t n_foreign = 0;
    for (size_t i = 0; foreign && own && i < g->n_iommu_group_members; i++) {
        const char *m = g->iommu_group_members[i];
        const gp_pci_function *f = host_function(h, m);
        bool ok = gpu_has_companion(g, m) || (f && f->header_type == 1);
        char **dst = ok ? &own : &foreign;
        char *s = f ? gp_asprintf("%s%s%s (class %04x)", *dst, **dst ? ", " : "", m,
                                  f->class_code)
                    : gp_asprintf("%s%s%s", *dst, **dst ? ", " : "", m);
        free(*dst);
        *dst = s;
        if (!ok)
            n_foreign++;
    }
    if (!foreign || !own) {
        free(foreign);
        free(own);
        free(id);
        l->nomem = true;
        return;
    }
    if (n_foreign)
        ck_add(l, GP_CHECK_FAIL, id, g->pci_id, t,
               gp_asprintf("sysfs iommu_group %d also holds %s%s%s", g->iommu_group, foreign,
                           *own ? "; and its own functions / bridges " : "", own),
               gp_strdup("a group passes to one guest whole: move the card to a slot of its "
                         "own group, or enable ACS in the firmware"));
    else
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("sysfs iommu_group %d holds %s", g->iommu_group,
                           *own ? own : "this GPU alone"),
               gp_strdup(""));
    free(foreign);
    free(own);
}

/* Device families with known reset trouble, by PCI id range.  AMD: the
 * families gnif/vendor-reset handles (device-db.h); NVIDIA: GPUs before
 * Kepler (Tesla and Fermi architectures), which have no FLR. */
typedef struct {
    uint16_t vendor, lo, hi;
    const char *family;
} reset_family;

static const reset_family reset_families[] = {
    { 0x1002, 0x67c0, 0x67ff, "AMD Polaris 10/11 (reset bug; vendor-reset)" },
    { 0x1002, 0x6980, 0x699f, "AMD Polaris 12 (reset bug; vendor-reset)" },
    { 0x1002, 0x6860, 0x687f, "AMD Vega 10 (reset bug; vendor-reset)" },
    { 0x1002, 0x66a0, 0x66af, "AMD Vega 20 (reset bug; vendor-reset)" },
    { 0x1002, 0x7310, 0x731f, "AMD Navi 10 (reset bug; vendor-reset)" },
    { 0x1002, 0x7340, 0x734f, "AMD Navi 14 (reset bug; vendor-reset)" },
    { 0x1002, 0x7360, 0x736f, "AMD Navi 12 (reset bug; vendor-reset)" },
    { 0x10de, 0x0400, 0x0a7f, "NVIDIA Tesla architecture (G8x/G9x/GT2xx), before Kepler: no FLR" },
    { 0x10de, 0x0ca0, 0x0cbf, "NVIDIA Tesla architecture (GT215), before Kepler: no FLR" },
    { 0x10de, 0x06c0, 0x06df, "NVIDIA Fermi (GF100), before Kepler: no FLR" },
    { 0x10de, 0x0dc0, 0x0dff, "NVIDIA Fermi (GF106/GF108), before Kepler: no FLR" },
    { 0x10de, 0x0e20, 0x0e3f, "NVIDIA Fermi (GF104), before Kepler: no FLR" },
    { 0x10de, 0x1040, 0x109f, "NVIDIA Fermi (GF119/GF110), before Kepler: no FLR" },
    { 0x10de, 0x1200, 0x125f, "NVIDIA Fermi (GF114/GF116), before Kepler: no FLR" },
};

static const char *reset_family_of(const gp_gpu *g)
{
    for (size_t i = 0; i < GP_ARRAY_SIZE(reset_families); i++) {
        const reset_family *f = &reset_families[i];
        if (g->vendor_id == f->vendor && g->device_id >= f->lo && g->device_id <= f->hi)
            return f->family;
    }
    return NULL;
}

static void check_reset(ck_list *l, const gp_gpu *g)
{
    const char *t = "function level reset (FLR) / reset method";
    char *id = gp_asprintf("gpu-reset:%s", g->pci_id);
    const char *fam = reset_family_of(g);
    char *where = g->reset_method
        ? gp_asprintf("sysfs reset_method \"%s\"", g->reset_method)
        : gp_asprintf("DevCap FLR bit / AF capability (libpci, %s)", gpu_where(g));
    if (!where) {
        free(id);
        l->nomem = true;
        return;
    }
    if (g->flr == GP_YES)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t, gp_asprintf("FLR supported: %s", where),
               gp_strdup(""));
    else if (g->flr == GP_NO)
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("no FLR: %s; [%04x:%04x] %s", where, g->vendor_id, g->device_id,
                           fam ? fam : "not a known reset-bug family"),
               gp_strdup(fam && g->vendor_id == 0x1002
                             ? "the GPU may not come back after a guest reboot: load the "
                               "vendor-reset module in dom0 or reboot the host between guests"
                             : "the GPU is reset by a secondary bus reset, which also resets "
                               "every device behind the same bridge: give the slot a bridge "
                               "of its own, and test a guest reboot before production"));
    else
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_strdup(g->source && !strcmp(g->source, "sysfs")
                             ? "the config space has no capability list (a 64-byte "
                               "unprivileged view) and sysfs has no reset_method"
                             : g->source && !strcmp(g->source, "dump")
                             ? "the lspci dump has no capability list (64-byte lines)"
                             : "an hwloc XML file has no DevCap / AF capability"),
               gp_strdup("as root: lspci -vv -s <pci-id> | grep FLReset, or cat "
                         "/sys/bus/pci/devices/<pci-id>/reset_method"));
    free(where);
}

static void check_boot_vga(ck_list *l, const gp_gpu *g)
{
    const char *t = "not the boot VGA (host console)";
    char *id = gp_asprintf("gpu-boot-vga:%s", g->pci_id);
    if (g->boot_vga == GP_YES)
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t, gp_strdup("sysfs boot_vga = 1"),
               gp_strdup("the host console GPU never enters a pool (GPU_IS_BOOT_VGA): put the "
                         "console on another adapter (the BMC's VGA) in the firmware"));
    else if (g->boot_vga == GP_NO)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               g->class_code == 0x0300 ? gp_strdup("sysfs boot_vga = 0")
                                       : gp_asprintf("class %04x is not VGA: never the boot "
                                                     "VGA", g->class_code),
               gp_strdup(""));
    else
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("VGA class, no boot_vga attribute in the source (%s)", gpu_where(g)),
               gp_strdup("cat /sys/bus/pci/devices/<pci-id>/boot_vga on the host"));
}

static bool driver_is_passthrough(const char *d)
{
    static const char *const ok[] = { "pciback", "xen-pciback", "pci-stub", "vfio-pci",
                                      "none" };
    for (size_t i = 0; i < GP_ARRAY_SIZE(ok); i++)
        if (!strcmp(d, ok[i]))
            return true;
    return false;
}

static void check_driver(ck_list *l, const gp_gpu *g, bool in_pool)
{
    const char *t = "no dom0 driver bound to a pool GPU";
    char *id = gp_asprintf("gpu-driver:%s", g->pci_id);
    if (!g->driver) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("no driver link in the source (%s)", gpu_where(g)),
               gp_strdup("readlink /sys/bus/pci/devices/<pci-id>/driver on the host"));
        return;
    }
    char *ev = gp_asprintf("sysfs driver link: %s", g->driver);
    bool bad = !driver_is_passthrough(g->driver);
    for (size_t i = 0; ev && i < g->n_companions; i++) {
        const gp_companion *c = &g->companions[i];
        char *s = gp_asprintf("%s; %s: %s", ev, c->pci_id, c->driver ? c->driver : "unknown");
        free(ev);
        ev = s;
        if (c->driver && !driver_is_passthrough(c->driver))
            bad = true;
    }
    char *ev2 = ev ? gp_asprintf("%s (%s)", ev, in_pool ? "in a pool" : "in no pool") : NULL;
    free(ev);
    if (!bad)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t, ev2, gp_strdup(""));
    else
        ck_add(l, in_pool ? GP_CHECK_FAIL : GP_CHECK_WARN, id, g->pci_id, t, ev2,
               gp_strdup("a dom0 driver holds the device: hide it from dom0 "
                         "(xen-pciback.hide=(<pci-id>) on the dom0 command line, or "
                         "xl pci-assignable-add <pci-id>) before a guest gets it"));
}

static void check_bar(ck_list *l, const gp_gpu *g)
{
    const char *t = "large BARs (16 GiB or more need UEFI and a 64-bit MMIO window)";
    char *id = gp_asprintf("gpu-bar:%s", g->pci_id);
    if (!g->max_bar_bytes)
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("no BAR sizes in the source (%s; libpci reads them from sysfs "
                           "resource)", gpu_where(g)),
               gp_strdup("lspci -vv -s <pci-id> | grep Region on the host"));
    else if (g->max_bar_bytes >= 16 * GIB)
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("largest BAR %llu GiB (libpci BAR sizes, sysfs resource)",
                           (unsigned long long)(g->max_bar_bytes / GIB)),
               gp_strdup("the guest needs UEFI firmware (OVMF; a BIOS guest cannot map it) "
                         "and a 64-bit MMIO window larger than the BAR"));
    else
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("largest BAR %llu MiB (libpci BAR sizes, sysfs resource)",
                           (unsigned long long)(g->max_bar_bytes / MIB)),
               gp_strdup(""));
}

static void check_sriov(ck_list *l, const gp_gpu *g)
{
    const char *t = "SR-IOV";
    char *id = gp_asprintf("gpu-sriov:%s", g->pci_id);
    if (g->sriov_totalvfs < 0)
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("no extended config space and no sysfs sriov_totalvfs (%s)",
                           gpu_where(g)),
               gp_strdup("lspci -vv -s <pci-id> | grep -A3 SR-IOV as root"));
    else if (g->sriov_totalvfs == 0)
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_strdup("no SR-IOV capability (TotalVFs 0): whole-GPU passthrough"),
               gp_strdup(""));
    else
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("SR-IOV TotalVFs %d (extended capability / sysfs sriov_totalvfs): "
                           "gpupool passes the physical function whole", g->sriov_totalvfs),
               gp_strdup("VFs need the vendor's host driver, which must not hold a pool GPU"));
}

static bool is_nic(const gp_pci_node *n)
{
    return !n->bridge && (n->class_code == 0x0200 || n->class_code == 0x0207);
}

/* The deepest bridge two chains share, NULL if none. */
static const char *common_bridge(const gp_pci_node *a, const gp_pci_node *b)
{
    const char *c = NULL;
    for (size_t i = 0; i < a->n_chain && i < b->n_chain; i++) {
        if (strcmp(a->chain[i], b->chain[i]))
            break;
        c = a->chain[i];
    }
    return c;
}

static void check_nic(ck_list *l, const gp_gpu *g, const gp_pci_tree *tree)
{
    const char *t = "NIC on the GPU's node and root complex (GPUDirect RDMA pair)";
    char *id = gp_asprintf("gpu-nic:%s", g->pci_id);
    const gp_pci_node *gn = gp_pci_tree_find(tree, g->pci_id);
    char *rc_list = gp_strdup(""), *node_list = gp_strdup(""), *other = gp_strdup("");
    size_t n_nics = 0, n_rc = 0, n_node = 0;

    for (size_t i = 0; gn && rc_list && node_list && other && i < tree->n_nodes; i++) {
        const gp_pci_node *n = &tree->nodes[i];
        if (!is_nic(n))
            continue;
        n_nics++;
        bool same_rc = gn->root && n->root && !strcmp(gn->root, n->root);
        bool same_node = g->numa_node >= 0 && n->numa_node == g->numa_node;
        char **dst = same_rc ? &rc_list : same_node ? &node_list : &other;
        const char *br = common_bridge(gn, n);
        char node_s[16];
        if (n->numa_node >= 0)
            snprintf(node_s, sizeof(node_s), "%d", n->numa_node);
        else
            snprintf(node_s, sizeof(node_s), "unknown");
        char *s = gp_asprintf("%s%s%s (class %04x, node %s%s%s)", *dst, **dst ? ", " : "",
                              n->pci_id, n->class_code, node_s, br ? ", shares bridge " : "",
                              br ? br : "");
        free(*dst);
        *dst = s;
        if (same_rc)
            n_rc++;
        else if (same_node)
            n_node++;
    }
    if (!rc_list || !node_list || !other) {
        l->nomem = true;
        free(id);
    } else if (!gn) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("%s is not in %s", g->pci_id, tree->how ? tree->how : "the source"),
               gp_strdup("lspci -tv on the host"));
    } else if (n_rc) {
        ck_add(l, GP_CHECK_PASS, id, g->pci_id, t,
               gp_asprintf("same root complex %s: %s (%s)", gn->root, rc_list, tree->how),
               gp_strdup(""));
    } else if (n_node) {
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("same node %d, another root complex than %s: %s (%s)", g->numa_node,
                           gn->root ? gn->root : "unknown", node_list, tree->how),
               gp_strdup("GPUDirect RDMA between them crosses the host bridge: for RDMA-heavy "
                         "work put the NIC under the GPU's root complex or switch"));
    } else if (!n_nics) {
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("no Ethernet (0200) or InfiniBand (0207) NIC in %s", tree->how),
               gp_strdup("no GPUDirect RDMA pair: add a NIC on the GPU's node if the work "
                         "spans hosts"));
    } else if (g->numa_node < 0) {
        ck_add(l, GP_CHECK_UNKNOWN, id, g->pci_id, t,
               gp_asprintf("GPU node unknown, no NIC under root complex %s; NICs: %s (%s)",
                           gn->root ? gn->root : "unknown", other, tree->how),
               gp_strdup("see gpu-numa"));
    } else {
        ck_add(l, GP_CHECK_WARN, id, g->pci_id, t,
               gp_asprintf("no NIC on node %d; NICs: %s (%s)", g->numa_node, other, tree->how),
               gp_strdup("traffic between this GPU and the network crosses the socket "
                         "interconnect: put a NIC on the GPU's node"));
    }
    free(rc_list);
    free(node_list);
    free(other);
}

/* ---- per node ----------------------------------------------------------------- */

static void check_node(ck_list *l, const gp_host *h, const gp_numa_node *nd)
{
    const char *t = "GPUs vs pCPUs and memory of the node";
    char subj[32];
    size_t n_gpus = 0;
    snprintf(subj, sizeof(subj), "node %d", nd->id);
    for (size_t i = 0; i < h->n_gpus; i++)
        if (h->gpus[i].numa_node == nd->id)
            n_gpus++;
    char *id = gp_asprintf("node:%d", nd->id);
    char mem[64];
    if (nd->mem_total_bytes)
        snprintf(mem, sizeof(mem), "%llu MiB", (unsigned long long)(nd->mem_total_bytes / MIB));
    else
        snprintf(mem, sizeof(mem), "unknown memory");
    const char *src = h->topology_source ? h->topology_source : "unknown";
    if (!n_gpus)
        ck_add(l, GP_CHECK_PASS, id, subj, t,
               gp_asprintf("no GPU; %zu pCPUs, %s (%s)", nd->n_cpus, mem, src), gp_strdup(""));
    else if (!nd->n_cpus)
        ck_add(l, GP_CHECK_FAIL, id, subj, t,
               gp_asprintf("%zu GPUs but no pCPU, %s (%s)", n_gpus, mem, src),
               gp_strdup("a VM of these GPUs cannot run NUMA-local: check that the node's "
                         "CPUs are online and in the firmware's SRAT"));
    else if (!nd->mem_total_bytes)
        ck_add(l, GP_CHECK_UNKNOWN, id, subj, t,
               gp_asprintf("%zu GPUs, %zu pCPUs (%.1f per GPU), memory unknown (%s)", n_gpus,
                           nd->n_cpus, (double)nd->n_cpus / (double)n_gpus, src),
               gp_strdup("read the node's memory on the host (xl info -n, numactl -H)"));
    else
        ck_add(l, GP_CHECK_PASS, id, subj, t,
               gp_asprintf("%zu GPUs, %zu pCPUs (%.1f per GPU), %s (%llu MiB per GPU) (%s)",
                           n_gpus, nd->n_cpus, (double)nd->n_cpus / (double)n_gpus, mem,
                           (unsigned long long)(nd->mem_total_bytes / MIB / n_gpus), src),
               gp_strdup(""));
}

/* ---- manual ------------------------------------------------------------------- */

static void check_manual(ck_list *l)
{
    static const struct { const char *id, *title, *what; } m[] = {
        { "power", "power budget",
          "measure the host's draw at the PDU or BMC (ipmitool dcmi power reading) while every "
          "GPU runs a burn-in (gpu-burn, dcgmi diag -r 3): it must stay below the PSUs' "
          "rating with one PSU failed" },
        { "thermal", "cooling under sustained load",
          "run every GPU at full load for 30 minutes: temperatures and clocks must hold "
          "(nvidia-smi -q -d TEMPERATURE,PERFORMANCE shows no thermal slowdown; ipmitool sdr "
          "for inlet and fans)" },
        { "storage", "storage throughput for the GPUs' data",
          "measure sequential read of the storage the VMs' datasets live on (fio --rw=read "
          "--bs=1M --direct=1 --numjobs=8) against what the GPUs consume" },
        { "network-throughput", "network throughput on the GPUs' NICs",
          "measure host-to-host bandwidth and latency on the NICs next to the GPUs (iperf3 -P "
          "8; ib_write_bw, with --use_cuda for GPUDirect RDMA)" },
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(m); i++)
        ck_add(l, GP_CHECK_MANUAL, gp_strdup(m[i].id), "host", m[i].title,
               gp_strdup("not measurable from the host's configuration"), gp_strdup(m[i].what));
}

/* ---- the whole run ------------------------------------------------------------ */

static bool strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

int gp_validate_facts(const gp_host *h, const gp_pci_tree *tree, const gp_validate_env *env,
                      gp_check **out, size_t *n_out, gp_error_info *err)
{
    ck_list l;

    memset(&l, 0, sizeof(l));
    *out = NULL;
    *n_out = 0;
    check_iommu(&l, h, env);
    check_intremap(&l, h, env);
    for (size_t i = 0; i < h->n_gpus; i++) {
        const gp_gpu *g = &h->gpus[i];
        bool in_pool = strv_has(env->pool_gpus, env->n_pool_gpus, g->pci_id);
        check_link(&l, g, env);
        check_path(&l, g, tree);
        check_numa(&l, h, g);
        check_group(&l, h, g);
        check_reset(&l, g);
        check_boot_vga(&l, g);
        check_driver(&l, g, in_pool);
        check_bar(&l, g);
        check_sriov(&l, g);
        check_nic(&l, g, tree);
    }
    for (size_t i = 0; i < h->n_nodes; i++)
        check_node(&l, h, &h->nodes[i]);
    check_manual(&l);
    if (l.nomem) {
        gp_check_list_free(l.v, l.n);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory validating the host");
    }
    *out = l.v;
    *n_out = l.n;
    return GP_OK;
}

int gp_host_validate(gp_ctx *ctx, gp_check **out, size_t *n_out, size_t *n_fail)
{
    const gp_host *h;
    gp_pci_tree tree;
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    gp_validate_env env;
    const gp_config *cfg = &ctx->cfg;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (n_fail)
        *n_fail = 0;
    gp_pci_tree_init(&tree);
    memset(&env, 0, sizeof(env));
    rc = gp_host_get(ctx, &h);
    if (rc)
        goto out;
    rc = gp_pci_tree_discover(cfg, &tree, ctx->err);
    if (rc)
        goto out;
    rc = gp_pool_list(ctx, &pools, &n_pools);
    if (rc)
        goto out;
    for (size_t i = 0; i < n_pools; i++)
        env.n_pool_gpus += pools[i].n_gpus;
    env.pool_gpus = calloc(env.n_pool_gpus ? env.n_pool_gpus : 1, sizeof(char *));
    if (!env.pool_gpus) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    env.n_pool_gpus = 0;
    for (size_t i = 0; i < n_pools; i++)
        for (size_t j = 0; j < pools[i].n_gpus; j++)
            env.pool_gpus[env.n_pool_gpus++] = pools[i].gpus[j];
    /* The PCI side is sysfs (live or captured) unless a dump or an hwloc
     * file alone describes it (gp_discover_host's choice). */
    if (!cfg->pci_dump && (cfg->sysfs_root || !cfg->topology_file)) {
        env.sysfs_root = cfg->sysfs_root ? cfg->sysfs_root : "/sys";
        env.captured = cfg->sysfs_root != NULL;
    }
    rc = gp_validate_facts(h, &tree, &env, out, n_out, ctx->err);
    if (rc == GP_OK && n_fail)
        for (size_t i = 0; i < *n_out; i++)
            if ((*out)[i].status == GP_CHECK_FAIL)
                (*n_fail)++;
out:
    free(env.pool_gpus);
    gp_pool_list_free(pools, n_pools);
    gp_pci_tree_dispose(&tree);
    return rc;
}

/* ---- records and JSON --------------------------------------------------------- */

static int check_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_check *c = &((const gp_check *)arg)[i];
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_str(&b, "id", c->id);
    gp_recb_str(&b, "subject", c->subject);
    gp_recb_str(&b, "status", gp_check_status_name(c->status));
    gp_recb_str(&b, "title", c->title);
    gp_recb_str(&b, "evidence", c->evidence);
    gp_recb_str(&b, "remedy", c->remedy);
    return gp_recb_finish(&b);
}

int gp_check_records(const gp_check *c, size_t n, gp_record **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    return gp_fields_records(NULL, "check", n, check_record_at, c, out, n_out);
}

struct json_object *gp_checks_json(const gp_check *c, size_t n)
{
    json_object *arr = gp_json_array_new(n);
    for (size_t i = 0; arr && i < n; i++) {
        json_object *o = json_object_new_object();
        if (!o || json_object_array_add(arr, o)) {
            json_object_put(o);
            json_object_put(arr);
            return NULL;
        }
        json_object_object_add(o, "id", json_object_new_string(c[i].id));
        json_object_object_add(o, "subject", json_object_new_string(c[i].subject));
        json_object_object_add(o, "status",
                               json_object_new_string(gp_check_status_name(c[i].status)));
        json_object_object_add(o, "title", json_object_new_string(c[i].title));
        json_object_object_add(o, "evidence", json_object_new_string(c[i].evidence));
        json_object_object_add(o, "remedy", json_object_new_string(c[i].remedy));
    }
    return arr;
}
