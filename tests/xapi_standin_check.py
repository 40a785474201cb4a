#!/usr/bin/env python3
"""Self-test of tests/xapi_standin.py: each behaviour it models after xapi
26.1.4, checked through its sockets with a fake plugin and fake hooks.

Run from anywhere; prints cmocka-style summary lines so that tests/run-tests
counts the cases ("[  PASSED  ] N test(s)." / "[  FAILED  ] M test(s)").
"""
import functools
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "xapi_standin.py")

VM_A = "aaaaaaaa-0000-4000-8000-000000000001"
VM_B = "aaaaaaaa-0000-4000-8000-000000000002"
VM_C = "aaaaaaaa-0000-4000-8000-000000000003"
VM_D = "aaaaaaaa-0000-4000-8000-000000000004"
VM_E = "aaaaaaaa-0000-4000-8000-000000000005"
H0 = "bbbbbbbb-0000-4000-8000-000000000000"
H1 = "bbbbbbbb-0000-4000-8000-000000000001"
H2 = "bbbbbbbb-0000-4000-8000-000000000002"

# The fake plugin: decodes argv[1] with a real XML-RPC implementation, calls
# back into the stand-in on the socket named by GPUPOOL_CONFIG with the
# session it was given, and answers a JSON summary; args steer failures.
PLUGIN = r'''#!%(python)s
import http.client, json, os, socket, sys, xmlrpc.client

class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)

class Transport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path
    def make_connection(self, host):
        return Conn(self.unix_path)

params, fn = xmlrpc.client.loads(sys.argv[1])
session, args = params
if "stderr" in args:
    sys.stderr.write(args["stderr"])
if "exit" in args:
    sys.stdout.write("partial")
    sys.exit(int(args["exit"]))
if "fail" in args:
    sys.stdout.write(xmlrpc.client.dumps(
        ({"Status": "Failure", "ErrorDescription": args["fail"].split(",")},),
        methodresponse=True))
    sys.exit(0)
conf = json.load(open(os.environ["GPUPOOL_CONFIG"]))
xapi = xmlrpc.client.ServerProxy("http://localhost/", transport=Transport(conf["socket"]))
rec = xapi.session.get_record(session, session)
if rec["Status"] != "Success":
    raise SystemExit("session.get_record: %%r" %% rec)
rec = rec["Value"]
if "vm" in args:
    r = xapi.VM.add_to_other_config(session, args["vm"], args["key"], "x")
    if r["Status"] != "Success":
        raise SystemExit("VM.add_to_other_config: %%r" %% r)
print(xmlrpc.client.dumps(({"Status": "Success", "Value": json.dumps({
    "fn": fn, "session": session, "args": args, "argv1": sys.argv[1],
    "env": dict(os.environ), "stdin": sys.stdin.read(), "record": rec,
    "host_config": conf["host"]}, default=str)},), methodresponse=True), end="")
'''

HOOK = r'''#!/bin/sh
echo "%(name)s $* config=$GPUPOOL_CONFIG" >> "$GPUPOOL_HOOKLOG"
echo "said %(name)s"
exit %(code)s
'''


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path

    def make_connection(self, host):
        return UnixConn(self.unix_path)


class XapiError(Exception):
    def __init__(self, desc):
        super().__init__(desc)
        self.desc = desc


class StandIn:
    """One stand-in process in a scratch directory."""

    def __init__(self, state, hooks=None, plugin=True):
        self.dir = tempfile.mkdtemp(prefix="standin-")
        self.sockdir = os.path.join(self.dir, "s")
        os.mkdir(self.sockdir)
        hosts = state.setdefault("hosts", [{"uuid": H0, "name_label": "h0"},
                                           {"uuid": H1, "name_label": "h1"},
                                           {"uuid": H2, "name_label": "h2"}])
        self.hooklog = os.path.join(self.dir, "hooks.log")
        state.setdefault("plugin_env", {})["GPUPOOL_HOOKLOG"] = self.hooklog
        for h in hosts:
            name = h["name_label"]
            etc = os.path.join(self.dir, name, "xapi.d")
            os.makedirs(os.path.join(etc, "plugins"))
            conf = os.path.join(self.dir, name, "gpupool.conf")
            with open(conf, "w") as f:
                json.dump({"socket": os.path.join(self.sockdir, name + ".sock"),
                           "host": name}, f)
            h.update(config=conf, hooks_dir=etc, plugins_dir=os.path.join(etc, "plugins"))
            if plugin:
                self.write(os.path.join(etc, "plugins", "echo"),
                           PLUGIN % {"python": sys.executable})
            for script, code in (hooks or {}).get(name, []):
                self.write(os.path.join(etc, "vm-pre-start", script),
                           HOOK % {"name": script, "code": code})
        self.state_path = os.path.join(self.dir, "state.json")
        self.log = os.path.join(self.dir, "calls.jsonl")
        with open(self.state_path, "w") as f:
            json.dump(state, f)
        ready = os.path.join(self.dir, "ready")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, "--socket-dir", self.sockdir, "--state", self.state_path,
             "--log", self.log, "--ready", ready],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while time.monotonic() < t0 + 30:
            if os.path.exists(ready):
                self.started_in = time.monotonic() - t0   # seconds to every socket listening
                return
            if self.proc.poll() is not None:
                raise RuntimeError("stand-in died: %s" % self.proc.stderr.read().decode())
            time.sleep(0.01)
        raise RuntimeError("stand-in not ready")

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def raw(self, method, *params, host="h0", remote=False):
        path = os.path.join(self.sockdir, host + (".remote.sock" if remote else ".sock"))
        proxy = xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(path))
        return functools.reduce(getattr, method.split("."), proxy)(*params)

    def call(self, method, *params, **kw):
        r = self.raw(method, *params, **kw)
        if r["Status"] != "Success":
            raise XapiError(r["ErrorDescription"])
        return r["Value"]

    def error(self, method, *params, **kw):
        r = self.raw(method, *params, **kw)
        if r["Status"] != "Failure":
            raise AssertionError("%s succeeded: %r" % (method, r))
        return r["ErrorDescription"]

    def login(self, user="root", pw="", **kw):
        return self.call("session.login_with_password", user, pw, "1.0", "check", **kw)

    def out(self):
        with open(self.state_path + ".out") as f:
            return json.load(f)

    def vm(self, uuid):
        return next(v for v in self.out()["vms"] if v["uuid"] == uuid)

    def hooks(self):
        try:
            with open(self.hooklog) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []


class Base(unittest.TestCase):
    state = None
    hooks = None

    def setUp(self):
        self.x = StandIn(json.loads(json.dumps(self.state or {})), hooks=self.hooks)
        self.s = self.x.login()

    def tearDown(self):
        self.x.stop()

    def ref(self, uuid):
        return self.x.call("VM.get_by_uuid", self.s, uuid)


class CallPlugin(Base):
    """ocaml/xapi/xapi_plugins.ml call_plugin, message_forwarding.ml do_op_on."""

    def test_master_gets_caller_session(self):
        v = json.loads(self.x.call("host.call_plugin", self.s, "OpaqueRef:host-0", "echo", "hello",
                                   {"k": "v & <x>", "empty": ""}))
        self.assertEqual(v["fn"], "hello")
        self.assertEqual(v["session"], self.s)
        self.assertEqual(v["args"], {"k": "v & <x>", "empty": ""})
        self.assertFalse(v["argv1"].startswith("<?xml"))
        self.assertNotIn("\n", v["argv1"])
        self.assertIn("<value>%s</value>" % self.s, v["argv1"])
        self.assertEqual(v["stdin"], "")
        self.assertEqual(v["host_config"], "h0")
        # (LC_CTYPE: Python's own locale coercion in the fake plugin, PEP 538)
        self.assertEqual(sorted(k for k in v["env"] if k != "LC_CTYPE"),
                         ["GPUPOOL_CONFIG", "GPUPOOL_HOOKLOG", "PATH"])
        self.assertEqual(v["env"]["PATH"], "/sbin:/usr/sbin:/bin:/usr/bin")
        self.assertEqual(v["record"]["this_host"], "OpaqueRef:host-0")
        self.assertEqual(v["record"]["auth_user_name"], "root")
        self.assertTrue(v["record"]["is_local_superuser"])

    def test_slave_gets_new_session(self):
        v = json.loads(self.x.call("host.call_plugin", self.s, "OpaqueRef:host-1", "echo", "f", {}))
        self.assertNotEqual(v["session"], self.s)
        rec = v["record"]
        self.assertEqual(v["host_config"], "h1")
        self.assertEqual(rec["this_host"], "OpaqueRef:host-1")
        self.assertTrue(rec["is_local_superuser"])
        self.assertTrue(rec["pool"])
        self.assertEqual(rec["parent"], self.s)
        self.assertEqual(rec["auth_user_name"], "")
        self.assertEqual(rec["originator"], "xapi")
        # destroyed once the call returned
        self.assertEqual(self.x.error("session.get_record", v["session"], v["session"]),
                         ["SESSION_INVALID", v["session"]])
        # the same through a slave's own socket: forwarded the same way
        v = json.loads(self.x.call("host.call_plugin", self.s, "OpaqueRef:host-2", "echo", "f", {},
                                   host="h1"))
        self.assertEqual(v["record"]["this_host"], "OpaqueRef:host-2")

    def test_session_fields(self):
        s1 = self.x.login("root", host="h1")
        self.assertEqual(self.x.call("session.get_this_host", s1, s1), "OpaqueRef:host-1")
        self.assertEqual(self.x.call("session.get_parent", s1, s1), "OpaqueRef:NULL")
        self.assertEqual(self.x.call("session.get_auth_user_name", s1, s1), "root")
        self.assertTrue(self.x.call("session.get_is_local_superuser", s1, s1))
        self.x.call("session.logout", s1)
        self.assertEqual(self.x.error("VM.get_all", s1), ["SESSION_INVALID", s1])

    def test_plugin_failures(self):
        hc = functools.partial(self.x.error, "host.call_plugin", self.s, "OpaqueRef:host-1")
        self.assertEqual(hc("nope", "f", {}), ["XENAPI_MISSING_PLUGIN", "nope"])
        self.assertEqual(hc("echo", "f", {"exit": "3", "stderr": "bad"}),
                         ["XENAPI_PLUGIN_FAILURE", "non-zero exit", "partial", "bad"])
        self.assertEqual(hc("echo", "f", {"fail": "GPUPOOL_X,a,b"}), ["GPUPOOL_X", "a", "b"])
        self.assertEqual(self.x.error("host.call_plugin", self.s, "OpaqueRef:host-9", "echo", "f",
                                      {}), ["HANDLE_INVALID", "host", "OpaqueRef:host-9"])

    def test_32_concurrent(self):
        results = [None] * 32

        def one(i):
            host = "OpaqueRef:host-%d" % (i % 3)
            try:
                v = json.loads(self.x.call("host.call_plugin", self.s, host, "echo", "f",
                                           {"vm": self.vm, "key": "k%d" % i},
                                           host="h%d" % (i % 2)))
                results[i] = v["record"]["this_host"] == host
            except Exception as e:  # noqa: BLE001
                results[i] = repr(e)
        self.vm = self.ref(VM_A)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [True] * 32)
        oc = self.x.call("VM.get_other_config", self.s, self.vm)
        self.assertEqual(sorted(oc), sorted("k%d" % i for i in range(32)))

    state = {"vms": [{"uuid": VM_A, "name_label": "a"}]}


