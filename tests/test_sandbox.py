"""The grading sandbox keeps one kernel's fork bomb to itself, and dies with its grader.

The process limit counts per user. Each grading kernel runs as a user id of its own, so a kernel
whose children fill its quota cannot stop another kernel from starting threads or processes: not
one grading beside it (workers), nor the next one started while the bomb's children are still
being killed (a serial autograde). A grader killed midway (a worker lost, ^C twice) takes its
kernel with it, so nothing keeps running as a kernel's user.
"""
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from traitlets.config import Config

from instructor.pipeline import sandbox

pytestmark = [
    pytest.mark.skipif(sandbox.problem() is not None, reason=f"no grading sandbox here: {sandbox.problem()}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="kernels get a user of their own only when grading runs as root"),
    pytest.mark.e2e,
]

BOMB = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        children += 1
except OSError as e:
    print('forked', children, 'then', type(e).__name__, os.getuid())
"""
NEIGHBOUR = """
import os, threading
threads = [threading.Thread(target=sum, args=([1, 2],)) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
child = os.fork()
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
print('threads and a child', os.getuid())
"""


async def start(config, workdir):
    manager = sandbox.GradingKernelManager(kernel_name=sandbox.KERNEL_NAME, config=config)
    await manager.start_kernel(cwd=str(workdir))
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    return manager, client


async def run(client, code):
    printed = []
    def keep(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
    await client.execute_interactive(code, timeout=120, output_hook=keep)
    return "".join(printed).split()


async def bomb_then_neighbours(workdir):
    config = Config()
    assert sandbox.configure(config)
    bomber, bomber_client = await start(config, workdir)
    beside, beside_client = await start(config, workdir)
    try:
        bombed = await run(bomber_client, BOMB)
        ran_beside = await run(beside_client, NEIGHBOUR)
        await bomber.shutdown_kernel(now=True)     # its children are still dying as the next one starts
        after, after_client = await start(config, workdir)
        ran_after = await run(after_client, NEIGHBOUR)
        await after.shutdown_kernel(now=True)
    finally:
        for manager in (bomber, beside):
            if await manager.is_alive():
                await manager.shutdown_kernel(now=True)
    return bombed, ran_beside, ran_after


def test_a_fork_bomb_fills_its_own_quota_only(tmp_path):
    workdir = tmp_path / "01_forward_pass"        # the assignment being graded, as autograde names it
    workdir.mkdir()
    bombed, ran_beside, ran_after = asyncio.run(bomb_then_neighbours(workdir))
    assert bombed[0] == "forked" and int(bombed[1]) > 100, bombed            # the bomb did fill its quota
    assert ran_beside[:-1] == ran_after[:-1] == ["threads", "and", "a", "child"], (ran_beside, ran_after)
    uids = {bombed[-1], ran_beside[-1], ran_after[-1]}
    assert len(uids) == 3 and not uids & {"0", str(sandbox.NOGROUP)}, uids


GRADER = """
import asyncio, sys, time
from traitlets.config import Config
from instructor.pipeline import sandbox

async def main():
    config = Config()
    sandbox.configure(config)
    manager = sandbox.GradingKernelManager(kernel_name=sandbox.KERNEL_NAME, config=config)
    await manager.start_kernel(cwd=sys.argv[1])
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    print("kernel", manager.provisioner.process.pid, flush=True)
    time.sleep(600)

asyncio.run(main())
"""


def processes_of(uid):
    """Pids of the processes running as uid."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:                         # gone meanwhile
            continue
        if any(line.split()[:2] == ["Uid:", str(uid)] for line in lines):
            found.append(status.parent.name)
    return found


def test_a_killed_grader_leaves_no_kernel_behind(tmp_path):
    workdir = tmp_path / "01_forward_pass"
    workdir.mkdir()
    grader = subprocess.Popen([sys.executable, "-c", GRADER, str(workdir)], stdout=subprocess.PIPE, text=True,
                              cwd=sandbox.GRADER)
    try:
        launcher = next(line.split()[1] for line in grader.stdout if line.startswith("kernel "))
        kernel_uid = sandbox.KERNEL_UID_BASE + int(launcher)
        assert processes_of(kernel_uid), "the kernel should be running as its own user"
    finally:
        grader.kill()
        grader.wait()
    deadline = time.monotonic() + 20
    while processes_of(kernel_uid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_of(kernel_uid)
