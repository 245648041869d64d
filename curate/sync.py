"""`curate sync DIR`: share a corpus folder between machines through a git remote.

The corpus folder is the top of a git working tree whose remote is a bare repository on a
shared disk, an SSH host or a Hugging Face dataset repository. One sync:

1. takes this folder's sync lock, the lock of every journal no other process is writing, and
   the gold lock, and commits what this machine wrote (corpus.toml, snippets.jsonl,
   assignments.jsonl, gold.jsonl, suggestions.jsonl, annotations/*.jsonl, .gitignore; never
   .curate/ or models/). A journal is staged up to its last whole line, so a torn append never
   reaches git; a journal an annotate session is writing is staged the same way (its consistent
   prefix) without stopping the session;
2. fetches the remote's branch (the locks are let go while the network is used);
3. takes the locks again, commits what was saved during the fetch, and merges, if both sides
   moved: every path changed on one side only takes that side; a path
   changed on both is merged by curate's rules (:mod:`curate.store.merge`: journals by line,
   streamed through scratch files in .git/curate-merge so no journal is held whole; gold per
   snippet by the later accept, streamed alike), corpus.toml and .gitignore by git's line merge, and
   anything else (snippets.jsonl, assignments.jsonl) stops the sync, naming it, with nothing
   changed. Merged files are written atomically, then the index, then the branch moves;
4. pushes, and when another machine pushed first, fetches and merges again (a few attempts);
5. brings the .curate/ indexes up to date, so the corpus opens at once.

Sync also registers curate's merge drivers (curate/merge_driver.py) in the clone's own git
config, so that a person settling a conflict with `git merge` or `git pull` gets journals and
gold merged by the same rules.

Git is driven by running the `git` command: it is what the remote's URL, the user's SSH keys
and credential helpers (for the Hub's HTTPS) already work with, and its plumbing (`merge-base`,
`ls-tree`, `hash-object`, `update-index`, `write-tree`, `commit-tree`, `update-ref`) lets the
merge happen here, in files curate writes atomically, instead of in git's merge machinery,
which rewrites files in place and would need curate's merge drivers on every PATH.

Why the order of step 3 makes a killed sync safe to run again: until the branch moves, the
merge commit is only an object. If the process dies after some merged files were written, the
next sync commits them as this machine's work and merges again; every merge here gives the
same result when run twice (the union of lines already holding the remote's lines adds
nothing), so nothing is lost or doubled.
"""

from __future__ import annotations

import os
import random
import shlex
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from curate.merge_driver import DRIVERS
from curate.store import (
    Corpus,
    CorpusLayout,
    MergeRefused,
    StoreError,
    add_missing_lines,
    atomic_write_bytes,
    check_annotator_name,
    ensure_gitignore,
    error_reason,
    merge_gold_chunks,
    merge_journal_chunks,
    write_chunks,
)

# How many times a push that lost the race to another machine is retried (fetch, merge, push).
PUSH_ATTEMPTS = 6
# How long sync waits for another process's short hold of gold.jsonl or git's index lock.
WAIT_SECONDS = 10.0
_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


class SyncError(Exception):
    """A sync that stopped, with a one-line message for the user."""


class SyncConflict(SyncError):
    """Files changed on both sides that curate cannot merge."""


@dataclass
class SyncReport:
    """What one sync did."""

    remote: str
    branch: str
    committed: bool = False
    """A commit of this machine's work was made."""
    merged: list[str] = field(default_factory=list)
    """Paths changed on both sides and merged by curate's rules."""
    received: list[str] = field(default_factory=list)
    """Paths taken from the remote (changed only there, or merged)."""
    pushed: bool = False
    attempts: int = 0
    busy: list[str] = field(default_factory=list)
    """Journals another process was writing: committed up to their last whole line."""
    index_problem: str | None = None
    """Why the .curate/ indexes could not be brought up to date (the sync itself succeeded)."""


