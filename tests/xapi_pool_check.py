#!/usr/bin/env python3
"""gpupool on a two-host XCP-ng pool, against tests/xapi_standin.py (which
follows xapi 26.1.4, cited per behaviour).

The real programs run as xapi runs them: xapi-plugin/gpupool through
host.call_plugin (on the master with the caller's session, on the slave
with the session the master makes for it), xapi-plugin/gpupool-vm-pre-start
as each host's /etc/xapi.d/vm-pre-start/50-gpupool when xenopsd starts a
VM there.  Each host has its own gpupool.conf and database.

What is checked (issue 9, host binding and "say only what xapi does"):
  - an assignment binds the VM to its GPU's host (VM.affinity, gpupool:host);
  - a start elsewhere (start_on, or start when the affinity host cannot run
    it) is aborted by the hook: XAPI_HOOK_FAILED, and no device is reset;
  - a clone's copied entry, and a second VM naming a GPU a running VM holds,
    are refused at start;
  - host.call_plugin needs pool-admin (RBAC_PERMISSION_DENIED otherwise);
  - the audit log names the xapi user behind a call the master forwarded;
  - a function xapi has no PCI object for (class 12) is refused naming why.

Prints cmocka-style summary lines for tests/run-tests.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import xapi_standin_check as sc  # noqa: E402  (StandIn, XapiError)

PLUGIN = os.path.join(ROOT, "xapi-plugin", "gpupool")
HOOK = os.path.join(ROOT, "xapi-plugin", "gpupool-vm-pre-start")
HOOK_DOWN = os.path.join(ROOT, "xapi-plugin", "gpupool-vm-post-destroy")
STANDIN = os.path.join(HERE, "xapi_standin.py")

H0 = "cccccccc-0000-4000-8000-000000000000"
H1 = "cccccccc-0000-4000-8000-000000000001"
VM_A = "dddddddd-0000-4000-8000-00000000000a"
VM_B = "dddddddd-0000-4000-8000-00000000000b"
VM_C = "dddddddd-0000-4000-8000-00000000000c"
VM_D = "dddddddd-0000-4000-8000-00000000000d"   # runs on h0 with a passthrough VGPU
VGPU_GPU = "0000:2a:00.0"
GPU = "0000:18:00.0"
ACCEL = "0000:5d:00.0"   # a class-12 device in xapi's eyes: no PCI object


class Pool(sc.StandIn):
    """The stand-in with two hosts, each with gpupool's plugin and hook; the
    calls (raw, call, error), out, vm and stop are sc.StandIn's."""

    def __init__(self, extra_state=None, extra_conf=""):
        self.dir = tempfile.mkdtemp(prefix="gp-pool-")
        self.sockdir = os.path.join(self.dir, "s")
        os.mkdir(self.sockdir)
        hosts = []
        for uuid, name in ((H0, "h0"), (H1, "h1")):
            etc = os.path.join(self.dir, name, "xapi.d")
            os.makedirs(os.path.join(etc, "plugins"))
            os.makedirs(os.path.join(etc, "vm-pre-start"))
            os.makedirs(os.path.join(etc, "vm-post-destroy"))
            os.symlink(PLUGIN, os.path.join(etc, "plugins", "gpupool"))
            os.symlink(HOOK, os.path.join(etc, "vm-pre-start", "50-gpupool"))
            os.symlink(HOOK_DOWN, os.path.join(etc, "vm-post-destroy", "50-gpupool"))
            conf = os.path.join(self.dir, name, "gpupool.conf")
            with open(conf, "w") as f:
                f.write("db = %s\ndriver = xapi\ntopology = embedded\nxapi-socket = %s\n%s"
                        % (os.path.join(self.dir, name, "state.db"),
                           os.path.join(self.sockdir, name + ".sock"), extra_conf))
            hosts.append({"uuid": uuid, "name_label": name, "config": conf,
                          "hooks_dir": etc, "plugins_dir": os.path.join(etc, "plugins")})
        pcis = []
        for h in (H0, H1):
            pcis += [{"pci_id": GPU, "class_id": "0302", "host": h},
                     {"pci_id": "0000:2a:00.0", "class_id": "0302", "host": h},
                     {"pci_id": ACCEL, "class_id": "1200", "host": h}]
        state = {
            "hosts": hosts,
            "users": {"alice": {"password": "a", "role": "pool-admin"},
                      "olga": {"password": "o", "role": "vm-operator"}},
            "vms": [{"uuid": VM_A, "name_label": "trainer-a", "VCPUs_max": 4,
                     "memory_static_max": 8 << 30},
                    {"uuid": VM_B, "name_label": "trainer-b", "VCPUs_max": 4,
                     "memory_static_max": 8 << 30},
                    {"uuid": VM_C, "name_label": "trainer-c", "VCPUs_max": 4,
                     "memory_static_max": 8 << 30},
                    {"uuid": VM_D, "name_label": "vgpu-user", "power_state": "Running",
                     "resident_on": H0, "VCPUs_max": 2, "memory_static_max": 4 << 30}],
            "vgpus": [{"vm": VM_D, "pci_id": VGPU_GPU, "host": H0, "type": "passthrough"}],
            "pcis": pcis,
        }
        state.update(extra_state or {})
        self.state_path = os.path.join(self.dir, "state.json")
        with open(self.state_path, "w") as f:
            json.dump(state, f)
        ready = os.path.join(self.dir, "ready")
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, "--socket-dir", self.sockdir, "--state",
             self.state_path, "--log", os.path.join(self.dir, "calls.jsonl"), "--ready", ready],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(500):
            if os.path.exists(ready):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("stand-in died: %s" % self.proc.stderr.read().decode())
            time.sleep(0.01)
        self.root = self.call("session.login_with_password", "root", "", "1.0", "t")
        self.host = {"h0": self.call("host.get_by_uuid", self.root, H0),
                     "h1": self.call("host.get_by_uuid", self.root, H1)}

    def plugin(self, host, fn, session=None, **args):
        """host.call_plugin(host, "gpupool", fn, args) as the master gets it."""
        return json.loads(self.call("host.call_plugin", session or self.root, self.host[host],
                                    "gpupool", fn, {k: str(v) for k, v in args.items()}))

    def plugin_error(self, host, fn, session=None, **args):
        return self.error("host.call_plugin", session or self.root, self.host[host],
                          "gpupool", fn, {k: str(v) for k, v in args.items()})

    def vm_ref(self, uuid):
        return self.call("VM.get_by_uuid", self.root, uuid)

    def db(self, host):
        return os.path.join(self.dir, host, "state.db")


