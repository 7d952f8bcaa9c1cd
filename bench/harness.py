#!/usr/bin/env python3
"""Benchmark harness: Haul against restic and borg, plus physical references (stdlib only).

Run it through scripts/bench, which builds haul first:

    scripts/bench --dataset mixed --size 200M --tools haul,restic,borg
    python3 bench/harness.py report bench/raw/RUN      # re-render a run's tables

Every measured step runs under `/usr/bin/time -v` on a warm page cache (the step's inputs are read with `cat` just
before) after a `sync`, and writes one JSON line to bench/raw/RUN/steps.jsonl: wall seconds, user and system CPU
seconds, peak RSS, throughput of source data, repository size, the time of a `sync` right after the step, and the
CPU seconds every other process on the machine used meanwhile (/proc/stat busy time minus the step's own CPU), so a
disturbed step is visible.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import datagen  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-passphrase-not-secret"


# ---------------------------------------------------------------------------------------------------------- measuring

def cpu_busy_seconds():
    """(busy, user) CPU seconds of the whole machine since boot: busy is every state but idle and iowait."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK, (user + nice) / CLK_TCK


def du_bytes(path):
    if not os.path.exists(path):
        return 0
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def warm(paths):
    """Reads every file under `paths` so the step starts on a warm page cache."""
    for p in paths:
        if os.path.exists(p):
            subprocess.run(f"find {shlex.quote(p)} -type f -print0 | xargs -0 -r cat > /dev/null", shell=True,
                           check=False)


def timed_sync():
    t = time.monotonic()
    subprocess.run(["sync"], check=True)
    return time.monotonic() - t


def parse_time_v(path):
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("User time (seconds):"):
                out["user_s"] = float(line.split(":")[-1])
            elif line.startswith("System time (seconds):"):
                out["sys_s"] = float(line.split(":")[-1])
            elif line.startswith("Maximum resident set size (kbytes):"):
                out["maxrss_kib"] = int(line.split(":")[-1])
            elif line.startswith("Exit status:"):
                out["time_exit"] = int(line.split(":")[-1])
            elif line.startswith("Major (requiring I/O) page faults:"):
                out["major_faults"] = int(line.split(":")[-1])
            elif line.startswith("File system outputs:"):
                out["fs_outputs"] = int(line.split(":")[-1])
    return out


