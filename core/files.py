"""Writing files and folders atomically: a reader sees the old version or the new, never half.

The one writer every package uses (run directories, the featurizer, predict, export, the data
caches). Each write goes to a temporary name in the target's own folder (so the final rename
is atomic on that file system), gets the mode a plain ``open()`` would have given it under the
user's umask, and is renamed into place only when complete; on any error the temporary is
removed and the target is as it was.
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile

from core.errors import DataError, UsageError


def user_file_mode(directory=False):
    """The mode ``open()``/``mkdir`` would give a new file (directory) under the current umask.

    Args:
      directory: the mode of a directory rather than a file.

    Returns:
      The permission bits (``mkstemp`` and ``mkdtemp`` would give 0600 / 0700).
    """
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def check_creatable(path, what, below=()):
    """Refuse, before anything is made, a path the file system cannot create: a component
    longer than the system allows, a path too long, a file where a folder must be, or a
    nearest existing folder that cannot be written. Read-only: a refusal leaves nothing.

    Args:
      path: a file or folder to be created (its missing parents too).
      what: how the message names it, e.g. ``"the run directory"``.
      below: components that will be made inside ``path`` (checked, not named).

    Raises:
      UsageError: "cannot write WHAT PATH: why. Nothing was created."
    """
    full = os.path.abspath(os.path.join(path, *below))

    def refuse(why):
        raise UsageError("cannot write {} {}: {}. Nothing was created.".format(
            what, path, why))

    existing = full
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):  # not POSIX: let the system say
        name_max, path_max = 255, 4096
    for part in full.split(os.sep):
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > name_max:
            refuse("the name {}... is {} bytes long, and this file system allows {}".format(
                part[:40], size, name_max))
    if len(full.encode("utf-8", "surrogateescape")) >= path_max:
        refuse("the path is longer than this system allows ({} bytes)".format(path_max))
    if existing != full:
        if not os.path.isdir(existing):
            refuse("{} is a file, not a folder".format(existing))
        if not os.access(existing, os.W_OK | os.X_OK):
            refuse("{} is not writable".format(existing))


def make_folders(path):
    """``os.makedirs(path, exist_ok=True)`` that removes the folders it made when it fails
    part-way, so a refused path leaves no empty folders.

    Returns:
      The folders it made, deepest first (for :func:`remove_made` when a later step fails).

    Raises:
      OSError: as ``os.makedirs``.
    """
    made = []
    head = os.path.abspath(path)
    while not os.path.exists(head):
        made.append(head)
        head = os.path.dirname(head)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        remove_made(made)
        raise
    return made


def remove_made(made):
    """Remove the (empty) folders :func:`make_folders` made, deepest first."""
    for folder in made:
        try:
            os.rmdir(folder)
        except OSError:
            pass


def _temporary(path, make):
    """A temporary file or folder beside ``path``, made by ``make(dir=...)``.

    Raises:
      UsageError: the folder cannot be written (it names the path and the reason).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        return make(prefix=".tmp-" + os.path.basename(path)[:40] + "-", dir=directory)
    except OSError as err:
        raise UsageError("cannot write {}: {}".format(path, err.strerror or err))


def _open_stream(path, mode, encoding):
    """Open what is not a regular file (a device, a FIFO, a terminal) for writing, in place.

    A FIFO is opened without blocking first: with no reader, ``open`` would wait forever.

    Raises:
      UsageError: a FIFO with no reader, a socket, or anything the system will not open.
    """
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise UsageError("cannot write {}: it is a pipe (FIFO) with no reader, or a socket; "
                             "start the reader first, or name a file".format(path))
        raise UsageError("cannot write {}: {}".format(path, err.strerror or err))
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)  # writes wait for a slow reader instead of failing
    return os.fdopen(fd, mode, encoding=encoding)