class PoolBase(unittest.TestCase):
    extra_state = None
    extra_conf = ""

    def setUp(self):
        for p in (PLUGIN, HOOK, HOOK_DOWN):
            if not os.access(p, os.X_OK):
                self.skipTest("%s is not built (make all)" % p)
        self.p = Pool(self.extra_state, self.extra_conf)
        self.addCleanup(self.p.stop)
        self.p.plugin("h0", "create_pool", name_label="train")
        self.p.plugin("h0", "add_gpu_to_pool", pool="train", pci_id=GPU)

    def assign_a(self):
        a = self.p.plugin("h0", "assign_gpu", vm_uuid=VM_A, pool="train")
        self.assertEqual(a["pci_id"], GPU)
        return a


class PoolTest(PoolBase):
    def test_assignment_binds_vm_to_host(self):
        self.assign_a()
        vm = self.p.vm(VM_A)
        self.assertEqual(vm["affinity"], self.p.host["h0"])
        self.assertEqual(vm["other_config"]["gpupool:host"], H0)
        self.assertEqual(vm["other_config"]["pci"], "0/" + GPU)
        self.assertEqual(vm["blocked_operations"], {})
        # release clears what it set, affinity included
        self.p.plugin("h0", "release_gpu", vm_uuid=VM_A)
        vm = self.p.vm(VM_A)
        self.assertEqual(vm["affinity"], "OpaqueRef:NULL")
        self.assertNotIn("pci", vm["other_config"])

    def test_start_on_other_host_refused_by_hook(self):
        self.assign_a()
        ref = self.p.vm_ref(VM_A)
        err = self.p.error("VM.start_on", self.p.root, ref, self.p.host["h1"], False, False)
        self.assertEqual(err[0], "XAPI_HOOK_FAILED", err)
        self.assertEqual(err[1], "vm-pre-start/50-gpupool")
        self.assertIn("VM_ON_OTHER_HOST", err[3])
        self.assertEqual(err[4], "2")
        self.assertEqual(self.p.vm(VM_A)["power_state"], "Halted")
        self.assertEqual(self.p.out()["resets"], [])
        # On its own host it starts.
        self.p.call("VM.start_on", self.p.root, ref, self.p.host["h0"], False, False)
        self.assertEqual(self.p.vm(VM_A)["power_state"], "Running")

    def test_start_elsewhere_when_affinity_host_disabled(self):
        # VM.affinity is only a hint: with h0 disabled xapi picks h1, where
        # the hook aborts the start.
        self.assign_a()
        self.p.call("host.disable", self.p.root, self.p.host["h0"])
        err = self.p.error("VM.start", self.p.root, self.p.vm_ref(VM_A), False, False)
        self.assertEqual(err[0], "XAPI_HOOK_FAILED", err)
        self.assertIn("VM_ON_OTHER_HOST", err[3])
        self.assertEqual(self.p.out()["resets"], [])

    def test_clone_and_second_holder_refused_at_start(self):
        self.assign_a()
        clone_ref = self.p.call("VM.clone", self.p.root, self.p.vm_ref(VM_A), "copy")
        err = self.p.error("VM.start_on", self.p.root, clone_ref, self.p.host["h0"], False,
                           False)
        self.assertEqual(err[0], "XAPI_HOOK_FAILED", err)
        self.assertIn("GPU_ASSIGNED", err[3])
        # A VM named by hand onto the GPU while its holder runs: refused, no
        # FLR of the running VM's device.
        self.p.call("VM.start_on", self.p.root, self.p.vm_ref(VM_A), self.p.host["h0"], False,
                    False)
        ref_b = self.p.vm_ref(VM_B)
        self.p.call("VM.add_to_other_config", self.p.root, ref_b, "pci", "0/" + GPU)
        err = self.p.error("VM.start_on", self.p.root, ref_b, self.p.host["h0"], False, False)
        self.assertEqual(err[0], "XAPI_HOOK_FAILED", err)
        self.assertIn("GPU_ASSIGNED", err[3])
        self.assertEqual(self.p.out()["resets"], [])

    def test_call_plugin_needs_pool_admin(self):
        olga = self.p.call("session.login_with_password", "olga", "o", "1.0", "t",
                           remote=True)
        err = self.p.error("host.call_plugin", olga, self.p.host["h0"], "gpupool", "list_gpus",
                           {}, remote=True)
        self.assertEqual(err[0], "RBAC_PERMISSION_DENIED", err)
        self.assertEqual(err[1], "host.call_plugin")

    def test_forwarded_call_audits_the_xapi_user(self):
        alice = self.p.call("session.login_with_password", "alice", "a", "1.0", "t",
                            remote=True)
        self.p.plugin("h1", "create_pool", session=alice, name_label="train1")
        self.p.plugin("h1", "add_gpu_to_pool", session=alice, pool="train1", pci_id=GPU)
        self.p.plugin("h1", "assign_gpu", session=alice, vm_uuid=VM_C, pool="train1")
        self.assertEqual(self.p.vm(VM_C)["affinity"], self.p.host["h1"])
        with sqlite3.connect(self.p.db("h1")) as db:
            callers = [r[0] for r in db.execute(
                "SELECT caller FROM audit WHERE operation = 'vm-gpu-assign'")]
        self.assertEqual(len(callers), 1)
        self.assertIn("xapi-user=alice", callers[0])
        # The same BDF on h0 is another device: h0's gpupool does not see it held.
        a = self.p.plugin("h0", "assign_gpu", vm_uuid=VM_A, pool="train")
        self.assertEqual(a["pci_id"], GPU)

    def test_device_without_pci_object_refused(self):
        err = self.p.plugin_error("h0", "add_gpu_to_pool", pool="train", pci_id=ACCEL)
        self.assertEqual(err[0], "GPUPOOL_NOT_SUPPORTED", err)
        self.assertIn("no-xapi-pci-object", err)
        self.assertIn("xapi_pci.ml", err[-1])
        with sqlite3.connect(self.p.db("h0")) as db:
            n = db.execute("SELECT count(*) FROM pool_members WHERE pci_id = ?",
                           (ACCEL,)).fetchone()[0]
        self.assertEqual(n, 0)