class Rbac(Base):
    """ocaml/xapi/rbac.ml, datamodel allowed_roles, xapi_session.ml."""
    state = {"users": {"op": {"password": "pw", "role": "vm-operator"},
                       "admin": {"password": "pw", "role": "vm-admin"},
                       "boss": {"password": "pw", "role": "pool-admin"},
                       "nobody": {"password": "pw"}},
             "vms": [{"uuid": VM_A, "name_label": "a"}]}

    def test_vm_operator_refused_call_plugin(self):
        op = self.x.login("op", "pw", remote=True)
        self.assertEqual(self.x.error("host.call_plugin", op, "OpaqueRef:host-0", "echo", "f", {}),
                         ["RBAC_PERMISSION_DENIED", "host.call_plugin",
                          "No permission in user session. (Roles with this permission: "
                          "pool-admin)"])
        vm = self.ref(VM_A)
        self.assertEqual(self.x.error("VM.add_to_other_config", op, vm, "x", "y")[:2],
                         ["RBAC_PERMISSION_DENIED", "vm.add_to_other_config"])
        self.x.call("VM.add_to_other_config", op, vm, "folder", "/f")  # _R_VM_OP key
        self.x.call("VM.start", op, vm, False, False)   # _R_VM_OP
        self.assertEqual(self.x.error("PCI.get_dom0_access_status", op, "OpaqueRef:pci-0")[:2],
                         ["RBAC_PERMISSION_DENIED", "pci.get_dom0_access_status"])
        boss = self.x.login("boss", "pw", remote=True)
        json.loads(self.x.call("host.call_plugin", boss, "OpaqueRef:host-0", "echo", "f", {}))

    def test_protected_key(self):
        admin = self.x.login("admin", "pw", remote=True)
        vm = self.ref(VM_A)
        self.assertEqual(self.x.error("VM.add_to_other_config", admin, vm, "pci", "0/0000:18:00.0"),
                         ["RBAC_PERMISSION_DENIED", "vm.add_to_other_config/key:pci",
                          "No permission in user session. (Roles with this permission: "
                          "pool-admin)"])
        self.x.call("VM.add_to_other_config", admin, vm, "gpupool:pci", "0/0000:18:00.0")

    def test_logins(self):
        self.assertEqual(self.x.error("session.login_with_password", "op", "no", "1.0", "c",
                                      remote=True),
                         ["SESSION_AUTHENTICATION_FAILED", "op", "Authentication failure"])
        self.assertEqual(self.x.error("session.login_with_password", "op", "pw", "1.0", "c",
                                      remote=True, host="h1"),
                         ["HOST_IS_SLAVE", "192.0.2.1"])
        self.assertEqual(self.x.error("session.login_with_password", "nobody", "pw", "1.0", "c",
                                      remote=True)[:2],
                         ["RBAC_PERMISSION_DENIED", "session.login_with_password"])
        # the local socket is pre-authenticated: anyone is local superuser
        local = self.x.login("op", "whatever")
        self.assertTrue(self.x.call("session.get_is_local_superuser", local, local))
        self.assertEqual(self.x.call("session.get_auth_user_name", local, local), "op")
        json.loads(self.x.call("host.call_plugin", local, "OpaqueRef:host-0", "echo", "f", {}))


class Pci(Base):
    """ocaml/xapi/xapi_pci.ml update_pcis, xapi_pgpu.ml update_gpus."""
    state = {"pcis": [
        {"pci_id": "0000:18:00.0", "class_id": "0302"},
        {"pci_id": "0000:18:00.1", "class_id": "0403"},
        {"pci_id": "0000:3b:00.0", "class_id": "1200"},
        {"pci_id": "0000:3b:00.1", "class_id": "0403"},
        {"pci_id": "0000:5e:00.0", "class_id": "0200"},
        {"pci_id": "0000:7a:00.0", "class_id": "0300", "host": H1},
        {"pci_id": "0000:18:00.0", "host": H1},
    ]}

    def test_class_filter(self):
        recs = self.x.call("PCI.get_all_records", self.s)
        ids = sorted((r["pci_id"], r["class_id"], r["host"]) for r in recs.values())
        self.assertEqual(ids, [("0000:18:00.0", "0302", "OpaqueRef:host-0"),
                               ("0000:18:00.0", "0302", "OpaqueRef:host-1"),
                               ("0000:18:00.1", "0403", "OpaqueRef:host-0"),
                               ("0000:5e:00.0", "0200", "OpaqueRef:host-0"),
                               ("0000:7a:00.0", "0300", "OpaqueRef:host-1")])
        gpu = next(r for r, p in recs.items() if p["pci_id"] == "0000:18:00.0"
                   and p["host"] == "OpaqueRef:host-0")
        audio = next(r for r, p in recs.items() if p["pci_id"] == "0000:18:00.1")
        self.assertEqual(recs[gpu]["dependencies"], [audio])
        self.assertEqual(sorted(d["pci_id"] for d in self.x.out()["devices_without_pci_object"]),
                         ["0000:3b:00.0", "0000:3b:00.1"])
        pgpus = self.x.call("PGPU.get_all_records", self.s)
        self.assertEqual(sorted((recs[p["PCI"]]["pci_id"], p["host"]) for p in pgpus.values()),
                         [("0000:18:00.0", "OpaqueRef:host-0"), ("0000:18:00.0", "OpaqueRef:host-1"),
                          ("0000:7a:00.0", "OpaqueRef:host-1")])
        groups = {p["GPU_group"] for p in pgpus.values()}
        self.assertEqual(len(groups), 1)   # same vendor/device: one group
        self.assertEqual(self.x.call("PCI.disable_dom0_access", self.s, gpu), "disable_on_reboot")
        self.assertEqual(self.x.call("PCI.get_dom0_access_status", self.s, gpu),
                         "disable_on_reboot")


