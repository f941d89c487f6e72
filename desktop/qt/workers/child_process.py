"""`ChildProcess`: a command run as a child process (`QProcess`, so the UI never waits on it) whose output
comes line by line as signals, and which Cancel kills at any point."""

from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot

KILL_WAIT_MS = 5_000  # how long Cancel waits for a killed child to be gone (SIGKILL: at once)


class ChildProcess(QObject):
    """Signals: `line_read(str)` for each line the child writes (stdout and stderr together, in order),
    then one of `succeeded()` (exit code 0), `failed(str)` (its last line, or why it did not start or
    what killed it) and `cancelled()`. No bool arguments (see `ModePage`)."""

    line_read = Signal(str)
    succeeded = Signal()
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # a Python child's lines as it prints them
        self.process.setProcessEnvironment(environment)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finish)
        self.process.errorOccurred.connect(self._fail_to_start)
        self.process.started.connect(self._remember_pid)
        self.lines: list[str] = []
        self.pid = 0  # the child's process id once started (QProcess forgets it when it ends)
        self._pending = b""  # the start of a line not ended yet
        self._cancelling = False

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, command: list[str], working_dir: Path | None = None) -> None:
        """Start `command` (program, then arguments; no shell)."""
        self.lines, self.pid, self._pending, self._cancelling = [], 0, b"", False
        if working_dir is not None:
            self.process.setWorkingDirectory(str(working_dir))
        self.process.start(command[0], command[1:])

    def cancel(self) -> None:
        """Kill the child and wait until it is gone (`cancelled` is emitted meanwhile)."""
        if not self.running:
            return
        self._cancelling = True
        self.process.kill()
        self.process.waitForFinished(KILL_WAIT_MS)

    @Slot()
    def _remember_pid(self) -> None:
        self.pid = int(self.process.processId())

    @Slot()
    def _read(self) -> None:
        data = self._pending + bytes(self.process.readAllStandardOutput().data())
        *complete, self._pending = data.replace(b"\r", b"\n").split(b"\n")
        for raw in complete:
            self._emit_line(raw)

    def _emit_line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            self.lines.append(line)
            self.line_read.emit(line)

    @Slot(int, QProcess.ExitStatus)
    def _finish(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        if self._pending:
            self._emit_line(self._pending)
            self._pending = b""
        if self._cancelling:
            self.cancelled.emit()
        elif status == QProcess.ExitStatus.NormalExit and code == 0:
            self.succeeded.emit()
        elif status != QProcess.ExitStatus.NormalExit:
            name = Path(self.process.program()).name
            self.failed.emit(f"{name} stopped unexpectedly ({self.process.errorString()})")
        else:
            self.failed.emit(self.lines[-1] if self.lines else f"it ended with exit code {code}")

    @Slot(QProcess.ProcessError)
    def _fail_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # no `finished` follows
            self.failed.emit(f"{self.process.program()} did not start: {self.process.errorString()}")
