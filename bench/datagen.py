#!/usr/bin/env python3
"""Deterministic benchmark datasets for Haul (stdlib only).

    datagen.py generate --dataset mixed|small-files --size 2G --seed 1 DIR
    datagen.py mutate --seed 2 [--fraction 0.015] DIR

`generate` writes a fresh tree into DIR (which must not exist). Same seed and size => same bytes and the same names.

mixed (fractions of --size):
  ~12 %  source-like text files (lognormal, median ~3 KiB) in a nested project tree
  ~35 %  media-like incompressible files (256 KiB .. 32 MiB)
  ~43 %  three VM-image-like files: zero runs, blocks repeated inside and across images, random and text blocks
  ~10 %  exact duplicates of media and source files in another directory
small-files: --size / 1 KiB files (so 200M => ~200k files), mostly small text, some tiny binaries, some duplicates.

`mutate` applies a realistic change of about --fraction of the bytes to an existing tree, deterministically for a
given tree and seed: in-place block writes in the middle of large files, lines inserted in the middle of text
files, appends, new files, deleted files and renamed files (single files and one whole directory). It prints a JSON
summary on stdout.
"""

import argparse
import json
import math
import os
import random
import re
import sys

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

WORDS = (
    "let var func return if else guard for in while switch case default struct class enum protocol extension "
    "import public private internal static self Self init deinit throws try await async actor where some any "
    "Int UInt8 String Array Dictionary Set Data Bool true false nil count index buffer chunk pack blob tree "
    "snapshot repository index key seal open read write offset length size hash id error result value item node "
    "path file name mode owner group mtime ctime inode link target parent child entry list map filter reduce "
    "append insert remove first last min max print log debug info warning fatal assert precondition"
).split()
PUNCT = ["(", ")", " {", "}", ", ", ": ", " = ", " == ", " -> ", ".", "[", "]", " + ", " - ", " < ", " > ", "// "]