class Start(Base):
    """xapi_vm_helpers.ml choose_host_for_vm, xapi_vm_lifecycle.ml,
    message_forwarding.ml VM.start / start_on, xenops_hooks.ml."""
    state = {
        "hosts": [{"uuid": H0, "name_label": "h0"}, {"uuid": H1, "name_label": "h1"},
                  {"uuid": H2, "name_label": "h2", "full": True}],
        "srs": [{"uuid": "cccccccc-0000-4000-8000-000000000001", "name_label": "local-h2",
                 "hosts": [H2]}],
        "vdis": [{"uuid": "dddddddd-0000-4000-8000-000000000001",
                  "sr": "cccccccc-0000-4000-8000-000000000001"}],
        "vms": [{"uuid": VM_A, "name_label": "a", "affinity": H1,
                 "other_config": {"pci": "0/0000:18:00.0"}},
                {"uuid": VM_B, "name_label": "b", "affinity": H2},
                {"uuid": VM_C, "name_label": "c", "disks": ["dddddddd-0000-4000-8000-000000000001"]},
                {"uuid": VM_D, "name_label": "d", "power_state": "Running", "resident_on": H1,
                 "other_config": {"pci": "0/0000:18:00.0"}},
                {"uuid": VM_E, "name_label": "e", "affinity": "OpaqueRef:host-0"}]}

    def test_affinity_then_elsewhere(self):
        b = self.ref(VM_B)
        self.x.call("VM.start", self.s, b, False, False)   # h2 is full: elsewhere
        self.assertEqual(self.x.vm(VM_B)["resident_on"], "OpaqueRef:host-1")
        self.assertEqual(self.x.vm(VM_B)["power_state"], "Running")
        e = self.ref(VM_E)
        self.x.call("VM.start", self.s, e, True, False)    # affinity: the master
        self.assertEqual(self.x.vm(VM_E)["resident_on"], "OpaqueRef:host-0")
        self.assertEqual(self.x.vm(VM_E)["power_state"], "Paused")
        self.x.call("VM.hard_shutdown", self.s, e)
        self.assertEqual(self.x.vm(VM_E)["resident_on"], "OpaqueRef:NULL")
        self.assertEqual(self.x.vm(VM_E)["domid"], "-1")
        self.assertEqual(self.x.error("VM.hard_shutdown", self.s, e),
                         ["VM_BAD_POWER_STATE", e, "paused, suspended, running", "halted"])
        # local disks on a full host: nowhere to go
        c = self.ref(VM_C)
        self.assertEqual(self.x.error("VM.start", self.s, c, False, False), ["NO_HOSTS_AVAILABLE"])
        self.assertEqual(self.x.error("VM.start_on", self.s, c, "OpaqueRef:host-0", False, False),
                         ["VM_REQUIRES_SR", c, "OpaqueRef:sr-0"])
        self.assertEqual(self.x.error("VM.start_on", self.s, c, "OpaqueRef:host-2", False, False),
                         ["HOST_NOT_ENOUGH_FREE_MEMORY", "8589934592", "0"])
        self.x.call("host.disable", self.s, "OpaqueRef:host-0")
        self.x.call("host.disable", self.s, "OpaqueRef:host-1")
        self.assertEqual(self.x.error("VM.start", self.s, e, False, False), ["NO_HOSTS_AVAILABLE"])

    def test_reset_of_a_device_in_use(self):
        a = self.ref(VM_A)   # affinity h1, where d holds 18:00.0
        err = self.x.error("VM.start", self.s, a, False, False)
        self.assertEqual(err[0], "INTERNAL_ERROR")
        self.assertIn("Cannot_add(0000:18:00.0", err[1])
        self.assertEqual(self.x.out()["resets"], [{"pci_id": "0000:18:00.0", "host": H1,
                                                   "held_by_vm": VM_D, "started_vm": VM_A}])
        self.assertEqual(self.x.vm(VM_A)["power_state"], "Halted")
        self.x.call("VM.start_on", self.s, a, "OpaqueRef:host-0", False, False)   # no holder there
        self.assertEqual(self.x.vm(VM_A)["resident_on"], "OpaqueRef:host-0")

    def test_blocked_start_not_start_on(self):
        e = self.ref(VM_E)
        self.x.call("VM.add_to_blocked_operations", self.s, e, "start", "gpupool: writing")
        self.assertEqual(self.x.call("VM.get_blocked_operations", self.s, e),
                         {"start": "gpupool: writing"})
        self.assertEqual(self.x.error("VM.start", self.s, e, False, False),
                         ["OPERATION_BLOCKED", e, "gpupool: writing"])
        self.x.call("VM.start_on", self.s, e, "OpaqueRef:host-1", False, False)
        self.assertEqual(self.x.vm(VM_E)["resident_on"], "OpaqueRef:host-1")
        self.assertEqual(self.x.error("VM.start_on", self.s, e, "OpaqueRef:host-1", False, False),
                         ["VM_BAD_POWER_STATE", e, "halted", "running"])
        self.assertEqual(self.x.error("VM.add_to_blocked_operations", self.s, e, "start", "x"),
                         ["MAP_DUPLICATE_KEY", "VM", "blocked_operations", e, "start"])

    def test_fields_and_maps(self):
        a = self.ref(VM_A)
        rec = self.x.call("VM.get_record", self.s, a)
        self.assertEqual(rec["affinity"], "OpaqueRef:host-1")
        self.assertEqual(rec["domain_type"], "hvm")
        self.assertEqual(rec["HVM_boot_policy"], "BIOS order")
        self.x.call("VM.set_affinity", self.s, a, "OpaqueRef:host-2")
        self.assertEqual(self.x.call("VM.get_affinity", self.s, a), "OpaqueRef:host-2")
        self.x.call("VM.add_to_VCPUs_params", self.s, a, "mask", "0,1")
        self.assertEqual(self.x.error("VM.add_to_VCPUs_params", self.s, a, "mask", "2"),
                         ["MAP_DUPLICATE_KEY", "VM", "VCPUs__params", a, "mask"])
        c = self.ref(VM_C)
        vbds = self.x.call("VBD.get_all_records", self.s)
        self.assertEqual([v["VM"] for v in vbds.values()], [c])
        vdi = list(vbds.values())[0]["VDI"]
        self.assertEqual(self.x.call("VDI.get_SR", self.s, vdi), "OpaqueRef:sr-0")
        pbds = self.x.call("PBD.get_all_records", self.s)
        self.assertEqual([p["host"] for p in pbds.values()], ["OpaqueRef:host-2"])
        self.assertEqual(self.x.call("host.get_by_uuid", self.s, H2), "OpaqueRef:host-2")


