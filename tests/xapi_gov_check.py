#!/usr/bin/env python3
"""Governance on XCP-ng, against tests/xapi_standin.py (xapi 26.1.4, cited
per behaviour): the real plugin and vm-pre-start hook of two hosts.

What is checked (issue 11 on the xapi driver):
  - requested-by of a queued request is the xapi user of the session
    (alice), not the plugin's process;
  - serving a request creates a xapi message on the served VM
    (message.create, GPUPOOL_REQUEST_SERVED), and a lease that takes a GPU
    back creates GPUPOOL_GPU_RELEASED;
  - running time comes from what xapi shows: the hook opens a run at the
    start (to the second), the next command after xapi shows the VM halted
    closes it; usage-report's figures follow, with GPUPOOL_NOW set in the
    plugin's environment;
  - lease= and idle-release-after release under the xapi driver, at the
    first command after the end while the VM is halted; a running VM keeps
    its GPU;
  - allowed-tenants refuses a tenant through the plugin with
    TENANT_NOT_ALLOWED and writes nothing into xapi.

Prints cmocka-style summary lines for tests/run-tests.
"""
import os
import sqlite3
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import xapi_pool_check as pc  # noqa: E402  (Pool, PoolBase, VM_*, GPU)

T = 1796083200   # 2026-12-01T00:00:00Z


