"""Who did it, for short-lived processes: 1,000 processes started one after
another as fast as possible, half as root and half as uid 65534, each creating
one file and exiting. Every event of those files should carry the right uid and
executable (target: >= 99 %, and none wrong). fatrace watches the same run;
fatrace 0.17 prints only ``comm(pid)``, so its figure is the share of events
with the right command name (it reads /proc when it reads the event, after the
process is gone).

    sudo .venv/bin/python bench/fan_actors.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from fan_common import Fatrace, Listener, parse_fatrace, tmpfs

NOBODY = 65534


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    touch = os.path.realpath(shutil.which("touch") or "/usr/bin/touch")
    setpriv = shutil.which("setpriv") or "setpriv"
    scratch = tempfile.mkdtemp(prefix="fanbench-out-")
    with tmpfs() as top:
        fat = Fatrace(top, os.path.join(scratch, "fatrace.txt"))
        ours = Listener(top, os.path.join(scratch, "inwatch.json"))
        t0 = time.perf_counter()
        for i in range(n):
            if i % 2:
                cmd = [setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
                cmd += ["touch", f"n{i}"]
            else:
                cmd = ["touch", f"r{i}"]
            subprocess.run(cmd, cwd=top, check=True)
        spent = time.perf_counter() - t0
        res = ours.stop()
        lines, fat_cpu = fat.stop()
    shutil.rmtree(scratch)

    def expected_uid(name: str) -> int | None:
        if name[:1] in "rn" and name[1:].isdigit():
            return 0 if name[0] == "r" else NOBODY
        return None

    total = right = wrong = unknown = 0
    files: dict[str, bool] = {}
    for _mask, path, origin, actor in res["events"]:
        want = expected_uid(os.path.basename(path))
        if want is None or origin != "kernel":
            continue
        total += 1
        _pid, uid, _gid, _comm, exe, _status = actor
        if uid == want and exe == touch:
            right += 1
            files.setdefault(path, True)
        elif (uid is not None and uid != want) or (exe is not None and exe != touch):
            wrong += 1
            files[path] = False
        else:
            unknown += 1
            files[path] = False
    ftotal = fright = 0
    for line in lines:
        p = parse_fatrace(line)
        if p is None or expected_uid(os.path.basename(p[3])) is None:
            continue
        ftotal += 1
        fright += p[0] == "touch"
    print(f"workload: {n} processes (half uid 0, half uid {NOBODY}) in {spent:.2f} s")
    print(
        f"inwatch fanotify: {total} events on {len(files)}/{n} files; "
        f"right uid+exe {right} ({100 * right / max(total, 1):.2f} %), "
        f"wrong {wrong}, unknown {unknown}; proc connector: {res['connector']}, "
        f"lost {res['connector_lost']}; CPU {res['cpu_ns'] / 1e6:.0f} ms"
    )
    print(
        f"fatrace: {ftotal} events; right comm {fright} ({100 * fright / max(ftotal, 1):.2f} %); "
        f"uid and exe: not reported by fatrace; CPU {fat_cpu / 1e6:.0f} ms"
    )


if __name__ == "__main__":
    main()