class Hooks(Base):
    """ocaml/xenopsd/lib/xenops_hooks.ml execute_vm_hook, xapi_xenops.ml."""
    state = {"vms": [{"uuid": VM_A, "name_label": "a", "affinity": H1},
                     {"uuid": VM_B, "name_label": "b", "affinity": H2}]}
    hooks = {"h1": [("20-stop", 2), ("10-fine", 0)],
             "h2": [("10-grumble", 1), ("20-fine", 0)]}

    def test_exit_2_aborts(self):
        a = self.ref(VM_A)
        self.assertEqual(self.x.error("VM.start", self.s, a, False, False),
                         ["XAPI_HOOK_FAILED", "vm-pre-start/20-stop", "none", "said 20-stop\n", "2"])
        self.assertEqual(self.x.vm(VM_A)["power_state"], "Halted")
        conf = os.path.join(self.x.dir, "h1", "gpupool.conf")
        self.assertEqual(self.x.hooks(),
                         ["10-fine -vmuuid %s -reason none config=%s" % (VM_A, conf),
                          "20-stop -vmuuid %s -reason none config=%s" % (VM_A, conf)])

    def test_exit_1_continues(self):
        b = self.ref(VM_B)
        self.x.call("VM.start", self.s, b, False, False)
        self.assertEqual(self.x.vm(VM_B)["resident_on"], "OpaqueRef:host-2")
        self.assertEqual([h.split()[0] for h in self.x.hooks()], ["10-grumble", "20-fine"])


class Clone(Base):
    """ocaml/xapi/xapi_vm_clone.ml copy_vm_record."""
    state = {"vms": [{"uuid": VM_A, "name_label": "a", "affinity": H1, "tags": ["t"],
                      "other_config": {"pci": "0/0000:18:00.0", "gpupool:pci": "0/0000:18:00.0"},
                      "VCPUs_params": {"mask": "0,1"},
                      "blocked_operations": {"start": "busy"}},
                     {"uuid": VM_B, "name_label": "tpl", "is_a_template": True,
                      "other_config": {"default_template": "true"}},
                     {"uuid": VM_C, "name_label": "on", "power_state": "Running"}]}

    def test_clone_copies(self):
        a = self.ref(VM_A)
        n = self.x.call("VM.clone", self.s, a, "copy")
        rec = self.x.call("VM.get_record", self.s, n)
        self.assertEqual(rec["name_label"], "copy")
        self.assertEqual(rec["other_config"]["pci"], "0/0000:18:00.0")
        self.assertEqual(rec["other_config"]["gpupool:pci"], "0/0000:18:00.0")
        self.assertIn("mac_seed", rec["other_config"])
        self.assertEqual(rec["VCPUs_params"], {"mask": "0,1"})
        self.assertEqual(rec["affinity"], "OpaqueRef:host-1")
        self.assertEqual(rec["tags"], ["t"])
        self.assertEqual(rec["blocked_operations"], {})
        self.assertEqual(rec["power_state"], "Halted")
        self.assertNotEqual(rec["uuid"], VM_A)
        t = self.x.call("VM.clone", self.s, self.ref(VM_B), "from-tpl")
        trec = self.x.call("VM.get_record", self.s, t)
        self.assertTrue(trec["is_a_template"])
        self.assertEqual(trec["other_config"].get("base_template_name"), "tpl")
        self.assertNotIn("default_template", trec["other_config"])
        self.assertEqual(self.x.error("VM.start", self.s, t, False, False),
                         ["VM_IS_TEMPLATE", t, "start"])
        c = self.ref(VM_C)
        self.assertEqual(self.x.error("VM.clone", self.s, c, "x"),
                         ["VM_BAD_POWER_STATE", c, "halted", "running"])


class Vgpu(Base):
    """vgpuops.ml allocate_vgpu_to_gpu, xapi_pgpu_helpers.ml capacity."""
    state = {"pcis": [{"pci_id": "0000:18:00.0"}, {"pci_id": "0000:18:00.0", "host": H1}],
             "vms": [{"uuid": VM_A, "name_label": "a", "affinity": H1},
                     {"uuid": VM_B, "name_label": "b", "power_state": "Running",
                      "resident_on": H0},
                     {"uuid": VM_C, "name_label": "c"}],
             "vgpus": [{"vm": VM_A, "pci_id": "0000:18:00.0", "host": H0},
                       {"vm": VM_B, "pci_id": "0000:18:00.0", "host": H0},
                       {"vm": VM_C, "pci_id": "0000:18:00.0", "host": H1}]}

    def test_passthrough_vgpu(self):
        recs = self.x.call("VGPU.get_all_records", self.s)
        by_vm = {r["VM"]: r for r in recs.values()}
        a, b, c = self.ref(VM_A), self.ref(VM_B), self.ref(VM_C)
        self.assertNotEqual(by_vm[b]["resident_on"], "OpaqueRef:NULL")
        self.assertEqual(by_vm[a]["resident_on"], "OpaqueRef:NULL")
        self.assertEqual(self.x.call("VM.get_VGPUs", self.s, a),
                         [r for r, v in recs.items() if v["VM"] == a])
        self.x.call("VM.start", self.s, a, False, False)
        pg = self.x.call("VGPU.get_resident_on", self.s, self.x.call("VM.get_VGPUs", self.s, a)[0])
        self.assertEqual(self.x.call("PGPU.get_host", self.s, pg), "OpaqueRef:host-1")
        # both PGPUs of the group are taken now
        self.assertEqual(self.x.error("VM.start", self.s, c, False, False), ["NO_HOSTS_AVAILABLE"])
        self.assertEqual(self.x.error("VM.start_on", self.s, c, "OpaqueRef:host-1", False, False),
                         ["VM_REQUIRES_GPU", c, by_vm[c]["GPU_group"]])