class XapiFactsTest(PoolBase):
    """What only xapi knows shapes the decision, and drift sees it."""

    def drift_kinds(self, host="h0"):
        return sorted({d["kind"] for d in self.p.plugin(host, "check_drift")["drift"]})

    def test_guest_vcpu_mask_respected(self):
        # xapi intersects every vCPU mask with Host.guest_VCPUs_params:mask
        # (xapi_xenops.ml): gpupool plans inside it.
        self.p.call("host.add_to_guest_VCPUs_params", self.p.root, self.p.host["h0"], "mask",
                    "2,3,4,5,6,7")
        a = self.assign_a()
        self.assertTrue(set(a["pcpus"]) <= {2, 3, 4, 5, 6, 7}, a["pcpus"])
        self.assertEqual(self.p.vm(VM_A)["VCPUs_params"]["mask"],
                         ",".join(str(c) for c in a["pcpus"]))

    def test_cpupool_other_than_pool0_refused(self):
        self.p.plugin("h0", "set_pool_param", pool="train", param="cpupool", value="gpu")
        err = self.p.plugin_error("h0", "assign_gpu", vm_uuid=VM_A, pool="train")
        self.assertEqual(err[0], "GPUPOOL_NOT_SUPPORTED", err)
        self.assertIn("cpupool 0", err[-1])
        self.assertNotIn("pci", self.p.vm(VM_A)["other_config"])

    def test_gpu_under_vgpu_not_given(self):
        self.p.plugin("h0", "add_gpu_to_pool", pool="train", pci_id=VGPU_GPU)
        err = self.p.plugin_error("h0", "assign_gpu", vm_uuid=VM_A, pool="train",
                                  pci_id=VGPU_GPU)
        self.assertEqual(err[0], "GPUPOOL_GPU_ASSIGNED", err)
        self.assertIn("VGPU", err[-1])
        self.assertIn("vgpu", self.drift_kinds())

    def test_drift_sees_hand_edits(self):
        a = self.assign_a()
        self.assertEqual(self.drift_kinds(), [])
        ref = self.p.vm_ref(VM_A)
        # Xen Orchestra's cpuMask rewrites VCPUs_params:mask.
        self.p.call("VM.remove_from_VCPUs_params", self.p.root, ref, "mask")
        self.p.call("VM.add_to_VCPUs_params", self.p.root, ref, "mask", "0,1")
        # dom0 access given back to a pool GPU by hand.
        pci = [r for r, p in self.p.call("PCI.get_all_records", self.p.root).items()
               if p["pci_id"] == GPU and p["host"] == self.p.host["h0"]][0]
        self.p.call("PCI.enable_dom0_access", self.p.root, pci)
        # affinity moved by hand.
        self.p.call("VM.set_affinity", self.p.root, ref, self.p.host["h1"])
        kinds = self.drift_kinds()
        for k in ("mask-changed", "dom0-access", "affinity"):
            self.assertIn(k, kinds)
        self.assertTrue(a)