class Recorder:
    def __init__(self, run_dir, env):
        self.run_dir = run_dir
        self.logs = os.path.join(run_dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.steps_path = os.path.join(run_dir, "steps.jsonl")
        self.env = env
        self.n = 0

    def write(self, rec):
        with open(self.steps_path, "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")

    def run(self, tool, step, cmd, *, cwd, warm_paths=(), source_bytes=None, repo=None, shell=False,
            record=True, check=True):
        subprocess.run(["sync"], check=True)
        warm(warm_paths)
        self.n += 1
        tag = f"{self.n:03d}-{tool}-{step}".replace(" ", "_")
        tfile = os.path.join(self.logs, tag + ".time")
        ofile = os.path.join(self.logs, tag + ".out")
        argv = ["/usr/bin/time", "-v", "-o", tfile] + (["sh", "-c", cmd] if shell else list(cmd))
        busy0 = cpu_busy_seconds()
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        with open(ofile, "wb") as out:
            proc = subprocess.run(argv, cwd=cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wall = time.monotonic() - t0
        busy1 = cpu_busy_seconds()
        sync_s = timed_sync()
        rec = {"tool": tool, "step": step, "cmd": cmd if shell else " ".join(cmd), "exit": proc.returncode,
               "wall_s": round(wall, 3), "sync_after_s": round(sync_s, 3), "log": os.path.relpath(ofile, self.run_dir),
               "loadavg_before": load0}
        rec.update(parse_time_v(tfile))
        cpu = rec.get("user_s", 0) + rec.get("sys_s", 0)
        rec["cpu_s"] = round(cpu, 2)
        rec["other_cpu_s"] = round(max(0.0, busy1[0] - busy0[0] - cpu), 2)
        # split: user-mode CPU of other processes (builds, ...) vs kernel time (writeback, reclaim, interrupts)
        rec["other_user_s"] = round(max(0.0, busy1[1] - busy0[1] - rec.get("user_s", 0)), 2)
        rec["other_cores"] = round(rec["other_cpu_s"] / wall, 2) if wall > 0 else 0
        if source_bytes is not None:
            rec["source_bytes"] = source_bytes
            rec["mb_per_s"] = round(source_bytes / 1e6 / wall, 1) if wall > 0 else None
        if repo is not None:
            rec["repo_bytes"] = du_bytes(repo)
        if record:
            self.write(rec)
        status = "ok" if proc.returncode == 0 else f"EXIT {proc.returncode}"
        print(f"  [{time.strftime('%H:%M:%S')}] {tool:8s} {step:22s} {wall:8.2f} s  cpu {cpu:7.2f} s  rss {rec.get('maxrss_kib', 0) / 1024:7.1f} MiB"
              f"  other-cpu {rec['other_cpu_s']:6.2f} s  {status}", flush=True)
        if check and proc.returncode != 0:
            with open(ofile, errors="replace") as f:
                tail = f.read()[-3000:]
            raise SystemExit(f"step failed: {tool} {step}: exit {proc.returncode}\n{tail}")
        return rec


# -------------------------------------------------------------------------------------------------------------- tools

class Tool:
    name = ""

    def __init__(self, repo):
        self.repo = repo

    def init(self):
        raise NotImplementedError

    def open_only(self):
        """A command that opens the repository (derives the key) and does almost nothing else."""
        raise NotImplementedError

    def backup(self, label, path):
        raise NotImplementedError

    def restore(self, label, target):
        raise NotImplementedError

    def check(self):
        raise NotImplementedError

    def version(self):
        raise NotImplementedError


class Haul(Tool):
    name = "haul"
    binary = "haul"

    def init(self):
        return [self.binary, "init", "--repo", self.repo]

    def open_only(self):
        return [self.binary, "snapshots", "--repo", self.repo, "--json"]

    def backup(self, label, path):
        return [self.binary, "backup", "--repo", self.repo, path, "--json"]

    def restore(self, label, target):
        return [self.binary, "restore", "--repo", self.repo, "latest", "--target", target]

    def check(self):
        return [self.binary, "check", "--repo", self.repo, "--read-data"]

    def version(self):
        try:
            commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip()
        except OSError:
            commit = "?"
        return f"haul (git {commit}, release build {self.binary})"


class Restic(Tool):
    name = "restic"

    def init(self):
        return ["restic", "-r", self.repo, "init"]

    def open_only(self):
        return ["restic", "-r", self.repo, "snapshots", "--json"]

    def backup(self, label, path):
        return ["restic", "-r", self.repo, "backup", "-q", path]

    def restore(self, label, target):
        return ["restic", "-r", self.repo, "restore", "latest", "--target", target]

    def check(self):
        return ["restic", "-r", self.repo, "check", "--read-data"]

    def version(self):
        return subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()


class Borg(Tool):
    name = "borg"

    def init(self):
        return ["borg", "init", "-e", "repokey", self.repo]

    def open_only(self):
        return ["borg", "list", self.repo]

    def backup(self, label, path):
        return ["borg", "create", "--compression", "zstd,3", f"{self.repo}::{label}", path]

    def restore(self, label, target):
        return ["borg", "extract", f"{self.repo}::{label}"]  # run with cwd=target

    def check(self):
        return ["borg", "check", "--verify-data", self.repo]

    def version(self):
        return subprocess.run(["borg", "--version"], capture_output=True, text=True).stdout.strip()


TOOLS = {"haul": Haul, "restic": Restic, "borg": Borg}


# ---------------------------------------------------------------------------------------------------------- the run

def machine_info(workdir):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {"cpu_model": model, "cores": os.cpu_count(), "mem_mib": mem, "kernel": platform.release(),
            "os": platform.freedesktop_os_release().get("PRETTY_NAME", "?") if hasattr(platform, "freedesktop_os_release") else "?",
            "workdir_fs": fs_type(workdir)}


class BenchFileSystem:
    """A fresh ext4 for one run: a sparse image under the work directory, made with mkfs.ext4's defaults (as on a
    Debian machine: with a journal), attached with `losetup --direct-io=on` (no second copy in the page cache) and
    mounted. Every tree and repository of the run lives on it, so no step inherits the state an earlier run or step
    left: on ext4 without a journal (this VM's root file system) every new inode is checked against the inodes deleted
    in the last minutes, and a restore after a deleted tree spent up to 4x the CPU in that check (bench/README.md)."""

    def __init__(self, workdir, name, size_bytes, inode_ratio=None):
        self.image = os.path.join(workdir, name + ".img")
        self.mount = os.path.join(workdir, name)
        self.size_bytes = size_bytes
        self.inode_ratio = inode_ratio
        self.device = None
        self.direct_io = False

    def __enter__(self):
        if os.geteuid() != 0:
            raise SystemExit("error: --fs image makes a file system (mkfs.ext4, losetup, mount) and needs root; "
                             "run as root, or pass --fs workdir to work in --workdir's own file system")
        self.cleanup()
        # ext4 does not give freed blocks back to the image (no discard), so it grows to the run's high-water mark:
        # about 7x the dataset (base, data, three repositories, three restores). Refuse to start where that would fill the disk under the run.
        free = shutil.disk_usage(os.path.dirname(self.image)).free
        if free < self.size_bytes * 3 // 4:
            raise SystemExit(f"error: {os.path.dirname(self.image)} has {free >> 30} GiB free; a run on its own file "
                             f"system needs up to {self.size_bytes * 3 // 4 >> 30} GiB there (--workdir elsewhere)")
        # A SIGTERM (a CI timeout) unwinds like Ctrl-C, so the image is unmounted and deleted.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            with open(self.image, "wb") as f:
                f.truncate(self.size_bytes)
            mkfs = ["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"]
            if self.inode_ratio:
                mkfs += ["-i", str(self.inode_ratio)]
            subprocess.run(mkfs + [self.image], check=True)
            self.device = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", self.image],
                                         capture_output=True, text=True, check=True).stdout.strip()
            dio = subprocess.run(["losetup", "--noheadings", "-O", "DIO", self.device], capture_output=True,
                                 text=True).stdout.strip()
            self.direct_io = dio == "1"
            os.makedirs(self.mount, exist_ok=True)
            subprocess.run(["mount", self.device, self.mount], check=True)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        """Unmounts, detaches and deletes this run's file system, or one a killed run left behind."""
        if os.path.ismount(self.mount):
            if subprocess.run(["umount", self.mount]).returncode != 0:
                print(f"warning: {self.mount} is busy; detaching it lazily (umount -l)", file=sys.stderr)
                subprocess.run(["umount", "-l", self.mount], check=False)
        if os.path.isdir(self.mount) and not os.path.ismount(self.mount) and not os.listdir(self.mount):
            os.rmdir(self.mount)
        if os.path.exists(self.image):
            out = subprocess.run(["losetup", "-j", self.image], capture_output=True, text=True).stdout
            for line in out.splitlines():
                subprocess.run(["losetup", "-d", line.split(":", 1)[0]], check=False)
            os.remove(self.image)

    def describe(self, workdir):
        ratio = f", -i {self.inode_ratio}" if self.inode_ratio else ""
        loop = "a direct-io loop image" if self.direct_io else "a loop image (direct-io refused)"
        return f"fresh ext4 (mkfs.ext4 defaults{ratio}, journal) on {loop} in {workdir} ({fs_type(workdir)})"


def fs_type(path):
    out = subprocess.run(["df", "-T", path], capture_output=True, text=True).stdout.splitlines()
    fields = out[-1].split() if out else []
    return fields[1] if len(fields) > 1 else "?"


def dataset_dir(work, dataset, size, seed):
    base = os.path.join(work, f"base-{dataset}-{size}-s{seed}")
    meta = base + ".json"
    if os.path.exists(meta) and os.path.isdir(base):
        with open(meta) as f:
            info = json.load(f)
        print(f"dataset: reusing {base} ({info['files']} files, {info['bytes'] / 1e6:.1f} MB)")
        return base, info
    shutil.rmtree(base, ignore_errors=True)
    print(f"dataset: generating {dataset} {size} seed {seed} into {base} ...", flush=True)
    t = time.monotonic()
    out = subprocess.run([sys.executable, os.path.join(HERE, "datagen.py"), "generate", "--dataset", dataset,
                          "--size", size, "--seed", str(seed), base], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    info["generate_s"] = round(time.monotonic() - t, 1)
    with open(meta, "w") as f:
        json.dump(info, f)
    print(f"dataset: {info['files']} files, {info['bytes'] / 1e6:.1f} MB in {info['generate_s']} s")
    return base, info


def tree_bytes(path):
    return datagen.tree_bytes(path)


def find_restored_root(target, data):
    for cand in (os.path.join(target, os.path.basename(data)), os.path.join(target, data.lstrip("/"))):
        if os.path.isdir(cand):
            return cand
    return None


def verify_restore(data, target):
    root = find_restored_root(target, data)
    if root is None:
        return False, f"restored tree not found under {target}"
    p = subprocess.run(["diff", "-r", "--no-dereference", data, root], capture_output=True, text=True)
    if p.returncode != 0:
        return False, (p.stdout + p.stderr)[:2000]
    return True, root


# Writes one byte into each 4 KiB page of 1 GiB of fresh anonymous memory: the cost of first-touch page faults, which
# this VM's host makes 5-10x dearer at times (every allocation of new memory pays it: scrypt, buffers, page cache).
TOUCH_MEMORY = ("import mmap; m = mmap.mmap(-1, 1 << 30)\n"
                "for o in range(0, 1 << 30, 4096): m[o] = 1")


def run_references(rec, work, base, nbytes):
    print("references:")
    q = shlex.quote
    rec.run("ref", "touch 1 GiB of new memory", [sys.executable, "-c", TOUCH_MEMORY], cwd=work,
            source_bytes=1 << 30)
    rec.run("ref", "read all (cat)", f"find {q(base)} -type f -print0 | xargs -0 cat > /dev/null", cwd=work,
            warm_paths=[base], source_bytes=nbytes, shell=True)
    rec.run("ref", "sha256sum", f"find {q(base)} -type f -print0 | xargs -0 sha256sum > /dev/null", cwd=work,
            warm_paths=[base], source_bytes=nbytes, shell=True)
    rec.run("ref", "tar | zstd -3 -T0", f"tar -cf - -C {q(os.path.dirname(base))} {q(os.path.basename(base))} "
            f"| zstd -3 -T0 -q > /dev/null", cwd=work, warm_paths=[base], source_bytes=nbytes, shell=True)
    # The same stream written to a file on the bench file system and synced: durable output, as a backup's packs are
    # when it returns (context for the target above, which compares with the stream thrown away).
    stream = os.path.join(work, "tar.zst")
    rec.run("ref", "tar | zstd -3 -T0 > file + sync", f"tar -cf - -C {q(os.path.dirname(base))} "
            f"{q(os.path.basename(base))} | zstd -3 -T0 -q > {q(stream)} && sync", cwd=work, warm_paths=[base],
            source_bytes=nbytes, shell=True)
    if os.path.exists(stream):
        os.remove(stream)
    copy = os.path.join(work, "cp-copy")
    shutil.rmtree(copy, ignore_errors=True)
    rec.run("ref", "cp -a + sync", f"cp -a {q(base)} {q(copy)} && sync", cwd=work, warm_paths=[base],
            source_bytes=nbytes, shell=True)
    shutil.rmtree(copy, ignore_errors=True)


def run_tools(rec, names, work, base, mutate_seed, cleanup=True):
    """All tools on one copy of the dataset, step by step (each tool on its own fresh repository), so the tree is
    copied and mutated once, and a disturbance from other processes is spread over the tools rather than hitting
    one tool's whole run."""
    data = os.path.join(work, "data")
    tools = [TOOLS[n](os.path.join(work, f"repo-{n}")) for n in names]
    for p in [data, os.path.join(work, "restic-cache"), os.path.join(work, "borg-base")] + [t.repo for t in tools]:
        shutil.rmtree(p, ignore_errors=True)
    subprocess.run(["cp", "-a", base, data], check=True)
    subprocess.run(["sync"], check=True)
    nbytes = tree_bytes(data)
    print("init and key derivation:")
    for t in tools:
        rec.run(t.name, "init", t.init(), cwd=work, repo=t.repo)
        # opening cost (key derivation): median of three opens of the empty repository
        opens = [rec.run(t.name, "open (KDF)", t.open_only(), cwd=work, record=False)["wall_s"] for _ in range(3)]
        rec.write({"tool": t.name, "step": "open (KDF)", "wall_s": round(statistics.median(opens), 3),
                   "samples": opens})
    before_incr, after_initial = {}, {}
    for step, label in (("initial backup", "initial"), ("no-change backup", "nochange")):
        print(f"{step}:")
        for t in tools:
            r = rec.run(t.name, step, t.backup(label, "data"), cwd=work, warm_paths=[data], source_bytes=nbytes,
                        repo=t.repo)
            (after_initial if label == "initial" else before_incr)[t.name] = r["repo_bytes"]
    out = subprocess.run([sys.executable, os.path.join(HERE, "datagen.py"), "mutate", "--seed", str(mutate_seed),
                          data], capture_output=True, text=True, check=True)
    rec.write({"tool": "-", "step": "mutation", "summary": json.loads(out.stdout)})
    subprocess.run(["sync"], check=True)
    nbytes2 = tree_bytes(data)
    print("incremental backup:")
    for t in tools:
        r = rec.run(t.name, "incremental backup", t.backup("incremental", "data"), cwd=work, warm_paths=[data],
                    source_bytes=nbytes2, repo=t.repo)
        rec.write({"tool": t.name, "step": "repo growth", "initial_repo_bytes": after_initial[t.name],
                   "incremental_growth_bytes": r["repo_bytes"] - before_incr[t.name]})
    print("restore:")
    restores = []
    for t in tools:
        restore = os.path.join(work, f"restore-{t.name}")
        shutil.rmtree(restore, ignore_errors=True)
        os.makedirs(restore)
        rec.run(t.name, "restore", t.restore("incremental", restore), cwd=restore if t.name == "borg" else work,
                warm_paths=[t.repo], source_bytes=nbytes2)
        ok, detail = verify_restore(data, restore)
        rec.write({"tool": t.name, "step": "restore verify", "equal": ok,
                   "detail": "diff -r clean" if ok else detail})
        print(f"  {t.name:8s} restore verified: {'equal (diff -r)' if ok else 'DIFFERENT: ' + detail[:300]}")
        restores.append(restore)  # deleted at the end: deleting a big tree is slow here
    print("check:")
    for t in tools:
        rec.run(t.name, "check --read-data", t.check(), cwd=work, warm_paths=[t.repo], source_bytes=nbytes2,
                repo=t.repo)
    if cleanup:  # not on a run's own file system, which goes as a whole
        for p in [data] + restores + [t.repo for t in tools]:
            shutil.rmtree(p, ignore_errors=True)


def main_run(args):
    tools = [x.strip() for x in args.tools.split(",") if x.strip()]
    for x in tools:
        if x not in TOOLS:
            raise SystemExit(f"unknown tool {x}")
    Haul.binary = args.haul
    base, info = dataset_dir(args.workdir, args.dataset, args.size, args.seed)
    name = f"{args.dataset}-{args.size}"
    if args.fs == "workdir":
        work = os.path.join(args.workdir, name)
        os.makedirs(work, exist_ok=True)
        run_in(args, tools, base, info, work, fs_type(work))
        return
    # Every tree of the run at once (base, data, cp -a copy, three repositories, three restores) fits in 12x the
    # dataset; the image is sparse, so only what is written takes space.
    fs = BenchFileSystem(args.workdir, f"fs-{name}", max(12 << 30, 12 * info["bytes"]),
                         inode_ratio=4096 if args.dataset == "small-files" else None)
    with fs:
        work = fs.mount
        copy = os.path.join(work, os.path.basename(base))
        print(f"file system: {fs.describe(args.workdir)}; copying the base tree onto it ...", flush=True)
        subprocess.run(["cp", "-a", base, copy], check=True)
        subprocess.run(["sync"], check=True)
        run_in(args, tools, copy, info, work, fs.describe(args.workdir))


def run_in(args, tools, base, info, work, fs_description):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = os.path.join(args.out, f"{stamp}-{args.dataset}-{args.size}")
    os.makedirs(run_dir, exist_ok=True)
    env = dict(os.environ)
    env.pop("HAUL_KDF_PROFILE", None)
    env.update({
        "HAUL_PASSWORD": PASSWORD, "RESTIC_PASSWORD": PASSWORD, "BORG_PASSPHRASE": PASSWORD,
        "RESTIC_CACHE_DIR": os.path.join(work, "restic-cache"), "BORG_BASE_DIR": os.path.join(work, "borg-base"),
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
    })
    nbytes = info["bytes"]
    machine = machine_info(work)
    machine["workdir_fs"] = fs_description
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "dataset": args.dataset,
            "size": args.size, "seed": args.seed, "mutate_seed": args.mutate_seed, "dataset_info": info,
            "machine": machine, "tools": tools, "workdir": work,
            "versions": {name: TOOLS[name](None).version() for name in tools}}
    meta["versions"]["zstd"] = subprocess.run(["zstd", "--version"], capture_output=True, text=True).stdout.strip()
    with open(os.path.join(run_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"run: {run_dir}")
    rec = Recorder(run_dir, env)
    started = time.monotonic()
    if not args.no_refs:
        run_references(rec, work, base, nbytes)
    run_tools(rec, tools, work, base, args.mutate_seed, cleanup=args.fs == "workdir")
    meta["total_s"] = round(time.monotonic() - started, 1)
    with open(os.path.join(run_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    text = report(run_dir)
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write(text)
    print()
    print(text)


# -------------------------------------------------------------------------------------------------------- reporting

def load(run_dir):
    with open(os.path.join(run_dir, "meta.json")) as f:
        meta = json.load(f)
    steps = []
    with open(os.path.join(run_dir, "steps.jsonl")) as f:
        for line in f:
            steps.append(json.loads(line))
    return meta, steps


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def other(s):
    text = f"{s['other_cpu_s']:.2f} ({s['other_cores']:.2f})"
    if "other_user_s" in s:
        text += f", user {s['other_user_s']:.2f}"
    return text


def mib(b):
    return f"{b / 2**20:.1f}" if b is not None else "–"


def report(run_dir):
    meta, steps = load(run_dir)
    by = {}
    for s in steps:
        by.setdefault((s["tool"], s["step"]), s)
    tools = meta["tools"]
    m = meta["machine"]
    info = meta["dataset_info"]
    lines = []
    lines.append(f"### {meta['dataset']} dataset, --size {meta['size']} ({info['files']} files, "
                 f"{info['bytes'] / 1e6:.1f} MB)")
    lines.append("")
    lines.append(f"{meta['date']} · {m['cpu_model']} · {m['cores']} cores · {m['mem_mib']} MiB RAM · "
                 f"{m['workdir_fs']} · kernel {m['kernel']} · total run {meta.get('total_s', '?')} s")
    lines.append("")
    lines.append("Versions: " + " · ".join(v.replace("\n", " ") for v in meta["versions"].values()))
    lines.append("")
    mut = next((s["summary"] for s in steps if s["step"] == "mutation"), None)
    if mut:
        lines.append(f"Mutation: {mut['changed_fraction'] * 100:.2f} % of the bytes "
                     f"({mut['inplace_writes']['regions']} in-place writes, {mut['text_edits']['files']} text edits, "
                     f"{mut['appends']['files']} appends, {mut['new_files']['files']} new, "
                     f"{mut['deleted']['files']} deleted, {mut['renamed']['files']} renamed files + 1 directory); "
                     f"{mut['files_after']} files, {mut['total_bytes_after'] / 1e6:.1f} MB after.")
        lines.append("")
    refs = [s for s in steps if s["tool"] == "ref"]
    if refs:
        lines.append("Physical references (warm cache):")
        lines.append("")
        lines.append("| reference | wall s | MB/s | CPU s | peak RSS MiB | other-process CPU s (cores) |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for s in refs:
            lines.append(f"| `{s['step'].replace('|', chr(92) + '|')}` | {s['wall_s']:.2f} | {fmt(s.get('mb_per_s'), 0)} | {s['cpu_s']:.2f} | "
                         f"{s.get('maxrss_kib', 0) / 1024:.1f} | {other(s)} |")
        lines.append("")
    lines.append("Per tool and step (wall time; throughput of source data; CPU = user+sys; "
                 "`other` = CPU seconds used by all other processes during the step, and average busy cores; "
                 "ratio = tool's wall time / Haul's):")
    lines.append("")
    lines.append("| step | tool | wall s | MB/s | CPU s | peak RSS MiB | repo MiB | sync after s | other CPU s (cores) "
                 "| ratio to haul |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = ["open (KDF)", "initial backup", "no-change backup", "incremental backup", "restore",
             "check --read-data"]
    for step in order:
        for t in tools:
            s = by.get((t, step))
            if not s:
                continue
            h = by.get(("haul", step))
            ratio = f"{s['wall_s'] / h['wall_s']:.2f}×" if h and h.get("wall_s") else "–"
            if step == "open (KDF)":
                lines.append(f"| {step} | {t} | {s['wall_s']:.2f} | | | | | | | {ratio} |")
                continue
            lines.append(
                f"| {step} | {t} | {s['wall_s']:.2f} | {fmt(s.get('mb_per_s'), 0)} | {s['cpu_s']:.2f} | "
                f"{s.get('maxrss_kib', 0) / 1024:.1f} | {mib(s.get('repo_bytes'))} | {s['sync_after_s']:.2f} | "
                f"{other(s)} | {ratio} |")
    lines.append("")
    growth = {t: by.get((t, "repo growth")) for t in tools}
    verify = {t: by.get((t, "restore verify")) for t in tools}
    lines.append("| tool | repo after initial MiB | growth by incremental MiB | final repo MiB | restore equal |")
    lines.append("|---|---:|---:|---:|---|")
    for t in tools:
        g = growth.get(t) or {}
        fin = by.get((t, "incremental backup"), {}).get("repo_bytes")
        v = verify.get(t)
        lines.append(f"| {t} | {mib(g.get('initial_repo_bytes'))} | {mib(g.get('incremental_growth_bytes'))} | "
                     f"{mib(fin)} | {'yes (diff -r)' if v and v['equal'] else 'NO'} |")
    lines.append("")
    lines += targets(by, tools)
    return "\n".join(lines) + "\n"


def targets(by, tools):
    if "haul" not in tools:
        return []
    out = ["Targets (Haul against restic, borg and the references):", "",
           "| target | measured | met? |", "|---|---|---|"]

    def get(t, step, key="wall_s"):
        s = by.get((t, step))
        return s.get(key) if s else None

    def row(name, measured, ok):
        out.append(f"| {name} | {measured} | {'met' if ok else 'not met'} |" if ok is not None else
                   f"| {name} | {measured} | n/a |")

    hk, rk = get("haul", "open (KDF)") or 0, get("restic", "open (KDF)") or 0
    if "restic" in tools:
        h, r = get("haul", "initial backup", "mb_per_s"), get("restic", "initial backup", "mb_per_s")
        row("initial backup throughput ≥ 2× restic", f"{h} vs {r} MB/s = {h / r:.2f}×", h >= 2 * r)
    tz = get("ref", "tar | zstd -3 -T0")
    if tz:
        h = get("haul", "initial backup")
        row("initial backup faster than tar \\| zstd -3 -T0", f"{h:.2f} vs {tz:.2f} s", h < tz)
    tzs = get("ref", "tar | zstd -3 -T0 > file + sync")
    if tzs:
        h = get("haul", "initial backup") + (get("haul", "initial backup", "sync_after_s") or 0)
        row("context: initial backup (+ sync) against tar \\| zstd -3 -T0 > file + sync",
            f"{h:.2f} vs {tzs:.2f} s = {h / tzs:.2f}×", None)
    if "restic" in tools:
        h, r = get("haul", "no-change backup") - hk, get("restic", "no-change backup") - rk
        row("no-change rerun ≤ 0.3× restic (KDF/open subtracted from both)",
            f"{h:.2f} vs {r:.2f} s = {h / r:.2f}×", h <= 0.3 * r)
        h, r = get("haul", "incremental backup"), get("restic", "incremental backup")
        row("incremental ≤ 0.5× restic's time", f"{h:.2f} vs {r:.2f} s = {h / r:.2f}×", h <= 0.5 * r)
        hg = by[("haul", "repo growth")]["incremental_growth_bytes"]
        rg = by[("restic", "repo growth")]["incremental_growth_bytes"]
        row("incremental repo growth ≤ 0.6× restic's", f"{mib(hg)} vs {mib(rg)} MiB = {hg / max(rg, 1):.2f}×",
            hg <= 0.6 * rg)
        h, r = get("haul", "restore", "mb_per_s"), get("restic", "restore", "mb_per_s")
        row("restore throughput ≥ 1.5× restic", f"{h} vs {r} MB/s = {h / r:.2f}×", h >= 1.5 * r)
    cp = get("ref", "cp -a + sync")
    if cp:
        h = get("haul", "restore") + get("haul", "restore", "sync_after_s")
        row("restore (+ sync) within 1.25× of cp -a + sync", f"{h:.2f} vs {cp:.2f} s = {h / cp:.2f}×",
            h <= 1.25 * cp)
    if "restic" in tools:
        h, r = get("haul", "check --read-data"), get("restic", "check --read-data")
        row("check --read-data at least as fast as restic", f"{h:.2f} vs {r:.2f} s = {h / r:.2f}×", h <= r)
        steps = ("initial backup", "no-change backup", "incremental backup", "restore", "check --read-data")
        h = max(get("haul", s, "maxrss_kib") or 0 for s in steps) / 1024
        r = max(get("restic", s, "maxrss_kib") or 0 for s in steps) / 1024
        row("peak RSS ≤ restic's (max over all steps)", f"{h:.1f} vs {r:.1f} MiB", h <= r)
    others = [t for t in ("restic", "borg") if t in tools]
    if others:
        h = get("haul", "incremental backup", "repo_bytes")
        best = min(get(t, "incremental backup", "repo_bytes") for t in others)
        row("final repo size within 1 % of min(restic, borg)", f"{mib(h)} vs {mib(best)} MiB = {h / best:.3f}×",
            h <= 1.01 * best)
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run")
    r.add_argument("--dataset", choices=("mixed", "small-files"), default="mixed")
    r.add_argument("--size", default="200M")
    r.add_argument("--tools", default="haul,restic,borg")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--mutate-seed", type=int, default=2)
    r.add_argument("--workdir", default="/var/tmp/haul-bench")
    r.add_argument("--out", default=os.path.join(HERE, "raw"))
    r.add_argument("--haul", default="haul")
    r.add_argument("--no-refs", action="store_true", help="skip the physical references")
    r.add_argument("--fs", choices=("image", "workdir"), default="image",
                   help="image (default): run on a fresh ext4 made in a loop image under --workdir (needs root); "
                        "workdir: run in --workdir's own file system")
    p = sub.add_parser("report")
    p.add_argument("run_dir")
    args = ap.parse_args()
    if args.cmd == "run":
        main_run(args)
    elif args.cmd == "report":
        sys.stdout.write(report(args.run_dir))
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
