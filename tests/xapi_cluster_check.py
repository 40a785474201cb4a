#!/usr/bin/env python3
"""gpupool across the hosts of an XCP-ng pool (issue 10), against
tests/xapi_standin.py (xapi 26.1.4, cited per behaviour).

Three hosts h0 (master), h1, h2, each with its own gpupool.conf, database,
plugin and vm-pre-start hook, and the embedded 8-GPU topology (GPUs
0000:18/2a/3a/5d:00.0 on node 0, 9a/ab/ba/db on node 1, 48 pCPUs and
512 GiB per node).  xe-gpupool runs "on" a host by using that host's
configuration (its xapi socket: session.get_this_host is that host).

What is checked:
  - inventory from any host: gpu-list / pool-list / assignment-list and the
    plugin's list_* show every host's GPUs with host and host-uuid, host=
    filters, in a handful of xapi round trips whatever the number of hosts;
  - pool-gpu-add host= puts another host's GPU in a pool (sent to that
    host's plugin), and the membership is in xapi (PCI.other_config);
  - vm-gpu-assign picks the host: NUMA-local first, best fit, only hosts the
    VM can run on (local SR, disabled host), the reason names the host;
  - callers on three hosts assigning at once never get one GPU twice;
  - host-evacuate-plan / host-evacuate apply=true move halted VMs' GPUs,
    list running VMs to shut down first, and audit each move;
  - pool-sync rebuilds a host's database from xapi after it is deleted;
  - a change of pool master loses nothing;
  - host-draw / host_svg draw one panel per host, the same from any host.

Prints cmocka-style summary lines for tests/run-tests.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import xapi_standin_check as sc  # noqa: E402

PLUGIN = os.path.join(ROOT, "xapi-plugin", "gpupool")
HOOK = os.path.join(ROOT, "xapi-plugin", "gpupool-vm-pre-start")
HOOK_DOWN = os.path.join(ROOT, "xapi-plugin", "gpupool-vm-post-destroy")
CLI = os.path.join(ROOT, "xe-cli", "xe-gpupool")
STANDIN = os.path.join(HERE, "xapi_standin.py")

NODE0 = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0"]
NODE1 = ["0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]


def host_uuid(i):
    return "cccccccc-0000-4000-8000-%012d" % i


def vm_uuid(i):
    return "dddddddd-0000-4000-8000-%012d" % i


class Cluster(sc.StandIn):
    """The stand-in with n hosts, each with gpupool's plugin, hook and
    configuration; vms: extra VM entries; extra: more state."""

    def __init__(self, n_hosts=3, vms=(), extra=None):
        self.dir = tempfile.mkdtemp(prefix="gp-cluster-")
        self.sockdir = os.path.join(self.dir, "s")
        os.mkdir(self.sockdir)
        self.names = ["h%d" % i for i in range(n_hosts)]
        hosts, pcis = [], []
        for i, name in enumerate(self.names):
            etc = os.path.join(self.dir, name, "xapi.d")
            os.makedirs(os.path.join(etc, "plugins"))
            os.makedirs(os.path.join(etc, "vm-pre-start"))
            os.makedirs(os.path.join(etc, "vm-post-destroy"))
            os.symlink(PLUGIN, os.path.join(etc, "plugins", "gpupool"))
            os.symlink(HOOK, os.path.join(etc, "vm-pre-start", "50-gpupool"))
            os.symlink(HOOK_DOWN, os.path.join(etc, "vm-post-destroy", "50-gpupool"))
            inv = os.path.join(self.dir, name, "xensource-inventory")
            with open(inv, "w") as f:
                f.write("PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='%s'\n" % host_uuid(i))
            with open(self.conf(name), "w") as f:
                f.write("db = %s\ndriver = xapi\ntopology = embedded\nxapi-socket = %s\n"
                        "inventory = %s\n"
                        % (self.db(name), os.path.join(self.sockdir, name + ".sock"), inv))
            hosts.append({"uuid": host_uuid(i), "name_label": name, "config": self.conf(name),
                          "hooks_dir": etc, "plugins_dir": os.path.join(etc, "plugins")})
            for g in NODE0 + NODE1:
                pcis.append({"pci_id": g, "class_id": "0302", "host": host_uuid(i)})
        state = {"hosts": hosts, "pcis": pcis, "vms": list(vms)}
        state.update(extra or {})
        self.state_path = os.path.join(self.dir, "state.json")
        with open(self.state_path, "w") as f:
            json.dump(state, f)
        ready = os.path.join(self.dir, "ready")
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, "--socket-dir", self.sockdir, "--state",
             self.state_path, "--log", os.path.join(self.dir, "calls.jsonl"), "--ready", ready],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(1000):
            if os.path.exists(ready):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("stand-in died: %s" % self.proc.stderr.read().decode())
            time.sleep(0.01)
        self.root = self.call("session.login_with_password", "root", "", "1.0", "t")
        self.href = {n: self.call("host.get_by_uuid", self.root, host_uuid(i))
                     for i, n in enumerate(self.names)}

    def conf(self, host):
        return os.path.join(self.dir, host, "gpupool.conf")

    def db(self, host):
        return os.path.join(self.dir, host, "state.db")

    def xe(self, host, *args, check=True):
        """xe-gpupool on host; (rc, stdout, stderr)."""
        env = dict(os.environ, GPUPOOL_CONFIG=self.conf(host))
        env.pop("GPUPOOL_DRIVER", None)
        p = subprocess.run([CLI] + list(args), env=env, capture_output=True, text=True,
                           timeout=120)
        if check and p.returncode:
            raise AssertionError("xe-gpupool %s on %s: %s%s" % (" ".join(args), host, p.stdout,
                                                                p.stderr))
        return p.returncode, p.stdout, p.stderr

    def xe_min(self, host, *args):
        return self.xe(host, *args, "--minimal")[1].strip()

    def plugin(self, on, fn, **args):
        return json.loads(self.call("host.call_plugin", self.root, self.href[on], "gpupool",
                                    fn, {k: str(v) for k, v in args.items()}))

    def vm_rec(self, uuid):
        return self.vm(uuid)

    def calls_since(self, mark):
        with open(os.path.join(self.dir, "calls.jsonl")) as f:
            lines = f.readlines()
        return [json.loads(x) for x in lines[mark:]]

    def calls_mark(self):
        with open(os.path.join(self.dir, "calls.jsonl")) as f:
            return len(f.readlines())


def records(text):
    """xe records ("key ( RO): value" lines, blank line between) as dicts."""
    out, cur = [], {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur = {}
            continue
        k, _, v = line.partition(":")
        cur[k.split("(")[0].strip()] = v.strip()
    if cur:
        out.append(cur)
    return out


def halted_vm(i, vcpus=4, mem_gib=8, **kw):
    d = {"uuid": vm_uuid(i), "name_label": "vm-%02d" % i, "VCPUs_max": vcpus,
         "memory_static_max": mem_gib << 30}
    d.update(kw)
    return d


class ClusterBase(unittest.TestCase):
    n_hosts = 3
    vms = ()
    extra = None

    def setUp(self):
        for p in (PLUGIN, HOOK, CLI):
            if not os.access(p, os.X_OK):
                self.skipTest("%s is not built (make all)" % p)
        self.c = Cluster(self.n_hosts, self.vms, self.extra)
        self.addCleanup(self.c.stop)
        for h in self.c.names:                 # each host publishes its facts
            self.c.xe(h, "pool-sync")


class InventoryTest(ClusterBase):
    def test_every_host_from_any_host(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=h1")
        c.xe("h2", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0])
        for h in c.names:
            gpus = records(c.xe(h, "gpu-list", "params=all")[1])
            self.assertEqual(len(gpus), 8 * len(c.names), h)
            by = {(g["host"], g["pci-id"]): g for g in gpus}
            self.assertEqual(by[("h1", NODE0[0])]["pool"], "train")
            self.assertEqual(by[("h1", NODE0[0])]["host-uuid"], host_uuid(1))
            self.assertEqual(by[("h2", NODE1[0])]["pool"], "train")
            self.assertEqual(by[("h0", NODE0[0])]["pool"], "")
            pools = records(c.xe(h, "pool-list", "params=all")[1])
            self.assertEqual(pools[0]["gpus"], "%s@h1, %s@h2" % (NODE0[0], NODE1[0])
                             if ", " in pools[0]["gpus"] else "%s@h1,%s@h2" % (NODE0[0], NODE1[0]))
        only = records(c.xe("h0", "gpu-list", "host=h1", "params=all")[1])
        self.assertEqual({g["host"] for g in only}, {"h1"})
        self.assertEqual(len(only), 8)
        self.assertEqual(c.xe("h0", "gpu-list", "host=nope", check=False)[0] != 0, True)
        # the plugin, on a slave, pool-wide and filtered
        self.assertEqual(len(c.plugin("h2", "list_gpus")["gpus"]), 8 * len(c.names))
        self.assertEqual(len(c.plugin("h2", "list_gpus", host=host_uuid(1))["gpus"]), 8)
        pl = c.plugin("h1", "list_pools")["pools"][0]
        self.assertEqual(sorted((m["host"], m["pci_id"]) for m in pl["members"]),
                         [("h1", NODE0[0]), ("h2", NODE1[0])])
        # the pool-wide truth is in xapi: membership on the PCI objects
        pool_oc = c.call("pool.get_all_records", c.root)
        oc = list(pool_oc.values())[0]["other_config"]
        self.assertEqual(len([k for k in oc if k.startswith("gpupool:pool:")]), 1)
        pcis = c.call("PCI.get_all_records", c.root)
        marked = sorted((p["host"], p["pci_id"]) for p in pcis.values()
                        if "gpupool:pool" in p.get("other_config", {}))
        self.assertEqual(marked, sorted([(c.href["h1"], NODE0[0]), (c.href["h2"], NODE1[0])]))

    def test_reads_do_not_grow_with_hosts(self):
        """A pool-wide gpu-list makes the same xapi calls whatever the
        number of hosts: no call per host."""
        c = self.c
        mark = c.calls_mark()
        c.xe("h1", "gpu-list")
        methods = [x.get("method") for x in c.calls_since(mark) if "method" in x]
        self.assertLessEqual(len(methods), 8, methods)
        self.assertNotIn("host.call_plugin", methods)


class PlacementTest(ClusterBase):
    vms = [halted_vm(1, vcpus=40), halted_vm(2, vcpus=16), halted_vm(3, vcpus=4),
           halted_vm(4, vcpus=4, disks=["eeeeeeee-0000-4000-8000-000000000002"]),
           halted_vm(5, vcpus=4)]
    extra = {"srs": [{"uuid": "ffffffff-0000-4000-8000-000000000002", "name_label": "local-h2",
                      "shared": False, "hosts": [host_uuid(2)]}],
             "vdis": [{"uuid": "eeeeeeee-0000-4000-8000-000000000002",
                       "sr": "ffffffff-0000-4000-8000-000000000002", "name_label": "disk"}]}

    def setUp(self):
        super().setUp()
        c = self.c
        c.xe("h0", "pool-create", "name-label=other")
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=other", "pci-id=" + NODE0[1])
        for h in ("h0", "h1"):
            c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=" + h)
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0], "host=h2")
        # vm-01 (40 vCPUs) fills node 0 of h0 through the other pool
        c.xe("h0", "vm-gpu-assign", "vm=vm-01", "pool=other")

    def asg(self, vm):
        return {a["vm-uuid"]: a for a in records(self.c.xe("h2", "assignment-list",
                                                           "params=all")[1])}[vm]

    def test_host_chosen_numa_local_best_fit(self):
        c = self.c
        # 16 vCPUs: node 0 of h0 has 8 left, so h1 (node 0, 48 left) or h2
        # (node 1, 48 left); tie broken by host name: h1
        out = records(c.xe("h2", "vm-gpu-assign", "vm=vm-02", "pool=train")[1])[0]
        a = self.asg(vm_uuid(2))
        self.assertEqual((a["host"], a["pci-id"], a["numa-node"]), ("h1", NODE0[0], "0"))
        self.assertIn("host h1", out["reason"])
        # an assignment made by another host's plugin reads as a local one
        self.assertIn("pin-mode hard", out["memory-node-basis"])
        self.assertEqual(out["memory-node-certainty"], "best-effort")
        rec = c.vm(vm_uuid(2))
        self.assertEqual(rec["affinity"], c.href["h1"])
        self.assertEqual(rec["other_config"]["gpupool:host"], host_uuid(1))
        # 4 vCPUs: best fit is h0's node 0 (8 left -> 4), the smallest hole
        c.xe("h1", "vm-gpu-assign", "vm=vm-03", "pool=train")
        a = self.asg(vm_uuid(3))
        self.assertEqual((a["host"], a["pci-id"]), ("h0", NODE0[0]))
        # the owner host's database has each assignment, the others do not
        with sqlite3.connect(c.db("h1")) as db:
            self.assertEqual(db.execute("SELECT vm_uuid FROM assignments").fetchall(),
                             [(vm_uuid(2),)])

    def test_only_hosts_the_vm_can_use(self):
        c = self.c
        # vm-04's disk is on a local SR of h2: only h2 will do
        c.xe("h0", "vm-gpu-assign", "vm=vm-04", "pool=train")
        self.assertEqual(self.asg(vm_uuid(4))["host"], "h2")
        # a disabled host is not chosen: h1 in maintenance, h0's node 0 full
        # for 16 vCPUs, h2 taken by vm-04
        c.call("host.disable", c.root, c.href["h1"])
        rc, out, err = c.xe("h0", "vm-gpu-assign", "vm=vm-02", "pool=train", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("NO_PLACEMENT", out + err)
        self.assertIn("h1: disabled", out + err)
        c.call("host.enable", c.root, c.href["h1"])
        c.xe("h0", "vm-gpu-assign", "vm=vm-02", "pool=train")
        self.assertEqual(self.asg(vm_uuid(2))["host"], "h1")

    def test_release_from_another_host(self):
        c = self.c
        c.xe("h2", "vm-gpu-assign", "vm=vm-02", "pool=train")
        self.assertEqual(self.asg(vm_uuid(2))["host"], "h1")
        c.xe("h0", "vm-gpu-release", "vm=vm-02")
        rec = c.vm(vm_uuid(2))
        self.assertNotIn("gpupool:placement", rec["other_config"])
        self.assertNotIn("pci", rec["other_config"])
        with sqlite3.connect(c.db("h1")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM assignments").fetchone()[0], 0)


class RaceTest(ClusterBase):
    """Callers on three hosts, 12 VMs, a pool of 4 GPUs on two hosts: 4
    assignments, never one GPU twice."""
    vms = [halted_vm(i) for i in range(1, 13)]

    def test_no_double_assignment_across_hosts(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        for h in ("h0", "h1"):
            for g in (NODE0[0], NODE1[0]):
                c.xe("h2", "pool-gpu-add", "pool=train", "pci-id=" + g, "host=" + h)
        results = {}

        def go(i):
            host = c.names[i % 3]
            results[i] = c.xe(host, "vm-gpu-assign", "vm=vm-%02d" % i, "pool=train",
                              check=False)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(1, 13)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = [i for i, r in results.items() if r[0] == 0]
        codes = sorted(set((r[1] + r[2]).split(":")[0].split()[0] for r in results.values()
                           if r[0]))
        self.assertEqual(len(ok), 4, results)
        for r in results.values():
            if r[0]:
                self.assertIn("POOL_HAS_NO_FREE_GPU", r[1] + r[2], codes)
        held = []
        for uuid, v in ((vm_uuid(i), c.vm(vm_uuid(i))) for i in range(1, 13)):
            oc = v["other_config"]
            if "gpupool:placement" in oc:
                held.append((oc["gpupool:host"], json.loads(oc["gpupool:placement"])["pci_id"]))
        self.assertEqual(len(held), 4)
        self.assertEqual(len(set(held)), 4, held)
        # each owner's database says the same
        for i, h in enumerate(("h0", "h1")):
            with sqlite3.connect(c.db(h)) as db:
                rows = {r[0] for r in db.execute("SELECT pci_id FROM assignments")}
            self.assertEqual(rows, {p for hu, p in held if hu == host_uuid(i)})


class SameVmRaceTest(ClusterBase):
    """One VM, two callers, GPUs of two different hosts at once: one wins,
    the other is refused (VM_HAS_GPU, or OPERATION_IN_PROGRESS while the
    winner writes: gpupool:writer is claimed with VM.add_to_other_config,
    atomic in xapi), and xapi and both databases agree."""
    vms = [halted_vm(i) for i in range(1, 7)]

    def test_one_vm_two_hosts(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        for h in ("h0", "h1"):
            c.xe("h2", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=" + h)
            c.xe("h2", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0], "host=" + h)
        for i in range(1, 7):
            res = {}

            def go(h):
                res[h] = c.xe(h, "vm-gpu-assign", "vm=vm-%02d" % i, "pool=train", "host=" + h,
                              check=False)
            ts = [threading.Thread(target=go, args=(h,)) for h in ("h0", "h1")]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            won = [h for h, r in res.items() if r[0] == 0]
            self.assertEqual(len(won), 1, res)
            lost = [h for h in res if h not in won][0]
            self.assertTrue(any(code in res[lost][1] + res[lost][2]
                                for code in ("VM_HAS_GPU", "OPERATION_IN_PROGRESS")), res[lost])
            oc = c.vm(vm_uuid(i))["other_config"]
            self.assertEqual(oc["gpupool:host"], host_uuid(int(won[0][1])))
            self.assertNotIn("gpupool:writer", oc)
            for h in ("h0", "h1"):
                with sqlite3.connect(c.db(h)) as db:
                    n = db.execute("SELECT count(*) FROM assignments WHERE vm_uuid = ?",
                                   (vm_uuid(i),)).fetchone()[0]
                self.assertEqual(n, 1 if h == won[0] else 0, (h, i))
            c.xe(won[0], "vm-gpu-release", "vm=vm-%02d" % i)


class QuotaTest(ClusterBase):
    """Governance under the xapi driver: the tenant comes from the VM's tag
    (gpupool-tenant=<name>, as Xen Orchestra's tag editor sets it); 12
    callers on three hosts assign at once into a pool of 4 GPUs of h0 with
    tenant vision's quota at 2: vision holds exactly 2 (the journal's step
    1 counts assignments still being written), the others QUOTA_EXCEEDED or
    POOL_HAS_NO_FREE_GPU."""
    vms = [halted_vm(i, tags=["gpupool-tenant=vision"] if i <= 8 else ["team:x"])
           for i in range(1, 13)]

    def test_quota_across_callers(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        for g in NODE0:
            c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + g)
        c.xe("h0", "quota-set", "tenant=vision", "pool=train", "gpus=2")
        results = {}

        def go(i):
            results[i] = c.xe(c.names[i % 3], "vm-gpu-assign", "vm=vm-%02d" % i, "pool=train",
                              check=False)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(1, 13)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        tenants = {}
        for i in range(1, 13):
            oc = c.vm(vm_uuid(i))["other_config"]
            if "gpupool:placement" in oc:
                t = json.loads(oc["gpupool:placement"])["tenant"]
                tenants[t] = tenants.get(t, 0) + 1
        self.assertEqual(tenants.get("vision"), 2, (tenants, results))
        self.assertEqual(tenants.get("default"), 2, (tenants, results))
        for i, r in results.items():
            if r[0]:
                self.assertTrue("QUOTA_EXCEEDED" in r[1] + r[2] or
                                "POOL_HAS_NO_FREE_GPU" in r[1] + r[2], r)
        quotas = records(c.xe("h0", "quota-list")[1])
        self.assertEqual(quotas[0]["used"], "2")
        with sqlite3.connect(c.db("h0")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM gov_inflight").fetchone()[0], 0)


class PoolWideQuotaTest(ClusterBase):
    """A quota counts the tenant's GPUs on every host: a pool of 6 GPUs on
    three hosts, vision's quota 3, 9 vision VMs assigning at once from the
    three hosts (each placed on the best host, which claims a slot in
    pool.other_config with add_to_other_config): exactly 3 hold a GPU, and
    3 slots name them; quota-list says 3 used from any host; a release on
    one host frees a slot another host's assignment then takes."""
    vms = [halted_vm(i, tags=["gpupool-tenant=vision"]) for i in range(1, 10)]

    def slots(self):
        oc = self.c.call("pool.get_all_records", self.c.root)
        oc = list(oc.values())[0]["other_config"]
        return {k: v for k, v in oc.items() if k.startswith("gpupool:slot:")}

    def test_quota_across_hosts(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        for h in c.names:
            for g in NODE0[:2]:
                c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + g, "host=" + h)
        c.xe("h1", "quota-set", "tenant=vision", "pool=train", "gpus=3")
        results = {}

        def go(i):
            results[i] = c.xe(c.names[i % 3], "vm-gpu-assign", "vm=vm-%02d" % i, "pool=train",
                              check=False)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(1, 10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        holders = {}
        for i in range(1, 10):
            oc = c.vm(vm_uuid(i))["other_config"]
            if "gpupool:placement" in oc:
                holders[vm_uuid(i)] = oc.get("gpupool:host")
        self.assertEqual(len(holders), 3, (holders, results))
        for i, r in results.items():
            if r[0]:
                self.assertIn("QUOTA_EXCEEDED", r[1] + r[2], r)
        slots = self.slots()
        self.assertEqual(len(slots), 3, slots)
        self.assertEqual({v.split("@")[0] for v in slots.values()}, set(holders))
        for vm, v in ((v.split("@")[0], v) for v in slots.values()):
            self.assertEqual(v.split("@")[1], holders[vm])      # the GPU's host claimed it
        for h in c.names:
            q = records(c.xe(h, "quota-list")[1])
            self.assertEqual((q[0]["tenant"], q[0]["gpus"], q[0]["used"]),
                             ("vision", "3", "3"), h)
        # Release one (from another host than its own): its slot goes, and
        # a fourth vision VM now gets a GPU; a fifth is refused.
        gone = sorted(holders)[0]
        other = [h for h in c.names if host_uuid(c.names.index(h)) != holders[gone]][0]
        c.xe(other, "vm-gpu-release", "vm=" + gone)
        self.assertEqual(len(self.slots()), 2)
        waiting = [i for i in range(1, 10) if vm_uuid(i) not in holders]
        c.xe("h2", "vm-gpu-assign", "vm=vm-%02d" % waiting[0], "pool=train")
        r = c.xe("h0", "vm-gpu-assign", "vm=vm-%02d" % waiting[1], "pool=train", check=False)
        self.assertIn("QUOTA_EXCEEDED", r[1] + r[2], r)
        self.assertEqual(len(self.slots()), 3)
        # Lowering the quota keeps what is held and admits nothing new.
        c.xe("h0", "quota-set", "tenant=vision", "pool=train", "gpus=1")
        c.xe("h0", "vm-gpu-release", "vm=vm-%02d" % waiting[0])
        r = c.xe("h1", "vm-gpu-assign", "vm=vm-%02d" % waiting[1], "pool=train", check=False)
        self.assertIn("QUOTA_EXCEEDED", r[1] + r[2], r)


class PoolWideQueueTest(ClusterBase):
    """The queue is the XCP-ng pool's: requests are the VMs' gpupool:request
    markers, queued from any host and listed the same by every host, and
    fair share counts each tenant's use on every host (each host publishes
    its share in host.other_config["gpupool:usage"]).  ml held a GPU of h1
    for 3 h, vision one of h0 for 1 h; ml asks first from h2, vision later
    from h0: vision is served first when a GPU of h0 frees."""
    T = 1796083200
    vms = ([halted_vm(i, tags=["gpupool-tenant=ml"]) for i in (1, 2)] +
           [halted_vm(i, tags=["gpupool-tenant=vision"]) for i in (3, 4)] +
           [halted_vm(i, tags=["gpupool-tenant=other"]) for i in (7, 8)])

    def at(self, t):
        os.environ["GPUPOOL_NOW"] = str(t)
        self.c.call("standin.set_plugin_env", "GPUPOOL_NOW", str(t))

    def test_queue_across_hosts(self):
        c, T = self.c, self.T
        self.addCleanup(os.environ.pop, "GPUPOOL_NOW", None)
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=h0")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=h1")
        self.at(T)
        c.xe("h2", "vm-gpu-assign", "vm=vm-01", "pool=train", "host=h1")     # ml on h1
        c.xe("h2", "vm-gpu-assign", "vm=vm-03", "pool=train", "host=h0")     # vision on h0
        # host= is kept when the call is sent to that host (it assigns there)
        self.assertEqual(c.vm(vm_uuid(1))["other_config"]["gpupool:host"], host_uuid(1))
        self.assertEqual(c.vm(vm_uuid(3))["other_config"]["gpupool:host"], host_uuid(0))
        self.at(T + 3600)
        c.xe("h1", "vm-gpu-release", "vm=vm-03")
        c.xe("h1", "vm-gpu-assign", "vm=vm-07", "pool=train", "host=h0")     # other on h0
        self.at(T + 10800)
        c.xe("h0", "vm-gpu-release", "vm=vm-01")
        c.xe("h0", "vm-gpu-assign", "vm=vm-08", "pool=train", "host=h1")     # pool full
        r = records(c.xe("h2", "vm-gpu-request", "vm=vm-02", "pool=train")[1])[0]
        self.assertEqual(r["queued"], "true")
        self.at(T + 10810)
        r = c.xe("h1", "vm-gpu-request", "vm=vm-02", "pool=train", check=False)
        self.assertNotEqual(r[0], 0)                 # one request per VM, pool-wide
        c.xe("h0", "vm-gpu-request", "vm=vm-04", "pool=train")
        self.assertIn("gpupool:request", c.vm(vm_uuid(2))["other_config"])
        self.at(T + 10900)
        for h in c.names:
            q = records(c.xe(h, "request-list", "params=all")[1])
            self.assertEqual([(x["position"], x["vm-uuid"], x["tenant"]) for x in q],
                             [("1", vm_uuid(4), "vision"), ("2", vm_uuid(2), "ml")], h)
            self.assertEqual(q[1]["wait-seconds"], "100")
        # A GPU of h0 frees (released from h2): vision's request is served.
        c.xe("h2", "vm-gpu-release", "vm=vm-07")
        oc = c.vm(vm_uuid(4))["other_config"]
        self.assertNotIn("gpupool:request", oc)
        self.assertEqual(json.loads(oc["gpupool:placement"])["tenant"], "vision")
        msgs = [m for m in c.call("message.get_all_records", c.root).values()
                if m["name"] == "GPUPOOL_REQUEST_SERVED"]
        self.assertEqual([m["obj_uuid"] for m in msgs], [vm_uuid(4)])
        q = records(c.xe("h1", "request-list")[1])
        self.assertEqual([(x["position"], x["vm-uuid"]) for x in q], [("1", vm_uuid(2))])
        c.xe("h1", "request-cancel", "vm=vm-02")
        self.assertNotIn("gpupool:request", c.vm(vm_uuid(2))["other_config"])
        self.assertEqual(records(c.xe("h0", "request-list")[1]), [])


