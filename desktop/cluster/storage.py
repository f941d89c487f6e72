"""Where a cluster batch reads and writes: a local folder or an fsspec URL (`s3://bucket/prefix`, `file://`).

Remote outputs are written from a local scratch file in one upload (`put_file`): on S3 an object appears
whole or not at all (a large file goes up as a multipart upload, which appears only when completed), and a
retry of the same file overwrites its own output under the same deterministic name.
"""

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

LOCAL_PROTOCOLS = ("file", "local")


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
    when `recursive`). Names with a hidden component (a leading dot) are left out, as `walk_files` does."""
    fs = location.open_filesystem()
    prefix = location.root + "/"
    found = fs.find(location.root, maxdepth=None if recursive else 1, withdirs=False)
    relatives = [path[len(prefix) :] for path in found if path.startswith(prefix)]
    return sorted(r for r in relatives if r and not any(part.startswith(".") for part in r.split("/")))


def download(fs: Any, url: str, local_path: Path) -> None:
    """Copy one remote object to a local file (its folder created)."""
    local_path.parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(url, str(local_path))


def upload(fs: Any, local_path: Path, url: str) -> None:
    """Upload one local file to `url` in one call: the object appears whole or not at all."""
    fs.put_file(str(local_path), url)