def output_kind(path):
    """How :func:`atomic_file` writes ``path``: ``"file"`` or ``"stream"``, and the real target.

    Why: ``os.replace`` is right for a regular file only. A symbolic link, a device such as
    ``/dev/null``, a FIFO or ``/proc/self/fd/1`` must never be replaced by a regular file:
    a link is written THROUGH (its target is replaced atomically when it is a regular file, or
    created when the link dangles), and whatever is not a regular file is written in place,
    as a shell's ``>`` would.

    Args:
      path: the path a user named.

    Returns:
      ``("file", real_path)`` or ``("stream", path)``.

    Raises:
      UsageError: ``path`` is a folder.
    """
    try:
        info = os.stat(path)  # follows links
    except OSError:
        # nothing there (or a dangling link): a new regular file where the link points
        return "file", os.path.realpath(path) if os.path.islink(path) else path
    if stat.S_ISDIR(info.st_mode):
        raise UsageError("cannot write {}: it is a folder; name a file".format(path))
    if stat.S_ISREG(info.st_mode):
        return "file", os.path.realpath(path) if os.path.islink(path) else path
    return "stream", path


@contextlib.contextmanager
def atomic_file(path, mode="w", encoding=None):
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    A link is written through, and a device, FIFO or terminal is written in place
    (:func:`output_kind`): none of them is ever replaced by a regular file.

    Args:
      path: the file to (re)place.
      mode: ``"w"`` (text) or ``"wb"`` (bytes).
      encoding: the text encoding (text mode only).

    Yields:
      The open file object.

    Raises:
      UsageError: the folder of ``path`` cannot be written, ``path`` is a folder, or a FIFO
        with no reader.
    """
    kind, target = output_kind(path)
    if kind == "stream":
        with _open_stream(target, mode, encoding) as handle:
            yield handle
        return
    fd, tmp = _temporary(target, tempfile.mkstemp)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
        os.chmod(tmp, user_file_mode())
        try:
            os.replace(tmp, target)
        except OSError as err:  # e.g. a name too long: said, and the temporary removed
            raise UsageError("cannot write {}: {}".format(path, err.strerror or err))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError("not JSON serialisable: {!r}".format(value))


def write_json(path, payload, indent=2, sort_keys=True):
    """Write ``payload`` as JSON to ``path`` atomically (numpy values become plain numbers).

    Args:
      path: the file to (re)place.
      payload: JSON-serialisable data (numpy scalars and arrays allowed).
      indent, sort_keys: as for ``json.dump``.

    Raises:
      UsageError: the folder cannot be written.
    """
    with atomic_file(path) as handle:
        json.dump(payload, handle, indent=indent, sort_keys=sort_keys, default=_json_default)
        handle.write("\n")


#: what :func:`atomic_directory` does when ``target`` exists once the new folder is complete
KEEP, REPLACE, REFUSE = "keep", "replace", "refuse"


@contextlib.contextmanager
def atomic_directory(target, exists=KEEP):
    """Build a folder under a temporary name beside ``target``; rename it into place at the end.

    Args:
      target: the folder to create.
      exists: when ``target`` exists by the end: ``"keep"`` (another process built the same
        content first: the new copy is dropped), ``"replace"`` (the old one is moved aside,
        the new one renamed in, then the old one removed) or ``"refuse"`` (UsageError, the
        existing folder untouched).

    Yields:
      The temporary folder to fill.

    Raises:
      UsageError: the parent cannot be written, or ``target`` exists with ``exists="refuse"``.
    """
    parent = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise UsageError("cannot write {}: {}".format(target, err.strerror or err))
    tmp = _temporary(target, tempfile.mkdtemp)
    try:
        yield tmp
        for name in os.listdir(tmp):
            entry = os.path.join(tmp, name)
            os.chmod(entry, user_file_mode(directory=os.path.isdir(entry)))
        os.chmod(tmp, user_file_mode(directory=True))  # mkdtemp gives 0700
        if os.path.exists(target):
            if exists == REFUSE:
                raise UsageError("{} exists; nothing there was changed".format(target))
            if exists == KEEP:
                shutil.rmtree(tmp, ignore_errors=True)
                return
            old = _temporary(target + ".old", tempfile.mkdtemp)
            os.rename(target, os.path.join(old, "previous"))
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
            return
        try:
            os.rename(tmp, target)
        except OSError:
            if not (exists == KEEP and os.path.isdir(target)):  # lost a race: theirs is fine
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def plain_name(value, what):
    """``value`` as ONE path component, or a DataError: for every id read from a data file
    that becomes part of a path (set ids, item keys, image names, category names).

    Why: a data file is input, not a program. An id like ``/some/where`` or ``../..`` joined
    to a folder would read or write outside it (a release file must not make the featurizer
    overwrite a file of the user's).

    Args:
      value: the id (a string or an integer).
      what: how the message names it, e.g. ``"train.json: outfit #3: set_id"``.

    Returns:
      The id as a string.

    Raises:
      DataError: empty, ``.``/``..``, a path separator or NUL, surrounding blanks, or an
        absolute path; the message names ``what`` and the value.
    """
    text = str(value)
    bad = (not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text
           or text != text.strip() or os.path.isabs(text))
    if bad:
        raise DataError("{} {!r} is not a plain name (one path component without '/', '..' "
                        "or blanks); ids that become file names must be".format(
                            what, text[:200]))
    return text


def path_under(root, *parts):
    """``os.path.join(root, *parts)``, proven to stay under ``root`` (symbolic links resolved).

    Args:
      root: the folder the path must stay in.
      *parts: components, some from data.

    Returns:
      The joined path.

    Raises:
      DataError: the path leaves ``root``.
    """
    path = os.path.join(root, *[str(p) for p in parts])
    base = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
        raise DataError("{} leaves {} (it resolves to {}); paths built from data must stay "
                        "in their folder".format(path, root, real))
    return path



def digest(path, chunk=1 << 22):
    """A BLAKE2b digest (hex) of a file's bytes, read in chunks: what a cache records of each
    of its files when written and checks when read back."""
    import hashlib  # pylint: disable=import-outside-toplevel

    hasher = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            hasher.update(block)
    return hasher.hexdigest()


def file_digests(folder):
    """``{name: [bytes, digest]}`` of the plain files in ``folder`` (see :func:`check_digests`)."""
    return {name: [os.path.getsize(os.path.join(folder, name)),
                   digest(os.path.join(folder, name))]
            for name in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, name))}


def check_digests(folder, recorded):
    """Raise a DataError naming the first file of ``folder`` that is not as ``recorded``
    (:func:`file_digests` when it was written): missing, another size, other bytes.

    Why: a cache is trusted when read back; a flipped label or a folder swapped for another
    data set's would otherwise train and score silently."""
    for name, (size, expected) in sorted(recorded.items()):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise DataError("{}: missing".format(path))
        if os.path.getsize(path) != size:
            raise DataError("{}: {:,} bytes, {:,} when it was written".format(
                path, os.path.getsize(path), size))
        if digest(path) != expected:
            raise DataError("{}: its bytes changed since it was written".format(path))


# --- reading: every data file is decoded and parsed one way, with errors that name it --------

def text_lines(path, what="file", encoding="utf-8"):
    """``(line number, text)`` of a text file, each line decoded on its own.

    Why: iterating a text-mode handle raises ``UnicodeDecodeError`` mid-loop, with no file or
    line; this names both, and the column.

    Args:
      path: the file.
      what: what the file is, for the message when it is missing.
      encoding: its encoding.

    Yields:
      ``(number, line)``, numbers from 1, the newline kept.

    Raises:
      DataError: a missing file, or bytes that are not ``encoding`` (file, line, column).
    """
    if not os.path.isfile(path):
        raise DataError("missing {}: {}".format(what, path))
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise DataError("{}:{}: bytes that are not {} at column {}".format(
                    path, number, encoding, err.start + 1))


def read_text(path, what="file", encoding="utf-8"):
    """The whole text of a file, decoded (:func:`text_lines`' errors)."""
    return "".join(line for _, line in text_lines(path, what, encoding))


def load_json(path, what="JSON file"):
    """A JSON file, or a DataError naming it: missing, not UTF-8, not JSON, nested too deeply.

    Args:
      path: the file.
      what: what the file is, for the message.

    Returns:
      The parsed value.

    Raises:
      DataError: as above (a file nested thousands deep would otherwise end the process in
        ``RecursionError``).
    """
    text = read_text(path, what + " file")
    try:
        return json.loads(text)
    except ValueError as err:
        raise DataError("{}: not valid JSON ({})".format(path, err))
    except RecursionError:
        raise DataError("{}: not readable JSON (nested too deeply)".format(path))
