"""nbgrader's Execute step, made to survive a kernel that dies or hangs.

As shipped, a kernel that dies (os._exit, a segfault, the memory limit) or stops answering (a loop
that ignores the interrupt) fails the whole submission: no grades at all, reported as a plain 0.
Here the cell where it happened gets an error output that says what happened (so its test, if it
is one, scores 0 and the feedback shows why), a fresh kernel replays the cells before it without
keeping their outputs, and grading goes on with the next cell: the parts that work still score.
"""
import copy

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

DIED = ("KernelDied", "the kernel died while running this cell (for example os._exit, a crash, or more memory "
        "than grading allows). The cells after it were run in a fresh kernel.")
HUNG = ("KernelHung", "this cell did not finish within the time limit and the kernel did not respond to an "
        "interrupt, so it was restarted. The cells after it were run in a fresh kernel.")
MAX_RESTARTS = 5      # a submission that kills every kernel does not get to replay forever


class ResilientExecute(Execute):
    """Execute every cell; on a dead or hung kernel, record why, restart, replay, continue."""

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        start, failed = 0, set()
        while start < len(self.nb.cells):
            start = self._run_from(start, failed, resources, replay=len(failed) <= MAX_RESTARTS)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_from(self, start, failed, resources, replay):
        """Run cells start.. in a new kernel; returns the index after the last cell it got through."""
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index in range(start):
                if index not in failed and replay:
                    self._replay(index, resources)
            for index in range(start, len(self.nb.cells)):
                cell = self.nb.cells[index]
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    return self._fail(cell, index, failed, DIED)
                except CellTimeoutError:            # the reply came, the kernel's output never did
                    return self._fail(cell, index, failed, HUNG)
                if self._timed_out(cell) and not self._responsive():
                    return self._fail(cell, index, failed, HUNG)
        return len(self.nb.cells)

    def _replay(self, index, resources):
        cell = copy.deepcopy(self.nb.cells[index])
        if cell.cell_type == "code":
            self.preprocess_cell(cell, resources, index)    # outputs go to the copy and are dropped

    def _fail(self, cell, index, failed, why):
        failed.add(index)
        self.log.error("Cell %d: %s: %s", index, *why)
        cell.outputs.append(NotebookNode(output_type="error", ename=why[0], evalue=why[1],
                                         traceback=[f"{why[0]}: {why[1]}"]))
        return index + 1                    # leaving setup_kernel shuts this kernel down

    @staticmethod
    def _timed_out(cell):
        return any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", []))

    def _responsive(self, seconds=10):
        """Did the kernel come back after the timeout's interrupt? (It answers kernel_info.)"""
        saved, self.timeout = self.timeout, seconds
        try:
            return self.wait_for_reply(self.kc.kernel_info()) is not None
        except DeadKernelError:
            return False
        finally:
            self.timeout = saved