class Faults(Base):
    """stand-in fault injection: delay, fail, refuse_connections_after."""
    state = {"fail": {"VM.get_all": ["INTERNAL_ERROR", "injected"],
                      "VM.get_all_records": {"error": ["X"], "after": 1, "times": 1}},
             "refuse_connections_after": 12}

    def test_fail_and_refuse(self):
        self.assertEqual(self.x.error("VM.get_all", self.s), ["INTERNAL_ERROR", "injected"])
        self.x.call("VM.get_all_records", self.s)
        self.assertEqual(self.x.error("VM.get_all_records", self.s), ["X"])
        self.x.call("VM.get_all_records", self.s)
        with open(self.x.log) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(lines[0]["method"], "session.login_with_password")
        self.assertEqual(lines[1], {"method": "VM.get_all", "params": ["SESSION"], "host": "h0"})
        for _ in range(6):
            self.x.call("VM.get_all_records", self.s)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            self.x.call("VM.get_all_records", self.s)


POOL = "OpaqueRef:pool-0"
DENIED = "No permission in user session. (Roles with this permission: %s)"


class PoolObject(Base):
    """datamodel_pool.ml other_config (writer _R_POOL_OP, map_keys_roles
    _R_VM_OP), db_cache_impl.ml process_structured_field."""
    state = {"pool": {"uuid": "eeeeeeee-0000-4000-8000-000000000001", "name_label": "gpus",
                      "other_config": {"a": "1"}},
             "users": {"ro": {"password": "pw", "role": "read-only"},
                       "vmop": {"password": "pw", "role": "vm-operator"},
                       "pop": {"password": "pw", "role": "pool-operator"}}}

    def test_records(self):
        recs = self.x.call("pool.get_all_records", self.s)
        self.assertEqual(list(recs), [POOL])
        self.assertEqual(recs[POOL]["uuid"], "eeeeeeee-0000-4000-8000-000000000001")
        self.assertEqual(recs[POOL]["name_label"], "gpus")
        self.assertEqual(recs[POOL]["other_config"], {"a": "1"})
        self.assertEqual(recs[POOL]["master"], "OpaqueRef:host-0")
        self.assertEqual(self.x.call("pool.get_all", self.s), [POOL])
        self.assertEqual(self.x.call("pool.get_record", self.s, POOL), recs[POOL])
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), "OpaqueRef:host-0")
        self.assertEqual(self.x.call("pool.get_by_uuid", self.s,
                                     "eeeeeeee-0000-4000-8000-000000000001"), POOL)
        self.assertEqual(self.x.error("pool.get_record", self.s, "OpaqueRef:pool-1"),
                         ["HANDLE_INVALID", "pool", "OpaqueRef:pool-1"])

    def test_add_remove_duplicate(self):
        self.x.call("pool.add_to_other_config", self.s, POOL, "gpupool:x", "y")
        self.assertEqual(self.x.call("pool.get_other_config", self.s, POOL),
                         {"a": "1", "gpupool:x": "y"})
        self.assertEqual(self.x.out()["pool"]["other_config"], {"a": "1", "gpupool:x": "y"})
        self.assertEqual(self.x.error("pool.add_to_other_config", self.s, POOL, "gpupool:x", "z"),
                         ["MAP_DUPLICATE_KEY", "pool", "other_config", POOL, "gpupool:x"])
        self.assertEqual(self.x.call("pool.get_other_config", self.s, POOL)["gpupool:x"], "y")
        self.x.call("pool.remove_from_other_config", self.s, POOL, "gpupool:x")
        self.x.call("pool.remove_from_other_config", self.s, POOL, "gpupool:x")   # absent: no-op
        self.assertEqual(self.x.call("pool.get_other_config", self.s, POOL), {"a": "1"})
        self.assertEqual(self.x.out()["pool"]["other_config"], {"a": "1"})
        self.assertEqual(self.x.error("pool.add_to_other_config", self.s, "OpaqueRef:x", "k", "v"),
                         ["HANDLE_INVALID", "pool", "OpaqueRef:x"])

    def test_rbac(self):
        ro = self.x.login("ro", "pw", remote=True)
        self.assertEqual(self.x.call("pool.get_other_config", ro, POOL), {"a": "1"})
        for method, args in (("pool.add_to_other_config", ("k", "v")),
                             ("pool.remove_from_other_config", ("a",))):
            self.assertEqual(self.x.error(method, ro, POOL, *args, remote=True),
                             ["RBAC_PERMISSION_DENIED", method.lower(),
                              DENIED % "pool-admin, pool-operator"])
        self.assertEqual(self.x.error("pool.add_to_other_config", ro, POOL, "folder", "/f",
                                      remote=True),
                         ["RBAC_PERMISSION_DENIED", "pool.add_to_other_config/key:folder",
                          DENIED % "pool-admin, pool-operator, vm-power-admin, vm-admin, "
                                   "vm-operator"])
        self.assertEqual(self.x.call("pool.get_other_config", self.s, POOL), {"a": "1"})
        vmop = self.x.login("vmop", "pw", remote=True)
        self.x.call("pool.add_to_other_config", vmop, POOL, "folder", "/f", remote=True)
        self.x.call("pool.add_to_other_config", vmop, POOL, "EMPTY_FOLDERS", "/g", remote=True)
        self.x.call("pool.add_to_other_config", vmop, POOL, "XenCenter.CustomFields.c", "1",
                    remote=True)
        self.assertEqual(self.x.error("pool.remove_from_other_config", vmop, POOL, "a",
                                      remote=True)[:2],
                         ["RBAC_PERMISSION_DENIED", "pool.remove_from_other_config"])
        pop = self.x.login("pop", "pw", remote=True)
        self.x.call("pool.remove_from_other_config", pop, POOL, "a", remote=True)
        self.assertEqual(self.x.call("pool.get_other_config", self.s, POOL),
                         {"folder": "/f", "EMPTY_FOLDERS": "/g", "XenCenter.CustomFields.c": "1"})