FIXTURE_DUMP = os.path.join(ROOT, "..", "shared", "fixtures", "lspci", "tree-asus-p6t6")


class CompanionTest(unittest.TestCase):
    """A GPU with a companion (the GT218 and its HDMI audio function of the
    lspci fixture): each gets its own index in other-config:pci, the GPU
    first, so xapi plugs the GPU first (pciops.ml sort_pcidevs reverses the
    entries of one index); entries others wrote stay, whatever order Xen
    Orchestra rewrites them in, and release takes only gpupool's."""

    def setUp(self):
        for p in (PLUGIN, HOOK):
            if not os.access(p, os.X_OK):
                self.skipTest("%s is not built (make all)" % p)
        if not os.path.exists(FIXTURE_DUMP):
            self.skipTest("../shared/fixtures/lspci/tree-asus-p6t6 is absent")
        st = {"pcis": [{"pci_id": "0000:06:00.0", "class_id": "0300", "host": H0},
                       {"pci_id": "0000:06:00.1", "class_id": "0403", "host": H0},
                       {"pci_id": "0000:05:00.0", "class_id": "0200", "host": H0}],
              "vgpus": []}
        self.p = Pool(st, "pci-dump = %s\n" % os.path.abspath(FIXTURE_DUMP))
        self.addCleanup(self.p.stop)
        self.p.plugin("h0", "create_pool", name_label="old", numa_policy="legacy")
        self.p.plugin("h0", "add_gpu_to_pool", pool="old", pci_id="0000:06:00.0")

    def test_gpu_first_each_function_its_index(self):
        ref = self.p.vm_ref(VM_A)
        self.p.call("VM.add_to_other_config", self.p.root, ref, "pci", "0/0000:05:00.0")
        a = self.p.plugin("h0", "assign_gpu", vm_uuid=VM_A, pool="old")
        self.assertEqual(a["companions"], ["0000:06:00.1"])
        self.assertEqual(self.p.vm(VM_A)["other_config"]["pci"],
                         "0/0000:05:00.0,1/0000:06:00.0,2/0000:06:00.1")
        # Xen Orchestra's attachPcis rewrites the value as a union, in its
        # own order: release still removes exactly gpupool's entries.
        self.p.call("VM.remove_from_other_config", self.p.root, ref, "pci")
        self.p.call("VM.add_to_other_config", self.p.root, ref, "pci",
                    "2/0000:06:00.1,1/0000:06:00.0,0/0000:05:00.0")
        self.p.plugin("h0", "release_gpu", vm_uuid=VM_A)
        oc = self.p.vm(VM_A)["other_config"]
        self.assertEqual(oc["pci"], "0/0000:05:00.0")
        self.assertFalse([k for k in oc if k.startswith("gpupool:")])