class GovTest(pc.PoolBase):
    def now(self, t):
        """The clock of every plugin and hook call from now on."""
        self.p.call("standin.set_plugin_env", "GPUPOOL_NOW", str(t))

    def messages(self):
        return sorted(self.p.call("message.get_all_records", self.p.root).values(),
                      key=lambda m: m["name"])

    def runs(self, vm):
        with sqlite3.connect(self.p.db("h0")) as db:
            return db.execute("SELECT run_from, run_until FROM vm_runs WHERE vm_uuid = ?"
                              " ORDER BY id", (vm,)).fetchall()

    def test_requested_by_and_served_message(self):
        alice = self.p.call("session.login_with_password", "alice", "a", "1.0", "t",
                            remote=True)
        self.now(T)
        self.assign_a()
        r = self.p.plugin("h0", "vm_gpu_request", session=alice, vm_uuid=pc.VM_B,
                          pool="train", on_behalf_of="bob@xo")
        self.assertTrue(r["queued"])
        self.assertEqual(r["request"]["requested_by"], "alice")
        self.assertEqual(r["request"]["on_behalf_of"], "bob@xo")
        self.assertEqual(self.messages(), [])
        self.now(T + 60)
        self.p.plugin("h0", "release_gpu", vm_uuid=pc.VM_A)
        m = self.messages()
        self.assertEqual([x["name"] for x in m], ["GPUPOOL_REQUEST_SERVED"])
        self.assertEqual(m[0]["obj_uuid"], pc.VM_B)
        self.assertEqual(m[0]["cls"], "VM")
        self.assertEqual(m[0]["priority"], "5")
        self.assertIn(pc.GPU, m[0]["body"])
        self.assertIn('"waited_seconds":60', m[0]["body"])
        self.assertEqual(self.p.vm(pc.VM_B)["other_config"].get("pci"), "0/" + pc.GPU)

    def test_running_time_from_xapi(self):
        self.now(T)
        self.assign_a()
        self.now(T + 100)
        self.p.call("VM.start", self.p.root, self.p.vm_ref(pc.VM_A), False, False)
        # The vm-pre-start hook opened the run at the start, before any
        # gpupool command.
        self.assertEqual(self.runs(pc.VM_A), [(T + 100, None)])
        self.now(T + 1000)
        self.p.plugin("h0", "list_assignments")         # sees it running: no change
        self.assertEqual(self.runs(pc.VM_A), [(T + 100, None)])
        self.now(T + 1100)
        self.p.call("VM.hard_shutdown", self.p.root, self.p.vm_ref(pc.VM_A))
        # The vm-post-destroy hook closed it at the shutdown, to the second.
        self.assertEqual(self.runs(pc.VM_A), [(T + 100, T + 1100)])
        # Without that hook (a shutdown the guest makes itself runs none,
        # xenops_server.ml VM_check_state), the first command that sees
        # the VM halted closes the run.
        os.unlink(os.path.join(self.p.dir, "h0", "xapi.d", "vm-post-destroy", "50-gpupool"))
        self.now(T + 1200)
        self.p.call("VM.start", self.p.root, self.p.vm_ref(pc.VM_A), False, False)
        self.now(T + 1300)
        self.p.call("VM.hard_shutdown", self.p.root, self.p.vm_ref(pc.VM_A))
        self.now(T + 1400)
        self.p.plugin("h0", "list_gpus")
        self.assertEqual(self.runs(pc.VM_A), [(T + 100, T + 1100), (T + 1200, T + 1400)])
        self.now(T + 3600)
        rep = self.p.plugin("h0", "usage_report", **{"from": "2026-12-01T00:00:00Z",
                                                    "to": "2026-12-01T01:00:00Z",
                                                    "group_by": "vm"})
        rows = rep["rows"] if isinstance(rep, dict) else rep
        row = [x for x in rows if x.get("key", x.get("vm_uuid")) == pc.VM_A][0]
        self.assertEqual(row["gpu_seconds_held"], 3600)
        self.assertEqual(row["gpu_seconds_running"], 1000 + 200)

    def test_lease_and_idle_release_under_xapi(self):
        self.now(T)
        a = self.p.plugin("h0", "assign_gpu", vm_uuid=pc.VM_A, pool="train", lease="1h")
        self.assertEqual(a["lease_until"], "2026-12-01T01:00:00Z")
        self.p.call("VM.start", self.p.root, self.p.vm_ref(pc.VM_A), False, False)
        self.now(T + 3600)                               # ended while running: kept
        self.p.plugin("h0", "list_assignments")
        self.assertEqual(self.p.vm(pc.VM_A)["other_config"].get("pci"), "0/" + pc.GPU)
        self.p.call("VM.hard_shutdown", self.p.root, self.p.vm_ref(pc.VM_A))
        self.now(T + 3700)
        self.p.plugin("h0", "list_assignments")          # halted now: released
        self.assertNotIn("pci", self.p.vm(pc.VM_A)["other_config"])
        self.assertEqual([x["name"] for x in self.messages()], ["GPUPOOL_GPU_RELEASED"])
        self.assertEqual(self.messages()[0]["priority"], "4")
        with sqlite3.connect(self.p.db("h0")) as db:
            ops = [r[0] for r in db.execute("SELECT operation FROM audit ORDER BY id")]
        self.assertIn("lease-expire", ops)
        # idle-release-after, sampled under xapi: B halted for 2 h is released.
        self.p.plugin("h0", "set_pool_param", pool="train", param="idle-release-after",
                      value="2h")
        self.p.plugin("h0", "assign_gpu", vm_uuid=pc.VM_B, pool="train")
        self.now(T + 3700 + 7199)
        self.p.plugin("h0", "list_gpus")
        self.assertEqual(self.p.vm(pc.VM_B)["other_config"].get("pci"), "0/" + pc.GPU)
        self.now(T + 3700 + 7200)
        self.p.plugin("h0", "list_gpus")
        self.assertNotIn("pci", self.p.vm(pc.VM_B)["other_config"])

    def test_allowed_tenants_refusal_writes_nothing(self):
        self.p.plugin("h0", "set_pool_param", pool="train", param="allowed-tenants",
                      value="ml")
        before = self.p.vm(pc.VM_A)
        err = self.p.plugin_error("h0", "assign_gpu", vm_uuid=pc.VM_A, pool="train",
                                  tenant="vision")
        self.assertIn("TENANT_NOT_ALLOWED", " ".join(err), err)
        self.assertEqual(self.p.vm(pc.VM_A), before)
        a = self.p.plugin("h0", "assign_gpu", vm_uuid=pc.VM_A, pool="train", tenant="ml")
        self.assertEqual(a["tenant"], "ml")


if __name__ == "__main__":
    sys.exit(pc.main(sys.modules[__name__]))
