"""Where a cluster batch reads and writes: a local folder or an fsspec URL (`s3://bucket/prefix`, `file://`).

Remote outputs are written from a local scratch file in one upload (`put_file`): on S3 an object appears
whole or not at all (a large file goes up as a multipart upload, which appears only when completed), and a
retry of the same file overwrites its own output under the same deterministic name.

The driver reaches the store before any file runs (`list_remote_files`, `check_writable`), and every error
there becomes a BatchJobError of one line (`reaching`): a missing bucket or prefix, a bucket that refuses
writes, an endpoint that does not answer all stop the run with exit 2 before anything is processed.
"""

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from desktop.core.batch.job import BatchJobError
from desktop.core.batch.report import find_csv_path

LOCAL_PROTOCOLS = ("file", "local")
# A zero-byte hidden object written and deleted in a remote output before the run: the one way to learn that
# the bucket exists and takes writes (S3 cannot say what a role may do). Hidden: listings leave it out.
WRITE_CHECK_PREFIX = ".aestudio-write-check-"
CLUSTER_EXTRA = "pip install 'autoencoder-studio[cluster]'"


def split_url(text: str) -> tuple[str, str]:
    """Return (protocol, path) of "s3://bucket/prefix" -> ("s3", "bucket/prefix"); ("", text) for a plain
    path."""
    protocol, sep, rest = text.partition("://")
    if not sep or "/" in protocol or not protocol:
        return "", text
    return protocol.lower(), rest


@dataclass(frozen=True)
class Location:
    """A folder to read from or write to: `local` is a resolved folder, else `protocol` + `root` (no
    trailing "/") name the remote prefix. Credentials and endpoints come from the environment
    (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, ...), never from the command line."""

    text: str  # as the user gave it
    protocol: str  # "" for local folders
    root: str  # resolved folder (local) or bucket/prefix (remote)

    @property
    def is_local(self) -> bool:
        return not self.protocol

    @property
    def folder(self) -> Path:
        """The local folder (local locations only)."""
        assert self.is_local
        return Path(self.root)

    def url(self, relative: str = "") -> str:
        """Return the full URL (remote) or path (local) of `relative` (POSIX, "" for the root)."""
        if self.is_local:
            return str(Path(self.root, *PurePosixPath(relative).parts)) if relative else self.root
        joined = f"{self.root}/{relative}" if relative else self.root
        return f"{self.protocol}://{joined}"

    @property
    def bucket(self) -> str:
        """The first component of a remote root: the bucket of "bucket/prefix"."""
        return self.root.split("/", 1)[0]

    def open_filesystem(self) -> Any:
        """Return the fsspec filesystem (imported here: the base install has no fsspec)."""
        import fsspec

        return fsspec.filesystem(self.protocol or "file")

    def contains(self, other: "Location") -> bool:
        """True when `other` is this location or lies inside it, on the same store: "s3" and "s3a" name
        one filesystem, so the protocols are compared as fsspec resolves them, not as text."""
        if self.is_local != other.is_local:
            return False
        if not self.is_local and name_store(self.protocol) != name_store(other.protocol):
            return False
        return other.root == self.root or other.root.startswith(self.root.rstrip("/") + "/")


def name_store(protocol: str) -> str:
    """Return fsspec's canonical name of the filesystem behind a protocol ("s3" for both s3 and s3a); the
    protocol itself where fsspec knows none (that run fails when it opens the filesystem)."""
    import fsspec

    try:
        names = fsspec.get_filesystem_class(protocol).protocol
    except (ImportError, ValueError):  # ValueError: a protocol fsspec does not know
        return protocol
    return names if isinstance(names, str) else names[0]


def parse_location(text: str) -> Location:
    """Return the Location of a folder path, a `file://` URL or a remote URL; local folders are resolved."""
    protocol, path = split_url(text)
    if protocol in LOCAL_PROTOCOLS:
        protocol = ""
    if not protocol:
        return Location(text, "", str(Path(path).expanduser().resolve()))
    return Location(text, protocol, path.rstrip("/"))


def list_remote_files(location: Location, *, recursive: bool) -> list[str]:
    """Return the relative POSIX paths of every object under a remote location (sorted; subfolders only
    when `recursive`). Names with a hidden component (a leading dot) are left out, as `walk_files` does, and
    so are folder markers (keys ending in "/"). A key with an empty component ("in//a.png") is returned as
    it is: `odd_key_problem` says why it cannot be run. Raises BatchJobError, in one line, for a missing
    bucket or prefix and for a store that cannot be reached."""
    prefix = location.root + "/"
    with reaching(location, "list the input"):
        fs = location.open_filesystem()
        try:
            found = fs.find(location.root, maxdepth=None if recursive else 1, withdirs=False)
        except FileNotFoundError:  # s3fs: a missing bucket, when listed recursively
            found = []
        relatives = [path[len(prefix) :] for path in found if path.startswith(prefix)]
        if not relatives:  # an empty bucket or folder marker, an object, or nothing there at all
            check_remote_folder(fs, location, "input")
    return sorted(
        r
        for r in relatives
        if r and not r.endswith("/") and not any(part.startswith(".") for part in r.split("/"))
    )