class EvacuateTest(ClusterBase):
    vms = [halted_vm(1), halted_vm(2), halted_vm(3), halted_vm(4, vcpus=200)]

    def test_plan_and_apply(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train", "numa-policy=preferred")
        for g in NODE0[:3] + [NODE1[0]]:
            c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + g)
        for g in NODE0[:3]:
            c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + g, "host=h1")
        for i in (1, 2):
            c.xe("h0", "vm-gpu-assign", "vm=vm-%02d" % i, "pool=train", "host=h0")
        # vm-03 got its GPU while halted, then started on h0
        c.xe("h0", "vm-gpu-assign", "vm=vm-03", "pool=train", "host=h0")
        c.call("VM.start_on", c.root, c.call("VM.get_by_uuid", c.root, vm_uuid(3)),
               c.href["h0"], False, False)
        plan = {r["vm-uuid"]: r for r in records(c.xe("h2", "host-evacuate-plan", "host=h0",
                                                      "params=all")[1])}
        self.assertEqual(plan[vm_uuid(1)]["action"], "move")
        self.assertEqual(plan[vm_uuid(1)]["to-host"], "h1")
        self.assertEqual(plan[vm_uuid(2)]["action"], "move")
        self.assertNotEqual(plan[vm_uuid(1)]["to-pci-id"], plan[vm_uuid(2)]["to-pci-id"])
        self.assertEqual(plan[vm_uuid(3)]["action"], "shut-down-first", plan[vm_uuid(3)])
        # the plugin gives the same plan
        pp = c.plugin("h1", "host_evacuate_plan", host="h0")["vms"]
        self.assertEqual({v["vm_uuid"]: v["action"] for v in pp},
                         {k: v["action"] for k, v in plan.items()})
        # apply: the halted VMs move, the running one stays
        rc, out, err = c.xe("h2", "host-evacuate", "host=h0", "apply=true", "params=all")
        done = {r["vm-uuid"]: r for r in records(out)}
        self.assertEqual(done[vm_uuid(1)]["action"], "moved")
        self.assertEqual(done[vm_uuid(2)]["action"], "moved")
        asg = {a["vm-uuid"]: a for a in records(c.xe("h0", "assignment-list",
                                                     "params=all")[1])}
        self.assertEqual(asg[vm_uuid(1)]["host"], "h1")
        self.assertEqual(asg[vm_uuid(2)]["host"], "h1")
        self.assertEqual(asg[vm_uuid(3)]["host"], "h0")
        self.assertEqual(c.vm(vm_uuid(1))["affinity"], c.href["h1"])
        with sqlite3.connect(c.db("h0")) as db:
            self.assertEqual({r[0] for r in db.execute("SELECT vm_uuid FROM assignments")},
                             {vm_uuid(3)})
        with sqlite3.connect(c.db("h2")) as db:
            rows = db.execute("SELECT object, before, after FROM audit WHERE operation ="
                              " 'host-evacuate' ORDER BY id").fetchall()
        self.assertEqual(sorted(r[0] for r in rows), sorted([vm_uuid(1), vm_uuid(2)]))
        self.assertEqual(json.loads(rows[0][1])["host"], "h0")
        self.assertEqual(json.loads(rows[0][2])["host"], "h1")
        # nothing left to move: a second apply does nothing more
        again = {r["vm-uuid"]: r["action"] for r in records(
            c.xe("h2", "host-evacuate", "host=h0", "apply=true", "params=all")[1])}
        self.assertEqual(again, {vm_uuid(3): "shut-down-first"})

    def test_no_target_says_why(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0])
        c.xe("h0", "vm-gpu-assign", "vm=vm-01", "pool=train")
        plan = records(c.xe("h1", "host-evacuate-plan", "host=h0", "params=all")[1])
        self.assertEqual(plan[0]["action"], "no-target")
        self.assertIn("h0: being evacuated", plan[0]["reason"])