class Git:
    """The `git` command in one working tree, with output captured and one-line errors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ)
        self.env["LC_ALL"] = "C"  # git's messages are parsed (push rejections)
        self.env.pop("GIT_DIR", None)
        self.env.pop("GIT_WORK_TREE", None)
        self.env.pop("GIT_INDEX_FILE", None)
        if not _interactive():
            self.env["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password nobody types
        self.identity: list[str] = []

    @cached_property
    def git_dir(self) -> Path:
        """The repository's .git folder (asked of git once: sync uses it for its scratch files)."""
        return Path(self.out("rev-parse", "--absolute-git-dir"))

    def run(self, *args: str, input: bytes | None = None, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        command = ["git", *self.identity, *args]
        try:
            result = subprocess.run(command, cwd=self.root, input=input, capture_output=True, env={**self.env, **(env or {})})
        except FileNotFoundError:
            raise SyncError("git is not installed: curate sync runs the git command (install git 2.28 or later)") from None
        if check and result.returncode != 0:
            raise SyncError(f"git {args[0]} failed in {self.root}: {last_line(result.stderr) or 'exit status ' + str(result.returncode)}")
        return result

    def out(self, *args: str, **options) -> str:
        return self.run(*args, **options).stdout.decode("utf-8", "replace").strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    def rev(self, name: str) -> str | None:
        result = self.run("rev-parse", "-q", "--verify", f"{name}^{{commit}}", check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def blob(self, sha: str | None) -> bytes | None:
        return None if sha is None else self.run("cat-file", "blob", sha).stdout

    def tree(self, commit: str | None) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob sha) of every file of a commit (empty for none)."""
        if commit is None:
            return {}
        entries = {}
        for entry in self.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout.split(b"\0"):
            if not entry:
                continue
            meta, path = entry.split(b"\t", 1)
            mode, _kind, sha = meta.decode().split()
            entries[path.decode("utf-8", "surrogateescape")] = (mode, sha)
        return entries

    def hash_object(self, data: bytes) -> str:
        """Store `data` as a blob; its sha."""
        return self.out("hash-object", "-w", "--stdin", input=data)

    def hash_file(self, path: Path, length: int | None = None, *, write: bool = True) -> str:
        """Store the first `length` bytes of a file (all of it: None) as a blob, streamed to
        git; its sha (with `write` False, the sha only, nothing stored). The file may be
        growing (a journal another process appends to): what lies past `length` is not read."""
        command = ["git", *self.identity, "hash-object", *(["-w"] if write else []), "--stdin"]
        try:
            process = subprocess.Popen(command, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        except FileNotFoundError:
            raise SyncError("git is not installed: curate sync runs the git command (install git 2.28 or later)") from None
        try:
            with open(path, "rb") as handle:
                left = length if length is not None else -1
                try:
                    while left != 0 and (chunk := handle.read(_CHUNK if left < 0 else min(_CHUNK, left))):
                        process.stdin.write(chunk)
                        left -= len(chunk) if left > 0 else 0
                    process.stdin.close()
                except BrokenPipeError:
                    pass  # git stopped reading: its exit status and message say why
            out, err = process.stdout.read(), process.stderr.read()
        finally:
            _reap(process)
        if process.returncode != 0:
            raise SyncError(f"git hash-object failed in {self.root}: {last_line(err) or 'exit status ' + str(process.returncode)}")
        return out.decode().strip()

    def blob_to_file(self, sha: str, path: Path) -> None:
        """Write a blob to a (scratch) file, streamed: git writes it there itself."""
        with open(path, "wb") as handle:
            try:
                result = subprocess.run(["git", *self.identity, "cat-file", "blob", sha], cwd=self.root, stdout=handle, stderr=subprocess.PIPE, env=self.env)
            except FileNotFoundError:
                raise SyncError("git is not installed: curate sync runs the git command (install git 2.28 or later)") from None
        if result.returncode != 0:
            raise SyncError(f"git cat-file failed in {self.root}: {last_line(result.stderr) or 'exit status ' + str(result.returncode)}")

    def blob_chunks(self, sha: str):
        """A blob's bytes in chunks, read from git as they come (for a file written atomically:
        the whole blob is never in memory). Raises SyncError when git fails, so the write stops."""
        try:
            process = subprocess.Popen(["git", *self.identity, "cat-file", "blob", sha], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        except FileNotFoundError:
            raise SyncError("git is not installed: curate sync runs the git command (install git 2.28 or later)") from None
        try:
            while chunk := process.stdout.read(_CHUNK):
                yield chunk
            err = process.stderr.read()
        finally:
            _reap(process)
        if process.returncode != 0:
            raise SyncError(f"git cat-file failed in {self.root}: {last_line(err) or 'exit status ' + str(process.returncode)}")

    def blob_sizes(self, shas: list[str]) -> dict[str, int]:
        """The size of each blob, asked of git in one call."""
        if not shas:
            return {}
        output = self.run("cat-file", "--batch-check=%(objectname) %(objectsize)", input="".join(f"{sha}\n" for sha in shas).encode()).stdout
        sizes = {}
        for line in output.decode().splitlines():
            sha, size = line.split()
            sizes[sha] = int(size)
        return sizes


_CHUNK = 1 << 20


def _reap(process: subprocess.Popen) -> None:
    """Close a git process's pipes and wait for it: a git still writing to a reader that stopped
    early gets a broken pipe and ends; one that does not is killed."""
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    try:
        process.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def last_line(stderr: bytes) -> str:
    """Why git failed, in one line: its first line that is not a hint or warning (the cause, such
    as `ssh: connect to host ... refused`, comes before git's general `Could not read from
    remote repository`), without a `fatal:`/`error:` prefix or a closing full stop."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("hint:", "warning:", "remote: ")):
            continue
        for prefix in ("fatal: ", "error: "):
            line = line.removeprefix(prefix)
        return line.rstrip(".")
    return lines[-1] if lines else ""


def _interactive() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


# ---------------------------------------------------------------- the corpus's files in git


class CorpusFiles:
    """Which paths of the working tree are the corpus's, and how each is merged."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = CorpusLayout(root)
        self.annotations = self._relative(self.layout.annotations)
        self.suggestions = self._relative(self.layout.suggestions)
        self.gold = self._relative(self.layout.gold)
        self.snippets = self._relative(self.layout.snippets)
        # Committed with `git add` (whole files written atomically by curate).
        self.plain = [self._relative(path) for path in (self.layout.config, self.layout.snippets, self.layout.assignments, self.layout.gold, self.layout.gitignore)]
        # Merged by git's line merge when both sides changed them.
        self.text = {self._relative(self.layout.config), self._relative(self.layout.gitignore)}
        # Folders that stay on each machine (indexes, locks, review journals; fitted models).
        self.local = {self._relative(self.layout.index_dir), self._relative(self.layout.models)}

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.layout.root).as_posix()

    def is_journal(self, path: str) -> bool:
        """annotations/NAME.jsonl (NAME a valid annotator name) or suggestions.jsonl."""
        if path == self.suggestions:
            return True
        parts = PurePosixPath(path)
        if str(parts.parent) != self.annotations or parts.suffix != ".jsonl":
            return False
        try:
            check_annotator_name(parts.stem)
        except StoreError:
            return False
        return True

    def journals_here(self) -> list[str]:
        """The journals in the working tree."""
        found = [self.suggestions] if self.layout.suggestions.exists() else []
        folder = self.layout.annotations
        if folder.is_dir():
            found += sorted(f"{self.annotations}/{entry.name}" for entry in os.scandir(folder) if entry.is_file() and self.is_journal(f"{self.annotations}/{entry.name}"))
        return found

    def lock_path(self, path: str) -> Path:
        """The lock a writer of this corpus file takes (the store's: .curate/locks/KEY.lock)."""
        return self.layout.lock(self.layout.file_key(self.root / path))


def _ends_a_line(path: Path) -> bool:
    """True when the file is empty or its last byte ends a line."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return True
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


def consistent_length(path: Path) -> int:
    """The length of a journal up to its last whole line: what an append in flight (or a torn one
    a crash left) cannot have half-written. Appends write whole lines, so every `\\n` ends one.
    Read backwards from the end, a chunk at a time (the journal is not read whole)."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - _CHUNK)
            handle.seek(start)
            found = handle.read(end - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            end = start
    return 0


# ---------------------------------------------------------------- sync


def sync(directory: Path, *, remote_url: str | None = None, attempts: int = PUSH_ATTEMPTS) -> SyncReport:
    """Commit this machine's work, merge the remote's, push; see the module docstring.

    Raises SyncError (SyncConflict for files curate cannot merge) with a one-line message.
    """
    root = Path(directory)
    layout = CorpusLayout(root)
    if not root.is_dir():
        raise SyncError(f"{root}: no such corpus folder")
    if not layout.config.exists() or not layout.snippets.exists():
        raise SyncError(f"{root}: not a corpus folder (it has no {layout.config.name} and {layout.snippets.name}); clone the team's corpus with git clone URL {root}")
    git = Git(root)
    _open_repository(git, root, remote_url)
    layout.sync_lock.parent.mkdir(parents=True, exist_ok=True)
    sync_lock = FileLock(str(layout.sync_lock), timeout=0, thread_local=False)
    try:
        sync_lock.acquire()
    except Timeout:
        raise SyncError(f"another curate sync is running in {root}; wait for it to finish") from None
    try:
        replaced = _point_remote(git, remote_url)
        try:
            return _sync_locked(git, root, attempts)
        except SyncError:
            if replaced is not None:  # a mistyped --remote does not stay as the team's remote
                git.run("remote", "set-url", *replaced, check=False)
            raise
    finally:
        sync_lock.release()


def _open_repository(git: Git, root: Path, remote_url: str | None) -> None:
    """Check that `root` is the top of a git working tree (making one with `remote_url`)."""
    top = git.run("rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        if b"dubious ownership" in top.stderr:
            raise SyncError(f"git refuses {root}: it belongs to another user; if you trust it, run git config --global --add safe.directory {root.resolve()} and sync again")
        if remote_url is None:
            raise SyncError(f"{root} is not a git working tree: clone the team's corpus (git clone URL), or start one here with curate sync {root} --remote URL")
        git.run("init", "-q", "-b", "main")
    elif Path(top.stdout.decode().strip()).resolve() != root.resolve():
        raise SyncError(f"{root} is inside the git working tree {top.stdout.decode().strip()}; curate sync needs the corpus folder to be the top of its own repository")


def _point_remote(git: Git, remote_url: str | None) -> tuple[str, str] | None:
    """Point the remote at `remote_url` (adding origin when there is none); the remote's name and
    its earlier URL when one was replaced, so a sync that fails can put it back."""
    if remote_url is None:
        return None
    name = _remote_name(git, required=False) or "origin"
    earlier = git.run("remote", "get-url", name, check=False)
    if earlier.returncode != 0:
        git.run("remote", "add", name, remote_url)
        return None
    url = earlier.stdout.decode("utf-8", "surrogateescape").strip()
    if url == remote_url:
        return None
    git.run("remote", "set-url", name, remote_url)
    return name, url


def _remote_name(git: Git, *, required: bool = True) -> str | None:
    branch = _branch(git)
    configured = git.run("config", f"branch.{branch}.remote", check=False).stdout.decode().strip()
    if configured:
        return configured
    remotes = git.out("remote").split()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if required:
        raise SyncError(f"{git.root} has no git remote to sync with: add one (git remote add origin URL, or curate sync {git.root} --remote URL)" if not remotes else f"{git.root} has several git remotes ({', '.join(remotes)}) and none is origin or the branch's upstream; set one with git branch --set-upstream-to")
    return None


def _branch(git: Git) -> str:
    result = git.run("symbolic-ref", "--short", "-q", "HEAD", check=False)
    if result.returncode != 0:
        raise SyncError(f"{git.root}: git is not on a branch (a detached HEAD); check out the corpus's branch (git switch main), then sync again")
    return result.stdout.decode().strip()


def _check_state(git: Git) -> None:
    """Refuse while a git merge, rebase or cherry-pick is half done; wait out git's index lock."""
    git_dir = git.git_dir
    for name, what in (("MERGE_HEAD", "merge"), ("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("CHERRY_PICK_HEAD", "cherry-pick")):
        if (git_dir / name).exists():
            raise SyncError(f"{git.root}: a git {what} is in progress; finish it (git status says how) or abort it, then sync again")
    deadline = time.monotonic() + WAIT_SECONDS
    while (git_dir / "index.lock").exists():
        if time.monotonic() > deadline:
            raise SyncError(f"{git_dir / 'index.lock'} exists: another git command is running in {git.root}, or one was killed; if none is running, remove that file and sync again")
        time.sleep(0.1)


def _identity(git: Git) -> list[str]:
    """`-c user.name=... -c user.email=...` for what git cannot find itself (CI has no identity)."""
    if git.ok("var", "GIT_AUTHOR_IDENT") and git.ok("var", "GIT_COMMITTER_IDENT"):
        return []
    name = git.run("config", "user.name", check=False).stdout.decode().strip() or "curate"
    email = git.run("config", "user.email", check=False).stdout.decode().strip() or f"curate@{socket.gethostname() or 'localhost'}"
    return ["-c", f"user.name={name}", "-c", f"user.email={email}"]


def _sync_locked(git: Git, root: Path, attempts: int) -> SyncReport:
    files = CorpusFiles(root)
    branch = _branch(git)
    remote = _remote_name(git)
    assert remote is not None
    merge_ref = git.run("config", f"branch.{branch}.merge", check=False).stdout.decode().strip() or f"refs/heads/{branch}"
    remote_branch = merge_ref.removeprefix("refs/heads/")
    tracking = f"refs/remotes/{remote}/{remote_branch}"
    report = SyncReport(remote=remote, branch=remote_branch)
    _check_state(git)
    git.identity = _identity(git)
    ensure_gitignore(root)
    register_merge_drivers(git, files)
    _ssh_timeout(git)
    for attempt in range(1, attempts + 1):
        report.attempts = attempt
        with _corpus_locks(files, []) as busy:
            report.busy = sorted(busy)
            report.committed |= _commit_local(git, files, busy)
        _fetch(git, remote, remote_branch, tracking)
        theirs = git.rev(tracking)
        head = git.rev("HEAD")
        if theirs is not None and theirs != head:
            their_journals = [path for path in git.tree(theirs) if files.is_journal(path)]
            with _corpus_locks(files, their_journals) as busy:
                # Saves made while the locks were let go for the fetch are committed first, so
                # the merge starts from everything this machine holds.
                report.committed |= _commit_local(git, files, busy)
                _merge(git, files, theirs, report, busy)
            head = git.rev("HEAD")
        if head is None or head == theirs:
            break
        if _push(git, remote, remote_branch, merge_ref):
            report.pushed = True
            break
        time.sleep(random.uniform(0.05, 0.3) * attempt)  # another machine pushed first: fetch, merge, push again
    else:
        raise SyncError(f"the remote {remote} kept changing while curate pushed ({attempts} attempts); your work is committed here: sync again")
    if not git.run("config", f"branch.{branch}.remote", check=False).stdout.strip():
        git.run("config", f"branch.{branch}.remote", remote)
        git.run("config", f"branch.{branch}.merge", merge_ref)
    report.index_problem = refresh_indexes(root)
    return report


def register_merge_drivers(git: Git, files: CorpusFiles) -> None:
    """Let a person's own `git merge` or `git pull` in this clone merge journals and gold by
    curate's rules (curate/merge_driver.py): the drivers go in the repository's config and the
    paths in .git/info/attributes, both local to the clone (nothing is committed)."""
    command = f"{shlex.quote(sys.executable)} -m curate.merge_driver"
    for kind, driver in DRIVERS.items():
        wanted = {"name": f"curate: {kind} merged by curate's rules", "driver": f"{command} {kind} %O %A %B %P"}
        for key, value in wanted.items():
            if git.run("config", "--get", f"merge.{driver}.{key}", check=False).stdout.decode().strip() != value:
                git.run("config", f"merge.{driver}.{key}", value)
    attributes = git.git_dir / "info" / "attributes"
    lines = [f"/{files.annotations}/*.jsonl merge={DRIVERS['journal']}", f"/{files.suggestions} merge={DRIVERS['journal']}", f"/{files.gold} merge={DRIVERS['gold']}"]
    add_missing_lines(attributes, lines)


def _ssh_timeout(git: Git) -> None:
    """An SSH host that does not answer fails in seconds rather than at the TCP timeout."""
    if "GIT_SSH_COMMAND" in git.env or "GIT_SSH" in git.env or git.run("config", "core.sshCommand", check=False).stdout.strip():
        return
    git.env["GIT_SSH_COMMAND"] = "ssh -o ConnectTimeout=15" + ("" if _interactive() else " -o BatchMode=yes")


@contextmanager
def _corpus_locks(files: CorpusFiles, more_journals: list[str]):
    """Hold the lock of every journal no other process is writing, and the gold lock, so no
    curate writer changes a file while sync reads or replaces it. Yields the journals another
    process holds (an annotate session): those are read up to their last whole line and never
    replaced."""
    busy: set[str] = set()
    with ExitStack() as stack:
        for path in sorted(set(files.journals_here()) | set(more_journals)):
            lock_path = files.lock_path(path)
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_path), timeout=0, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                busy.add(path)
                continue
            stack.callback(lock.release)
        gold_lock = FileLock(str(files.lock_path(files.gold)), timeout=WAIT_SECONDS, thread_local=False)
        try:
            gold_lock.acquire()
        except Timeout:
            raise SyncError(f"{files.layout.gold} is being written by another curate process (for over {WAIT_SECONDS:.0f} s); sync again in a moment") from None
        stack.callback(gold_lock.release)
        yield busy


def _commit_local(git: Git, files: CorpusFiles, busy: set[str]) -> bool:
    """Commit this machine's corpus files, and nothing else; True if a commit was made.

    The commit is built in a temporary index from HEAD plus the corpus files, so whatever the
    person staged by hand (a file under models/ added with -f, their own notes) is neither
    committed nor pushed; it stays staged. The real index then takes the same corpus files."""
    tracked = set(git.out("ls-files", "-z", "--full-name").split("\0")) - {""}
    plain = [path for path in files.plain if (files.root / path).exists() or path in tracked]
    entries = []
    for path in files.journals_here():
        if path not in busy and _ends_a_line(files.root / path):
            plain.append(path)  # no writer and no torn tail: git add reads it whole (and skips it when unchanged)
        else:
            length = consistent_length(files.root / path)
            if length or path in tracked:  # a journal holding only a torn first append is nobody's yet
                entries.append(f"100644 {git.hash_file(files.root / path, length)}\t{path}")
    gone = [path for path in tracked if files.is_journal(path) and not (files.root / path).exists()]

    def stage(env: dict[str, str] | None) -> None:
        if plain or gone:
            git.run("add", "-A", "--", *plain, *gone, env=env)
        if entries:
            git.run("update-index", "-z", "--add", "--index-info", input=_index_info(entries), env=env)

    head = git.rev("HEAD")
    index = _scratch_index(git, "curate-commit.index")
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        git.run("read-tree", *([head] if head else ["--empty"]), env=env)
        stage(env)
        tree = git.out("write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    if head is not None and tree == git.out("rev-parse", f"{head}^{{tree}}"):
        stage(None)  # nothing new, but the real index still agrees with the files
        return False
    if head is None and not (plain or gone or entries):
        return False
    message = f"curate sync: work from {socket.gethostname() or 'this machine'}"
    commit = git.out("commit-tree", tree, *(["-p", head] if head else []), "-m", message)
    git.run("update-ref", "-m", message, "HEAD", commit, head or "0" * 40)
    stage(None)
    return True


def _scratch_index(git: Git, name: str) -> Path:
    """A temporary index of sync's own in the git folder, with whatever a killed sync (or its git)
    left of it removed: only a sync, which holds the sync lock, uses it."""
    index = git.git_dir / name
    for leftover in (index, index.with_name(name + ".lock")):
        leftover.unlink(missing_ok=True)
    return index


def _index_info(lines: list[str]) -> bytes:
    """`git update-index -z --index-info` input: a path may hold a line break, and bytes that are
    not UTF-8 (read from git as surrogate escapes) go back as the same bytes."""
    return b"".join(line.encode("utf-8", "surrogateescape") + b"\0" for line in lines)


def _fetch(git: Git, remote: str, remote_branch: str, tracking: str) -> None:
    result = git.run("fetch", "-q", "--no-tags", remote, f"+refs/heads/{remote_branch}:{tracking}", check=False)
    if result.returncode == 0:
        return
    reason = last_line(result.stderr)
    if "couldn't find remote ref" in reason:
        return  # an empty remote (or a new branch): the push makes it
    raise SyncError(_unreachable(git, remote, reason))


def _unreachable(git: Git, remote: str, reason: str) -> str:
    url = git.run("remote", "get-url", remote, check=False).stdout.decode().strip()
    return f"cannot reach the remote {remote} ({url}): {reason}; your work is committed here, annotating goes on: sync again when the remote is back"


def _push(git: Git, remote: str, remote_branch: str, merge_ref: str) -> bool:
    """Push HEAD; False when another machine pushed first (fetch and merge again)."""
    result = git.run("push", "--porcelain", remote, f"HEAD:{merge_ref}", check=False)
    if result.returncode == 0:
        return True
    output = result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")
    if any(words in output for words in ("[rejected]", "non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref", "incorrect old value")):
        return False  # the branch moved under us
    if "[remote rejected]" in output:
        reason = output.split("[remote rejected]", 1)[1].splitlines()[0].strip(" ()")
        said = [line.removeprefix("remote:").strip() for line in output.splitlines() if line.startswith("remote:") and line.removeprefix("remote:").strip()]
        raise SyncError(f"the remote {remote} refused the push: {reason or last_line(result.stderr)}{f' ({said[0]})' if said else ''}; your work is committed here")
    raise SyncError(_unreachable(git, remote, last_line(result.stderr)))


# ---------------------------------------------------------------- the merge


def _merge(git: Git, files: CorpusFiles, theirs: str, report: SyncReport, busy: set[str]) -> None:
    """Merge the remote's commit into HEAD (see the module docstring for the order of writes)."""
    head = git.rev("HEAD")
    if head is not None and git.ok("merge-base", "--is-ancestor", theirs, head):
        return  # the remote has nothing we lack
    base = None if head is None else (git.out("merge-base", head, theirs, check=False) or None)
    fast_forward = head is None or base == head
    old, ours, other = git.tree(base), git.tree(head), git.tree(theirs)
    result: dict[str, tuple[str, str] | None] = {}  # path -> (mode, sha), None to delete
    conflicts: list[str] = []
    for path in sorted(set(old) | set(ours) | set(other)):
        o, a, t = old.get(path), ours.get(path), other.get(path)
        if a == t or t == o:
            continue
        if a == o:
            result[path] = t
            continue
        merged = _merge_both(git, files, path, o, a, t, conflicts)
        if merged is not None:
            result[path] = merged
            report.merged.append(path)
    _check_remote_paths(result, report, files.local)
    if conflicts:
        raise SyncConflict(
            f"{', '.join(conflicts)} changed both here and on {report.remote}/{report.branch} since the last sync, and curate cannot merge "
            f"{'it' if len(conflicts) == 1 else 'them'}; nothing was merged (your work is committed here): merge with git "
            f"(git merge {report.remote}/{report.branch}; journals and gold merge there by curate's rules too), then sync again"
        )
    held = [path for path in result if path in busy]
    if held:
        raise SyncError(
            f"{', '.join(held)} {'is' if len(held) == 1 else 'are'} open for writing in another curate process here, and the remote "
            f"has new records for {'it' if len(held) == 1 else 'them'}; close that session, then sync again (your work is committed here)"
        )
    # Each file is streamed from git when written (step 2), never held whole; a git-lfs pointer
    # is a small file, so only small blobs are read to look for one.
    shas = {path: entry[1] for path, entry in result.items() if entry is not None}
    pointers = [path for path, sha in shas.items() if _is_lfs_pointer(git, sha)]
    if pointers:
        raise SyncConflict(f"{', '.join(pointers)} {'is' if len(pointers) == 1 else 'are'} stored with git-lfs on the remote; curate syncs plain git files only (remove the LFS rule for it from .gitattributes); nothing was merged")
    _check_working_files(git, files, ours, result)
    # 1. the merge commit, as an object only
    if fast_forward:
        new = theirs
    else:
        new = _commit_tree(git, head, theirs, result, report)
    # 2. the working files, each written atomically
    for path, entry in result.items():
        target = files.root / path
        try:
            if entry is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write_bytes(target, git.blob_chunks(entry[1]))
        except (OSError, SyncError) as error:
            reason = error_reason(error) if isinstance(error, OSError) else str(error)
            raise SyncError(
                f"{target}: {reason}: the merge stopped before the branch moved (each file is whole, old or merged, "
                f"and your work is committed here); sync again once that is fixed"
            ) from None
        report.received.append(path)
    # 3. the index, then 4. the branch
    git.run("read-tree", new)
    git.run("update-index", "-q", "--refresh", check=False)
    if head is None:
        git.run("update-ref", "-m", "curate sync", "HEAD", new)
    else:
        git.run("update-ref", "-m", "curate sync: merge", "HEAD", new, head)


def _check_remote_paths(result: dict[str, tuple[str, str] | None], report: SyncReport, local: set[str]) -> None:
    """Refuse a merge that would write or remove a path it must not: one that leaves the corpus
    folder (a `..`, `.` or empty part) or goes into `.git` (any case: some file systems ignore
    it), or an entry that is not a plain file (a symbolic link, a submodule). Git's own commands
    never make such trees, but a remote takes whatever is pushed to it. Nor does a remote's
    file go into the folders that stay on each machine (`local`: an adjudicator's review
    journal, the indexes, the fitted models suggest loads)."""
    for path, entry in result.items():
        parts = path.split("/")
        if parts[0] in local:
            raise SyncConflict(
                f"{report.remote}/{report.branch} holds {path!r}, but {parts[0]}/ stays on each machine and is never synced; nothing was merged or written: "
                f"remove it from the remote's branch (git rm -r --cached {parts[0]}, commit, push), then sync again"
            )
        if path.startswith("/") or any(part in ("", ".", "..") or part.lower().rstrip(". ") == ".git" for part in parts):
            raise SyncConflict(f"{report.remote}/{report.branch} holds an unsafe path, {path!r} (outside the corpus folder or inside .git); nothing was merged or written: remove it from the remote's branch")
        if entry is not None and entry[0] not in ("100644", "100755"):
            raise SyncConflict(f"{report.remote}/{report.branch}: {path!r} is not a plain file (git mode {entry[0]}); curate syncs plain files only, nothing was merged or written")


def _merge_both(git: Git, files: CorpusFiles, path: str, o, a, t, conflicts: list[str]) -> tuple[str, str] | None:
    """The merged (mode, sha) of a path both sides changed, or None after adding it to `conflicts`."""
    if a is None or t is None:
        conflicts.append(f"{path} (removed on one side)")
        return None
    if any(entry is not None and _is_lfs_pointer(git, entry[1]) for entry in (o, a, t)):
        conflicts.append(f"{path} (a git-lfs pointer)")
        return None
    if files.is_journal(path):
        return a[0], _merge_streamed(git, o, a, t, merge_journal_chunks)
    if path == files.gold:
        try:
            return a[0], _merge_streamed(git, o, a, t, lambda *sides: merge_gold_chunks(*sides, name=path))
        except MergeRefused as error:
            raise SyncConflict(f"{error}; nothing was merged (your work is committed here)") from None
    if path not in files.text:
        conflicts.append(path)
        return None
    merged = _line_merge(git, path, *(git.blob(entry[1]) if entry else None for entry in (o, a, t)))
    if merged is None:
        conflicts.append(path)
        return None
    return a[0], git.hash_object(merged)


def _is_lfs_pointer(git: Git, sha: str) -> bool:
    """True when a blob is a git-lfs pointer (a small text file: only small blobs are read)."""
    return git.blob_sizes([sha])[sha] < 1024 and (git.blob(sha) or b"").startswith(_LFS_POINTER)


def _merge_streamed(git: Git, o, a, t, merge_chunks) -> str:
    """The sha of a merged journal or gold.jsonl, streamed: the three versions are written from
    git to scratch files, merged by `merge_chunks` (:func:`merge_journal_chunks`,
    :func:`merge_gold_chunks`) into a fourth and that is stored in git, so no version is held
    whole (the merges keep per line or per snippet only digests and offsets in numpy arrays)."""
    folder = git.git_dir / "curate-merge"
    sides = [None if entry is None else folder / f"journal.{name}" for entry, name in zip((o, a, t), ("base", "ours", "theirs"))]
    merged = folder / "journal.merged"
    try:
        folder.mkdir(exist_ok=True)
        for entry, side in zip((o, a, t), sides):
            if side is not None:
                git.blob_to_file(entry[1], side)
        _write_scratch(merged, merge_chunks(*sides))
        return git.hash_file(merged)
    except OSError as error:
        where = error.filename or folder
        raise SyncError(f"{where}: {error_reason(error)}: nothing was merged (your work is committed here); sync again once that is fixed") from None
    finally:
        for scratch in (*sides, merged):
            if scratch is not None:
                scratch.unlink(missing_ok=True)


def _write_scratch(path: Path, chunks) -> None:
    """Write chunks to a scratch file of sync's own (in .git; a failed write raises OSError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_chunks(fd, chunks)
    finally:
        os.close(fd)


def _line_merge(git: Git, path: str, base: bytes | None, ours: bytes, theirs: bytes) -> bytes | None:
    """git's line merge of a small text file (corpus.toml, .gitignore); None on a conflict."""
    folder = git.git_dir / "curate-merge"
    folder.mkdir(exist_ok=True)
    names = []
    for side, data in (("ours", ours), ("base", base or b""), ("theirs", theirs)):
        name = folder / side
        name.write_bytes(data)
        names.append(str(name))
    result = git.run("merge-file", "-p", "-q", *names, check=False)
    return result.stdout if result.returncode == 0 else None


def _check_working_files(git: Git, files: CorpusFiles, ours: dict, result: dict) -> None:
    """Refuse before writing anything when a file the merge replaces holds changes git has not
    got (an edited file outside the corpus's own, or an untracked file in the way)."""
    for path in result:
        target = files.root / path
        if not target.exists():
            continue
        current = git.out("hash-object", "--", path)
        entry = ours.get(path)
        if entry is not None and current == entry[1]:
            continue
        if entry is not None and files.is_journal(path) and git.hash_file(target, consistent_length(target), write=False) == entry[1]:
            continue  # only a torn last line (a crash's unacknowledged append) differs: the merge may drop it
        if result[path] is not None and current == result[path][1]:
            continue  # already the merged content (a sync killed after writing it)
        what = "has changes not committed" if entry is not None else "is not in git but the remote has it"
        raise SyncError(f"{target} {what}; commit it or move it away, then sync again")


def _commit_tree(git: Git, head: str, theirs: str, result: dict, report: SyncReport) -> str:
    """The merge commit of HEAD and the remote's commit with `result` applied to HEAD's tree,
    built in a temporary index (the real index and the working tree are not touched)."""
    index = _scratch_index(git, "curate-sync.index")
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        git.run("read-tree", head, env=env)
        lines = []
        for path, entry in result.items():
            lines.append(f"0 {'0' * 40}\t{path}" if entry is None else f"{entry[0]} {entry[1]}\t{path}")
        if lines:
            git.run("update-index", "-z", "--index-info", input=_index_info(lines), env=env)
        tree = git.out("write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    message = f"curate sync: merge {report.remote}/{report.branch}" + (f" ({', '.join(report.merged)} merged by curate)" if report.merged else "")
    return git.out("commit-tree", tree, "-p", head, "-p", theirs, "-m", message)


# ---------------------------------------------------------------- after the merge


def refresh_indexes(root: Path) -> str | None:
    """Open the corpus, its text facts and each journal once, which rebuilds whatever .curate/
    index does not match its file; None, or why it could not be done (the corpus still opens, more slowly)."""
    try:
        with Corpus.open(root) as corpus:
            corpus.text_facts()  # the texts' lengths and hashes `curate stats` and agreement check records against
            journals = [corpus.journal(name) for name in corpus.annotators()]
            if corpus.suggestions_path.exists():
                journals.append(corpus.suggestions())
            for journal in journals:
                journal.close()
    except (StoreError, OSError) as error:
        return str(error)
    return None


def describe(report: SyncReport) -> list[str]:
    """The lines `curate sync` prints."""
    lines = []
    if report.committed:
        lines.append("committed this machine's work")
    for path in report.busy:
        lines.append(f"{path} is being written by another curate process: committed up to its last whole line")
    if report.received:
        merged = f" ({', '.join(report.merged)} merged by curate)" if report.merged else ""
        lines.append(f"took {len(report.received)} file(s) from {report.remote}/{report.branch}{merged}: {', '.join(report.received)}")
    lines.append(f"pushed to {report.remote}/{report.branch}" if report.pushed else f"up to date with {report.remote}/{report.branch}")
    if report.attempts > 1:
        lines.append(f"(another machine pushed first: {report.attempts} attempts)")
    if report.index_problem:
        lines.append(f"the .curate/ indexes were not updated: {report.index_problem}")
    return lines