def parse_size(text):
    """'2G', '200M', '1.5GiB', '4096' -> bytes (binary units)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not m:
        raise ValueError(f"bad size {text!r}")
    return int(float(m.group(1)) * {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": 1024 * GiB}[m.group(2)])


class TextSource:
    """Source-code-like text: lines drawn from a seeded vocabulary of synthetic code lines."""

    def __init__(self, rng, nlines=20000):
        lines = []
        for _ in range(nlines):
            indent = "    " * rng.choice((0, 1, 1, 2, 2, 2, 3, 4))
            n = rng.randint(1, 9)
            parts = []
            for _ in range(n):
                parts.append(rng.choice(WORDS))
                parts.append(rng.choice(PUNCT))
            if rng.random() < 0.1:
                parts.append(str(rng.randint(0, 1 << 20)))
            lines.append(indent + "".join(parts).rstrip())
        self.lines = lines
        self.avg = sum(len(x) + 1 for x in lines) / len(lines)

    def text(self, rng, nbytes):
        k = max(1, int(nbytes / self.avg))
        data = ("\n".join(rng.choices(self.lines, k=k)) + "\n").encode()
        return data[:nbytes] if len(data) > nbytes else data


def lognormal_size(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_random(path, rng, size, block=4 * MiB):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(block, left)
            f.write(rng.randbytes(n))
            left -= n


class DirPlan:
    """Hands out nested directory names, `per_dir` files per leaf directory."""

    def __init__(self, rng, root, prefix, per_dir, fanout=8):
        self.rng, self.root, self.prefix, self.per_dir, self.fanout = rng, root, prefix, per_dir, fanout
        self.count = 0
        self.current = None

    def next_path(self, ext):
        if self.count % self.per_dir == 0:
            d = self.count // self.per_dir
            parts = []
            x = d
            depth = 1 + self.rng.randint(1, 3)
            for level in range(depth):
                parts.append(f"{self.prefix}{level}_{x % self.fanout:02d}")
                x //= self.fanout
            parts.append(f"d{d:05d}")
            self.current = os.path.join(self.root, *parts)
        name = f"f{self.count:07d}_{self.rng.choice(WORDS).lower()}{ext}"
        self.count += 1
        return os.path.join(self.current, name)


def gen_text_files(rng, ts, root, prefix, budget, median, sigma, lo, hi, per_dir, exts):
    plan = DirPlan(rng, root, prefix, per_dir)
    written, files = 0, []
    while written < budget:
        size = lognormal_size(rng, median, sigma, lo, hi)
        path = plan.next_path(rng.choice(exts))
        data = ts.text(rng, size)
        write_file(path, data)
        written += len(data)
        files.append(path)
    return written, files


def vm_segments(rng, ts, size, pool):
    """A list of (kind, length, payload-seed) segments making up a VM-image-like file."""
    segs, total = [], 0
    while total < size:
        kind = rng.choices(("zero", "random", "repeat", "text"), weights=(30, 35, 20, 15))[0]
        length = min(size - total, rng.choice((64 * KiB, 256 * KiB, 1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB)))
        segs.append((kind, length, rng.getrandbits(64), rng.randrange(len(pool))))
        total += length
    return segs


def write_vm(path, segs, ts, pool):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    zero = bytes(MiB)
    with open(path, "wb") as f:
        for kind, length, seed, pidx in segs:
            r = random.Random(seed)
            if kind == "zero":
                left = length
                while left > 0:
                    n = min(left, MiB)
                    f.write(zero[:n])
                    left -= n
            elif kind == "random":
                left = length
                while left > 0:
                    n = min(left, 4 * MiB)
                    f.write(r.randbytes(n))
                    left -= n
            elif kind == "repeat":
                block = pool[pidx]
                left = length
                while left > 0:
                    n = min(left, len(block))
                    f.write(block[:n])
                    left -= n
            else:
                left = length
                while left > 0:
                    n = min(left, MiB)
                    f.write(ts.text(r, n).ljust(n, b"\n"))
                    left -= n


def generate_mixed(root, size, seed):
    rng = random.Random(seed)
    ts = TextSource(random.Random(seed + 1))
    stats = {}
    # source-like text
    w, src_files = gen_text_files(
        rng, ts, os.path.join(root, "src"), "p", int(size * 0.12), 3 * KiB, 1.2, 60, 256 * KiB, 40,
        (".swift", ".c", ".h", ".py", ".md", ".json", ".txt"),
    )
    stats["source"] = {"files": len(src_files), "bytes": w}
    # media-like incompressible
    media_budget = int(size * 0.35)
    hi = max(512 * KiB, min(32 * MiB, size // 40))
    media_files, w, i = [], 0, 0
    while w < media_budget:
        n = min(media_budget - w, lognormal_size(rng, hi // 6, 1.0, 256 * KiB, hi))
        n = max(n, 4 * KiB)
        path = os.path.join(root, "media", f"album{i // 25:03d}", f"IMG_{i:05d}.{rng.choice(('jpg', 'mp4', 'png'))}")
        write_random(path, rng, n)
        media_files.append(path)
        w += n
        i += 1
    stats["media"] = {"files": len(media_files), "bytes": w}
    # VM images: a shared base, two images derived from it with ~30 % of the segments replaced
    vm_total = int(size * 0.43)
    per = vm_total // 3
    pool = [random.Random(seed * 1000 + k).randbytes(rng.choice((4 * KiB, 64 * KiB, 512 * KiB))) for k in range(16)]
    base = vm_segments(rng, ts, per, pool)
    w = 0
    for k in range(3):
        segs = list(base)
        if k > 0:
            for j in range(len(segs)):
                if rng.random() < 0.3:
                    kind, length, _, _ = segs[j]
                    segs[j] = (rng.choice(("random", "zero", "text", "repeat")), length, rng.getrandbits(64),
                               rng.randrange(len(pool)))
        write_vm(os.path.join(root, "vm", f"disk{k}.img"), segs, ts, pool)
        w += sum(s[1] for s in segs)
    stats["vm"] = {"files": 3, "bytes": w}
    # exact duplicates
    dup_budget = int(size * 0.10)
    w, n = 0, 0
    candidates = media_files + src_files
    while w < dup_budget and candidates:
        src = candidates[rng.randrange(len(candidates))]
        with open(src, "rb") as f:
            data = f.read()
        rel = os.path.relpath(src, root)
        write_file(os.path.join(root, "copies", f"c{n % 7}", rel), data)
        w += len(data)
        n += 1
    stats["duplicates"] = {"files": n, "bytes": w}
    return stats


def generate_small(root, size, seed):
    rng = random.Random(seed)
    ts = TextSource(random.Random(seed + 1))
    count = max(100, size // KiB)
    plan = DirPlan(rng, root, "s", 100, fanout=12)
    licenses = [ts.text(random.Random(seed + 10 + k), 1100 + 97 * k) for k in range(5)]
    stats = {"text": [0, 0], "binary": [0, 0], "duplicates": [0, 0]}
    for _ in range(count):
        x = rng.random()
        if x < 0.85:
            data = ts.text(rng, lognormal_size(rng, 700, 1.0, 10, 64 * KiB))
            path, key = plan.next_path(rng.choice((".js", ".py", ".h", ".c", ".json", ".css", ".md"))), "text"
        elif x < 0.95:
            data = rng.randbytes(lognormal_size(rng, 800, 0.8, 16, 32 * KiB))
            path, key = plan.next_path(rng.choice((".png", ".pyc", ".o"))), "binary"
        else:
            data = licenses[rng.randrange(len(licenses))]
            path, key = plan.next_path(".LICENSE"), "duplicates"
        write_file(path, data)
        stats[key][0] += 1
        stats[key][1] += len(data)
    return {k: {"files": v[0], "bytes": v[1]} for k, v in stats.items()}


def listing(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            out.append((p, os.lstat(p).st_size))
    return out


def tree_bytes(root):
    return sum(s for _, s in listing(root))


def mutate(root, seed, fraction):
    rng = random.Random(seed)
    ts = TextSource(random.Random(seed + 1), nlines=2000)
    files = listing(root)
    total = sum(s for _, s in files)
    budget = int(total * fraction)
    large = [f for f in files if f[1] >= 16 * MiB]
    small = [f for f in files if f[1] < 256 * KiB]
    medium = [f for f in files if 256 * KiB <= f[1] < 16 * MiB]
    summary = {"total_bytes_before": total, "files_before": len(files), "budget_bytes": budget}
    touched = set()

    # 1. in-place block writes in the middle of large files (VM images): 30 % of the budget
    b = budget * 0.30 if large else 0
    written, regions = 0, 0
    while written < b:
        path, size = large[rng.randrange(len(large))]
        n = rng.choice((4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB))
        off = rng.randrange(size // 8, size - n) // 4096 * 4096
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(rng.randbytes(n))
        written += n
        regions += 1
        touched.add(path)
    summary["inplace_writes"] = {"regions": regions, "bytes": written}

    # 2. lines inserted in the middle of text-like small files: 15 % of the budget (counted as inserted bytes,
    #    though the whole file is rewritten)
    b = budget * (0.15 if large else 0.35)
    written, edited = 0, 0
    smalls = [f for f in small if f[0] not in touched]
    while written < b and smalls:
        path, size = smalls.pop(rng.randrange(len(smalls)))
        with open(path, "rb") as f:
            data = f.read()
        mid = data.find(b"\n", len(data) // 2)
        mid = len(data) // 2 if mid < 0 else mid + 1
        ins = ts.text(rng, rng.randint(40, 2000))
        with open(path, "wb") as f:
            f.write(data[:mid] + ins + data[mid:])
        written += len(ins)
        edited += 1
        touched.add(path)
    summary["text_edits"] = {"files": edited, "inserted_bytes": written}

    # 3. appends (log-like growth) to small and medium files: 10 % of the budget
    b = budget * 0.10
    written, appended = 0, 0
    pool = [f for f in small + medium if f[0] not in touched]
    while written < b and pool:
        path, size = pool.pop(rng.randrange(len(pool)))
        add = ts.text(rng, rng.randint(200, 64 * KiB)) if size < 256 * KiB else rng.randbytes(rng.randint(4 * KiB, MiB))
        with open(path, "ab") as f:
            f.write(add)
        written += len(add)
        appended += 1
        touched.add(path)
    summary["appends"] = {"files": appended, "bytes": written}

    # 4. new files: 30 % of the budget (text files in a new directory and in existing ones, plus binaries)
    b = budget * 0.30
    written, created = 0, 0
    dirs = sorted({os.path.dirname(p) for p, _ in files})
    while written < b:
        if rng.random() < 0.7 or b - written < 256 * KiB:
            d = rng.choice(dirs) if rng.random() < 0.5 else os.path.join(root, "new", f"n{created // 50:03d}")
            data = ts.text(rng, lognormal_size(rng, 3 * KiB, 1.0, 50, 128 * KiB))
        else:
            d = os.path.join(root, "new", "bin")
            data = rng.randbytes(rng.randint(256 * KiB, min(8 * MiB, max(256 * KiB, int(b - written)))))
        write_file(os.path.join(d, f"new_{seed}_{created:06d}.dat"), data)
        written += len(data)
        created += 1
    summary["new_files"] = {"files": created, "bytes": written}

    # 5. deleted files: 15 % of the budget, at most 1 % of the files
    b = budget * 0.15
    deleted, dbytes = 0, 0
    pool = [f for f in small + medium if f[0] not in touched]
    limit = max(1, len(files) // 100)
    while dbytes < b and pool and deleted < limit:
        path, size = pool.pop(rng.randrange(len(pool)))
        os.unlink(path)
        dbytes += size
        deleted += 1
        touched.add(path)
    summary["deleted"] = {"files": deleted, "bytes": dbytes}

    # 6. renames: 0.5 % of the files (same directory or another one) and one whole directory
    pool = [f for f in files if f[0] not in touched and f[1] < 16 * MiB]
    renamed = 0
    for _ in range(max(1, len(files) // 200)):
        if not pool:
            break
        path, _ = pool.pop(rng.randrange(len(pool)))
        d = rng.choice(dirs) if rng.random() < 0.5 else os.path.dirname(path)
        if not os.path.isdir(d):
            continue
        os.rename(path, os.path.join(d, "renamed_" + os.path.basename(path)))
        renamed += 1
        touched.add(path)
    leafs = [d for d in dirs if os.path.isdir(d) and os.path.basename(d).startswith("d")]
    dir_renamed = None
    if leafs:
        d = leafs[rng.randrange(len(leafs))]
        os.rename(d, d + "_moved")
        dir_renamed = os.path.relpath(d, root)
    summary["renamed"] = {"files": renamed, "directory": dir_renamed}

    after = listing(root)
    summary["total_bytes_after"] = sum(s for _, s in after)
    summary["files_after"] = len(after)
    summary["changed_bytes"] = (
        summary["inplace_writes"]["bytes"] + summary["text_edits"]["inserted_bytes"] + summary["appends"]["bytes"]
        + summary["new_files"]["bytes"] + summary["deleted"]["bytes"]
    )
    summary["changed_fraction"] = round(summary["changed_bytes"] / max(1, total), 4)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--dataset", choices=("mixed", "small-files"), default="mixed")
    g.add_argument("--size", default="200M")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("dir")
    m = sub.add_parser("mutate")
    m.add_argument("--seed", type=int, default=2)
    m.add_argument("--fraction", type=float, default=0.015)
    m.add_argument("dir")
    args = ap.parse_args()
    if args.cmd == "generate":
        if os.path.exists(args.dir):
            sys.exit(f"error: {args.dir} exists")
        size = parse_size(args.size)
        gen = generate_mixed if args.dataset == "mixed" else generate_small
        stats = gen(os.path.abspath(args.dir), size, args.seed)
        files = listing(args.dir)
        out = {"dataset": args.dataset, "size_arg": args.size, "seed": args.seed, "parts": stats,
               "files": len(files), "bytes": sum(s for _, s in files)}
    else:
        out = mutate(os.path.abspath(args.dir), args.seed, args.fraction)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