class SyncTest(ClusterBase):
    vms = [halted_vm(1), halted_vm(2)]

    def test_rebuild_after_delete_and_master_change(self):
        c = self.c
        c.xe("h0", "pool-create", "name-label=train", "pin-mode=soft")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=h1")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0], "host=h1")
        c.xe("h0", "vm-gpu-assign", "vm=vm-01", "pool=train")

        def rows(host):
            with sqlite3.connect(c.db(host)) as db:
                return (db.execute("SELECT uuid, name_label, pin_mode FROM pools").fetchall(),
                        db.execute("SELECT pci_id, pool_uuid FROM pool_members"
                                   " ORDER BY pci_id").fetchall(),
                        db.execute("SELECT vm_uuid, pci_id, pool_uuid, numa_node, pcpus,"
                                   " memory_node, pin_mode, vcpus, memory_mib, created"
                                   " FROM assignments").fetchall())
        before = rows("h1")
        self.assertEqual(len(before[2]), 1)
        for suffix in ("", "-wal", "-shm", "-integrity"):
            if os.path.exists(c.db("h1") + suffix):
                os.unlink(c.db("h1") + suffix)
        out = records(c.xe("h1", "pool-sync")[1])[0]
        self.assertEqual(out["members-pulled"], "2")
        self.assertEqual(out["assignments-pulled"], "1")
        self.assertEqual(rows("h1"), before)
        # the rebuilt database works: release on h1, assign again
        c.xe("h1", "vm-gpu-release", "vm=vm-01")
        c.xe("h2", "vm-gpu-assign", "vm=vm-02", "pool=train")

        def views():
            return [(h, c.xe(h, "gpu-list", "params=all")[1], c.xe(h, "pool-list",
                     "params=all")[1], c.xe(h, "assignment-list", "params=all")[1])
                    for h in c.names]
        v1 = views()
        c.call("pool.designate_new_master", c.root, c.href["h1"])
        v2 = views()
        self.assertEqual([x[1:] for x in v1], [x[1:] for x in v2])
        # and writes still work from the old master
        c.xe("h0", "vm-gpu-release", "vm=vm-02")
        c.xe("h0", "vm-gpu-assign", "vm=vm-01", "pool=train")
        self.assertEqual(json.loads(c.vm(vm_uuid(1))["other_config"]["gpupool:placement"])
                         ["pool_uuid"], before[0][0][0])