def odd_key_problem(relative: str) -> str:
    """Why an object's relative key cannot be a file of the run ("" when it can): a key with an empty
    component ("in//a.png", whose relative path "/a.png" would be absolute) has no path in a folder, so
    neither its scratch copy nor its output can be named."""
    if "" not in relative.split("/"):
        return ""
    return (
        "object key has an empty folder name ('//' in it): it cannot be named as a file, so it is not "
        "run; rename the object"
    )


def check_remote_folder(fs: Any, location: Location, what: str) -> None:
    """Raise BatchJobError unless the remote folder exists: a bucket, or a prefix with an object under it
    (an object store has no empty folders; s3fs's listing of a missing bucket is merely empty)."""
    try:
        info = fs.info(location.root)
    except FileNotFoundError:
        bucket_missing = f"{what} {location.url()}: bucket {location.bucket} does not exist"
        if location.bucket == location.root:
            raise BatchJobError(bucket_missing) from None
        try:
            fs.info(location.bucket)
        except FileNotFoundError:
            raise BatchJobError(bucket_missing) from None
        raise BatchJobError(f"{what} {location.url()} does not exist (no object under it)") from None
    if info.get("type") != "directory":
        raise BatchJobError(f"{what} {location.url()} is an object, not a folder (prefix)")


def check_writable(location: Location, what: str) -> None:
    """Raise BatchJobError unless a remote folder takes writes: its bucket must exist, and a zero-byte
    hidden object is written there and deleted (`WRITE_CHECK_PREFIX`). Run before any file is processed."""
    probe = f"{location.root}/{WRITE_CHECK_PREFIX}{uuid.uuid4().hex}"
    with reaching(location, f"write to the {what}"):
        fs = location.open_filesystem()
        try:
            fs.pipe_file(probe, b"")
        except FileNotFoundError:  # s3fs: NoSuchBucket
            raise BatchJobError(f"{what} {location.url()}: bucket {location.bucket} does not exist") from None
        except PermissionError as error:
            raise BatchJobError(
                f"{what} {location.url()} is not writable ({describe_error(error)})"
            ) from None
        with contextlib.suppress(FileNotFoundError, PermissionError):  # a write-only role: the probe stays
            fs.rm_file(probe)


def describe_error(error: BaseException) -> str:
    """One line for an error of the store: the last line of its innermost message, after its type, e.g.
    'EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:9/b"'."""
    cause, seen = error, {id(error)}
    while cause.__cause__ is not None and id(cause.__cause__) not in seen:
        cause = cause.__cause__
        seen.add(id(cause))
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[-1]}" if lines else type(cause).__name__


@contextlib.contextmanager
def reaching(location: Location, doing: str) -> Iterator[None]:
    """Turn any error of the store inside (no s3fs installed, an unknown protocol, an endpoint that does
    not answer, credentials refused) into a BatchJobError of one line: the driver stops with exit 2, not a
    traceback of the store's client."""
    try:
        yield
    except BatchJobError:
        raise
    except ImportError as error:  # fsspec names the package to install ("Install s3fs to access S3")
        raise BatchJobError(
            f"{location.text}: {location.protocol}:// needs the cluster extra, {CLUSTER_EXTRA} ({error})"
        ) from None
    except Exception as error:
        raise BatchJobError(f"cannot {doing} {location.url()}: {describe_error(error)}") from None


def parse_report_url(text: str) -> Location | None:
    """Return the remote Location of a `--report` URL ("s3://bucket/runs/r.json"), or None for a local
    path. BatchJobError for a URL without a file name in a bucket."""
    location = parse_location(text)
    if location.is_local:
        return None
    if "/" not in location.root or location.root.endswith("/"):
        raise BatchJobError(
            f"--report {text}: give a file in a bucket, e.g. {location.protocol}://bucket/r.json"
        )
    return location


def find_report_folder(report: Location) -> Location:
    """The remote folder a report URL lies in."""
    return Location(report.text, report.protocol, report.root.rsplit("/", 1)[0])


def check_report_url(report: Location) -> None:
    """Raise BatchJobError, before any file runs, unless the report's remote folder takes writes."""
    check_writable(find_report_folder(report), "report folder")


def upload_report(json_path: Path, report: Location) -> str:
    """Upload a written report (JSON, and the CSV beside it) to `report` and the CSV's URL beside it;
    return the JSON's URL. Raises what the store raises."""
    fs = report.open_filesystem()
    csv_root = str(PurePosixPath(report.root).with_suffix(".csv"))  # beside it, as `find_csv_path` puts it
    upload(fs, json_path, report.url())
    upload(fs, find_csv_path(json_path), Location(report.text, report.protocol, csv_root).url())
    return report.url()


def download(fs: Any, url: str, local_path: Path) -> None:
    """Copy one remote object to a local file (its folder created)."""
    local_path.parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(url, str(local_path))


def upload(fs: Any, local_path: Path, url: str) -> None:
    """Upload one local file to `url` in one call: the object appears whole or not at all."""
    fs.put_file(str(local_path), url)