class PciOtherConfig(Base):
    """datamodel.ml module PCI: other_config RW, _R_POOL_OP, no key roles."""
    state = {"pcis": [{"pci_id": "0000:18:00.0", "other_config": {"k": "v"}},
                      {"pci_id": "0000:3b:00.0", "class_id": "0200"}],
             "users": {"admin": {"password": "pw", "role": "vm-admin"},
                       "pop": {"password": "pw", "role": "pool-operator"}}}

    def test_add_remove(self):
        recs = self.x.call("PCI.get_all_records", self.s)
        gpu = next(r for r, p in recs.items() if p["pci_id"] == "0000:18:00.0")
        nic = next(r for r, p in recs.items() if p["pci_id"] == "0000:3b:00.0")
        self.assertEqual(recs[gpu]["other_config"], {"k": "v"})
        self.assertEqual(recs[nic]["other_config"], {})
        self.x.call("PCI.add_to_other_config", self.s, nic, "gpupool:owner", "x")
        self.assertEqual(self.x.call("PCI.get_other_config", self.s, nic), {"gpupool:owner": "x"})
        self.assertEqual(self.x.call("PCI.get_other_config", self.s, gpu), {"k": "v"})
        self.assertEqual(self.x.error("PCI.add_to_other_config", self.s, gpu, "k", "w"),
                         ["MAP_DUPLICATE_KEY", "PCI", "other_config", gpu, "k"])
        self.x.call("PCI.remove_from_other_config", self.s, gpu, "k")
        self.x.call("PCI.remove_from_other_config", self.s, gpu, "k")   # absent: no-op
        out = {p["ref"]: p["other_config"] for p in self.x.out()["pcis"]}
        self.assertEqual(out, {gpu: {}, nic: {"gpupool:owner": "x"}})
        self.assertEqual(self.x.error("PCI.remove_from_other_config", self.s, "OpaqueRef:pci-9",
                                      "k"), ["HANDLE_INVALID", "PCI", "OpaqueRef:pci-9"])
        admin = self.x.login("admin", "pw", remote=True)
        self.assertEqual(self.x.error("PCI.add_to_other_config", admin, gpu, "folder", "f",
                                      remote=True),
                         ["RBAC_PERMISSION_DENIED", "pci.add_to_other_config",
                          DENIED % "pool-admin, pool-operator"])
        pop = self.x.login("pop", "pw", remote=True)
        self.x.call("PCI.add_to_other_config", pop, gpu, "folder", "f", remote=True)
        self.x.call("PCI.remove_from_other_config", pop, nic, "gpupool:owner", remote=True)
        self.assertEqual(self.x.call("PCI.get_other_config", self.s, gpu), {"folder": "f"})
        self.assertEqual(self.x.call("PCI.get_other_config", self.s, nic), {})


class MasterChange(Base):
    """message_forwarding.ml Pool.designate_new_master / do_op_on,
    xapi_pool.ml designate_new_master, xapi_pool_transition.ml."""
    state = {"users": {"boss": {"password": "pw", "role": "pool-admin"},
                       "ro": {"password": "pw", "role": "read-only"}},
             "vms": [{"uuid": VM_A, "name_label": "a"},
                     {"uuid": VM_B, "name_label": "b", "power_state": "Running"}]}

    def test_designate_moves_the_master(self):
        h0, h1 = "OpaqueRef:host-0", "OpaqueRef:host-1"
        self.assertEqual(self.x.call("pool.designate_new_master", self.s, h1), "")
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), h1)
        # xapi_sync.ml sync_host stamped the new master (string_of_float)
        self.assertRegex(self.x.call("host.get_other_config", self.s, h1)["last_blob_sync_time"],
                         r"^\d{10}\.\d*$")
        self.assertEqual(self.x.call("host.get_other_config", self.s, h0), {})
        self.assertEqual(self.x.call("pool.get_record", self.s, POOL)["master"], h1)
        self.assertEqual(self.x.out()["pool"]["master"], h1)
        # the old master is a slave now: call_plugin to it is forwarded with
        # a new session; on the new master the caller's own
        v = json.loads(self.x.call("host.call_plugin", self.s, h0, "echo", "f", {}))
        self.assertNotEqual(v["session"], self.s)
        self.assertEqual(v["record"]["this_host"], h0)
        self.assertEqual(v["record"]["parent"], self.s)
        self.assertEqual(v["record"]["originator"], "xapi")
        self.assertTrue(v["record"]["pool"])
        self.assertEqual(self.x.error("session.get_record", v["session"], v["session"]),
                         ["SESSION_INVALID", v["session"]])
        v = json.loads(self.x.call("host.call_plugin", self.s, h1, "echo", "f", {}))
        self.assertEqual(v["session"], self.s)
        self.assertEqual(v["host_config"], "h1")
        # logins on the HTTPS ports: the old master names the new one
        self.assertEqual(self.x.error("session.login_with_password", "boss", "pw", "1.0", "c",
                                      remote=True, host="h0"),
                         ["HOST_IS_SLAVE", "192.0.2.2"])
        boss = self.x.login("boss", "pw", remote=True, host="h1")
        self.assertEqual(self.x.call("session.get_this_host", boss, boss), h1)
        # placement: slaves first, so h0 now
        a = self.ref(VM_A)
        self.x.call("VM.start", self.s, a, False, False)
        self.assertEqual(self.x.vm(VM_A)["resident_on"], h0)
        # a Running VM loaded without resident_on stays where load put it
        self.assertEqual(self.x.vm(VM_B)["resident_on"], h0)
        # already the master: nothing happens; back to h0
        self.x.call("pool.designate_new_master", boss, h1, host="h1", remote=True)
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), h1)
        self.x.call("pool.designate_new_master", boss, h0, host="h1", remote=True)
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), h0)
        self.assertEqual(self.x.error("session.login_with_password", "boss", "pw", "1.0", "c",
                                      remote=True, host="h1"),
                         ["HOST_IS_SLAVE", "192.0.2.1"])
        v = json.loads(self.x.call("host.call_plugin", self.s, h1, "echo", "f", {}))
        self.assertNotEqual(v["session"], self.s)

    def test_preconditions(self):
        h1, h2 = "OpaqueRef:host-1", "OpaqueRef:host-2"
        ro = self.x.login("ro", "pw", remote=True)
        self.assertEqual(self.x.error("pool.designate_new_master", ro, h1, remote=True),
                         ["RBAC_PERMISSION_DENIED", "pool.designate_new_master",
                          DENIED % "pool-admin, pool-operator"])
        self.assertEqual(self.x.error("pool.designate_new_master", self.s, "OpaqueRef:host-7"),
                         ["HANDLE_INVALID", "host", "OpaqueRef:host-7"])
        # h2 goes down: nothing reaches it, and a handover needs every host
        self.assertEqual(self.x.call("standin.set_host_live", "h2", False), "")
        self.assertFalse(next(h for h in self.x.out()["hosts"] if h["ref"] == h2)["live"])
        self.assertEqual(self.x.error("pool.designate_new_master", self.s, h2),
                         ["HOST_OFFLINE", h2])
        self.assertEqual(self.x.call("host.get_other_config", self.s, h2), {})   # no blob sync
        self.assertEqual(self.x.error("host.call_plugin", self.s, h2, "echo", "f", {}),
                         ["HOST_OFFLINE", h2])
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            self.x.login("root", host="h2")
        self.assertEqual(self.x.error("pool.designate_new_master", self.s, h1),
                         ["INTERNAL_ERROR", "Connection failed: no route to host."])
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), "OpaqueRef:host-0")
        # back up; a host without local storage is not blob-synced
        self.x.call("standin.set_host_live", h2, True, host="h1")
        self.x.login("root", host="h2")
        self.x.call("host.add_to_other_config", self.s, h2, "no_local_storage", "true")
        self.x.call("pool.designate_new_master", self.s, h2)
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), h2)
        self.assertEqual(self.x.call("host.get_other_config", self.s, h2),
                         {"no_local_storage": "true"})