class LockTest(PoolBase):
    """The write lock is not held across xapi round trips: while an assign
    waits on a slow xapi write, another call's write completes."""
    extra_state = {"delay": {"VM.set_affinity": 3}}

    def test_other_writes_go_on_during_xapi_writes(self):
        import threading
        res = {}
        t = threading.Thread(target=lambda: res.update(
            a=self.p.plugin("h0", "assign_gpu", vm_uuid=VM_A, pool="train")))
        t0 = time.monotonic()
        t.start()
        time.sleep(1.0)          # the assign is inside VM.set_affinity now
        self.p.plugin("h0", "create_pool", name_label="other")
        t_other = time.monotonic() - t0
        t.join()
        t_assign = time.monotonic() - t0
        self.assertEqual(res["a"]["pci_id"], GPU)
        self.assertLess(t_other, t_assign - 0.5,
                        "create_pool waited for the assign (%.1f s, assign %.1f s)"
                        % (t_other, t_assign))


class TimeoutTest(PoolBase):
    """xapi slower than timeout-ms in the middle of the writes: the call
    fails with GPUPOOL_TIMEOUT and xapi and the database are as before (the
    undo runs on its own budget; before, pci, markers and the mask stayed)."""
    extra_state = {"delay": {"VM.add_to_VCPUs_params": 3}}
    extra_conf = "timeout-ms = 1500\n"

    def test_timeout_changes_nothing(self):
        before = self.p.vm(VM_A)
        err = self.p.plugin_error("h0", "assign_gpu", vm_uuid=VM_A, pool="train")
        self.assertEqual(err[0], "GPUPOOL_TIMEOUT", err)
        after = self.p.vm(VM_A)
        for key in ("other_config", "VCPUs_params", "blocked_operations", "affinity"):
            self.assertEqual(after[key], before[key], key)
        with sqlite3.connect(self.p.db("h0")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM assignments").fetchone()[0], 0)
            self.assertEqual(db.execute("SELECT count(*) FROM intents").fetchone()[0], 0)


def main(module=None):
    """Run the tests of module (default: this one) and print cmocka-style
    summary lines for tests/run-tests; 1 when any failed."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(module or sys.modules[__name__])
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
