/*
 * pci_tree.c - the PCI hierarchy's container (gp_pci_tree, discover.h):
 * _init / _dispose and lookup.  Below pci.c and hwloc.c, which fill it, and
 * discover.c, which picks the source (gp_pci_tree_discover).
 */
#include "discover/discover.h"

#include <stdlib.h>
#include <string.h>

void gp_pci_tree_init(gp_pci_tree *t)
{
    memset(t, 0, sizeof(*t));
}

void gp_pci_tree_dispose(gp_pci_tree *t)
{
    for (size_t i = 0; i < t->n_nodes; i++) {
        gp_strv_free(t->nodes[i].chain, t->nodes[i].n_chain);
        free(t->nodes[i].root);
    }
    free(t->nodes);
    free(t->how);
    gp_pci_tree_init(t);
}

const gp_pci_node *gp_pci_tree_find(const gp_pci_tree *t, const char *pci_id)
{
    for (size_t i = 0; i < t->n_nodes; i++)
        if (!strcmp(t->nodes[i].pci_id, pci_id))
            return &t->nodes[i];
    return NULL;
}