class MasterChangeHa(Base):
    """xapi_pool.ml designate_new_master: HA_IS_ENABLED, unless already master."""
    state = {"pool": {"ha_enabled": True}}

    def test_ha_refuses(self):
        self.assertEqual(self.x.error("pool.designate_new_master", self.s, "OpaqueRef:host-1"),
                         ["HA_IS_ENABLED"])
        # the blob sync ran before the call was forwarded and refused
        self.assertIn("last_blob_sync_time",
                      self.x.call("host.get_other_config", self.s, "OpaqueRef:host-1"))
        self.assertEqual(self.x.call("pool.designate_new_master", self.s, "OpaqueRef:host-0"), "")
        self.assertEqual(self.x.call("pool.get_master", self.s, POOL), "OpaqueRef:host-0")
        self.assertTrue(self.x.call("pool.get_ha_enabled", self.s, POOL))


class Scale(unittest.TestCase):
    """stand-in size: 64 hosts, each with a ~6 KB other_config value and 8
    GPUs each with its audio function (1024 PCI objects), start and answer
    get_all_records in bounded time (printed)."""
    HOSTS = 64
    START_BOUND = 10.0   # seconds; ~0.5 s expected
    CALL_BOUND = 5.0     # seconds per get_all_records round trip; ~0.2 s expected

    def test_64_hosts(self):
        hosts, pcis = [], []
        for i in range(self.HOSTS):
            hosts.append({"uuid": "bbbbbbbb-0000-4000-9000-%012d" % i, "name_label": "h%d" % i,
                          "other_config": {"gpupool:state": ("%d:" % i) + "x" * 6000}})
            for g in range(8):
                bus = 0x18 + 0x10 * g
                pcis += [{"pci_id": "0000:%02x:00.0" % bus, "class_id": "0302", "host": "h%d" % i},
                         {"pci_id": "0000:%02x:00.1" % bus, "class_id": "0403", "host": "h%d" % i}]
        x = StandIn({"hosts": hosts, "pcis": pcis}, plugin=False)
        self.addCleanup(x.stop)
        s = x.login()
        timings = {}

        def timed(method):
            t = time.monotonic()
            v = x.call(method, s)
            timings[method] = time.monotonic() - t
            return v
        hrecs = timed("host.get_all_records")
        precs = timed("PCI.get_all_records")
        vrecs = timed("VM.get_all_records")
        pool = timed("pool.get_all_records")
        sys.stdout.write("\n  %d hosts, %d PCI objects: startup %.3f s; %s\n" % (
            len(hrecs), len(precs), x.started_in,
            ", ".join("%s %.0f ms" % (m, t * 1000) for m, t in timings.items())))
        self.assertEqual(len(hrecs), self.HOSTS)
        self.assertEqual(len(precs), 16 * self.HOSTS)
        self.assertEqual(vrecs, {})
        self.assertEqual(list(pool), [POOL])
        for ref, h in hrecs.items():
            i = int(h["name_label"][1:])
            self.assertEqual(ref, "OpaqueRef:host-%d" % i)
            self.assertEqual(h["other_config"]["gpupool:state"], ("%d:" % i) + "x" * 6000)
            self.assertEqual(sorted(precs[p]["pci_id"] for p in h["PCIs"]),
                             sorted(p["pci_id"] for p in pcis[16 * i:16 * i + 16]))
            self.assertTrue(all(precs[p]["host"] == ref for p in h["PCIs"]))
        for ref, p in precs.items():
            if p["class_id"] == "0302":
                self.assertEqual([precs[d]["pci_id"] for d in p["dependencies"]],
                                 [p["pci_id"][:-1] + "1"])
        self.assertLess(x.started_in, self.START_BOUND)
        for m, t in timings.items():
            self.assertLess(t, self.CALL_BOUND, m)


class Summary(unittest.TextTestResult):
    pass


def main():
    loader = unittest.defaultTestLoader
    if len(sys.argv) > 1:
        suite = loader.loadTestsFromNames(sys.argv[1:], sys.modules[__name__])
    else:
        suite = loader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Summary)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("[  PASSED  ] %d test(s)." % passed)
    if result.skipped:
        print("[  SKIPPED ] %d test(s)." % len(result.skipped))
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % failed)
        for t, _ in result.failures + result.errors:
            print("[  FAILED  ] %s" % t.id())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