class CapacityTest(ClusterBase):
    """capacity-report (docs/capacity-report.md) pool-wide: every host with
    its name, host= filters, the plugin's capacity_report; metrics stay
    per host."""
    vms = [halted_vm(1, vcpus=40), halted_vm(2, vcpus=4)]

    def setUp(self):
        super().setUp()
        c = self.c
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0])
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[1])
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0], "host=h1")
        # vm-01 (40 vCPUs, 8 GiB) holds h0's first GPU, halted: 8 vCPU slots
        # are left on h0's node 0, fewer than the smallest VM (40)
        c.xe("h2", "vm-gpu-assign", "vm=vm-01", "pool=train", "host=h0",
             "pci-id=" + NODE0[0])

    def test_every_host_and_filter(self):
        c = self.c
        for h in ("h0", "h2"):
            recs = records(c.xe(h, "capacity-report")[1])
            pools = {(r["host"], r["pool"]): r for r in recs if r["kind"] == "pool"}
            self.assertEqual(sorted(pools), [("h0", "train"), ("h1", "train")], h)
            p0, p1 = pools[("h0", "train")], pools[("h1", "train")]
            self.assertEqual((p0["gpus"], p0["free"], p0["stranded"], p0["held-halted"]),
                             ("2", "0", "1", "1"), h)
            self.assertEqual(p0["smallest-vm-vcpus"], "40", h)
            self.assertEqual((p1["gpus"], p1["free"], p1["stranded"]), ("1", "1", "0"), h)
            self.assertEqual((p1["largest-vm-vcpus"], p1["largest-vm-memory-mib"],
                              p1["largest-vm-node"]), ("48", "524288", "1"), h)
            gpus = {(r["host"], r["pci-id"]): r for r in recs if r["kind"] == "gpu"}
            self.assertEqual(gpus[("h0", NODE0[1])]["reason"], "no-pcpus", h)
            self.assertEqual(gpus[("h0", NODE0[0])]["state"], "halted", h)
            self.assertEqual(gpus[("h0", NODE0[0])]["vm-uuid"], vm_uuid(1), h)
            # 24 GPUs, 3 in pools: 21 in no pool, each listed with its host
            self.assertEqual(len([g for g in gpus.values() if g["state"] == "no-pool"]), 21)
        only = records(c.xe("h2", "capacity-report", "host=h1")[1])
        self.assertEqual({r["host"] for r in only}, {"h1"})
        self.assertEqual(len([r for r in only if r["kind"] == "pool"]), 1)
        rc, out, err = c.xe("h2", "capacity-report", "host=nope", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("INVALID_ARGUMENT", out + err)
        # the plugin, on a slave
        cap = c.plugin("h1", "capacity_report")
        self.assertEqual(len(cap["gpus"]), 24)
        self.assertEqual(sorted((p["host"], p["stranded"]) for p in cap["pools"]),
                         [("h0", 1), ("h1", 0)])
        cap = c.plugin("h1", "capacity_report", host=host_uuid(0))
        self.assertEqual({g["host"] for g in cap["gpus"]}, {"h0"})

    def test_metrics_per_host(self):
        c = self.c
        text = c.xe("h0", "metrics", "hostname=h0")[1]
        info = [x for x in text.splitlines() if x.startswith("gpupool_gpu_info{")]
        self.assertEqual(len(info), 8)           # h0's GPUs only
        self.assertIn('gpupool_pool_gpus{hostname="h0",pool="train",state="stranded"} 1',
                      text.splitlines())
        text = c.plugin("h1", "metrics", hostname="h1")["text"]
        self.assertIn('gpupool_pool_gpus{hostname="h1",pool="train",state="free"} 1',
                      text.splitlines())


class DrawTest(ClusterBase):
    """host-draw on an XCP-ng pool: one panel per host, from any host."""
    vms = [halted_vm(1, vcpus=4)]

    def svg(self, host, *args):
        import xml.etree.ElementTree as ET
        path = os.path.join(self.c.dir, "%s.svg" % host)
        self.c.xe(host, "host-draw", "out=" + path, *args)
        with open(path, "rb") as f:
            data = f.read()
        return data, ET.fromstring(data)

    def test_panel_per_host(self):
        c = self.c
        ns = "{http://www.w3.org/2000/svg}"
        c.xe("h0", "pool-create", "name-label=train")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE0[0], "host=h1")
        c.xe("h0", "pool-gpu-add", "pool=train", "pci-id=" + NODE1[0], "host=h2")
        c.xe("h0", "vm-gpu-assign", "vm=vm-01", "pool=train")
        a = records(c.xe("h0", "assignment-list", "params=all")[1])[0]
        self.assertEqual((a["host"], a["pci-id"]), ("h1", NODE0[0]))   # tie: host name
        data, root = self.svg("h0")
        panels = [g for g in root.iter(ns + "g") if g.get("class") == "host"]
        self.assertEqual([g.get("id") for g in panels], ["h0", "h1", "h2"])
        self.assertEqual([g.find(ns + "title").text for g in panels],
                         ["Host h%d (%s)" % (i, host_uuid(i)) for i in range(3)])
        cells = [r for r in root.iter(ns + "rect") if (r.get("class") or "").startswith("pcpu")]
        self.assertEqual(len(cells), 3 * 96)
        by_id = {e.get("id"): e for e in root.iter() if e.get("id")}

        def lines(gid):
            return "|".join(t.text for t in by_id[gid].findall(ns + "text"))
        self.assertEqual(lines("h1-gpu-0000-18-00.0"),
                         "0000:18:00.0|GH100 [H100 PCIe]|pool: train|vm: vm-01")
        self.assertEqual(lines("h2-gpu-0000-9a-00.0"),
                         "0000:9a:00.0|GH100 [H100 PCIe]|pool: train|vm: free")
        self.assertEqual(lines("h0-gpu-0000-18-00.0"),
                         "0000:18:00.0|GH100 [H100 PCIe]|pool: none|vm: -")
        colour = by_id["legend-vm-" + vm_uuid(1)].get("fill")
        self.assertEqual(colour, "#4e79a7")
        pinned = sorted(int(r.get("id").split("-")[-1]) for r in cells
                        if r.get("fill") == colour)
        self.assertEqual(pinned, sorted(int(x) for x in a["pcpus"].split(",")))
        self.assertTrue(all(r.get("id").startswith("h1-") for r in cells
                            if r.get("fill") == colour))
        # the same picture from another host and through the plugin there
        self.assertEqual(self.svg("h1")[0], data)
        self.assertEqual(c.plugin("h2", "host_svg")["svg"].encode(), data)
        # host= draws that host only
        one = self.svg("h0", "host=h1")[1]
        self.assertEqual([g.find(ns + "title").text for g in one.iter(ns + "g")
                          if g.get("class") == "host"], ["Host h1 (%s)" % host_uuid(1)])
        self.assertNotEqual(c.xe("h0", "host-draw", "out=" + os.path.join(c.dir, "x.svg"),
                                 "host=nope", check=False)[0], 0)
        self.assertFalse(os.path.exists(os.path.join(c.dir, "x.svg")))


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print("[  PASSED  ] %d test(s)." % (result.testsRun - failed - len(result.skipped)))
    if result.skipped:
        print("[  SKIPPED ] %d test(s)." % len(result.skipped))
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % failed)
        for t, _ in result.failures + result.errors:
            print("[  FAILED  ] %s" % t.id())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
