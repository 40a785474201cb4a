#!/usr/bin/env python3
"""The Python equivalent of the gpupool plugin's list_gpus, for `make bench`.

Written the way XenAPIPlugin plugins are (xmlrpc.client + sqlite3 + json):
decode argv[1] with xmlrpc.client.loads, read /etc/gpupool/gpupool.conf (or
$GPUPOOL_CONFIG), read the host's GPUs from the hwloc XML (the embedded
dual-socket 8-GPU host for topology = embedded) and their pool and
assignment from gpupool's sqlite3 database, answer the same JSON in the
XenAPIPlugin reply shape.  It does what the C plugin does for this call, no
more (no XenAPI session is opened: list_gpus does not need one).
"""
import json
import os
import sqlite3
import sys
import xml.etree.ElementTree as ET
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
EMBEDDED = os.path.join(HERE, "..", "..", "libgpupool", "data", "dual-socket-8gpu.xml")
GPU_CLASSES = {"0300", "0302", "0380", "1200"}


def reply(status, key, value):
    return xmlrpc.client.dumps(({"Status": status, key: value},), methodresponse=True)


def config():
    cfg = {"db": "/var/lib/gpupool/state.db", "topology": None}
    path = os.environ.get("GPUPOOL_CONFIG", "/etc/gpupool/gpupool.conf")
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = (s.strip() for s in line.split("=", 1))
                    cfg[k] = v.strip("\"'")
    except FileNotFoundError:
        pass
    return cfg


def node_of(obj, parents):
    for p in reversed(parents):
        ns = p.get("nodeset")
        if ns and p.get("type") in ("Package", "NUMANode", "Group"):
            mask = int(ns.replace(",", ""), 16)
            if mask and mask & (mask - 1) == 0:
                return mask.bit_length() - 1
    return None


def gpus_from_hwloc(path):
    out = []
    def walk(el, parents):
        if el.get("type") == "PCIDev":
            t = el.get("pci_type", "").split()
            if len(t) >= 3 and t[0] in GPU_CLASSES:
                ven, dev = t[1].strip("[]").split(":")
                sv, sd = t[2].strip("[]").split(":")
                info = {i.get("name"): i.get("value") for i in el.findall("info")}
                out.append({
                    "pci_id": el.get("pci_busid"), "vendor_id": ven, "device_id": dev,
                    "subsystem_vendor_id": sv, "subsystem_device_id": sd,
                    "vendor_name": info.get("PCIVendor"), "device_name": info.get("PCIDevice"),
                    "class": t[0], "numa_node": node_of(el, parents), "source": "hwloc",
                })
        for c in el.findall("object"):
            walk(c, parents + [el])
    walk(ET.parse(path).getroot(), [])
    return sorted(out, key=lambda g: g["pci_id"])


def list_gpus(session, args):
    cfg = config()
    topo = cfg.get("topology")
    gpus = gpus_from_hwloc(EMBEDDED if topo in (None, "embedded") else topo)
    db = sqlite3.connect("file:%s?mode=ro" % cfg["db"], uri=True)
    pools = {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT m.pci_id, p.uuid, p.name_label FROM pool_members m JOIN pools p"
        " ON p.uuid = m.pool_uuid")}
    held = {r[0]: r[1] for r in db.execute("SELECT pci_id, vm_uuid FROM assignments")}
    db.close()
    for g in gpus:
        p = pools.get(g["pci_id"])
        g["pool_uuid"] = p[0] if p else None
        g["pool_name_label"] = p[1] if p else None
        g["vm_uuid"] = held.get(g["pci_id"])
    return json.dumps({"gpus": gpus})


def main():
    params, fn = xmlrpc.client.loads(sys.argv[1])
    table = {"list_gpus": list_gpus}
    if fn not in table:
        print(reply("Failure", "ErrorDescription", ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", fn]))
        return
    try:
        print(reply("Success", "Value", table[fn](params[0], params[1])))
    except Exception as e:
        print(reply("Failure", "ErrorDescription",
                    ["XENAPI_PLUGIN_FAILURE", fn, type(e).__name__, str(e)]))


if __name__ == "__main__":
    main()
